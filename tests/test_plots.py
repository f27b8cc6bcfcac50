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


def _drop(copy, table, columns, parts=None):
    """Rewrite the sweep copy's ``table`` parts (the first ``parts``, or all) without
    ``columns``, as an older accelsim or a hand edit would leave them."""
    import pyarrow.parquet as pq

    for part in sorted((copy / table).glob("part-*.parquet"))[:parts]:
        t = pq.read_table(part)
        pq.write_table(t.drop([c for c in columns if c in t.column_names]), part)


@pytest.mark.parametrize(
    ("args", "table", "columns", "parts", "message"),
    [
        (["pareto"], "points", ["energy_pj"], 1, r"points/part-000000\.parquet: <top>: no column 'energy_pj'; allowed: columns point_id, workload, feasible, array\.rows, array\.cols, w_bits, latency_s, energy_pj: what accelsim plot pareto reads"),
        (["pareto"], "points", ["workload"], None, r"/points: <top>: no part has 'workload' \(written by another accelsim version\?\); allowed: columns point_id, workload, feasible, .*what accelsim plot pareto reads"),
        (["pareto", "--x", "tops"], "points", ["tops"], 1, r"points/part-000000\.parquet: <top>: no column 'tops'; allowed: .*, tops, energy_pj: what"),
        (["heatmap"], "points", ["feasible"], None, r"/points: <top>: no part has 'feasible'"),
        (["heatmap"], "points", ["array.rows", "tops_per_w"], 1, r"part-000000\.parquet: <top>: no column 'array\.rows', 'tops_per_w'"),
        (["layers"], "points", ["objective_value"], None, r"/points: <top>: no part has 'objective_value'.*what accelsim plot layers reads"),
        (["layers"], "layers", ["layer_index"], None, r"/layers: <top>: no part has 'layer_index' \(written by another accelsim version\?\); allowed: columns point_id, workload, layer_index, name, latency_s or cycles: what accelsim plot layers reads"),
        (["layers"], "layers", ["latency_s", "cycles"], 1, r"layers/part-000000\.parquet: <top>: no column 'latency_s' or 'cycles'"),
        (["breakdown"], "points", ["latency_s"], None, r"/points: <top>: no part has 'latency_s'.*what accelsim plot breakdown reads"),
        (["breakdown", "--point", "0"], "points", ["point_id"], 1, r"points/part-000000\.parquet: <top>: no column 'point_id'"),
    ],
    ids=["pareto-part", "pareto-all", "pareto-x-part", "heatmap-all", "heatmap-two", "layers-points",
         "layers-layers", "layers-either", "breakdown-all", "breakdown-point"],
)  # fmt: skip
def test_accelsim_plot_part_without_a_column(swept, tmp_path, capsys, args, table, columns,
                                             parts, message):  # fmt: skip
    """A sweep directory whose Parquet parts lack a column the plot reads (dropped from one
    part, or from every part as an older accelsim would write them) is one ConfigError naming
    the part (or the table when every part lacks it), the column and what the plot reads,
    exit 2, for every kind: not a KeyError, nor a figure silently missing that part's
    points. A column an option chose that no part has stays that option's error."""
    _, out = swept
    copy = tmp_path / "sweep"
    shutil.copytree(out, copy)
    _drop(copy, table, columns, parts)
    assert main(["plot", args[0], str(copy), *args[1:], "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("accelsim: 1 problem in the input:"), err
    assert re.search(message, err), err
    assert not (tmp_path / "f.png").exists()


def test_accelsim_plot_breakdown_without_component_columns(swept, tmp_path, capsys):
    """``breakdown`` of a sweep whose parts have energy_pj but no energy_<component>_<action>_pj
    columns: a ConfigError naming the points table, not a ValueError traceback (exit 1)."""
    points, out = swept
    copy = tmp_path / "sweep"
    shutil.copytree(out, copy)
    _drop(
        copy,
        "points",
        [c for c in points.columns if c in sum(plots.energy_columns(points).values(), [])],
    )
    assert main(["plot", "breakdown", str(copy), "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert (
        "Traceback" not in err and "/points: <top>: no energy_<component>_<action>_pj column" in err
    ), err


def test_plot_functions_name_a_missing_column(report, swept):
    """The functions that take a DataFrame say which column they lack (a ConfigError, a
    ValueError), not a bare KeyError."""
    points, _ = swept
    cases = [
        (lambda: plots.pareto_front(points.drop(columns="energy_pj")), r"accelsim\.plots\.pareto_front\(\): y: no column 'energy_pj' in the DataFrame \(did you mean 'energy_pe_mac_pj'\?\); allowed: a DataFrame with latency_s, energy_pj"),
        (lambda: plots.pareto(points.drop(columns="latency_s")), r"pareto\(\): x: no column 'latency_s'"),
        (lambda: plots.pareto(points, label_column="design"), r"pareto\(\): label_column: no column 'design'"),
        (lambda: plots.heatmap(points, "array.cols", "array.rows", "tops_per_watt"), r"heatmap\(\): value: no column 'tops_per_watt' in the DataFrame \(did you mean 'tops_per_w'\?\)"),
        (lambda: plots.energy_breakdown(points, by="design"), r"energy_breakdown\(\): by: no column 'design'"),
        (lambda: plots.layer_bars(report.layers.drop(columns="name")), r"layer_bars\(\): layers: no column 'name'"),
        (lambda: plots.layer_bars(report.layers.drop(columns=["latency_s", "cycles"])), r"layer_bars\(\): layers: no column 'latency_s' or 'cycles'"),
        (lambda: plots.design_labels(points, ["array.rows", "pe.kind"]), r"design_labels\(\): axes: no column 'pe\.kind'"),
        (lambda: plots.gantt(pd.DataFrame({"resource": ["dram"], "start": [0], "end": [1]})), r"gantt\(\): timeline: no column 'what'"),
    ]  # fmt: skip
    for call, message in cases:
        with pytest.raises(ConfigError, match=message):
            call()
