"""Layer-pipelined execution (accelsim/pipeline.py): stage cycles, frames/s, latency, the
folding search, folding files, bad input, and the FINN rows of analysis/validate_published.py."""

import importlib.util
import itertools
import json
import subprocess
import sys

import pytest
from conftest import ROOT
from hypothesis import given
from hypothesis import strategies as st

import accelsim
from accelsim.pipeline import divisors, fold, load_folding, options, stage_cycles

XNOR = "{kind: xnor, lanes: 64, fallback: {max_a_bits: 8, max_w_bits: 8}}"
# c0: 8-bit pixels x binary weights (a FINN first layer, on the xnor PE's integer fallback);
# f1, f2: binary; f2 keeps 16-bit outputs (a FINN last layer)
TINY = """name: tiny_bnn
batch: 1
quant: {a_bits: 1, w_bits: 1, acc_bits: 16, out_bits: 1, a_encoding: binary, w_encoding: binary}
layers:
  - {name: c0, type: conv, in_channels: 4, out_channels: 8, in_h: 5, in_w: 5, kernel: 3,
     quant: {a_bits: 8, a_encoding: uint}}
  - {name: p0, type: pool, pool: max, channels: 8, in_h: 3, in_w: 3, kernel: 1, input_from: [c0]}
  - {name: f1, type: fc, in_features: 72, out_features: 16, input_from: [p0]}
  - {name: f2, type: fc, in_features: 16, out_features: 10, input_from: [f1], quant: {out_bits: 16}}
"""
FOLDING = """name: tiny_folding
folding:
  c0: {pe: 4, simd: 2}
  f1: {pe: 8, simd: 9}
  f2: {pe: 4, simd: 16, pad: true}
"""

# dw: depthwise 3x3 over 8 channels (FINN's VVAU case); gc: a grouped 1x1 conv, 2 groups of
# 4 -> 4 channels; mm: 2 independent matmuls (groups = count = 2), which keep the MVAU rule
DW = """name: tiny_dw
batch: 1
quant: {a_bits: 1, w_bits: 1, acc_bits: 16, out_bits: 1, a_encoding: binary, w_encoding: binary}
layers:
  - {name: c0, type: conv, in_channels: 3, out_channels: 8, in_h: 8, in_w: 8, kernel: 3,
     quant: {a_bits: 8, a_encoding: uint}}
  - {name: dw, type: conv, in_channels: 8, out_channels: 8, in_h: 6, in_w: 6, kernel: 3,
     padding: 1, groups: 8, input_from: [c0]}
  - {name: gc, type: conv, in_channels: 8, out_channels: 8, in_h: 6, in_w: 6, kernel: 1,
     stride: 2, groups: 2, input_from: [dw]}
  - {name: f1, type: fc, in_features: 72, out_features: 4, input_from: [gc]}
  - {name: mm, type: matmul, m: 2, n: 2, k: 4, count: 2, input_from: [f1], quant: {out_bits: 16}}
"""
DW_FOLDING = """name: tiny_dw_folding
folding:
  c0: {pe: 8, simd: 3}
  dw: {pe: 2, simd: 3}
  gc: {pe: 8, simd: 4}
  f1: {pe: 4, simd: 8}
  mm: {pe: 2, simd: 4}
"""


def _finn_vvau_cycles(channels, k_h, k_w, pe, simd, dim_h, dim_w):
    """finn VectorVectorActivation.get_exp_cycles: Channels·k_h·k_w / PE / SIMD · dim_h ·
    dim_w (PE | Channels, SIMD | k_h·k_w)."""
    assert channels % pe == 0 and (k_h * k_w) % simd == 0
    return channels * k_h * k_w // pe // simd * dim_h * dim_w


def _arch(write, budget=200, pe=XNOR, rows=64, cols=64, extra=""):
    text = (f"name: pipe\narray: {{rows: {rows}, cols: {cols}, dataflow: os, clock_mhz: 100}}\n"
            f"pe: {pe}\nexecution: {{mode: layer_pipelined, budget_lanes: {budget}}}\n{extra}")  # fmt: skip
    return accelsim.load_arch(write("pipe.yaml", text))


def _wl(write, text=TINY):
    return accelsim.load_workload(write("tiny_bnn.yaml", text))


def _folding(write, text=FOLDING):
    return load_folding(write("folding.yaml", text))


