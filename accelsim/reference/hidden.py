"""Hiddenite-style weights: regenerated from a seed, selected by a supermask.

Hiddenite (Hirose et al., "Hiddenite: 4K-PE Hidden Network Inference 4D-Tensor Engine
Exploiting On-Chip Model Construction Achieving 34.8-to-16.0TOPS/W for CIFAR-100 and
ImageNet", ISSCC 2022) never reads weights from memory: an on-chip generator recreates the
random weights from a seed and only a binary supermask, chosen by edge-popup (Ramanujan et
al., "What's Hidden in a Randomly Weighted Neural Network?", CVPR 2020), says which of
them are used.

Generator (documented, counter-based): weight ``i`` (flat C-order index in ``shape``) is
made from ``h = splitmix64(seed, i)`` (see ``accelsim.reference._prng``):

- ``kind="pm1"``: ``+1`` if bit 63 of ``h`` is set, else ``-1`` (int8; times ``scale`` as
  float64 when ``scale`` is given: edge-popup's signed constant).
- ``kind="int"``: ``(h >> (64 - bits)) - 2**(bits - 1)``, uniform over the signed
  ``bits``-bit range (the smallest signed dtype holding it).
- ``kind="uniform"``: ``(2u - 1) * scale`` with ``u = (h >> 11) * 2**-53``, float64 in
  ``[-scale, scale)`` (``scale`` defaults to 1).

Any weight can be produced alone, in any order, on any number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from accelsim.reference._prng import check_seed, splitmix64, uniform01
from accelsim.reference.gemm import (
    _check_overflow_mode,
    _int_matrix,
    _max_abs,
    acc_range,
    wrap_to_bits,
)
from accelsim.reference.quant import check_bits, storage_dtype

KINDS = ("pm1", "int", "uniform")
_PM1, _INT, _UNIFORM = range(3)
_S63 = np.uint64(63)


@njit(cache=True, inline="always")
def _int_weight(seed, index, kind, bits):
    h = splitmix64(seed, index)
    if kind == _PM1:
        return np.int64(1) if (h >> _S63) else np.int64(-1)
    return np.int64(h >> np.uint64(64 - bits)) - (np.int64(1) << (bits - 1))


@njit(cache=True, parallel=True)
def _generate_int(seed, kind, bits, out):
    for i in prange(out.size):
        out[i] = _int_weight(seed, i, kind, bits)


@njit(cache=True, parallel=True)
def _generate_uniform(seed, scale, out):
    for i in prange(out.size):
        out[i] = (2.0 * uniform01(seed, i) - 1.0) * scale


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (int(shape),)
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError as err:
        raise ValueError(
            f"shape must be a tuple of non-negative integers, found {shape!r}"
        ) from err
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must be non-negative, found {shape}")
    return shape


def _kind(kind) -> int:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; found {kind!r}")
    return KINDS.index(kind)


def _scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise ValueError(f"scale must be a real number, found {scale!r}")
    if not math.isfinite(float(scale)) or float(scale) <= 0:
        raise ValueError(f"scale must be finite and > 0, found {scale}")
    return float(scale)


def generate_weights(seed, shape, kind: str = "pm1", *, scale=None, bits: int = 8) -> np.ndarray:
    """Weights of ``shape`` regenerated from ``seed`` (see the module docstring)."""
    seed64 = check_seed(seed)
    shape = _shape(shape)
    code = _kind(kind)
    size = int(np.prod(shape, dtype=np.int64))
    if code == _UNIFORM:
        out = np.empty(size, np.float64)
        _generate_uniform(seed64, 1.0 if scale is None else _scale(scale), out)
        return out.reshape(shape)
    if code == _INT:
        if scale is not None:
            raise ValueError("kind='int' takes no scale")
        bits = check_bits(bits, "bits", 1, 32)
    else:
        bits = 1
    out = np.empty(size, np.int64)
    _generate_int(seed64, code, bits, out)
    if code == _PM1:
        if scale is not None:
            return out.reshape(shape).astype(np.float64) * _scale(scale)
        return out.astype(np.int8).reshape(shape)
    return out.astype(storage_dtype(bits, True)).reshape(shape)


def supermask_count(size: int, density: float) -> int:
    """Number of weights a supermask of ``density`` keeps: ``floor(density * size + 0.5)``."""
    return int(math.floor(density * size + 0.5))


def supermask(scores, density: float) -> np.ndarray:
    """Boolean mask keeping the top ``density`` fraction of ``scores`` (edge-popup).

    Keeps ``supermask_count(scores.size, density)`` entries with the largest scores; among
    equal scores the lower flat index wins. Scores are ranked as given (edge-popup ranks
    ``|scores|``: pass ``np.abs(scores)`` for that).
    """
    s = np.asarray(scores)
    if s.dtype.kind not in "iuf":
        raise ValueError(f"scores must be real numbers, found dtype {s.dtype}")
    if np.issubdtype(s.dtype, np.floating) and np.isnan(s).any():
        raise ValueError("scores contain NaN")
    if isinstance(density, bool) or not isinstance(density, (int, float, np.integer, np.floating)):
        raise ValueError(f"density must be a number in [0, 1], found {density!r}")
    if not 0.0 <= float(density) <= 1.0:
        raise ValueError(f"density must be in [0, 1], found {density}")
    flat = s.reshape(-1)
    keep = supermask_count(flat.size, float(density))
    # dense ranks (exact for any dtype), then descending rank, ascending index
    _, rank = np.unique(flat, return_inverse=True)
    order = np.lexsort((np.arange(flat.size), -rank.reshape(-1).astype(np.int64)))
    mask = np.zeros(flat.size, np.bool_)
    mask[order[:keep]] = True
    return mask.reshape(s.shape)


@njit(cache=True, parallel=True)
def _hidden_kernel(x, seed, mask, kind, bits, saturate, lo, hi, out, wrow):
    """out = x @ (generated weights * mask), weights generated one k-row at a time.

    Parallel over column chunks; each output accumulates in increasing k (the order a
    saturating accumulator sees). ``wrap`` accumulates in uint64 (two's complement).
    """
    m, k = x.shape
    n = mask.shape[1]
    chunk = 64
    nchunks = (n + chunk - 1) // chunk
    for c in prange(nchunks):
        j0 = c * chunk
        j1 = min(n, j0 + chunk)
        for i in range(m):
            for j in range(j0, j1):
                out[i, j] = 0
        for kk in range(k):
            for j in range(j0, j1):
                wrow[j] = _int_weight(seed, kk * n + j, kind, bits) if mask[kk, j] else 0
            for i in range(m):
                xi = x[i, kk]
                for j in range(j0, j1):
                    p = xi * wrow[j]
                    if saturate:
                        acc = out[i, j]
                        if p > 0 and acc > hi - p:
                            out[i, j] = hi
                        elif p < 0 and acc < lo - p:
                            out[i, j] = lo
                        else:
                            out[i, j] = acc + p
                    else:
                        out[i, j] = np.int64(np.uint64(out[i, j]) + np.uint64(p))


def hidden_layer_forward(
    x,
    seed,
    mask,
    kind: str = "pm1",
    *,
    bits: int = 8,
    acc_bits: int = 32,
    overflow: str = "wrap",
) -> np.ndarray:
    """``x[m, k] @ (generate_weights(seed, mask.shape, kind, bits=bits) * mask)``.

    The weights are regenerated inside the kernel from ``(seed, index)`` and never stored
    as a tensor, as on the chip. Integer kinds only (``pm1``, ``int``); accumulator
    semantics as ``int_gemm`` (result equal to it).
    """
    seed64 = check_seed(seed)
    code = _kind(kind)
    if code == _UNIFORM:
        raise ValueError("hidden_layer_forward computes in integers: use kind 'pm1' or 'int'")
    bits = check_bits(bits, "bits", 1, 32) if code == _INT else 1
    acc_bits = check_bits(acc_bits, "acc_bits", 1, 64)
    _check_overflow_mode(overflow)
    x = _int_matrix(x, "x")
    m_arr = np.asarray(mask)
    if m_arr.dtype != np.bool_ or m_arr.ndim != 2:
        raise ValueError(f"mask must be a 2-D bool array, found {m_arr.dtype} {m_arr.shape}")
    if x.shape[1] != m_arr.shape[0]:
        raise ValueError(f"x {x.shape} and mask {m_arr.shape} do not chain")
    if _max_abs(x) >= 2**31:
        raise ValueError("x values must fit in int32")
    lo, hi = acc_range(acc_bits)
    out = np.empty((x.shape[0], m_arr.shape[1]), np.int64)
    wrow = np.empty(m_arr.shape[1], np.int64)
    _hidden_kernel(
        np.ascontiguousarray(x, dtype=np.int64),
        seed64,
        np.ascontiguousarray(m_arr),
        code,
        bits,
        overflow == "saturate",
        np.int64(lo),
        np.int64(hi),
        out,
        wrow,
    )
    res = out if overflow == "saturate" else wrap_to_bits(out, acc_bits)
    return res.astype(np.int32 if acc_bits <= 32 else np.int64)
