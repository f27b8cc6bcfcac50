"""Plots (accelsim.plots): every function returns a Figure drawn from the data it was given;
the Pareto front on a hand-made set; ``accelsim plot`` writes PNG and SVG."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from matplotlib.figure import Figure

import accelsim
from accelsim import plots
from accelsim.cli import main
from accelsim.errors import ConfigError
from accelsim.sweeps import read_results


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


def test_accelsim_plot_output_that_cannot_be_written(swept, tmp_path, capsys):
    """``-o`` naming a directory, or a path under a file, is a ConfigError on --output before
    any plotting (not IsADirectoryError / FileExistsError)."""
    _, out = swept
    (tmp_path / "d.png").mkdir()
    (tmp_path / "afile").write_text("")
    for target, message in (
        (tmp_path / "d.png", "--output: exists and is not a file"),
        (tmp_path / "afile" / "x.png", "--output: cannot be written"),
    ):
        assert main(["plot", "pareto", str(out), "-o", str(target)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


REPORT_LAYER = '{"name": "x", "cycles": 1}'


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("layers", '{"layers": 5}', r"r\.json: layers: not a non-empty list of objects; found 5"),
        ("layers", '{"layers": []}', r"r\.json: layers: not a non-empty list of objects; found \[\]"),
        ("layers", '{"layers": [{"name": "x"}]}', r"r\.json: layers\.0: no 'cycles'"),
        ("layers", '{"layers": [{"name": "x", "cycles": "many"}]}', r"r\.json: layers\.0\.cycles: wrong type; found 'many'; allowed: a number"),
        ("breakdown", f'{{"layers": [{REPORT_LAYER}], "energy_breakdown": "x"}}', r"r\.json: energy_breakdown: not a non-empty list of objects; found \"x\""),
        ("breakdown", f'{{"layers": [{REPORT_LAYER}], "energy_breakdown": [{{"component": "pe"}}]}}', r"r\.json: energy_breakdown\.0: no 'energy_pj'"),
        ("timeline", f'{{"layers": [{REPORT_LAYER}], "timeline": [1, 2, 3]}}', r"r\.json: timeline: not a non-empty list of objects; found \[1, 2, 3\]"),
        ("timeline", f'{{"layers": [{REPORT_LAYER}], "timeline": [{{"resource": "dram", "what": "load", "start": "0", "end": 1}}]}}', r"r\.json: timeline\.0\.start: wrong type"),
    ],
)  # fmt: skip
def test_accelsim_plot_malformed_report_json(write, tmp_path, capsys, kind, text, message):
    """A report JSON whose layers, energy_breakdown or timeline is not what ``accelsim run
    --out`` writes is one ConfigError naming the file and the entry (exit 2), not a pandas
    error."""
    report = write("r.json", text)
    assert main(["plot", kind, str(report), "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err, err


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (("spec.json", "nope"), r"spec\.json:1: <top>: not JSON"),
        (("spec.json", "{}"), r"spec\.json: spec: not the spec that accelsim sweep writes"),
        (("points/part-000000.parquet", "garbage"), r"part-000000\.parquet: <top>: not a readable Parquet part"),
    ],
    ids=["spec-not-json", "spec-empty", "corrupt-part"],
)  # fmt: skip
def test_accelsim_plot_damaged_sweep_directory(swept, tmp_path, capsys, damage, message):
    """A sweep directory whose spec.json or a Parquet part is damaged is a ConfigError naming
    that file (exit 2), for `read_results` too."""
    _, out = swept
    copy = tmp_path / "sweep"
    shutil.copytree(out, copy)
    (copy / damage[0]).write_text(damage[1])
    with pytest.raises(ConfigError, match=message):
        read_results(copy)
    assert main(["plot", "pareto", str(copy), "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err, err


def test_accelsim_plot_kind_that_needs_a_report(swept, tmp_path, capsys):
    """``plot timeline SWEEPDIR``: a timeline is drawn from a report JSON; on a sweep
    directory it is an error on KIND, not an energy breakdown."""
    _, out = swept
    assert main(["plot", "timeline", str(out), "-o", str(tmp_path / "t.png")]) == 2
    assert "KIND: timeline needs a report JSON" in capsys.readouterr().err
    assert not (tmp_path / "t.png").exists()


def test_accelsim_plot_energy_of_a_sweep_without_energy(write, tmp_path, capsys):
    """A sweep of an arch without a technology section has no energy: ``pareto`` (latency
    against energy), ``heatmap`` (TOPS/W by default) and ``breakdown`` are an error naming
    the option whose column is empty, not an empty figure whose legend calls every feasible
    point infeasible; ``layers`` (cycles) and a heatmap of latency still draw."""
    text = (ROOT / "arch_configs" / "edge_32x32.yaml").read_text()
    arch = write("a.yaml", text[: text.index("technology:")])
    spec = write("s.yaml", f"base_arch: {arch}\nworkloads: [{ROOT / 'workloads/resnet18.yaml'}]\n"
                           "axes: {array.rows: [8, 16], array.cols: [8, 16]}\n")  # fmt: skip
    out = tmp_path / "out"
    accelsim.sweep(spec, workers=1, out=out, progress=False)
    for kind, flag in (("pareto", "--y"), ("heatmap", "--value"), ("breakdown", "KIND")):
        assert main(["plot", kind, str(out), "-o", str(tmp_path / f"{kind}.png")]) == 2, kind
        err = capsys.readouterr().err
        assert f"{flag}: no feasible point of this sweep has energy" in err, err
    for args in (["layers"], ["heatmap", "--value", "latency_s"]):
        assert main(["plot", *args, str(out), "-o", str(tmp_path / "ok.png")]) == 0, args
