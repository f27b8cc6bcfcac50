"""Cycle-stepped reference simulator of a systolic array (``os``, ``ws``, ``is`` dataflows).

This module is an *independent witness* for the closed-form cycle model in
``accelsim.dataflow``: it imports nothing from ``accelsim``, uses plain numpy, and never
computes a cycle count from a formula. It moves values through per-PE registers, one loop
iteration per clock cycle, and the cycle count is simply the number of iterations executed
until the last output has left the array.

GEMM view: ``inputs[m, k] @ weights[k, n] -> outputs[m, n]`` on a grid of ``R x C`` PEs
(``R = rows``, ``C = cols``). PE(i, j) sits in array row ``i`` (0 = top) and array column
``j`` (0 = left).

Physical model
--------------
* Operands enter at the left edge (moving right) and the top edge (moving down); results
  leave at the bottom edge. Every PE always forwards the data that passes through it, even
  when it has no work (it is then just a register).
* Each register carries a value and a *valid* bit (or, for results, a *tag*: the index of
  the output it belongs to, ``-1`` for an empty slot). Bubbles carry the value 0 and are
  invalid; they never produce a MAC and never produce an output. Outputs are written to the
  result matrix at the place named by their tag when they leave the bottom edge, so a
  mis-routed value would show up as a wrong result rather than being silently put right.
* Clocking: at the start of a cycle every moving register takes the value of its upstream
  neighbour (the edge PEs take the next element of the edge feed); during the cycle each PE
  does its MAC with what its registers now hold; at the end of the cycle the bottom row's
  results leave the array. A cycle is counted once it has run.
* The edge feeds are skewed: lane ``i`` of a feed is delayed by ``i`` cycles (the usual
  triangular skew buffers), so operand ``t`` of lane ``i`` enters at cycle ``t + i``.
* The GEMM is cut into folds. With ``Sr`` the extent mapped onto array rows, ``Sc`` the one
  mapped onto array columns and ``T`` the streamed one, there are ``ceil(Sr/R)`` row folds
  times ``ceil(Sc/C)`` column folds. Each fold's tile of ``r <= R`` rows and ``c <= C``
  columns sits in the top-left corner of the array. Folds run one after another without
  overlap, and the cycle counter runs on across folds. Every fold starts with empty moving
  registers (leftover operands in unused PEs are dropped; they could only flow out of the
  right or bottom edge). Accumulators and stationary registers persist across folds.

Dataflow mapping:

========  =================  ===============  ===============  ==============
dataflow  stationary         Sr (array rows)  Sc (array cols)  T (streamed)
========  =================  ===============  ===============  ==============
``os``    outputs[m, n]      m                n                k
``ws``    weights[k, n]      k                n                m
``is``    inputs[m, k]       k                m                n
========  =================  ===============  ===============  ==============

``os`` (output stationary) -- registers per PE: ``a`` (input, moves right), ``b`` (weight,
moves down), ``acc`` (accumulator, stationary during compute). Row ``i`` of the input tile
streams in from the left edge, column ``j`` of the weight tile from the top edge, both
skewed, so operand ``t`` meets PE(i, j) in cycle ``t + i + j`` of the fold. A PE whose
``a`` and ``b`` are both valid adds ``a * b`` to ``acc``. The compute phase ends in the
cycle in which the last MAC of the tile is done (``r * c * T`` MACs; this is a completion
check on the work, not a cycle formula). Then the drain phase: in each cycle the bottom row
of accumulators leaves the array and every other row moves down one PE (zeros, untagged,
enter at the top). It ends when no tagged accumulator is left, i.e. after the value of row
0 has made its ``R`` shifts. The drain leaves all accumulators zero for the next fold.

``ws`` (weight stationary) -- registers per PE: ``w`` (stationary operand), ``a`` (streamed
operand, moves right), ``psum`` (partial sum, moves down, tagged with its output). Preload
phase: the weight tile is shifted in from the top edge, one row per cycle, last row first,
so after ``r`` cycles tile row ``i`` sits in PE row ``i`` (columns ``>= c`` receive zeros;
rows ``>= r`` keep whatever they held, which is harmless because only bubbles reach them).
Stream phase: row ``t`` of the streamed operand enters array row ``i`` (its element ``i``)
in cycle ``t + i`` and moves right, reaching PE(i, j) in cycle ``t + i + j``. A fresh
partial sum (value 0) for output ``(t, j)`` enters PE(0, j) in cycle ``t + j`` and moves down
one PE per cycle, so it meets its operand in every PE, where ``w * a`` is added; below row
``r - 1`` the PEs only forward it (their ``a`` is a bubble). It leaves the bottom edge at
the end of the cycle in which it was in PE(R-1, j) and is added into the output buffer (a
row fold contributes a partial sum over its slice of ``k``). The fold ends when no
partial sum is pending at the top edge or in flight in the array.

``is`` (input stationary) is ``ws`` with the roles of the operands exchanged: the
stationary matrix is ``inputs.T`` ``[k, m]``, the streamed rows are the weight columns
(``weights.T``, ``[n, k]``), and the stream produces ``outputs.T``.

Tracing
-------
``run_systolic(..., trace=True)`` also returns one snapshot per cycle: a dict with
``cycle`` (0-based, global), ``fold`` (0-based), ``phase`` (``"compute"``/``"drain"`` for
``os``, ``"preload"``/``"stream"`` for ``ws``/``is``), the register grids as nested lists
(``None`` for a bubble / empty slot) and ``out``, the list of ``(row, col, value)`` that
left the bottom edge at the end of the cycle. ``os`` snapshots hold ``a`` and ``b`` (the
operands the PEs used in the cycle) and ``acc`` (the accumulators at the end of the cycle);
``ws``/``is`` snapshots hold ``w`` (stationary registers at the end of the cycle), ``a`` and
``psum`` (the partial sums after the cycle's MAC, before the bottom row leaves). ``out``
coordinates index ``outputs`` for ``os`` and ``ws``, and ``outputs.T`` for ``is``.

Buffer traffic
--------------
``run_systolic(..., counts=True)`` also returns (last) a dict of what crossed the array's
edges, counted by the simulation as it happens, not from a formula. A value is counted when
a valid element is presented at an edge or leaves it, so bubbles, the zero-filled unused
columns of a preload row and the fresh zero partial sums entering at the top are not:

* ``inputs``: elements of ``inputs`` that entered the array from the input buffer (``os``
  and ``ws``: through the left edge, once per cycle they are fed; ``is``: the stationary
  tile rows shifted in through the top edge during preloads);
* ``weights``: the same for ``weights`` (``os``: top edge; ``ws``: preloads; ``is``: left
  edge);
* ``outputs``: results that left the bottom edge into the output buffer: one per output per
  fold (``os``: each accumulator drained once; ``ws``/``is``: one partial sum per output and
  row fold);
* ``output_reads``: those of ``outputs`` added into an output that an earlier fold had
  already written (a read-modify-write of the output buffer).
"""

