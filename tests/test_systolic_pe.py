"""The cycle-stepped array of precision-flexible PEs (``accelsim.reference.systolic_pe``)
against numpy integer products and against the cycles ``accelsim.simulate`` reports.

Expected outputs are numpy int64 ``inputs @ weights``; expected cycles come from the model's
own path (``layer_arrays`` / ``_packing`` + ``accelsim.dataflow``, through
``accelsim.simulate`` on a one-layer workload, an arch with that PE, no memories, ``timing:
accelsim``), or from the hand derivations in the docstrings below.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import accelsim
from accelsim.arch import Arch, ArchFile
from accelsim.model import simulate_many
from accelsim.pe import BitFusion, BitSerial, Xnor
from accelsim.quant import QuantSpec
from accelsim.reference.systolic_pe import run_systolic_pe
from accelsim.workload import FC, Conv, Workload, lower

B = "binary"
DATAFLOWS = ("os", "ws", "is")
FUSION = BitFusion(kind="bit_fusion")
XNOR_LANES = (1, 2, 3, 5, 8, 63, 64, 65, 130)  # partial words and several words per group


def _serial(lut_group=3, binary_group=4, max_bits=16):
    return BitSerial(
        kind="bit_serial", max_a_bits=max_bits, max_w_bits=max_bits,
        lut_group=lut_group, binary_group=binary_group, lut_share=1,
    )  # fmt: skip


def _quant(a_bits, w_bits):
    """The model's QuantSpec of a stepper width: ``"binary"`` is 1 bit, ±1; else int."""
    (a, ae), (w, we) = ((1, B) if b == B else (b, "int") for b in (a_bits, w_bits))
    return QuantSpec(a_bits=a, w_bits=w, acc_bits=64, out_bits=8, a_encoding=ae, w_encoding=we)


def _layer(m, n, k, k_run, quant):
    """A layer the model lowers to ``m x k @ k x n`` with contiguous runs of ``k_run``: an fc
    layer (``k_run = k``), or a conv with ``k_run`` input channels and a ``k/k_run x 1``
    kernel over an input ``k/k_run`` high and ``m`` wide (so ``m`` output positions)."""
    if k_run == k:
        spec = FC(type="fc", name="l", in_features=k, out_features=n, tokens=m)
    else:
        taps = k // k_run
        spec = Conv(type="conv", name="l", in_channels=k_run, out_channels=n, in_h=taps,
                    in_w=m, kernel=(taps, 1))  # fmt: skip
    layer = lower(spec, 1, quant)
    assert (layer.m, layer.n, layer.k, layer.k_run) == (m, n, k, k_run)
    return layer


def _model_cycles(pe, rows, cols, dataflow, layers):
    """Cycles ``accelsim`` reports for each layer run alone on a ``rows x cols`` arch of ``pe``."""
    array = {"rows": rows, "cols": cols, "dataflow": dataflow, "clock_mhz": 100}
    arch = Arch(ArchFile(name="t", array=array, pe=pe))
    workloads = [Workload("w", 1, (la,), la.quant) for la in layers]
    return [r.columns["cycles"][0] for r in simulate_many(arch, workloads)]


def _values(rng, shape, bits):
    """Random values of a width; one in eight at each end of its range."""
    if bits == B:
        return 2 * rng.integers(0, 2, size=shape) - 1
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    pick = rng.integers(0, 8, size=shape)
    return np.where(pick == 0, lo, np.where(pick == 1, hi, rng.integers(lo, hi + 1, size=shape)))


