"""Precision-flexible PE kinds: bit_fusion, bit_serial, xnor (accelsim/pe/)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import accelsim
from accelsim.pe.bit_fusion import BitFusion
from accelsim.quant import QuantSpec

TECH = "technology: {node_nm: 45, voltage_v: 0.9}\n"


def _arch(write, pe: str, rows=16, cols=32, mhz=500, df="os", extra=""):
    text = (f"name: a\narray: {{rows: {rows}, cols: {cols}, dataflow: {df}, clock_mhz: {mhz}}}\n"
            f"pe: {pe}\n{extra}")  # fmt: skip
    return accelsim.load_arch(write("a.yaml", text))


def _wl(write, a=8, w=8, ae="int", we="int", layer=None):
    quant = f"{{a_bits: {a}, w_bits: {w}, acc_bits: 32, out_bits: 8, a_encoding: {ae}, w_encoding: {we}}}"
    layer = layer or "{name: g, type: fc, in_features: 4096, out_features: 512, tokens: 64}"
    return accelsim.load_workload(
        write("w.yaml", f"name: w\nbatch: 1\nquant: {quant}\nlayers:\n  - {layer}\n")
    )


def q(a, w, ae="int", we="int"):
    return QuantSpec(a_bits=a, w_bits=w, acc_bits=32, out_bits=8, a_encoding=ae, w_encoding=we)


@pytest.mark.parametrize(
    ("a", "w", "macs"),
    [(8, 8, 1), (8, 4, 2), (4, 4, 4), (4, 2, 8), (2, 2, 16), (8, 2, 4), (1, 1, 16)],
)
def test_bit_fusion_macs_per_unit_follow_the_released_rule(a, w, macs):
    """hsharma35/bitfusion get_perf_factor: int(8/max(a,2)) * int(8/max(w,2))."""
    assert (
        BitFusion(kind="bit_fusion").k_per_cycle(q(a, w))
        == macs
        == (8 // max(a, 2)) * (8 // max(w, 2))
    )


def test_bit_fusion_peak_tops_of_the_16x32_500mhz_design(write):
    """512 fusion units x 500 MHz x 2 ops: 0.512 TOPS at 8/8, 16x that (8.192) at 2/2."""
    arch = _arch(write, "{kind: bit_fusion}")
    assert accelsim.simulate(arch, _wl(write)).total["peak_tops"] == pytest.approx(0.512)
    assert accelsim.simulate(arch, _wl(write, 2, 2)).total["peak_tops"] == pytest.approx(8.192)


def test_bit_fusion_wide_operands_take_2_or_4_cycles_and_channels_underfill(write):
    pe = BitFusion(kind="bit_fusion")
    assert [pe.cycles_per_step(q(a, w)) for a, w in ((16, 8), (8, 16), (16, 16))] == [2, 2, 4]
    arch = _arch(write, "{kind: bit_fusion}", df="ws")
    # 3 input channels at 2/2 bits: 16 MACs per unit along channels, but only 3 exist per tap,
    # so k = 3*3*3 = 27 takes 9 steps, not ceil(27/16) = 2
    conv = "{name: c, type: conv, in_channels: 3, out_channels: 32, in_h: 8, in_w: 8, kernel: 3}"
    row = accelsim.simulate(arch, _wl(write, 2, 2, layer=conv)).layer_records()[0]
    assert row["pe_macs_per_cycle"] == pytest.approx(27 / 9)


UNPU_PE = "{kind: bit_serial, max_a_bits: 16, max_w_bits: 16, lut_group: 3, binary_group: 4, lut_share: 8}"


def test_bit_serial_peak_matches_unpu_published_ratio(write):
    """UNPU (JSSC 2019 abstract): 345.6 GOPS at 16-bit, 7,372 GOPS at 1-bit weights, 200 MHz.
    4,608 LUT PEs x 3 activations / 16 cycles x 2 ops x 200 MHz = 345.6 GOPS; the 1-bit mode
    covers 4 activations per cycle: 4,608 x 4 x 2 x 200 MHz = 7,372.8 GOPS."""
    arch = _arch(write, UNPU_PE, rows=64, cols=72, mhz=200)
    p16 = accelsim.simulate(arch, _wl(write, 16, 16)).total["peak_tops"]
    p1 = accelsim.simulate(arch, _wl(write, 16, 1, we="binary")).total["peak_tops"]
    assert p16 * 1e3 == pytest.approx(345.6)
    assert p1 * 1e3 == pytest.approx(7372.8)


@given(st.integers(1, 15))
def test_bit_serial_fewer_weight_bits_never_slower_or_costlier(w):
    """Property: on bit_serial, w-1 bits is never slower and never costs more energy than w."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:

        def write(name, text):
            path = Path(d) / name
            path.write_text(text)
            return path

        arch = _arch(write, UNPU_PE, rows=8, cols=8, mhz=200, extra=TECH)
        lo = accelsim.simulate(arch, _wl(write, 16, w)).total
        hi = accelsim.simulate(arch, _wl(write, 16, w + 1)).total
    assert lo["cycles"] <= hi["cycles"]
    assert lo["energy_pj"] <= hi["energy_pj"]


