"""The closed-form model and mapper on hand-derived cases, plus invariants (hypothesis).

The closed form itself is proved against the cycle-stepped array in
test_systolic_stepper.py; here: the wiring from workload to report."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import QUANT, ROOT
from hypothesis import given
from hypothesis import strategies as st

import accelsim
from accelsim.dataflow import DATAFLOWS, scalesim_cycles, systolic_cycles

ARCH = """\
name: a
array: {{rows: {rows}, cols: {cols}, dataflow: {df}, clock_mhz: 500}}
pe: {{kind: int_mac, max_a_bits: 8, max_w_bits: 8}}
"""


def _arch(write, rows=32, cols=32, df="[os, ws, is]"):
    return accelsim.load_arch(write("a.yaml", ARCH.format(rows=rows, cols=cols, df=df)))


def _wl(write, layers: str, quant=QUANT):
    return accelsim.load_workload(
        write("w.yaml", f"name: w\nbatch: 1\nquant: {quant}\nlayers:\n{layers}")
    )


CONV = "  - {name: c1, type: conv, in_channels: 3, out_channels: 16, in_h: 32, in_w: 32, kernel: 3, padding: 1}\n"


def test_hand_derived_conv_on_32x32(write):
    """conv 3->16, 3x3, pad 1, 32x32: m = 1024, n = 16, k = 27. On 32x32:
    ws: Sr=k=27, Sc=n=16, T=m=1024, Fr=Fc=1: 1*(1024+32-2) + 1*27 + 1*16 = 1097
    os: Sr=1024, Sc=16, T=27, Fr=32, Fc=1: 32*(27+30) + 1*1024 + 32*16 = 3360
    is: Sr=27, Sc=1024, T=16, Fr=1, Fc=32: 32*(16+30) + 32*27 + 1*1024 = 3360
    The mapper (latency) picks ws; macs = 1024*16*27 = 442368; utilization = 442368/(1097*1024)."""
    report = accelsim.simulate(_arch(write), _wl(write, CONV))
    row = report.layer_records()[0]
    assert (row["dataflow"], row["cycles"]) == ("ws", 1097)
    assert [int(systolic_cycles(1024, 16, 27, 32, 32, df)) for df in DATAFLOWS] == [
        3360,
        1097,
        3360,
    ]
    assert row["utilization"] == 442368 / (1097 * 1024)
    assert report.total["latency_s"] == 1097 / 500e6
    assert report.total["tops"] == 2 * 442368 / (1097 / 500e6) / 1e12


def test_scalesim_formula_by_hand():
    """SCALE-Sim (issue 3, measured): os F(R+C+T-2)-1, ws/is F(2R+C+T-2)-1, full folds.
    m=100, n=37, k=300 on 32x32: os Sr=100 Sc=37 -> F = 4*2 = 8: 8*(62+300)-1 = 2895;
    ws Sr=300, Sc=37 -> F = 10*2 = 20: 20*(94+100)-1 = 3879."""
    assert int(scalesim_cycles(100, 37, 300, 32, 32, "os")) == 2895
    assert int(scalesim_cycles(100, 37, 300, 32, 32, "ws")) == 3879


def test_infeasible_layer_is_a_row_with_a_reason(write):
    layers = (
        CONV + "  - {name: f, type: fc, in_features: 64, out_features: 10, quant: {a_bits: 16}}\n"
    )
    report = accelsim.simulate(_arch(write), _wl(write, layers))
    bad = report.layer_records()[1]
    assert bad["feasible"] is False and bad["cycles"] is None
    assert bad["reason"] == "a_bits 16 (uint) exceeds this int_mac's max_a_bits 8"
    assert report.total["feasible"] is False and report.total["cycles"] is None
    assert "1 layer(s) cannot run on this design; first: f:" in report.total["reason"]
    # with prices, the console's breakdown is of the layers that run, and says so
    tech = write("t.yaml", ARCH.format(rows=32, cols=32, df="os")
                 + "technology: {node_nm: 45, voltage_v: 0.9}\n")  # fmt: skip
    table = accelsim.simulate(accelsim.load_arch(tech), _wl(write, layers)).table()
    assert "energy of the feasible layers only" in table
    feasible = accelsim.simulate(accelsim.load_arch(tech), _wl(write, CONV)).table()
    assert "\nenergy by component and action" in feasible


def test_non_gemm_layers_are_listed_not_costed(write):
    layers = (
        CONV
        + "  - {name: p, type: pool, pool: max, channels: 16, in_h: 32, in_w: 32, kernel: 2, stride: 2, input_from: [c1]}\n"
    )
    report = accelsim.simulate(_arch(write), _wl(write, layers))
    pool = report.layer_records()[1]
    assert (
        pool["costed"] is False
        and pool["cycles"] is None
        and pool["reason"].startswith("not costed")
    )
    assert report.total["uncosted_layers"] == 1 and report.total["cycles"] == 1097


def test_json_has_the_documented_keys(write):
    report = json.loads(accelsim.simulate(_arch(write), _wl(write, CONV)).to_json())
    assert {"arch", "workload", "provenance", "total", "layers"} <= set(report)
    assert {"cycles", "latency_s", "macs", "tops", "utilization"} <= set(report["total"])
    layer_keys = {"name", "m", "n", "k", "groups", "a_bits", "w_bits", "dataflow", "cycles",
                  "compute_cycles", "utilization", "feasible", "reason"}  # fmt: skip
    assert layer_keys <= set(report["layers"][0])
    assert report["provenance"]["arch_sha256"] and report["provenance"]["accelsim_version"]


def test_dataframe_matches_records(write):
    report = accelsim.simulate(_arch(write), _wl(write, CONV))
    df = report.layers
    assert list(df["name"]) == ["c1"] and int(df["cycles"][0]) == 1097


@given(
    m=st.integers(1, 3000), n=st.integers(1, 3000), k=st.integers(1, 3000), g=st.integers(1, 8),
    rows=st.integers(1, 300), cols=st.integers(1, 300), df=st.sampled_from(DATAFLOWS),
)  # fmt: skip
def test_utilization_at_most_one_and_folds_pay_fill(m, n, k, g, rows, cols, df):
    """cycles >= macs / PEs (utilization <= 1) and >= the streamed length of every fold."""
    cycles = int(systolic_cycles(m, n, k, rows, cols, df, g))
    assert cycles * rows * cols >= m * n * k * g
    assert cycles >= g * {"os": k, "ws": m, "is": n}[df]


@given(st.lists(st.tuples(*[st.integers(1, 500)] * 3), min_size=1, max_size=20))
def test_vectorised_equals_one_at_a_time(shapes):
    """One call over many layers/design points equals the scalar calls (one implementation)."""
    m, n, k = (np.array(x) for x in zip(*shapes))
    rows = np.arange(1, len(shapes) + 1) * 7
    for df in DATAFLOWS:
        batch = systolic_cycles(m, n, k, rows, 16, df)
        single = [int(systolic_cycles(*s, r, 16, df)) for s, r in zip(shapes, rows)]
        assert batch.tolist() == single


def test_mapper_picks_the_fastest_dataflow(write):
    """Per layer, the chosen dataflow has the fewest cycles of the allowed ones."""
    layers = CONV + "  - {name: f, type: fc, in_features: 4096, out_features: 10}\n"
    report = accelsim.simulate(_arch(write), _wl(write, layers))
    for row in report.layer_records():
        options = {
            df: int(systolic_cycles(row["m"], row["n"], row["k"], 32, 32, df)) for df in DATAFLOWS
        }
        assert row["cycles"] == min(options.values()) == options[row["dataflow"]]


def test_simulate_many_reports_equal_simulate_whatever_else_is_in_the_batch():
    """The binary MLP (xnor layers: an ``xnor_popcount`` action) and FINN's SFC on
    bnn_xnor, and AlexNet (no binary layer, its own actions) with ResNet-18 at 4 bits on
    bitfusion: each workload's report from `simulate_many`, in either order, is the report
    of `simulate` on it alone, as JSON (columns, their order, totals, energy breakdown,
    provenance): a PE action only another workload counts is not one of its columns.
    (Once the batch's actions became zero columns of every report.)"""
    from accelsim.model import simulate_many
    from accelsim.workload import make_assignment

    root = Path(__file__).resolve().parent.parent
    wl = {name: accelsim.load_workload(root / "workloads" / f"{name}.yaml")
          for name in ("digits_mlp", "finn_sfc", "alexnet", "resnet18")}  # fmt: skip
    four = {la.name: {"a_bits": 4, "w_bits": 4} for la in wl["resnet18"].layers if la.is_gemm}
    wl["resnet18"] = make_assignment("w4", four).apply(wl["resnet18"])
    for arch_file, names in (("bnn_xnor", ("digits_mlp", "finn_sfc")),
                             ("bitfusion", ("alexnet", "resnet18"))):  # fmt: skip
        arch = accelsim.load_arch(root / "arch_configs" / f"{arch_file}.yaml")
        for order in (names, names[::-1]):
            for report in simulate_many(arch, [wl[n] for n in order]):
                alone = accelsim.simulate(
                    arch, wl[{w.name: n for n, w in wl.items()}[report.workload]]
                )
                assert report.to_json() == alone.to_json(), (arch_file, order, report.workload)


def test_energy_objectives_need_an_energy_model(write):
    """`simulate`, `simulate_many` and `simulate_batch` with ``energy`` or ``edp`` on an arch
    without a technology section (nothing to price) are a ConfigError on ``objective``, not
    a latency result labelled energy; ``latency`` runs."""
    from accelsim.model import simulate_batch, simulate_many

    arch, wl = _arch(write), _wl(write, CONV)
    assert accelsim.simulate(arch, wl).total["feasible"]
    for objective in ("energy", "edp"):
        for run in (accelsim.simulate, simulate_many, simulate_batch):
            first = wl if run is accelsim.simulate else [wl]
            with pytest.raises(accelsim.ConfigError, match="objective: arch .* has no technology"):
                run(arch, first, objective=objective)


def test_simulate_many_of_no_workload_is_no_report(write):
    """`simulate_many` of an empty list is an empty list on every kind of arch (a plain one
    gave a numpy reshape error while reconfigurable ones returned [])."""
    from accelsim.model import simulate_many

    for arch in (_arch(write), accelsim.load_arch(ROOT / "arch_configs/reconfig_128x128.yaml")):
        assert simulate_many(arch, []) == []
