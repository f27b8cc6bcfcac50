"""Cycle-stepped systolic array of precision-flexible PEs (BitFusion, UNPU bit-serial, XNOR).

``run_systolic_pe`` is ``accelsim.reference.systolic.run_systolic`` with PEs that do more
than one multiply per step, written in numba. Like ``run_systolic`` it is an independent
witness for the closed-form model: it imports nothing from it (only ``run_systolic``'s
input checks), never computes a
cycle count from a formula, moves values through per-PE registers, runs one loop iteration
per clock cycle and counts the cycles it ran.

Steps
-----
A PE *step* is what one MAC is in ``run_systolic``: the operands of a step move through the
array exactly as a MAC's operands do there (same edge skew, fill, drain, preload, folds in
the same order; see that module's docstring), with two differences: an operand register
holds a *group* of consecutive reduction elements, and the whole array moves once per step,
not once per cycle. A step lasts ``cycles_per_step`` clock cycles; the operands stay in the
PE registers for all of them and the PE does one cycle of its arithmetic in each. The ``os``
drain shifts and the ``ws``/``is`` preload rows move at the step rate too, at the last and
the first cycle of their step.

Packing along the reduction: ``k`` is cut into ``k / k_run`` contiguous runs of ``k_run``
elements (a conv's input channels; all of ``k`` by default), and each run into groups of at
most ``p`` consecutive elements, the last one partial, as BitFusion's released simulator
packs input channels. A group is one operand of a step; the unused lanes of a partial group
carry zeros (and, for ``xnor``, are masked off by the group's lane count).

PE kinds (``pe`` is an ``accelsim.pe`` model or a mapping with ``kind`` and the fields)
---------------------------------------------------------------------------------------
``bit_fusion`` (BitFusion, Sharma et al., ISCA 2018): a fusion unit of sixteen 2-bit
BitBricks. An operand of ``b`` bits (two's complement; ``"binary"`` ±1 runs as 2-bit
signed) uses the narrowest mode of 2, 4 or 8 bits that holds it, i.e. ``mode / 2`` bricks:
brick ``i`` is bits ``2i, 2i+1``, unsigned except the top brick, which is signed. A product
is the sum over brick pairs of ``brick_a[i] * brick_w[j] << 2(i + j)``; a BitBrick widens
its 2-bit inputs to 3 bits (sign- or zero-extended) and adds its 9 bit-AND partial products
(the third bit weighs -4). The 16 bricks hold ``16 / (bricks of a x bricks of w)`` products
of distinct reduction elements (the group size ``p``), summed: one step, one cycle. An
operand wider than 8 bits (up to 16) puts the unit in its 8x8 mode (the other operand
sign-extended to 8 bits): one product per step, split into bytes, a low byte (unsigned
bricks) and a high byte (signed top brick), one (byte of a, byte of w) pair per cycle,
shifted by 8 per byte: 2 or 4 cycles per step.

``bit_serial`` (UNPU, Lee et al., JSSC 2019): a step covers ``p = lut_group`` reduction
elements and lasts ``w_bits`` cycles. In its first cycle the PE builds the table of the
``2**p`` subset sums of its ``p`` activations (entry ``q`` = sum of the activations whose
lane bit is set in ``q``) and holds it; in cycle ``b`` it takes bit ``b`` of each of the
``p`` weights as the index, shifts the entry left by ``b`` and accumulates it (subtracts it
for the sign plane ``b = w_bits - 1`` of two's-complement weights). For ±1 weights
(``w_bits="binary"``) a step covers ``p = binary_group`` elements in one cycle: the table is
UNPU's symmetric one, entry ``q`` = sum of ``+a`` where bit ``q`` is set and ``-a`` where
not, half of it built by additions and the other half by negation; the weights' sign
pattern is the index.

``xnor`` (XNOR-Net, FINN): ±1 operands (both ``"binary"``). Operands are packed as they
enter the array, ``p = lanes`` elements to a group, one bit each (1 = +1), 64 to a word,
least significant first; a step computes ``2 popcount(xnor(a, w) & mask) - n_valid`` over
the group's ``n_valid`` real lanes, in one cycle.

Results are exact integers (int64): ``inputs @ weights``. Bit-widths are checked against
the PE and the values against the widths (two's complement ranges), and the widths must
keep every sum inside int64.

Buffer traffic
--------------
``run_systolic_pe(..., counts=True)`` also returns (last) the dict of ``run_systolic``'s
``counts=True`` (``inputs``, ``weights``, ``outputs``, ``output_reads``; see "Buffer traffic"
in ``accelsim.reference.systolic``), counted by the kernels as groups cross the edges. An
operand group counts its real reduction elements (its lane count: a partial group's zero
lanes are padding, not buffer reads), once per time it enters the array: at the left edge,
at the top edge, or in a preload row (whose columns past the tile are zero fill, not
counted). A result counts one per output when it leaves the bottom edge (``os``: once;
``ws``/``is``: once per row fold, whose ``R`` array rows hold ``R`` steps, i.e. ``R`` groups of
the reduction). The kernels always count (a few additions per step at the edges); the
wrapper drops the counts unless asked.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from accelsim.reference.systolic import _validate

PE_KINDS = ("bit_fusion", "bit_serial", "xnor")
BINARY = "binary"

_FUSION, _SERIAL, _XNOR = 0, 1, 2
_BRICKS = 16  # BitBricks per fusion unit
_WORD = 64
_MAX_GROUP = 12  # a LUT of 2**12 entries per PE is the largest this reference builds


# ------------------------------------------------------------------------ PE arithmetic


@njit(cache=True)
def _bitbrick(x, x_signed, y, y_signed):
    """A BitBrick: 2-bit ``x`` times 2-bit ``y``, each signed (-2..1) or unsigned (0..3).

    Each input is widened to 3 bits (bit 2 = copy of bit 1 when signed, else 0); the product
    is the sum of the 9 partial products ``x_i & y_j`` weighted ``2**(i+j)``, negated when
    exactly one of ``i``, ``j`` is the -4-weighted bit 2.
    """
    x3 = x & 3
    y3 = y & 3
    if x_signed:
        x3 |= (x3 & 2) << 1
    if y_signed:
        y3 |= (y3 & 2) << 1
    prod = 0
    for i in range(3):
        for j in range(3):
            if (x3 >> i) & (y3 >> j) & 1:
                if (i == 2) != (j == 2):
                    prod -= 1 << (i + j)
                else:
                    prod += 1 << (i + j)
    return prod


@njit(cache=True)
def _fusion_cycle(u, act, wt, a_width, w_width):
    """One fusion-unit cycle: 16 BitBricks, shifted and summed.

    ``a_width``/``w_width``: the operand's mode, 2, 4, 8 or 16 bits; 16 runs as two 8-bit
    halves, ``u`` picks the (half of a, half of w) pair of this cycle.
    """
    nba = min(a_width, 8) // 2  # bricks per operand in this cycle
    nbw = min(w_width, 8) // 2
    w_halves = max(w_width // 8, 1)
    ha = u // w_halves
    hw = u % w_halves
    a_top = a_width // 2 - 1  # index of the signed brick
    w_top = w_width // 2 - 1
    total = 0
    for brick in range(_BRICKS):
        lane = brick // (nba * nbw)
        rest = brick % (nba * nbw)
        i = ha * nba + rest // nbw  # brick index within the operand
        j = hw * nbw + rest % nbw
        xa = (act[lane] >> (2 * i)) & 3  # arithmetic shift: two's complement bits
        yw = (wt[lane] >> (2 * j)) & 3
        total += _bitbrick(xa, i == a_top, yw, j == w_top) * (1 << (2 * (i + j)))
    return total


@njit(cache=True)
def _lowest_lane(q):
    """Index of the lowest set bit of ``q > 0``."""
    t = 0
    while not (q >> t) & 1:
        t += 1
    return t


@njit(cache=True)
def _build_lut(act, g, symmetric, lut):
    """UNPU's table of the ``2**g`` subset sums of ``act[:g]`` (or the symmetric ±a table)."""
    size = 1 << g
    if not symmetric:
        lut[0] = 0
        for q in range(1, size):  # add the lowest lane of the subset to the subset without it
            t = _lowest_lane(q)
            lut[q] = lut[q ^ (1 << t)] + act[t]
        return
    half = size >> 1  # entries with the top lane's bit set are built by additions...
    first = act[g - 1]
    for t in range(g - 1):
        first -= act[t]
    lut[half] = first  # +a for the top lane, -a for every other lane
    for q in range(1, half):
        t = _lowest_lane(q)
        lut[half | q] = lut[half | (q ^ (1 << t))] + 2 * act[t]  # lane t flips from -a to +a
    for q in range(half):  # ...and the other half by negation
        lut[q] = -lut[q ^ (size - 1)]