XNOR_PE = "{kind: xnor, lanes: 64}"


def test_xnor_runs_binary_layers_and_rejects_others_with_a_reason(write):
    arch = _arch(write, XNOR_PE, extra=TECH)
    ok = accelsim.simulate(arch, _wl(write, 1, 1, "binary", "binary")).layer_records()[0]
    assert ok["feasible"] and ok["pe_macs_per_cycle"] == 64
    bad = accelsim.simulate(arch, _wl(write, 8, 1, "int", "binary")).layer_records()[0]
    assert not bad["feasible"]
    assert "xnor PEs run only binary layers" in bad["reason"] and "pe.fallback" in bad["reason"]


def test_xnor_fallback_runs_first_and_last_layers(write):
    arch = _arch(
        write, "{kind: xnor, lanes: 64, fallback: {max_a_bits: 8, max_w_bits: 8}}", extra=TECH
    )
    row = accelsim.simulate(arch, _wl(write, 8, 8)).layer_records()[0]
    assert row["feasible"] and row["pe_macs_per_cycle"] == 1
    assert "energy_pe_mac_pj" in row and row["energy_pe_mac_pj"] > 0
    too_wide = accelsim.simulate(arch, _wl(write, 16, 8)).layer_records()[0]
    assert "exceeds the fallback path's 8x8 bits" in too_wide["reason"]


def test_binary_encoding_with_more_bits_is_a_config_error(write):
    with pytest.raises(
        accelsim.ConfigError, match=r"w_encoding 'binary' .* needs w_bits: 1, found w_bits: 2"
    ):
        _wl(write, 1, 2, "binary", "binary")


def test_unknown_pe_field_is_a_config_error(write):
    with pytest.raises(
        accelsim.ConfigError, match=r"pe\.lane: unknown key \(did you mean 'lanes'\?\)"
    ):
        _arch(write, "{kind: xnor, lane: 64}")


BIG_MEMORIES = (
    "memories:\n"
    "  inputs: {size_bytes: 1048576, bytes_per_cycle: 64}\n"
    "  weights: {size_bytes: 1048576, bytes_per_cycle: 64}\n"
    "  outputs: {size_bytes: 1048576, bytes_per_cycle: 64}\n"
    "dram: {bytes_per_cycle: 64, kind: ddr3}\n"
)


@pytest.mark.parametrize("df", ["ws", "is"])
@pytest.mark.parametrize(
    ("bits", "layer", "writes"),
    [
        # fc m=4, n=4, k=64 at 8/8: one MAC per step, ceil(64/4) = 16 row folds, each writes
        # a 32-bit partial sum per output: 4 x 4 x 16 x 4 B
        (8, "{name: g, type: fc, in_features: 64, out_features: 4, tokens: 4}", 1024),
        # at 2/2 a fusion unit does 16 MACs per step: 64 / 16 = 4 steps fill one fold of 4
        # rows, one write per output: 4 x 4 x 1 x 4 B (not 16 folds' worth)
        (2, "{name: g, type: fc, in_features: 64, out_features: 4, tokens: 4}", 64),
        # conv 3 -> 32 channels, 3x3 on 8x8 (m = 36, k = 27) at 2/2: 3 channels per tap pack
        # into 9 steps (pack 3), ceil(9 / 4) = 3 folds: 36 x 32 x 3 x 4 B (unpacked:
        # ceil(27 / 4) = 7 folds, 32,256 B)
        (
            2,
            "{name: c, type: conv, in_channels: 3, out_channels: 32, in_h: 8, in_w: 8, kernel: 3}",
            13824,
        ),
    ],
)
def test_partial_sums_count_packed_row_folds(write, df, bits, layer, writes):
    """``ws``/``is`` write one partial sum per output per row fold, and a row fold holds R
    array *steps* of the reduction (model docstring): a PE that packs several MACs per step
    along k writes fewer partial sums. 4x4 bit_fusion array, buffers that hold the whole
    layer (one tile), so the output buffer sees only the array's writes; its reads are the
    writes less one per output (the first write of each output is not a read-modify-write)
    plus the 8-bit outputs drained to DRAM. The `energy` objective keeps k whole (splitting
    it only adds traffic)."""
    arch = _arch(write, "{kind: bit_fusion}", rows=4, cols=4, df=df, extra=BIG_MEMORIES + TECH)
    wl = _wl(write, bits, bits, layer=layer)
    row = accelsim.simulate(arch, wl, objective="energy").layer_records()[0]
    # tiles of m or n leave the writes per output alone; at 8/8 so do tiles of k in
    # multiples of R = 4 (the mapper's tiles are multiples of the array side)
    assert row["tile_k"] == row["k"] or bits == 8
    assert row["outputs_sram_write_bytes"] == writes
    outputs = row["m"] * row["n"]
    assert row["outputs_sram_read_bytes"] == writes - outputs * 4 + outputs * 1  # + drain


