"""Closed-form cycle counts of a systolic array, for the `os`, `ws` and `is` dataflows.

Every function here works on numpy arrays (or scalars) and broadcasts, so one call prices
many design points at once (DESIGN.md §4, "one implementation").

GEMM view: ``inputs[m, k] @ weights[k, n] -> outputs[m, n]`` on an array of ``rows`` x
``cols`` PEs. Each dataflow keeps one operand (or the outputs) stationary in the PEs and
maps two GEMM dimensions onto the array; the third one is streamed through time:

========  ==================  ===================  ==================  ==================
dataflow  stationary          array rows hold (Sr)  array cols hold (Sc) streamed (T)
========  ==================  ===================  ==================  ==================
``os``    outputs[m, n]       m                     n                   k
``ws``    weights[k, n]       k                     n                   m
``is``    inputs[m, k]        k                     m                   n
========  ==================  ===================  ==================  ==================

The physical model (checked cycle by cycle against ``accelsim.reference.systolic``):

* The array is a grid of ``R x C`` PEs; operands enter at the left and top edges and
  results leave at the bottom edge; a PE that holds no work still forwards data (it is a
  register). A fold's tile of ``r <= R`` rows and ``c <= C`` columns sits in the top-left
  corner.
* Folds run one after another, without overlap: ``Fr = ceil(Sr/R)`` row folds times
  ``Fc = ceil(Sc/C)`` column folds.

``os`` fold (r x c outputs, reduction T = k): row ``i`` of the inputs enters the left edge
skewed by ``i`` cycles, column ``j`` of the weights the top edge skewed by ``j``; operand
``t`` meets PE(i, j) in cycle ``t + i + j`` (0-based), so the last MAC, in PE(r-1, c-1),
happens in cycle ``T - 1 + (r - 1) + (c - 1)``: ``T + r + c - 2`` cycles of compute. The
accumulators are then shifted down and out of the bottom edge: the value of row 0 needs
``R`` shifts. Fold cost: ``T + r + c - 2 + R``.

``ws`` fold (stationary tile r x c of weights, T = m streamed rows): the weight tile is
shifted in from the top, one row per cycle, ``r`` cycles. Then input row ``t`` enters
array row ``i`` in cycle ``t + i`` and moves right one PE per cycle, reaching PE(i, j) in
cycle ``t + i + j``; the partial sum of output (t, j) starts at PE(0, j) in cycle ``t + j``
and moves down one PE per cycle, so it meets its operand in every PE, and leaves the
bottom edge after PE(R-1, j), in cycle ``t + (R - 1) + j``. The last output (t = T-1,
j = c-1) leaves in cycle ``T - 1 + R - 1 + c - 1``: ``T + R + c - 2`` cycles of streaming.
Fold cost: ``r + T + R + c - 2``. ``is`` is ``ws`` with the roles of inputs and weights
exchanged (inputs stationary, weight columns streamed), so the same cost with T = n.

Summing a fold cost over all folds, with ``sum(r) = Sr`` over the row folds and
``sum(c) = Sc`` over the column folds (a partial fold pays only for its used rows/cols)::

    os:     sum_folds (T + r + c - 2 + R) = F (T + R - 2) + Fc Sr + Fr Sc
    ws/is:  sum_folds (r + T + R + c - 2) = F (T + R - 2) + Fc Sr + Fr Sc

with ``F = Fr Fc``. The two expressions coincide: one closed form serves all three
dataflows once (Sr, Sc, T) are chosen. ``groups`` independent GEMMs (grouped and
depthwise convolutions, batched matmuls) run one after another.
"""

from __future__ import annotations

import numpy as np

DATAFLOWS = ("os", "ws", "is")


def dims(m, n, k, dataflow: str):
    """Return ``(Sr, Sc, T)``: the GEMM extents on array rows, array cols and time."""
    if dataflow == "os":
        return m, n, k
    if dataflow == "ws":
        return k, n, m
    if dataflow == "is":
        return k, m, n
    raise ValueError(f"unknown dataflow {dataflow!r}; allowed: {', '.join(DATAFLOWS)}")


def ceil_div(a, b):
    """Integer ceiling division that works on numpy integer arrays."""
    return -(-np.asarray(a) // np.asarray(b))


def folds(m, n, k, rows, cols, dataflow: str):
    """Number of row folds and column folds ``(Fr, Fc)``."""
    sr, sc, _ = dims(m, n, k, dataflow)
    return ceil_div(sr, rows), ceil_div(sc, cols)


def systolic_cycles(m, n, k, rows, cols, dataflow: str, groups=1):
    """Cycles to run ``groups`` GEMMs of ``m x k @ k x n`` on a ``rows x cols`` array.

    ``F (T + R - 2) + Fc Sr + Fr Sc`` per group, derived in the module docstring.
    Arguments broadcast; the result is an int64 array (0-d for scalar inputs).
    """
    sr, sc, t = (np.asarray(x, dtype=np.int64) for x in dims(m, n, k, dataflow))
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    fr, fc = ceil_div(sr, r), ceil_div(sc, c)
    per_group = fr * fc * (t + r - 2) + fc * sr + fr * sc
    return per_group * np.asarray(groups, dtype=np.int64)


def systolic_terms(rows, cols, dataflow: str) -> list:
    """`systolic_cycles` of one group as a sum of products of one factor per GEMM dimension:
    ``F (T + R - 2) + Fc Sr + Fr Sc = Fr Fc T + (R - 2) Fr Fc + Fc Sr + Fr Sc``, as
    ``[(coefficient, (f_m, f_n, f_k))]``, each factor a function of that dimension's extent
    or None for the extent itself (`accelsim.memory.tiled_product` sums such products over
    tiles in closed form)."""

    def one(x):
        return 1

    def fr(x):
        return ceil_div(x, rows)

    def fc(x):
        return ceil_div(x, cols)

    by_role = [(1, (fr, fc, None)), (rows - 2, (fr, fc, one)), (1, (None, fc, one)),
               (1, (fr, None, one))]  # fmt: skip
    role = {"os": (0, 1, 2), "ws": (2, 1, 0), "is": (1, 2, 0)}[dataflow]  # (m, n, k) -> role
    return [(c, tuple(f[r] for r in role)) for c, f in by_role]


def scalesim_cycles(m, n, k, rows, cols, dataflow: str, groups=1):
    """SCALE-Sim v3 "Total Cycles" (COMPUTE_REPORT, ``InterfaceBandwidth: CALC``).

    SCALE-Sim charges every fold as a full ``R x C`` fold and does not drain ``os``
    accumulators: ``F (R + C + T - 2) - 1`` for ``os`` and ``F (2R + C + T - 2) - 1`` for
    ``ws``/``is``, with ``F = ceil(Sr/R) ceil(Sc/C)``; ``groups`` GEMMs run as separate layers.
    """
    sr, sc, t = (np.asarray(x, dtype=np.int64) for x in dims(m, n, k, dataflow))
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    f = ceil_div(sr, r) * ceil_div(sc, c)
    fill = r + c - 2 if dataflow == "os" else 2 * r + c - 2
    return (f * (fill + t) - 1) * np.asarray(groups, dtype=np.int64)


TIMINGS = {"accelsim": systolic_cycles, "scalesim": scalesim_cycles}
