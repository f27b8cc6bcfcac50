"""ResNet-50 over PE counts and bit-widths on BitFusion-style arrays: the sweep of
``analysis/sweep_resnet50.yaml`` (144 design points), its tables in
``analysis/out/sweep_resnet50/`` and its figures in ``analysis/figures/`` (shown in the
README): the latency-energy Pareto front, TOPS/W over the two bit-widths and latency over
the array shape.

    python analysis/sweep_resnet50.py
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import accelsim
from accelsim import plots

HERE = Path(__file__).resolve().parent
SPEC = HERE / "sweep_resnet50.yaml"
OUT = HERE / "out" / "sweep_resnet50"
FIGURES = HERE / "figures"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    shutil.rmtree(OUT, ignore_errors=True)  # regenerated from the spec every time
    points = accelsim.sweep(SPEC, out=OUT)
    points["pes"] = points["array.rows"] * points["array.cols"]
    axes = ["array.rows", "array.cols", "a_bits", "w_bits"]
    points["design"] = plots.design_labels(points, axes)
    FIGURES.mkdir(exist_ok=True)
    figures = {
        "sweep_resnet50_pareto": plots.pareto(
            points, label_column="design", title="ResNet-50 on bit_fusion arrays: 144 designs"
        ),
        "sweep_resnet50_tops_per_w": plots.heatmap(
            points, "w_bits", "a_bits", "tops_per_w",
            title="TOPS/W by precision (best array shape)",
        ),
        "sweep_resnet50_latency": plots.heatmap(
            points[(points["a_bits"] == 8) & (points["w_bits"] == 8)], "array.cols", "array.rows",
            "latency_s", title="latency at 8/8 bits by array shape",
        ),
    }  # fmt: skip
    for name, fig in figures.items():
        fig.savefig(FIGURES / f"{name}.png", dpi=80)
        print(f"wrote {FIGURES / name}.png")
    front = points[plots.pareto_front(points)].sort_values("latency_s")
    print(f"{len(points)} points, {int(points['feasible'].sum())} feasible; Pareto front:")
    for _, r in front.iterrows():
        print(f"  {r['design']:<36} {r['pes']:>5} PEs  {r['latency_s'] * 1e3:8.3f} ms  "
              f"{r['energy_pj'] / 1e9:7.3f} mJ  {r['tops_per_w']:6.2f} TOPS/W")  # fmt: skip
    best = points.loc[points["objective_value"].idxmin()]
    print(f"best EDP: {best['design']}: {best['edp_pj_s'] / 1e6:.4g} mJ·ms")


if __name__ == "__main__":
    main()
