"""Binary (±1) GEMM by XNOR and popcount, on bit-packed operands.

Packing: ``pack_bits(x, axis)`` stores ±1 values one bit each, **bit 1 = +1, bit 0 = -1**,
64 to a ``uint64`` word along ``axis``: element ``64 * t + b`` is bit ``b`` (least
significant first) of word ``t``. The last word's unused high bits (padding) are written
as 0, but ``xnor_gemm`` never reads them: it masks the last word, so any padding content
gives the same result.

For ±1 vectors ``x`` and ``y`` of length ``k`` packed as ``X`` and ``Y``,
``dot(x, y) = (#agreeing positions) - (#disagreeing) = 2 * popcount(XNOR(X, Y)) - k``,
which the kernel computes as ``k - 2 * popcount((X ^ Y) & mask)`` (the mask clears the
padding of the last word). Popcounts run 256 bits at a time (``llvm.ctpop.v32i8``: on
AVX2 the ``vpshufb`` nibble lookup, with per-byte counters flushed every 31 steps; see
``accelsim.reference._simd``) and the words left over use ``llvm.ctpop.i64`` (the
``popcnt`` instruction). The kernel is register-blocked (4 input rows x 2 weight columns)
and parallel over blocks of input rows.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from accelsim.reference._simd import (
    bzero,
    popcount,
    vload_u8x32,
    vpopcount_xor_add,
    vsum_u8x32,
)

_WORD = 64


@njit(cache=True, parallel=True)
def _pack_rows(x, nwords):
    """(r, k) int8 of ±1 -> (r, nwords) uint64, bit 1 = +1."""
    r, k = x.shape
    out = np.zeros((r, nwords), np.uint64)
    for i in prange(r):
        for t in range(nwords):
            word = np.uint64(0)
            for b in range(min(_WORD, k - t * _WORD)):
                if x[i, t * _WORD + b] > 0:
                    word |= np.uint64(1) << np.uint64(b)
            out[i, t] = word
    return out


@njit(cache=True, parallel=True)
def _unpack_rows(p, k):
    r = p.shape[0]
    out = np.empty((r, k), np.int8)
    for i in prange(r):
        for kk in range(k):
            bit = (p[i, kk // _WORD] >> np.uint64(kk % _WORD)) & np.uint64(1)
            out[i, kk] = 1 if bit else -1
    return out


_CH = 31  # 256-bit steps per byte-counter flush: 31 * 8 = 248 < 256


@njit(cache=True, inline="always")
def _mismatch(a1, b1, ia, jb, nw, nv):
    """popcount(a ^ b) over ``nw`` words at offsets ``ia``/``jb`` of the flat arrays."""
    s = np.int64(0)
    for c0 in range(0, nv, _CH):
        z = bzero()
        for v in range(c0, min(nv, c0 + _CH)):
            z = vpopcount_xor_add(z, vload_u8x32(a1, ia + 4 * v), vload_u8x32(b1, jb + 4 * v))
        s += vsum_u8x32(z)
    for t in range(4 * nv, nw):
        s += popcount(a1[ia + t] ^ b1[jb + t])
    return s


@njit(cache=True, parallel=True)
def _xnor_kernel(a, b, k, out):
    """out[i, j] = k - 2 * popcount(a[i] ^ b[j]): a (m, W), b (n, W) uint64, padding zeroed.

    4 input rows x 2 weight columns per inner loop: 8 per-byte counters, 6 loads and 8
    xor + vector popcounts per 256-bit step; the last ``W % 4`` words use scalar popcnt.
    """
    m, nw = a.shape
    n = b.shape[0]
    nv = nw // 4
    a1 = a.reshape(-1)
    b1 = b.reshape(-1)
    nib = (m + 3) // 4
    for ib in prange(nib):
        i0 = ib * 4
        if i0 + 4 <= m:
            for j0 in range(0, n - 1, 2):
                t00 = np.int64(0)
                t01 = np.int64(0)
                t10 = np.int64(0)
                t11 = np.int64(0)
                t20 = np.int64(0)
                t21 = np.int64(0)
                t30 = np.int64(0)
                t31 = np.int64(0)
                r0 = i0 * nw
                c0w = j0 * nw
                for c0 in range(0, nv, _CH):
                    z00 = bzero()
                    z01 = bzero()
                    z10 = bzero()
                    z11 = bzero()
                    z20 = bzero()
                    z21 = bzero()
                    z30 = bzero()
                    z31 = bzero()
                    for v in range(c0, min(nv, c0 + _CH)):
                        y0 = vload_u8x32(b1, c0w + 4 * v)
                        y1 = vload_u8x32(b1, c0w + nw + 4 * v)
                        x = vload_u8x32(a1, r0 + 4 * v)
                        z00 = vpopcount_xor_add(z00, x, y0)
                        z01 = vpopcount_xor_add(z01, x, y1)
                        x = vload_u8x32(a1, r0 + nw + 4 * v)
                        z10 = vpopcount_xor_add(z10, x, y0)
                        z11 = vpopcount_xor_add(z11, x, y1)
                        x = vload_u8x32(a1, r0 + 2 * nw + 4 * v)
                        z20 = vpopcount_xor_add(z20, x, y0)
                        z21 = vpopcount_xor_add(z21, x, y1)
                        x = vload_u8x32(a1, r0 + 3 * nw + 4 * v)
                        z30 = vpopcount_xor_add(z30, x, y0)
                        z31 = vpopcount_xor_add(z31, x, y1)
                    t00 += vsum_u8x32(z00)
                    t01 += vsum_u8x32(z01)
                    t10 += vsum_u8x32(z10)
                    t11 += vsum_u8x32(z11)
                    t20 += vsum_u8x32(z20)
                    t21 += vsum_u8x32(z21)
                    t30 += vsum_u8x32(z30)
                    t31 += vsum_u8x32(z31)
                for t in range(4 * nv, nw):
                    w0 = b1[c0w + t]
                    w1 = b1[c0w + nw + t]
                    t00 += popcount(a1[r0 + t] ^ w0)
                    t01 += popcount(a1[r0 + t] ^ w1)
                    t10 += popcount(a1[r0 + nw + t] ^ w0)
                    t11 += popcount(a1[r0 + nw + t] ^ w1)
                    t20 += popcount(a1[r0 + 2 * nw + t] ^ w0)
                    t21 += popcount(a1[r0 + 2 * nw + t] ^ w1)
                    t30 += popcount(a1[r0 + 3 * nw + t] ^ w0)
                    t31 += popcount(a1[r0 + 3 * nw + t] ^ w1)
                out[i0, j0] = k - 2 * t00
                out[i0, j0 + 1] = k - 2 * t01
                out[i0 + 1, j0] = k - 2 * t10
                out[i0 + 1, j0 + 1] = k - 2 * t11
                out[i0 + 2, j0] = k - 2 * t20
                out[i0 + 2, j0 + 1] = k - 2 * t21
                out[i0 + 3, j0] = k - 2 * t30
                out[i0 + 3, j0 + 1] = k - 2 * t31
            if n % 2:
                for i in range(i0, i0 + 4):
                    out[i, n - 1] = k - 2 * _mismatch(a1, b1, i * nw, (n - 1) * nw, nw, nv)
        else:
            for i in range(i0, m):
                for j in range(n):
                    out[i, j] = k - 2 * _mismatch(a1, b1, i * nw, j * nw, nw, nv)


def _pm1(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold ±1 numbers, found dtype {arr.dtype}")
    if arr.size and not np.all((arr == 1) | (arr == -1)):
        raise ValueError(f"{name} must hold only +1 and -1")
    return arr


def _axis(axis, ndim: int) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"axis must be an integer, found {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {ndim} dimensions")
    return int(axis) % ndim


def pack_bits(x_pm1, axis: int = -1) -> np.ndarray:
    """Pack ±1 values along ``axis`` into uint64 words (bit 1 = +1, LSB first, padding 0)."""
    x = _pm1(x_pm1, "x_pm1")
    if x.ndim == 0:
        raise ValueError("x_pm1 must have at least one dimension")
    ax = _axis(axis, x.ndim)
    moved = np.moveaxis(x, ax, -1)
    k = moved.shape[-1]
    rows = np.ascontiguousarray(moved.reshape(-1, k), dtype=np.int8)
    nwords = -(-k // _WORD)
    packed = _pack_rows(rows, nwords).reshape(moved.shape[:-1] + (nwords,))
    return np.ascontiguousarray(np.moveaxis(packed, -1, ax))


def unpack_bits(packed, k: int, axis: int = -1) -> np.ndarray:
    """Inverse of ``pack_bits``: ``k`` ±1 values (int8) along ``axis``."""
    p = np.asarray(packed)
    if p.dtype != np.uint64:
        raise ValueError(f"packed must be uint64, found {p.dtype}")
    if p.ndim == 0:
        raise ValueError("packed must have at least one dimension")
    ax = _axis(axis, p.ndim)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, found {k!r}")
    if -(-int(k) // _WORD) != p.shape[ax]:
        raise ValueError(f"k={k} needs {-(-int(k) // _WORD)} words, axis has {p.shape[ax]}")
    moved = np.moveaxis(p, ax, -1)
    rows = np.ascontiguousarray(moved.reshape(-1, moved.shape[-1]))
    out = _unpack_rows(rows, int(k)).reshape(moved.shape[:-1] + (int(k),))
    return np.ascontiguousarray(np.moveaxis(out, -1, ax))


def xnor_gemm(a_packed, w_packed, k: int) -> np.ndarray:
    """±1 GEMM ``inputs[m, k] @ weights[k, n]`` from packed operands, as int32.

    ``a_packed = pack_bits(inputs, axis=1)`` has shape (m, W); ``w_packed =
    pack_bits(weights, axis=0)`` has shape (W, n); ``W = ceil(k / 64)``. Each output is
    ``2 * popcount(xnor) - k`` over the ``k`` real bits (padding masked off).
    """
    a = np.asarray(a_packed)
    w = np.asarray(w_packed)
    for arr, name in ((a, "a_packed"), (w, "w_packed")):
        if arr.dtype != np.uint64 or arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D uint64 array, found {arr.dtype} {arr.shape}")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, found {k!r}")
    k = int(k)
    nwords = -(-k // _WORD)
    if a.shape[1] != nwords or w.shape[0] != nwords:
        raise ValueError(
            f"k={k} needs {nwords} words: a_packed has {a.shape[1]} (axis 1), "
            f"w_packed has {w.shape[0]} (axis 0)"
        )
    rem = k - (nwords - 1) * _WORD
    last_mask = np.uint64(2**rem - 1)
    ac = np.array(a, order="C")  # copies: the padding bits of the last word are cleared
    wc = np.array(w.T, order="C")
    ac[:, -1] &= last_mask
    wc[:, -1] &= last_mask
    out = np.empty((a.shape[0], w.shape[1]), np.int64)
    with numba.parallel_chunksize(4):  # blocks of 16 rows handed out dynamically
        _xnor_kernel(ac, wc, np.int64(k), out)
    return out.astype(np.int32)
