"""Binary (±1) GEMM by XNOR and popcount, on bit-packed operands.

Packing: ``pack_bits(x, axis)`` stores ±1 values one bit each, **bit 1 = +1, bit 0 = -1**,
64 to a ``uint64`` word along ``axis``: element ``64 * t + b`` is bit ``b`` (least
significant first) of word ``t``. The last word's unused high bits (padding) are written
as 0, but ``xnor_gemm`` never reads them: it masks the last word, so any padding content
gives the same result.

For ±1 vectors ``x`` and ``y`` of length ``k`` packed as ``X`` and ``Y``,
``dot(x, y) = (#agreeing positions) - (#disagreeing) = 2 * popcount(XNOR(X, Y)) - k``,
which the kernel computes as ``k - 2 * popcount((X ^ Y) & mask)``. ``popcount`` is
``llvm.ctpop.i64`` (one ``popcnt`` instruction on x86-64); the kernel is register-blocked
(4 input rows x 2 weight columns per inner loop) and parallel over input-row blocks.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from accelsim.reference._simd import popcount

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


@njit(cache=True, inline="always")
def _mismatch(a, b, i, j, nfull):
    s = np.int64(0)
    for t in range(nfull):
        s += popcount(a[i, t] ^ b[j, t])
    return s


@njit(cache=True, parallel=True)
def _xnor_kernel(a, b, k, last_mask, out):
    """out[i, j] = k - 2 * popcount((a[i] ^ b[j]) masked): a (m, W), b (n, W) uint64."""
    m, nw = a.shape
    n = b.shape[0]
    nfull = nw - 1
    mi = (m + 3) // 4
    for ib in prange(mi):
        i0 = ib * 4
        if i0 + 4 <= m:
            for j0 in range(0, n - 1, 2):
                s00 = np.int64(0)
                s01 = np.int64(0)
                s10 = np.int64(0)
                s11 = np.int64(0)
                s20 = np.int64(0)
                s21 = np.int64(0)
                s30 = np.int64(0)
                s31 = np.int64(0)
                for t in range(nfull):
                    b0 = b[j0, t]
                    b1 = b[j0 + 1, t]
                    x0 = a[i0, t]
                    x1 = a[i0 + 1, t]
                    x2 = a[i0 + 2, t]
                    x3 = a[i0 + 3, t]
                    s00 += popcount(x0 ^ b0)
                    s01 += popcount(x0 ^ b1)
                    s10 += popcount(x1 ^ b0)
                    s11 += popcount(x1 ^ b1)
                    s20 += popcount(x2 ^ b0)
                    s21 += popcount(x2 ^ b1)
                    s30 += popcount(x3 ^ b0)
                    s31 += popcount(x3 ^ b1)
                out[i0, j0] = s00
                out[i0, j0 + 1] = s01
                out[i0 + 1, j0] = s10
                out[i0 + 1, j0 + 1] = s11
                out[i0 + 2, j0] = s20
                out[i0 + 2, j0 + 1] = s21
                out[i0 + 3, j0] = s30
                out[i0 + 3, j0 + 1] = s31
            if n % 2:
                for i in range(i0, i0 + 4):
                    out[i, n - 1] = _mismatch(a, b, i, n - 1, nfull)
        else:
            for i in range(i0, m):
                for j in range(n):
                    out[i, j] = _mismatch(a, b, i, j, nfull)
        for i in range(i0, min(m, i0 + 4)):
            for j in range(n):
                d = out[i, j] + popcount((a[i, nfull] ^ b[j, nfull]) & last_mask)
                out[i, j] = k - 2 * d


def _pm1(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
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
    out = np.empty((a.shape[0], w.shape[1]), np.int64)
    _xnor_kernel(np.ascontiguousarray(a), np.ascontiguousarray(w.T), np.int64(k), last_mask, out)
    return out.astype(np.int32)