def test_stage_cycles_frames_and_latency_of_a_tiny_network(write):
    """By hand, stage = m · ceil(n/pe) · (k/k_run) · ceil(k_run/simd):

    c0: conv 4->8, 5x5 input, 3x3 kernel: m = 3·3 = 9, n = 8, k = 4·9 = 36, k_run = 4;
        pe 4, simd 2: 9 · 2 · 9 · 2 = 324 cycles (8-bit pixels on the integer fallback, 1 cycle
        a step). MACs 9·8·36 = 2,592 = 324 · 8 lanes: utilization 1.
    p0: pool, no vector unit: not costed, not a stage.
    f1: 72 -> 16: pe 8, simd 9: 1 · 2 · 1 · 8 = 16 cycles.
    f2: 16 -> 10 padded to 12: pe 4, simd 16: 1 · 3 · 1 · 1 = 3 cycles; 160 MACs on
        3 · 64 lane-cycles: utilization 160/192 = 0.8333.
    II = 324 cycles at 100 MHz: 1e8 / 324 = 308,641.98 frames/s; latency 324 + 16 + 3 = 343
    cycles = 3.43 us; lanes 8 + 72 + 64 = 144.
    """
    report = accelsim.simulate(_arch(write), _wl(write), folding=_folding(write))
    df = report.layers.set_index("name")
    assert list(df.loc[["c0", "f1", "f2"], "cycles"]) == [324, 16, 3]
    assert list(df.loc[["c0", "f1", "f2"], "pe"]) == [4, 8, 4]
    assert list(df.loc[["c0", "f1", "f2"], "simd"]) == [2, 9, 16]
    assert list(df.loc[["c0", "f1", "f2"], "folding"]) == ["4x2", "8x9", "4x16"]
    assert not df.loc["p0", "costed"] and df.loc["p0", "reason"].startswith("not costed")
    assert df.loc["c0", "utilization"] == pytest.approx(1.0)
    assert df.loc["f2", "utilization"] == pytest.approx(160 / 192)
    t = report.total
    assert t["feasible"] and t["initiation_interval_cycles"] == 324
    assert t["bottleneck_layer"] == "c0"
    assert t["frames_per_s"] == pytest.approx(1e8 / 324)
    assert t["cycles"] == 343 and t["latency_s"] == pytest.approx(3.43e-6)
    assert t["lanes"] == 144 and t["macs"] == 2592 + 72 * 16 + 160
    assert t["tops"] == pytest.approx(2 * t["macs"] * 1e8 / 324 / 1e12)
    assert report.provenance["execution"]["folding"] == "given"
    json.loads(report.to_json())  # pe/simd of the pool row are null, not NaN


def test_non_gemm_layers_are_stages_on_the_vector_unit(write):
    """With a 4-lane vector unit the pool is a stage: 8·3·3 elements / 4 = ceil(18) = 18
    cycles; latency 324 + 18 + 16 + 3 = 361 cycles, II still 324 (c0)."""
    arch = _arch(write, extra="vector_unit: {lanes: 4}\n")
    t = accelsim.simulate(arch, _wl(write), folding=_folding(write)).total
    assert t["cycles"] == 361 and t["initiation_interval_cycles"] == 324


def test_cycles_per_step_of_the_pe_kind_multiply_stage_cycles(write):
    """bit_serial takes w_bits cycles a step: at w_bits 4 and a_bits 8 every stage of the
    tiny folding takes 4x: 1,296 / 64 / 12 cycles."""
    pe = "{kind: bit_serial, max_a_bits: 16, max_w_bits: 16, lut_group: 4, binary_group: 8, lut_share: 1}"
    text = TINY.replace("a_encoding: binary, w_encoding: binary", "a_encoding: int, "
                        "w_encoding: int").replace("a_bits: 1, w_bits: 1", "a_bits: 8, w_bits: 4")  # fmt: skip
    df = accelsim.simulate(_arch(write, pe=pe), _wl(write, text), folding=_folding(write)).layers
    assert list(df.set_index("name").loc[["c0", "f1", "f2"], "cycles"]) == [1296, 64, 12]


