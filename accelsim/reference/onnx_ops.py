"""ONNX integer operators, with the operators' argument order and semantics.

``quantize_linear``, ``dequantize_linear``, ``matmul_integer``, ``qlinear_matmul``,
``conv_integer`` and ``qlinear_conv`` take their inputs in the order of the ONNX operator
(opset 21) and attributes as keyword arguments with ONNX's names and defaults. Integer
tensors are numpy arrays; 2-bit and 4-bit tensors (numpy has no such dtype) are passed in
``int8``/``uint8`` arrays together with ``bits=`` and ``signed=``. Bad input raises
``ValueError``.

Requantizing operators (``qlinear_matmul``, ``qlinear_conv``) compute the int32
accumulator exactly, then ``saturate(round_half_even(acc * m) + y_zero_point)`` with the
multiplier ``m = x_scale * w_scale / y_scale`` evaluated in float32 as both onnxruntime
and ``onnx.reference`` do. The product ``acc * m`` is where the two differ:
``precision="float32"`` (default) is onnxruntime's MLAS (``float32(acc) * m`` in float32),
``precision="float64"`` is ``onnx.reference`` (``float64(acc) * float64(m)``).

``compat="ort_u8s8_int16_pairs"`` (``matmul_integer``, ``qlinear_matmul``; uint8 x int8
only) reproduces onnxruntime's MLAS kernel on AVX2 CPUs without VNNI, which is *not*
exact: ``vpmaddubsw`` sums the raw products of adjacent pairs ``(k = 2p, 2p + 1)`` with
int16 saturation, and the zero points are applied afterwards through exact row and column
sums: ``sum_p sat16(a b pair) - a_zp * colsum(B) - b_zp * rowsum(A) + K a_zp b_zp``.
"""

from __future__ import annotations

import numpy as np

from accelsim.reference.gemm import gemm_u8s8_int16_pairs, int_conv2d, int_gemm
from accelsim.reference.quant import dequantize, quantize, requantize

_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


# --------------------------------------------------------------------------- helpers


def _code_type(zero_point, bits, signed, default=(8, False)) -> tuple[int, bool]:
    """(bits, signed) of a quantized tensor: explicit, else from the zero point's dtype."""
    if bits is not None:
        if signed is None:
            if zero_point is None:
                raise ValueError("pass signed= together with bits=")
            signed = bool(np.issubdtype(np.asarray(zero_point).dtype, np.signedinteger))
        return int(bits), bool(signed)
    if zero_point is None:
        return default
    dt = np.asarray(zero_point).dtype
    if dt.kind not in "iu" or dt.itemsize > 2:
        raise ValueError(
            f"zero point dtype {dt} is not an ONNX integer quantization type; "
            "pass bits= and signed= explicitly"
        )
    signed_dt = bool(np.issubdtype(dt, np.signedinteger))
    if signed is not None and bool(signed) != signed_dt:
        raise ValueError(f"signed={signed} contradicts the zero point's dtype {dt}")
    return dt.itemsize * 8, signed_dt


def _expand_blocked(value, shape, axis: int, block_size: int, name: str) -> np.ndarray:
    """Blocked quantization: repeat ``value`` along ``axis`` to the full ``shape``."""
    value = np.asarray(value)
    if value.ndim != len(shape):
        raise ValueError(
            f"{name} must have the rank of the input ({len(shape)}) for blocked "
            f"quantization, found shape {value.shape}"
        )
    nblocks = -(-shape[axis] // block_size)
    expected = tuple(nblocks if d == axis else s for d, s in enumerate(shape))
    if value.shape != expected:
        raise ValueError(f"{name} must have shape {expected} for block_size={block_size}")
    full = np.repeat(value, block_size, axis=axis)
    return np.take(full, np.arange(shape[axis]), axis=axis)


def _norm_axis(axis, ndim: int) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"axis must be an integer, found {axis!r}")
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"axis {axis} is out of range for a tensor of rank {ndim}")
    return int(axis) % max(ndim, 1)


def _check_block_size(block_size) -> int:
    if isinstance(block_size, (bool, np.bool_)) or not isinstance(block_size, (int, np.integer)):
        raise ValueError(f"block_size must be an integer >= 0, found {block_size!r}")
    if block_size < 0:
        raise ValueError(f"block_size must be >= 0, found {block_size}")
    return int(block_size)


