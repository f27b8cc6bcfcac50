"""ONNX models in: ``accelsim.load_workload("model.onnx")`` and ``accelsim import model.onnx``.

onnx is imported only when a model is read (``import accelsim`` stays light). A model is read
without its external data (only tensor shapes, types and a few scalars are needed).

What each node becomes
----------------------
* **GEMM layers.** ``Conv``, ``QLinearConv``, ``ConvInteger`` (1-D or 2-D, grouped and
  depthwise; ``pads``, ``auto_pad``, ``strides``, ``dilations``, ``group``) -> ``conv``.
  ``Gemm`` (``transA``/``transB``), ``MatMul``, ``QLinearMatMul``, ``MatMulInteger`` with one
  constant operand (an initializer, possibly behind DequantizeLinear / Quant / Transpose ...)
  -> ``fc``: ``in_features = k``, ``out_features = n``, ``tokens`` = the rows per sample
  (all leading dimensions of the data operand divided by the batch). With two computed
  operands (attention's QK^T and context products) -> ``matmul``: ``m``, ``n``, ``k`` of one
  product and ``count`` = the product of the numpy-broadcast batch dimensions divided by the
  batch (a 2-D product of two computed operands has ``count 1`` and ``m`` = rows / batch).
  ``ConvTranspose`` (any spatial rank, ``group`` g) is the GEMM that scatters each input pixel
  into the output: per sample and group ``inputs[H_in W_in, C_in/g] @ weights[C_in/g,
  C_out/g kh kw]``, then col2im adds each product at its output position; every input pixel
  meets every kernel tap, so MACs = N H_in W_in C_in C_out kh kw / g whatever ``strides``,
  ``dilations``, ``pads``, ``output_padding``, ``output_shape`` or ``auto_pad`` (they only
  place, crop or extend that sum). Group 1 with constant weights -> ``fc`` (``tokens`` =
  H_in W_in, ``in_features`` = C_in, ``out_features`` = C_out kh kw); otherwise -> ``matmul``
  (``m`` = H_in W_in, ``k`` = C_in/g, ``n`` = C_out/g kh kw, ``count`` = g).
* **Fused** into the GEMM whose output they consume when each is the only consumer of the
  previous one, starting at the GEMM (reported as fused in the import summary):
  activation functions (``Relu``, ``Clip``, ``Sigmoid``, ``HardSwish``, ``Gelu``, ...),
  ``BatchNormalization`` (folded; only after a GEMM with constant weights), ``Add``/``Sub``/
  ``Mul``/``Div`` with a constant operand (bias, the 1/sqrt(d) attention scale), and the
  quantizers on the GEMM's output, which pass through.
* **Non-GEMM layers**, per sample: ``MaxPool``/``AveragePool``/``GlobalAveragePool``/
  ``GlobalMaxPool`` -> ``pool`` (``kernel_shape``, ``strides``, ``pads``/``auto_pad`` and
  ``dilations`` as the pool's fields; ``ceil_mode`` as extra bottom/right padding, so that the
  floor rule gives ONNX's output size, a last window that would start in the end padding
  dropped as onnxruntime does); ``Add``/``Sub``/``Mul``/``Div`` -> ``eltwise`` with
  the output shape; activation functions not fused and unfolded ``BatchNormalization`` ->
  ``activation`` with ``op`` (the lower-cased op type) and the output shape; ``Softmax``/
  ``LogSoftmax`` -> ``softmax`` and ``LayerNormalization`` (also ``RMSNormalization``,
  ``InstanceNormalization``, ``GroupNormalization``) -> ``layernorm``, ``cols`` = the
  normalised (softmax: reduced) extent and ``rows`` = the other elements per sample.
* **No compute** (counted in the summary as "not costed: no compute"): reshapes and other data
  movement (``Reshape``, ``Flatten``, ``Transpose``, ``Squeeze``, ``Unsqueeze``, ``Concat``,
  ``Slice``, ``Gather``, ``Identity``, ``Shape``, ...), the quantizers (``QuantizeLinear``,
  ``DequantizeLinear``, QONNX ``Quant``/``BipolarQuant``/``Trunc``) and any node whose inputs
  are all constant (constant folding, shape arithmetic).
* **onnxruntime's contrib ops** (domain ``com.microsoft``, what its quantizer and optimizer
  write) are read as the standard op doing the same work, on the inputs that op has (MS_OPS):
  ``QGemm`` -> ``Gemm`` (A, B, C; y_zero_point's type, float without y_scale, is the output
  type), ``MatMulIntegerToFloat`` and ``DynamicQuantizeMatMul`` -> ``MatMul`` (the latter
  quantizes its float A to uint8 itself: ``a_bits`` 8 ``uint``), ``QLinearAdd``/``QLinearMul``
  -> ``Add``/``Mul``, ``QLinearSigmoid``/``QLinearLeakyRelu`` -> activations,
  ``QLinearSoftmax`` -> ``Softmax`` (axis -1 unless given; its ``opset`` attribute says
  whether the axis coerces to 2-D), ``QLinearAveragePool``/``QLinearGlobalAveragePool`` ->
  pools, ``QLinearConcat`` -> ``Concat`` (no compute; its requantization is not costed),
  ``QLinearWhere`` -> ``Where`` and ``QuantizeLinear``/``DequantizeLinear`` (int4/int16 below
  opset 21) -> the quantizers. Shape inference runs on the standard ops (our rule, as for the
  QONNX quantizers). ``QGemm``, ``MatMulIntegerToFloat`` and ``DynamicQuantizeMatMul``
  accumulate in int32 as ``QLinearConv``. An NHWC (``channels_last=1``) contrib op and every
  other contrib op (``QAttention``, ``DynamicQuantizeLSTM``, ...) stay unknown. The summary
  names contrib ops ``com.microsoft.<op>``.
* Anything else is not costed and named, with its count, in the summary's warnings (and in a
  Python warning from `load_onnx`). Nothing is dropped silently.

Layer names are the node names (``<op>_<index>`` for an unnamed node, ``_<index>`` appended to a
repeated name). ``input_from`` lists the layers producing a layer's data inputs, looking back
through nodes that are not layers (reshapes, quantizers, unknown ops).

Shapes and the batch
--------------------
Shapes come from ``onnx.shape_inference`` (with data propagation). It does not pass through
QONNX quantizers, so ours is run on a copy in which each ``Quant``/``IntQuant``/
``BipolarQuant``/``Trunc`` node is an ``Identity``: their output has their input's shape.
Axis 0 of the graph inputs is the batch: a dynamic one is set to ``batch`` (default 1, recorded
in ``Workload.assumed``); any other dynamic dimension is an error. Inputs no node reads are
left out (they cost nothing). Layers are stored per sample
and ``Workload.batch`` multiplies them back (DESIGN.md §3).

Precision
---------
Per GEMM layer, ``a_bits``/``a_encoding`` come from the quantizer feeding its data input and
``w_bits``/``w_encoding`` from the quantizer on its weight (the second operand of a
``matmul``), looking back through value-preserving ops (reshapes, ``MaxPool``, ``Relu``):
an integer tensor type itself (QOperator ops: ``uint8`` -> 8 bits ``uint``, ``int4`` -> 4 bits
``int``, ...), ``DequantizeLinear`` (the type of its quantized input), or a QONNX ``Quant``
(its constant bit-width input; ``signed`` attribute -> ``int``/``uint``), ``BipolarQuant``
(1 bit, ``binary``) or ``Trunc`` (its output bit-width). ``out_bits`` comes from an integer
output type (``QLinear*``: the output zero point's type; ``*Integer``: ``int32``) or the first
quantizer on the fused output chain. ``acc_bits`` is 32, ONNX's integer-op accumulator.
Whatever a model does not say is assumed and recorded in ``Workload.assumed``: a float model
gets 8-bit ``int`` operands throughout; a partly quantized one gets 8-bit ``int`` for its
unquantized operands and ``out_bits = a_bits`` where no output quantizer is found.
The workload's ``quant`` is the most common layer precision; layers that differ carry
``quant`` overrides. Float8 / float4 / minifloat (QONNX ``FloatQuant``) quantization is not
supported: a `ConfigError` naming the node.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from accelsim.arch import Assumed
from accelsim.errors import ConfigError, Problem
from accelsim.quant import QuantOverride, QuantSpec
from accelsim.workload import (
    FC,
    MAX_WORK,
    TOTAL_TOO_LARGE,
    Activation,
    Assignment,
    Conv,
    Eltwise,
    LayerNorm,
    MatMul,
    Pool,
    Softmax,
    Workload,
    lower,
    too_large,
    total_too_large,
)

STANDARD_DOMAINS = ("", "ai.onnx")
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
QONNX_QUANTIZERS = ("Quant", "IntQuant", "BipolarQuant", "Trunc")
ONNX_QUANTIZERS = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")

CONV_OPS = ("Conv", "QLinearConv", "ConvInteger")
MATMUL_OPS = ("Gemm", "MatMul", "QLinearMatMul", "MatMulInteger")
QOPERATOR_OPS = ("QLinearConv", "ConvInteger", "QLinearMatMul", "MatMulInteger", "QGemm",
                 "MatMulIntegerToFloat", "DynamicQuantizeMatMul")  # fmt: skip
MS_DOMAIN = "com.microsoft"
# onnxruntime's contrib ops (what its quantizer writes) read as the standard op doing the same
# work: (standard op, the positions of that op's inputs among the contrib op's inputs; None:
# QLinearConcat's X1, X2, ... at 2, 5, 8, ...). The others stay unknown.
MS_OPS = {
    "QuantizeLinear": ("QuantizeLinear", (0, 1, 2)),
    "DequantizeLinear": ("DequantizeLinear", (0, 1, 2)),
    "QGemm": ("Gemm", (0, 3, 6)),
    "MatMulIntegerToFloat": ("MatMul", (0, 1)),
    "DynamicQuantizeMatMul": ("MatMul", (0, 1)),
    "QLinearAdd": ("Add", (0, 3)),
    "QLinearMul": ("Mul", (0, 3)),
    "QLinearSigmoid": ("Sigmoid", (0,)),
    "QLinearLeakyRelu": ("LeakyRelu", (0,)),
    "QLinearSoftmax": ("Softmax", (0,)),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", (0,)),
    "QLinearAveragePool": ("AveragePool", (0,)),
    "QLinearConcat": ("Concat", None),
    "QLinearWhere": ("Where", (0, 1, 4)),
}
MS_ONLY_ATTRS = ("channels_last", "opset")  # contrib attributes the standard op lacks
# (data input, weight input) of each GEMM op
OPERANDS = {
    "Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3), "ConvTranspose": (0, 1),
    "Gemm": (0, 1), "MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3),
}  # fmt: skip
POOL_OPS = {"MaxPool": "max", "AveragePool": "avg", "GlobalAveragePool": "global_avg",
            "GlobalMaxPool": "max"}  # fmt: skip
ELTWISE_OPS = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div"}
ACTIVATION_OPS = frozenset({
    "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Gelu",
    "Tanh", "Erf", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Mish", "ThresholdedRelu",
    "Swish", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Pow", "Sin", "Cos",
})  # fmt: skip
SOFTMAX_OPS = ("Softmax", "LogSoftmax")
NORM_OPS = ("LayerNormalization", "RMSNormalization", "SimplifiedLayerNormalization",
            "InstanceNormalization", "GroupNormalization")  # fmt: skip
NO_COMPUTE_OPS = frozenset({
    "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Identity", "Shape",
    "Size", "Gather", "GatherElements", "GatherND", "Slice", "Split", "Expand", "Tile", "Pad",
    "Cast", "CastLike", "Constant", "ConstantOfShape", "Dropout", "Range", "DepthToSpace",
    "SpaceToDepth", *ONNX_QUANTIZERS,
})  # fmt: skip
# ops that keep values on their quantization grid: a quantizer is looked for behind them
VALUE_PRESERVING = frozenset({
    "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Pad", "Slice",
    "Split", "Gather", "Concat", "Expand", "Tile", "DepthToSpace", "SpaceToDepth", "MaxPool",
    "Relu",
})  # fmt: skip

VECTOR_OPS = frozenset(
    {*POOL_OPS, *ELTWISE_OPS, *ACTIVATION_OPS, *SOFTMAX_OPS, *NORM_OPS, "BatchNormalization"}
)

FLOAT_DEFAULT = {"a_bits": 8, "w_bits": 8, "acc_bits": 32, "out_bits": 8,
                 "a_encoding": "int", "w_encoding": "int"}  # fmt: skip
ACC_BITS = 32


def _int_types():
    from onnx import TensorProto as T

    return {
        T.INT2: (2, "int"), T.UINT2: (2, "uint"), T.INT4: (4, "int"), T.UINT4: (4, "uint"),
        T.INT8: (8, "int"), T.UINT8: (8, "uint"), T.INT16: (16, "int"), T.UINT16: (16, "uint"),
        T.INT32: (32, "int"), T.UINT32: (32, "uint"),
    }  # fmt: skip


INT_TYPE_NAMES = "int2, uint2, int4, uint4, int8, uint8, int16, uint16, int32, uint32"


class _Reject(Exception):
    """One problem with one node; collected, then raised together."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


