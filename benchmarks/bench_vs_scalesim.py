"""SCALE-Sim 3.0.0 against accelsim on the same layers, the same design, in one run.

Needs a Python that has both scalesim (numpy < 2.4) and accelsim installed, e.g.

    python3 -m venv /tmp/scalesim-venv
    /tmp/scalesim-venv/bin/pip install scalesim==3.0.0 'numpy<2.4' -e .
    /tmp/scalesim-venv/bin/python benchmarks/bench_vs_scalesim.py [--array 128x128]

For each topology of tests/goldens/scalesim/topologies (default: the GEMM set and ResNet-18)
and each dataflow: SCALE-Sim's in-process simulation time of the whole topology (one
`run_scale()`, `save_disk_space=True`, `InterfaceBandwidth: CALC`) against the median time
of `accelsim.simulate` on the same topology and config (`timing: scalesim`, with the memory
and energy model). It checks that every layer's cycle count is identical and prints the
speedups and their median. ResNet-18 takes SCALE-Sim a few minutes per dataflow at 128x128.
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


def scalesim_run(cfg: Path, topology: Path, gemm: bool, workdir: Path) -> tuple[float, dict]:
    """Run SCALE-Sim on a whole topology; return (seconds, {layer: Total Cycles})."""
    from scalesim.scale_sim import scalesim

    sim = scalesim(
        save_disk_space=True, verbose=False, config=str(cfg), topology=str(topology),
        layout=str(GOLDEN / "topologies" / "layout_none.csv"), input_type_gemm=gemm,
    )  # fmt: skip
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        sim.run_scale(top_path=str(workdir))
    seconds = time.perf_counter() - start
    report = next(workdir.rglob("COMPUTE_REPORT.csv")).read_text().splitlines()
    header = [f.strip() for f in report[0].split(",")]
    names = [r.split(",")[0].strip() for r in topology.read_text().splitlines()[1:] if r.strip()]
    cycles = {}
    for name, line in zip(names, report[1:]):
        fields = [f.strip() for f in line.split(",")]
        cycles[name] = int(float(fields[header.index("Total Cycles")]))
    return seconds, cycles


def accelsim_run(arch, wl, repeat: int) -> tuple[float, dict]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        report = accelsim.simulate(arch, wl)
        times.append(time.perf_counter() - start)
    return statistics.median(times), {r["name"]: r["cycles"] for r in report.layer_records()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--array", default="128x128", choices=("32x32", "128x128", "16x64"))
    parser.add_argument(
        "--topologies", default="gemms,resnet18", help="from tests/goldens/scalesim/topologies"
    )
    parser.add_argument("--repeat", type=int, default=50, help="accelsim repetitions (median)")
    args = parser.parse_args()
    speedups = []
    head = ("topology", "df", "layers", "scalesim s", "accelsim ms", "speedup")
    print("{:<10} {:<3} {:>6} {:>11} {:>12} {:>9}".format(*head))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.topologies.split(","):
            topology = GOLDEN / "topologies" / f"{name}.csv"
            gemm = topology.read_text().lower().startswith("layer,")
            wl = accelsim.load_workload(topology)
            for df in ("os", "ws", "is"):
                cfg = GOLDEN / "configs" / f"{df}_{args.array}.cfg"
                ss_s, ss_cycles = scalesim_run(cfg, topology, gemm, Path(tmp) / f"{name}_{df}")
                ac_s, ac_cycles = accelsim_run(accelsim.load_arch(cfg), wl, args.repeat)
                assert ac_cycles == ss_cycles, (name, df)
                speedups.append(ss_s / ac_s)
                print(f"{name:<10} {df:<3} {len(ss_cycles):>6} {ss_s:>11.2f} {ac_s * 1e3:>12.3f} "
                      f"{ss_s / ac_s:>9,.0f}")  # fmt: skip
    print(f"identical per-layer cycles in every run; median speedup "
          f"{statistics.median(speedups):,.0f}x (min {min(speedups):,.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
