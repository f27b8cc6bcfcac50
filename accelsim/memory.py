"""Memory: DRAM <-> SRAM tiling, traffic and stalls, vectorised over layers.

Search space (the mapper's tiling, per layer)
---------------------------------------------
A GEMM ``inputs[M, K] @ weights[K, N]`` (per group) is cut into DRAM tiles of
``Tm x Tn x Tk`` and run as a loop nest over the tiles in one of the six loop orders
(outer to inner, e.g. ``n, m, k``). Each tile size is chosen from ``E / 2^j`` for
``j = 0..4`` (rounded up to a multiple of ``g = min(rows, cols)``) and ``g`` itself, capped at
the extent ``E``. Every (order, Tm, Tn, Tk) whose tiles fit the buffers is legal; the
mapper picks the one with the least DRAM traffic. Ties (many tilings move the same bytes)
go to the least exposed time, estimated as the first tile's loads plus the last tile's
write-back at the DRAM bandwidth plus ``rows + cols`` cycles of fill and drain per tile;
then to the first order in `ORDERS`. The chosen tiling is then costed exactly.

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
    cycles   = prologue + steady + epilogue;   stalls = cycles - compute >= 0
"""

from __future__ import annotations

import itertools

import numpy as np

ORDERS = tuple(itertools.permutations("mnk"))
RELEVANT = {"inputs": "mk", "weights": "kn", "outputs": "mn"}
HALVINGS = 5
PARTS = ("inputs_read", "weights_read", "spill")