class _NoShape(Exception):
    """Shape inference gave no shape for a tensor a non-GEMM layer needs."""


@dataclass
class ImportSummary:
    """What an import made of a model, for ``accelsim import`` to print."""

    file: str
    batch: int
    layers: dict[str, int]
    gemm_layers: int
    macs: int
    default: QuantSpec
    overridden: int
    fused: dict[str, int] = field(default_factory=dict)
    no_compute: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    shapeless: dict[str, int] = field(default_factory=dict)
    assumed: tuple[Assumed, ...] = ()
    assignment: Assignment | None = None
    # with_tensors (accelsim.trace): {layer: {field: array}} and why layers were left out
    tensors: dict | None = None
    tensor_notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        q, n = self.default, self.overridden
        out = [
            f"layers: {_counts(self.layers)}",
            f"MACs: {self.macs:,} (batch {self.batch}, GEMM layers: {self.gemm_layers})",
            f"precision: a {q.a_bits}-bit {q.a_encoding}, w {q.w_bits}-bit {q.w_encoding}, "
            f"acc {q.acc_bits}, out {q.out_bits}; GEMM layers that differ: {n}",
        ]
        if self.fused:
            out.append(f"fused into the producing layer: {_counts(self.fused)}")
        if self.no_compute:
            out.append(f"not costed (no compute): {_counts(self.no_compute)}")
        out += [f"assumed {a.name} = {a.value}: {a.reason}" for a in self.assumed]
        return out

    def warnings(self) -> list[str]:
        out = []
        if self.unknown:
            out.append(f"ops accelsim does not know, not costed: {_counts(self.unknown)}")
        if self.shapeless:
            out.append(
                f"ops left out because shape inference gave no shape: {_counts(self.shapeless)}"
            )
        return out


def _counts(counter: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.items())


def load_onnx(path, batch: int | None = None) -> Workload:
    """An ONNX model as a `Workload`; unknown ops are named in a Python warning."""
    wl, summary = import_onnx(path, batch=batch)
    for text in summary.warnings():
        warnings.warn(f"{path}: {text}", stacklevel=3)
    return wl


def import_onnx(
    path, batch: int | None = None, *, with_tensors: bool = False
) -> tuple[Workload, ImportSummary]:
    """An ONNX model as a `Workload` plus an `ImportSummary` (see the module docstring).

    ``with_tensors``: also read each GEMM layer's integer weights from the initializers into
    ``summary.tensors`` (the trace layout of `accelsim.trace`; see `export_tensors`).
    """
    file = str(path)
    data = _read_bytes(file)
    try:
        import onnx
    except ImportError:
        raise ConfigError(
            Problem(file, None, "", "reading ONNX models needs the onnx package",
                    None, "pip install onnx")
        ) from None  # fmt: skip
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # google.protobuf DecodeError and friends
        raise ConfigError(
            Problem(file, None, "", f"not a readable ONNX model (corrupt or truncated?): {exc}")
        ) from None
    if batch is not None and (
        not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch < 2**63
    ):  # ONNX dimensions are int64
        raise ConfigError(Problem(file, None, "batch", "out of range", repr(batch),
                                  f"1..{2**63 - 1} (an ONNX dimension is int64)"))  # fmt: skip
    graph = _Graph(model, file, str(Path(file).resolve().parent))
    wl, summary = graph.build(batch)
    if with_tensors:
        summary.tensors, summary.tensor_notes = export_tensors(graph, wl)
    digest = hashlib.sha256(data).hexdigest()
    wl = Workload(wl.name, wl.batch, wl.layers, wl.quant, file, digest, wl.assumed)
    return wl, summary


def _read_bytes(file: str) -> bytes:
    p = Path(file)
    if not p.exists():
        raise ConfigError(Problem(file, None, "", "file not found"))
    if p.is_dir():
        raise ConfigError(Problem(file, None, "", "is a directory, expected a file"))
    data = p.read_bytes()
    if not data:
        raise ConfigError(Problem(file, None, "", "the file is empty"))
    return data


def assignment_to_yaml(assignment: Assignment, source: str = "") -> str:
    """The assignment file text (``name``, ``assignment: {layer: {a_bits, ...}}``)."""
    import yaml

    doc = {
        "name": assignment.name,
        "description": f"per-layer precisions of {Path(source).name}" if source else "",
        "assignment": {
            name: change.model_dump(exclude_none=True) for name, change in assignment.layers
        },
    }
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100)


