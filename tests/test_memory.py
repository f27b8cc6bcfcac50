"""Tiling, DRAM traffic and stalls (accelsim/memory.py): hand derivations and invariants."""

import itertools

import numpy as np
from conftest import QUANT, ROOT
from hypothesis import given
from hypothesis import strategies as st

import accelsim
from accelsim.dataflow import systolic_cycles
from accelsim.memory import ORDERS, candidates, choose_tiling, refetch, traffic

ARCH = """\
name: a
array: {{rows: 4, cols: 4, dataflow: ws, clock_mhz: 100}}
pe: {{kind: int_mac, max_a_bits: 8, max_w_bits: 8}}
memories:
  inputs: {{size_bytes: {si}, bytes_per_cycle: 64}}
  weights: {{size_bytes: {sw}, bytes_per_cycle: 64}}
  outputs: {{size_bytes: {so}, bytes_per_cycle: 64}}
dram: {{bytes_per_cycle: {bw}}}
"""


def _run(write, m, n, k, si=1 << 20, sw=1 << 20, so=1 << 20, bw=8.0, quant=QUANT):
    arch = accelsim.load_arch(write("a.yaml", ARCH.format(si=si, sw=sw, so=so, bw=bw)))
    layer = f"  - {{name: g, type: matmul, m: {m}, n: {n}, k: {k}}}\n"
    wl = accelsim.load_workload(
        write("w.yaml", f"name: w\nbatch: 1\nquant: {quant}\nlayers:\n{layer}")
    )
    return accelsim.simulate(arch, wl).layer_records()[0]


def test_tiling_hand_derived(write):
    """m=8, n=8, k=16, 8-bit operands and outputs, 32-bit accumulators, 1 MiB buffers, DRAM
    8 bytes/cycle, 4x4 ws array (tile candidates: m, n in {8, 4}; k in {16, 8, 4}).
    Least traffic is 256 bytes read (inputs 8*16 + weights 16*8, once) + 64 written; it is
    reached by one tile (8, 8, 16), or by splitting only k, kept innermost so the outputs stay.
    Compute is 144 cycles either way: one (8, 8, 16) tile costs Fr=4, Fc=2:
    8*(8+2) + 2*16 + 4*8 = 144; four (8, 8, 4) tiles cost 4 * (2*(8+2) + 2*4 + 1*8) = 144.
    Exposed DRAM time: (8, 8, 16) loads (128 + 128)/8 = 32 and drains 64/8 = 8 cycles: 184.
    (8, 8, 4) loads (32 + 32)/8 = 8 and drains 8: the rest (320/8 - 16 = 24) hides under
    compute: 8 + 144 + 8 = 160, the best, in the first loop order (m, n, k)."""
    row = _run(write, 8, 8, 16)
    assert (row["tile_m"], row["tile_n"], row["tile_k"], row["loop_order"]) == (8, 8, 4, "mnk")
    assert (row["dram_read_bytes"], row["dram_write_bytes"]) == (256, 64)
    assert (row["dram_inputs_read_bytes"], row["dram_weights_read_bytes"]) == (128, 128)
    assert row["dram_psum_spill_bytes"] == 0
    assert row["compute_cycles"] == 144 == int(systolic_cycles(8, 8, 16, 4, 4, "ws"))
    assert (row["stall_dram_read_cycles"], row["stall_dram_write_cycles"]) == (8, 8)
    assert row["cycles"] == 160


def test_sub_byte_operands_are_packed(write):
    """4-bit weights take half the bytes of 8-bit ones: 16*8*4/8 = 64 bytes of weights,
    so the DRAM read falls from 256 to 128 + 64 = 192."""
    row = _run(write, 8, 8, 16, quant=QUANT.replace("w_bits: 8", "w_bits: 4"))
    assert row["dram_read_bytes"] == 192