def _unit_cycles(report, arch) -> float:
    """Fusion-unit cycles counted: the action's energy over one unit cycle's price."""
    from accelsim.energy import tech_of
    from accelsim.pe.bit_fusion import fusion_unit

    pj = report.columns["energy_pe_fusion_unit_cycle_pj"][0]
    return pj / (fusion_unit(tech_of(arch))["pj"] * arch.spec.technology.mac_pj_scale)


def test_under_filled_steps_cost_whole_steps(write):
    """A fusion unit's cycle is one action whatever how many of its 16 packed 2-bit MACs
    are real. Conv 3 -> 8 channels, 3x3, pad 1 on 8x8 at 2/2: m = 64, n = 8, k = 27 in runs
    of 3 channels (k_run = 3), so each output takes 9 taps x ceil(3 / 16) = 9 steps, not
    27 / 16: 64 x 8 x 9 = 4,608 unit cycles (counted per MAC at full packing: 64 x 8 x 27 /
    16 = 864). A fc of 64 inputs fills every step: 8 x 8 x 64 / 16 = 256 either way."""
    arch = _arch(write, "{kind: bit_fusion}", rows=4, cols=4, extra=TECH)
    conv = ("{name: c, type: conv, in_channels: 3, out_channels: 8, in_h: 8, in_w: 8, "
            "kernel: 3, padding: 1}")  # fmt: skip
    fc = "{name: f, type: fc, in_features: 64, out_features: 8, tokens: 8}"
    for layer, units in ((conv, 4608), (fc, 256)):
        report = accelsim.simulate(arch, _wl(write, 2, 2, layer=layer))
        assert _unit_cycles(report, arch) == pytest.approx(units)


def test_partial_sums_hop_once_per_step(write):
    """Operands hop between PEs once per MAC, partial sums once per array step. fc 64 -> 8,
    8 tokens at 2/2 on bit_fusion (16 MACs per step): os moves inputs and weights, 4,096
    MACs x (2 + 2) bits = 2,048 B; ws moves inputs, 4,096 x 2 bits = 1,024 B, and partial
    sums, 4,096 / 16 steps x 32 bits = 1,024 B: 2,048 B too (per MAC it would be 17,408 B).
    Priced at register_pj_per_byte, the two dataflows' move energies are equal."""
    tech = "technology: {node_nm: 45, voltage_v: 0.9, register_pj_per_byte: 1.0}\n"
    fc = "{name: f, type: fc, in_features: 64, out_features: 8, tokens: 8}"
    moves = {}
    for df in ("os", "ws", "is"):
        arch = _arch(write, "{kind: bit_fusion}", rows=4, cols=4, df=df, extra=tech)
        report = accelsim.simulate(arch, _wl(write, 2, 2, layer=fc))
        moves[df] = report.columns["energy_pe_operand_move_pj"][0]
    assert moves["os"] > 0 and moves["ws"] == pytest.approx(moves["os"])
    assert moves["is"] == pytest.approx(moves["os"])  # weights and partial sums alike


def test_skipping_bit_planes_peaks_at_a_step_per_cycle(write):
    """With skip_zero_bitplanes a LUT step takes as many cycles as its group has non-zero
    weight bit-planes, at least one: the design's peak is lut_group MACs per PE-cycle (3),
    not 3 / w_bits, so a trace whose weights leave one plane reports tops <= peak_tops."""
    wl = _wl(write, 8, 8, layer="{name: f, type: fc, in_features: 48, out_features: 8, tokens: 4}")
    off = _arch(write, UNPU_PE, rows=4, cols=4)
    on = _arch(write, UNPU_PE[:-1] + ", skip_zero_bitplanes: true}", rows=4, cols=4)
    assert accelsim.simulate(off, wl).layer_records()[0]["pe_peak_macs_per_cycle"] == 3 / 8
    skip = accelsim.simulate(on, wl)
    assert skip.layer_records()[0]["pe_peak_macs_per_cycle"] == 3
    assert skip.total["peak_tops"] == pytest.approx(2 * 3 * 16 * 500e6 / 1e12)
