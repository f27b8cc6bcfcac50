"""Design-space sweeps (accelsim.sweeps): spec validation, rows equal to `accelsim.simulate`,
zip/constraint enumeration, row statuses, resume after a killed process, Dask."""

import contextlib
import math
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

import accelsim
from accelsim.arch import with_changes
from accelsim.cli import main
from accelsim.errors import ConfigError
from accelsim.sweeps import load_spec, read_results
from accelsim.technology import voltage_range
from accelsim.workload import make_assignment

ARCH = ROOT / "arch_configs"
WL = ROOT / "workloads"


def spec_text(arch, workloads, axes, extra=""):
    lines = [
        f"base_arch: {ARCH / arch}",
        f"workloads: [{', '.join(str(WL / w) for w in workloads)}]",
    ]
    lines.append("axes:")
    lines += [f"  {name}: {values}" for name, values in axes.items()]
    return "\n".join(lines) + "\n" + extra


def expected(arch_file, wl_file, changes, bits):
    """The peer: `accelsim.simulate` on the single point, built without the sweep code."""
    arch = accelsim.load_arch(ARCH / arch_file)
    arch = with_changes(arch, changes) if changes else arch
    wl = accelsim.load_workload(WL / wl_file)
    if bits:
        wl = make_assignment("u", {la.name: dict(bits) for la in wl.layers if la.is_gemm}).apply(wl)
    return accelsim.simulate(arch, wl)


def same(a, b) -> bool:
    """Equal, NaN equal to NaN and None (a value that was not computed)."""
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return a == b


# ------------------------------------------------------------------------- bad input


def run_cli(capsys, *args):
    code = main(["sweep", *map(str, args)])
    return code, capsys.readouterr().err


# six axes of 100 values: 10**12 points, refused from the axis lengths without enumerating
HUGE_AXES = {
    "array.rows": list(range(1, 101)),
    "array.cols": list(range(1, 101)),
    "array.clock_mhz": list(range(1, 101)),
    **{f"memories.{m}.size_bytes": [1024 * i for i in range(1, 101)] for m in ("inputs", "weights", "outputs")},
}  # fmt: skip


@pytest.mark.parametrize(
    ("axes", "extra", "message"),
    [
        ({"array.rowz": [16, 32]}, "", r"axes\.array\.rowz: no such field in array \(did you mean 'rows'\?\)"),
        ({"memories.weights.sise_bytes": [1024]}, "", r"did you mean 'size_bytes'"),
        ({"w_bitz": [4]}, "", r"no such field in the arch \(did you mean 'w_bits'\?\)"),
        ({"array.rows": []}, "", r"axes\.array\.rows: must not be empty"),
        ({"array.rows": [16, 32]}, "constraints: ['array.rows > 100']\n", r"the constraints remove every one of the 2 points"),
        ({"array.rows": [16]}, "constraints: ['array.rowz > 1']\n", r"names no axis: 'array.rowz' \(did you mean 'array.rows'\?\)"),
        ({"array.rows": [16]}, "constraints: ['__import__(\"os\")']\n", r"a function call is not allowed"),
        ({"array.rows": [16, 32], "array.cols": [16]}, "zip: [[array.rows, array.cols]]\n", r"zip\.0: the axes of a zip group need the same number of values"),
        ({"array.rows": [-1, 32]}, "", r"axes\.array\.rows\.0: rejected by the arch: out of range"),
        (HUGE_AXES, "", r"sweep\.yaml:\d+: axes: too many design points .*; found 1,000,000,000,000; allowed: at most 10,000,000"),
        ({"array.rows": [16]}, "constraints: ['((((((array.rows ** 64) ** 64) ** 64) ** 64) ** 64) ** 64) > 0']\n", r"constraints\.0: cannot be evaluated .*is larger than 2\*\*1024"),
        ({"array.rows": [16]}, f"constraints: ['{'-' * 990}array.rows']\n", r"constraints\.0: nested more than 100 levels deep"),
        ({"array.rows": [16]}, "constraints: ['1 < 2']\n", r"constraints\.0: names no axis: it is the same for every point; found '1 < 2'"),
        ({"array.rows": [16]}, "constraints: ['\"a\" * array.rows == \"b\"']\n", r"constraints\.0: cannot be evaluated .*repeating a string"),
    ],
    ids=["axis-path", "nested-path", "precision-axis", "empty-axis", "constraints-remove-all", "constraint-name", "constraint-call", "zip-lengths", "bad-value",
         "too-many-points", "constraint-power-tower", "constraint-deep", "constraint-constant", "constraint-repeat"],
)  # fmt: skip
def test_bad_spec_is_one_error_before_any_work(write, tmp_path, capsys, axes, extra, message):
    spec = write("sweep.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml"], axes, extra))
    with pytest.raises(ConfigError, match=message):
        load_spec(spec)
    code, err = run_cli(capsys, spec, "--out", tmp_path / "out")
    assert code == 2
    assert "Traceback" not in err and "sweep.yaml:" in err
    assert not (tmp_path / "out").exists()  # nothing started