def _per_axis_call(fn, x, scale, zero_point, axis, block_size, **kw):
    """Call ``fn(x, scale, zp, axis=...)`` with ONNX per-tensor/per-axis/blocked params."""
    x = np.asarray(x)
    scale = np.asarray(scale)
    zp = 0 if zero_point is None else np.asarray(zero_point)
    if block_size:
        ax = _norm_axis(axis, x.ndim)
        full_scale = _expand_blocked(scale, x.shape, ax, block_size, "scale")
        full_zp = (
            np.zeros(x.shape, np.int64)
            if zero_point is None
            else _expand_blocked(zp, x.shape, ax, block_size, "zero_point")
        )
        flat = fn(x.reshape(-1), full_scale.reshape(-1), full_zp.reshape(-1), axis=0, **kw)
        return flat.reshape(x.shape)
    if scale.size == 1:
        if np.size(zp) != 1:
            raise ValueError("a per-tensor scale needs a per-tensor zero point")
        return fn(x, scale.reshape(-1)[:1], np.reshape(zp, -1)[:1], axis=None, **kw)
    if scale.ndim != 1:
        raise ValueError(f"scale must be a scalar or 1-D (per axis), found shape {scale.shape}")
    if zero_point is not None and np.shape(zp) != scale.shape:
        raise ValueError(
            f"zero point shape {np.shape(zp)} does not match scale shape {scale.shape}"
        )
    ax = _norm_axis(axis, x.ndim)
    return fn(x, scale, zp, axis=ax, **kw)


def _check_zero_point_of(operand: np.ndarray, zp, name: str):
    """A zero point must be integer and representable in the operand's dtype."""
    if zp is None:
        return None
    zp = np.asarray(zp)
    if zp.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, found dtype {zp.dtype}")
    info = np.iinfo(operand.dtype)
    if zp.size and (int(zp.min()) < int(info.min) or int(zp.max()) > int(info.max)):
        raise ValueError(f"{name} is outside the range of the operand's dtype {operand.dtype}")
    return zp