def test_a_layer_the_pe_cannot_run_is_an_infeasible_row(write):
    """xnor without a fallback cannot run c0's 8-bit pixels: a row with a reason, no
    frames/s; the other stages are still computed."""
    arch = _arch(write, pe="{kind: xnor, lanes: 64}")
    report = accelsim.simulate(arch, _wl(write), folding=_folding(write))
    df = report.layers.set_index("name")
    assert not df.loc["c0", "feasible"] and "fallback" in df.loc["c0", "reason"]
    assert list(df.loc[["f1", "f2"], "cycles"]) == [16, 3]
    assert not report.total["feasible"] and report.total["frames_per_s"] is None


def test_folding_search_is_optimal_within_the_budget(write):
    """Every combination of legal (dividing) foldings of the tiny network whose lanes fit
    the budget, enumerated: the search reaches the smallest possible II and never spends
    more lanes than the budget."""
    wl = _wl(write)
    layers = [la for la in wl.layers if la.is_gemm]
    opts = [options(la.m, la.n, la.k, la.k_run, la.groups, 1, 64, 64) for la in layers]
    for budget in (3, 7, 20, 50, 144, 300, 1000, 5000):
        best = min(
            max(o[1] for o in combo)
            for combo in itertools.product(*opts)
            if sum(o[0] for o in combo) <= budget
        )
        report = accelsim.simulate(_arch(write, budget), wl)
        assert report.total["initiation_interval_cycles"] == best
        assert report.total["lanes"] <= budget
        assert report.provenance["execution"]["folding"] == "searched"


@pytest.mark.parametrize("net", ["finn_sfc", "finn_lfc", "finn_cnv"])
@pytest.mark.parametrize("budget", [16, 100, 1000, 24704])
def test_folding_search_beats_a_naive_even_split(net, budget):
    """Naive: every GEMM layer gets the largest dividing pe x simd within budget / layers
    (pe as large as possible first). The search's II is never worse and its lanes fit."""
    wl = accelsim.load_workload(ROOT / "workloads" / f"{net}.yaml")
    layers = [la for la in wl.layers if la.is_gemm]
    share = budget // len(layers)
    naive = 0
    for la in layers:
        pe, simd = max(
            ((p, s) for p in divisors(la.n) for s in divisors(la.k_run) if p * s <= share),
            key=lambda ps: (ps[0] * ps[1], ps[0]),
        )
        naive = max(naive, stage_cycles(la.m, la.n, la.k, la.k_run, la.groups, pe, simd, 1))
    arch = accelsim.load_arch(ROOT / "arch_configs" / "finn_zc706.yaml")
    from accelsim.arch import with_changes

    t = accelsim.simulate(with_changes(arch, {"execution.budget_lanes": budget}), wl).total
    assert t["initiation_interval_cycles"] <= naive and t["lanes"] <= budget


@given(
    layers=st.lists(
        st.tuples(st.integers(1, 9), st.integers(1, 24), st.integers(1, 24)),
        min_size=1,
        max_size=3,
    ),
    budget=st.integers(1, 400),
)
def test_fold_matches_brute_force_and_never_loses_from_more_lanes(layers, budget):
    """Random fc stacks (m, n, k): `fold`'s II equals the exhaustive optimum within the
    budget, its lanes fit, and one more lane of budget never makes the II worse."""
    opts = [options(m, n, k, k, 1, 1, 64, 64) for m, n, k in layers]
    budget = max(budget, len(layers))  # one lane per layer always fits
    best = min(
        max(o[1] for o in combo)
        for combo in itertools.product(*opts)
        if sum(o[0] for o in combo) <= budget
    )
    picks = fold(opts, budget)
    assert max(p[1] for p in picks) == best and sum(p[0] for p in picks) <= budget
    assert max(p[1] for p in fold(opts, budget + 1)) <= best


def test_fold_picks_the_cheapest_folding_at_the_best_ii():
    """Two layers with options (lanes, cycles): A {(1, 10), (2, 5), (4, 3)}, B {(1, 8),
    (3, 4)}. Budget 5: II 5 needs 2 + 3 = 5 lanes (II 4 also needs B's 3 and A's 4 = 7):
    picks (2, 5) and (3, 4). Budget 7: II 4 -> A (4, 3), B (3, 4)."""
    a = [(1, 10, 1, 1), (2, 5, 2, 1), (4, 3, 4, 1)]
    b = [(1, 8, 1, 1), (3, 4, 3, 1)]
    assert fold([a, b], 5) == [(2, 5, 2, 1), (3, 4, 3, 1)]
    assert fold([a, b], 7) == [(4, 3, 4, 1), (3, 4, 3, 1)]
    assert fold([a, b], 2) == [(1, 10, 1, 1), (1, 8, 1, 1)]