def test_zip_group_counts_once_towards_the_point_limit(write, monkeypatch):
    """With at most 10 points: rows x cols (4 x 4 = 16) is refused before enumerating (the
    count is in the message), the same axes zipped (4 points) are accepted."""
    monkeypatch.setattr("accelsim.sweeps.MAX_POINTS", 10)
    axes = {"array.rows": [4, 8, 16, 32], "array.cols": [4, 8, 16, 32]}
    spec = write("sweep.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml"], axes))
    with pytest.raises(
        ConfigError, match=r"too many design points .*; found 16; allowed: at most 10"
    ):
        load_spec(spec)
    zipped = write(
        "zip.yaml",
        spec_text("edge_32x32.yaml", ["resnet18.yaml"], axes, "zip: [[array.rows, array.cols]]\n"),
    )
    assert len(load_spec(zipped).values) == 4


def test_energy_objective_needs_a_technology_section(write, tmp_path, capsys):
    """finn_pynq_z1 has no technology section: objective energy or edp is one error before
    any work, worded as ``accelsim lut --metric energy`` words it; with a ``technology``
    axis the points get one and the spec is accepted."""
    for objective in ("energy", "edp"):
        spec = write("sweep.yaml", spec_text("finn_pynq_z1.yaml", ["finn_sfc.yaml"], {"array.cols": [8]},
                                             f"objective: {objective}\n"))  # fmt: skip
        with pytest.raises(
            ConfigError,
            match=rf"sweep\.yaml:5: objective: arch '.*' has no technology section, so no energy model; found '{objective}'",
        ):
            load_spec(spec)
        code, err = run_cli(capsys, spec, "--out", tmp_path / "out")
        assert code == 2 and "no energy model" in err and "Traceback" not in err
        assert not (tmp_path / "out").exists()
    axes = {"array.cols": [8], "technology": [{"node_nm": 28}]}
    spec = write(
        "tech.yaml", spec_text("finn_pynq_z1.yaml", ["finn_sfc.yaml"], axes, "objective: edp\n")
    )
    assert len(load_spec(spec).values) == 1


def test_unreachable_scheduler_is_an_error_before_any_work(write, tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a loopback port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = write(
        "sweep.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml"], {"array.rows": [16]})
    )
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ConfigError, match=r"--scheduler: cannot reach a Dask scheduler there"):
        accelsim.sweep(spec, scheduler=address, out=tmp_path / "a", connect_timeout=0.5)
    code, err = run_cli(capsys, spec, "--out", tmp_path / "out", "--scheduler", address)
    assert code == 2 and "cannot reach a Dask scheduler" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "a").exists()


def test_a_bad_scheduler_address_leaves_no_client_behind(write, tmp_path):
    """``--scheduler notaurl``: exit 2 with the message, and the half-made Dask client is
    closed at once: nothing else on stderr (no "Exception ignored in Client.__del__ ...
    TimeoutError" when the interpreter exits)."""
    spec = write(
        "sweep.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml"], {"array.rows": [16]})
    )
    proc = subprocess.run(
        [sys.executable, "-m", "accelsim", "sweep", str(spec), "--out", str(tmp_path / "out"),
         "--scheduler", "notaurl"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert "cannot reach a Dask scheduler there" in lines[-1] and len(lines) == 2, proc.stderr


def test_out_holding_another_sweep_needs_resume_and_the_same_spec(write, tmp_path):
    spec = write(
        "sweep.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml"], {"array.rows": [16]})
    )
    accelsim.sweep(spec, workers=1, out=tmp_path / "out")
    with pytest.raises(ConfigError, match=r"--out: already holds a sweep; pass --resume"):
        accelsim.sweep(spec, workers=1, out=tmp_path / "out")
    other = write(
        "other.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml"], {"array.rows": [32]})
    )
    with pytest.raises(
        ConfigError, match=r"axes: the sweep in this directory was made from another spec"
    ):
        accelsim.sweep(other, workers=1, out=tmp_path / "out", resume=True)