@njit(cache=True)
def _serial_cycle(u, act, wt, lut, g, w_bits, binary):
    """One bit-serial cycle: index the held LUT with weight bit-plane ``u``, shift, add."""
    if u == 0:
        _build_lut(act, g, binary, lut)
    pattern = 0
    for t in range(g):
        bit = (1 if wt[t] > 0 else 0) if binary else (wt[t] >> u) & 1
        pattern |= bit << t
    if binary:
        return lut[pattern]
    entry = lut[pattern] * (1 << u)
    return -entry if u == w_bits - 1 else entry


@njit(cache=True)
def _popcount(x):
    count = 0
    while x:
        x &= x - np.uint64(1)
        count += 1
    return count


@njit(cache=True)
def _xnor_cycle(act, wt, nvalid):
    """``2 popcount(xnor) - n_valid`` over packed words (bit patterns stored in int64)."""
    ones = 0
    for t in range(act.shape[0]):
        nbits = min(_WORD, nvalid - _WORD * t)
        if nbits <= 0:
            break
        mask = np.uint64(0xFFFFFFFFFFFFFFFF)
        if nbits < _WORD:
            mask = (np.uint64(1) << np.uint64(nbits)) - np.uint64(1)
        ones += _popcount(~(np.uint64(act[t]) ^ np.uint64(wt[t])) & mask)
    return 2 * ones - nvalid