def test_bnn_pynq_foldings_reproduce_finnthesizer_ext_latency():
    """BNN-PYNQ's config.h headers print each layer's "Ext Latency" (its cycles per frame):
    cnvW1A1 L0-L7 32400, 28224, 20736, 28800, 20736, 18432, 32768, 32768; lfcW1A1 L0-L2
    416, 512, 512 (Xilinx/BNN-PYNQ @ 65f21243). Their output layers differ on purpose:
    BNN-PYNQ pads 10 outputs to 64 (8192 and 512 cycles), pad: true pads to the next multiple
    of pe: 12 -> 3 · 512 = 1536 (cnv), 16 -> 1 · 128 = 128 (lfc)."""
    arch = accelsim.load_arch(ROOT / "arch_configs" / "finn_pynq_z1.yaml")
    expected = {
        "cnv": [32400, 28224, 20736, 28800, 20736, 18432, 32768, 32768, 1536],
        "lfc": [416, 512, 512, 128],
    }
    for net, cycles in expected.items():
        folding = load_folding(ROOT / "workloads" / "foldings" / f"finn_{net}_w1a1_pynq.yaml")
        wl = accelsim.load_workload(ROOT / "workloads" / f"finn_{net}.yaml")
        df = accelsim.simulate(arch, wl, folding=folding).layers
        assert list(df[df["type"] != "pool"]["cycles"]) == cycles


def test_lfc_max_folding_by_hand():
    """FINN's lfc-max folding on finn_zc706 (200 MHz): fc0 784 -> 832 / 64 = 13 x 1024/128 =
    8 -> 104 cycles; fc1, fc2 16 x 8 = 128; fc3 1024/8 = 128 x 1 (10 -> 16) = 128. II 128:
    2e8 / 128 = 1,562,500 frames/s; latency 104 + 3·128 = 488 cycles = 2.44 us; lanes
    3·8192 + 128 = 24,704 = the arch's whole budget."""
    arch = accelsim.load_arch(ROOT / "arch_configs" / "finn_zc706.yaml")
    folding = load_folding(ROOT / "workloads" / "foldings" / "finn_lfc_max.yaml")
    report = accelsim.simulate(
        arch, accelsim.load_workload(ROOT / "workloads" / "finn_lfc.yaml"), folding=folding
    )
    assert list(report.layers["cycles"]) == [104, 128, 128, 128]
    assert report.total["frames_per_s"] == 1_562_500
    assert report.total["latency_s"] == pytest.approx(2.44e-6)
    assert report.total["lanes"] == 24704 == arch.spec.execution.budget_lanes


def test_depthwise_and_grouped_convs_run_as_finn_vvau(write):
    """A conv with groups > 1 gets a vector-vector unit: pe over all groups · n output
    channels, simd over the per-group reduction k; stage = m · ceil(groups·n/pe) ·
    ceil(k/simd). By hand (binary, 1 cycle a step; c0's 8-bit pixels on the fallback):

    c0 (dense, MVAU): m = 6·6 = 36, n = 8, k = 27, k_run = 3; 8 x 3: 36 · 1 · 9 · 1 = 324.
    dw (depthwise, 8 channels, 3x3, 6x6 out): FINN's VVAU 8·3·3 / 2 / 3 · 6·6 = 432; here
        m = 36, groups · n = 8 · 1, k = 9: 36 · ceil(8/2) · ceil(9/3) = 36 · 4 · 3 = 432.
        MACs 36·9·8 = 2,592 = 432 · 6 lanes: utilization 1.
    gc (2 groups of 4 -> 4, 1x1, stride 2: 3x3 out): m = 9, groups · n = 8, k = 4:
        pe 8, simd 4: 9 · 1 · 1 = 9 (pe 8 > n = 4: illegal folded group by group).
    f1: 72 -> 4, 4 x 8: 1 · 1 · 9 = 9. mm (count 2, MVAU): 2 · 2 · 1 · 1 · 1 = 4.
    II 432 (dw): 1e8 / 432 frames/s; latency 324 + 432 + 9 + 9 + 4 = 778 cycles;
    lanes 24 + 6 + 32 + 32 + 8 = 102.
    """
    report = accelsim.simulate(_arch(write), _wl(write, DW), folding=_folding(write, DW_FOLDING))
    df = report.layers.set_index("name")
    assert list(df["cycles"]) == [324, 432, 9, 9, 4]
    assert list(df["folding"]) == ["8x3", "2x3", "8x4", "4x8", "2x4"]
    assert df.loc["dw", "utilization"] == pytest.approx(1.0)
    assert df.loc["gc", "utilization"] == pytest.approx(1.0)
    t = report.total
    assert t["initiation_interval_cycles"] == 432 and t["bottleneck_layer"] == "dw"
    assert t["frames_per_s"] == pytest.approx(1e8 / 432)
    assert t["cycles"] == 778 and t["lanes"] == 102
    for pe in divisors(8):  # the depthwise stage equals FINN's formula at every folding
        for simd in divisors(9):
            got = stage_cycles(36, 1, 9, 1, 8, pe, simd, 1, vvau=True)
            assert got == _finn_vvau_cycles(8, 3, 3, pe, simd, 6, 6)