@pytest.mark.parametrize(
    ("text", "match"),
    [("nope", r"spec\.json:1: <top>: not JSON"),
     ('{"spec": {}}', r"spec\.json: spec: not the spec that accelsim sweep writes")],
)  # fmt: skip
def test_resume_with_a_damaged_spec_file_is_a_config_error(write, tmp_path, text, match):
    """A sweep directory whose spec.json was damaged (not JSON, or not what `sweep` writes):
    resuming is a ConfigError naming the file, never a JSON traceback."""
    spec = write(
        "sweep.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml"], {"array.rows": [16]})
    )
    accelsim.sweep(spec, workers=1, out=tmp_path / "out")
    (tmp_path / "out" / "spec.json").write_text(text)
    with pytest.raises(ConfigError, match=match):
        accelsim.sweep(spec, workers=1, out=tmp_path / "out", resume=True)


@pytest.mark.parametrize(("table", "column"), [("points", "workload"), ("layers", "layer_index")])
def test_read_results_of_a_part_without_a_key_column(write, tmp_path, table, column):
    """A Parquet part lacking a column `read_results` sorts by (edited, or written by another
    version) is a ConfigError naming the part, not a pandas KeyError."""
    import pyarrow.parquet as pq

    spec = write(
        "sweep.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml"], {"array.rows": [16]})
    )
    accelsim.sweep(spec, workers=1, out=tmp_path / "out")
    part = sorted((tmp_path / "out" / table).glob("part-*.parquet"))[0]
    pq.write_table(pq.read_table(part).drop_columns([column]), part)
    with pytest.raises(ConfigError, match=rf"{part.name}: <top>: no column '{column}'"):
        read_results(tmp_path / "out", table)


# --------------------------------------------------------- rows equal accelsim.simulate

# every shipped arch kind, with axes its PE accepts; workloads it is paired with in the suite
KINDS = {
    "edge_32x32.yaml": (["resnet18.yaml"], {"array.rows": [16, 32], "array.cols": [8, 32], "memories.weights.size_bytes": [16384, 131072], "a_bits": [4, 8], "w_bits": [2, 8]}),
    "tpu_v1_like.yaml": (["mobilenet_v1.yaml"], {"array.rows": [64, 256], "w_bits": [4, 8]}),
    "bitfusion.yaml": (["resnet18.yaml"], {"array.cols": [16, 32], "a_bits": [2, 4, 8], "w_bits": [2, 8]}),
    "unpu.yaml": (["resnet18.yaml"], {"array.rows": [32, 64], "w_bits": [1, 3, 16]}),
    "bnn_xnor.yaml": (["finn_sfc.yaml", "finn_cnv.yaml"], {"array.rows": [8, 16], "pe.lanes": [32, 64], "dram.bytes_per_cycle": [4, 8]}),
}  # fmt: skip


@pytest.mark.parametrize("arch_file", sorted(KINDS))
def test_sweep_rows_equal_simulate_on_single_points(write, tmp_path, arch_file):
    """A random sample of points (fixed seed) of every shipped PE kind, over array shapes,
    buffers and bit-widths: every total, every energy-breakdown entry and every per-layer
    column read back from the Parquet tables is identical to `accelsim.simulate` on that one
    point."""
    workloads, axes = KINDS[arch_file]
    spec = write("sweep.yaml", spec_text(arch_file, workloads, axes))
    assert_rows_equal_simulate(tmp_path, spec, arch_file, workloads, axes, sample=4)


def test_the_kinds_above_cover_every_shipped_pe_kind():
    shipped = {accelsim.load_arch(p).pe.kind for p in ARCH.glob("*.yaml")}
    assert shipped <= {accelsim.load_arch(ARCH / a).pe.kind for a in KINDS}