from __future__ import annotations

import numpy as np

DATAFLOWS = ("os", "ws", "is")


def run_systolic(
    inputs: np.ndarray,
    weights: np.ndarray,
    rows: int,
    cols: int,
    dataflow: str,
    *,
    trace: bool = False,
    counts: bool = False,
):
    """Simulate ``inputs @ weights`` on a ``rows x cols`` systolic array, cycle by cycle.

    Returns ``(outputs, cycles)``, or ``(outputs, cycles, snapshots)`` when ``trace`` is
    true (see the module docstring); ``counts=True`` appends the dict of buffer traffic
    (``inputs``, ``weights``, ``outputs``, ``output_reads``; see "Buffer traffic" in the
    module docstring). Raises ``ValueError`` on malformed arguments.
    """
    x, w = _validate(inputs, weights, rows, cols, dataflow)
    array = _Array(rows, cols, trace, counts)
    if dataflow == "os":
        out = array.output_stationary(x, w)
        fed = {"inputs": array.left, "weights": array.top}
    elif dataflow == "ws":
        out = array.stationary(x, w)
        fed = {"inputs": array.left, "weights": array.top}
    else:
        out = array.stationary(w.T, x.T).T
        fed = {"inputs": array.top, "weights": array.left}
    out = np.ascontiguousarray(out)
    result = (out, array.cycle) + ((array.snapshots,) if trace else ())
    if counts:
        traffic = {**fed, "outputs": array.written, "output_reads": array.reread}
        result += ({name: int(v) for name, v in traffic.items()},)
    return result