@njit(cache=True)
def _pe_cycle(kind, u, act, wt, nvalid, lut, prm):
    """The contribution of one PE cycle ``u`` of a step to its accumulator / partial sum."""
    if kind == _FUSION:
        return _fusion_cycle(u, act, wt, prm[0], prm[1])
    if kind == _SERIAL:
        return _serial_cycle(u, act, wt, lut, prm[0], prm[1], prm[2] == 1)
    return _xnor_cycle(act, wt, nvalid)


# ------------------------------------------------------------------------- the array


@njit(cache=True)
def _os_kernel(kind, prm, s, X, W, nvalid, R, C, lutsz):
    """Output stationary: ``X[m, T, D]`` groups of inputs, ``W[T, n, D]`` of weights."""
    m, T, D = X.shape
    n = W.shape[1]
    out = np.zeros((m, n), np.int64)
    acc = np.zeros((R, C), np.int64)
    a = np.zeros((R, C, D), np.int64)
    b = np.zeros((R, C, D), np.int64)
    at = np.full((R, C), -1, np.int64)  # step index of the input group held, -1 = bubble
    bt = np.full((R, C), -1, np.int64)
    tag_r = np.full((R, C), -1, np.int64)  # output an accumulator belongs to, -1 = none
    tag_c = np.full((R, C), -1, np.int64)
    lut = np.zeros((R, C, lutsz), np.int64)
    seen = np.zeros((m, n), np.bool_)  # per output: has a result of it left the array yet
    fed = np.zeros(4, np.int64)  # edge traffic: left, top, out (bottom), out re-read
    cycle = 0
    for r0 in range(0, m, R):
        r = min(R, m - r0)
        for c0 in range(0, n, C):
            c = min(C, n - c0)
            at[:, :] = -1  # a fold starts with empty moving registers
            bt[:, :] = -1
            for i in range(r):
                for j in range(c):
                    tag_r[i, j] = r0 + i
                    tag_c[i, j] = c0 + j
            done = 0
            step = 0
            while done < r * c * T:  # compute phase: one iteration per step
                for i in range(R):  # operand groups move right...
                    for j in range(C - 1, 0, -1):
                        at[i, j] = at[i, j - 1]
                        a[i, j, :] = a[i, j - 1, :]
                    t = step - i  # skewed left edge: group t of row i enters at step t + i
                    if i < r and 0 <= t < T:
                        at[i, 0] = t
                        a[i, 0, :] = X[r0 + i, t, :]
                        fed[0] += nvalid[t]
                    else:
                        at[i, 0] = -1
                        a[i, 0, :] = 0
                for j in range(C):  # ...and down
                    for i in range(R - 1, 0, -1):
                        bt[i, j] = bt[i - 1, j]
                        b[i, j, :] = b[i - 1, j, :]
                    t = step - j
                    if j < c and 0 <= t < T:
                        bt[0, j] = t
                        b[0, j, :] = W[t, c0 + j, :]
                        fed[1] += nvalid[t]
                    else:
                        bt[0, j] = -1
                        b[0, j, :] = 0
                for u in range(s):  # the step's cycles: operands held, one PE cycle each
                    busy = 0
                    for i in range(R):
                        for j in range(C):
                            if at[i, j] >= 0 and bt[i, j] >= 0:  # both hold step at[i, j]
                                acc[i, j] += _pe_cycle(
                                    kind, u, a[i, j], b[i, j], nvalid[at[i, j]], lut[i, j], prm
                                )
                                busy += 1
                    cycle += 1
                done += busy
                step += 1
            while (tag_r >= 0).any():  # drain: one shift down per step, at its last cycle
                for u in range(s):
                    if u == s - 1:
                        for j in range(C):
                            if tag_r[R - 1, j] >= 0:
                                out[tag_r[R - 1, j], tag_c[R - 1, j]] = acc[R - 1, j]
                                fed[2] += 1
                                fed[3] += seen[tag_r[R - 1, j], tag_c[R - 1, j]]
                                seen[tag_r[R - 1, j], tag_c[R - 1, j]] = True
                        for i in range(R - 1, 0, -1):
                            for j in range(C):
                                acc[i, j] = acc[i - 1, j]
                                tag_r[i, j] = tag_r[i - 1, j]
                                tag_c[i, j] = tag_c[i - 1, j]
                        for j in range(C):
                            acc[0, j] = 0
                            tag_r[0, j] = -1
                            tag_c[0, j] = -1
                    cycle += 1
    return out, cycle, fed


