"""Sweep throughput: ResNet-50 over 10,800 design points (array shapes x buffer sizes x
bit-widths) on `edge_32x32`, in layer-evaluations per second, against `accelsim.simulate`
called in a loop, in the same run.

    python benchmarks/bench_sweep.py [--workers 2] [--sample 100] [--rounds 5]

A layer-evaluation is one layer of the network at one design point (ResNet-50 has 72
layers, 54 of them GEMMs; every one is a row of the sweep's layers table).

1. Same points, interleaved: 96 points (4 arch variants x 24 precisions) priced by
   `evaluate_chunk` (the sweep's worker call: points that share an arch go through the model
   in one call) and by `accelsim.simulate` one point at a time, alternating, ``--rounds``
   times; medians. On a shared machine this ratio is the robust figure.
2. The whole sweep, `accelsim.sweep` with its Parquet tables written to a temporary
   directory (as ``accelsim sweep --out``), in one process and with ``--workers`` worker
   processes; the simulate loop (``--sample`` random points, each point's arch and workload
   built as a user would, outside the timed call) runs before and after each sweep and each
   sweep is compared with the mean of the two.
3. Writing the sweep's Parquet tables alone (read back and written again in one process):
   the most layer rows per second one process can store, whatever the model costs.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import accelsim
from accelsim.arch import with_changes
from accelsim.sweeps import evaluate_chunk, load_spec, point_arch, point_workload
from accelsim.workload import make_assignment

ROOT = Path(__file__).resolve().parent.parent
SPEC = {
    "base_arch": str(ROOT / "arch_configs" / "edge_32x32.yaml"),
    "workloads": [str(ROOT / "workloads" / "resnet50.yaml")],
    "axes": {
        "array.rows": [8, 16, 32, 64, 128],
        "array.cols": [8, 16, 32, 64, 128],
        "memories.inputs.size_bytes": [32768, 131072, 524288],
        "memories.weights.size_bytes": [32768, 131072, 524288],
        "memories.outputs.size_bytes": [32768, 131072],
        "a_bits": [2, 4, 6, 8],
        "w_bits": [2, 3, 4, 5, 6, 8],
    },
}


def timed_sweep(workers: int) -> tuple[float, int, float]:
    """Seconds of the sweep, its layer-evaluations, and the seconds that writing its Parquet
    parts alone takes (read back, then written again as the sweep writes them, in this
    process): a bound the output format puts on one process, whatever the model costs."""
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        points = accelsim.sweep(SPEC, workers=workers, out=Path(out) / "sweep", progress=False)
        seconds = time.perf_counter() - start
        parts = [pq.read_table(p) for p in sorted((Path(out) / "sweep").glob("*/part-*"))]
        start = time.perf_counter()
        for i, table in enumerate(parts):
            pq.write_table(table, Path(out) / f"again-{i}.parquet")
        writing = time.perf_counter() - start
    # 128 x 128 arrays with the smallest output buffer hold no tile: infeasible rows, still
    # evaluated layer by layer; nothing may be invalid or fail
    assert points["status"].isin(["ok", "infeasible"]).all(), points["status"].value_counts()
    return seconds, int(points["layers"].sum()), writing


def loop_seconds(sample: int) -> list[float]:
    plan = load_spec(SPEC)
    arch = accelsim.load_arch(SPEC["base_arch"])
    wl = accelsim.load_workload(SPEC["workloads"][0])
    axes = plan.ctx.axes
    times = []
    for values in random.Random(9).sample(plan.values, sample):
        point = dict(zip(axes, values))
        bits = {b: point.pop(b) for b in ("a_bits", "w_bits")}
        a = with_changes(arch, point)
        w = make_assignment("u", {la.name: bits for la in wl.layers if la.is_gemm}).apply(wl)
        start = time.perf_counter()
        accelsim.simulate(a, w)
        times.append(time.perf_counter() - start)
    return times


def interleaved(rounds: int) -> tuple[float, float]:
    """Median seconds of `evaluate_chunk` and of the simulate loop on the same 96 points."""
    plan = load_spec(SPEC)
    precisions = len(SPEC["axes"]["a_bits"]) * len(SPEC["axes"]["w_bits"])
    step = len(plan.values) // 4 // precisions * precisions  # a whole arch group each
    points = plan.points
    chunk = [p for start in range(0, 4 * step, step) for p in points[start : start + precisions]]
    pairs = [(point_arch(p), point_workload(p, 0)) for p in chunk]
    assert len({id(a) for a, _ in pairs}) == 4

    def loop():
        for arch, wl in pairs:
            accelsim.simulate(arch, wl)

    times: dict = {"chunk": [], "loop": []}
    for _ in range(rounds + 1):  # the first round warms up
        for name, fn in (("chunk", lambda: evaluate_chunk(chunk)), ("loop", loop)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["chunk"][1:]), statistics.median(times["loop"][1:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--sample", type=int, default=100, help="points per simulate loop")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args()
    n_points = math.prod(len(v) for v in SPEC["axes"].values())
    layers = len(accelsim.load_workload(SPEC["workloads"][0]).layers)
    print(f"ResNet-50 ({layers} layers) on edge_32x32 variants: {n_points:,} design points, "
          f"{n_points * layers:,} layer-evaluations; {os.cpu_count()} cores")  # fmt: skip

    chunk, loop = interleaved(args.rounds)
    evals = 96 * layers
    print(f"  same 96 points, {args.rounds} interleaved rounds, medians: evaluate_chunk "
          f"{evals / chunk:,.0f} layer-evals/s, simulate loop {evals / loop:,.0f} layer-evals/s: "
          f"{loop / chunk:.2f}x (load average {os.getloadavg()[0]:.1f})")  # fmt: skip

    def loop_rate() -> float:
        per_point = statistics.median(loop_seconds(args.sample))
        print(f"  accelsim.simulate in a loop ({args.sample} random points): median "
              f"{per_point * 1e3:.2f} ms/point = {layers / per_point:,.0f} layer-evals/s "
              f"(load average {os.getloadavg()[0]:.1f})")  # fmt: skip
        return layers / per_point

    # the machine may be shared: the loop runs before and after each sweep, and each sweep
    # is compared with the mean of the two loop rates around it
    before = loop_rate()
    for workers in (1, args.workers):
        seconds, evals, writing = timed_sweep(workers)
        assert evals == n_points * layers
        after = loop_rate()
        rate = evals / seconds
        print(f"  accelsim.sweep, {workers} worker{'s' if workers > 1 else ''}: {seconds:.1f} s "
              f"= {n_points / seconds:,.0f} points/s = {rate:,.0f} layer-evals/s = "
              f"{2 * rate / (before + after):.1f}x the simulate loop "
              f"(load average {os.getloadavg()[0]:.1f})")  # fmt: skip
        before = after
    print(f"  writing the sweep's Parquet parts alone, one process: {writing:.2f} s = "
          f"{evals / writing:,.0f} layer rows/s")  # fmt: skip


if __name__ == "__main__":
    main()