def test_weight_buffer_too_small_for_one_weight_tile_refetches_nothing_twice(write):
    """Weights 64x64 int8 = 4 KiB but the weight buffer is 1 KiB: with double buffering a
    weight tile holds at most 512 bytes. Every byte of weights still crosses DRAM at least
    once and the outputs are written exactly once (8-bit: 16*64 = 1024 bytes)."""
    row = _run(write, 16, 64, 64, sw=1024)
    assert row["feasible"]
    assert row["tile_k"] * row["tile_n"] * 2 <= 1024
    assert row["dram_read_bytes"] >= 64 * 64 + 16 * 64
    assert row["dram_write_bytes"] >= 16 * 64


def test_buffer_too_small_for_any_tile_is_infeasible(write):
    """An output buffer of 4 bytes cannot hold one 32-bit accumulator plus one 8-bit output
    (5 bytes): the layer is an infeasible row with a reason, not an exception."""
    row = _run(write, 8, 8, 8, so=4)
    assert row["feasible"] is False and row["cycles"] is None
    assert row["reason"].startswith("no tile of this layer fits outputs buffer (4 bytes)")


def test_refetch_rule_by_hand():
    """Loop order n, m, k (outer to inner) with 2 trips each: inputs (m, k) are refetched
    for every n iteration (n is outside m): factor 2; weights (k, n) are refetched for each
    m iteration since m sits outside k: 2; outputs (m, n) stay while k runs innermost: 1."""
    trips = {d: np.array(2) for d in "mnk"}
    order = ("n", "m", "k")
    assert [int(refetch(order, trips, t)) for t in ("inputs", "weights", "outputs")] == [2, 2, 1]
    # k outermost: outputs leave and come back once per k trip beyond the first
    read, write, parts = traffic(4, 4, 4, 2, 2, 2, (8, 8, 32, 8), ("k", "m", "n"))
    assert parts["spill"] == (2 - 1) * 4 * 4 * 32 / 8
    assert write == 4 * 4 + parts["spill"]


sizes = st.integers(1, 300)


@given(m=sizes, n=sizes, k=sizes, wb=st.sampled_from([1, 2, 4, 8]),
       s_in=st.sampled_from([64, 512, 4096, 1 << 20]), s_w=st.sampled_from([64, 512, 4096, 1 << 20]),
       order=st.sampled_from(ORDERS))  # fmt: skip
