"""Quantize, dequantize and requantize, bit for bit.

Conventions (shared by every function here):

- ``bits`` is 1..32 and ``signed`` picks two's complement ``[-2**(bits-1), 2**(bits-1) - 1]``
  or unsigned ``[0, 2**bits - 1]``. Results are stored in the smallest numpy integer dtype
  that holds the range (int4 values live in an ``int8`` array, uint4 in ``uint8``).
- ``scale`` and ``zero_point`` are per tensor (``axis=None``: one value each) or per
  channel (``axis=a``: 1-D arrays of length ``x.shape[a]``; a single value still means per
  tensor). Scales must be finite and > 0; zero points integers inside the quantized range.
  Anything else raises ``ValueError`` before any arithmetic.
- Quantization: ``q = saturate(round(x / scale) + zero_point)``. The division is done in
  float32 when ``x`` and ``scale`` are both float32 (or narrower), as ONNX runtimes do,
  else in float64; the rounded value is an exact integer, the zero point is added in exact
  integer arithmetic and the result is clamped (saturated) to the range.
- Rounding modes: ``half_even`` (IEEE default, ONNX, PyTorch), ``half_away`` (C ``round``,
  TFLite's ``TfLiteRound``), ``half_up`` (ties toward +inf: ``floor(v + 0.5)`` done
  exactly), ``floor``, ``ceil``, ``toward_zero`` and ``stochastic`` (round up with
  probability equal to the fraction: ``floor(v) + (u < v - floor(v))`` where ``u`` is a
  float64 in [0, 1) drawn from the counter-based SplitMix64 of ``accelsim.reference._prng``
  at ``(seed, flat C-order element index)``; reproducible whatever the loop order).
- Requantization of integer accumulators: with a float scale (``requantize``: ONNX
  semantics, ``precision="float32"`` is onnxruntime/MLAS: ``float32(acc) * float32(scale)``
  rounded to float32, ``"float64"`` is ``onnx.reference``), or with a dyadic multiplier and
  shift (``requantize_fixed``: gemmlowp/TFLite ``MultiplyByQuantizedMultiplier``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numba import njit

from accelsim.reference._prng import check_seed, uniform01

ROUNDING_MODES = (
    "half_even",
    "half_away",
    "half_up",
    "floor",
    "ceil",
    "toward_zero",
    "stochastic",
)
_HALF_EVEN, _HALF_AWAY, _HALF_UP, _FLOOR, _CEIL, _TOWARD_ZERO, _STOCHASTIC = range(7)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


# --------------------------------------------------------------------------- validation


def check_bits(bits, name: str = "bits", lo: int = 1, hi: int = 32) -> int:
    """Return ``bits`` as an int, or raise ValueError if it is not an integer in [lo, hi]."""
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, found {bits!r}")
    if not lo <= int(bits) <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, found {int(bits)}")
    return int(bits)


def int_range(bits: int, signed: bool) -> tuple[int, int]:
    """The (min, max) integers of a ``bits``-wide signed or unsigned code."""
    bits = check_bits(bits)
    if signed:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def storage_dtype(bits: int, signed: bool) -> np.dtype:
    """The smallest numpy integer dtype holding every ``bits``-wide value."""
    bits = check_bits(bits)
    for width in (8, 16, 32):
        if bits <= width:
            return np.dtype(f"int{width}" if signed else f"uint{width}")
    raise AssertionError("unreachable")


def _rounding_code(rounding) -> int:
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDING_MODES)}; found {rounding!r}")
    return ROUNDING_MODES.index(rounding)


def _int_array(value, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":  # not bool, nor timedelta64 (a numpy 'integer')
        raise ValueError(f"{name} must hold integers, found dtype {arr.dtype}")
    return arr


def _real_array(value, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers, found dtype {arr.dtype}")
    return arr


def _float_input(x, name: str = "x") -> np.ndarray:
    arr = _real_array(x, name)
    if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN, which has no quantized value")
    return arr


def _check_scale(scale, name: str = "scale") -> np.ndarray:
    arr = _real_array(scale, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        bad = arr[~(np.isfinite(arr) & (arr > 0))].ravel()[0]
        raise ValueError(f"{name} must be finite and > 0, found {bad}")
    return arr


def channel_layout(shape, size: int, axis, name: str) -> tuple[int, int]:
    """(inner, nch) so that element ``i`` of a C-ordered array uses channel ``(i//inner)%nch``.

    ``size`` is the number of parameter values (1 = per tensor). Raises ValueError when a
    per-channel parameter does not match ``shape[axis]``.
    """
    if size == 1:
        return 1, 1
    if axis is None:
        raise ValueError(f"{name} has {size} values but axis is None (per-tensor needs one)")
    ndim = len(shape)
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"axis must be an integer, found {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an array of {ndim} dimensions")
    axis = int(axis) % ndim
    if shape[axis] != size:
        raise ValueError(
            f"{name} has {size} values but axis {axis} has length {shape[axis]}; "
            "per-channel parameters need one value per channel"
        )
    return int(np.prod(shape[axis + 1 :], dtype=np.int64)), size


def _params_1d(value, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim > 1 and arr.size != 1:
        raise ValueError(f"{name} must be a scalar or 1-D, found shape {arr.shape}")
    return arr.reshape(-1)


def _zero_points(zero_point, nvalues: int, qmin: int, qmax: int, name: str) -> np.ndarray:
    zp = _params_1d(_int_array(zero_point, name), name).astype(np.int64)
    if zp.size not in (1, nvalues):
        raise ValueError(f"{name} has {zp.size} values, expected 1 or {nvalues}")
    if np.any(zp < qmin) or np.any(zp > qmax):
        bad = zp[(zp < qmin) | (zp > qmax)][0]
        raise ValueError(f"{name} {bad} is outside the quantized range [{qmin}, {qmax}]")
    return np.broadcast_to(zp, (nvalues,)).copy()


def _compute_dtype(*arrays) -> np.dtype:
    """float32 when every operand is float32 or narrower (ints count as wide), else float64."""
    for arr in arrays:
        if not (np.issubdtype(arr.dtype, np.floating) and arr.dtype.itemsize <= 4):
            return np.dtype(np.float64)
    return np.dtype(np.float32)


# --------------------------------------------------------------------------- jit kernels


@njit(cache=True, inline="always")
def _round(v, mode, seed, idx):
    """Round the float64 ``v`` to an integer-valued float64 using rounding mode ``mode``."""
    if mode == _HALF_EVEN:
        return np.rint(v)
    if mode == _FLOOR:
        return np.floor(v)
    if mode == _CEIL:
        return np.ceil(v)
    if mode == _TOWARD_ZERO:
        return np.trunc(v)
    f = np.floor(v)
    frac = v - f  # exact: in [0, 1) for finite v
    if mode == _HALF_UP:
        return f + 1.0 if frac >= 0.5 else f
    if mode == _HALF_AWAY:
        if frac > 0.5 or (frac == 0.5 and v > 0.0):
            return f + 1.0
        return f
    u = uniform01(seed, idx)
    return f + 1.0 if u < frac else f


@njit(cache=True, inline="always")
def _saturate(r, zp, qmin, qmax):
    """Clamp the integer-valued float ``r`` to [qmin - zp, qmax - zp], then add ``zp``."""
    lo = np.float64(qmin - zp)
    hi = np.float64(qmax - zp)
    if r < lo:
        r = lo
    elif r > hi:
        r = hi
    return np.int64(r) + zp


@njit(cache=True)
def _quantize_kernel(x, scale, zp, inner, nch, qmin, qmax, mode, seed, out):
    for i in range(x.size):
        c = (i // inner) % nch
        v = np.float64(x[i] / scale[c])  # x and scale share a dtype: f32 / f32 stays f32
        out[i] = _saturate(_round(v, mode, seed, i), zp[c], qmin, qmax)


@njit(cache=True)
def _dequantize_kernel(q, scale, zp, inner, nch, out):
    for i in range(q.size):
        c = (i // inner) % nch
        out[i] = q[i] - zp[c]  # exact int64, converted (nearest even) to out's float dtype
        out[i] = out[i] * scale[c]  # one multiplication in that dtype


@njit(cache=True)
def _requantize_kernel(accf, scale, zp, inner, nch, qmin, qmax, mode, seed, out):
    for i in range(accf.size):
        c = (i // inner) % nch
        v = np.float64(accf[i] * scale[c])  # accf and scale share a dtype
        out[i] = _saturate(_round(v, mode, seed, i), zp[c], qmin, qmax)


@njit(cache=True, inline="always")
def _wrap32(v):
    """Two's complement wrap of an int64 to the int32 range (as an int64)."""
    return ((v + 2147483648) & 4294967295) - 2147483648


@njit(cache=True, inline="always")
def _srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values held in int64."""
    if a == b and a == -2147483648:
        return np.int64(2147483647)
    ab = a * b
    nudge = np.int64(1073741824) if ab >= 0 else np.int64(-1073741823)
    t = ab + nudge
    # C++ integer division truncates toward zero
    return (t >> 31) if t >= 0 else -((-t) >> 31)


@njit(cache=True, inline="always")
def _rdbpot(x, exponent):
    """gemmlowp RoundingDivideByPOT: x / 2**exponent rounded to nearest, ties away from 0."""
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@njit(cache=True, inline="always")
def _mbqm(x, multiplier, shift):
    """TFLite MultiplyByQuantizedMultiplier(int32 x, int32 multiplier, int shift)."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return _rdbpot(_srdhm(_wrap32(x << left), multiplier), right)


@njit(cache=True)
def _requantize_fixed_kernel(acc, mult, shift, zp, inner, nch, qmin, qmax, out):
    for i in range(acc.size):
        c = (i // inner) % nch
        v = _mbqm(acc[i], mult[c], shift[c]) + zp[c]
        out[i] = min(max(v, qmin), qmax)


@njit(cache=True)
def _srdhm_kernel(a, b, out):
    for i in range(a.size):
        out[i] = _srdhm(a[i], b[i])


@njit(cache=True)
def _rdbpot_kernel(x, e, out):
    for i in range(x.size):
        out[i] = _rdbpot(x[i], e[i])


@njit(cache=True)
def _mbqm_kernel(x, m, s, out):
    for i in range(x.size):
        out[i] = _mbqm(x[i], m[i], s[i])


# --------------------------------------------------------------------------- public API


def quantize(
    x,
    scale,
    zero_point=0,
    *,
    bits: int = 8,
    signed: bool = True,
    axis: int | None = None,
    rounding: str = "half_even",
    seed: int | None = None,
) -> np.ndarray:
    """``saturate(round(x / scale) + zero_point)`` to a ``bits``-wide integer code.

    Per tensor (``axis=None``) or per channel along ``axis``. ``rounding="stochastic"``
    needs a ``seed`` (integer in [0, 2**64)). Returns an array of ``storage_dtype(bits,
    signed)`` with the shape of ``x``.
    """
    bits = check_bits(bits)
    qmin, qmax = int_range(bits, signed)
    mode = _rounding_code(rounding)
    if mode == _STOCHASTIC:
        if seed is None:
            raise ValueError("rounding='stochastic' needs a seed")
        seed64 = check_seed(seed)
    else:
        seed64 = np.uint64(0)
    x = _float_input(x)
    scale = _params_1d(_check_scale(scale), "scale")
    inner, nch = channel_layout(x.shape, scale.size, axis, "scale")
    zp = _zero_points(zero_point, nch, qmin, qmax, "zero_point")
    dtype = _compute_dtype(x, scale)
    xf = np.ascontiguousarray(x, dtype=dtype).reshape(-1)
    out = np.empty(xf.size, np.int64)
    _quantize_kernel(
        xf, np.ascontiguousarray(scale, dtype=dtype), zp, inner, nch, qmin, qmax, mode, seed64, out
    )
    return out.astype(storage_dtype(bits, signed)).reshape(x.shape)


def dequantize(
    q,
    scale,
    zero_point=0,
    *,
    axis: int | None = None,
    bits: int | None = None,
    signed: bool | None = None,
) -> np.ndarray:
    """``(q - zero_point) * scale``: the difference is exact, then converted to the dtype of
    ``scale`` (float32 for a float32 scale, as ONNX; float64 otherwise) and multiplied once.

    ``bits``/``signed`` (default: from ``q``'s dtype) give the code range that ``q`` and
    ``zero_point`` must lie in.
    """
    q = _int_array(q, "q")
    if bits is None:
        info = np.iinfo(q.dtype)
        qmin, qmax = int(info.min), int(info.max)
        if signed is not None and signed != (qmin < 0):
            raise ValueError(f"signed={signed} contradicts q's dtype {q.dtype}; pass bits too")
    else:
        if signed is None:
            raise ValueError("pass signed together with bits")
        qmin, qmax = int_range(bits, signed)
        if q.size and (int(q.min()) < qmin or int(q.max()) > qmax):
            raise ValueError(f"q has values outside the {bits}-bit range [{qmin}, {qmax}]")
    scale = _params_1d(_check_scale(scale), "scale")
    inner, nch = channel_layout(q.shape, scale.size, axis, "scale")
    zp = _zero_points(zero_point, nch, qmin, qmax, "zero_point")
    dtype = np.dtype(np.float32) if scale.dtype == np.float32 else np.dtype(np.float64)
    out = np.empty(q.size, dtype)
    _dequantize_kernel(
        np.ascontiguousarray(q, dtype=np.int64).reshape(-1),
        np.ascontiguousarray(scale, dtype=dtype),
        zp,
        inner,
        nch,
        out,
    )
    return out.reshape(q.shape)


def requantize(
    acc,
    scale,
    zero_point=0,
    *,
    bits: int = 8,
    signed: bool = True,
    axis: int | None = None,
    rounding: str = "half_even",
    precision: str = "float32",
    seed: int | None = None,
) -> np.ndarray:
    """``saturate(round(acc * scale) + zero_point)`` for integer accumulators, float scale.

    ``precision="float32"``: ``acc`` is converted to float32 (round to nearest even) and
    multiplied by ``float32(scale)`` in float32, as onnxruntime's MLAS requantizer does.
    ``precision="float64"``: ``float64(acc) * float64(scale)``, as ``onnx.reference`` does
    (pass the float32 multiplier ``a_scale * b_scale / y_scale`` computed in float32 to get
    ONNX's exact numbers). Default rounding ``half_even`` is ONNX's.
    """
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', found {precision!r}")
    bits = check_bits(bits)
    qmin, qmax = int_range(bits, signed)
    mode = _rounding_code(rounding)
    seed64 = np.uint64(0)
    if mode == _STOCHASTIC:
        if seed is None:
            raise ValueError("rounding='stochastic' needs a seed")
        seed64 = check_seed(seed)
    acc = _int_array(acc, "acc")
    if acc.size and (int(acc.min()) < -(2**63) or int(acc.max()) >= 2**63):
        raise ValueError("acc values must fit in int64")
    scale = _params_1d(_check_scale(scale), "scale")
    inner, nch = channel_layout(acc.shape, scale.size, axis, "scale")
    zp = _zero_points(zero_point, nch, qmin, qmax, "zero_point")
    out = np.empty(acc.size, np.int64)
    # numpy's int -> float casts round to nearest even, like cvtdq2ps
    _requantize_kernel(
        np.ascontiguousarray(acc, dtype=np.dtype(precision)).reshape(-1),
        np.ascontiguousarray(scale, dtype=np.dtype(precision)),
        zp,
        inner,
        nch,
        qmin,
        qmax,
        mode,
        seed64,
        out,
    )
    return out.astype(storage_dtype(bits, signed)).reshape(acc.shape)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: ``real ≈ multiplier * 2**(shift - 31)``.

    ``multiplier`` is an int32 in [2**30, 2**31 - 1] (or 0), ``shift`` a left shift when
    positive, a right shift when negative. Uses ``frexp``, rounds half away from zero
    (``TfLiteRound``), renormalises a rounded-up 2**31, and flushes multipliers below about
    2**-31 (shift < -31) to (0, 0), as TFLite does.
    """
    if not isinstance(real_multiplier, numbers.Real) or isinstance(real_multiplier, bool):
        raise ValueError(f"real_multiplier must be a real number, found {real_multiplier!r}")
    real = float(real_multiplier)
    if not math.isfinite(real) or real < 0:
        raise ValueError(f"real_multiplier must be finite and >= 0, found {real}")
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    scaled = q * 2.0**31  # exact
    q_fixed = int(scaled)  # q > 0, truncation == floor
    if scaled - q_fixed >= 0.5:
        q_fixed += 1
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if q_fixed > INT32_MAX:
        raise ValueError(f"real_multiplier {real} does not fit an int32 multiplier")
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def _int32_values(value, name: str) -> np.ndarray:
    arr = _int_array(value, name)
    if arr.size and (int(arr.min()) < INT32_MIN or int(arr.max()) > INT32_MAX):
        raise ValueError(f"{name} values must fit in int32")
    return arr


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` elementwise on int32 values.

    ``(a * b + nudge) / 2**31`` with C's truncating division and ``nudge = 2**30`` for a
    non-negative product, ``1 - 2**30`` otherwise; ``INT32_MIN * INT32_MIN`` saturates to
    ``INT32_MAX``. Returns int32.
    """
    a = _int32_values(a, "a")
    b = _int32_values(b, "b")
    a, b = np.broadcast_arrays(a, b)
    out = np.empty(a.size, np.int64)
    _srdhm_kernel(
        np.ascontiguousarray(a, dtype=np.int64).reshape(-1),
        np.ascontiguousarray(b, dtype=np.int64).reshape(-1),
        out,
    )
    return out.astype(np.int32).reshape(a.shape)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2**exponent``, nearest, ties away from zero.

    ``x`` int32 values, ``exponent`` in 0..31. Returns int32.
    """
    x = _int32_values(x, "x")
    e = _int_array(exponent, "exponent")
    if e.size and (int(e.min()) < 0 or int(e.max()) > 31):
        raise ValueError("exponent must be in 0..31")
    x, e = np.broadcast_arrays(x, e)
    out = np.empty(x.size, np.int64)
    _rdbpot_kernel(
        np.ascontiguousarray(x, dtype=np.int64).reshape(-1),
        np.ascontiguousarray(e, dtype=np.int64).reshape(-1),
        out,
    )
    return out.astype(np.int32).reshape(x.shape)


def _check_shift(shift) -> np.ndarray:
    s = _int_array(shift, "shift")
    if s.size and (int(s.min()) < -31 or int(s.max()) > 30):
        raise ValueError("shift must be in -31..30 (positive = left shift)")
    return s


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplier(int32 x, int32 multiplier, int shift)``.

    ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2**max(shift, 0),
    multiplier), max(-shift, 0))``; the left shift wraps in int32 as the C++ code does on
    two's complement machines. Elementwise over broadcast arrays; returns int32.
    """
    x = _int32_values(x, "x")
    m = _int32_values(multiplier, "multiplier")
    s = _check_shift(shift)
    x, m, s = np.broadcast_arrays(x, m, s)
    out = np.empty(x.size, np.int64)
    _mbqm_kernel(
        np.ascontiguousarray(x, dtype=np.int64).reshape(-1),
        np.ascontiguousarray(m, dtype=np.int64).reshape(-1),
        np.ascontiguousarray(s, dtype=np.int64).reshape(-1),
        out,
    )
    return out.astype(np.int32).reshape(x.shape)


def requantize_fixed(
    acc,
    multiplier,
    shift,
    zero_point=0,
    *,
    bits: int = 8,
    signed: bool = True,
    axis: int | None = None,
) -> np.ndarray:
    """TFLite/gemmlowp requantization of int32 accumulators with a dyadic multiplier.

    ``saturate(MultiplyByQuantizedMultiplier(acc, multiplier, shift) + zero_point)``;
    ``multiplier``/``shift`` (from ``quantize_multiplier``) per tensor or per channel along
    ``axis``. ``acc`` must fit int32.
    """
    bits = check_bits(bits)
    qmin, qmax = int_range(bits, signed)
    acc = _int32_values(acc, "acc")
    m = _params_1d(_int32_values(multiplier, "multiplier"), "multiplier")
    s = _params_1d(_check_shift(shift), "shift")
    nvalues = max(m.size, s.size)
    if m.size not in (1, nvalues) or s.size not in (1, nvalues):
        raise ValueError(f"multiplier has {m.size} values but shift has {s.size}")
    inner, nch = channel_layout(acc.shape, nvalues, axis, "multiplier")
    zp = _zero_points(zero_point, nch, qmin, qmax, "zero_point")
    out = np.empty(acc.size, np.int64)
    _requantize_fixed_kernel(
        np.ascontiguousarray(acc, dtype=np.int64).reshape(-1),
        np.broadcast_to(m.astype(np.int64), (nch,)).copy(),
        np.broadcast_to(s.astype(np.int64), (nch,)).copy(),
        zp,
        inner,
        nch,
        qmin,
        qmax,
        out,
    )
    return out.astype(storage_dtype(bits, signed)).reshape(acc.shape)
