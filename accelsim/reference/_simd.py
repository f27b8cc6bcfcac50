"""Small LLVM-level building blocks for the fast integer kernels.

Numba has no vector types, so the int16 GEMM micro-kernel keeps its accumulators in
values of two tiny numba types whose LLVM representation is a vector (``<8 x i32>``,
``<16 x i16>``). The operations are written in portable LLVM IR (no x86 intrinsics): the
multiply-add is ``sext`` to i32, multiply, then add the even and odd lanes, which the x86
backend selects as one ``vpmaddwd`` (int16 x int16 -> int32 pair sums, exact) and other
targets lower as they can. ``popcount`` is ``llvm.ctpop.i64``: one ``popcnt`` instruction
on x86-64 with POPCNT. ``vpopcount_xor_add`` is ``llvm.ctpop.v32i8`` on 256 bits: AVX2 has
no vector popcount instruction, and LLVM lowers it to the nibble lookup of Mula, Kurz and
Lemire ("Faster Population Counts Using AVX2 Instructions", 2018: two ``vpshufb`` and an
add per 32 bytes), which beats four scalar ``popcnt``; the per-byte counts are summed with
``vpaddb`` for up to 31 steps (31 * 8 < 256) before one horizontal reduction.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

_I16 = ir.IntType(16)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_V8I32 = ir.VectorType(_I32, 8)
_V16I16 = ir.VectorType(_I16, 16)
_V16I32 = ir.VectorType(_I32, 16)
_V32I8 = ir.VectorType(ir.IntType(8), 32)
_V32I64 = ir.VectorType(_I64, 32)


class _I32x8Type(types.Type):
    def __init__(self):
        super().__init__(name="accelsim.i32x8")


class _I16x16Type(types.Type):
    def __init__(self):
        super().__init__(name="accelsim.i16x16")


class _U8x32Type(types.Type):
    def __init__(self):
        super().__init__(name="accelsim.u8x32")


i32x8 = _I32x8Type()
i16x16 = _I16x16Type()
u8x32 = _U8x32Type()


@register_model(_I32x8Type)
class _I32x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V8I32)


@register_model(_I16x16Type)
class _I16x16Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V16I16)


@register_model(_U8x32Type)
class _U8x32Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V32I8)


def _element_ptr(context, builder, aryty, ary, index):
    array = context.make_array(aryty)(context, builder, ary)
    return builder.gep(array.data, [index])


@intrinsic
def vzero(typingctx):
    """An ``<8 x i32>`` of zeros."""

    def codegen(context, builder, sig, args):
        return ir.Constant(_V8I32, [0] * 8)

    return i32x8(), codegen


@intrinsic
def vload_i16x16(typingctx, arr, index):
    """16 consecutive int16 of the 1-D int16 array ``arr`` from ``index`` (unaligned)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int16):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(ptr, _V16I16.as_pointer()), align=2)

    return i16x16(arr, index), codegen


@intrinsic
def vmadd_pair(typingctx, acc, b, arr, index):
    """``acc + pmaddwd(broadcast(arr[index]), b)``.

    ``arr[index]`` is an int32 holding two int16 (low half first); lane ``j`` of the result
    adds ``lo * b[2j] + hi * b[2j + 1]`` to ``acc[j]``, with int32 wrap-around.
    """
    if not (isinstance(arr, types.Array) and arr.dtype == types.int32):
        return None

    def codegen(context, builder, sig, args):
        accv, bv = args[0], args[1]
        ptr = _element_ptr(context, builder, sig.args[2], args[2], args[3])
        pair = builder.load(ptr)
        v = builder.insert_element(ir.Constant(_V8I32, ir.Undefined), pair, ir.Constant(_I32, 0))
        v = builder.shuffle_vector(
            v, ir.Constant(_V8I32, ir.Undefined), ir.Constant(_V8I32, [0] * 8)
        )
        prod = builder.mul(
            builder.sext(builder.bitcast(v, _V16I16), _V16I32), builder.sext(bv, _V16I32)
        )
        even = builder.shuffle_vector(prod, prod, ir.Constant(_V8I32, list(range(0, 16, 2))))
        odd = builder.shuffle_vector(prod, prod, ir.Constant(_V8I32, list(range(1, 16, 2))))
        return builder.add(accv, builder.add(even, odd))

    return i32x8(acc, b, arr, index), codegen


@intrinsic
def vstore_add_i32x8(typingctx, arr, index, value):
    """``arr[index:index + 8] += value`` on a 1-D int32 array (unaligned)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int32):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        vptr = builder.bitcast(ptr, _V8I32.as_pointer())
        builder.store(builder.add(builder.load(vptr, align=4), args[2]), vptr, align=4)
        return context.get_dummy_value()

    return types.none(arr, index, value), codegen


@intrinsic
def popcount(typingctx, x):
    """Number of set bits of a 64-bit integer, as int64 (``llvm.ctpop.i64``)."""
    if not (isinstance(x, types.Integer) and x.bitwidth == 64):
        return None

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])

    return types.int64(x), codegen


@intrinsic
def bzero(typingctx):
    """A ``<32 x i8>`` of zeros (per-byte counters)."""

    def codegen(context, builder, sig, args):
        return ir.Constant(_V32I8, [0] * 32)

    return u8x32(), codegen


@intrinsic
def vload_u8x32(typingctx, arr, index):
    """256 bits (4 words) of the 1-D uint64 array ``arr`` from word ``index`` (unaligned)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.uint64):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(ptr, _V32I8.as_pointer()), align=8)

    return u8x32(arr, index), codegen


@intrinsic
def vpopcount_xor_add(typingctx, acc, x, y):
    """``acc + ctpop(x ^ y)`` per byte (``llvm.ctpop.v32i8``); bytes wrap at 256."""

    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_V32I8, [_V32I8]), "llvm.ctpop.v32i8"
        )
        return builder.add(args[0], builder.call(fn, [builder.xor(args[1], args[2])]))

    return u8x32(acc, x, y), codegen


@intrinsic
def vsum_u8x32(typingctx, acc):
    """Sum of the 32 unsigned bytes, as int64."""

    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_I64, [_V32I64]), "llvm.vector.reduce.add.v32i64"
        )
        return builder.call(fn, [builder.zext(args[0], _V32I64)])

    return types.int64(acc), codegen