def _draw_pe(rng, kind):
    """A random PE of ``kind`` and operand widths it can run."""
    widths = [*range(1, 17), B]
    a, w = (widths[i] for i in rng.integers(len(widths), size=2))
    if kind == "bit_fusion":
        return FUSION, a, w
    if kind == "bit_serial":
        return _serial(int(rng.integers(1, 6)), int(rng.integers(1, 7))), a, w
    return Xnor(kind="xnor", lanes=int(rng.choice(XNOR_LANES))), B, B


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("kind", ["bit_fusion", "bit_serial", "xnor"])
def test_random_layers_match_integer_product_and_model_cycles(kind, dataflow):
    """120 random layers per PE kind and dataflow: array 1..4 x 1..4 (non-square, partial
    folds), m, n in 1..6, k = 1..3 runs of 1..24 (conv-like ``k_run``), random widths."""
    rng = np.random.default_rng(sum(map(ord, kind + dataflow)))
    failures = []
    for _ in range(120):
        pe, a_bits, w_bits = _draw_pe(rng, kind)
        rows, cols, m, n = (int(v) for v in rng.integers(1, [5, 5, 7, 7]))
        k_run, runs = int(rng.integers(1, 25)), int(rng.integers(1, 4))
        k = k_run * runs
        inputs, weights = _values(rng, (m, k), a_bits), _values(rng, (k, n), w_bits)
        outputs, cycles = run_systolic_pe(
            inputs, weights, rows, cols, dataflow, pe, a_bits, w_bits, k_run
        )
        layer = _layer(m, n, k, k_run, _quant(a_bits, w_bits))
        (model,) = _model_cycles(pe, rows, cols, dataflow, [layer])
        case = f"{pe} a={a_bits} w={w_bits} {rows}x{cols} m={m} n={n} k={k} k_run={k_run}"
        if outputs.dtype != np.int64 or not np.array_equal(outputs, inputs @ weights):
            failures.append(f"outputs wrong: {case}")
        if cycles != model:
            failures.append(f"cycles: {case}: stepper {cycles} != model {model}")
    assert not failures, "\n".join(failures[:20])


# PE configurations of the shape sweep: bit_fusion in every (MACs per step, cycles per step)
# it has, with an operand wider than 8 bits against a narrow one either way; bit_serial with
# LUT groups of 3 and 1 at several weight widths and ±1 weights; xnor with lane groups below
# and across a 64-bit word
SWEEP = {
    "bit_fusion": [(FUSION, [(2, 2), (B, 4), (4, 4), (8, 3), (8, 8), (16, 2), (5, 12),
                             (16, 16)])],
    "bit_serial": [(_serial(3, 4), [(16, 5), (8, B), (B, 1)]), (_serial(1, 2), [(3, 2), (4, B)])],
    "xnor": [(Xnor(kind="xnor", lanes=lanes), [(B, B)]) for lanes in (1, 3, 65)],
}  # fmt: skip


@pytest.mark.parametrize("kind", list(SWEEP))
def test_shape_sweep_cycles_equal_the_model(kind):
    """Every array of 1..3 x 1..3 PEs, m, n in {1, 2, 5}, k (runs) in {1, 7 (7), 20 (20),
    20 (5)}, all dataflows, each PE configuration of ``SWEEP``: cycles equal the model's and
    outputs the integer product."""
    rng = np.random.default_rng(5)
    failures = []
    for (pe, widths), dataflow, rows, cols in itertools.product(
        SWEEP[kind], DATAFLOWS, range(1, 4), range(1, 4)
    ):
        cases = list(itertools.product(
            widths, (1, 2, 5), (1, 2, 5), ((1, 1), (7, 7), (20, 20), (20, 5))
        ))  # fmt: skip
        layers = [_layer(m, n, k, k_run, _quant(a, w)) for (a, w), m, n, (k, k_run) in cases]
        models = _model_cycles(pe, rows, cols, dataflow, layers)
        for ((a_bits, w_bits), m, n, (k, k_run)), model in zip(cases, models, strict=True):
            inputs, weights = _values(rng, (m, k), a_bits), _values(rng, (k, n), w_bits)
            outputs, cycles = run_systolic_pe(
                inputs, weights, rows, cols, dataflow, pe, a_bits, w_bits, k_run
            )
            case = f"{pe} a={a_bits} w={w_bits} {dataflow} {rows}x{cols} m={m} n={n} k={k}/{k_run}"
            if not np.array_equal(outputs, inputs @ weights):
                failures.append(f"outputs wrong: {case}")
            if cycles != model:
                failures.append(f"cycles: {case}: stepper {cycles} != model {model}")
    assert not failures, "\n".join(failures[:20])


