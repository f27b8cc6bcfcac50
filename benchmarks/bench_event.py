"""Speed of the event-driven model (`accelsim.event`) on ResNet-50, and its agreement with
the closed form on every shipped design x network pair.

    python benchmarks/bench_event.py              # speed table
    python benchmarks/bench_event.py --agreement  # agreement tables (a few minutes)

Tile granularity: one simpy step per DRAM tile the mapper chose (``tile_m x tile_n x tile_k``
of the report, the tile that is loaded, computed and stored as a unit; the array's folds
inside a tile are the closed form); every tile is one compute interval, one DRAM request for
its loads (when it has any) and one for its store (when it ends a visit to its outputs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bench_simulate import median_seconds  # benchmarks/ is on sys.path when run

import accelsim
from accelsim.arch import with_changes

ROOT = Path(__file__).resolve().parent.parent
DESIGNS = ("tpu_v1_like", "edge_32x32", "reconfig_128x128", "bitfusion")


def speed() -> None:
    wl = accelsim.load_workload(ROOT / "workloads" / "resnet50.yaml")
    print("ResNet-50, medians of 3 (closed form: of 20)")
    print("| design | tiles | DRAM requests | closed form | event | event cycles / closed form |")
    print("|---|---|---|---|---|---|")
    for name in DESIGNS:
        arch = accelsim.load_arch(ROOT / "arch_configs" / f"{name}.yaml")
        closed = median_seconds(lambda a=arch: accelsim.simulate(a, wl), 20)
        event = median_seconds(lambda a=arch: accelsim.simulate(a, wl, fidelity="event"), 3)
        report = accelsim.simulate(arch, wl, fidelity="event", timeline=True)
        tiles = sum(r["what"] == "compute" for r in report.timeline)
        requests = sum(r["resource"] == "dram" for r in report.timeline)
        ratio = report.total["cycles"] / accelsim.simulate(arch, wl).total["cycles"]
        print(f"| {name} | {tiles:,} | {requests:,} | {closed * 1e3:.1f} ms | {event:.2f} s "
              f"| {ratio:.4f} |")  # fmt: skip


def ample(arch, factor: float):
    changes = {"dram.bytes_per_cycle": arch.spec.dram.bytes_per_cycle * factor}
    for b in ("inputs", "weights", "outputs"):
        changes[f"memories.{b}.bytes_per_cycle"] = (
            getattr(arch.spec.memories, b).bytes_per_cycle * factor
        )
    return with_changes(arch, changes)


def agreement(factor: float) -> None:
    """Per design: GEMM layers over all shipped networks, how many have equal cycles, the
    largest difference, and the network total's relative difference (event - closed)."""
    print(f"bandwidth x{factor:g} (DRAM and SRAM ports)")
    print("| design | GEMM layers | equal | event - closed, per layer: min / max "
          "| network totals: min / max |")  # fmt: skip
    print("|---|---|---|---|---|")
    for path in sorted((ROOT / "arch_configs").glob("*.yaml")):
        arch = accelsim.load_arch(path)
        if arch.spec.memories is None or arch.spec.execution is not None:
            continue
        arch = ample(arch, factor) if factor != 1 else arch
        n = equal = 0
        low = high = 0.0
        totals = []
        for wp in sorted((ROOT / "workloads").glob("*.yaml")):
            wl = accelsim.load_workload(wp)
            closed = accelsim.simulate(arch, wl)
            event = accelsim.simulate(arch, wl, fidelity="event")
            run = np.asarray(closed.columns["macs"]) > 0
            run &= np.asarray(closed.columns["feasible"], dtype=bool)
            c, e = closed.columns["cycles"][run], event.columns["cycles"][run]
            n, equal = n + int(run.sum()), equal + int((c == e).sum())
            if run.any():
                low, high = min(low, float((e - c).min())), max(high, float((e - c).max()))
                totals.append(e.sum() / c.sum() - 1)
        spread = f"{min(totals):+.3%} / {max(totals):+.3%}" if totals else "-"
        print(f"| {arch.name} | {n} | {equal} | {low:+,.0f} / {high:+,.0f} | {spread} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--agreement", action="store_true", help="print the agreement tables instead (minutes)"
    )
    args = parser.parse_args(argv)
    if args.agreement:
        agreement(1000.0)
        print()
        agreement(1.0)
    else:
        speed()


if __name__ == "__main__":
    main()
