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