@njit(cache=True)
def _stationary_kernel(kind, prm, s, swap, S, Z, nvalid, R, C, lutsz):
    """ws/is: ``S[T, Sc, D]`` stationary groups, ``Z[L, T, D]`` streamed rows of groups.

    ``swap``: the stationary operand is the activations (``is``), else the weights.
    Returns ``out[L, Sc]``, the cycles and the edge traffic: streamed elements (left edge),
    stationary elements (preloads), partial sums out (bottom edge) and those re-read.
    """
    T, Sc, D = S.shape
    L = Z.shape[0]
    out = np.zeros((L, Sc), np.int64)
    w = np.zeros((R, C, D), np.int64)  # stationary registers, persist across folds
    a = np.zeros((R, C, D), np.int64)
    at = np.full((R, C), -1, np.int64)  # streamed row index, -1 = bubble
    psum = np.zeros((R, C), np.int64)
    ptag = np.full((R, C), -1, np.int64)  # output row of the partial sum, -1 = empty
    lut = np.zeros((R, C, lutsz), np.int64)
    seen = np.zeros((L, Sc), np.bool_)  # per output: has a partial sum of it left yet
    fed = np.zeros(4, np.int64)  # edge traffic: left, top (preload), out, out re-read
    cycle = 0
    for r0 in range(0, T, R):
        r = min(R, T - r0)
        for c0 in range(0, Sc, C):
            c = min(C, Sc - c0)
            for q in range(r - 1, -1, -1):  # preload: last tile row first, one row per step
                for u in range(s):
                    if u == 0:  # the tile row enters at the top, the rest move down
                        for j in range(C):
                            for i in range(R - 1, 0, -1):
                                w[i, j, :] = w[i - 1, j, :]
                            if j < c:
                                w[0, j, :] = S[r0 + q, c0 + j, :]
                                fed[1] += nvalid[r0 + q]
                            else:
                                w[0, j, :] = 0
                    cycle += 1
            at[:, :] = -1
            ptag[:, :] = -1
            psum[:, :] = 0
            step = 0
            while step < L + c - 1 or (ptag >= 0).any():  # stream phase: one iteration per step
                for i in range(R):  # streamed groups move right
                    for j in range(C - 1, 0, -1):
                        at[i, j] = at[i, j - 1]
                        a[i, j, :] = a[i, j - 1, :]
                    t = step - i
                    if i < r and 0 <= t < L:
                        at[i, 0] = t
                        a[i, 0, :] = Z[t, r0 + i, :]
                        fed[0] += nvalid[r0 + i]
                    else:
                        at[i, 0] = -1
                        a[i, 0, :] = 0
                for j in range(C):  # partial sums move down; fresh ones enter at the top
                    for i in range(R - 1, 0, -1):
                        psum[i, j] = psum[i - 1, j]
                        ptag[i, j] = ptag[i - 1, j]
                    t = step - j
                    psum[0, j] = 0
                    ptag[0, j] = t if (j < c and 0 <= t < L) else -1
                for u in range(s):
                    for i in range(R):
                        for j in range(C):
                            if ptag[i, j] >= 0 and at[i, j] >= 0:
                                stat, moving = w[i, j], a[i, j]
                                act, wgt = (stat, moving) if swap else (moving, stat)
                                psum[i, j] += _pe_cycle(
                                    kind, u, act, wgt, nvalid[r0 + i], lut[i, j], prm
                                )
                    cycle += 1
                for j in range(C):  # the bottom row leaves at the end of the step
                    if ptag[R - 1, j] >= 0:
                        out[ptag[R - 1, j], c0 + j] += psum[R - 1, j]
                        fed[2] += 1
                        fed[3] += seen[ptag[R - 1, j], c0 + j]
                        seen[ptag[R - 1, j], c0 + j] = True
                    ptag[R - 1, j] = -1
                step += 1
    return out, cycle, fed