@pytest.mark.parametrize("arch_path", sorted(ARCH.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_design_sweeps_to_simulate_rows(write, tmp_path, arch_path):
    """Every shipped design (whatever its execution mode, weight source or reconfigurable
    array) with its own and twice its columns, at its clock and half of it, on a binary MLP
    and AlexNet. (Twice the columns keeps every reconfigurable mode's sub-array tiling the
    grid; half the rows would not, and those points would be ``invalid`` rows.)"""
    arch = accelsim.load_arch(arch_path)
    clock = arch.spec.array.clock_mhz
    axes = {"array.cols": [arch.cols, 2 * arch.cols], "array.clock_mhz": [clock, clock / 2]}
    workloads = ["finn_sfc.yaml", "alexnet.yaml"]
    spec = write("sweep.yaml", spec_text(arch_path.name, workloads, axes))
    assert_rows_equal_simulate(tmp_path, spec, arch_path.name, workloads, axes, sample=2)


def assert_rows_equal_simulate(tmp_path, spec, arch_file, workloads, axes, sample):
    points = accelsim.sweep(spec, workers=1, out=tmp_path / "out")
    layers = read_results(tmp_path / "out", "layers")
    assert len(points) == math.prod(len(v) for v in axes.values()) * len(workloads)
    assert points["status"].isin(["ok", "infeasible"]).all()
    arch_axes = [a for a in axes if a not in ("a_bits", "w_bits")]
    for pid in random.Random(9).sample(sorted(set(points["point_id"])), sample):
        for wl_file in workloads:
            wl_name = accelsim.load_workload(WL / wl_file).name
            row = points[(points["point_id"] == pid) & (points["workload"] == wl_name)].iloc[0]
            changes = {a: row[a].item() for a in arch_axes}
            bits = {b: int(row[b]) for b in ("a_bits", "w_bits") if b in axes}
            report = expected(arch_file, wl_file, changes, bits)
            assert row["status"] == ("ok" if report.total["feasible"] else "infeasible")
            for key, value in report.total.items():  # every total, whatever the design
                assert same(value, None if pd.isna(row[key]) else row[key]), key
            for (comp, action), pj in (report.energy_breakdown or {}).items():
                column = f"energy_{comp}_{action}_pj".replace("_bytes", "")
                assert row[column] == pj or not report.total["feasible"], column
            mine = layers[(layers["point_id"] == pid) & (layers["workload"] == wl_name)]
            theirs = report.layers
            assert list(mine["name"]) == list(theirs["name"])
            for column in theirs.columns:
                a, b = mine[column].tolist(), theirs[column].tolist()
                assert all(same(x, y) for x, y in zip(b, a)), column


# -------------------------------------------------------------- enumeration and statuses


def test_zip_and_constraints_give_the_hand_counted_points(write):
    """zip (rows, cols) = (8, 8), (16, 16), (32, 32), crossed with w_bits 4, 8: 6 points;
    ``array.rows * w_bits <= 128`` drops only (32, 32, 8) (256); ``array.cols != 16 or
    w_bits == 4`` drops (16, 16, 8). Last axis fastest: 4 points in this order."""
    axes = {"array.rows": [8, 16, 32], "array.cols": [8, 16, 32], "w_bits": [4, 8]}
    extra = "zip: [[array.rows, array.cols]]\nconstraints: ['array.rows * w_bits <= 128', 'array.cols != 16 or w_bits == 4']\n"
    spec = write("sweep.yaml", spec_text("edge_32x32.yaml", ["alexnet.yaml"], axes, extra))
    assert load_spec(spec).values == [(8, 8, 4), (8, 8, 8), (16, 16, 4), (32, 32, 4)]
    points = accelsim.sweep(spec, workers=1)
    got = list(zip(points["array.rows"], points["array.cols"], points["w_bits"]))
    assert got == [(8, 8, 4), (8, 8, 8), (16, 16, 4), (32, 32, 4)]
    assert list(points["point_id"]) == [0, 1, 2, 3]


def test_assignment_axis_rows_equal_simulate_with_that_assignment(write):
    """Listed assignments become values of the ``assignment`` axis (null: the workload's own
    precisions); a uniform ``a_bits`` applies on top of the assignment."""
    write("w4.yaml", "name: w4\nassignment: {conv1: {w_bits: 4}, conv2: {w_bits: 2}}\n")
    extra = "assignments: [w4.yaml]\n"
    spec = write(
        "sweep.yaml",
        spec_text(
            "edge_32x32.yaml",
            ["alexnet.yaml"],
            {"assignment": [None, "w4"], "a_bits": [4, 8]},
            extra,
        ).replace("None", "null"),
    )
    points = accelsim.sweep(spec, workers=1)
    assert list(zip(points["assignment"].fillna("(own)"), points["a_bits"])) == [
        ("(own)", 4),
        ("(own)", 8),
        ("w4", 4),
        ("w4", 8),
    ]
    arch = accelsim.load_arch(ARCH / "edge_32x32.yaml")
    wl = accelsim.load_workload(WL / "alexnet.yaml")
    w4 = accelsim.load_assignment(spec.parent / "w4.yaml")
    for _, row in points.iterrows():
        base = w4.apply(wl) if row["assignment"] == "w4" else wl
        a = make_assignment(
            "a", {la.name: {"a_bits": int(row["a_bits"])} for la in wl.layers if la.is_gemm}
        )
        report = accelsim.simulate(arch, a.apply(base))
        assert (
            row["energy_pj"] == report.total["energy_pj"]
            and row["cycles"] == report.total["cycles"]
        )
    assert points.loc[2, "energy_pj"] < points.loc[0, "energy_pj"]  # narrower weights, less energy


def test_infeasible_and_invalid_points_are_rows_with_their_reason(write):
    """a_bits 16 exceeds edge_32x32's 8-bit MAC (infeasible); a 1-byte weight buffer holds no
    tile (infeasible); a supply allowed at 65 nm but above 28 nm's range makes the 28 nm
    points invalid (the arch rejects the pair; each value alone is fine)."""
    v65 = voltage_range(65)[1]
    assert v65 > voltage_range(28)[1]
    axes = {"a_bits": [8, 16], "memories.weights.size_bytes": [1, 131072],
            "technology.node_nm": [28, 65], "technology.voltage_v": [v65]}  # fmt: skip
    spec = write("sweep.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml"], axes))
    points = accelsim.sweep(spec, workers=1).set_index(["a_bits", "memories.weights.size_bytes",
                                                        "technology.node_nm"])  # fmt: skip
    assert points.loc[(8, 131072, 65), "status"] == "ok"
    wide = points.loc[(16, 131072, 65)]
    assert wide["status"] == "infeasible" and not wide["feasible"]
    assert "a_bits 16 (uint) exceeds this int_mac's max_a_bits 8" in wide["reason"]
    assert math.isnan(wide["latency_s"])
    tiny = points.loc[(8, 1, 65)]
    assert tiny["status"] == "infeasible" and "weights buffer (1 bytes)" in tiny["reason"]
    for key, row in points.iterrows():
        if key[2] == 28:
            assert row["status"] == "invalid" and "outside the allowed range" in row["reason"]


