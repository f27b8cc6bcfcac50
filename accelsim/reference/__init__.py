"""Bit-accurate reference arithmetic (DESIGN.md §6): the ground truth for the models.

Everything takes and returns numpy arrays; numba is used only inside this package.

- ``quant``: quantize / dequantize / requantize (float scale, dyadic multiplier + shift),
  every rounding mode, saturation, any bit-width 1..32, per tensor or per channel.
- ``gemm``: ``int_gemm`` / ``int_conv2d`` with an ``acc_bits`` accumulator that wraps or
  saturates, and overflow counts.
- ``onnx_ops``: ONNX ``QuantizeLinear``, ``DequantizeLinear``, ``MatMulInteger``,
  ``ConvInteger``, ``QLinearMatMul``, ``QLinearConv`` with the operators' semantics.
- ``bitserial``: bit-plane serial GEMM and UNPU's lookup-table GEMM.
- ``xnor``: ±1 GEMM on bit-packed operands by XNOR and popcount.
- ``hidden``: Hiddenite's seed-generated weights and edge-popup supermasks.
- ``systolic``: the cycle-stepped systolic array (``run_systolic``).
- ``systolic_pe``: the same array of ``bit_fusion``, ``bit_serial`` or ``xnor`` PEs
  (``run_systolic_pe``).
"""

from accelsim.reference.bitserial import bitserial_gemm, unpu_lut_gemm
from accelsim.reference.gemm import acc_range, int_conv2d, int_gemm, wrap_to_bits
from accelsim.reference.hidden import (
    generate_weights,
    hidden_layer_forward,
    supermask,
    supermask_count,
)
from accelsim.reference.onnx_ops import (
    conv_integer,
    dequantize_linear,
    matmul_integer,
    qlinear_conv,
    qlinear_matmul,
    quantize_linear,
)
from accelsim.reference.quant import (
    ROUNDING_MODES,
    dequantize,
    int_range,
    multiply_by_quantized_multiplier,
    quantize,
    quantize_multiplier,
    requantize,
    requantize_fixed,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    storage_dtype,
)
from accelsim.reference.systolic import run_systolic
from accelsim.reference.systolic_pe import run_systolic_pe
from accelsim.reference.xnor import pack_bits, unpack_bits, xnor_gemm

__all__ = [
    "ROUNDING_MODES",
    "acc_range",
    "bitserial_gemm",
    "conv_integer",
    "dequantize",
    "dequantize_linear",
    "generate_weights",
    "hidden_layer_forward",
    "int_conv2d",
    "int_gemm",
    "int_range",
    "matmul_integer",
    "multiply_by_quantized_multiplier",
    "pack_bits",
    "qlinear_conv",
    "qlinear_matmul",
    "quantize",
    "quantize_linear",
    "quantize_multiplier",
    "requantize",
    "requantize_fixed",
    "rounding_divide_by_pot",
    "run_systolic",
    "run_systolic_pe",
    "saturating_rounding_doubling_high_mul",
    "storage_dtype",
    "supermask",
    "supermask_count",
    "unpack_bits",
    "unpu_lut_gemm",
    "wrap_to_bits",
    "xnor_gemm",
]
