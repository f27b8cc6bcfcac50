"""Tiling, DRAM traffic and stalls (accelsim/memory.py): hand derivations and invariants."""

import itertools
import tempfile
from pathlib import Path

import numpy as np
from conftest import QUANT, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

import accelsim
from accelsim.dataflow import systolic_cycles
from accelsim.memory import ORDERS, candidates, refetch, traffic

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
    8 bytes/cycle, 4x4 ws array (tile candidates: m, n in {8, 4}; k in {16, 8, 4}); the
    objective is latency, so the mapper takes the tiling of fewest cycles.
    Compute: a ws tile (tm, tn, tk) costs Fr Fc (tm + 2) + Fc tk + Fr tn (Sr = tk, Sc = tn,
    T = tm). tm = 8 beats tm = 4 (tile (4, 4, 4): 14 cycles x 16 tiles = 224); with tm = 8,
    (8, 8, 16): Fr=4, Fc=2: 8*10 + 2*16 + 4*8 = 144 for one tile; (8, 4, 4): 10 + 4 + 4 = 18
    x 8 tiles = 144; (8, 8, 4): 2*10 + 8 + 8 = 36 x 4 = 144; (8, 4, 8): 2*10 + 8 + 8 = 36 x 4
    = 144 -- compute is 144 for all of them, so the exposed DRAM time decides:
    first loads (tm tk + tk tn) / 8 and last write-back tm tn / 8 cycles:
    (8, 8, 16): 32 + 8 = 40; (8, 8, 4): 8 + 8 = 16; (8, 4, 8): 12 + 4 = 16; (8, 4, 4):
    (32 + 16)/8 = 6 + 32/8 = 4 = 10, the best: 154 cycles (the rest of the DRAM time,
    (384 + 64)/8 - 10 = 46, hides under compute). Its least-traffic order is the first,
    (m, n, k): k innermost keeps the outputs (no spill) and m runs once, so weights are read
    once (128 bytes); the inputs are read once per n tile: 2 x 128 = 256."""
    row = _run(write, 8, 8, 16)
    assert (row["tile_m"], row["tile_n"], row["tile_k"], row["loop_order"]) == (8, 4, 4, "mnk")
    assert (row["dram_read_bytes"], row["dram_write_bytes"]) == (384, 64)
    assert (row["dram_inputs_read_bytes"], row["dram_weights_read_bytes"]) == (256, 128)
    assert row["dram_psum_spill_bytes"] == 0
    assert row["compute_cycles"] == 144 == int(systolic_cycles(8, 8, 16, 4, 4, "ws"))
    assert (row["stall_dram_read_cycles"], row["stall_dram_write_cycles"]) == (6, 4)
    assert row["cycles"] == 154


def test_sub_byte_operands_are_packed(write):
    """4-bit weights take half the bytes of 8-bit ones: 16*8*4/8 = 64 bytes of weights, so
    with the tiling of `test_tiling_hand_derived` (inputs read twice, 256 bytes) the DRAM read
    falls from 256 + 128 to 256 + 64 = 320."""
    row = _run(write, 8, 8, 16, quant=QUANT.replace("w_bits: 8", "w_bits: 4"))
    assert (row["tile_m"], row["tile_n"], row["tile_k"]) == (8, 4, 4)
    assert row["dram_read_bytes"] == 320


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
    input (k_run = 36: ceil(36/16) = 3 steps). Their tilings cost differently (the packing
    sets each tile's compute), so the search may share work between identical layers only:
    in one workload each must cost exactly what it costs alone."""
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
    assert both["c3"]["compute_cycles"] > both["c1"]["compute_cycles"]  # 9 steps against 3


