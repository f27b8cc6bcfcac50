"""Integer GEMM and convolution with an explicit accumulator width.

``int_gemm(inputs[m, k], weights[k, n])`` returns ``outputs[m, n]`` as a hardware
accumulator of ``acc_bits`` bits (1..64, two's complement) would hold them:

- ``overflow="wrap"``: the exact sum reduced modulo ``2**acc_bits`` into the signed range.
  Modular arithmetic does not depend on the order of additions.
- ``overflow="saturate"``: one addition at a time, in increasing ``k``, each result
  clamped to ``[-2**(acc_bits-1), 2**(acc_bits-1) - 1]``, as a saturating MAC does.

``return_overflow=True`` also returns the number of outputs whose value differs from the
exact (unbounded) result: for ``wrap``, outputs whose exact sum lies outside the range;
for ``saturate``, outputs where at least one addition was clamped. Zero means the
accumulator is wide enough for this data.

``bias`` (one integer per output column) is the accumulator's initial value, as an
accelerator that preloads it: it is the first term of the sum, before ``k = 0``. The exact
result is ``bias + sum_k a w``; ``wrap`` reduces it like any sum, ``saturate`` starts from
the bias clamped to the range (a clamp, counted as one, if it does not fit).

Operands are integer arrays of any dtype; each product must fit int64
(``max|a| * max|w| < 2**63``). Results are int32 for ``acc_bits <= 32``, else int64.

Speed: when every value fits int16 and the exact sums provably fit the int32
accumulator (or ``acc_bits <= 32`` under ``wrap``), operands are widened to int16, packed
(inputs as int16 pairs in int32 words, weights pair-interleaved in 16-column panels) and
multiplied by a 4x16 register-blocked micro-kernel whose inner step is ``vpmaddwd``
(int16 x int16 -> int32 pair sums, exact for these ranges), parallel over output tiles.
Everything else goes through a plain int64 kernel.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from accelsim.reference._simd import vload_i16x16, vmadd_pair, vstore_add_i32x8, vzero
from accelsim.reference.quant import check_bits

OVERFLOW_MODES = ("wrap", "saturate")

_MR = 4  # rows of a micro-tile
_NR = 16  # columns of a micro-tile (two <8 x i32> accumulators per row)
_KC = 256  # int16 pairs (512 values of k) per cache block
_MC = 16  # row micro-tiles per parallel tile (64 rows)
_NC = 16  # column panels per parallel tile (256 columns)


# --------------------------------------------------------------------------- validation


def _int_matrix(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":  # not bool, nor timedelta64 (a numpy 'integer')
        raise ValueError(f"{name} must be an integer array, found dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, found shape {arr.shape}")
    return arr


def _max_abs(arr: np.ndarray) -> int:
    if arr.size == 0:
        return 0
    return max(abs(int(arr.min())), abs(int(arr.max())))


def _check_overflow_mode(overflow) -> None:
    if overflow not in OVERFLOW_MODES:
        raise ValueError(f"overflow must be 'wrap' or 'saturate', found {overflow!r}")


def acc_range(acc_bits: int) -> tuple[int, int]:
    """(min, max) of a signed ``acc_bits``-wide accumulator."""
    acc_bits = check_bits(acc_bits, "acc_bits", 1, 64)
    return -(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1


def wrap_to_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's complement wrap of int64 ``values`` into ``bits`` (1..64) bits, as int64."""
    v = np.asarray(values, dtype=np.int64)
    if bits == 64:
        return v.copy()
    off = np.uint64(2 ** (bits - 1))
    mask = np.uint64(2**bits - 1)
    u = (v.view(np.uint64) + off) & mask
    return u.view(np.int64) - np.int64(off)


# --------------------------------------------------------------------------- fast kernel


# Packing is O(m k + k n) and runs serially: a second parallel region per call costs more
# (thread wake-up) than it saves.


@njit(cache=True)
def _pack_inputs(a, mb, kp):
    """(m, k) int16 -> (mb, kp, MR) int32 words holding (a[i, 2p], a[i, 2p+1])."""
    m, k = a.shape
    out = np.zeros((mb, kp, _MR), np.int32)
    for ib in range(mb):
        for r in range(_MR):
            i = ib * _MR + r
            if i < m:
                for p in range(kp):
                    lo = np.int64(a[i, 2 * p]) & 0xFFFF
                    hi = np.int64(0)
                    if 2 * p + 1 < k:
                        hi = np.int64(a[i, 2 * p + 1]) & 0xFFFF
                    out[ib, p, r] = np.int32(np.int64(lo | (hi << 16)) - ((hi >> 15) << 32))
    return out


