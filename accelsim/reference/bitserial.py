"""Bit-serial GEMM: weights consumed one bit-plane at a time (UNPU-style PEs).

A ``w_bits``-wide weight is ``w = sum_b 2**b * bit_b(w)`` (unsigned) or, in two's
complement, the same sum with the top plane weighted ``-2**(w_bits - 1)`` (the sign plane
subtracts). So ``a @ w = sum_b ±2**b * (a @ plane_b)`` exactly: both functions here equal
``int_gemm`` for every width (under ``wrap`` they are taken modulo ``2**acc_bits`` like it).

- ``bitserial_gemm``: one pass per bit-plane, shift-and-add of the partial sums.
- ``unpu_lut_gemm``: UNPU's formulation (Lee et al., "UNPU: An Energy-Efficient Deep
  Neural Network Accelerator With Fully Variable Weight Bit Precision", IEEE JSSC 54(1),
  2019): for each group of ``group`` consecutive activations the PE precomputes the
  ``2**group`` sums of all their subsets (the lookup table); each weight bit-plane then
  contributes ``LUT[pattern]`` where ``pattern``'s bit ``t`` is bit ``b`` of the weight
  of activation ``t`` of the group. The last group is padded with zero activations.

Arithmetic is uint64 (two's complement wrap modulo 2**64), then wrapped to ``acc_bits``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from accelsim.reference.gemm import _int_matrix, _max_abs, wrap_to_bits
from accelsim.reference.quant import check_bits, int_range


def _check_weights(w: np.ndarray, w_bits: int, signed: bool) -> None:
    lo, hi = int_range(w_bits, signed)
    if w.size and (int(w.min()) < lo or int(w.max()) > hi):
        kind = "signed" if signed else "unsigned"
        raise ValueError(f"w has values outside the {w_bits}-bit {kind} range [{lo}, {hi}]")


def _prepare(a, w, w_bits, signed, acc_bits):
    w_bits = check_bits(w_bits, "w_bits", 1, 32)
    acc_bits = check_bits(acc_bits, "acc_bits", 1, 64)
    a = _int_matrix(a, "a")
    w = _int_matrix(w, "w")
    if a.shape[1] != w.shape[0]:
        raise ValueError(f"shapes {a.shape} and {w.shape} do not chain")
    if not isinstance(signed, (bool, np.bool_)):
        raise ValueError(f"signed must be a bool, found {signed!r}")
    _check_weights(w, w_bits, bool(signed))
    if _max_abs(a) >= 2**32:
        raise ValueError("a values must fit in 32 bits")
    a64 = np.ascontiguousarray(a, dtype=np.int64)
    w64 = np.ascontiguousarray(w, dtype=np.int64)
    # plane weights 2**b (mod 2**64); the sign plane of a signed weight is -2**(w_bits-1)
    factors = np.array([(1 << b) % 2**64 for b in range(w_bits)], dtype=np.uint64)
    if signed:
        factors[-1] = np.uint64((-(1 << (w_bits - 1))) % 2**64)
    return a64, w64, w_bits, acc_bits, factors


def _finish(out_u64: np.ndarray, acc_bits: int) -> np.ndarray:
    res = wrap_to_bits(out_u64.view(np.int64), acc_bits)
    return res.astype(np.int32 if acc_bits <= 32 else np.int64)


@njit(cache=True)
def _bit_planes(w, w_bits):
    """(k, n) int64 -> (w_bits, k, n) uint64 of 0/1: bit b of the two's complement code."""
    k, n = w.shape
    planes = np.empty((w_bits, k, n), np.uint64)
    for b in range(w_bits):
        for kk in range(k):
            for j in range(n):
                planes[b, kk, j] = np.uint64((w[kk, j] >> b) & 1)
    return planes


@njit(cache=True, parallel=True)
def _bitserial_kernel(a, planes, factors, out):
    w_bits, k, n = planes.shape
    m = a.shape[0]
    for i in prange(m):
        part = np.empty(n, np.uint64)
        for j in range(n):
            out[i, j] = 0
        for b in range(w_bits):
            for j in range(n):
                part[j] = 0
            for kk in range(k):
                aik = a[i, kk]
                for j in range(n):
                    part[j] += aik * planes[b, kk, j]  # planes are 0/1: a gated add
            for j in range(n):
                out[i, j] += part[j] * factors[b]  # shift (and negate for the sign plane)


def bitserial_gemm(a, w, w_bits: int, signed: bool = True, acc_bits: int = 64) -> np.ndarray:
    """``a @ w`` computed bit-plane by bit-plane of ``w`` (see the module docstring).

    ``w`` must fit ``w_bits`` (1..32) bits, two's complement if ``signed`` else unsigned;
    ``a`` any integers within 32 bits. Equals ``int_gemm(a, w, acc_bits, "wrap")``.
    """
    a64, w64, w_bits, acc_bits, factors = _prepare(a, w, w_bits, signed, acc_bits)
    planes = _bit_planes(w64, w_bits)
    out = np.empty((a64.shape[0], w64.shape[1]), np.uint64)
    _bitserial_kernel(a64.view(np.uint64), planes, factors, out)
    return _finish(out, acc_bits)


@njit(cache=True)
def _weight_patterns(w, w_bits, group, ngroups):
    """pat[b, g, j]: bit t = bit b of w[g * group + t, j] (zero past the end of k)."""
    k, n = w.shape
    pat = np.zeros((w_bits, ngroups, n), np.int64)
    for b in range(w_bits):
        for g in range(ngroups):
            for t in range(group):
                kk = g * group + t
                if kk < k:
                    for j in range(n):
                        pat[b, g, j] |= ((w[kk, j] >> b) & 1) << t
    return pat


@njit(cache=True, parallel=True)
def _lut_kernel(a, pat, factors, group, out):
    w_bits, ngroups, n = pat.shape
    m, k = a.shape
    size = 1 << group
    for i in prange(m):
        lut = np.zeros((ngroups, size), np.uint64)
        for g in range(ngroups):
            for p in range(1, size):
                low = p & -p  # lowest set bit of the subset
                t = 0
                while (1 << t) != low:
                    t += 1
                kk = g * group + t
                val = a[i, kk] if kk < k else np.uint64(0)
                lut[g, p] = lut[g, p ^ low] + val
        for j in range(n):
            total = np.uint64(0)
            for b in range(w_bits):
                s = np.uint64(0)
                for g in range(ngroups):
                    s += lut[g, pat[b, g, j]]
                total += s * factors[b]
            out[i, j] = total


def unpu_lut_gemm(
    a, w, w_bits: int, group: int = 4, signed: bool = True, acc_bits: int = 64
) -> np.ndarray:
    """``a @ w`` by UNPU's subset-sum lookup tables (see the module docstring).

    ``group`` (1..12) activations share one table of ``2**group`` entries. Equals
    ``int_gemm(a, w, acc_bits, "wrap")``.
    """
    group = check_bits(group, "group", 1, 12)
    a64, w64, w_bits, acc_bits, factors = _prepare(a, w, w_bits, signed, acc_bits)
    k = a64.shape[1]
    ngroups = -(-k // group)
    pat = _weight_patterns(w64, w_bits, group, ngroups)
    out = np.empty((a64.shape[0], w64.shape[1]), np.uint64)
    _lut_kernel(a64.view(np.uint64), pat, factors, group, out)
    return _finish(out, acc_bits)