def test_an_unexpected_error_is_recorded_and_the_sweep_goes_on(
    write, tmp_path, monkeypatch, capsys
):
    import accelsim.model

    real = accelsim.model.evaluate

    def broken(arch, x, *args, **kwargs):
        if arch.rows == 16:
            raise RuntimeError("model bug at 16 rows")
        return real(arch, x, *args, **kwargs)

    monkeypatch.setattr(accelsim.model, "evaluate", broken)
    spec = write(
        "sweep.yaml",
        spec_text(
            "edge_32x32.yaml", ["resnet18.yaml"], {"array.rows": [8, 16, 32], "w_bits": [4, 8]}
        ),
    )
    code = main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert code == 0
    assert "2 point(s) failed with an unexpected error" in capsys.readouterr().err
    points = read_results(tmp_path / "out")
    bad = points[points["array.rows"] == 16]
    assert list(bad["status"]) == ["error", "error"]
    assert (bad["error"] == "RuntimeError: model bug at 16 rows").all()
    good = points[points["array.rows"] != 16]
    assert (good["status"] == "ok").all() and good["error"].isna().all()
    for _, row in good.iterrows():
        report = expected(
            "edge_32x32.yaml",
            "resnet18.yaml",
            {"array.rows": int(row["array.rows"])},
            {"w_bits": int(row["w_bits"])},
        )
        assert row["energy_pj"] == report.total["energy_pj"]


