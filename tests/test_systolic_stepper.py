"""The cycle-stepped reference simulator against numpy matmul and the closed-form cycle model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from accelsim.dataflow import systolic_cycles
from accelsim.reference.systolic import run_systolic

X2 = np.array([[1, 2], [3, 4]], dtype=np.int64)  # inputs  [m=2, k=2]
W2 = np.array([[5, 6], [7, 8]], dtype=np.int64)  # weights [k=2, n=2]
_ = None  # a bubble / empty register in the traces below


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_every_small_shape_matches_matmul_and_closed_form(dataflow):
    """rows, cols in 1..4 and m, n, k in 1..6: exact outputs, and cycles == systolic_cycles."""
    rng = np.random.default_rng(1234)
    failures = []
    for rows, cols, m, n, k in itertools.product(
        range(1, 5), range(1, 5), range(1, 7), range(1, 7), range(1, 7)
    ):
        inputs = rng.integers(-8, 9, size=(m, k), dtype=np.int64)
        weights = rng.integers(-8, 9, size=(k, n), dtype=np.int64)
        outputs, cycles = run_systolic(inputs, weights, rows, cols, dataflow)
        expected = int(systolic_cycles(m, n, k, rows, cols, dataflow))
        if outputs.dtype != np.int64 or not np.array_equal(outputs, inputs @ weights):
            failures.append(f"outputs wrong: rows={rows} cols={cols} m={m} n={n} k={k}")
        if cycles != expected:
            failures.append(
                f"cycles: rows={rows} cols={cols} m={m} n={n} k={k}: "
                f"stepper {cycles} != closed form {expected}"
            )
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize(
    ("rows", "cols", "m", "n", "k"), [(3, 5, 17, 11, 7), (8, 2, 5, 9, 20), (1, 1, 3, 4, 5)]
)
def test_larger_shapes(dataflow, rows, cols, m, n, k):
    rng = np.random.default_rng(7)
    inputs = rng.integers(-100, 101, size=(m, k), dtype=np.int64)
    weights = rng.integers(-100, 101, size=(k, n), dtype=np.int64)
    outputs, cycles, snaps = run_systolic(inputs, weights, rows, cols, dataflow, trace=True)
    np.testing.assert_array_equal(outputs, inputs @ weights)
    assert cycles == int(systolic_cycles(m, n, k, rows, cols, dataflow))
    assert [s["cycle"] for s in snaps] == list(range(cycles))  # one snapshot per cycle


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_cycles_do_not_depend_on_values(dataflow):
    zeros, zero_cycles = run_systolic(np.zeros((5, 3), int), np.zeros((3, 4), int), 2, 3, dataflow)
    _, one_cycles = run_systolic(np.ones((5, 3), int), np.ones((3, 4), int), 2, 3, dataflow)
    assert zero_cycles == one_cycles
    assert not zeros.any()


def test_hand_traced_os_2x2():
    """os, rows = cols = 2, m = n = k = 2; inputs [[1, 2], [3, 4]], weights [[5, 6], [7, 8]].

    Input row i enters the left edge skewed by i cycles, weight column j the top edge skewed
    by j, so operand t meets PE(i, j) in cycle t + i + j. Registers as the PEs use them in
    each cycle (grids are [[PE(0,0), PE(0,1)], [PE(1,0), PE(1,1)]], _ = bubble); acc is the
    accumulator at the end of the cycle.

    cycle 0 compute  a [[1,_],[_,_]]  b [[5,_],[_,_]]  acc [[5, 0],[ 0, 0]]   1*5
    cycle 1 compute  a [[2,1],[3,_]]  b [[7,6],[5,_]]  acc [[19,6],[15, 0]]   +2*7, 1*6, 3*5
    cycle 2 compute  a [[_,2],[4,3]]  b [[_,8],[7,6]]  acc [[19,22],[43,18]]  +2*8, +4*7, 3*6
    cycle 3 compute  a [[_,_],[_,4]]  b [[_,_],[_,8]]  acc [[19,22],[43,50]]  +4*8: last MAC
    cycle 4 drain    bottom row [43, 50] leaves, row 0 moves down: acc [[_,_],[19,22]]
    cycle 5 drain    [19, 22] leaves (row 0 needed R = 2 shifts); the array is empty.

    6 cycles = T + r + c - 2 + R = 2 + 2 + 2 - 2 + 2; closed form F(T+R-2) + Fc Sr + Fr Sc
    = 1 * 2 + 2 + 2 = 6.
    """
    outputs, cycles, snaps = run_systolic(X2, W2, 2, 2, "os", trace=True)
    assert cycles == 6 == int(systolic_cycles(2, 2, 2, 2, 2, "os"))
    assert outputs.tolist() == [[19, 22], [43, 50]]
    assert [s["phase"] for s in snaps] == ["compute"] * 4 + ["drain"] * 2
    expected_ab = [
        ([[1, _], [_, _]], [[5, _], [_, _]]),
        ([[2, 1], [3, _]], [[7, 6], [5, _]]),
        ([[_, 2], [4, 3]], [[_, 8], [7, 6]]),
        ([[_, _], [_, 4]], [[_, _], [_, 8]]),
    ]
    for snap, (a, b) in zip(snaps[:4], expected_ab, strict=True):
        assert (snap["a"], snap["b"]) == (a, b), snap["cycle"]
    assert [s["acc"] for s in snaps] == [
        [[5, 0], [0, 0]],
        [[19, 6], [15, 0]],
        [[19, 22], [43, 18]],
        [[19, 22], [43, 50]],
        [[_, _], [19, 22]],
        [[_, _], [_, _]],
    ]
    assert [s["out"] for s in snaps] == [[]] * 4 + [
        [(1, 0, 43), (1, 1, 50)],
        [(0, 0, 19), (0, 1, 22)],
    ]


def test_hand_traced_ws_2x2():
    """ws, rows = cols = 2, m = n = k = 2; same matrices as the os trace.

    cycle 0 preload  weight row 1 [7, 8] enters the top:  w [[7,8],[0,0]]
    cycle 1 preload  weight row 0 [5, 6] enters, row 1 moves down: w [[5,6],[7,8]]
    Then input row t, element i, enters array row i in stream cycle t + i; the partial sum
    of output (t, j) enters PE(0, j) in stream cycle t + j and moves down.
    cycle 2  a [[1,_],[_,_]]  psum [[5,_],[_,_]]     (0,0): 1*5
    cycle 3  a [[3,1],[2,_]]  psum [[15,6],[19,_]]   (1,0): 3*5, (0,1): 1*6, (0,0): 5+2*7;
             (0,0) = 19 leaves the bottom edge
    cycle 4  a [[_,3],[4,2]]  psum [[_,18],[43,22]]  (1,0) = 43 and (0,1) = 22 leave
    cycle 5  a [[_,_],[_,4]]  psum [[_,_],[_,50]]    (1,1) = 18+4*8 = 50 leaves: done

    6 cycles = r + T + R + c - 2 = 2 + 2 + 2 + 2 - 2.
    """
    outputs, cycles, snaps = run_systolic(X2, W2, 2, 2, "ws", trace=True)
    assert cycles == 6 == int(systolic_cycles(2, 2, 2, 2, 2, "ws"))
    assert outputs.tolist() == [[19, 22], [43, 50]]
    assert [s["w"] for s in snaps[:2]] == [[[7, 8], [0, 0]], [[5, 6], [7, 8]]]
    assert [(s["a"], s["psum"]) for s in snaps[2:]] == [
        ([[1, _], [_, _]], [[5, _], [_, _]]),
        ([[3, 1], [2, _]], [[15, 6], [19, _]]),
        ([[_, 3], [4, 2]], [[_, 18], [43, 22]]),
        ([[_, _], [_, 4]], [[_, _], [_, 50]]),
    ]
    assert [s["out"] for s in snaps] == [[], [], [], [(0, 0, 19)], [(1, 0, 43), (0, 1, 22)]] + [
        [(1, 1, 50)]
    ]


def test_hand_counted_edge_traffic():
    """Edge traffic on a 1 x 2 array (R = 1, C = 2), m = 2, n = 3, k = 2.

    ``os`` (Sr, Sc, T) = (m, n, k): row folds {0}, {1}, column folds {0, 1}, {2}. Every fold
    feeds its r = 1 input row (k = 2 elements) through the left edge and its c weight
    columns (2 elements each) through the top: inputs 4 folds x 2 = 8 = m k ceil(n / C),
    weights (2 + 1) x 2 x 2 row folds = 12 = k n ceil(m / R); 6 accumulators drained once.
    ``ws`` (k, n, m): the 2 k-rows take 2 row folds, n = 3 two column folds. Preloads put
    each weight in once: 6 = k n. Each fold streams both input rows, one element each:
    4 folds x 2 = 8 = m k ceil(n / C). Each output gets one partial sum per row fold:
    12 = m n ceil(k / R), 6 of them added to the first. ``is`` (k, m, n): m = 2 fits the 2
    columns, so 2 row folds x 1 column fold; preloads put each input in once (4); each fold
    streams the 3 weight columns, one element each: 3 x 2 = 6 = k n ceil(m / C); partial
    sums as in ``ws``.
    """
    x = np.arange(1, 5).reshape(2, 2)
    w = np.arange(-3, 3).reshape(2, 3)
    hand = {
        "os": {"inputs": 8, "weights": 12, "outputs": 6, "output_reads": 0},
        "ws": {"inputs": 8, "weights": 6, "outputs": 12, "output_reads": 6},
        "is": {"inputs": 4, "weights": 6, "outputs": 12, "output_reads": 6},
    }
    for dataflow, expected in hand.items():
        outputs, _, counts = run_systolic(x, w, 1, 2, dataflow, counts=True)
        np.testing.assert_array_equal(outputs, x @ w)
        assert counts == expected, dataflow


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_counts_agree_with_the_trace(dataflow):
    """What the snapshots show crossing the edges: valid operands in the left column of
    ``a`` (they entered this cycle), in the top row of ``b`` (``os``), results in ``out``
    (and those whose output already had one) equal the counts."""
    rng = np.random.default_rng(9)
    for rows, cols, m, n, k in [(2, 3, 5, 4, 7), (3, 1, 2, 6, 8), (1, 1, 3, 2, 4)]:
        x, w = rng.integers(-5, 6, (m, k)), rng.integers(-5, 6, (k, n))
        _, _, snaps, counts = run_systolic(x, w, rows, cols, dataflow, trace=True, counts=True)
        work = [s for s in snaps if s["phase"] in ("compute", "stream")]
        left = sum(v is not None for s in work for v in (row[0] for row in s["a"]))
        top = sum(v is not None for s in work if "b" in s for v in s["b"][0])
        outs = [(r, c) for s in snaps for r, c, _ in s["out"]]
        again = sum(o in outs[:i] for i, o in enumerate(outs))
        streamed = {"os": "inputs", "ws": "inputs", "is": "weights"}[dataflow]
        assert counts[streamed] == left
        if dataflow == "os":
            assert counts["weights"] == top
        assert (counts["outputs"], counts["output_reads"]) == (len(outs), again)


def test_unused_rows_still_forward():
    """A 1x1 GEMM on a 4x4 array: os pays R = 4 drain shifts, ws 4 rows of forwarding."""
    one, five = np.array([[3]]), np.array([[5]])
    outputs, cycles = run_systolic(one, five, 4, 4, "os")
    assert (outputs.tolist(), cycles) == ([[15]], 1 + 4)  # 1 MAC cycle + 4 shifts
    assert run_systolic(one, five, 4, 4, "ws")[1] == 1 + 4  # 1 preload + PE rows 0..3


@pytest.mark.parametrize(
    ("inputs", "weights", "rows", "cols", "dataflow", "match"),
    [
        (np.ones((2, 3), np.int64), np.ones((4, 2), np.int64), 2, 2, "os", "mismatched k"),
        (np.ones(3, np.int64), np.ones((3, 2), np.int64), 2, 2, "os", "inputs must be a 2-D"),
        (np.ones((2, 3), np.int64), np.ones((3, 2, 1), np.int64), 2, 2, "ws", "weights must be"),
        (np.ones((2, 3), np.int64), np.ones((3, 2), np.int64), 0, 2, "os", "rows must be"),
        (np.ones((2, 3), np.int64), np.ones((3, 2), np.int64), 2, -1, "is", "cols must be"),
        (np.ones((2, 3), np.int64), np.ones((3, 2), np.int64), 2.0, 2, "os", "rows must be"),
        (np.ones((2, 3), np.int64), np.ones((3, 2), np.int64), 2, 2, "rs", "unknown dataflow"),
        (np.ones((2, 3)), np.ones((3, 2), np.int64), 2, 2, "os", "integer array"),
        (np.ones((0, 3), np.int64), np.ones((3, 2), np.int64), 2, 2, "os", "non-empty"),
    ],
)
def test_bad_arguments(inputs, weights, rows, cols, dataflow, match):
    with pytest.raises(ValueError, match=match):
        run_systolic(inputs, weights, rows, cols, dataflow)
