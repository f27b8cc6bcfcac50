"""Memory: DRAM <-> SRAM tiling, traffic and stalls, vectorised over layers.

Search space (the mapper's tiling, per layer)
---------------------------------------------
A GEMM ``inputs[M, K] @ weights[K, N]`` (per group) is cut into DRAM tiles of
``Tm x Tn x Tk`` and run as a loop nest over the tiles in one of the six loop orders
(outer to inner, e.g. ``n, m, k``). Each tile size is chosen from ``E / 2^j`` for
``j = 0..4`` (rounded up to a multiple of ``g = min(rows, cols)``) and ``g`` itself, capped at
the extent ``E`` (under ``timing: scalesim`` also 1, see `every_tiling`). Every (Tm, Tn, Tk)
whose tiles fit the buffers is a candidate, in every loop
order that no other order beats on each tensor's DRAM bytes (`every_tiling`). The
mapper (`accelsim.model.evaluate`) costs every candidate exactly (the formulas below and the
model's) and keeps the best by the user's objective (`latency`, `energy`, `edp`); ties go
to fewer cycles, then to less DRAM traffic, then to the first in (order, Tm, Tn, Tk)
nesting (`best`).

Inputs: a conv's ifmap is smaller than the im2col matrix ``[M, K]`` the array consumes
(windows overlap), so input bytes in DRAM and in the input buffer are scaled by
``share = distinct input elements / (M K)`` (<= 1; a tile's halo is not counted).

Capacity (double buffering: the next tile loads while the current one computes)::

    inputs:  2 Tm Tk share a_bits / 8      <= inputs.size_bytes
    weights: 2 Tk Tn w_bits / 8            <= weights.size_bytes
    outputs: Tm Tn (acc_bits + out_bits) / 8 <= outputs.size_bytes   (accumulating + draining)

Reuse rule (as in Timeloop's analysis): a tile stays in its buffer while only loops that
do not index it advance *inside* it. A tensor is fetched again once for every iteration
of each loop that does not index it but sits outside the innermost loop (with more than
one trip) that does. Refetch factors ``f_inputs`` (indexed by m, k), ``f_weights``
(k, n), ``f_outputs`` (m, n). DRAM traffic per group::

    read  = M K share a/8 f_inputs + K N w/8 f_weights + (f_outputs - 1) M N acc/8
    write = M N out/8 + (f_outputs - 1) M N acc/8

(partial sums that leave the chip while k is still being reduced go out and come back at
``acc_bits``). Sub-byte operands are packed: 4-bit weights take half the bytes of 8-bit.

Time: each DRAM tile runs on the array as its own GEMM (its own folds, fill and drain),
so compute cycles are the closed form summed over the tiles. DRAM and array overlap
(double buffering) except for the first tile's loads and the last tile's write-back::

    prologue = (Tm Tk share a + Tk Tn w) / 8 / dram.bytes_per_cycle
    epilogue = Tm Tn out / 8 / dram.bytes_per_cycle
    steady   = max(compute, (read + write) / dram.bytes_per_cycle - prologue - epilogue,
                   sram_bytes[X] / X.bytes_per_cycle for each buffer X)
    cycles   = compute + ceil(prologue + steady + epilogue - compute)

(stalls, the rounded-up part above compute, are split by cause: `accelsim.model.whole_stalls`).
"""

from __future__ import annotations

import itertools

import numpy as np

ORDERS = tuple(itertools.permutations("mnk"))
RELEVANT = {"inputs": "mk", "weights": "kn", "outputs": "mn"}
HALVINGS = 5
PARTS = ("inputs_read", "weights_read", "spill")


