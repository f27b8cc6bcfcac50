"""`timing: scalesim` reproduces SCALE-Sim 3.0.0's per-layer "Total Cycles" exactly.

The goldens were made by running real SCALE-Sim (`InterfaceBandwidth: CALC`) with
tests/goldens/scalesim/make_goldens.py (see the README there); a layer with "DP" in its
name is run by SCALE-Sim channel by channel, one row per channel: we compare the sum.
"""

import csv
from collections import defaultdict
from pathlib import Path

import pytest

import accelsim
from conftest import ROOT

GOLDEN = ROOT / "tests" / "goldens" / "scalesim"
FILES = sorted(GOLDEN.glob("golden_*.csv"))


def _expected(path: Path):
    rows = list(csv.DictReader(path.open()))
    total = defaultdict(int)
    for row in rows:
        total[(row["dataflow"], row["layer"])] += int(row["total_cycles"])
    first = rows[0]
    return first["topology"], int(first["array_rows"]), int(first["array_cols"]), total


def test_goldens_cover_all_dataflows_and_arrays():
    seen = {(df, r, c) for f in FILES for (df, _), r, c in
            [(key, *_expected(f)[1:3]) for key in _expected(f)[3]]}  # fmt: skip
    assert {df for df, _, _ in seen} == {"os", "ws", "is"}
    assert any(r != c for _, r, c in seen), "a non-square array"
    assert {(32, 32), (128, 128)} <= {(r, c) for _, r, c in seen}


@pytest.mark.parametrize("golden", FILES, ids=[f.stem for f in FILES])
def test_total_cycles_match_scalesim(golden):
    topology, rows, cols, expected = _expected(golden)
    wl = accelsim.load_workload(GOLDEN / "topologies" / f"{topology}.csv")
    compared = 0
    for df in ("os", "ws", "is"):
        arch = accelsim.load_arch(GOLDEN / "configs" / f"{df}_{rows}x{cols}.cfg")
        assert arch.timing == "scalesim"
        ours = {r["name"]: r["cycles"] for r in accelsim.simulate(arch, wl).layer_records()}
        for (golden_df, layer), cycles in expected.items():
            if golden_df == df:
                assert ours[layer] == cycles, (df, layer)
                compared += 1
    assert compared == len(expected)