def test_traffic_invariants(m, n, k, wb, s_in, s_w, order):
    """Every weight and input byte is read at least once, outputs written at least once."""
    for tm, tn, tk in ((m, n, k), (max(1, m // 3), max(1, n // 2), max(1, k // 5))):
        read, write, parts = traffic(m, n, k, tm, tn, tk, (8, wb, 32, 8), order)
        assert parts["weights_read"] >= k * n * wb / 8
        assert parts["inputs_read"] >= m * k
        assert write >= m * n


def test_more_bandwidth_never_slower_and_stalls_nonnegative(write):
    previous = None
    for bw in (0.5, 1, 2, 4, 8, 16, 64, 1024):
        row = _run(write, 50, 30, 70, si=2048, sw=2048, so=2048, bw=bw)
        assert row["stall_cycles"] >= 0
        assert row["stall_cycles"] == (
            row["stall_dram_read_cycles"]
            + row["stall_dram_write_cycles"]
            + row["stall_sram_cycles"]
        )
        assert previous is None or row["cycles"] <= previous
        previous = row["cycles"]


def test_layers_alike_in_shape_but_not_in_packing_are_tiled_apart(write):
    """Two layers with equal GEMM shape (m=64, n=16, k=36), input share (1: stride 3 leaves
    no overlap) and bits, but a different packing on a bit_fusion PE at 2/2 bits (16 MACs
    per fusion unit per step): a 3x3 stride-3 conv over 4 channels of a 24x24 input (k_run =
    4: 9 runs of ceil(4/16) = 1 step, 9 steps) and a 1x1 conv over 36 channels of an 8x8
    input (k_run = 36: ceil(36/16) = 3 steps). Their best tilings differ (the search breaks
    traffic ties by estimated time, which depends on the packing). The tiling search may share work between identical layers only: in one
    workload each must cost exactly what it costs alone."""
    arch = accelsim.load_arch(ROOT / "arch_configs" / "bitfusion.yaml")
    quant = "{a_bits: 2, w_bits: 2, acc_bits: 32, out_bits: 8, a_encoding: int, w_encoding: int}"
    layers = {
        "c3": "{name: c3, type: conv, in_channels: 4, out_channels: 16, in_h: 24, in_w: 24, "
        "kernel: 3, stride: 3}",
        "c1": "{name: c1, type: conv, in_channels: 36, out_channels: 16, in_h: 8, in_w: 8, "
        "kernel: 1}",
    }

    def run(names):
        text = f"name: w\nbatch: 1\nquant: {quant}\nlayers:\n"
        text += "".join(f"  - {layers[n]}\n" for n in names)
        wl = accelsim.load_workload(write("w.yaml", text))
        return {r["name"]: r for r in accelsim.simulate(arch, wl).layer_records()}

    both = run(["c3", "c1"])
    for name in layers:
        alone = run([name])[name]
        assert both[name]["cycles"] == alone["cycles"], name
    assert both["c3"]["cycles"] > both["c1"]["cycles"]  # 9 steps against 3


def _brute_force_tiling(m, n, k, share, bits, sizes, g, bw, cycles):
    """The module docstring's mapper, one tiling at a time: every (order, Tm, Tn, Tk) whose
    tiles fit; least DRAM bytes; ties to the least ``edges + max(tiles x tile cycles, DRAM
    bytes / bw - edges)``; then to the first in (order, Tm, Tn, Tk) nesting."""
    a, w, acc, out = bits
    best = None
    cand = [candidates(np.array([e]), g)[0] for e in (m, n, k)]
    for o, order in enumerate(ORDERS):
        for tm, tn, tk in itertools.product(*cand):
            if not (2 * tm * tk * share * a / 8 <= sizes[0]
                    and 2 * tk * tn * w / 8 <= sizes[1]
                    and tm * tn * (acc + out) / 8 <= sizes[2]):  # fmt: skip
                continue
            read, write, _ = traffic(m, n, k, tm, tn, tk, bits, order, share)
            tiles = -(-m // tm) * -(-n // tn) * -(-k // tk)
            edges = (tm * tk * share * a + tk * tn * w + tm * tn * out) / 8 / bw
            time = edges + max(tiles * cycles(tm, tn, tk), (read + write) / bw - edges)
            key = (read + write, time)
            if best is None or key < best[0]:
                best = (key, (int(tm), int(tn), int(tk), o))
    return None if best is None else best[1]


@given(m=st.integers(1, 3000), n=st.integers(1, 600), k=st.integers(1, 2000),
       share=st.sampled_from([1.0, 0.25, 0.111]), a=st.sampled_from([1, 4, 8, 16]),
       w=st.sampled_from([1, 2, 8]), size=st.sampled_from([256, 4096, 65536, 1 << 22]),
       g=st.sampled_from([4, 16, 32]), bw=st.sampled_from([1.0, 16.0, 256.0]))  # fmt: skip
def test_vectorised_search_equals_one_tiling_at_a_time(m, n, k, share, a, w, size, g, bw):
    """`choose_tiling` (all tilings of all layers as arrays, orders reduced first, a cache of
    the traffic tables) picks exactly the tiling the docstring's rule picks when every tiling
    is tried in turn, for an output-stationary g x g array's tile cycles."""

    def cycles(tm, tn, tk):
        return systolic_cycles(tm, tn, tk, g, g, "os")

    bits = (a, w, 32, 8)
    sizes = (size, size, size)
    expected = _brute_force_tiling(m, n, k, share, bits, sizes, g, bw, cycles)
    (found,) = choose_tiling(
        np.array([m]), np.array([n]), np.array([k]), np.array([share]),
        tuple(np.array([b]) for b in bits), sizes, g, bw,
        [lambda tm, tn, tk, inverse: cycles(tm, tn, tk)],
    )  # fmt: skip
    got = tuple(int(found[key][0]) for key in ("tm", "tn", "tk", "order"))
    assert bool(found["fits"][0]) == (expected is not None)
    if expected is not None:
        assert got == expected
        read, write, _ = traffic(m, n, k, *got[:3], bits, ORDERS[got[3]], share)
        assert (found["read"][0], found["write"][0]) == (read, write)
