"""Every shipped design runs every shipped workload: a report, never an exception; a layer
that cannot run is a row with a reason; invariants hold on every row."""

import itertools

import numpy as np
import pytest
from conftest import ROOT

import accelsim

ARCHS = sorted(p for p in (ROOT / "arch_configs").iterdir() if p.suffix in (".yaml", ".cfg"))
WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml"))


@pytest.mark.parametrize(
    ("arch_path", "wl_path"), list(itertools.product(ARCHS, WORKLOADS)),
    ids=[f"{a.stem}-{w.stem}" for a, w in itertools.product(ARCHS, WORKLOADS)],
)  # fmt: skip
def test_pair_runs_with_sane_numbers(arch_path, wl_path):
    arch, wl = accelsim.load_arch(arch_path), accelsim.load_workload(wl_path)
    report = accelsim.simulate(arch, wl)
    df = report.layers
    gemm = df[df["type"].isin(["conv", "fc", "matmul"]) & df["feasible"]]
    assert (df.loc[~df["feasible"], "reason"].str.len() > 0).all()
    assert int(gemm["macs"].sum()) == sum(
        la.macs for la in wl.layers if la.name in set(gemm["name"])
    )
    assert (gemm["utilization"] <= 1 + 1e-12).all()
    if "stall_cycles" in df:
        assert (df["stall_cycles"] >= 0).all()
        assert np.allclose(gemm["cycles"], gemm["compute_cycles"] + gemm["stall_cycles"])
    if report.total["feasible"]:
        assert report.total["cycles"] > 0 and report.total["macs"] == wl.macs


@pytest.mark.parametrize(
    "path", sorted((ROOT / "workloads" / "assignments").glob("*.yaml")), ids=lambda p: p.stem
)
def test_shipped_assignment_runs_on_its_design(path):
    """A shipped assignment (``<workload>_<design>_<metric>.yaml``, written by
    analysis/haq_study.py) names only its workload's layers, changes their precision, and
    its design runs every layer at those bits."""
    assignment = accelsim.load_assignment(path)
    (workload, design), = [path.stem.split(f"_{a.stem}_")[0:1] + [a] for a in ARCHS
                           if f"_{a.stem}_" in path.stem]  # fmt: skip
    wl = accelsim.load_workload(ROOT / "workloads" / f"{workload}.yaml")
    arch = accelsim.load_arch(design)
    report = accelsim.simulate(arch, wl, assignment)
    rows = {r["name"]: r for r in report.layer_records()}
    for name, change in assignment.layers:
        assert rows[name]["feasible"]
        assert (rows[name]["w_bits"], rows[name]["a_bits"]) == (change.w_bits, change.a_bits)