def candidates(extent: np.ndarray, g: int) -> np.ndarray:
    """Tile sizes per layer: ``[L, HALVINGS + 1]``, each in ``[1, extent]``."""
    e = np.asarray(extent, dtype=np.int64)[:, None]
    j = np.arange(HALVINGS, dtype=np.int64)[None, :]
    halves = -(-e // (1 << j))
    halves = -(-halves // g) * g
    out = np.concatenate([halves, np.full_like(e, g)], axis=1)
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


def choose_tiling(
    m, n, k, share, bits, sizes, g: int, bytes_per_cycle: float, tile_cycles, alike=()
):
    """Best legal tiling per layer, for each dataflow; identical layers are searched once.

    ``bits = (a, w, acc, out)`` arrays; ``sizes = (inputs, weights, outputs)`` bytes;
    ``tile_cycles``: one function per dataflow, ``(tm, tn, tk, inverse) -> `` the array
    cycles of one tile. Returns, per dataflow, a dict of per-layer arrays: ``tm, tn, tk,
    order`` (index into ORDERS), DRAM ``read, write`` bytes per group and their parts
    ``inputs_read, weights_read, spill`` (partial sums out and back), and ``fits`` (False
    where not even the smallest tile fits a buffer). ``alike``: further per-layer arrays
    that ``tile_cycles`` depends on (the PE's packing): layers are identical only if these
    are equal too.
    """
    columns = (m, n, k, share, *bits, *alike)
    keys = np.stack([np.asarray(v, dtype=np.float64) for v in columns], axis=1)
    first: dict = {}  # row bytes -> unique index, in order of first appearance
    inverse = np.array([first.setdefault(row.tobytes(), len(first)) for row in keys])
    unique = keys[np.unique(inverse, return_index=True)[1]]
    dims = unique[:, :3].astype(np.int64).T
    u_bits = tuple(unique[:, 4:8].T)
    found = _search(*dims, unique[:, 3], u_bits, sizes, g, bytes_per_cycle, tile_cycles, inverse)
    return [{key: value[inverse.reshape(-1)] for key, value in f.items()} for f in found]


# The search's costly part, the bytes every tiling moves, does not depend on buffer sizes,
# bandwidths or dataflows: points of a sweep that differ only in those share it. Keyed by
# the unique layers' (m, n, k, share, bits) and g; the latest are kept, up to TABLES_BYTES.
_TABLES: dict = {}
TABLES_BYTES = 64 << 20


def _least_traffic(mm, nn, kk, cm, cn, ck, share, bits):
    """Per layer and tile size ``[layer, 1, Tm, Tn, Tk]``: the least DRAM bytes over the loop
    orders and the first order (index into ORDERS) that moves them; capacity not checked.
    """
    a, w, acc, out = bits
    trips = {"m": -(-mm // cm), "n": -(-nn // cn), "k": -(-kk // ck)}
    # each tensor's bytes, fetched once and refetched (the same arithmetic as `traffic`)
    once = {"inputs": mm * kk * share * a / 8, "weights": kk * nn * w / 8}
    again = {"inputs": once["inputs"] * trips["n"], "weights": once["weights"] * trips["m"]}
    spilled = (trips["k"] - 1) * mm * nn * acc / 8
    written = mm * nn * out / 8
    least_o, first_o = None, None
    for o, order in enumerate(ORDERS):
        pos = {loop: i for i, loop in enumerate(order)}
        part = {}
        for t in ("inputs", "weights", "outputs"):
            refetched = _refetched(pos, trips, t)
            if t == "outputs":
                part[t] = np.where(refetched, spilled, 0.0)
            else:
                part[t] = np.where(refetched, again[t], once[t])
        moved = (part["inputs"] + part["weights"] + part["outputs"]) + (written + part["outputs"])
        if least_o is None:
            least_o, first_o = moved, np.zeros(moved.shape, dtype=np.int64)
        else:
            better = moved < least_o
            least_o, first_o = np.where(better, moved, least_o), np.where(better, o, first_o)
    return least_o, first_o


def _search(m, n, k, share, bits, sizes, g, bytes_per_cycle, tile_cycles, inverse):
    """Evaluate every (order, Tm, Tn, Tk) of every layer at once.

    Tile sizes are axes ``[layer, 1, Tm, Tn, Tk]``; the six orders are a loop that keeps,
    per tile size, the least bytes moved and the first order that moves them (only the
    refetch factors depend on the order). Among the tilings of least traffic the estimated
    time depends on the tile sizes only (their DRAM time is the least traffic's), so it is
    evaluated once per tile size. The winner is the first (order, Tm, Tn, Tk), in that
    nesting, whose traffic and time are both least: the tie rule of the module docstring.
    A layer where no tile fits is searched as if every tile fitted (``fits`` is False; its
    tiling is not used).
    """
    u = len(m)
    share = share[:, None, None, None, None]
    bits = tuple(np.asarray(b, dtype=np.float64)[:, None, None, None, None] for b in bits)
    a, w, acc, out = bits
    cm = candidates(m, g)[:, None, :, None, None]
    cn = candidates(n, g)[:, None, None, :, None]
    ck = candidates(k, g)[:, None, None, None, :]
    mm, nn, kk = (np.asarray(x, dtype=np.int64)[:, None, None, None, None] for x in (m, n, k))
    s_in, s_w, s_out = sizes
    fits = (
        (2 * cm * ck * share * a / 8 <= s_in)
        & (2 * ck * cn * w / 8 <= s_w)
        & (cm * cn * (acc + out) / 8 <= s_out)
    )
    any_fit = fits.reshape(u, -1).any(axis=1)
    fits = fits | ~any_fit[:, None, None, None, None]
    key = (np.stack([m, n, k, share[:, 0, 0, 0, 0], *(b[:, 0, 0, 0, 0] for b in bits)]), g)
    key = (key[0].tobytes(), g)
    found = _TABLES.get(key)
    if found is None:
        found = _least_traffic(mm, nn, kk, cm, cn, ck, share, bits)
        _TABLES[key] = found
        while sum(a.nbytes for pair in _TABLES.values() for a in pair) > TABLES_BYTES:
            del _TABLES[next(iter(_TABLES))]  # the oldest (this one too if it alone is larger)
    least_o, first_o = found
    least_o = np.where(fits, least_o, np.inf)
    shape = fits.shape
    least = least_o.reshape(u, -1).min(axis=1)[:, None, None, None, None]
    tied = least_o <= least  # the tile sizes whose best order moves the least bytes
    tiles = -(-mm // cm) * -(-nn // cn) * -(-kk // ck)
    edges = ((cm * ck * share * a + ck * cn * w + cm * cn * out) / 8) / bytes_per_cycle
    dram = least / bytes_per_cycle - edges
    # (order, Tm, Tn, Tk) of each tile size's best order, as a position in the full nesting
    rank = (first_o * fits[0].size + np.arange(fits[0].size).reshape(shape[1:])).reshape(u, -1)
    rows = np.arange(u)
    found = []
    for cycles in tile_cycles:
        # ties in traffic go to the shortest estimated time (edges exposed, rest overlapped)
        time = edges + np.maximum(tiles * cycles(cm, cn, ck, inverse), dram)
        time = np.where(tied, time, np.inf).reshape(u, -1)
        fastest = time <= time.min(axis=1)[:, None]
        first = np.where(fastest, rank, rank.max() + 1).min(axis=1)
        o, i, j, q = np.unravel_index(first, (len(ORDERS), *shape[2:]))
        tm, tn, tk = cm[rows, 0, i, 0, 0], cn[rows, 0, 0, j, 0], ck[rows, 0, 0, 0, q]
        pos = {loop: np.array([p.index(loop) for p in ORDERS])[o] for loop in "mnk"}
        flat = (x[:, 0, 0, 0, 0] for x in (mm, nn, kk))
        read, write, parts = traffic(*flat, tm, tn, tk, [b[:, 0, 0, 0, 0] for b in bits], pos,
                                     share[:, 0, 0, 0, 0])  # fmt: skip
        found.append({"tm": tm, "tn": tn, "tk": tk, "order": o, "fits": any_fit,
                      "read": read, "write": write, **parts})  # fmt: skip
    return found


def tiled(fn, m, n, k, tm, tn, tk):
    """Sum ``fn(m_t, n_t, k_t) * count`` over the tiles: full tiles and edge remainders."""
    total = 0
    for dims in itertools.product(*[_pieces(e, t) for e, t in ((m, tm), (n, tn), (k, tk))]):
        (em, cm), (en, cn), (ek, ck) = dims
        count = cm * cn * ck
        value = fn(np.maximum(em, 1), np.maximum(en, 1), np.maximum(ek, 1))
        total = total + np.where(count > 0, value * count, 0)
    return total


def _pieces(extent, tile):
    """(size, count) of the full tiles and of the remainder tile of one dimension."""
    extent, tile = np.asarray(extent), np.asarray(tile)
    full, rem = extent // tile, extent % tile
    return ((tile, full), (rem, (rem > 0).astype(np.int64)))