def candidates(extent: np.ndarray, g: int, ones: bool = False) -> np.ndarray:
    """Tile sizes per layer: ``[L, HALVINGS + 1]`` (``+ 2`` with ``ones``: a last column of
    1), each in ``[1, extent]``."""
    e = np.asarray(extent, dtype=np.int64)[:, None]
    j = np.arange(HALVINGS, dtype=np.int64)[None, :]
    halves = -(-e // (1 << j))
    halves = -(-halves // g) * g
    out = np.concatenate([halves, np.full_like(e, g)] + [np.ones_like(e)] * ones, axis=1)
    return np.minimum(out, e)


def refetch(order, trips: dict, tensor: str):
    """Refetch factor of ``tensor`` for a loop ``order`` (outer to inner) and trip counts.

    The one loop that does not index the tensor multiplies its traffic when it sits outside
    a loop that does index it and runs more than once. ``order`` is a tuple of loop names,
    or a dict of loop -> position arrays (to evaluate many orders at once).
    """
    pos = order if isinstance(order, dict) else {loop: i for i, loop in enumerate(order)}
    return np.where(_refetched(pos, trips, tensor), trips[_other(tensor)], 1)


def _other(tensor: str) -> str:
    """The loop that does not index ``tensor``."""
    return next(loop for loop in "mnk" if loop not in RELEVANT[tensor])


def _refetched(pos: dict, trips: dict, tensor: str):
    """Whether ``tensor`` is fetched again on each trip of the loop that does not index it:
    that loop sits outside one that does and runs more than once."""
    cond = False
    for r in RELEVANT[tensor]:
        cond = cond | ((pos[_other(tensor)] < pos[r]) & (trips[r] > 1))
    return cond


def traffic(m, n, k, tm, tn, tk, bits, order, share=1.0):
    """DRAM read and write bytes per group for tiles ``(tm, tn, tk)`` in ``order``.

    ``share`` = distinct input elements / ``m k``: a conv's windows overlap, so its ifmap is
    smaller than the im2col matrix the array consumes; what crosses DRAM is the ifmap.
    """
    a, w, acc, out = bits
    trips = {"m": -(-m // tm), "n": -(-n // tn), "k": -(-k // tk)}
    parts = {
        "inputs_read": m * k * share * a / 8 * refetch(order, trips, "inputs"),
        "weights_read": k * n * w / 8 * refetch(order, trips, "weights"),
        "spill": (refetch(order, trips, "outputs") - 1) * m * n * acc / 8,
    }
    read = parts["inputs_read"] + parts["weights_read"] + parts["spill"]
    write = m * n * out / 8 + parts["spill"]
    return read, write, parts


def every_tiling(m, n, k, share, bits, g: int, ones: bool = False) -> dict:
    """Every candidate tiling of every layer, as flat arrays (DESIGN.md §5, the mapper's
    space), before the buffers are checked (`fitting`): one entry per (layer, distinct Tm,
    Tn, Tk, loop order) for each loop order that no other order beats on every tensor's DRAM
    traffic (`_useful_orders`; the first in `ORDERS` among equals).

    ``bits = (a, w, acc, out)`` arrays. Returns ``row`` (the layer of each entry, ascending:
    each layer's entries are contiguous), ``tm, tn, tk, order`` (index into ORDERS), ``rank``
    (the entry's position in the nesting (order, Tm, Tn, Tk), for ties), DRAM ``read,
    write`` bytes per group, their sum ``moved`` and parts ``inputs_read, weights_read,
    spill`` (partial sums out and back), and ``need_inputs, need_weights, need_outputs``,
    the bytes each buffer needs for the entry's tiles (`fitting`). It depends on the layers
    and ``g`` only, so points of a sweep that differ in buffer sizes, bandwidths or
    dataflows share it: the latest are kept, up to TABLES_BYTES.

    ``ones`` (``timing: scalesim``) adds tiles of 1 in each dimension: SCALE-Sim's CALC mode
    runs a layer whatever its SRAM sizes, so a layer none of whose ``g``-multiple tiles fits
    still runs, moving what its tiles of 1 move (SCALE-Sim's own DRAM traffic for such
    buffers differs: README, SCALE-Sim compatibility). Entries with a tile of 1 that was
    not already a candidate rank after all others, so they are chosen only where nothing
    else fits or does better.
    """
    key = (np.stack([np.asarray(v, dtype=np.float64) for v in (m, n, k, share, *bits)]).tobytes(),
           g, ones)  # fmt: skip
    found = _TABLES.get(key)  # (one lookup: dask may run chunks in threads)
    if found is not None:
        return found
    u = len(m)
    share = np.asarray(share, dtype=np.float64)[:, None, None, None, None]
    bits = tuple(np.asarray(b, dtype=np.float64)[:, None, None, None, None] for b in bits)
    cm = candidates(m, g, ones)[:, None, :, None, None]
    cn = candidates(n, g, ones)[:, None, None, :, None]
    ck = candidates(k, g, ones)[:, None, None, None, :]
    mm, nn, kk = (np.asarray(x, dtype=np.int64)[:, None, None, None, None] for x in (m, n, k))
    useful = _useful_orders(mm, nn, kk, cm, cn, ck, share, bits).reshape(len(ORDERS), u, -1)
    # a tile size listed twice (small extents repeat their candidates) is tried once
    fresh = [_first_seen(c.reshape(u, -1)) for c in (cm, cn, ck)]
    fresh = fresh[0][:, :, None, None] & fresh[1][:, None, :, None] & fresh[2][:, None, None, :]
    tried = useful.transpose(1, 0, 2) & fresh.reshape(u, 1, -1)  # [layer, order, tile size]
    row, order, t = np.nonzero(tried)
    i, j, q = np.unravel_index(t, fresh.shape[1:])
    tm, tn, tk = cm[row, 0, i, 0, 0], cn[row, 0, 0, j, 0], ck[row, 0, 0, 0, q]
    pos = {loop: np.array([p.index(loop) for p in ORDERS])[order] for loop in "mnk"}
    flat = [np.asarray(v)[row] for v in (m, n, k)]
    read, write, parts = traffic(*flat, tm, tn, tk, [b.reshape(-1)[row] for b in bits], pos,
                                 share.reshape(-1)[row])  # fmt: skip
    a, w, acc, out = (b.reshape(-1)[row] for b in bits)
    need = {  # bytes each buffer needs for the entry's tiles (double-buffered operands)
        "need_inputs": 2 * tm * tk * share.reshape(-1)[row] * a / 8,
        "need_weights": 2 * tk * tn * w / 8,
        "need_outputs": tm * tn * (acc + out) / 8,
    }
    last = (i == HALVINGS + 1) | (j == HALVINGS + 1) | (q == HALVINGS + 1)  # a tile of 1
    rank = (last * len(ORDERS) + order) * fresh[0].size + t
    found = {"row": row, "tm": tm, "tn": tn, "tk": tk, "order": order,
             "rank": rank, "read": read, "write": write,
             "moved": read + write, **parts,
             **need}  # fmt: skip
    _TABLES[key] = found
    while sum(a.nbytes for f in list(_TABLES.values()) for a in f.values()) > TABLES_BYTES:
        _TABLES.pop(next(iter(list(_TABLES))), None)  # the oldest (this one too if too large)
    return found


_TABLES: dict = {}
TABLES_BYTES = 64 << 20


def fitting(every: dict, sizes):
    """The entries of `every_tiling` whose tiles fit the buffers (double buffering, the
    module docstring): ``(indices, fits)``, ``fits`` per layer False where not even the
    smallest tile fits; such a layer keeps all its entries, as if they fitted, so every
    layer has entries (they are not used). ``sizes = (inputs, weights, outputs)`` bytes."""
    row = every["row"]
    ok = (
        (every["need_inputs"] <= sizes[0])
        & (every["need_weights"] <= sizes[1])
        & (every["need_outputs"] <= sizes[2])
    )
    fits = np.zeros(row[-1] + 1 if len(row) else 0, dtype=bool)
    fits[row[ok]] = True
    return np.flatnonzero(ok | ~fits[row]), fits


def _first_seen(c: np.ndarray) -> np.ndarray:
    """Per row, True where a value appears for the first time along the row."""
    earlier = np.tril(np.ones((c.shape[1], c.shape[1]), dtype=bool), -1)
    return ~((c[:, :, None] == c[:, None, :]) & earlier).any(axis=2)


def _useful_orders(mm, nn, kk, cm, cn, ck, share, bits):
    """Per loop order, layer and tile size ``[order, layer, 1, Tm, Tn, Tk]``: whether the
    order is worth trying: no other order moves at most as many DRAM bytes of every tensor
    (inputs, weights, partial sums) and fewer of one, and no earlier order moves the same.
    Every cost of a tiling (stalls, SRAM port time, energy) grows with each tensor's
    traffic, so the others never do better. Capacity not checked."""
    a, w, acc, out = bits
    trips = {"m": -(-mm // cm), "n": -(-nn // cn), "k": -(-kk // ck)}
    # each tensor's bytes, fetched once and refetched (the same arithmetic as `traffic`)
    once = {"inputs": mm * kk * share * a / 8, "weights": kk * nn * w / 8}
    again = {"inputs": once["inputs"] * trips["n"], "weights": once["weights"] * trips["m"]}
    spilled = (trips["k"] - 1) * mm * nn * acc / 8
    moved = []  # per order: (inputs, weights, partial sums)
    for order in ORDERS:
        pos = {loop: i for i, loop in enumerate(order)}
        moved.append(
            [np.where(_refetched(pos, trips, t), again[t], once[t]) for t in ("inputs", "weights")]
            + [np.where(_refetched(pos, trips, "outputs"), spilled, 0.0)]
        )
    useful = []
    for o, mine in enumerate(moved):
        beaten = False
        for p, other in enumerate(moved):
            if p == o:
                continue
            no_more = np.logical_and.reduce([b <= a for a, b in zip(mine, other)])
            less = np.logical_or.reduce([b < a for a, b in zip(mine, other)])
            beaten = beaten | (no_more & (less | (p < o)))
        useful.append(~beaten)
    return np.stack(useful)


def best(row, keys, rank, slack):
    """Per layer, the entry of `tilings` with the least first key, ties to the least second
    key and so on, then to the least ``rank``: an index into the entries, one per layer.
    ``slack`` per key: the relative difference that still counts as a tie (1e-9 for float
    sums such as energy or bytes, whose last bits are noise; 0 for whole cycles, which are
    exact). NaN counts as infinite."""
    if not len(row):
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    tied = None
    for key, rel in zip(keys, slack, strict=True):
        key = np.asarray(key, dtype=np.float64)
        if not np.isfinite(key).all():
            key = np.nan_to_num(key, nan=np.inf)
        if tied is not None:
            key = np.where(tied, key, np.inf)
        near = key <= np.minimum.reduceat(key, starts)[row] * (1 + rel)
        tied = near if tied is None else tied & near
    rank = np.where(tied, rank, np.iinfo(np.int64).max)
    return np.flatnonzero(rank == np.minimum.reduceat(rank, starts)[row])


def tiled(fn, m, n, k, tm, tn, tk):
    """Sum ``fn(m_t, n_t, k_t) * count`` over the tiles: full tiles and edge remainders."""
    total = 0
    for dims in itertools.product(*[_pieces(e, t) for e, t in ((m, tm), (n, tn), (k, tk))]):
        (em, cm), (en, cn), (ek, ck) = dims
        count = cm * cn * ck
        value = fn(np.maximum(em, 1), np.maximum(en, 1), np.maximum(ek, 1))
        total = total + np.where(count > 0, value * count, 0)
    return total


def tile_parts(extent, tile):
    """One dimension cut into tiles: ``(size, count)`` of the full tiles, of the remainder
    tile (size at least 1; count 0 or 1) and the sum of the sizes (the extent)."""
    (size, full), (rem, last) = _pieces(extent, tile)
    return size, full, np.maximum(rem, 1), last, extent


def tiled_product(factors, parts):
    """`tiled` of a product of one factor per dimension, ``f_m(m_t) f_n(n_t) f_k(k_t)``, in
    closed form: the sum over tiles of a product is the product of the per-dimension sums.
    ``parts``: `tile_parts` per dimension; a factor None is the tile's size (its sum is the
    last entry of the parts)."""
    total = 1
    for f, (size, full, rem, last, whole) in zip(factors, parts):
        total = total * (whole if f is None else full * f(size) + last * f(rem))
    return total


def _pieces(extent, tile):
    """(size, count) of the full tiles and of the remainder tile of one dimension."""
    extent, tile = np.asarray(extent), np.asarray(tile)
    full, rem = extent // tile, extent % tile
    return ((tile, full), (rem, (rem > 0).astype(np.int64)))