def _validate(inputs, weights, rows, cols, dataflow):
    if dataflow not in DATAFLOWS:
        raise ValueError(f"unknown dataflow {dataflow!r}; allowed: {', '.join(DATAFLOWS)}")
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    arrays = []
    for name, v in (("inputs", inputs), ("weights", weights)):
        v = np.asarray(v)
        if v.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array, got {v.ndim}-D shape {v.shape}")
        if v.dtype.kind not in "iu":
            raise ValueError(f"{name} must be an integer array, got dtype {v.dtype}")
        if 0 in v.shape:
            raise ValueError(f"{name} must be non-empty, got shape {v.shape}")
        arrays.append(v.astype(np.int64))
    x, w = arrays
    if x.shape[1] != w.shape[0]:
        raise ValueError(
            f"mismatched k: inputs is {x.shape} (k={x.shape[1]}) but weights is "
            f"{w.shape} (k={w.shape[0]})"
        )
    return x, w


def _skew(streams: np.ndarray, lanes: int):
    """Edge feed of ``lanes`` lanes: lane ``i`` gets ``streams[i]`` delayed by ``i`` cycles.

    Returns ``(values, valid)``, both ``[T + used - 1, lanes]``; row ``s`` is what enters
    the edge PEs in cycle ``s`` of the phase. Unused lanes and gaps carry invalid zeros.
    """
    used, length = streams.shape
    values = np.zeros((length + used - 1, lanes), np.int64)
    valid = np.zeros(values.shape, bool)
    for i in range(used):
        values[i : i + length, i] = streams[i]
        valid[i : i + length, i] = True
    return values, valid


def _at(feed, valid, s):
    """What the edge feed presents in cycle ``s`` (a bubble once the feed is exhausted)."""
    return (feed[s], valid[s]) if s < len(feed) else (0, False)


def _grid(values, valid):
    """A register grid as nested lists, ``None`` where the register holds a bubble.

    ``valid`` is a valid-bit grid, or a tag grid (``-1`` = empty).
    """
    return np.where(valid if valid.dtype == bool else valid >= 0, values, None).tolist()