def test_hand_traced_bit_fusion_channels_underfill():
    """bit_fusion at 2/2 bits on a 1 x 1 array, os, m = n = 1, k = 12 in runs of k_run = 3
    (a conv with 3 input channels and 4 taps).

    A 2-bit operand is one BitBrick, so the 16 bricks hold 16 products: p = 16 elements per
    step. Groups never cross a run, so each run of 3 is one (partial) group: 4 steps, not
    ceil(12 / 16) = 1. Step t enters PE(0, 0) in cycle t (no skew on a 1 x 1 array): compute
    cycles 0..3, then the accumulator needs R = 1 drain shift: 5 cycles.
    Values: inputs 1..-2 cycling, weights all -2: sum = -2 * (1 + 0 - 1 - 2) * 3 = 12.
    """
    inputs = np.array([[1, 0, -1, -2] * 3])
    weights = np.full((12, 1), -2)
    outputs, cycles = run_systolic_pe(inputs, weights, 1, 1, "os", FUSION, 2, 2, k_run=3)
    assert (outputs.tolist(), cycles) == ([[12]], 5)
    layer = _layer(1, 1, 12, 3, _quant(2, 2))
    assert _model_cycles(FUSION, 1, 1, "os", [layer]) == [5]


def test_hand_traced_bit_fusion_16_bit_mode():
    """bit_fusion, a 16-bit and w 4-bit, ws on 2 x 1 PEs, m = n = 1, k = 2.

    A 16-bit operand puts the unit in its 8x8 mode (w sign-extended to 8 bits): 1 product
    per step, one (byte of a, byte of w) pair per cycle, 2 cycles per step; k = 2 steps on
    the 2 array rows (r = 2). Preload: 2 tile rows x 2 cycles = 4. Stream (T = m = 1): the
    partial sum enters PE(0, 0) in step 0, PE(1, 0) in step 1 and leaves at its end: 2 steps
    = 4 cycles. Total 8 = 2 x (r + T + R + c - 2) = 2 x (2 + 1 + 2 + 1 - 2).
    Values at the ends of the ranges: -32768 * 7 + 32767 * -8 = -229376 - 262136 = -491512.
    """
    inputs, weights = np.array([[-32768, 32767]]), np.array([[7], [-8]])
    outputs, cycles = run_systolic_pe(inputs, weights, 2, 1, "ws", FUSION, 16, 4)
    assert (outputs.tolist(), cycles) == ([[-491512]], 8)


def test_hand_traced_bit_serial_lut():
    """bit_serial, lut_group 2, w 3 bits, os on a 1 x 1 array, m = n = 1, k = 4:
    2 steps of 3 cycles (one per weight bit-plane), then 1 drain step: 9 cycles.

    Step 0, activations (5, -3), weights (3, -4) = (011, 100) in 3-bit two's complement.
    LUT [0, 5, -3, 2] (index bit t = lane t). Plane 0: bits (1, 0) -> index 1: +5; plane 1:
    (1, 0) -> 5 << 1 = +10; plane 2, the sign plane: (0, 1) -> -3 << 2 = -12, subtracted:
    +12. 5 + 10 + 12 = 27 = 5*3 + (-3)(-4).
    Step 1, activations (7, 2), weights (-1, 2) = (111, 010); LUT [0, 7, 2, 9]. Plane 0:
    (1, 0) -> 7; plane 1: (1, 1) -> 9 << 1 = 18; plane 2: (1, 0) -> 7 << 2 = 28,
    subtracted. 7 + 18 - 28 = -3 = 7*(-1) + 2*2. Output 27 - 3 = 24.
    """
    inputs, weights = np.array([[5, -3, 7, 2]]), np.array([[3], [-4], [-1], [2]])
    outputs, cycles = run_systolic_pe(inputs, weights, 1, 1, "os", _serial(2, 4), 8, 3)
    assert (outputs.tolist(), cycles) == ([[24]], 9)