# ------------------------------------------------------------------------------ the graph


class _Graph:
    def __init__(self, model, file: str, base_dir: str):
        self.model, self.file, self.base_dir = model, file, base_dir
        g = model.graph
        self.raw = list(g.node)  # as written; self.nodes: contrib ops read as standard ones
        self.ms_attrs: dict[int, dict] = {}
        self.nodes = [self._standard(i, node) for i, node in enumerate(self.raw)]
        self.init = {t.name: t for t in g.initializer}
        self.inputs = [i for i in g.input if i.name not in self.init]
        self.outputs = {o.name for o in g.output}
        self.names = self._names()
        self.producer: dict[str, int] = {}
        self.consumers: dict[str, list[int]] = {}
        for i, node in enumerate(self.nodes):
            for t in node.input:
                if t:
                    self.consumers.setdefault(t, []).append(i)
            for t in node.output:
                if t:
                    self.producer[t] = i
        self.opset = {o.domain: o.version for o in model.opset_import}
        self.shapes: dict[str, tuple | None] = {}
        self.types: dict[str, int] = {}
        self.const: set[str] = set()
        self.batch = 1

    def _standard(self, i: int, node):
        """A ``com.microsoft`` op of MS_OPS as its standard op (same name and outputs, the
        inputs of the standard op, the attributes both have); any other node as it is. An
        NHWC (``channels_last``) contrib op stays as it is (unknown)."""
        import onnx

        if node.domain != MS_DOMAIN or node.op_type not in MS_OPS:
            return node
        attrs = self.attrs(node)
        if attrs.get("channels_last", 0):
            return node
        op, positions = MS_OPS[node.op_type]
        if positions is None:
            positions = range(2, len(node.input), 3)
        inputs = [node.input[p] if p < len(node.input) else "" for p in positions]
        while inputs and not inputs[-1]:
            inputs.pop()
        view = onnx.NodeProto()
        view.op_type, view.name = op, node.name
        view.input.extend(inputs)
        view.output.extend(node.output)
        view.attribute.extend(a for a in node.attribute if a.name not in MS_ONLY_ATTRS)
        self.ms_attrs[i] = attrs
        return view

    def label(self, i: int) -> str:
        """The op of node ``i`` as the summary names it (``com.microsoft.QGemm``)."""
        node = self.raw[i]
        return f"{MS_DOMAIN}.{node.op_type}" if node.domain == MS_DOMAIN else node.op_type

    def _static_type(self, t: str):
        """The element type of ``t`` if it is an initializer, a Constant's or a graph input."""
        if t in self.init:
            return self.init[t].data_type
        p = self.producer.get(t)
        if p is not None and self.nodes[p].op_type == "Constant":
            for a in self.nodes[p].attribute:
                if a.name == "value":
                    return a.t.data_type
        for vi in self.model.graph.input:
            if vi.name == t and vi.type.tensor_type.elem_type:
                return vi.type.tensor_type.elem_type
        return None

    def _ms_out_type(self, i: int):
        """The output type of a contrib op whose standard op would infer another one: QGemm
        (its y_zero_point's type; float without y_scale), MatMulIntegerToFloat (float)."""
        from onnx import TensorProto

        node = self.raw[i]
        if i not in self.ms_attrs:
            return None
        inputs = list(node.input) + [""] * 9
        if node.op_type == "QGemm":
            if not inputs[7]:
                return TensorProto.FLOAT
            return self._static_type(inputs[8]) or TensorProto.UINT8
        if node.op_type == "MatMulIntegerToFloat":
            return self._static_type(inputs[2]) or TensorProto.FLOAT
        return None

    def _names(self) -> list[str]:
        names, seen = [], set()
        for i, node in enumerate(self.nodes):
            name = node.name or f"{node.op_type}_{i}"
            if name in seen:
                name = f"{name}_{i}"
            seen.add(name)
            names.append(name)
        return names

    def problem(self, i: int, message: str, found=None, allowed=None) -> Problem:
        return Problem(self.file, None, f"nodes.{self.names[i]}", message, found, allowed)

    def reject(self, i: int, message: str, found=None, allowed=None) -> _Reject:
        return _Reject(self.problem(i, message, found, allowed))

    # -- structure, batch, shapes -----------------------------------------------------------

    def _check_structure(self) -> None:
        m = self.model
        if not m.HasField("graph") or not self.nodes:
            raise ConfigError(Problem(self.file, None, "", "not an ONNX model: it has no nodes"))
        if not any(o.domain in STANDARD_DOMAINS for o in m.opset_import):
            raise ConfigError(
                Problem(self.file, None, "opset_import",
                        "the model declares no ONNX opset (truncated or not an ONNX model?)")
            )  # fmt: skip
        available = set(self.init) | {i.name for i in self.inputs}
        problems, produced = [], set()
        for i, node in enumerate(self.raw):
            for t in node.output:
                if t in available or t in produced:
                    what = "an initializer or graph input" if t in available else "another node"
                    msg = f"output {t!r} has the name of {what}'s tensor (names must be unique)"
                    problems.append(self.problem(i, msg))
                produced.add(t)
            for t in node.input:
                if not t or t in available:
                    continue
                if t in self.producer:
                    msg = f"input {t!r} is produced by a later node: the graph is not sorted"
                    problems.append(self.problem(i, msg))
                else:
                    problems.append(
                        self.problem(
                            i,
                            f"input {t!r} is neither an initializer, a graph input nor the "
                            "output of an earlier node (missing initializer?)",
                        )
                    )
            available.update(t for t in node.output if t)
        if problems:
            raise ConfigError(problems)

    def _set_batch(self, model, batch: int | None) -> list[Assumed]:
        """Fix axis 0 of the graph inputs (the batch) in ``model`` (a copy); set self.batch."""
        problems, dynamic, static = [], [], []
        init = set(self.init)
        for inp in model.graph.input:
            if inp.name in init or inp.name not in self.consumers:
                continue  # an initializer, or an input no node reads (it costs nothing)
            path = f"inputs.{inp.name}"
            tt = inp.type.tensor_type
            if not inp.type.HasField("tensor_type") or not tt.HasField("shape"):
                problems.append(Problem(self.file, None, path, "the input has no shape"))
                continue
            for axis, dim in enumerate(tt.shape.dim):
                if dim.HasField("dim_value"):
                    if dim.dim_value < 1:
                        problems.append(
                            Problem(self.file, None, path, f"dimension {axis} has no elements",
                                    str(dim.dim_value), ">= 1")
                        )  # fmt: skip
                    elif axis == 0:
                        static.append((inp.name, dim.dim_value))
                elif axis == 0:
                    dynamic.append((inp.name, dim))
                else:
                    problems.append(
                        Problem(self.file, None, path,
                                f"dimension {axis} is dynamic; accelsim needs static shapes "
                                "(only the batch, axis 0, can be set: --batch)",
                                repr(dim.dim_param or "?"), "a fixed size: re-export the model")
                    )  # fmt: skip
        assumed = []
        if dynamic:
            self.batch = batch or 1
            for _, dim in dynamic:
                dim.dim_value = self.batch
            if batch is None:
                names = ", ".join(repr(n) for n, _ in dynamic)
                assumed.append(
                    Assumed("batch", 1, f"input {names} has a dynamic batch dimension; "
                                        "batch 1 assumed (set it with --batch)")
                )  # fmt: skip
        elif static:
            self.batch = static[0][1]
            if batch is not None and batch != self.batch:
                problems.append(
                    Problem(self.file, None, f"inputs.{static[0][0]}",
                            f"the model's batch is fixed at {self.batch}; --batch {batch} "
                            "cannot change it", str(batch), str(self.batch))
                )  # fmt: skip
        if problems:
            raise ConfigError(problems)
        return assumed

    def _infer(self, batch: int | None) -> list[Assumed]:
        import onnx

        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        assumed = self._set_batch(model, batch)
        del model.graph.value_info[:]  # stale symbolic shapes
        for out in model.graph.output:
            out.type.tensor_type.ClearField("shape")
        nodes = []
        for i, node in enumerate(model.graph.node):
            if node.domain in QONNX_DOMAINS and node.op_type in QONNX_QUANTIZERS:
                # our rule: a QONNX quantizer keeps its input's shape
                node.op_type, node.domain = "Identity", ""
                del node.input[1:]
                del node.attribute[:]
            elif i in self.ms_attrs:  # a contrib op: its standard op's shape and type
                node = onnx.NodeProto()
                node.CopyFrom(self.nodes[i])
                elem = self._ms_out_type(i)
                if elem is not None:
                    out = node.output[0]
                    node.output[0] = f"{out}/accelsim_untyped"
                    nodes.append(node)
                    node = onnx.helper.make_node("Cast", [node.output[0]], [out], to=elem)
            nodes.append(node)
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        except Exception as exc:  # InferenceError, ValidationError
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            where = re.search(r"node name: ([^)]*)\)", text)
            path = f"nodes.{where.group(1)}" if where else ""
            raise ConfigError(
                Problem(self.file, None, path, f"ONNX shape inference failed: {text}")
            ) from None
        g = inferred.graph
        for vi in (*g.input, *g.value_info, *g.output):
            tt = vi.type.tensor_type
            if not vi.type.HasField("tensor_type"):
                continue
            if tt.elem_type:
                self.types[vi.name] = tt.elem_type
            if tt.HasField("shape"):
                dims = [d.dim_value if d.HasField("dim_value") else 0 for d in tt.shape.dim]
                self.shapes[vi.name] = tuple(dims) if all(d > 0 for d in dims) else None
        for t in self.init.values():
            self.types[t.name] = t.data_type
            self.shapes[t.name] = tuple(t.dims)
        return assumed

    def _propagate_constants(self) -> None:
        const = set(self.init)
        for node in self.nodes:
            inputs = [t for t in node.input if t]
            if node.op_type == "Constant":
                is_const = True
            elif node.op_type in ("Shape", "Size"):
                is_const = self.shapes.get(node.input[0]) is not None
            else:
                is_const = bool(inputs) and all(t in const for t in inputs)
            if is_const:
                const.update(t for t in node.output if t)
        self.const = const

    def value(self, t: str):
        """The numpy value of a constant tensor (an initializer or a Constant's output)."""
        import numpy as np
        import onnx
        from onnx import numpy_helper
        from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

        tensor = self.init.get(t)
        if tensor is None and t in self.producer:
            node = self.nodes[self.producer[t]]
            if node.op_type == "Constant":
                for a in node.attribute:
                    if a.name == "value":
                        tensor = a.t
                    elif a.name in ("value_float", "value_int", "value_floats", "value_ints"):
                        return np.asarray(onnx.helper.get_attribute_value(a))
        if tensor is None:
            return None
        if uses_external_data(tensor):
            copy = onnx.TensorProto()
            copy.CopyFrom(tensor)
            load_external_data_for_tensor(copy, self.base_dir)
            tensor = copy
        return numpy_helper.to_array(tensor)

    def attrs(self, node) -> dict:
        import onnx

        out = {}
        for a in node.attribute:
            v = onnx.helper.get_attribute_value(a)
            out[a.name] = v.decode() if isinstance(v, bytes) else v
        return out

    def shape(self, i: int, t: str) -> tuple:
        s = self.shapes.get(t)
        if s is None:
            raise self.reject(
                i, f"the shape of {t!r} is unknown after ONNX shape inference "
                "(an op before it that shape inference does not know?)"
            )  # fmt: skip
        return s

    # -- precision ----------------------------------------------------------------------------

    def _type_q(self, i: int, elem: int, what: str):
        """(bits, encoding) of an integer tensor type; None for float; reject float8/4."""
        import onnx

        q = _int_types().get(elem)
        if q is not None:
            return q
        name = onnx.helper.tensor_dtype_to_string(elem).removeprefix("TensorProto.").lower()
        if name.startswith(("float8", "float4", "float6")):
            raise self.reject(i, f"unsupported quantization: {what} is {name}", name,
                              INT_TYPE_NAMES)  # fmt: skip
        return None

    def quantizer(self, i: int):
        """(bits, encoding) a quantizer node stands for; None if ``i`` is not one."""
        import onnx

        node = self.nodes[i]
        op = node.op_type
        if node.domain in STANDARD_DOMAINS and op in ONNX_QUANTIZERS:
            if op == "DynamicQuantizeLinear":
                return (8, "uint")
            if op == "DequantizeLinear":
                elem = self.types.get(node.input[0])
                if elem is None and len(node.input) > 2 and node.input[2]:
                    elem = self.types.get(node.input[2])
                what = "the quantized input's type"
            else:
                if len(node.input) > 2 and node.input[2]:
                    elem = self.types.get(node.input[2])
                else:
                    elem = self.attrs(node).get("output_dtype") or onnx.TensorProto.UINT8
                what = "the zero point's type"
            if elem is None:
                raise self.reject(i, "cannot tell the quantized type (no zero point, no type)")
            q = self._type_q(i, elem, what)
            if q is None:
                name = onnx.helper.tensor_dtype_to_string(elem).removeprefix("TensorProto.")
                raise self.reject(i, f"unsupported quantization: {what} is {name.lower()}",
                                  name.lower(), INT_TYPE_NAMES)  # fmt: skip
            return q
        if node.domain in QONNX_DOMAINS:
            if op == "BipolarQuant":
                return (1, "binary")
            if op in ("Quant", "IntQuant", "Trunc"):
                attrs = self.attrs(node)
                src = node.input[-1] if op == "Trunc" else (node.input[3:4] or [""])[0]
                if not src:
                    raise self.reject(i, f"{op} has no bit-width input", str(list(node.input)))
                bits = self.value(src)
                if bits is None:
                    raise self.reject(i, f"the bit-width input {src!r} is not a constant")
                values = {float(b) for b in bits.reshape(-1)}
                if len(values) != 1 or not next(iter(values)).is_integer():
                    raise self.reject(i, "the bit-width must be one whole number",
                                      str(sorted(values)), "1..32")  # fmt: skip
                b = int(values.pop())
                if not 1 <= b <= 32:
                    raise self.reject(i, "bit-width out of range", str(b), "1..32")
                return (b, "int" if attrs.get("signed", 1) else "uint")
            if op == "FloatQuant":
                allowed = f"integer quantizers ({INT_TYPE_NAMES})"
                raise self.reject(
                    i, "unsupported quantization: minifloat (FloatQuant)", "FloatQuant", allowed
                )
        return None

    def operand_q(self, i: int, t: str):
        """(bits, encoding) of tensor ``t``: its integer type, or the quantizer behind it."""
        seen = set()
        while t and t not in seen:
            seen.add(t)
            elem = self.types.get(t)
            if elem is not None:
                q = self._type_q(i, elem, f"the type of {t!r}")
                if q is not None:
                    return q
            p = self.producer.get(t)
            if p is None:
                return None
            q = self.quantizer(p)
            if q is not None:
                return q
            node = self.nodes[p]
            if node.domain not in STANDARD_DOMAINS or node.op_type not in VALUE_PRESERVING:
                return None
            t = node.input[0] if node.input else ""
        return None

    # -- the walk -----------------------------------------------------------------------------

    def _fusable(self, c: int, head: str, has_weights: bool) -> bool:
        node = self.nodes[c]
        op = node.op_type
        if node.domain in QONNX_DOMAINS:
            return op in QONNX_QUANTIZERS and node.input[0] == head
        if node.domain not in STANDARD_DOMAINS:
            return False
        if op in ONNX_QUANTIZERS or op in ACTIVATION_OPS:
            return node.input[0] == head
        if op == "BatchNormalization":
            return has_weights and node.input[0] == head
        if op in ELTWISE_OPS:
            data = [t for t in node.input if t]
            return (
                len(data) == 2 and head in data and all(t in self.const for t in data if t != head)
            )
        return False

    def _tail(self, i: int, has_weights: bool):
        """Nodes fused into GEMM ``i`` and the first quantizer on its output chain."""
        head, fused, out_q = self.nodes[i].output[0], [], None
        while head not in self.outputs and len(self.consumers.get(head, ())) == 1:
            c = self.consumers[head][0]
            if not self._fusable(c, head, has_weights):
                break
            fused.append(c)
            if out_q is None and self.nodes[c].op_type != "DequantizeLinear":
                out_q = self.quantizer(c)
            head = self.nodes[c].output[0]
        return fused, out_q

    def build(self, batch: int | None):
        self._check_structure()
        assumed = self._infer(batch)
        self._propagate_constants()
        problems: list[Problem] = []
        specs: list = []  # (spec, gemm info or None)
        src: dict[str, tuple[str, ...]] = {}
        owner: dict[int, int] = {}  # fused node -> GEMM node
        fused, no_compute, unknown, shapeless = Counter(), Counter(), Counter(), Counter()

        def sources(node, which=None):
            out: list[str] = []
            for k, t in enumerate(node.input):
                if t and (which is None or k in which) and t not in self.const:
                    out += [s for s in src.get(t, ()) if s not in out]
            return tuple(out)

        for i, node in enumerate(self.nodes):
            name, op, dom = self.names[i], node.op_type, node.domain
            label = self.label(i)  # the op as written (a contrib op under its own name)
            outs = [t for t in node.output if t]
            try:
                if self._is_quantizer(node):
                    self.quantizer(i)  # unsupported types are errors wherever they are
            except _Reject as exc:
                problems.append(exc.problem)
            if i in owner:
                (no_compute if self._is_quantizer(node) else fused)[label] += 1
                for t in outs:
                    src[t] = src.get(self.nodes[owner[i]].output[0], ())
                continue
            inputs = [t for t in node.input if t]
            if op == "Constant" or (inputs and all(t in self.const for t in inputs)):
                no_compute[label] += 1
                continue
            std = dom in STANDARD_DOMAINS
            if std and op in NO_COMPUTE_OPS or self._is_quantizer(node):
                no_compute[label] += 1
                for t in outs:
                    src[t] = sources(node)
                continue
            try:
                if std and (op in CONV_OPS or op in MATMUL_OPS or op == "ConvTranspose"):
                    spec, info, has_weights = self._gemm(i, node)
                    tail, out_q = self._tail(i, has_weights)
                    for c in tail:
                        owner[c] = i
                    info["out"] = info["out"] or out_q
                    spec = spec.model_copy(update={"input_from": sources(node, info.pop("data"))})
                    specs.append((spec, info))
                elif std and op in VECTOR_OPS:
                    spec = self._vector(i, node)
                    specs.append((spec.model_copy(update={"input_from": sources(node)}), None))
                else:
                    unknown[label if std or dom == MS_DOMAIN else f"{dom}.{op}"] += 1
                    for t in outs:
                        src[t] = sources(node)
                    continue
            except _Reject as exc:
                problems.append(exc.problem)
            except _NoShape:
                shapeless[label] += 1
                for t in outs:
                    src[t] = sources(node)
                continue
            except ValueError as exc:  # the layer spec rejected the numbers
                errors = getattr(exc, "errors", None)
                msg = errors()[0]["msg"] if errors else str(exc)
                problems.append(self.problem(i, msg.removeprefix("Value error, ")))
            for t in outs:
                src[t] = (name,)
        if problems:
            raise ConfigError(list(dict.fromkeys(problems)))  # a quantizer may be seen twice
        if not specs:
            raise ConfigError(
                Problem(self.file, None, "", "the model has no layers accelsim can cost",
                        _counts(no_compute | unknown))
            )  # fmt: skip
        return self._workload(specs, assumed, fused, no_compute, unknown, shapeless)

    @staticmethod
    def _is_quantizer(node) -> bool:
        return (node.domain in STANDARD_DOMAINS and node.op_type in ONNX_QUANTIZERS) or (
            node.domain in QONNX_DOMAINS and node.op_type in (*QONNX_QUANTIZERS, "FloatQuant")
        )

    # -- GEMM layers --------------------------------------------------------------------------

    def _gemm(self, i: int, node):
        """(spec, precision info, has constant weights) of a GEMM node."""
        op = node.op_type
        d, w = OPERANDS[op]
        if max(d, w) >= len(node.input) or not node.input[d] or not node.input[w]:
            raise self.reject(i, f"{op} needs its data and weight inputs (inputs {d} and {w})",
                              str(list(node.input)))  # fmt: skip
        x_t, w_t = node.input[d], node.input[w]
        info = {"a": self.operand_q(i, x_t), "w": self.operand_q(i, w_t), "op": self.raw[i].op_type}
        if info["op"] == "DynamicQuantizeMatMul":  # quantizes its float A to uint8 itself
            info["a"] = info["a"] or (8, "uint")
        info["out"] = self._out_q(i, node)
        name = self.names[i]
        if op in CONV_OPS:
            info["data"] = (d,)
            return self._conv(i, node, x_t, w_t, name), info, w_t in self.const
        if op == "ConvTranspose":
            spec = self._conv_transpose(i, node, x_t, w_t, name)
            info["data"] = (d,) if spec.type == "fc" else (d, w)
            return spec, info, w_t in self.const
        xs, ws = self.shape(i, x_t), self.shape(i, w_t)
        rows = "the rows of the data operand"
        if op == "Gemm":
            a = self.attrs(node)
            if len(xs) != 2 or len(ws) != 2:
                raise self.reject(i, "Gemm operands must be 2-D", f"{xs} and {ws}")
            m, k = xs[::-1] if a.get("transA", 0) else xs
            k2, n = ws[::-1] if a.get("transB", 0) else ws
            if a.get("transA", 0):  # the batch, axis 0 of the graph inputs, is not the rows
                rows += f" {list(xs)} (transA=1: its axis 1; its axis 0 is the reduction)"
            if k != k2:
                raise self.reject(i, f"reduction sizes differ: {k} and {k2}")
            a_shape, b_shape = (m, k), (k, n)
        else:
            if not xs or not ws:
                raise self.reject(i, f"{op} operands must have at least one dimension",
                                  f"{xs} @ {ws}")  # fmt: skip
            a_shape = (1, *xs) if len(xs) == 1 else xs
            b_shape = (*ws, 1) if len(ws) == 1 else ws
            m, k, k2, n = a_shape[-2], a_shape[-1], b_shape[-2], b_shape[-1]
            if k != k2:
                raise self.reject(i, f"reduction sizes differ: {k} and {k2}", f"{xs} @ {ws}")
        import numpy as np

        try:
            lead = tuple(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
        except ValueError:
            raise self.reject(i, "batch dimensions do not broadcast", f"{xs} @ {ws}") from None
        total = math.prod(lead)
        w_const, x_const = w_t in self.const, x_t in self.const
        if w_const and math.prod(b_shape[:-2]) == 1:
            info["data"] = (d,)
            tokens = self.split(i, total * m, rows)
            return (
                FC(name=name, type="fc", in_features=k, out_features=n, tokens=tokens),
                info,
                True,
            )
        if x_const and math.prod(a_shape[:-2]) == 1:  # W @ x: x^T W^T, the roles swap
            info["a"], info["w"], info["data"] = info["w"], info["a"], (w,)
            tokens = self.split(i, total * n, "the columns of the data operand")
            return (
                FC(name=name, type="fc", in_features=k, out_features=m, tokens=tokens),
                info,
                True,
            )
        info["data"] = (d, w)
        if total % self.batch == 0:
            count = total // self.batch
        else:
            if total != 1:
                raise self.reject(i, f"the batch dimensions {lead} are not a multiple of the "
                                  f"batch ({self.batch})")  # fmt: skip
            m, count = self.split(i, m, "the rows"), 1
        spec = MatMul(name=name, type="matmul", m=m, n=n, k=k, count=count)
        return spec, info, False

    def _out_q(self, i: int, node):
        elem = self.types.get(node.output[0])
        return self._type_q(i, elem, "the output type") if elem is not None else None

    def split(self, i: int, total: int, what: str) -> int:
        if total % self.batch:
            raise self.reject(
                i, f"{what} ({total}) are not a multiple of the batch ({self.batch}): "
                "cannot split them per sample"
            )  # fmt: skip
        return total // self.batch

    def _window(self, i: int, attrs: dict, sizes, kernel, strides, dil):
        """ONNX ``pads`` / ``auto_pad`` as (begins, ends) per spatial axis."""
        auto = attrs.get("auto_pad", "NOTSET")
        n = len(sizes)
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            begins, ends = [], []
            for size, kk, s, dd in zip(sizes, kernel, strides, dil):
                out = -(-size // s)
                total = max((out - 1) * s + (kk - 1) * dd + 1 - size, 0)
                lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
                begins.append(lo)
                ends.append(total - lo)
            return begins, ends
        if auto == "VALID":
            return [0] * n, [0] * n
        if auto != "NOTSET":
            raise self.reject(i, "unknown auto_pad", repr(auto),
                              "NOTSET, SAME_UPPER, SAME_LOWER, VALID")  # fmt: skip
        p = self._ints(i, attrs, "pads", 2 * n, 0)
        return p[:n], p[n:]

    def _ints(self, i: int, attrs: dict, key: str, n: int, least: int) -> list:
        """Window attribute ``key``: ``n`` integers >= ``least`` (``least`` each if absent)."""
        v = list(attrs.get(key, [least] * n))
        if len(v) != n or min(v) < least:
            raise self.reject(i, f"attribute {key} has the wrong length or a value out of range",
                              str(v), f"{n} integers >= {least}")  # fmt: skip
        return v

    def _spatial(self, i: int, xs: tuple, what: str):
        if len(xs) not in (3, 4):
            raise self.reject(i, f"only 1-D and 2-D {what} (3-D or 4-D input) are supported",
                              f"input shape {list(xs)}")  # fmt: skip
        if xs[0] != self.batch:
            raise self.reject(i, f"the input's batch dimension ({xs[0]}) is not the model's "
                              f"batch ({self.batch})", f"input shape {list(xs)}")  # fmt: skip
        return xs[1], xs[2:]

    def _kernel(self, i: int, node, xs: tuple, ws: tuple):
        """A conv-like node's attributes and kernel: the weight's spatial shape, which
        ``kernel_shape`` (if given) must equal."""
        if len(ws) != len(xs):
            raise self.reject(i, "the weight's rank differs from the input's", f"{ws} vs {xs}")
        a = self.attrs(node)
        kernel = list(a.get("kernel_shape", ws[2:]))
        if kernel != list(ws[2:]):
            raise self.reject(i, "attribute kernel_shape differs from the weight's spatial shape",
                              str(kernel), str(list(ws[2:])))  # fmt: skip
        return a, kernel

    def _conv(self, i: int, node, x_t: str, w_t: str, name: str):
        xs, ws = self.shape(i, x_t), self.shape(i, w_t)
        c, sizes = self._spatial(i, xs, "convolutions")
        n = len(sizes)
        a, kernel = self._kernel(i, node, xs, ws)
        strides = self._ints(i, a, "strides", n, 1)
        dil = self._ints(i, a, "dilations", n, 1)
        begins, ends = self._window(i, a, sizes, kernel, strides, dil)
        if n == 1:
            sizes, kernel, strides, dil = (1, *sizes), [1, *kernel], [1, *strides], [1, *dil]
            begins, ends = [0, *begins], [0, *ends]
        group = a.get("group", 1)
        if ws[1] * group != c:
            raise self.reject(i, f"weight shape {list(ws)} does not match {c} input channels "
                              f"in {group} groups")  # fmt: skip
        return Conv(
            name=name, type="conv", in_channels=c, out_channels=ws[0], in_h=sizes[0],
            in_w=sizes[1], kernel=tuple(kernel), stride=tuple(strides),
            padding=(begins[0], begins[1], ends[0], ends[1]), dilation=tuple(dil), groups=group,
        )  # fmt: skip

    def _conv_transpose(self, i: int, node, x_t: str, w_t: str, name: str):
        """``ConvTranspose`` as the GEMM that scatters each input pixel into the output: per
        sample ``inputs[H_in W_in, C_in/g] @ weights[C_in/g, C_out/g kh kw]`` in each of the
        ``g`` groups (then col2im adds the products into the output; pads, output_padding
        and output_shape only crop or extend that sum). Group 1 with constant weights ->
        ``fc`` (tokens = H_in W_in), else ``matmul`` (m = H_in W_in, count = g)."""
        xs, ws = self.shape(i, x_t), self.shape(i, w_t)
        if len(xs) < 3:
            raise self.reject(i, "ConvTranspose needs a batch, channel and spatial axes",
                              f"input shape {list(xs)}")  # fmt: skip
        if xs[0] != self.batch:
            raise self.reject(i, f"the input's batch dimension ({xs[0]}) is not the model's "
                              f"batch ({self.batch})", f"input shape {list(xs)}")  # fmt: skip
        a, kernel = self._kernel(i, node, xs, ws)
        group = a.get("group", 1)
        c = xs[1]
        if not isinstance(group, int) or group < 1 or c % group or ws[0] != c:
            raise self.reject(i, f"weight shape {list(ws)} does not match {c} input channels "
                              f"in {group} groups (ConvTranspose weights are [C_in, C_out/group, "
                              "k...])")  # fmt: skip
        pixels, taps = math.prod(xs[2:]), math.prod(kernel)
        k, n = c // group, ws[1] * taps
        if group == 1 and w_t in self.const:
            return FC(name=name, type="fc", in_features=k, out_features=n, tokens=pixels)
        return MatMul(name=name, type="matmul", m=pixels, n=n, k=k, count=group)

    # -- non-GEMM layers ----------------------------------------------------------------------

    def _shape_or_none(self, t: str) -> tuple:
        s = self.shapes.get(t)
        if s is None:
            raise _NoShape(t)
        return s

    def sample_shape(self, i: int, shape: tuple) -> tuple:
        """Per-sample shape: axis 0 divided by the batch (dropped when it becomes 1)."""
        if shape and shape[0] % self.batch == 0:
            rest = (shape[0] // self.batch, *shape[1:])
            return rest[1:] if rest[0] == 1 and len(rest) > 1 else rest
        return (self.split(i, math.prod(shape), "the elements"),)

    def _vector(self, i: int, node):
        op, name = node.op_type, self.names[i]
        a = self.attrs(node)
        if op in POOL_OPS:
            return self._pool(i, node, a, name)
        out = self._shape_or_none(node.output[0])
        if op in ELTWISE_OPS:
            shape = self.sample_shape(i, out)
            return Eltwise(name=name, type="eltwise", op=ELTWISE_OPS[op], shape=shape)
        if op in ACTIVATION_OPS or op == "BatchNormalization":
            shape = self.sample_shape(i, out)
            op_name = "batchnorm" if op == "BatchNormalization" else op.lower()
            return Activation(name=name, type="activation", op=op_name, shape=shape)
        rank = len(out)
        if op in SOFTMAX_OPS:
            opset = self.opset.get("", self.opset.get("ai.onnx", 21))
            default = -1 if opset >= 13 else 1
            if i in self.ms_attrs:  # QLinearSoftmax: axis -1 unless given; its opset attribute
                default, opset = -1, self.ms_attrs[i].get("opset", opset)  # says the semantics
            axis = self._axis(i, a.get("axis", default), rank)
            legacy = opset < 13
            cols = math.prod(out[axis:]) if legacy else out[axis]
        elif op == "InstanceNormalization":
            cols = math.prod(out[2:])
        elif op == "GroupNormalization":
            cols = math.prod(out[1:]) // a["num_groups"]
        else:
            axis = self._axis(i, a.get("axis", -1), rank)
            cols = math.prod(out[axis:])
        rows = self.split(i, math.prod(out) // cols, "the rows")
        if op in SOFTMAX_OPS:
            return Softmax(name=name, type="softmax", rows=rows, cols=cols)
        return LayerNorm(name=name, type="layernorm", rows=rows, cols=cols)

    def _axis(self, i: int, axis, rank: int) -> int:
        """Attribute ``axis`` of a rank-``rank`` tensor as 0..rank-1; out of range is an error."""
        if not isinstance(axis, int) or not -rank <= axis < rank:
            raise self.reject(i, f"attribute axis is out of range for a rank-{rank} tensor",
                              repr(axis), f"{-rank}..{rank - 1}")  # fmt: skip
        return axis % rank

    def _pool(self, i: int, node, a: dict, name: str):
        op = node.op_type
        xs = self._shape_or_none(node.input[0])
        c, sizes = self._spatial(i, xs, "pools")
        n = len(sizes)
        if op.startswith("Global"):
            kernel, strides, dil = list(sizes), [1] * n, [1] * n
            begins, ends = [0] * n, [0] * n
        else:
            if "kernel_shape" not in a:
                raise self.reject(i, "kernel_shape is missing")
            dil = self._ints(i, a, "dilations", n, 1)
            kernel = self._ints(i, a, "kernel_shape", n, 1)
            strides = self._ints(i, a, "strides", n, 1)
            begins, ends = self._window(i, a, sizes, kernel, strides, dil)
            if a.get("ceil_mode", 0):  # ONNX's size, via end padding
                for j in range(n):
                    span = sizes[j] + begins[j] + ends[j]
                    extent = (kernel[j] - 1) * dil[j] + 1
                    ends[j] += self._ceil_extra(span, sizes[j] + begins[j], extent, strides[j])
        if n == 1:
            sizes, kernel, strides, dil = (1, *sizes), [1, *kernel], [1, *strides], [1, *dil]
            begins, ends = [0, *begins], [0, *ends]
        return Pool(
            name=name, type="pool", pool=POOL_OPS[op], channels=c, in_h=sizes[0], in_w=sizes[1],
            kernel=tuple(kernel), stride=tuple(strides),
            padding=(begins[0], begins[1], ends[0], ends[1]), dilation=tuple(dil),
        )  # fmt: skip

    @staticmethod
    def _ceil_extra(span: int, last: int, kernel: int, stride: int) -> int:
        """End padding that makes the floor rule give ``ceil_mode``'s output size over a padded
        extent ``span``: ``out = ceil((span - kernel) / stride) + 1``, less one if the last
        window would start at or past ``last`` (input plus begin padding), as onnxruntime and
        the ONNX operator spec do ("sliding windows that would start in the right padded region
        are ignored"; onnx's shape inference keeps that window)."""
        out = -(-(span - kernel) // stride) + 1
        if (out - 1) * stride >= last:
            out -= 1
        return max(0, (out - 1) * stride + kernel - span)

    # -- precision and the workload -----------------------------------------------------------

    def _workload(self, specs, assumed, fused, no_compute, unknown, shapeless):
        gemms = [(s, q) for s, q in specs if q is not None]
        given = any(q["a"] or q["w"] or q["out"] for _, q in gemms)
        assumed = list(assumed)
        quants = {}
        if not given:
            default = QuantSpec(**FLOAT_DEFAULT)
            for s, _ in gemms:
                quants[s.name] = default
            if gemms:
                assumed.append(
                    Assumed("quant", dict(FLOAT_DEFAULT), "a float model carries no precision: "
                            "8-bit integer operands, 32-bit accumulator assumed")
                )  # fmt: skip
        else:
            missing, no_out = {"inputs": [], "weights": []}, []
            for s, q in gemms:
                a = q["a"] or (8, "int")
                w = q["w"] or (8, "int")
                if q["a"] is None:
                    missing["inputs"].append(s.name)
                if q["w"] is None:
                    missing["weights"].append(s.name)
                out = q["out"]
                if out is None:
                    no_out.append(s.name)
                out_bits = out[0] if out else a[0]
                quants[s.name] = QuantSpec(
                    a_bits=a[0], w_bits=w[0], acc_bits=ACC_BITS, out_bits=out_bits,
                    a_encoding=a[1], w_encoding=w[1],
                )  # fmt: skip
            for operand, names in missing.items():
                if names:
                    assumed.append(
                        Assumed(f"{operand} precision", "8-bit int",
                                f"no quantizer on the {operand} of layers {', '.join(names)}")
                    )  # fmt: skip
            if no_out:
                assumed.append(
                    Assumed("out_bits", "a_bits", "no quantizer on the outputs of layers "
                            + ", ".join(no_out))
                )  # fmt: skip
            if any(q["op"] not in QOPERATOR_OPS for _, q in gemms):
                assumed.append(
                    Assumed("acc_bits", ACC_BITS, "the model does not state the accumulator "
                            "width; 32 bits as ONNX's integer ops (QLinearConv, MatMulInteger)")
                )  # fmt: skip
        tally = Counter(quants.values())
        default = tally.most_common(1)[0][0] if tally else QuantSpec(**FLOAT_DEFAULT)
        layers, changes, problems = [], [], []
        for s, q in specs:
            quant = quants.get(s.name, default)
            if quant != default:
                diff = {k: v for k, v in quant.model_dump().items() if v != getattr(default, k)}
                s = s.model_copy(update={"quant": QuantOverride(**diff)})
            layers.append(lower(s, self.batch, quant))
            if work := too_large(layers[-1]):
                message = "too much work in one layer to model"
                allowed = f"at most {MAX_WORK:,}"
                problems.append(Problem(self.file, None, f"nodes.{s.name}", message, work, allowed))
            if q is not None and given:
                change = {}
                for operand in ("a", "w"):
                    if q[operand]:
                        change[f"{operand}_bits"] = q[operand][0]
                        change[f"{operand}_encoding"] = q[operand][1]
                if change:
                    changes.append((s.name, QuantOverride(**change)))
        if not problems and (total := total_too_large(layers)):
            problems.append(Problem(self.file, None, "nodes", TOTAL_TOO_LARGE, *total))
        if problems:
            raise ConfigError(problems)
        name = Path(self.file).stem
        wl = Workload(name, self.batch, tuple(layers), default, self.file, "", tuple(assumed))
        summary = ImportSummary(
            file=self.file, batch=self.batch,
            layers=dict(Counter(la.type for la in layers)),
            gemm_layers=sum(la.is_gemm for la in layers), macs=wl.macs, default=default,
            overridden=sum(la.quant != default for la in layers if la.is_gemm),
            fused=dict(fused), no_compute=dict(no_compute), unknown=dict(unknown),
            shapeless=dict(shapeless), assumed=tuple(assumed),
            assignment=Assignment(name, tuple(changes), None, "") if changes else None,
        )  # fmt: skip
        return wl, summary


# ------------------------------------------------------------------- tensors (for traces)

# input positions of QOperator ops: operand A / x (tensor, scale, zero point), operand B / w,
# the output's (scale, zero point) and the bias
QOP_INPUTS = {
    "QLinearConv": {"a": (0, 1, 2), "b": (3, 4, 5), "y": (6, 7), "bias": 8},
    "QLinearMatMul": {"a": (0, 1, 2), "b": (3, 4, 5), "y": (6, 7)},
    "ConvInteger": {"a": (0, None, 2), "b": (1, None, 3)},
    "MatMulInteger": {"a": (0, None, 2), "b": (1, None, 3)},
    "QGemm": {"a": (0, 1, 2), "b": (3, 4, 5), "y": (7, 8), "bias": 6},
    "MatMulIntegerToFloat": {"a": (0, 2, 4), "b": (1, 3, 5)},
    "DynamicQuantizeMatMul": {"a": (0, None, None), "b": (1, 2, 3)},
}
QONNX_ROUNDING = ("ROUND", "ROUND_TO_ZERO", "CEIL", "FLOOR")


class _Skip(Exception):
    """A layer whose integer tensors cannot be exported (the reason is the message)."""


def _codes(v):
    """An integer numpy array of ``v`` (onnx's int4/int2 arrays too), or None for floats."""
    import numpy as np

    if v is None:
        return None
    v = np.asarray(v)
    if v.dtype.kind in "iu" and v.dtype != np.bool_:
        return v
    name = str(v.dtype)
    if name in ("int4", "int2"):
        return v.astype(np.int8)
    if name in ("uint4", "uint2"):
        return v.astype(np.uint8)
    return None


def _storage(codes, signed: bool, bits: int):
    import numpy as np

    for width in (8, 16, 32):
        if bits <= width:
            return codes.astype(np.dtype(f"{'' if signed else 'u'}int{width}"))
    return codes.astype(np.int64)


def _param_axis(value, shape) -> int | None:
    """The axis a broadcast (QONNX) parameter varies along; None per tensor; _Skip else."""
    import numpy as np

    value = np.asarray(value)
    if value.size == 1:
        return None
    if value.ndim == 1 and value.size == shape[-1]:
        return len(shape) - 1
    if value.ndim == len(shape):
        axes = [d for d, n in enumerate(value.shape) if n > 1]
        if len(axes) == 1 and value.shape[axes[0]] == shape[axes[0]]:
            return axes[0]
    raise _Skip(f"a quantization parameter of shape {tuple(value.shape)} is neither per tensor "
                "nor per channel")  # fmt: skip


def _float_scale(v):
    import numpy as np

    v = np.asarray(v)
    return v if v.dtype in (np.float32, np.float64) else v.astype(np.float32)


def _int_zero_point(v, what: str):
    """A QONNX zero point (float) as integers; _Skip if it is not whole."""
    import numpy as np

    v = np.asarray(v, dtype=np.float64)
    if not np.all(v == np.round(v)):
        raise _Skip(f"the {what} zero point is not a whole number")
    return v.astype(np.int64)


def _qonnx_codes(graph, node, x):
    """Integer codes of float ``x`` quantized by a QONNX ``Quant`` node: ``clip(round(x /
    scale + zero_point))`` with its ``signed``, ``narrow`` and ``rounding_mode`` (QONNX's
    reference ``quant`` function); returns (codes, scale, zero point, axis)."""
    import numpy as np

    scale, zp, bits = (graph.value(t) if t else None for t in node.input[1:4])
    if scale is None or zp is None or bits is None:
        raise _Skip(f"the parameters of {node.op_type} node {node.name!r} are not constants")
    b = int(np.asarray(bits).reshape(-1)[0])
    a = graph.attrs(node)
    signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 1))
    if b == 1 and signed:
        raise _Skip("a 1-bit signed Quant is bipolar (±1) in QONNX; the layer says 1-bit int")
    mode = str(a.get("rounding_mode", "ROUND")).upper()
    if mode not in QONNX_ROUNDING:
        raise _Skip(f"unknown rounding_mode {mode!r}")
    lo = -(2 ** (b - 1)) + narrow if signed else 0
    hi = 2 ** (b - 1) - 1 if signed else 2**b - 1 - narrow
    y = np.clip(np.asarray(x, dtype=np.float64) / np.asarray(scale, dtype=np.float64)
                + np.asarray(zp, dtype=np.float64), lo, hi)  # fmt: skip
    rnd = {"ROUND": np.round, "CEIL": np.ceil, "FLOOR": np.floor, "ROUND_TO_ZERO": np.trunc}
    codes = rnd[mode](y).astype(np.int64)
    axis = _param_axis(scale, codes.shape)
    if _param_axis(zp, codes.shape) not in (None, axis):
        raise _Skip("the scale and zero point vary along different axes")
    zp = _int_zero_point(zp, "weights")
    scale = _float_scale(scale)
    if axis is not None:
        scale = scale.reshape(-1)
        zp = np.broadcast_to(zp, [codes.shape[axis] if d == axis else 1
                                  for d in range(codes.ndim)]).reshape(-1)  # fmt: skip
    else:
        scale, zp = scale.reshape(()), zp.reshape(())
    return _storage(codes, signed, b), scale, _storage(zp, signed, b), axis


def _export_layer(graph, i: int, layer) -> dict:
    """The trace tensors of GEMM layer ``layer`` (node ``i``); _Skip says why not."""
    import numpy as np

    node, raw = graph.nodes[i], graph.raw[i]  # node: a contrib op read as its standard op
    op = node.op_type
    d, w = OPERANDS[op]
    swapped = layer.type == "fc" and node.input[w] not in graph.const  # W @ x
    w_slot, x_slot = ("a", "b") if swapped else ("b", "a")
    roles = QOP_INPUTS.get(raw.op_type)
    w_t = node.input[d if swapped else w]
    codes, scale, zp, axis = _weight_codes(graph, w_t)
    out: dict = {}

    def const(pos, what):
        t = raw.input[pos] if pos is not None and pos < len(raw.input) else ""
        if not t:
            return None
        v = graph.value(t)
        if v is None:
            raise _Skip(f"the {what} ({t!r}) is not a constant")
        return v

    if roles is not None:  # QOperator: scales and zero points are inputs of the op
        _, s_pos, z_pos = roles[w_slot]
        scale, zp = const(s_pos, "weight scale"), const(z_pos, "weight zero point")
        n = codes.ndim
        if zp is not None and np.size(zp) > 1 or scale is not None and np.size(scale) > 1:
            # conv: per output channel; matmul ops: per column of B, per row of A (QGemm's
            # transB / transA: per row of the stored B, per column of the stored A)
            a = graph.attrs(node) if op == "Gemm" else {}
            flip = a.get("transA" if swapped else "transB", 0)
            rows, cols = (n - 1, n - 2) if flip else (n - 2, n - 1)
            axis = 0 if layer.type == "conv" else rows if swapped else cols
        _, xs_pos, xz_pos = roles[x_slot]
        for key, v in (("inputs_scale", const(xs_pos, "input scale")),
                       ("inputs_zero_point", const(xz_pos, "input zero point"))):  # fmt: skip
            if v is not None:
                out[key] = _float_scale(v) if key.endswith("scale") else _codes(v)
        ys = const(roles["y"][0], "output scale") if "y" in roles else None
        if ys is not None:  # (a QGemm without y_scale has a float output)
            out["outputs_scale"] = _float_scale(ys)
            yzp = const(roles["y"][1], "output zero point")
            if yzp is not None:
                out["outputs_zero_point"] = _codes(yzp)
        if "bias" in roles:
            bias = const(roles["bias"], "bias")
            if bias is not None:
                out["bias"] = _codes(bias)
    else:
        params = _input_params(graph, node.input[w if swapped else d])
        if params is not None:
            out["inputs_scale"], out["inputs_zero_point"] = params
    # to the trace's layout: conv OIHW (1-D: O I 1 K), fc [out, in]
    if layer.type == "conv":
        if codes.ndim == 3:
            codes = codes[:, :, None, :]
        if axis is not None and axis % codes.ndim != 0:
            raise _Skip(f"weights quantized per axis {axis}, not per output channel")
    else:
        n = codes.ndim
        if n > 2:
            axis = None if axis is None else axis - (n - 2)
            codes = codes.reshape(codes.shape[-2:])
        if n == 1:
            codes = codes[None, :] if swapped else codes[:, None]
            axis = None if axis is None else (1 if swapped else 0)
        a = graph.attrs(node) if op == "Gemm" else {}
        transposed = a.get("transA", 0) if swapped else a.get("transB", 0)
        out_axis = (1 if transposed else 0) if swapped else (0 if transposed else 1)
        if axis is not None and axis % 2 != out_axis:
            raise _Skip("weights quantized per input feature, not per output feature")
        if out_axis == 1:
            codes = codes.T
        axis = None if axis is None else 0
    out["weights"] = np.ascontiguousarray(codes)
    if scale is not None:
        out["weights_scale"] = _float_scale(scale).reshape(-1 if axis is not None else ())
    if zp is not None:
        zp = _codes(zp)
        out["weights_zero_point"] = zp.reshape(-1 if axis is not None and zp.size > 1 else ())
    return out


def _weight_codes(graph, t: str):
    """(codes, scale, zero point, per-channel axis) of a constant weight tensor: an integer
    initializer (QOperator), or a float one behind ``DequantizeLinear`` (QDQ) or a QONNX
    ``Quant``/``BipolarQuant`` (quantized here), possibly through ``Transpose``/``Identity``."""
    import numpy as np

    perms = []
    for _ in range(len(graph.nodes) + 1):
        p = graph.producer.get(t)
        node = graph.nodes[p] if p is not None else None
        if node is None or node.op_type == "Constant":
            v = graph.value(t)
            codes = _codes(v)
            if codes is None:
                raise _Skip("float weights without a quantizer: no integer codes")
            scale = zp = axis = None
            break
        op, std = node.op_type, node.domain in STANDARD_DOMAINS
        if std and op == "DequantizeLinear":
            codes = _codes(graph.value(node.input[0]))
            if codes is None:
                raise _Skip("the quantized weights are not a constant integer tensor")
            a = graph.attrs(node)
            if a.get("block_size", 0):
                raise _Skip("blocked quantization (block_size) is not supported in a trace")
            scale = graph.value(node.input[1])
            zp = graph.value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            if scale is None:
                raise _Skip("the weight scale is not a constant")
            axis = a.get("axis", 1) % codes.ndim if np.size(scale) > 1 else None
            break
        if node.domain in QONNX_DOMAINS and op in ("Quant", "IntQuant"):
            x = graph.value(node.input[0])
            if x is None:
                raise _Skip("the float weights are not a constant")
            codes, scale, zp, axis = _qonnx_codes(graph, node, x)
            break
        if node.domain in QONNX_DOMAINS and op == "BipolarQuant":
            x = graph.value(node.input[0])
            if x is None:
                raise _Skip("the float weights are not a constant")
            codes = np.where(np.asarray(x) >= 0, 1, -1).astype(np.int8)
            scale = graph.value(node.input[1])
            axis = _param_axis(scale, codes.shape) if scale is not None else None
            scale = None if scale is None else _float_scale(scale).reshape(-1 if axis else ())
            zp = None
            break
        if std and op == "Transpose":
            perms.append(graph.attrs(node).get("perm"))
            t = node.input[0]
            continue
        if std and op == "Identity":
            t = node.input[0]
            continue
        raise _Skip(f"the weights come through {op} node {graph.names[p]!r}, which is not "
                    "replayed")  # fmt: skip
    for perm in reversed(perms):  # innermost first
        perm = list(perm) if perm else list(range(codes.ndim))[::-1]
        codes = codes.transpose(perm)
        axis = None if axis is None else perm.index(axis)
    return codes, scale, zp, axis


def _input_params(graph, t: str):
    """(scale, zero point) of the per-tensor quantizer feeding a data operand (QDQ
    ``DequantizeLinear``, QONNX ``Quant``), looking back through value-preserving ops."""
    import numpy as np

    seen = set()
    while t and t not in seen:
        seen.add(t)
        p = graph.producer.get(t)
        if p is None:
            return None
        node = graph.nodes[p]
        std = node.domain in STANDARD_DOMAINS
        if std and node.op_type == "DequantizeLinear":
            scale = graph.value(node.input[1])
            zp = graph.value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            if scale is None or np.size(scale) != 1:
                return None
            zp = np.zeros((), np.int64) if zp is None else _codes(zp)
            return _float_scale(scale).reshape(()), None if zp is None else zp.reshape(())
        if node.domain in QONNX_DOMAINS and node.op_type in ("Quant", "IntQuant"):
            scale, zp = graph.value(node.input[1]), graph.value(node.input[2])
            if scale is None or zp is None or np.size(scale) != 1 or np.size(zp) != 1:
                return None
            try:
                zp = _int_zero_point(zp, "input")
            except _Skip:
                return None
            return _float_scale(scale).reshape(()), zp.reshape(())
        if not std or node.op_type not in VALUE_PRESERVING:
            return None
        t = node.input[0] if node.input else ""
    return None


def export_tensors(graph, wl) -> tuple[dict, tuple[str, ...]]:
    """``({layer: {field: array}}, notes)``: the integer weights of each GEMM layer with their
    scales and zero points (and the data operand's, the output's and the bias where the model
    states them) in the layout of `accelsim.trace`; notes say why a layer has none."""
    index = {name: i for i, name in enumerate(graph.names)}
    tensors, notes = {}, []
    for layer in wl.layers:
        if not layer.is_gemm:
            continue
        if graph.nodes[index[layer.name]].op_type == "ConvTranspose":
            notes.append(f"{layer.name}: ConvTranspose weights are not exported to a trace")
            continue
        if layer.type == "matmul":
            notes.append(f"{layer.name}: both operands are computed (no weights)")
            continue
        try:
            out = _export_layer(graph, index[layer.name], layer)
        except _Skip as exc:
            notes.append(f"{layer.name}: {exc}")
            continue
        tensors[layer.name] = {k: v for k, v in out.items() if v is not None}
    return tensors, tuple(notes)


__all__ = ["ImportSummary", "assignment_to_yaml", "export_tensors", "import_onnx", "load_onnx"]