@njit(cache=True)
def _pack_weights(w, nb, kp):
    """(k, n) int16 -> (nb, kp, 2*NR) int16 with [jb, p, 2j + t] = w[2p + t, jb*NR + j]."""
    k, n = w.shape
    out = np.zeros((nb, kp, 2 * _NR), np.int16)
    for jb in range(nb):
        for p in range(kp):
            for t in range(2):
                kk = 2 * p + t
                if kk < k:
                    for j in range(_NR):
                        col = jb * _NR + j
                        if col < n:
                            out[jb, p, 2 * j + t] = w[kk, col]
    return out


@njit(cache=True, parallel=True)
def _gemm_i16_packed(ap, bp, c):
    """c += unpack(ap) @ unpack(bp), int32 wrap-around, over (MC x NC) tiles in parallel."""
    mb, kp, _ = ap.shape
    nb = bp.shape[0]
    ldc = c.shape[1]
    a1 = ap.reshape(-1)
    b1 = bp.reshape(-1)
    c1 = c.reshape(-1)
    n_mt = (mb + _MC - 1) // _MC
    n_nt = (nb + _NC - 1) // _NC
    for tile in prange(n_mt * n_nt):
        ib0 = (tile // n_nt) * _MC
        jb0 = (tile % n_nt) * _NC
        ib1 = min(mb, ib0 + _MC)
        jb1 = min(nb, jb0 + _NC)
        for k0 in range(0, kp, _KC):
            k1 = min(kp, k0 + _KC)
            for jb in range(jb0, jb1):
                bbase = jb * kp * 2 * _NR
                for ib in range(ib0, ib1):
                    abase = ib * kp * _MR
                    c00 = vzero()
                    c01 = vzero()
                    c10 = vzero()
                    c11 = vzero()
                    c20 = vzero()
                    c21 = vzero()
                    c30 = vzero()
                    c31 = vzero()
                    for p in range(k0, k1):
                        b0 = vload_i16x16(b1, bbase + p * 2 * _NR)
                        b1v = vload_i16x16(b1, bbase + p * 2 * _NR + 16)
                        ao = abase + p * _MR
                        c00 = vmadd_pair(c00, b0, a1, ao)
                        c01 = vmadd_pair(c01, b1v, a1, ao)
                        c10 = vmadd_pair(c10, b0, a1, ao + 1)
                        c11 = vmadd_pair(c11, b1v, a1, ao + 1)
                        c20 = vmadd_pair(c20, b0, a1, ao + 2)
                        c21 = vmadd_pair(c21, b1v, a1, ao + 2)
                        c30 = vmadd_pair(c30, b0, a1, ao + 3)
                        c31 = vmadd_pair(c31, b1v, a1, ao + 3)
                    r = ib * _MR * ldc + jb * _NR
                    vstore_add_i32x8(c1, r, c00)
                    vstore_add_i32x8(c1, r + 8, c01)
                    vstore_add_i32x8(c1, r + ldc, c10)
                    vstore_add_i32x8(c1, r + ldc + 8, c11)
                    vstore_add_i32x8(c1, r + 2 * ldc, c20)
                    vstore_add_i32x8(c1, r + 2 * ldc + 8, c21)
                    vstore_add_i32x8(c1, r + 3 * ldc, c30)
                    vstore_add_i32x8(c1, r + 3 * ldc + 8, c31)


def gemm_int16_int32(a16: np.ndarray, w16: np.ndarray) -> np.ndarray:
    """``a16 @ w16`` for int16 operands with int32 wrap-around accumulation (fast path).

    Exact whenever no pair ``a[i,2p]*w[2p,j] + a[i,2p+1]*w[2p+1,j]`` equals 2**31 (only
    possible when both products are ``(-32768)**2``) and the sums fit int32.
    """
    m, k = a16.shape
    n = w16.shape[1]
    mb = -(-m // _MR)
    nb = -(-n // _NR)
    kp = -(-k // 2)
    c = np.zeros((mb * _MR, nb * _NR), np.int32)
    if m and n and k:
        ap = _pack_inputs(a16, mb, kp)
        bp = _pack_weights(w16, nb, kp)
        with numba.parallel_chunksize(1):  # hand tiles out one by one: balances busy cores
            _gemm_i16_packed(ap, bp, c)
    if c.shape != (m, n):
        c = np.ascontiguousarray(c[:m, :n])
    return c


# --------------------------------------------------------------------------- int64 kernels


# numba marks signed integer arithmetic ``nsw`` (overflow is undefined for LLVM), so the
# wrapping kernels work on uint64 views of the int64 data: unsigned add and multiply wrap
# modulo 2**64 by definition and give the two's complement result bit for bit.


@njit(cache=True, parallel=True)
def _gemm_u64(a, w, out):
    """out = a @ w modulo 2**64 (uint64 views of int64 operands)."""
    m, k = a.shape
    n = w.shape[1]
    for i in prange(m):
        for j in range(n):
            out[i, j] = 0
        for kk in range(k):
            aik = a[i, kk]
            for j in range(n):
                out[i, j] += aik * w[kk, j]


@njit(cache=True, parallel=True)
def _gemm_i64_carry(a, w, out, carry):
    """Exact sums as ``out + carry * 2**64`` (out: the int64 wrap-around sum)."""
    m, k = a.shape
    n = w.shape[1]
    for i in prange(m):
        for j in range(n):
            out[i, j] = 0
            carry[i, j] = 0
        for kk in range(k):
            aik = a[i, kk]
            for j in range(n):
                p = aik * w[kk, j]  # fits int64 (checked by the caller)
                old = out[i, j]
                s = np.int64(np.uint64(old) + np.uint64(p))
                if p > 0 and s < old:
                    carry[i, j] += 1
                elif p < 0 and s > old:
                    carry[i, j] -= 1
                out[i, j] = s


@njit(cache=True, parallel=True)
def _gemm_saturate(a, w, lo, hi, out, clamped):
    """Saturating accumulation in increasing k; ``clamped`` marks outputs ever clamped."""
    m, k = a.shape
    n = w.shape[1]
    for i in prange(m):
        for j in range(n):
            out[i, j] = 0
            clamped[i, j] = False
        for kk in range(k):
            aik = a[i, kk]
            for j in range(n):
                p = aik * w[kk, j]
                acc = out[i, j]
                if p > 0 and acc > hi - p:
                    out[i, j] = hi
                    clamped[i, j] = True
                elif p < 0 and acc < lo - p:
                    out[i, j] = lo
                    clamped[i, j] = True
                else:
                    out[i, j] = acc + p


@njit(cache=True, parallel=True)
def _gemm_u8s8_int16_pairs(a, w, out):
    """sum over p of sat16(a[i,2p] w[2p,j] + a[i,2p+1] w[2p+1,j]) in int64 (k even)."""
    m, k = a.shape
    n = w.shape[1]
    for i in prange(m):
        for j in range(n):
            out[i, j] = 0
        for p in range(k // 2):
            a0 = a[i, 2 * p]
            a1 = a[i, 2 * p + 1]
            for j in range(n):
                s = a0 * w[2 * p, j] + a1 * w[2 * p + 1, j]
                out[i, j] += min(max(s, -32768), 32767)


def gemm_u8s8_int16_pairs(a, w) -> np.ndarray:
    """Raw ``a @ w`` as onnxruntime's MLAS u8 x s8 kernel on AVX2 without VNNI computes it.

    ``vpmaddubsw`` adds the products of adjacent pairs ``(k=2p, 2p+1)`` with int16
    saturation before widening; the pair sums are then added exactly (int32). ``a`` uint8
    (m, k), ``w`` int8 (k, n); no zero points. Returns int64.
    """
    a = _int_matrix(a, "a")
    w = _int_matrix(w, "w")
    if a.dtype != np.uint8 or w.dtype != np.int8:
        raise ValueError(f"needs uint8 x int8 operands, found {a.dtype} x {w.dtype}")
    if a.shape[1] != w.shape[0]:
        raise ValueError(f"shapes {a.shape} and {w.shape} do not chain")
    k = a.shape[1]
    a64 = np.zeros((a.shape[0], k + k % 2), np.int64)
    a64[:, :k] = a
    w64 = np.zeros((k + k % 2, w.shape[1]), np.int64)
    w64[:k] = w
    out = np.empty((a.shape[0], w.shape[1]), np.int64)
    _gemm_u8s8_int16_pairs(a64, w64, out)
    return out


# --------------------------------------------------------------------------- public API


def _bias(bias, n: int, acc_bits: int) -> np.ndarray:
    b = np.asarray(bias)
    if b.dtype.kind not in "iu":
        raise ValueError(f"bias must be an integer array, found dtype {b.dtype}")
    if b.shape != (n,):
        raise ValueError(
            f"bias must have one value per output column, shape ({n},); found {b.shape}"
        )
    if n and (int(b.min()) < -(2**63) or int(b.max()) >= 2**63):
        raise ValueError("bias values must fit in int64")
    return b.astype(np.int64)


def _max_product(a: np.ndarray, w: np.ndarray) -> int:
    """The largest ``|a[i, k] * w[k, j]|`` (exact, Python ints)."""
    if a.size == 0 or w.size == 0:
        return 0
    amax = np.maximum(-a.min(axis=0).astype(object), a.max(axis=0).astype(object))
    wmax = np.maximum(-w.min(axis=1).astype(object), w.max(axis=1).astype(object))
    return int((amax * wmax).max())


def _result_dtype(acc_bits: int) -> np.dtype:
    return np.dtype(np.int32) if acc_bits <= 32 else np.dtype(np.int64)


def int_gemm(
    a,
    w,
    acc_bits: int = 32,
    overflow: str = "wrap",
    *,
    return_overflow: bool = False,
    bias=None,
):
    """``bias + a[m, k] @ w[k, n]`` in an ``acc_bits``-wide accumulator (see the module
    docstring; ``bias`` per output column, default none).

    Returns the outputs (int32 if ``acc_bits <= 32`` else int64), or ``(outputs,
    n_overflow)`` with ``return_overflow=True``.
    """
    acc_bits = check_bits(acc_bits, "acc_bits", 1, 64)
    _check_overflow_mode(overflow)
    a = _int_matrix(a, "a")
    w = _int_matrix(w, "w")
    if a.shape[1] != w.shape[0]:
        raise ValueError(
            f"shapes {a.shape} and {w.shape} do not chain: a has {a.shape[1]} columns, "
            f"w has {w.shape[0]} rows"
        )
    if bias is not None:  # the first term of the reduction: a column of ones times the bias
        b = _bias(bias, w.shape[1], acc_bits)
        a = np.concatenate([np.ones((a.shape[0], 1), np.int64), a.astype(np.int64)], axis=1)
        w = np.concatenate([b[None, :], w.astype(np.int64)], axis=0)
    m, k = a.shape
    n = w.shape[1]
    amax, wmax = _max_abs(a), _max_abs(w)
    if amax * wmax >= 2**63 and _max_product(a, w) >= 2**63:
        raise ValueError(
            f"products up to {amax} * {wmax} do not fit int64; operands wider than 32 bits "
            "are not supported"
        )
    lo, hi = acc_range(acc_bits)
    bound = k * amax * wmax  # no partial sum can exceed this in magnitude
    dtype = _result_dtype(acc_bits)
    int16_ok = (
        a.size
        and w.size
        and int(a.min()) >= -32768
        and int(a.max()) <= 32767
        and int(w.min()) >= -32768
        and int(w.max()) <= 32767
        and 2 * amax * wmax < 2**31
    )
    fits = bound <= hi  # exact result for every order and both modes
    if int16_ok and (
        bound < 2**31 or (overflow == "wrap" and acc_bits <= 32 and not return_overflow)
    ):
        c = gemm_int16_int32(a.astype(np.int16), w.astype(np.int16))
        if fits:
            return (
                (c.astype(dtype, copy=False), 0) if return_overflow else c.astype(dtype, copy=False)
            )
        if overflow == "wrap":
            exact = c.astype(np.int64)  # exact since bound < 2**31 or not asked to count
            out = wrap_to_bits(exact, acc_bits).astype(dtype)
            if return_overflow:
                return out, int(np.count_nonzero((exact < lo) | (exact > hi)))
            return out
    a64 = np.ascontiguousarray(a, dtype=np.int64)
    w64 = np.ascontiguousarray(w, dtype=np.int64)
    out = np.empty((m, n), np.int64)
    if overflow == "saturate" and not fits:
        clamped = np.empty((m, n), np.bool_)
        _gemm_saturate(a64, w64, np.int64(lo), np.int64(hi), out, clamped)
        result = out.astype(dtype)
        return (result, int(np.count_nonzero(clamped))) if return_overflow else result
    if return_overflow and not fits and bound >= 2**63:
        carry = np.empty((m, n), np.int64)
        _gemm_i64_carry(a64, w64, out, carry)
        bad = (carry != 0) | (out < lo) | (out > hi)
        return wrap_to_bits(out, acc_bits).astype(dtype), int(np.count_nonzero(bad))
    _gemm_u64(a64.view(np.uint64), w64.view(np.uint64), out.view(np.uint64))
    result = wrap_to_bits(out, acc_bits).astype(dtype)
    if return_overflow:
        n_bad = 0 if fits else int(np.count_nonzero((out < lo) | (out > hi)))
        return result, n_bad
    return result


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        value = (int(value), int(value))
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair, found {value}")
    return value


def conv_padding(padding) -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right) from an int, (ph, pw) or ONNX's 4-tuple
    ``(h_begin, w_begin, h_end, w_end)``."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, (bool, np.bool_)):
        p = int(padding)
        pads = (p, p, p, p)
    else:
        pads = tuple(int(v) for v in padding)
        if len(pads) == 2:
            pads = (pads[0], pads[1], pads[0], pads[1])
        elif len(pads) != 4:
            raise ValueError(f"padding must be an int, a pair or 4 values, found {padding}")
    if min(pads) < 0:
        raise ValueError(f"padding must be >= 0, found {pads}")
    return pads


def im2col(x: np.ndarray, kh: int, kw: int, stride, pads, dilation) -> np.ndarray:
    """(N, C, H, W) -> (N * OH * OW, C * KH * KW) patches, zero padded; columns ordered
    (c, kh, kw) like a flattened OIHW filter. Returns (cols, OH, OW)."""
    sh, sw = stride
    dh, dw = dilation
    top, left, bottom, right = pads
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    span_h = (kh - 1) * dh + 1
    span_w = (kw - 1) * dw + 1
    oh = (h + top + bottom - span_h) // sh + 1
    ow = (w + left + right - span_w) // sw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(
            f"the dilated kernel ({span_h}x{span_w}) is larger than the padded input "
            f"({h + top + bottom}x{w + left + right})"
        )
    win = np.lib.stride_tricks.sliding_window_view(xp, (span_h, span_w), axis=(2, 3))
    win = win[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw, ::dh, ::dw]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    return cols, oh, ow


def int_conv2d(
    x,
    w,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
    acc_bits: int = 32,
    overflow: str = "wrap",
    *,
    return_overflow: bool = False,
    bias=None,
):
    """2-D convolution (cross-correlation, as ONNX) of integer tensors.

    ``x`` is NCHW, ``w`` is OIHW with ``I = C / groups``; zero padding. The reduction order
    for ``saturate`` is increasing ``(c, kh, kw)`` (the flattened filter), after ``bias``
    (one value per output channel, the accumulator's initial value). Accumulator
    semantics and ``return_overflow`` as ``int_gemm``. Returns (N, O, OH, OW).
    """
    acc_bits = check_bits(acc_bits, "acc_bits", 1, 64)
    _check_overflow_mode(overflow)
    x = np.asarray(x)
    w = np.asarray(w)
    for arr, name in ((x, "x"), (w, "w")):
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{name} must be an integer array, found dtype {arr.dtype}")
        if arr.ndim != 4:
            raise ValueError(
                f"{name} must be 4-D ({'NCHW' if name == 'x' else 'OIHW'}), found shape {arr.shape}"
            )
    if isinstance(groups, (bool, np.bool_)) or not isinstance(groups, (int, np.integer)):
        raise ValueError(f"groups must be a positive integer, found {groups!r}")
    groups = int(groups)
    n, c, _, _ = x.shape
    o, ci, kh, kw = w.shape
    if groups < 1 or c % groups or o % groups:
        raise ValueError(
            f"groups={groups} must divide both the input channels ({c}) and the output "
            f"channels ({o})"
        )
    if ci != c // groups:
        raise ValueError(
            f"w has {ci} input channels per group, x has {c} channels / {groups} groups = "
            f"{c // groups}"
        )
    stride = _pair(stride, "stride")
    dilation = _pair(dilation, "dilation")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"stride and dilation must be >= 1, found {stride}, {dilation}")
    pads = conv_padding(padding)
    og = o // groups
    if bias is not None:
        bias = _bias(bias, o, acc_bits)
    outs = []
    n_bad = 0
    oh = ow = 0
    for g in range(groups):
        cols, oh, ow = im2col(x[:, g * ci : (g + 1) * ci], kh, kw, stride, pads, dilation)
        wg = w[g * og : (g + 1) * og].reshape(og, ci * kh * kw).T
        bg = None if bias is None else bias[g * og : (g + 1) * og]
        res = int_gemm(cols, wg, acc_bits, overflow, return_overflow=return_overflow, bias=bg)
        if return_overflow:
            res, bad = res
            n_bad += bad
        outs.append(res.reshape(n, oh, ow, og).transpose(0, 3, 1, 2))
    y = np.ascontiguousarray(np.concatenate(outs, axis=1))
    return (y, n_bad) if return_overflow else y