def test_hand_traced_xnor_partial_groups_and_folds():
    """xnor with 2 lanes, ``is`` on 2 x 3 PEs, m = 4, n = 1, k = 5.

    k = 5 packs into groups of 2, 2, 1 (the last masked to 1 lane): 3 steps. ``is`` keeps
    the inputs stationary, k-steps on array rows (Sr = 3), m on array columns (Sc = 4), and
    streams the n = 1 weight column (T = 1). Folds (r, c): (2, 3), (2, 1), (1, 3), (1, 1),
    each costing r + T + R + c - 2 cycles: 6 + 4 + 5 + 3 = 18.
    Weights all +1, so output i = the sum of input row i.
    """
    inputs = np.array([[1, 1, 1, 1, 1], [-1, -1, -1, -1, -1], [1, -1, 1, -1, 1], [-1, 1, 1, 1, 1]])
    weights = np.ones((5, 1), np.int64)
    xnor = Xnor(kind="xnor", lanes=2)
    outputs, cycles = run_systolic_pe(inputs, weights, 2, 3, "is", xnor, B, B)
    assert (outputs.ravel().tolist(), cycles) == ([5, -5, 1, 3], 18)
    assert _model_cycles(xnor, 2, 3, "is", [_layer(4, 1, 5, 5, _quant(B, B))]) == [18]


def test_hand_counted_xnor_edge_traffic():
    """The edge traffic of the xnor ``is`` trace above (groups of 2, 2, 1 lanes; step rows
    {0, 1} and {2} are the row folds, input columns {0, 1, 2} and {3} the column folds).

    Inputs (stationary, preloaded through the top edge; a group counts its real lanes):
    fold (rows 0-1, cols 0-2) 3 x (2 + 2) = 12, (0-1, 3) 4, (2, 0-2) 3 x 1 = 3, (2, 3) 1:
    20 = m k. Weights (streamed through the left edge, per fold the groups of its rows):
    4 + 4 + 1 + 1 = 10 = k n ceil(m / C). Partial sums: each of the 4 outputs leaves once
    per row fold: 8 = m n ceil(3 steps / R), 4 of them added to an earlier one.
    """
    inputs = np.array([[1, 1, 1, 1, 1], [-1, -1, -1, -1, -1], [1, -1, 1, -1, 1], [-1, 1, 1, 1, 1]])
    xnor = Xnor(kind="xnor", lanes=2)
    *_, counts = run_systolic_pe(inputs, np.ones((5, 1), int), 2, 3, "is", xnor, B, B, counts=True)
    assert counts == {"inputs": 20, "weights": 10, "outputs": 8, "output_reads": 4}


def test_hand_traced_bit_serial_binary_weights():
    """UNPU's ±1 mode: binary_group 4, one cycle per step; os on a 1 x 2 array, m = 1,
    n = 2, k = 6: groups of 4 and 2 (2 steps). Weight column j enters skewed by j steps, so
    the last step reaches PE(0, 1) in step 1 + 0 + 1 = 2: 3 compute steps, then R = 1 drain
    step: 4 cycles (T + r + c - 2 + R = 2 + 1 + 2 - 2 + 1).
    Column 0 all +1: the sum of the inputs, 100 - 3 + 0 - 7 + 1 - 128 = -37; column 1
    alternating -1, +1: -100 - 3 - 0 - 7 - 1 - 128 = -239.
    """
    inputs = np.array([[100, -3, 0, -7, 1, -128]])
    weights = np.array([[1, -1], [1, 1], [1, -1], [1, 1], [1, -1], [1, 1]])
    outputs, cycles = run_systolic_pe(inputs, weights, 1, 2, "os", _serial(3, 4), 8, B)
    assert (outputs.tolist(), cycles) == ([[-37, -239]], 4)


