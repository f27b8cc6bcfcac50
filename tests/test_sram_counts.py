"""The closed form's array-side SRAM element counts against the cycle-stepped arrays.

``accelsim.model._sram_elements(dataflow, R, C, pack)`` gives, per DRAM tile ``m x n x k``,
the elements read from the input and the weight buffer and the partial sums written to the
output buffer. The steppers (``run_systolic`` / ``run_systolic_pe`` with ``counts=True``)
count what crosses the array's edges as they run. Here the whole GEMM is one tile, and
``pack`` is what the model computes for the layer (``layer_arrays`` -> ``_packing``:
``k / steps``, ``steps = (k / k_run) ceil(k_run / p)``), so the PE's packing comes through
the model's own path, not from the stepper.

Derivation on the array (``R x C`` PEs; ``Sr`` mapped onto rows, ``Sc`` onto columns, ``T``
streamed; a PE step holds one *group* of ``<= p`` consecutive reduction elements of one
``k_run`` run, so the reduction is ``S = (k / k_run) ceil(k_run / p)`` steps of real elements
summing to ``k``; ``Fr = ceil(Sr / R)`` row folds, ``Fc = ceil(Sc / C)`` column folds):

* ``os`` (Sr, Sc, T) = (m, n, S): in fold (fr, fc) row ``i < r`` of the input tile enters
  the left edge, all ``S`` groups of it, i.e. ``k`` elements; the ``r`` rows of every fold
  cover the ``m`` inputs rows once per column fold: ``inputs = m k Fc = m k ceil(n / C)``.
  Likewise weight column ``j < c`` enters the top edge once per row fold: ``weights = k n
  ceil(m / R)``. Each accumulator is drained out of the bottom edge once, when its fold
  ends (the reduction is complete within the fold): ``outputs = m n``, none re-read.
* ``ws`` (Sr, Sc, T) = (S, n, m): fold (fr, fc) preloads the ``r x c`` tile of weight groups
  (rows ``fr R ..`` of the reduction steps, columns ``fc C ..``) through the top edge; the
  folds partition the ``S x n`` weight groups, so ``weights = k n``. The fold streams all
  ``m`` input rows, each giving array row ``i`` its group ``fr R + i``: per fold ``m`` times
  the elements of the fold's ``r`` groups; over the row folds that is ``m k``, and it is
  repeated for every column fold: ``inputs = m k ceil(n / C)``. Every output ``(t, j)`` of
  the fold's ``c`` columns gets one partial sum that enters at the top and leaves the bottom
  edge once: ``outputs = m n Fr = m n ceil(S / R)``, and all but the first per output are
  added into what an earlier fold wrote: ``output_reads = outputs - m n``.
* ``is``: ``ws`` with the operands exchanged (stationary ``inputs.T``, Sc = m, streamed
  weight columns): ``inputs = m k``, ``weights = k n ceil(m / C)``, ``outputs = m n
  ceil(S / R)``.

That is the model's table with ``st = ceil(kt / pack) = S``. Where a PE packs (``p > 1``)
the row folds count array *steps*, not reduction elements: the bug fixed in 96f6361 counted
``ceil(k / R)`` folds, e.g. bit_fusion at 2x2 bits (``p = 16``), ``k = 40``, ``R = 2``:
``S = 3`` steps, 2 row folds, ``outputs = 2 m n``, where ``ceil(40 / 2) = 20`` would claim
``20 m n``; `test_packed_row_folds_regression` keeps that case.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_systolic_pe import FUSION, _layer, _quant, _serial, _values

from accelsim.dataflow import systolic_cycles
from accelsim.model import _sram_elements, layer_arrays
from accelsim.pe import IntMac, Xnor
from accelsim.reference.systolic import run_systolic
from accelsim.reference.systolic_pe import run_systolic_pe

B = "binary"
DATAFLOWS = ("os", "ws", "is")
WIDTHS = [*range(1, 17), B]
INT_MAC = IntMac(kind="int_mac", max_a_bits=16, max_w_bits=16)
BUDGET = 2500  # cycles of one numpy-stepper run (~15 us each); the numba one needs no cap
# profile examples (conftest: 100, 25 under CI=true); the generated shapes are never too slow
SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow])


def _model_pack(pe, m, n, k, k_run, a_bits, w_bits) -> float:
    """The ``pack`` the model derives for this layer on ``pe`` (`layer_arrays`)."""
    x = layer_arrays([_layer(m, n, k, k_run, _quant(a_bits, w_bits))], pe)
    assert x["reason"][0] is None, x["reason"][0]  # the model runs it on this PE
    return float(x["pack"][0])


def _closed_form(dataflow, rows, cols, pack, m, n, k) -> dict:
    fns = _sram_elements(dataflow, rows, cols, pack)
    return {t: int(fn(m, n, k)) for t, fn in fns.items()}


def _check(counts, dataflow, rows, cols, pack, m, n, k, case):
    expected = _closed_form(dataflow, rows, cols, pack, m, n, k)
    measured = {t: counts[t] for t in expected}
    assert measured == expected, f"{case}: stepper {measured} != closed form {expected}"
    # every partial sum after an output's first is a read-modify-write (model docstring)
    assert counts["output_reads"] == expected["outputs"] - m * n, case


def _shrink(m, n, k, rows, cols, dataflow):
    """Halve the largest extent until the numpy stepper's run fits ``BUDGET`` cycles."""
    dims = [m, n, k]
    while int(systolic_cycles(*dims, rows, cols, dataflow)) > BUDGET:
        i = dims.index(max(dims))
        dims[i] = max(1, dims[i] // 2)
    return dims


# ------------------------------------------------------------------ int MACs (pack 1)


@SETTINGS
@given(
    dataflow=st.sampled_from(DATAFLOWS),
    rows=st.integers(1, 8),
    cols=st.integers(1, 8),
    mnk=st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(1, 40)),
    seed=st.integers(0, 2**32 - 1),
)
@example(dataflow="ws", rows=3, cols=2, mnk=(5, 7, 10), seed=0)  # 4 row folds, last partial
@example(dataflow="is", rows=1, cols=8, mnk=(9, 2, 3), seed=0)
def test_int_mac_counts_equal_the_closed_form(dataflow, rows, cols, mnk, seed):
    """``run_systolic`` (one MAC per step, ``pack = 1`` through the model's `int_mac`):
    inputs, weights and outputs crossing the edges equal ``_sram_elements`` of the GEMM as
    one tile (derivation in the module docstring); outputs still equal ``inputs @ weights``.
    Shapes over ``BUDGET`` cycles are shrunk (`_shrink`) to keep the numpy stepper fast."""
    m, n, k = _shrink(*mnk, rows, cols, dataflow)
    rng = np.random.default_rng(seed)
    inputs, weights = rng.integers(-8, 9, (m, k)), rng.integers(-8, 9, (k, n))
    outputs, _, counts = run_systolic(inputs, weights, rows, cols, dataflow, counts=True)
    np.testing.assert_array_equal(outputs, inputs @ weights)
    pack = _model_pack(INT_MAC, m, n, k, k, 8, 8)
    assert pack == 1.0
    case = f"int_mac {dataflow} {rows}x{cols} m={m} n={n} k={k}"
    _check(counts, dataflow, rows, cols, pack, m, n, k, case)