def test_progress_bar_only_when_asked_or_on_a_terminal(write, capsys):
    """Not a terminal (pytest captures stderr): quiet. ``progress=True``: a bar with the
    rate (points per second) and the remaining time."""
    spec = write("sweep.yaml", spec_text("edge_32x32.yaml", ["alexnet.yaml"], {"w_bits": [4, 8]}))
    accelsim.sweep(spec, workers=1)
    assert capsys.readouterr().err == ""
    accelsim.sweep(spec, workers=1, progress=True, chunk_size=1)
    err = capsys.readouterr().err
    # elapsed<remaining, rate (tqdm writes s/pt instead of pt/s below one point per second)
    assert re.search(r"2/2 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(pt/s|s/pt)\]", err), err


# ------------------------------------------------------------------------------ resume


def _start_sweep(write, tmp_path, axes, workers):
    """A real ``accelsim sweep`` process on ResNet-50 over ``axes``, one point per chunk, in
    its own session: ``(spec, out, command, process)``."""
    spec = write("sweep.yaml", spec_text("edge_32x32.yaml", ["resnet50.yaml"], axes))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "accelsim", "sweep", str(spec), "--out", str(out),
           "--workers", str(workers), "--chunk-size", "1"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return spec, out, cmd, proc


def test_a_killed_sweep_resumes_without_recomputing(write, tmp_path):
    """A real ``accelsim sweep`` process, one point per chunk, is stopped and killed once
    some chunks are written; ``--resume`` leaves those part files untouched (same inode and
    modification time) and ends with exactly the rows of an uninterrupted run."""
    axes = {"array.rows": [8, 16, 32, 64, 128], "array.cols": [8, 16, 32, 64], "w_bits": [2, 4, 8]}
    spec, out, cmd, proc = _start_sweep(write, tmp_path, axes, workers=1)
    try:
        while len(list(out.glob("points/part-*.parquet"))) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGSTOP)
        written = {
            p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in out.glob("points/part-*.parquet")
        }
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        proc.stderr.close()
    total = 5 * 4 * 3
    assert 3 <= len(written) < total
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    parts = {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("points/part-*.parquet")
    }
    assert len(parts) == total
    assert {name: parts[name] for name in written} == written  # not one rewritten
    assert not list(out.glob("*/.part-*"))  # no temporary file left behind

    accelsim.sweep(spec, workers=1, out=tmp_path / "whole", chunk_size=7)
    for table in ("points", "layers"):
        pd.testing.assert_frame_equal(
            read_results(out, table), read_results(tmp_path / "whole", table)
        )


def test_workers_of_a_killed_sweep_do_not_outlive_it(write, tmp_path):
    """Killing only the ``accelsim sweep --workers 2`` process (SIGKILL: it cannot shut its
    pool down) leaves no process behind: each worker ends once its parent is gone
    (`accelsim.sweeps._exit_with_parent`) instead of waiting for work forever (as it did:
    two ~400 MB workers per kill), and the resource tracker follows."""
    import psutil

    axes = {"array.rows": [8, 16, 32, 64], "array.cols": [8, 16, 32], "w_bits": [2, 4, 8]}
    _, out, _, proc = _start_sweep(write, tmp_path, axes, workers=2)
    try:
        while not list(out.glob("points/part-*.parquet")):  # the workers are at work
            assert proc.poll() is None
            time.sleep(0.02)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(children, timeout=60)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()


def test_out_under_a_file_is_a_config_error(tmp_path):
    """``accelsim.sweep(out=...)`` from Python with an ``out`` under a file: one ConfigError
    naming it, before any work (the command line checks it even earlier)."""
    (tmp_path / "file").write_text("")
    spec = {"base_arch": str(ARCH / "edge_32x32.yaml"),
            "workloads": [str(ROOT / "tests" / "data" / "tiny.yaml")],
            "axes": {"array.rows": [8]}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"--out: cannot be written \(Not a directory\)"):
        accelsim.sweep(spec, workers=1, out=tmp_path / "file" / "x", progress=False)