@pytest.mark.parametrize(
    ("pe", "a_bits", "w_bits", "inputs", "weights", "kwargs", "match"),
    [
        (FUSION, 17, 8, [[1]], [[1]], {}, r"a_bits must be 'binary' or an integer in 1\.\.16"),
        (FUSION, 8, 0, [[1]], [[0]], {}, r"w_bits must be 'binary' or an integer in 1\.\.16"),
        (FUSION, 8, 2.0, [[1]], [[1]], {}, "w_bits must be"),
        (_serial(max_bits=8), 8, 9, [[1]], [[1]], {}, "w_bits 9 exceeds this bit_serial PE's"),
        (_serial(lut_group=13), 8, 8, [[1]], [[1]], {}, r"lut_group, an integer >= 1 and <= 12"),
        ({"kind": "bit_serial", "lut_group": 3}, 8, B, [[1]], [[1]], {}, "needs binary_group"),
        (Xnor(kind="xnor", lanes=4), 1, B, [[-1]], [[1]], {}, "xnor PEs run only binary"),
        ({"kind": "xnor", "lanes": 0}, B, B, [[1]], [[1]], {}, "xnor PE needs lanes"),
        ({"kind": "int_mac"}, 8, 8, [[1]], [[1]], {}, "unknown PE kind 'int_mac'"),
        (FUSION, 4, 4, [[3, 8]], [[1], [1]], {}, r"inputs has values in \[3, 8\], outside the"
         r" 4-bit signed range \[-8, 7\] of a_bits"),
        (FUSION, 4, 1, [[3]], [[1]], {}, r"weights has values in \[1, 1\], outside the 1-bit"),
        (_serial(), 8, B, [[3]], [[0]], {}, r"weights must hold only \+1 and -1"),
        (FUSION, 4, 4, [[1, 1, 1]], [[1]] * 3, {"k_run": 2}, "k_run must be a positive integer"
         " dividing k=3"),
        (_serial(max_bits=32), 32, 32, [[1]], [[1]], {}, "could overflow int64"),
        (FUSION, 4, 4, [[1, 1]], [[1]], {}, "mismatched k"),
        (FUSION, 4, 4, [[1]], [[1]], {"dataflow": "rs"}, "unknown dataflow"),
        (FUSION, 4, 4, [[1.0]], [[1]], {}, "integer array"),
    ],
)  # fmt: skip
def test_bad_inputs_raise(pe, a_bits, w_bits, inputs, weights, kwargs, match):
    args = {"dataflow": "os", "pe": pe, "a_bits": a_bits, "w_bits": w_bits, **kwargs}
    with pytest.raises(ValueError, match=match):
        run_systolic_pe(np.array(inputs), np.array(weights), 2, 2, **args)


def test_model_reports_the_same_cycles_through_simulate():
    """``_model_cycles`` (one pass over many workloads) is the number ``accelsim.simulate``
    reports for the layer alone: BitFusion 4/2 bits, os on 3 x 2 PEs, m = 5, n = 4, k = 150
    in runs of 30. 8 MACs per step: 5 runs x ceil(30 / 8) = 20 steps; Fr = 2 row folds (3, 2
    rows), Fc = 2 column folds (2, 2): F (T + R - 2) + Fc Sr + Fr Sc = 4 x 21 + 2 x 5 + 2 x 4
    = 102."""
    layer = _layer(5, 4, 150, 30, _quant(4, 2))
    arch = Arch(ArchFile(name="t", array={"rows": 3, "cols": 2, "dataflow": "os",
                                          "clock_mhz": 100}, pe=FUSION))  # fmt: skip
    report = accelsim.simulate(arch, Workload("w", 1, (layer,), layer.quant))
    assert report.columns["cycles"][0] == _model_cycles(FUSION, 3, 2, "os", [layer])[0] == 102
    rng = np.random.default_rng(0)
    inputs, weights = _values(rng, (5, 150), 4), _values(rng, (150, 4), 2)
    assert run_systolic_pe(inputs, weights, 3, 2, "os", FUSION, 4, 2, 30)[1] == 102