# ------------------------------------------------------------------- Python interface


def run_systolic_pe(
    inputs,
    weights,
    rows: int,
    cols: int,
    dataflow: str,
    pe,
    a_bits,
    w_bits,
    k_run=None,
    *,
    counts: bool = False,
):
    """Simulate ``inputs @ weights`` on ``rows x cols`` precision-flexible PEs, cycle by cycle.

    ``pe``: an ``accelsim.pe`` model (``BitFusion``, ``BitSerial``, ``Xnor``) or a mapping
    with ``kind`` (``bit_fusion``, ``bit_serial``, ``xnor``) and that kind's fields
    (``lut_group`` and ``binary_group``, optional ``max_a_bits``/``max_w_bits``; ``lanes``).
    ``a_bits``/``w_bits``: an int (signed two's complement width of the values) or
    ``"binary"`` (±1). ``k_run``: the contiguous run of the reduction that packing follows
    (must divide ``k``; default ``k``).

    Returns ``(outputs, cycles)``, outputs int64 ``[m, n]``; with ``counts=True``,
    ``(outputs, cycles, traffic)``, ``traffic`` the dict of elements that crossed the array's
    edges (``inputs``, ``weights``, ``outputs``, ``output_reads``; module docstring). Raises
    ``ValueError`` on malformed arguments, on widths the PE cannot run and on values outside
    the widths.
    """
    x, w = _validate(inputs, weights, rows, cols, dataflow)
    k = x.shape[1]
    kind, prm, s, p, lutsz = _configure(pe, a_bits, w_bits, k)
    _check_values(x, a_bits, "inputs", "a_bits")
    _check_values(w, w_bits, "weights", "w_bits")
    run = k if k_run is None else k_run
    if isinstance(run, bool) or not isinstance(run, (int, np.integer)) or run < 1 or k % run:
        raise ValueError(f"k_run must be a positive integer dividing k={k}, got {k_run!r}")
    xg, wg, nvalid = _stage(x, w, p, int(run), kind == _XNOR)
    R, C = int(rows), int(cols)
    if dataflow == "os":
        out, cycles, fed = _os_kernel(kind, prm, s, xg, wg, nvalid, R, C, lutsz)
        names = ("inputs", "weights")  # left edge, top edge
    elif dataflow == "ws":
        out, cycles, fed = _stationary_kernel(kind, prm, s, False, wg, xg, nvalid, R, C, lutsz)
        names = ("inputs", "weights")  # streamed, preloaded
    else:
        stat = np.ascontiguousarray(xg.transpose(1, 0, 2))
        stream = np.ascontiguousarray(wg.transpose(1, 0, 2))
        out_t, cycles, fed = _stationary_kernel(
            kind, prm, s, True, stat, stream, nvalid, R, C, lutsz
        )
        out = np.ascontiguousarray(out_t.T)
        names = ("weights", "inputs")  # streamed, preloaded
    if not counts:
        return out, int(cycles)
    traffic = dict(zip((*names, "outputs", "output_reads"), (int(v) for v in fed), strict=True))
    order = ("inputs", "weights", "outputs", "output_reads")
    return out, int(cycles), {name: traffic[name] for name in order}