def test_chunks_are_whole_arch_groups_and_resume_keeps_the_recorded_ones(write, tmp_path):
    """3 arch variants x 4 precisions: each arch is one model call per chunk. With
    ``chunk_size`` 9 a chunk holds two whole groups (8 points), not 9 points cutting a group;
    with 3 a group of 4 is cut into 3 + 1 and no chunk mixes archs. A resumed sweep computes
    the chunks its point list recorded, whatever rule made them, with the same rows."""
    tiny = ROOT / "tests" / "data" / "tiny.yaml"
    spec = write("sweep.yaml", f"base_arch: {ARCH / 'edge_32x32.yaml'}\nworkloads: [{tiny}]\n"
                 "axes: {array.rows: [8, 16, 32], a_bits: [4, 8], w_bits: [4, 8]}\n")  # fmt: skip

    def chunk_rows(out):
        import pyarrow.parquet as pq

        table = pq.read_table(out / "point_list.parquet").to_pandas()
        return table.groupby("chunk_id")["array.rows"].apply(list).tolist()

    accelsim.sweep(spec, workers=1, out=tmp_path / "nine", chunk_size=9, progress=False)
    assert chunk_rows(tmp_path / "nine") == [[8] * 4 + [16] * 4, [32] * 4]
    accelsim.sweep(spec, workers=1, out=tmp_path / "three", chunk_size=3, progress=False)
    assert chunk_rows(tmp_path / "three") == [[8] * 3, [8], [16] * 3, [16], [32] * 3, [32]]
    before = read_results(tmp_path / "nine", "layers")
    # a point list recording other chunks (one point each, as an older accelsim or another
    # --chunk-size made them), no part written yet: the resumed sweep computes those chunks
    import pyarrow as pa
    import pyarrow.parquet as pq

    listed = pq.read_table(tmp_path / "nine" / "point_list.parquet")
    listed = listed.set_column(1, "chunk_id", pa.array(np.arange(12, dtype=np.int64)))
    pq.write_table(listed, tmp_path / "nine" / "point_list.parquet")
    for part in (tmp_path / "nine").glob("*/part-*.parquet"):
        part.unlink()
    accelsim.sweep(spec, workers=1, out=tmp_path / "nine", resume=True, progress=False)
    assert len(list((tmp_path / "nine" / "points").glob("part-*.parquet"))) == 12
    pd.testing.assert_frame_equal(read_results(tmp_path / "nine", "layers"), before)


# -------------------------------------------------------------------------- parallelism


def test_dask_local_cluster_and_worker_processes_give_the_same_rows(write, tmp_path):
    from distributed import LocalCluster

    axes = {"array.rows": [8, 32], "array.cols": [16, 32], "a_bits": [4, 8], "w_bits": [4, 8]}
    spec = write(
        "sweep.yaml", spec_text("edge_32x32.yaml", ["resnet18.yaml", "alexnet.yaml"], axes)
    )
    one = accelsim.sweep(spec, workers=1, out=tmp_path / "one", chunk_size=8)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:  # fmt: skip
        dask = accelsim.sweep(spec, scheduler=cluster.scheduler_address, out=tmp_path / "dask")
    pd.testing.assert_frame_equal(one, dask)
    pd.testing.assert_frame_equal(read_results(tmp_path / "one", "layers"),
                                  read_results(tmp_path / "dask", "layers"))  # fmt: skip
    pool = accelsim.sweep(spec, workers=2, chunk_size=8)  # two spawned worker processes, no out
    pd.testing.assert_frame_equal(one, pool)
    assert len(one) == 16 * 2 and (one["status"] == "ok").all()
    assert np.all(one["point_id"].to_numpy() == np.repeat(np.arange(16), 2))


def test_unguarded_script_with_workers_is_told_about_the_main_guard(tmp_path):
    """Worker processes are spawned: each imports the calling script, which (without an
    ``if __name__ == "__main__":`` guard) starts its own sweep during bootstrap, so the pool
    breaks. The error says why instead of only listing broken chunks."""
    script = tmp_path / "s.py"
    spec = {"base_arch": str(ROOT / "arch_configs" / "edge_32x32.yaml"),
            "workloads": [str(ROOT / "tests" / "data" / "tiny.yaml")],
            "axes": {"array.rows": [8, 16]}}  # fmt: skip
    script.write_text(f"import accelsim\naccelsim.sweep({spec!r}, workers=2, progress=False)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)  # fmt: skip
    assert run.returncode != 0
    # (the children's own bootstrap errors mention the guard too: look at ours)
    ours = [line for line in run.stderr.splitlines() if "SweepIncomplete" in line]
    assert ours and "under `if __name__ == '__main__':`" in ours[-1], run.stderr[-2000:]
