"""Plots (accelsim.plots): every function returns a Figure drawn from the data it was given;
the Pareto front on a hand-made set; ``accelsim plot`` writes PNG and SVG."""

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from matplotlib.figure import Figure

import accelsim
from accelsim import plots
from accelsim.cli import main


@pytest.fixture(scope="module")
def report():
    arch = accelsim.load_arch(ROOT / "arch_configs/edge_32x32.yaml")
    return accelsim.simulate(arch, accelsim.load_workload(ROOT / "workloads/resnet18.yaml"))


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A small real sweep: 3 x 2 array shapes x 2 weight widths on ResNet-18."""
    root = tmp_path_factory.mktemp("sweep")
    spec = root / "sweep.yaml"
    spec.write_text(
        f"base_arch: {ROOT / 'arch_configs/edge_32x32.yaml'}\n"
        f"workloads: [{ROOT / 'workloads/resnet18.yaml'}]\n"
        "axes: {array.rows: [8, 16, 32], array.cols: [16, 32], w_bits: [4, 8]}\n"
    )
    points = accelsim.sweep(spec, workers=1, out=root / "out")
    return points, root / "out"


def test_pareto_front_of_a_hand_made_set():
    """Minimizing both: A (1, 10), B (2, 5), D (4, 1) are on the front. C (3, 6) is beaten by
    B; E repeats B (only the first of equal rows is kept); F (5, 1) ties D's energy at a
    longer latency; G (0.5, 20) would be on it but is infeasible; H has no value."""
    df = pd.DataFrame(
        {
            "latency_s": [1, 2, 3, 4, 2, 5, 0.5, np.nan],
            "energy_pj": [10, 5, 6, 1, 5, 1, 20, 3],
            "feasible": [True, True, True, True, True, True, False, True],
        },
        index=list("ABCDEFGH"),
    )
    front = plots.pareto_front(df)
    assert list(df.index[front]) == ["A", "B", "D"]
    # without the feasibility column G, the fastest point, joins the front
    assert list(df.index[plots.pareto_front(df.drop(columns="feasible"))]) == ["A", "B", "D", "G"]


def test_pareto_plot_highlights_the_front(swept):
    points, _ = swept
    fig = plots.pareto(points)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    front = plots.pareto_front(points)
    highlighted = ax.collections[1].get_offsets()  # the front's markers, in ms and mJ
    want = points.loc[front, ["latency_s", "energy_pj"]].to_numpy() * [1e3, 1e-9]
    assert sorted(map(tuple, np.asarray(highlighted))) == sorted(map(tuple, want))
    assert len(ax.collections[0].get_offsets()) + len(highlighted) == len(points)


def test_heatmap_cells_are_the_best_over_the_other_axes(swept):
    points, _ = swept
    fig = plots.heatmap(points, "array.cols", "array.rows", "tops_per_w")
    assert isinstance(fig, Figure)
    grid = fig.axes[0].images[0].get_array()
    for i, rows in enumerate([8, 16, 32]):
        for j, cols in enumerate([16, 32]):
            cell = points[(points["array.rows"] == rows) & (points["array.cols"] == cols)]
            assert grid[i, j] == cell["tops_per_w"].max()  # TOPS/W: higher is better


def test_energy_breakdown_and_layer_bars(report, swept):
    table = report.breakdown_table()
    fig = plots.energy_breakdown(table)
    assert isinstance(fig, Figure)
    bars = fig.axes[0].patches
    per_component = table.groupby("component")["energy_pj"].sum()
    assert len(bars) == int((per_component > 0).sum())
    # ResNet-18 on edge_32x32 takes about 3 mJ (above 1e9 pJ: shown in mJ)
    assert fig.axes[0].get_xlabel() == "energy (mJ)"
    assert sum(b.get_width() for b in bars) == pytest.approx(per_component.sum() / 1e9)
    points, _ = swept
    points = points.assign(
        design=plots.design_labels(points, ["array.rows", "array.cols", "w_bits"])
    )
    stacked = plots.energy_breakdown(points, by="design")
    assert isinstance(stacked, Figure)
    heights = np.zeros(len(points))
    for bar in stacked.axes[0].patches:
        heights[int(round(bar.get_x() + bar.get_width() / 2))] += bar.get_height()
    assert stacked.axes[0].get_ylabel() == "energy (mJ)"
    assert heights == pytest.approx(points["energy_pj"].to_numpy() / 1e9)  # stacks sum to totals
    fig = plots.layer_bars(report.layers)
    assert isinstance(fig, Figure)
    costed = report.layers[report.layers["costed"]]
    latency = [b.get_height() for b in fig.axes[0].patches]
    assert latency == pytest.approx(costed["latency_s"].to_numpy() * 1e3)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_accelsim_plot_writes_png_and_svg(swept, tmp_path, capsys, suffix):
    _, out = swept
    magic = b"\x89PNG" if suffix == ".png" else b"<svg"
    for kind in ("pareto", "heatmap", "layers", "breakdown"):
        target = tmp_path / f"{kind}{suffix}"
        assert main(["plot", kind, str(out), "-o", str(target)]) == 0
        assert magic in target.read_bytes()[:400]


def test_accelsim_plot_from_a_report_json(tmp_path, capsys):
    arch, wl = ROOT / "arch_configs/edge_32x32.yaml", ROOT / "workloads/resnet18.yaml"
    assert main(["run", str(arch), str(wl), "--out", str(tmp_path), "--format", "csv"]) == 0
    for kind in ("layers", "breakdown"):
        assert (
            main(["plot", kind, str(tmp_path / "report.json"), "-o", str(tmp_path / "f.svg")]) == 0
        )
    capsys.readouterr()
    assert (
        main(["plot", "pareto", str(tmp_path / "report.json"), "-o", str(tmp_path / "p.png")]) == 2
    )
    assert "pareto needs a sweep directory" in capsys.readouterr().err


def test_accelsim_plot_bad_input(swept, tmp_path, capsys):
    _, out = swept
    assert main(["plot", "pareto", str(out), "-o", str(tmp_path / "f.gif")]) == 2
    assert "--output: unknown figure format" in capsys.readouterr().err
    assert (
        main(
            ["plot", "heatmap", str(out), "--value", "tops_per_watt", "-o", str(tmp_path / "h.png")]
        )
        == 2
    )
    assert "did you mean 'tops_per_w'" in capsys.readouterr().err
    assert main(["plot", "pareto", str(tmp_path), "-o", str(tmp_path / "p.png")]) == 2
    assert "not a sweep directory" in capsys.readouterr().err