def _field(pe, name):
    if isinstance(pe, Mapping):
        return pe.get(name)
    return getattr(pe, name, None)


def _positive(pe, name, kind, upper=None):
    v = _field(pe, name)
    bad = isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
    if bad or (upper is not None and v > upper):
        limit = f" and <= {upper}" if upper is not None else ""
        raise ValueError(f"{kind} PE needs {name}, an integer >= 1{limit}; got {v!r}")
    return int(v)


def _bits(v, name, upper):
    """An operand width: ``"binary"`` or an int in ``1 .. upper``."""
    if v == BINARY:
        return BINARY
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= upper:
        raise ValueError(f"{name} must be {BINARY!r} or an integer in 1..{upper}, got {v!r}")
    return int(v)


def _mode(bits):
    """BitFusion mode width holding a two's-complement operand: 2, 4, 8 or 16 (8x8 halves)."""
    b = 2 if bits == BINARY else bits
    return next(mode for mode in (2, 4, 8, 16) if b <= mode)


def _configure(pe, a_bits, w_bits, k):
    """``(kind code, params, cycles per step, elements per step, LUT size)`` of a PE."""
    kind = _field(pe, "kind")
    if kind not in PE_KINDS:
        raise ValueError(f"unknown PE kind {kind!r}; allowed: {', '.join(PE_KINDS)}")
    if kind == "bit_fusion":
        a, w = _bits(a_bits, "a_bits", 16), _bits(w_bits, "w_bits", 16)
        ma, mw = _mode(a), _mode(w)
        if max(ma, mw) == 16:  # the 8x8 mode, over several cycles
            ma, mw = max(ma, 8), max(mw, 8)
        p = _BRICKS // ((min(ma, 8) // 2) * (min(mw, 8) // 2))  # products the bricks hold
        s = (ma // min(ma, 8)) * (mw // min(mw, 8))  # (byte of a, byte of w) pairs
        prm, code, lutsz = (ma, mw, 0), _FUSION, 1
    elif kind == "bit_serial":
        a, w = _bits(a_bits, "a_bits", 32), _bits(w_bits, "w_bits", 32)
        for name, v in (("max_a_bits", a), ("max_w_bits", w)):
            limit = _field(pe, name)
            if limit is not None and v != BINARY and v > limit:
                raise ValueError(f"{name[4]}_bits {v} exceeds this bit_serial PE's {name} {limit}")
        binary = w == BINARY
        p = _positive(pe, "binary_group" if binary else "lut_group", kind, _MAX_GROUP)
        s = 1 if binary else w
        prm, code, lutsz = (p, s, int(binary)), _SERIAL, 1 << p
    else:
        a, w = _bits(a_bits, "a_bits", 32), _bits(w_bits, "w_bits", 32)
        if a != BINARY or w != BINARY:
            raise ValueError(
                f"xnor PEs run only binary operands (a_bits and w_bits {BINARY!r}), got "
                f"a_bits={a_bits!r}, w_bits={w_bits!r}"
            )
        p = _positive(pe, "lanes", kind)
        s, prm, code, lutsz = 1, (0,), _XNOR, 1
    mag = sum(0 if v == BINARY else v - 1 for v in (a, w)) + int(k).bit_length()
    if mag > 62:
        raise ValueError(
            f"a_bits={a_bits!r}, w_bits={w_bits!r} and k={k} could overflow int64 sums"
        )
    return code, np.array(prm, np.int64), s, p, lutsz


def _check_values(v, bits, name, bits_name):
    if bits == BINARY:
        if not np.all((v == 1) | (v == -1)):
            raise ValueError(f"{name} must hold only +1 and -1 for {bits_name}={BINARY!r}")
        return
    lo, hi = int(v.min()), int(v.max())
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if lo < low or hi > high:
        raise ValueError(
            f"{name} has values in [{lo}, {hi}], outside the {bits}-bit signed range "
            f"[{low}, {high}] of {bits_name}"
        )


def _stage(x, w, p, run, xnor):
    """Group the reduction for the array: ``X[m, T, D]``, ``W[T, n, D]``, lanes per step.

    Step ``t`` covers up to ``p`` consecutive elements of one ``run`` of ``k``; ``D = p``
    lanes (zeros past the run's end), or for ``xnor`` the lanes packed into ``D`` 64-bit
    words (bit 1 = +1, padding 0).
    """
    k = x.shape[1]
    per_run = -(-run // p)
    pos = np.arange(per_run)[:, None] * p + np.arange(p)[None, :]  # [per_run, p]
    idx = (np.arange(k // run)[:, None, None] * run + pos).reshape(-1, p)
    ok = np.broadcast_to(pos < run, (k // run, per_run, p)).reshape(-1, p)
    idx = np.where(ok, idx, 0)
    nvalid = ok.sum(axis=1).astype(np.int64)
    xs = np.where(ok, x[:, idx], 0)  # [m, T, p]
    ws = np.where(ok[:, :, None], w[idx], 0).transpose(0, 2, 1)  # [T, n, p]
    if xnor:
        xs, ws = _pack(xs), _pack(ws)
    return np.ascontiguousarray(xs), np.ascontiguousarray(ws), nvalid


def _pack(v):
    """±1 lanes ``[..., p]`` (0 = padding) -> ``[..., ceil(p / 64)]`` words (uint64 bit
    patterns stored in int64, bit 1 = +1)."""
    p = v.shape[-1]
    words = -(-p // _WORD)
    bits = np.zeros(v.shape[:-1] + (words * _WORD,), np.uint64)
    bits[..., :p] = v > 0
    shifted = bits.reshape(v.shape[:-1] + (words, _WORD)) << np.arange(_WORD, dtype=np.uint64)
    return np.bitwise_or.reduce(shifted, axis=-1).view(np.int64)