# ------------------------------------------------------- precision-flexible PEs (pack p)


@st.composite
def _pe_and_widths(draw, kind):
    if kind == "bit_fusion":  # p = 16 / (bricks of a x bricks of w): 1, 2, 4, 8, 16
        return FUSION, draw(st.sampled_from(WIDTHS)), draw(st.sampled_from(WIDTHS))
    if kind == "bit_serial":  # p = lut_group (int weights) or binary_group (±1): 1..12
        pe = _serial(draw(st.integers(1, 12)), draw(st.integers(1, 12)))
        return pe, draw(st.sampled_from(WIDTHS)), draw(st.sampled_from(WIDTHS))
    lanes = draw(st.one_of(st.integers(1, 16), st.sampled_from([63, 64, 65, 130])))
    return Xnor(kind="xnor", lanes=lanes), B, B


@st.composite
def _pe_layers(draw, kind):
    pe, a_bits, w_bits = draw(_pe_and_widths(kind))
    runs = draw(st.integers(1, 3))  # conv-like: k = runs x k_run, packing follows each run
    k_run = draw(st.integers(1, 40 // runs))
    return {
        "pe": pe,
        "a_bits": a_bits,
        "w_bits": w_bits,
        "dataflow": draw(st.sampled_from(DATAFLOWS)),
        "rows": draw(st.integers(1, 8)),
        "cols": draw(st.integers(1, 8)),
        "m": draw(st.integers(1, 40)),
        "n": draw(st.integers(1, 40)),
        "k_run": k_run,
        "k": runs * k_run,
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def _run_pe_case(pe, a_bits, w_bits, dataflow, rows, cols, m, n, k, k_run, seed):
    rng = np.random.default_rng(seed)
    inputs, weights = _values(rng, (m, k), a_bits), _values(rng, (k, n), w_bits)
    outputs, _, counts = run_systolic_pe(
        inputs, weights, rows, cols, dataflow, pe, a_bits, w_bits, k_run, counts=True
    )
    np.testing.assert_array_equal(outputs, inputs @ weights)
    pack = _model_pack(pe, m, n, k, k_run, a_bits, w_bits)
    case = (
        f"{pe} a={a_bits} w={w_bits} {dataflow} {rows}x{cols} m={m} n={n} k={k} "
        f"k_run={k_run} pack={pack}"
    )
    _check(counts, dataflow, rows, cols, pack, m, n, k, case)
    return pack


@pytest.mark.parametrize("kind", ["bit_fusion", "bit_serial", "xnor"])
@SETTINGS
@given(data=st.data())
def test_pe_counts_equal_the_closed_form(kind, data):
    """``run_systolic_pe`` for every PE kind at random widths (``pack`` 1..16, and up to 130
    ±1 lanes), arrays 1..8 x 1..8, m, n up to 40, k = 1..3 runs of ``k_run`` (<= 40 in all):
    the measured edge traffic equals ``_sram_elements`` with the model's ``pack`` (fractional
    when ``k_run`` does not fill the groups); outputs equal ``inputs @ weights``."""
    _run_pe_case(**data.draw(_pe_layers(kind)))


# one small fixed set of shapes for every pack 1..16: square, non-square, 1x1, partial
# groups (k_run not a multiple of p), several runs, more row folds than steps per fold
SHAPES = [(3, 2, 5, 7, 40, 40), (2, 5, 9, 4, 33, 11), (1, 1, 3, 2, 17, 17), (8, 3, 11, 19, 24, 8)]


@pytest.mark.parametrize("lanes", range(1, 17))
def test_every_pack_from_1_to_16(lanes):
    """xnor with ``lanes`` = 1..16 (``pack`` = lanes when runs fill the groups), and
    bit_serial with the same LUT group where it has one (<= 12), in all three dataflows on
    ``SHAPES`` ``(R, C, m, n, k, k_run)``."""
    pes = [(Xnor(kind="xnor", lanes=lanes), B, B)]
    if lanes <= 12:
        pes += [(_serial(lanes, lanes), 3, 5), (_serial(lanes, lanes), 2, B)]
    for (pe, a_bits, w_bits), dataflow, (rows, cols, m, n, k, k_run) in (
        (p, d, s) for p in pes for d in DATAFLOWS for s in SHAPES
    ):
        _run_pe_case(pe, a_bits, w_bits, dataflow, rows, cols, m, n, k, k_run, seed=lanes)


@pytest.mark.parametrize(
    ("a_bits", "w_bits", "pack"),
    [(2, 2, 16), (B, 4, 8), (4, 4, 4), (2, 8, 4), (8, 3, 2), (8, 8, 1), (16, 2, 1), (16, 16, 1)],
)
def test_bit_fusion_modes(a_bits, w_bits, pack):
    """bit_fusion in each of its packings (``pack`` as the model computes it for a run of 48
    channels, which every group size divides) on ``SHAPES`` and a run of 48, all dataflows."""
    for dataflow in DATAFLOWS:
        for rows, cols, m, n, k, k_run in [*SHAPES, (4, 4, 6, 5, 48, 48)]:
            got = _run_pe_case(FUSION, a_bits, w_bits, dataflow, rows, cols, m, n, k, k_run, 7)
            if k == k_run == 48:
                assert got == pack


def test_packed_row_folds_regression():
    """The case of the fixed bug (module docstring): bit_fusion 2x2 bits, ``p = 16``, k = 40
    (groups of 16, 16, 8), a 2 x 3 array, m = 5, n = 4. ``ws``: the 3 weight-group rows take
    2 row folds (2 + 1), so each of the 20 outputs leaves the array twice: 40 partial sums,
    20 of them re-read; weights 40 x 4 = 160 preloaded once; inputs 5 x 40 x ceil(4/3) = 400.
    ``is``: same 40 partial sums, inputs 200 preloaded, weights 40 x 4 x ceil(5/3) = 320.
    The pre-fix count ``ceil(40 / 2) = 20`` folds would say 400 partial sums."""
    rng = np.random.default_rng(3)
    inputs, weights = _values(rng, (5, 40), 2), _values(rng, (40, 4), 2)
    hand = {
        "ws": {"inputs": 400, "weights": 160, "outputs": 40, "output_reads": 20},
        "is": {"inputs": 200, "weights": 320, "outputs": 40, "output_reads": 20},
    }
    for dataflow, expected in hand.items():
        *_, counts = run_systolic_pe(inputs, weights, 2, 3, dataflow, FUSION, 2, 2, counts=True)
        assert counts == expected
        _check(counts, dataflow, 2, 3, _model_pack(FUSION, 5, 4, 40, 40, 2, 2), 5, 4, 40, "")
    assert _closed_form("ws", 2, 3, 1, 5, 4, 40)["outputs"] == 400  # the unpacked count


def test_counts_do_not_depend_on_values_and_are_optional():
    """Same counts for zero and random operands; without ``counts`` the old return shapes."""
    rng = np.random.default_rng(11)
    zx, zw = np.zeros((6, 10), np.int64), np.zeros((10, 3), np.int64)
    rx, rw = _values(rng, (6, 10), 2), _values(rng, (10, 3), 2)
    for dataflow in DATAFLOWS:
        plain = [
            run_systolic(x, w, 2, 2, dataflow, counts=True)[2] for x, w in ((zx, zw), (rx, rw))
        ]
        assert plain[0] == plain[1]
        assert len(run_systolic(zx, zw, 2, 2, dataflow)) == 2
        traced = run_systolic(rx, rw, 2, 2, dataflow, trace=True, counts=True)
        assert len(traced) == 4 and traced[3] == plain[1]
        packed = [
            run_systolic_pe(x, w, 2, 2, dataflow, FUSION, 2, 2, 5, counts=True)[2]
            for x, w in ((zx, zw), (rx, rw))
        ]
        assert packed[0] == packed[1]
        assert len(run_systolic_pe(rx, rw, 2, 2, dataflow, FUSION, 2, 2)) == 2