def _brute_force_tiling(arch, x, objective):
    """The mapper of accelsim/model.py `evaluate`, one tiling at a time: every (Tm, Tn, Tk)
    whose tiles fit, in every loop order that no other order beats on each tensor's DRAM
    bytes (inputs, weights, partial sums: at most as many of each, fewer of one, or the same
    and listed earlier), costed by the model's formulas (`_cost`) and priced (`price`); the
    least objective (energies within 1e-9 relative tie), ties to fewer cycles (exact: cycles
    are whole), then less DRAM traffic (within 1e-9), then the first in (order, Tm, Tn, Tk)
    nesting. Returns (tm, tn, tk, order) or None when no tile fits."""
    from accelsim.energy import price
    from accelsim.model import _cost, objective_key

    m, n, k = (int(x[d][0]) for d in "mnk")
    share = float(x["share"][0])
    bits = tuple(int(x[f"{b}_bits"][0]) for b in ("a", "w", "acc", "out"))
    a, w, acc, out = bits
    mem = arch.spec.memories
    g = min(arch.rows, arch.cols)
    cand = [candidates(np.array([e]), g)[0] for e in (m, n, k)]
    found = []
    for t, (tm, tn, tk) in enumerate(itertools.product(*cand)):
        if not (2 * tm * tk * share * a / 8 <= mem.inputs.size_bytes
                and 2 * tk * tn * w / 8 <= mem.weights.size_bytes
                and tm * tn * (acc + out) / 8 <= mem.outputs.size_bytes):  # fmt: skip
            continue
        per_order = [traffic(m, n, k, tm, tn, tk, bits, order, share) for order in ORDERS]
        tensors = [[parts[p] for p in ("inputs_read", "weights_read", "spill")]
                   for _, _, parts in per_order]  # fmt: skip
        for o, (read, write, parts) in enumerate(per_order):
            if any(all(b <= a for a, b in zip(tensors[o], tensors[p]))
                   and (tensors[p] != tensors[o] or p < o)
                   for p in range(len(ORDERS)) if p != o):  # fmt: skip
                continue  # another order moves no more of any tensor
            tiling = {key: np.array([v]) for key, v in
                      dict(tm=tm, tn=tn, tk=tk, read=read, write=write, **parts).items()}  # fmt: skip
            res = _cost(arch, x, tiling)[0]
            energy = price(arch, x, res["counts"], res["cycles"])[0]
            key = float(objective_key(objective, res["cycles"], energy)[0])
            rank = o * len(cand[0]) ** 3 + t
            found.append(
                (key, float(res["cycles"][0]), read + write, rank, (int(tm), int(tn), int(tk), o))
            )
    for i, slack in enumerate((0 if objective == "latency" else 1e-9, 0, 1e-9)):  # in turn
        least = min(f[i] for f in found) if found else 0
        found = [f for f in found if f[i] <= least * (1 + slack)]
    return min(found, key=lambda f: f[3])[4] if found else None


@settings(max_examples=40)
@given(m=st.integers(1, 3000), n=st.integers(1, 600), k=st.integers(1, 2000),
       share=st.sampled_from([1.0, 0.25, 0.111]), a=st.sampled_from([1, 4, 8, 16]),
       w=st.sampled_from([1, 2, 8]), size=st.sampled_from([256, 4096, 65536, 1 << 22]),
       g=st.sampled_from([4, 16, 32]), bw=st.sampled_from([1.0, 16.0, 256.0]),
       objective=st.sampled_from(["latency", "energy", "edp"]), tech=st.booleans())  # fmt: skip
def test_vectorised_search_equals_one_tiling_at_a_time(m, n, k, share, a, w, size, g, bw,
                                                        objective, tech):  # fmt: skip
    """`evaluate` (all tilings of all layers as arrays, orders reduced first through a cache
    of traffic tables, the choice by segment minima) picks exactly the tiling the rule picks
    when every tiling is tried in turn, on an output-stationary g x g array with a
    technology section (the energy and edp objectives are real energies) or without one
    (every energy 0: the ties go to the next keys)."""
    from accelsim.model import evaluate, layer_arrays

    text = (ARCH.replace("rows: 4, cols: 4, dataflow: ws", f"rows: {g}, cols: {g}, dataflow: os")
            .replace("max_a_bits: 8, max_w_bits: 8", "max_a_bits: 16, max_w_bits: 16")
            .format(si=size, sw=size, so=size, bw=bw)
            + ("technology: {node_nm: 28}\n" if tech else ""))  # fmt: skip
    quant = QUANT.replace("a_bits: 8, w_bits: 8", f"a_bits: {a}, w_bits: {w}")
    layer = f"  - {{name: g, type: matmul, m: {m}, n: {n}, k: {k}}}\n"
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "a.yaml").write_text(text)
        (Path(d) / "w.yaml").write_text(f"name: w\nbatch: 1\nquant: {quant}\nlayers:\n{layer}")
        arch = accelsim.load_arch(Path(d) / "a.yaml")
        wl = accelsim.load_workload(Path(d) / "w.yaml")
    x = {**layer_arrays(wl.layers, arch.pe), "share": np.array([share])}
    expected = _brute_force_tiling(arch, x, objective)
    found = evaluate(arch, x, objective)["tilings"][0]
    assert bool(found["fits"][0]) == (expected is not None)
    if expected is not None:
        got = tuple(int(found[key][0]) for key in ("tm", "tn", "tk", "order"))
        assert got == expected
        read, write, _ = traffic(m, n, k, *got[:3], (a, w, 32, 8), ORDERS[got[3]], share)
        assert (found["read"][0], found["write"][0]) == (read, write)


