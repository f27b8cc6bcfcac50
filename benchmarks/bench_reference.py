"""Speed of the bit-accurate reference (accelsim.reference) against peers, in one run.

Plain script: ``python benchmarks/bench_reference.py [--quick]``. Prints a table of
medians over several runs, with throughput and ratios against the peers measured in the
same process on the same machine (numbers on a shared machine drift; the ratios less so).

- int8 GEMM 1024^3 with exact int32 accumulation: ``int_gemm`` (int8 x int8 and uint8 x
  int8, including widening and packing) vs onnxruntime ``MatMulInteger`` (u8 x s8, s8 x s8,
  u8 x u8; 2 threads) and numpy integer ``matmul``.
- ``xnor_gemm``: binary MACs per second, and which instructions its kernel compiled to.
- ``run_systolic`` (the cycle-stepped array): PE-cycles per second.
- Compile time of the first call of every kernel, with an empty and with a warm numba
  cache (each in a fresh subprocess).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np


def median_time(fn, runs: int) -> tuple[float, float]:
    """(median, best) wall time of ``runs`` calls after one warm-up call."""
    fn()  # warm-up (compilation, first-touch)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def ort_matmul_integer(a, b, threads: int = 2):
    import onnxruntime as ort
    from onnx import TensorProto, helper

    tp = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8}
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
        "g",
        [
            helper.make_tensor_value_info("A", tp[a.dtype], list(a.shape)),
            helper.make_tensor_value_info("B", tp[b.dtype], list(b.shape)),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return lambda: sess.run(None, {"A": a, "B": b})[0]


def kernel_instructions(dispatcher, names) -> dict[str, int]:
    """Count instructions in the asm of an uncached copy of a (cached) numba kernel."""
    import numba

    fresh = numba.njit(parallel=True)(dispatcher.py_func)
    sig = dispatcher.signatures[0]
    fresh.compile(sig)
    asm = fresh.inspect_asm(sig)
    return {n: len(re.findall(rf"\b{n}\b", asm)) for n in names}


COMPILE_SNIPPET = textwrap.dedent(
    """
    import time
    t0 = time.perf_counter()
    import numpy as np
    import accelsim.reference as R
    t1 = time.perf_counter()
    a = np.ones((5, 7), np.int8); w = np.ones((7, 3), np.int8)
    R.int_gemm(a, w); R.int_gemm(a, w, 64, "saturate")
    R.int_gemm(a.astype(np.int64) * 2**20, w.astype(np.int64) * 2**20, 40)
    R.int_gemm(a.astype(np.int64) * 2**31, w.astype(np.int64) * 2**31, 64, return_overflow=True)
    R.int_conv2d(np.ones((1, 2, 4, 4), np.int8), np.ones((2, 2, 3, 3), np.int8))
    x = np.linspace(-3, 3, 11, dtype=np.float32)
    R.quantize(x, np.float32(0.1)); R.quantize(x.astype(np.float64), 0.1)
    R.dequantize(np.ones(3, np.int8), np.float32(0.1)); R.dequantize(np.ones(3, np.int8), 0.1)
    R.requantize(np.ones(3, np.int32), 0.1)
    R.requantize(np.ones(3, np.int64), 0.1, precision="float64")
    R.requantize_fixed(np.ones(3, np.int32), 2**30, -3)
    R.bitserial_gemm(a, w, 4); R.unpu_lut_gemm(a, w, 4)
    R.xnor_gemm(R.pack_bits(np.ones((2, 70), np.int8), 1),
                R.pack_bits(np.ones((70, 3), np.int8), 0), 70)
    mask = R.supermask(np.arange(21.0).reshape(7, 3), 0.5)
    R.hidden_layer_forward(a, 1, mask); R.generate_weights(1, (4,), "uniform")
    t2 = time.perf_counter()
    print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
    """
)


def compile_times() -> tuple[tuple[float, float], tuple[float, float]]:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        results = []
        for _ in range(2):  # first: empty cache, second: warm cache
            out = subprocess.run(
                [sys.executable, "-c", COMPILE_SNIPPET],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            results.append((float(out[0]), float(out[1])))
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs, smaller numpy case")
    args = parser.parse_args()
    runs = 3 if args.quick else 7

    import numba

    import accelsim.reference as R
    from accelsim.reference.xnor import _xnor_kernel

    rows = []

    def row(name, times, work, unit, note="", per=1e9):
        seconds, best = times
        note = f"best {work / best / per:.2f}" + (f"; {note}" if note else "")
        rows.append((name, seconds, work / seconds / per, unit, note))

    n = 1024
    macs = n**3
    rng = np.random.default_rng(0)
    a_s8 = rng.integers(-128, 128, (n, n)).astype(np.int8)
    a_u8 = rng.integers(0, 256, (n, n)).astype(np.uint8)
    w_s8 = rng.integers(-128, 128, (n, n)).astype(np.int8)
    w_u8 = rng.integers(0, 256, (n, n)).astype(np.uint8)

    expect = a_s8.astype(np.float64) @ w_s8.astype(np.float64)  # exact (< 2**53)
    assert np.array_equal(R.int_gemm(a_s8, w_s8), expect.astype(np.int32))

    t, tb = median_time(lambda: R.int_gemm(a_s8, w_s8), runs)
    row("accelsim int_gemm s8 x s8 (exact int32)", (t, tb), macs, "GMAC/s")
    t, tb = median_time(lambda: R.int_gemm(a_u8, w_s8), runs)
    row("accelsim int_gemm u8 x s8 (exact int32)", (t, tb), macs, "GMAC/s")
    for a, w, label, note in (
        (a_u8, w_s8, "u8 x s8", "int16-saturating pairs (PEERS.md)"),
        (a_s8, w_s8, "s8 x s8", "exact"),
        (a_u8, w_u8, "u8 x u8", "exact"),
    ):
        try:
            t, tb = median_time(ort_matmul_integer(a, w), runs)
            row(f"onnxruntime MatMulInteger {label}", (t, tb), macs, "GMAC/s", note)
        except ImportError:
            rows.append((f"onnxruntime MatMulInteger {label}", float("nan"), 0, "GMAC/s", "n/a"))
    # one thread each: less sensitive to other load on a shared 2-core machine
    numba.set_num_threads(1)
    t, tb = median_time(lambda: R.int_gemm(a_u8, w_s8), runs)
    row("accelsim int_gemm u8 x s8, 1 thread", (t, tb), macs, "GMAC/s")
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    try:
        t, tb = median_time(ort_matmul_integer(a_u8, w_s8, threads=1), runs)
        row("onnxruntime MatMulInteger u8 x s8, 1 thread", (t, tb), macs, "GMAC/s", "saturating")
    except ImportError:
        pass
    a32, w32 = a_s8.astype(np.int32), w_s8.astype(np.int32)
    nn = 512 if args.quick else n
    t, tb = median_time(lambda: a32[:nn, :nn] @ w32[:nn, :nn], 1 if args.quick else 3)
    row(f"numpy int32 matmul {nn}^3", (t, tb), nn**3, "GMAC/s")

    m, k, nx = 1024, 8192, 1024
    xa = R.pack_bits(rng.choice(np.array([-1, 1], np.int8), (m, k)), 1)
    xw = R.pack_bits(rng.choice(np.array([-1, 1], np.int8), (k, nx)), 0)
    t, tb = median_time(lambda: R.xnor_gemm(xa, xw, k), runs)
    numba.set_num_threads(1)
    t1, t1b = median_time(lambda: R.xnor_gemm(xa, xw, k), runs)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    row(f"accelsim xnor_gemm {m}x{k}x{nx}, 1 thread", (t1, t1b), m * k * nx, "G binary MAC/s")
    insn = kernel_instructions(_xnor_kernel, ["popcntq", "popcnt", "vpshufb", "vpsadbw"])
    row(
        f"accelsim xnor_gemm {m}x{k}x{nx}",
        (t, tb),
        m * k * nx,
        "G binary MAC/s",
        "asm: " + ", ".join(f"{k}={v}" for k, v in insn.items()),
    )

    try:
        from accelsim.reference import run_systolic

        arr, dim = 16, 64
        sa = rng.integers(-8, 8, (dim, dim))
        sw = rng.integers(-8, 8, (dim, dim))
        for flow in ("os", "ws"):
            out, cycles = run_systolic(sa, sw, arr, arr, flow)
            assert np.array_equal(out, sa @ sw)
            t, tb = median_time(lambda flow=flow: run_systolic(sa, sw, arr, arr, flow), 3)
            row(
                f"run_systolic {flow} {arr}x{arr} array, {dim}^3",
                (t, tb),
                arr * arr * cycles,
                "M PE-cycles/s",
                f"{cycles} cycles",
                per=1e6,
            )
    except ImportError:
        rows.append(("run_systolic", float("nan"), 0, "", "not available"))

    (imp_cold, cold), (imp_warm, warm) = compile_times()

    print(
        f"machine: {os.cpu_count()} CPUs, numba {numba.__version__}, "
        f"{numba.config.NUMBA_NUM_THREADS} numba threads; medians of {runs} runs; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(f"{'case':<48} {'median s':>10} {'throughput':>12}  unit  (best-of-runs; note)")
    for name, sec, thr, unit, note in rows:
        print(f"{name:<48} {sec:>10.4f} {thr:>12.2f}  {unit}  {note}")
    by = {r[0]: r[2] for r in rows}
    ours = by["accelsim int_gemm u8 x s8 (exact int32)"]
    print()
    one = "accelsim int_gemm u8 x s8, 1 thread"
    if by.get("onnxruntime MatMulInteger u8 x s8, 1 thread"):
        ratio = by[one] / by["onnxruntime MatMulInteger u8 x s8, 1 thread"]
        print(f"1 thread: accelsim u8 x s8 / onnxruntime u8 x s8: {ratio:.2f}x")
    for peer in (
        "onnxruntime MatMulInteger u8 x s8",
        "onnxruntime MatMulInteger s8 x s8",
        "onnxruntime MatMulInteger u8 x u8",
        f"numpy int32 matmul {nn}^3",
    ):
        if by.get(peer):
            print(f"accelsim u8 x s8 / {peer}: {ours / by[peer]:.2f}x")
    print()
    print(f"first call of every kernel, empty numba cache: {cold:.1f} s (import {imp_cold:.2f} s)")
    print(f"first call of every kernel, warm numba cache:  {warm:.1f} s (import {imp_warm:.2f} s)")


if __name__ == "__main__":
    main()