class _Array:
    """Register state of the ``R x C`` PE grid, the cycle counter, the optional trace and
    the optional edge-traffic counters."""

    def __init__(self, rows: int, cols: int, trace: bool, counts: bool = False):
        self.R, self.C = int(rows), int(cols)
        self.cycle = 0
        self.fold = 0
        self.snapshots = [] if trace else None
        # Edge traffic (only kept when ``counts``): valid elements that entered through the
        # left and the top edge, results that left the bottom edge, and how many of those
        # were added into an output an earlier fold had written.
        self.counting = bool(counts)
        self.left = self.top = self.written = self.reread = 0
        self.seen = None  # per output: has a result of it left the array yet
        # Registers that persist across folds.
        self.acc = np.zeros((self.R, self.C), np.int64)  # os accumulators
        self.w = np.zeros((self.R, self.C), np.int64)  # ws/is stationary operands

    def _tick(self, phase, out=None, **grids):
        """Close one clock cycle (and record it when tracing).

        ``out`` is ``(rows, cols, values)`` of the results that left the bottom edge.
        """
        if self.snapshots is not None:
            snap = {"cycle": self.cycle, "fold": self.fold, "phase": phase}
            snap.update({name: _grid(*g) for name, g in grids.items()})
            snap["out"] = [] if out is None else list(zip(*(o.tolist() for o in out), strict=True))
            self.snapshots.append(snap)
        self.cycle += 1

    # ------------------------------------------------------------------ os
    def _leave(self, rr, cc):
        """Count results leaving the bottom edge for outputs ``(rr, cc)``."""
        self.written += len(rr)
        self.reread += int(np.count_nonzero(self.seen[rr, cc]))
        self.seen[rr, cc] = True

    def output_stationary(self, x, w):
        """``x[Sr, T] @ w[T, Sc]`` with the outputs stationary; returns ``[Sr, Sc]``."""
        out = np.zeros((x.shape[0], w.shape[1]), np.int64)
        self.seen = np.zeros(out.shape, bool) if self.counting else None
        for r0 in range(0, x.shape[0], self.R):
            for c0 in range(0, w.shape[1], self.C):
                self._os_fold(x[r0 : r0 + self.R], w[:, c0 : c0 + self.C], r0, c0, out)
                self.fold += 1
        return out

    def _os_fold(self, x, w, r0, c0, out):
        R, C = self.R, self.C
        (r, length), c = x.shape, w.shape[1]
        left, left_ok = _skew(x, R)
        top, top_ok = _skew(w.T, C)
        a, a_ok = np.zeros((R, C), np.int64), np.zeros((R, C), bool)
        b, b_ok = np.zeros((R, C), np.int64), np.zeros((R, C), bool)
        acc = self.acc
        tag_r, tag_c = np.full((R, C), -1), np.full((R, C), -1)
        tag_r[:r, :c] = r0 + np.arange(r)[:, None]
        tag_c[:r, :c] = c0 + np.arange(c)[None, :]

        macs, s = 0, 0
        while macs < r * c * length:  # compute phase: one iteration per cycle
            a[:, 1:], a_ok[:, 1:] = a[:, :-1], a_ok[:, :-1]  # operands move right...
            a[:, 0], a_ok[:, 0] = _at(left, left_ok, s)
            b[1:], b_ok[1:] = b[:-1], b_ok[:-1]  # ...and down
            b[0], b_ok[0] = _at(top, top_ok, s)
            if self.counting:
                self.left += int(np.count_nonzero(a_ok[:, 0]))
                self.top += int(np.count_nonzero(b_ok[0]))
            hit = a_ok & b_ok
            acc += np.where(hit, a * b, 0)
            macs += int(np.count_nonzero(hit))
            s += 1
            self._tick("compute", a=(a, a_ok), b=(b, b_ok), acc=(acc, tag_r))

        while (tag_r >= 0).any():  # drain phase: shift accumulators out of the bottom edge
            leaving = tag_r[-1] >= 0
            rr, cc, vv = tag_r[-1, leaving], tag_c[-1, leaving], acc[-1, leaving]
            out[rr, cc] = vv
            if self.counting:
                self._leave(rr, cc)
            acc[1:], tag_r[1:], tag_c[1:] = acc[:-1], tag_r[:-1], tag_c[:-1]
            acc[0], tag_r[0], tag_c[0] = 0, -1, -1
            self._tick("drain", (rr, cc, vv), acc=(acc, tag_r))

    # ------------------------------------------------------------- ws / is
    def stationary(self, x, w):
        """``x[T, Sr] @ w[Sr, Sc]`` with ``w`` stationary; returns ``[T, Sc]``."""
        out = np.zeros((x.shape[0], w.shape[1]), np.int64)
        self.seen = np.zeros(out.shape, bool) if self.counting else None
        for r0 in range(0, w.shape[0], self.R):
            for c0 in range(0, w.shape[1], self.C):
                tile = w[r0 : r0 + self.R, c0 : c0 + self.C]
                self._ws_fold(x[:, r0 : r0 + self.R], tile, c0, out)
                self.fold += 1
        return out

    def _ws_fold(self, x, tile, c0, out):
        R, C = self.R, self.C
        length, c = x.shape[0], tile.shape[1]
        all_w = np.ones((R, C), bool)

        for row in tile[::-1]:  # preload phase: shift the tile in from the top, last row first
            self.w[1:] = self.w[:-1]
            self.w[0] = 0
            self.w[0, :c] = row
            if self.counting:
                self.top += row.size  # the tile row's elements; the zero fill is not read
            self._tick("preload", w=(self.w, all_w))

        left, left_ok = _skew(x.T, R)  # lane i (array row i) streams column i of x
        starts, starts_ok = _skew(np.broadcast_to(np.arange(length), (c, length)), C)
        a, a_ok = np.zeros((R, C), np.int64), np.zeros((R, C), bool)
        psum, tag = np.zeros((R, C), np.int64), np.full((R, C), -1)  # tag: output row t
        col = c0 + np.arange(C)

        s = 0
        while s < len(starts) or (tag >= 0).any():  # stream phase: one iteration per cycle
            a[:, 1:], a_ok[:, 1:] = a[:, :-1], a_ok[:, :-1]  # operands move right
            a[:, 0], a_ok[:, 0] = _at(left, left_ok, s)
            if self.counting:
                self.left += int(np.count_nonzero(a_ok[:, 0]))
            psum[1:], tag[1:] = psum[:-1], tag[:-1]  # partial sums move down
            t0, ok0 = _at(starts, starts_ok, s)
            psum[0], tag[0] = 0, np.where(ok0, t0, -1)
            psum += np.where(a_ok, a * self.w, 0)
            leaving = tag[-1] >= 0  # bottom row leaves at the end of the cycle
            tt, cc, vv = tag[-1, leaving], col[leaving], psum[-1, leaving]
            out[tt, cc] += vv
            if self.counting:
                self._leave(tt, cc)
            s += 1
            self._tick("stream", (tt, cc, vv), w=(self.w, all_w), a=(a, a_ok), psum=(psum, tag))
            tag[-1] = -1