@given(m=st.integers(1, 900), n=st.integers(1, 900), k=st.integers(1, 900),
       tm=st.integers(1, 300), tn=st.integers(1, 300), tk=st.integers(1, 300),
       rows=st.integers(1, 64), cols=st.integers(1, 64), pack=st.sampled_from([1.0, 2.0, 3.5]),
       dataflow=st.sampled_from(["os", "ws", "is"]))  # fmt: skip
def test_closed_form_sums_over_tiles_term_by_term(m, n, k, tm, tn, tk, rows, cols, pack,
                                                   dataflow):  # fmt: skip
    """The model sums the closed form over the tiles as products of per-dimension sums
    (`tiled_product` of `systolic_terms`, with a tile's k as ceil(k / pack) steps; and each
    SRAM element count): equal to evaluating each tile (`tiled`) and adding."""
    from accelsim.dataflow import systolic_terms
    from accelsim.memory import tile_parts, tiled, tiled_product
    from accelsim.model import _sram_elements, _sram_factors

    def per_tile(mt, nt, kt):
        steps = np.ceil(kt / pack - 1e-9).astype(np.int64)
        return systolic_cycles(mt, nt, steps, rows, cols, dataflow)

    parts = [tile_parts(e, min(t, e)) for e, t in ((m, tm), (n, tn), (k, tk))]
    size, full, rem, last, _ = parts[2]
    s_full, s_rem = (int(np.ceil(t / pack - 1e-9)) for t in (size, rem))
    by_steps = (parts[0], parts[1], (s_full, full, s_rem, last, full * s_full + last * s_rem))
    terms = sum(c * tiled_product(f, by_steps) for c, f in systolic_terms(rows, cols, dataflow))
    tiles = (min(tm, m), min(tn, n), min(tk, k))
    assert terms == tiled(per_tile, m, n, k, *tiles)
    elements = _sram_elements(dataflow, rows, cols)
    for tensor, factors in _sram_factors(dataflow, rows, cols).items():
        assert tiled_product(factors, parts) == tiled(elements[tensor], m, n, k, *tiles)


def test_costs_shared_between_designs_equal_fresh_ones():
    """The mapper keeps every tiling's cost for the latest arch and layers, keyed by the arch
    without its buffer sizes (`accelsim.model._every_cost`): a design that differs only in
    buffer sizes reuses it, one that differs in anything else (a bandwidth, a port) must
    not. Each report, after another design filled the cache, equals the same report with
    the caches emptied first."""
    import accelsim.model as model
    from accelsim.arch import with_changes

    base = accelsim.load_arch(ROOT / "arch_configs" / "edge_32x32.yaml")
    wl = accelsim.load_workload(ROOT / "workloads" / "resnet18.yaml")
    variants = [
        {"memories.inputs.size_bytes": 16384, "memories.outputs.size_bytes": 8192},
        {"memories.weights.size_bytes": 1 << 20},
        {"dram.bytes_per_cycle": 2.0},
        {"memories.outputs.bytes_per_cycle": 4.0},
        {"array.rows": 16},
    ]
    for objective in ("latency", "edp"):
        for changes in variants:
            arch = with_changes(base, changes)
            accelsim.simulate(base, wl, objective=objective)  # fills the caches
            warm = accelsim.simulate(arch, wl, objective=objective).to_json()
            model._COSTS.clear()
            accelsim.memory._TABLES.clear()
            cold = accelsim.simulate(arch, wl, objective=objective).to_json()
            assert warm == cold, changes
