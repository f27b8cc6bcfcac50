"""The reconfigurable array against fixed arrays of the same PE count (issue 8).

For every shipped network, ``arch_configs/reconfig_128x128.yaml`` (one 128x128 grid, modes
1x128x128, 1x64x256, 1x256x64, 4x64x64, 16x32x32, mode chosen per layer with its switch
cost and bypass-network overheads) against:

* each mode as a fixed design (no bypass network: area and energy overheads 0, never
  switches; a fixed multi-array design still chooses its work split per layer);
* the per-layer oracle of the fixed designs: each layer on whichever fixed design is best
  for it, no switch cost and no overhead (what a free, ideal reconfiguration would give).

Latency (``objective="latency"``, cycles) and energy (``objective="energy"``, uJ), each
mapper run with that objective. Prints Markdown tables (pasted into the README) and writes
``analysis/figures/reconfig_study.png``.

    python analysis/reconfig_study.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import accelsim
from accelsim.arch import with_changes

ROOT = Path(__file__).resolve().parent.parent
ARCH = ROOT / "arch_configs" / "reconfig_128x128.yaml"


def fixed_designs(arch) -> dict:
    """Each mode of ``arch`` as a fixed design without the bypass network."""
    out = {}
    for mode in arch.spec.reconfig.modes:
        rows, cols = mode.rows, mode.cols
        if rows * cols == arch.rows * arch.cols:  # one array: the plain fixed arch
            changes = {"array.rows": rows, "array.cols": cols, "reconfig": None}
            name = f"1x{rows}x{cols}"
        else:
            changes = {
                "reconfig.modes": [{"rows": rows, "cols": cols}],
                "reconfig.area_overhead": 0.0,
                "reconfig.pe_energy_overhead": 0.0,
                "reconfig.switch_cycles": 0,
            }
            name = f"{arch.rows * arch.cols // (rows * cols)}x{rows}x{cols}"
        out[name] = with_changes(arch, changes)
    return out


def study(objective: str) -> dict:
    """``{network: {design: total, ...}}`` in cycles (latency) or uJ (energy)."""
    arch = accelsim.load_arch(ARCH)
    fixed = fixed_designs(arch)
    column = "cycles" if objective == "latency" else "energy_pj"
    scale = 1.0 if objective == "latency" else 1e-6
    results = {}
    for path in sorted((ROOT / "workloads").glob("*.yaml")):
        wl = accelsim.load_workload(path)
        row, per_layer = {}, []
        for name, design in fixed.items():
            report = accelsim.simulate(design, wl, objective=objective)
            row[name] = float(np.nansum(report.columns[column])) * scale
            per_layer.append(np.nan_to_num(report.columns[column], nan=0.0))
        row["oracle"] = float(np.min(per_layer, axis=0).sum()) * scale
        report = accelsim.simulate(arch, wl, objective=objective)
        row["reconfig"] = float(np.nansum(report.columns[column])) * scale
        row["switches"] = report.total["mode_switches"]
        results[wl.name] = row
    return results


def table(results: dict, unit: str) -> str:
    designs = [k for k in next(iter(results.values())) if k not in ("oracle", "reconfig",
                                                                   "switches")]  # fmt: skip
    head = ["network", *designs, "oracle", "reconfig", "switches", "vs best fixed", "vs oracle"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for net, row in results.items():
        best = min(row[d] for d in designs)
        cells = [net, *(f"{row[d]:,.0f}" for d in (*designs, "oracle", "reconfig"))]
        cells += [str(row["switches"]), f"{best / row['reconfig']:.3f}x",
                  f"{row['oracle'] / row['reconfig']:.3f}x"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return f"{unit}\n\n" + "\n".join(lines)


def figure(latency: dict, energy: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=False)
    for ax, results, title in ((axes[0], latency, "latency"), (axes[1], energy, "energy")):
        nets = list(results)
        designs = [k for k in results[nets[0]] if k != "switches"]
        width = 0.8 / len(designs)
        for i, d in enumerate(designs):
            best = [min(results[n][k] for k in designs if k not in ("oracle", "reconfig"))
                    for n in nets]  # fmt: skip
            ratio = [results[n][d] / b for n, b in zip(nets, best)]
            ax.bar(np.arange(len(nets)) + i * width, ratio, width, label=d)
        ax.set_xticks(np.arange(len(nets)) + 0.4 - width / 2, nets, rotation=45, ha="right")
        ax.set_ylabel(f"{title} / best fixed design")
        ax.set_ylim(0.5, 2.0)
        ax.axhline(1.0, color="k", lw=0.5)
        ax.set_title(f"{title}, reconfig_128x128 against fixed 16,384-PE designs")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    latency, energy = study("latency"), study("energy")
    print(table(latency, "Latency (cycles, objective latency)"))
    print()
    print(table(energy, "Energy (uJ, objective energy)"))
    figure(latency, energy, ROOT / "analysis" / "figures" / "reconfig_study.png")


if __name__ == "__main__":
    main()