def test_folding_search_with_a_depthwise_layer_is_optimal(write):
    """The tiny depthwise network (without mm): every combination of legal foldings
    enumerated, the depthwise layer's from FINN's VVAU rule directly (pe | 8 channels,
    simd | 3·3 taps), the others from `options` (MVAU; gc's VVAU extents 8 channels x 4):
    the search reaches the smallest II within each budget, and gives the depthwise layer
    more than one lane once the budget allows."""
    wl = _wl(write, DW.split("  - {name: mm")[0])
    opts = []
    for la in wl.layers:
        if la.name == "dw":
            opts.append([(p * s, _finn_vvau_cycles(8, 3, 3, p, s, 6, 6), p, s)
                         for p in divisors(8) for s in divisors(9)])  # fmt: skip
        elif la.name == "gc":
            opts.append([(p * s, 9 * (8 // p) * (4 // s), p, s)
                         for p in divisors(8) for s in divisors(4)])  # fmt: skip
        else:
            opts.append(options(la.m, la.n, la.k, la.k_run, la.groups, 1, 64, 64))
    combos = {}  # lanes -> the smallest II with exactly that many lanes
    for combo in itertools.product(*opts):
        lanes, ii = sum(o[0] for o in combo), max(o[1] for o in combo)
        combos[lanes] = min(ii, combos.get(lanes, ii))
    for budget in (4, 10, 30, 100, 300, 1000):
        best = min(ii for lanes, ii in combos.items() if lanes <= budget)
        report = accelsim.simulate(_arch(write, budget), wl)
        assert report.total["initiation_interval_cycles"] == best, budget
        assert report.total["lanes"] <= budget
        if budget >= 30:
            assert report.layers.set_index("name").loc["dw", "lanes"] > 1


def _validate():
    spec = importlib.util.spec_from_file_location(
        "validate_published", ROOT / "analysis" / "validate_published.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_finn_validation_rows_within_stated_tolerance():
    """Tolerances: SFC-max within 5% (frames/s +1.6%, latency +3.2%: the search under
    LFC-max's lanes gives II 16 cycles, 2e8 / 16 = 12.5 M frames/s, 4 · 16 = 64 cycles =
    0.32 us); CNV-max within 15% (the first layer, 3 input channels so SIMD <= 3, pe 64:
    900 · 9 = 8,100 cycles -> 24,691 frames/s, +12.7%; latency sums whole stages, 253 us,
    -10.5%). LFC-max has no readable published figure: its rows equal the hand derivation
    of test_lfc_max_folding_by_hand."""
    rows = {(r["design"], r["quantity"]): r for r in _validate().finn_rows()}
    tolerance = {"finn_sfc_max": 0.05, "finn_cnv_max": 0.15}
    for (design, quantity), r in rows.items():
        assert r["kind"] == "predicted" and r["source"]
        if design in tolerance:
            assert abs(r["rel_error"]) <= tolerance[design], (design, quantity, r)
    assert rows[("finn_sfc_max", "frames/s")]["simulated"] == 12_500_000
    assert rows[("finn_sfc_max", "latency (us)")]["simulated"] == pytest.approx(0.32)
    assert rows[("finn_cnv_max", "frames/s")]["simulated"] == pytest.approx(2e8 / 8100)
    assert rows[("finn_lfc_max", "frames/s")]["simulated"] == 1_562_500
    assert rows[("finn_lfc_max", "latency (us)")]["published"] is None


# ------------------------------------------------------------------------------ bad input


def test_folding_for_a_nonexistent_layer_names_file_line_and_the_close_match(write):
    text = FOLDING.replace("  f1: {pe: 8, simd: 9}", "  fc1: {pe: 8, simd: 9}")
    with pytest.raises(accelsim.ConfigError) as err:
        accelsim.simulate(_arch(write), _wl(write), folding=_folding(write, text))
    msg = str(err.value)
    assert "folding.yaml:4: folding.fc1: no layer of workload 'tiny_bnn' has this name " in msg
    assert "(did you mean 'f1'?); found 'fc1'; allowed: c0, f1, f2" in msg
    assert "folding.yaml:2: folding: every GEMM layer needs a pe/simd unit; missing: f1" in msg


def test_pe_or_simd_not_dividing_is_an_error_unless_padded(write):
    text = FOLDING.replace("c0: {pe: 4, simd: 2}", "c0: {pe: 3, simd: 3}")
    with pytest.raises(accelsim.ConfigError) as err:
        accelsim.simulate(_arch(write), _wl(write), folding=_folding(write, text))
    msg = str(err.value)
    assert ("folding.yaml:3: folding.c0.pe: does not divide the layer's 8 outputs (n); set "
            "pad: true to pad the matrix as FINN's LFC-max does; found 3; allowed: 1, 2, 4, 8") in msg  # fmt: skip
    assert "folding.c0.simd: does not divide the layer's 4 reduction run" in msg
    padded = text.replace("{pe: 3, simd: 3}", "{pe: 3, simd: 3, pad: true}")
    df = accelsim.simulate(_arch(write), _wl(write), folding=_folding(write, padded)).layers
    # 9 · ceil(8/3) · 9 · ceil(4/3) = 9 · 3 · 9 · 2 = 486
    assert df.set_index("name").loc["c0", "cycles"] == 486


def test_depthwise_pe_must_divide_the_channels(write):
    """On a depthwise or grouped conv pe must divide groups · n (the channels) and simd the
    per-group reduction k (kh · kw for depthwise), as FINN's VVAU; a matmul's count keeps
    the MVAU rule (pe | n)."""
    text = DW_FOLDING.replace("dw: {pe: 2, simd: 3}", "dw: {pe: 3, simd: 2}").replace(
        "mm: {pe: 2, simd: 4}", "mm: {pe: 4, simd: 4}"
    )
    with pytest.raises(accelsim.ConfigError) as err:
        accelsim.simulate(_arch(write), _wl(write, DW), folding=_folding(write, text))
    msg = str(err.value)
    assert ("folding.yaml:4: folding.dw.pe: does not divide the layer's 8 output channels "
            "(groups x n = 8 x 1: a grouped or depthwise conv's vector-vector unit, as FINN's "
            "VVAU); set pad: true to pad the matrix as FINN's LFC-max does; found 3; allowed: "
            "1, 2, 4, 8") in msg  # fmt: skip
    assert ("folding.yaml:4: folding.dw.simd: does not divide the layer's 9 per-group "
            "reduction (k = in_channels / groups x kh x kw; kh x kw for a depthwise conv)") in msg  # fmt: skip
    assert "found 2; allowed: 1, 3, 9" in msg
    assert "folding.mm.pe: does not divide the layer's 2 outputs (n)" in msg
    assert "folding.gc" not in msg  # pe 8 > n = 4, but it divides groups · n = 8
    padded = text.replace("{pe: 3, simd: 2}", "{pe: 3, simd: 2, pad: true}").replace(
        "mm: {pe: 4, simd: 4}", "mm: {pe: 2, simd: 4}"
    )
    df = accelsim.simulate(_arch(write), _wl(write, DW), folding=_folding(write, padded)).layers
    # 36 · ceil(8/3) · ceil(9/2) = 36 · 3 · 5 = 540
    assert df.set_index("name").loc["dw", "cycles"] == 540


def test_zero_budget_is_a_config_error(write):
    with pytest.raises(accelsim.ConfigError, match=r"pipe.yaml:4: execution.budget_lanes: out "
                       r"of range; found 0 \(int\); allowed: >= 1"):  # fmt: skip
        _arch(write, budget=0)


def test_budget_below_one_lane_per_layer_is_a_config_error(write):
    with pytest.raises(accelsim.ConfigError, match=r"pipe.yaml:4: execution.budget_lanes: too "
                       r"small: each of the 3 GEMM layers needs at least one lane; found 2; "
                       r"allowed: >= 3"):  # fmt: skip
        accelsim.simulate(_arch(write, budget=2), _wl(write))


def test_folding_over_budget_too_large_pool_and_non_pipelined_arch(write):
    with pytest.raises(accelsim.ConfigError, match=r"folding: needs 144 lanes \(sum of pe x "
                       r"simd\), more than arch 'pipe' has .*found 144; allowed: <= 100"):  # fmt: skip
        accelsim.simulate(_arch(write, budget=100), _wl(write), folding=_folding(write))
    with pytest.raises(accelsim.ConfigError, match=r"folding.f2.simd: exceeds the largest "
                       r"unit of arch 'pipe' \(array.cols\); found 16; allowed: <= 8"):  # fmt: skip
        accelsim.simulate(_arch(write, cols=8), _wl(write), folding=_folding(write))
    pool = FOLDING + "  p0: {pe: 1, simd: 1}\n"
    with pytest.raises(accelsim.ConfigError, match=r"folding.p0: is a pool layer: only GEMM"):
        accelsim.simulate(_arch(write), _wl(write), folding=_folding(write, pool))
    plain = accelsim.load_arch(ROOT / "arch_configs" / "edge_32x32.yaml")
    with pytest.raises(accelsim.ConfigError, match=r"a folding needs a layer-pipelined arch"):
        accelsim.simulate(plain, _wl(write), folding=_folding(write))


def test_bad_execution_and_folding_files(write):
    text = ("name: p\narray: {rows: 4, cols: 4, dataflow: os, clock_mhz: 100}\n"
            f"pe: {XNOR}\nexecution: {{mode: pipelined, budget: 4}}\n")  # fmt: skip
    with pytest.raises(accelsim.ConfigError) as err:
        accelsim.load_arch(write("p.yaml", text))
    msg = str(err.value)
    assert (
        "p.yaml:4: execution.mode: not an allowed value (did you mean 'layer_pipelined'?); "
        "found 'pipelined' (str); allowed: layer_pipelined"
    ) in msg
    assert "execution.budget: unknown key (did you mean 'budget_lanes'?)" in msg
    assert "execution.budget_lanes: required key is missing" in msg
    bad = "name: f\nfolding:\n  c0: {pe: 0, simd: 2, padd: true}\n"
    with pytest.raises(accelsim.ConfigError) as err:
        load_folding(write("f.yaml", bad))
    msg = str(err.value)
    assert "f.yaml:3: folding.c0.pe: out of range; found 0 (int); allowed: >= 1" in msg
    assert "folding.c0.padd: unknown key (did you mean 'pad'?)" in msg


def test_cli_run_with_folding_and_check(write):
    arch = str(ROOT / "arch_configs" / "finn_zc706.yaml")
    wl = str(ROOT / "workloads" / "finn_lfc.yaml")
    folding = str(ROOT / "workloads" / "foldings" / "finn_lfc_max.yaml")
    run = subprocess.run([sys.executable, "-m", "accelsim", "run", arch, wl, "--folding",
                          folding, "--format", "json"], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["total"]["frames_per_s"] == 1_562_500
    assert [r["pe"] for r in data["layers"]] == [128, 128, 128, 16]
    bad = write("bad.yaml", FOLDING.replace("f1:", "fx:"))
    run = subprocess.run([sys.executable, "-m", "accelsim", "run", arch, wl, "--folding",
                          str(bad)], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2 and "folding.fx: no layer of workload 'finn_lfc'" in run.stderr
    check = subprocess.run([sys.executable, "-m", "accelsim", "check", folding],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0 and "(folding: finn_lfc_max)" in check.stdout


def test_simulate_many_on_a_pipelined_arch_equals_simulate(write):
    from accelsim.model import simulate_many

    arch, wl = _arch(write), _wl(write)
    [many] = simulate_many(arch, [wl])
    assert many.total == accelsim.simulate(arch, wl).total