def _int_operand(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iu":  # not bool, nor timedelta64 (a numpy 'integer')
        raise ValueError(f"{name} must be an integer tensor, found dtype {x.dtype}")
    return x


# --------------------------------------------------------------------------- Q/DQ


def quantize_linear(
    x,
    y_scale,
    y_zero_point=None,
    *,
    axis: int = 1,
    block_size: int = 0,
    bits: int | None = None,
    signed: bool | None = None,
) -> np.ndarray:
    """ONNX ``QuantizeLinear``: ``saturate(round_half_even(x / y_scale) + y_zero_point)``.

    Output type from ``y_zero_point``'s dtype (uint8 when absent), or ``bits``/``signed``
    (e.g. ``bits=4, signed=True`` for INT4, stored in int8). A 1-D ``y_scale`` is per axis
    along ``axis``; ``block_size > 0`` is blocked quantization along ``axis``.
    """
    bits, signed = _code_type(y_zero_point, bits, signed)
    block_size = _check_block_size(block_size)
    x = np.asarray(x)
    return _per_axis_call(
        quantize, x, y_scale, y_zero_point, axis, block_size, bits=bits, signed=signed
    )


def dequantize_linear(
    x,
    x_scale,
    x_zero_point=None,
    *,
    axis: int = 1,
    block_size: int = 0,
    bits: int | None = None,
    signed: bool | None = None,
) -> np.ndarray:
    """ONNX ``DequantizeLinear``: ``(x - x_zero_point) * x_scale`` in ``x_scale``'s dtype.

    ``bits``/``signed`` state the code width of ``x`` when it is narrower than its dtype
    (INT4 in an int8 array); values outside it are rejected.
    """
    x = _int_operand(x, "x")
    block_size = _check_block_size(block_size)
    if bits is not None and signed is None:
        signed = bool(np.issubdtype(x.dtype, np.signedinteger))
    return _per_axis_call(
        dequantize, x, x_scale, x_zero_point, axis, block_size, bits=bits, signed=signed
    )


# --------------------------------------------------------------------------- matmul


def _batched_int_matmul(a: np.ndarray, b: np.ndarray, gemm=None) -> np.ndarray:
    """numpy ``matmul`` broadcasting over int_gemm (int32 accumulator, wrap)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul operands must have at least one dimension")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"shapes {a.shape} and {b.shape} do not chain: {a2.shape[-1]} != {b2.shape[-2]}"
        )
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError as err:
        raise ValueError(f"batch dimensions of {a.shape} and {b.shape} do not broadcast") from err
    m, n = a2.shape[-2], b2.shape[-1]
    ab = np.broadcast_to(a2, batch + a2.shape[-2:]).reshape(-1, *a2.shape[-2:])
    bb = np.broadcast_to(b2, batch + b2.shape[-2:]).reshape(-1, *b2.shape[-2:])
    out = np.empty((ab.shape[0], m, n), np.int32)
    for t in range(ab.shape[0]):
        out[t] = int_gemm(ab[t], bb[t], 32, "wrap") if gemm is None else gemm(ab[t], bb[t])
    out = out.reshape(batch + (m, n))
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


def _vector_zero_point(zp, n: int, name: str, what: str, column: bool):
    """ONNX per-row (of A: scalar, [M] or [..., M, 1]) or per-column (of B: scalar, [N] or
    [..., 1, N]) zero point, broadcastable against the product; ``column``: a [M] vector
    becomes [M, 1]."""
    if zp is None:
        return np.int64(0)
    zp = np.asarray(zp, dtype=np.int64)
    if zp.size == 1:
        return zp.reshape(())
    if zp.ndim == 1:
        if zp.shape[0] != n:
            raise ValueError(f"{name} has {zp.shape[0]} values, {what}")
        return zp[:, None] if column else zp
    return zp


def _centered(x: np.ndarray, zp) -> np.ndarray:
    try:
        return np.asarray(x, dtype=np.int64) - zp
    except ValueError as err:
        raise ValueError(f"zero point shape {np.shape(zp)} does not fit {x.shape}") from err


COMPAT_MODES = (None, "ort_u8s8_int16_pairs")


def _ort_u8s8(A, B, azp, bzp) -> np.ndarray:
    """MLAS u8 x s8 (AVX2, no VNNI): saturating int16 pairs, zero points by correction."""
    if A.dtype != np.uint8 or B.dtype != np.int8:
        raise ValueError(
            f"compat='ort_u8s8_int16_pairs' needs uint8 A and int8 B, found {A.dtype} x {B.dtype}"
        )
    a2 = A[None, :] if A.ndim == 1 else A
    b2 = B[:, None] if B.ndim == 1 else B
    raw = _batched_int_matmul(a2, b2, gemm_u8s8_int16_pairs).astype(np.int64)
    row_sum = a2.astype(np.int64).sum(axis=-1)[..., :, None]
    col_sum = b2.astype(np.int64).sum(axis=-2)[..., None, :]
    total = raw - azp * col_sum - bzp * row_sum + a2.shape[-1] * azp * bzp
    out = ((total + 2**31) % 2**32 - 2**31).astype(np.int32)  # MLAS accumulates in int32
    if A.ndim == 1:
        out = out[..., 0, :]
    if B.ndim == 1:
        out = out[..., 0]
    return out


def matmul_integer(
    A, B, a_zero_point=None, b_zero_point=None, *, compat: str | None = None
) -> np.ndarray:
    """ONNX ``MatMulInteger``: ``(A - a_zero_point) @ (B - b_zero_point)`` in int32.

    numpy ``matmul`` broadcasting; ``a_zero_point`` per tensor or per row, ``b_zero_point``
    per tensor or per column. ``compat``: see the module docstring.
    """
    if compat not in COMPAT_MODES:
        raise ValueError(f"compat must be one of {COMPAT_MODES}, found {compat!r}")
    A = _int_operand(A, "A")
    B = _int_operand(B, "B")
    m, n = (A.shape[-2] if A.ndim >= 2 else 1), (B.shape[-1] if B.ndim >= 2 else 1)
    azp = _check_zero_point_of(A, a_zero_point, "a_zero_point")
    azp = _vector_zero_point(azp, m, "a_zero_point", f"A has {m} rows", column=True)
    bzp = _check_zero_point_of(B, b_zero_point, "b_zero_point")
    bzp = _vector_zero_point(bzp, n, "b_zero_point", f"B has {n} columns", column=False)
    if compat is not None:
        return _ort_u8s8(A, B, azp, bzp)
    return _batched_int_matmul(_centered(A, azp), _centered(B, bzp))


def _requant_output(acc, multiplier, y_zero_point, precision):
    yzp = np.asarray(y_zero_point)
    bits, signed = _code_type(yzp, None, None)
    if yzp.size != 1:
        raise ValueError("only a per-tensor y_zero_point is supported")
    if acc.size == 0:
        return np.zeros(acc.shape, yzp.dtype)
    mult = np.ascontiguousarray(np.broadcast_to(multiplier, acc.shape)).reshape(-1)
    flat = requantize(
        acc.reshape(-1),
        mult,
        yzp.reshape(-1)[:1],
        bits=bits,
        signed=signed,
        axis=0,
        precision=precision,
    )
    return flat.reshape(acc.shape).astype(yzp.dtype)


def _f32_scale(s, name: str) -> np.ndarray:
    s = np.asarray(s)
    if not np.issubdtype(s.dtype, np.floating):
        raise ValueError(f"{name} must be a float tensor, found dtype {s.dtype}")
    if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"{name} must be finite and > 0")
    return s.astype(np.float32)


def qlinear_matmul(
    a,
    a_scale,
    a_zero_point,
    b,
    b_scale,
    b_zero_point,
    y_scale,
    y_zero_point,
    *,
    precision: str = "float32",
    compat: str | None = None,
) -> np.ndarray:
    """ONNX ``QLinearMatMul``. ``a_scale``/``a_zero_point`` per tensor or per row,
    ``b_scale``/``b_zero_point`` per tensor or per column, ``y`` per tensor. See the module
    docstring for ``precision`` and ``compat``."""
    a = _int_operand(a, "a")
    b = _int_operand(b, "b")
    acc = matmul_integer(a, b, a_zero_point, b_zero_point, compat=compat)
    sa = _f32_scale(a_scale, "a_scale")
    sb = _f32_scale(b_scale, "b_scale")
    sy = _f32_scale(y_scale, "y_scale")
    if sy.size != 1:
        raise ValueError("y_scale must be per tensor")
    if sa.size != 1:
        if sa.ndim != 1 or a.ndim < 2 or sa.shape[0] != a.shape[-2]:
            raise ValueError("a_scale must be a scalar or one value per row of a")
        sa = sa[:, None]
    else:
        sa = sa.reshape(())
    if sb.size != 1:
        if sb.ndim != 1 or b.ndim < 2 or sb.shape[0] != b.shape[-1]:
            raise ValueError("b_scale must be a scalar or one value per column of b")
    else:
        sb = sb.reshape(())
    multiplier = (sa * sb) / sy.reshape(())  # float32, ONNX order
    return _requant_output(acc, multiplier.astype(np.float32), y_zero_point, precision)


# --------------------------------------------------------------------------- conv


def _conv_geometry(x, w, auto_pad, dilations, kernel_shape, pads, strides):
    nsp = x.ndim - 2
    if kernel_shape is not None and tuple(kernel_shape) != tuple(w.shape[2:]):
        raise ValueError(f"kernel_shape {tuple(kernel_shape)} does not match w {w.shape}")
    strides = tuple(strides) if strides is not None else (1,) * nsp
    dilations = tuple(dilations) if dilations is not None else (1,) * nsp
    if len(strides) != nsp or len(dilations) != nsp:
        raise ValueError(f"strides and dilations need {nsp} values")
    if auto_pad not in _AUTO_PADS:
        raise ValueError(f"auto_pad must be one of {_AUTO_PADS}, found {auto_pad!r}")
    if auto_pad == "NOTSET":
        pads = tuple(pads) if pads is not None else (0,) * (2 * nsp)
        if len(pads) != 2 * nsp:
            raise ValueError(f"pads needs {2 * nsp} values, found {len(pads)}")
    elif auto_pad == "VALID":
        pads = (0,) * (2 * nsp)
    else:
        begin, end = [], []
        for d in range(nsp):
            size = x.shape[2 + d]
            out = -(-size // strides[d])
            span = (w.shape[2 + d] - 1) * dilations[d] + 1
            total = max(0, (out - 1) * strides[d] + span - size)
            small, large = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else large)
            end.append(large if auto_pad == "SAME_UPPER" else small)
        pads = tuple(begin + end)
    return strides, dilations, pads


def _conv_int32(x, w, auto_pad, dilations, group, kernel_shape, pads, strides):
    if x.ndim not in (3, 4) or w.ndim != x.ndim:
        raise ValueError(f"only 1-D and 2-D convolutions are supported: x {x.shape}, w {w.shape}")
    strides, dilations, pads = _conv_geometry(
        x, w, auto_pad, dilations, kernel_shape, pads, strides
    )
    if x.ndim == 3:
        y = int_conv2d(
            x[:, :, None, :],
            w[:, :, None, :],
            (1, strides[0]),
            (0, pads[0], 0, pads[1]),
            (1, dilations[0]),
            group,
            32,
            "wrap",
        )
        return y[:, :, 0, :]
    return int_conv2d(x, w, strides, pads, dilations, group, 32, "wrap")


def _per_channel_zero_point(zp, w: np.ndarray, name: str):
    if zp is None:
        return np.int64(0)
    zp = np.asarray(zp, dtype=np.int64)
    if zp.size == 1:
        return zp.reshape(())
    if zp.ndim != 1 or zp.shape[0] != w.shape[0]:
        raise ValueError(f"{name} must be a scalar or one value per output channel")
    return zp.reshape((-1,) + (1,) * (w.ndim - 1))


def conv_integer(
    x,
    w,
    x_zero_point=None,
    w_zero_point=None,
    *,
    auto_pad: str = "NOTSET",
    dilations=None,
    group: int = 1,
    kernel_shape=None,
    pads=None,
    strides=None,
) -> np.ndarray:
    """ONNX ``ConvInteger`` (1-D and 2-D): ``conv(x - x_zero_point, w - w_zero_point)``
    in int32; padding stands for real zero (the zero point). ``w_zero_point`` per tensor or
    per output channel."""
    x = _int_operand(x, "x")
    w = _int_operand(w, "w")
    xzp = _check_zero_point_of(x, x_zero_point, "x_zero_point")
    if xzp is not None and xzp.size != 1:
        raise ValueError("x_zero_point must be per tensor")
    wzp = _per_channel_zero_point(
        _check_zero_point_of(w, w_zero_point, "w_zero_point"), w, "w_zero_point"
    )
    xc = _centered(x, 0 if xzp is None else xzp.reshape(()).astype(np.int64))
    wc = _centered(w, wzp)
    return _conv_int32(xc, wc, auto_pad, dilations, group, kernel_shape, pads, strides)


def qlinear_conv(
    x,
    x_scale,
    x_zero_point,
    w,
    w_scale,
    w_zero_point,
    y_scale,
    y_zero_point,
    B=None,
    *,
    auto_pad: str = "NOTSET",
    dilations=None,
    group: int = 1,
    kernel_shape=None,
    pads=None,
    strides=None,
    precision: str = "float32",
) -> np.ndarray:
    """ONNX ``QLinearConv`` (1-D and 2-D): int32 ``conv_integer`` plus the int32 bias
    ``B``, requantized with ``x_scale * w_scale / y_scale`` (``w_scale`` per tensor or per
    output channel). See the module docstring for ``precision``."""
    acc = conv_integer(
        x,
        w,
        x_zero_point,
        w_zero_point,
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    w = np.asarray(w)
    if B is not None:
        B = _int_operand(B, "B")
        if B.shape != (w.shape[0],):
            raise ValueError(f"B must have shape ({w.shape[0]},), found {B.shape}")
        bias = B.astype(np.int64).reshape((1, -1) + (1,) * (acc.ndim - 2))
        acc = (acc.astype(np.int64) + bias).astype(np.int32)  # int32 wrap, as MLAS
    sx = _f32_scale(x_scale, "x_scale")
    sw = _f32_scale(w_scale, "w_scale")
    sy = _f32_scale(y_scale, "y_scale")
    if sx.size != 1 or sy.size != 1:
        raise ValueError("x_scale and y_scale must be per tensor")
    if sw.size != 1:
        if sw.ndim != 1 or sw.shape[0] != w.shape[0]:
            raise ValueError("w_scale must be a scalar or one value per output channel")
        sw = sw.reshape((1, -1) + (1,) * (acc.ndim - 2))
    else:
        sw = sw.reshape(())
    multiplier = (sx.reshape(()) * sw) / sy.reshape(())
    return _requant_output(acc, multiplier.astype(np.float32), y_zero_point, precision)


__all__ = [
    "conv_integer",
    "dequantize_linear",
    "matmul_integer",
    "qlinear_conv",
    "qlinear_matmul",
    "quantize_linear",
]
