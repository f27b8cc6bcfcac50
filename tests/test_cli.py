"""The command line end to end on shipped files (DESIGN.md §7)."""

import json
import subprocess
import sys

from conftest import ROOT

ARCH = str(ROOT / "arch_configs" / "edge_32x32.yaml")


def _accelsim(*args):
    return subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip


def _tiny(write):
    return str(write("w.yaml", (ROOT / "tests" / "data" / "tiny.yaml").read_text()))


def test_run_table_json_csv_and_out(write, tmp_path):
    wl = _tiny(write)
    table = _accelsim("run", ARCH, wl)
    assert table.returncode == 0, table.stderr
    assert "edge_32x32 running tiny" in table.stdout and "utilization" in table.stdout
    js = _accelsim("run", ARCH, wl, "--format", "json", "--out", str(tmp_path / "out"))
    data = json.loads(js.stdout)
    assert data["total"]["cycles"] == sum(r["cycles"] or 0 for r in data["layers"])
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == data
    csv_text = (tmp_path / "out" / "layers.csv").read_text().splitlines()
    assert csv_text[0].startswith("name,type,m,n,k,groups") and len(csv_text) == 1 + len(
        data["layers"]
    )
    assert _accelsim("run", ARCH, wl, "--format", "csv").stdout.splitlines() == csv_text


def test_unknown_objective_exits_2(write):
    proc = _accelsim("run", ARCH, _tiny(write), "--objective", "latncy")
    assert proc.returncode == 2
    assert "objective: unknown objective (did you mean 'latency'?)" in proc.stderr


def test_import_accelsim_stays_light():
    """`import accelsim` loads none of numba, simpy, matplotlib, pandas (DESIGN.md §9)."""
    code = "import sys, accelsim; print(sorted(m for m in ('numba','simpy','matplotlib','pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unwritable_output_exits_2_before_any_work(write, tmp_path):
    """An output path that is a file, or lies under one, was a traceback (exit 1) from
    mkdir, after the work was done; now one problem naming the flag, exit 2."""
    wl = _tiny(write)
    afile = write("a_file.txt", "x")
    spec = write("s.yaml", f"base_arch: {ARCH}\nworkloads: [{wl}]\naxes: {{array.rows: [8]}}\n")
    cases = [
        (("run", ARCH, wl, "--out", str(afile)), "--out: exists and is not a directory"),
        (("run", ARCH, wl, "--out", str(afile / "sub")), "--out: cannot be written"),
        (("sweep", str(spec), "--out", str(afile / "sub"), "--workers", "1"), "--out: cannot be written"),
        (("import", wl, "-o", str(afile / "w.csv")), "--output: cannot be written"),
        (("lut", ARCH, wl, "-o", str(tmp_path)), "--output: exists and is not a file"),
    ]  # fmt: skip
    for args, message in cases:
        proc = _accelsim(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file.txt", "s.yaml", "w.yaml"]


def test_onnx_ops_not_costed_are_one_warning_line(tmp_path):
    """A model with a MatMul and an op accelsim does not know (a custom-domain one after
    it): the run succeeds and says what it left out in one ``accelsim: warning:`` line, not
    a Python warning with a file name and source line."""
    import onnx
    import onnx_models as om
    from onnx import helper as h

    nodes = [
        h.make_node("MatMul", ["x", "w"], ["y"], name="fc"),
        h.make_node("Mystery", ["y"], ["z"], name="mystery", domain="com.example"),
    ]
    model = om.finish(nodes, [om.vi("x", [1, 8])], [om.vi("z", [1, 4])], [om.f32("w", 8, 4)],
                      domains=["com.example"])  # fmt: skip
    onnx.save(model, tmp_path / "m.onnx")
    proc = _accelsim("run", ARCH, str(tmp_path / "m.onnx"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        f"accelsim: warning: {tmp_path / 'm.onnx'}: ops accelsim does not know, not costed: "
        "com.example.Mystery 1"
    ]


def test_energy_objective_needs_a_technology_section(write):
    """`run --objective energy` (or edp) on an arch without technology has no energy to
    minimise: exit 2 with lut's message, instead of the latency result labelled energy."""
    bare = str(write("bare.yaml", (ROOT / "arch_configs" / "edge_32x32.yaml").read_text()
                     .replace("technology: {node_nm: 28}\n", "")))  # fmt: skip
    for objective in ("energy", "edp"):
        proc = _accelsim("run", bare, _tiny(write), "--objective", objective)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines()[1] == (
            "  <command line>: --objective: arch 'edge_32x32' has no technology section, so no "
            f"energy model; found '{objective}'; allowed: latency (or add a technology section "
            "to the arch)"
        )  # fmt: skip
    assert _accelsim("run", ARCH, _tiny(write), "--objective", "edp").returncode == 0


def test_out_that_fails_after_the_precheck_exits_2(write, tmp_path, monkeypatch, capsys):
    """When --out passes the writability pre-check but mkdir or a write still fails (as root
    os.access is always true: --out /proc/x), the OSError is a problem on --out (exit 2),
    not a traceback after the simulation."""
    from accelsim import cli

    monkeypatch.setattr(cli, "_unwritable", lambda *args, **kwargs: [])
    out = write("a_file.txt", "x") / "sub"
    assert cli.main(["run", ARCH, _tiny(write), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"<command line>: --out: cannot be written; found '{out}': " in err
    assert "allowed: a writable directory" in err and "Traceback" not in err
