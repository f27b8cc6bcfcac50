"""SCALE-Sim 3.0.0 against accelsim on the same layers, the same design, in one run.

Needs a Python that has both scalesim (numpy < 2.4) and accelsim installed, e.g.

    python3 -m venv /tmp/scalesim-venv
    /tmp/scalesim-venv/bin/pip install scalesim==3.0.0 'numpy<2.4' -e .
    /tmp/scalesim-venv/bin/python benchmarks/bench_vs_scalesim.py [--array 128x128]

For every GEMM of tests/goldens/scalesim/topologies/gemms.csv and every dataflow: SCALE-Sim's
in-process simulation time (one `run_scale()`, `save_disk_space=True`, `InterfaceBandwidth:
CALC`), and the median time of `accelsim.simulate` on the same layer with `timing: scalesim`.
It checks the cycle counts are identical and prints per-layer times and speedups, and the
median speedup.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path

import accelsim

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "goldens" / "scalesim"


def scalesim_layer(cfg: Path, row: str, workdir: Path) -> tuple[float, int]:
    """Run SCALE-Sim on one GEMM row; return (seconds, Total Cycles)."""
    from scalesim.scale_sim import scalesim

    workdir.mkdir(parents=True, exist_ok=True)
    topo = workdir / "layer.csv"
    topo.write_text("Layer, M, N, K,\n" + row + "\n")
    sim = scalesim(
        save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo),
        layout=str(GOLDEN / "topologies" / "layout_none.csv"), input_type_gemm=True,
    )  # fmt: skip
    out = workdir / "out"
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        sim.run_scale(top_path=str(out))
    seconds = time.perf_counter() - start
    report = next(out.rglob("COMPUTE_REPORT.csv")).read_text().splitlines()
    header = [f.strip() for f in report[0].split(",")]
    fields = [f.strip() for f in report[1].split(",")]
    return seconds, int(float(fields[header.index("Total Cycles")]))


def accelsim_layer(arch, wl, repeat: int) -> tuple[float, int]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        report = accelsim.simulate(arch, wl)
        times.append(time.perf_counter() - start)
    return statistics.median(times), int(report.total["cycles"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--array", default="128x128", choices=("32x32", "128x128", "16x64"))
    parser.add_argument("--repeat", type=int, default=200, help="accelsim repetitions")
    args = parser.parse_args()
    rows = (GOLDEN / "topologies" / "gemms.csv").read_text().splitlines()[1:]
    rows = [r for r in rows if r.strip()]
    speedups = []
    print(f"{'layer':<32} {'df':<3} {'cycles':>10} {'scalesim s':>11} {'accelsim s':>11} {'x':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for df in ("os", "ws", "is"):
            cfg = GOLDEN / "configs" / f"{df}_{args.array}.cfg"
            arch = accelsim.load_arch(cfg)
            for row in rows:
                name = row.split(",")[0].strip()
                layer_csv = Path(tmp) / f"{name}.csv"
                layer_csv.write_text("Layer, M, N, K,\n" + row + "\n")
                wl = accelsim.load_workload(layer_csv)
                ss_s, ss_cycles = scalesim_layer(cfg, row, Path(tmp) / f"{df}_{name}")
                ac_s, ac_cycles = accelsim_layer(arch, wl, args.repeat)
                assert ac_cycles == ss_cycles, (df, name, ac_cycles, ss_cycles)
                speedups.append(ss_s / ac_s)
                print(f"{name:<32} {df:<3} {ss_cycles:>10,} {ss_s:>11.3f} {ac_s:>11.6f} "
                      f"{ss_s / ac_s:>9,.0f}")  # fmt: skip
    print(f"identical cycles on {len(speedups)} layer runs; median speedup "
          f"{statistics.median(speedups):,.0f}x (min {min(speedups):,.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
