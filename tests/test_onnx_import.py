"""ONNX models in (accelsim/onnx_import.py): layers, MACs and precisions against hand
derivations, the float models checked in onnxruntime, every bad-input path, and the CLI.

GEMM view (DESIGN.md §3): conv ``m = out_h out_w`` per sample, ``n = out_channels / groups``,
``k = in_channels / groups kh kw``; fc ``m = tokens``, ``n = out``, ``k = in``; matmul
``m x k @ k x n`` repeated ``count`` times per sample. MACs = batch m n k groups.
"""

import subprocess
import sys

import numpy as np
import onnx
import onnx_models as om
import pytest
from conftest import ROOT
from onnx import TensorProto as T
from onnx import helper as h

import accelsim
from accelsim.onnx_import import import_onnx
from accelsim.workload import workload_to_yaml

ARCH = str(ROOT / "arch_configs" / "edge_32x32.yaml")


def _save(tmp_path, model, name="m.onnx"):
    return om.save(model, tmp_path / name)


def _rows(wl):
    return {la.name: (la.type, la.m, la.n, la.k, la.groups, la.elements) for la in wl.layers}


def _bits(wl):
    """(a_bits, a_encoding, w_bits, w_encoding, out_bits) of each GEMM layer."""
    fields = ("a_bits", "a_encoding", "w_bits", "w_encoding", "out_bits")
    return {la.name: tuple(getattr(la.quant, f) for f in fields) for la in wl.layers if la.is_gemm}


def _sources(wl):
    return {la.name: la.spec.input_from for la in wl.layers}


def _ort_run(model, batch=1):
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {
        i.name: rng.standard_normal([d if isinstance(d, int) else batch for d in i.shape]).astype(
            np.float32
        )
        for i in sess.get_inputs()
    }
    return sess.run(None, feeds)


# ----------------------------------------------------------------------- float models


def test_resnet_block(tmp_path):
    """x[N,8,16,16], batch dynamic -> 1 assumed, then --batch 2.

    conv1 8->16 3x3 s2 p1: out (16+2-3)//2+1 = 8 -> m 64, n 16, k 8*9 = 72: 73,728 MACs
    conv2 16->16 3x3 p1:   m 64, n 16, k 16*9 = 144:                       147,456
    proj 8->16 1x1 s2:     out (16-1)//2+1 = 8 -> m 64, n 16, k 8:            8,192
    total 229,376 per sample. bn1+relu1 fuse into conv1, bn2 into conv2 (each the single
    consumer); add(bn2, proj) -> eltwise 16*8*8 = 1,024 elements; relu after the add is no
    GEMM's -> activation, 1,024; maxpool 2x2 s2: 16 x 4x4 outputs x 4 reads = 1,024.
    """
    path = _save(tmp_path, om.resnet_block())
    wl, summary = import_onnx(path)
    assert wl.batch == 1 and [a.name for a in wl.assumed] == ["batch", "quant"]
    assert _rows(wl) == {
        "conv1": ("conv", 64, 16, 72, 1, 0),
        "conv2": ("conv", 64, 16, 144, 1, 0),
        "proj": ("conv", 64, 16, 8, 1, 0),
        "add": ("eltwise", 0, 0, 0, 0, 1024),
        "relu2": ("activation", 0, 0, 0, 0, 1024),
        "pool": ("pool", 0, 0, 0, 0, 1024),
    }
    assert wl.macs == 73_728 + 147_456 + 8_192 == 229_376
    assert _sources(wl) == {"conv1": (), "conv2": ("conv1",), "proj": (), "add": ("conv2", "proj"),
                            "relu2": ("add",), "pool": ("relu2",)}  # fmt: skip
    assert summary.fused == {"BatchNormalization": 2, "Relu": 1}
    assert summary.layers == {"conv": 3, "eltwise": 1, "activation": 1, "pool": 1}
    assert wl.layer("relu2").spec.op == "relu" and wl.layer("add").spec.shape == (16, 8, 8)
    # the float model: 8-bit int operands, assumed and recorded
    assert set(_bits(wl).values()) == {(8, "int", 8, "int", 8)}
    assert "float model" in next(a.reason for a in wl.assumed if a.name == "quant")
    # batch 2: every layer doubles; no assumption about the batch any more
    wl2 = accelsim.load_workload(path, batch=2)
    assert wl2.batch == 2 and wl2.macs == 2 * 229_376
    assert [a.name for a in wl2.assumed] == ["quant"]
    out = _ort_run(om.resnet_block(), batch=2)[0]
    assert out.shape == (2, *wl2.layer("pool").spec.out_shape())


def test_depthwise_separable(tmp_path):
    """x[1,16,14,14].

    dw 3x3 group 16 s2 SAME_UPPER: out ceil(14/2) = 7, total pad (7-1)*2+3-14 = 1 -> (0, 1);
       m 49, n 16/16 = 1, k 1*9 = 9, groups 16: 7,056 MACs; relu6 (Clip) fused
    pw 1x1 16->32: m 49, n 32, k 16: 25,088; HardSwish fused
    maxpool 2x2 s2 ceil_mode: ceil((7-2)/2)+1 = 4 (floor would give 3): one extra row/column
       of end padding; 32 x 4x4 outputs x 4 reads = 2,048
    global average pool: 32 x 1x1 outputs x 16 reads = 512; Flatten: no compute
    Gemm transB W[10,32]: fc in 32, out 10, tokens 1: 320
    total 7,056 + 25,088 + 320 = 32,464.
    """
    wl, summary = import_onnx(_save(tmp_path, om.depthwise_separable()))
    assert _rows(wl) == {
        "dw": ("conv", 49, 1, 9, 16, 0),
        "pw": ("conv", 49, 32, 16, 1, 0),
        "pool": ("pool", 0, 0, 0, 0, 2048),
        "gap": ("pool", 0, 0, 0, 0, 512),
        "fc": ("fc", 1, 10, 32, 1, 0),
    }
    assert wl.macs == 32_464
    dw = wl.layer("dw").spec
    assert (dw.padding, dw.stride, dw.out_hw) == ((0, 0, 1, 1), (2, 2), (7, 7))
    assert wl.layer("pool").spec.out_hw == (4, 4) and wl.layer("pool").spec.padding == (0, 0, 1, 1)
    assert wl.layer("gap").spec.pool == "global_avg"
    assert summary.fused == {"Clip": 1, "HardSwish": 1} and summary.no_compute == {"Flatten": 1}
    assert _sources(wl)["fc"] == ("gap",)
    assert [a.name for a in wl.assumed] == ["quant"]  # the input's batch is fixed at 1
    assert _ort_run(om.depthwise_separable())[0].shape == (1, 10)


def test_attention_block(tmp_path):
    """Multi-query attention, S 16, D 32, 4 query heads of 8, one shared K/V head.

    q 32->32: fc tokens 16: 16*32*32 = 16,384 (bias Add fused); k, v 32->8: 16*8*32 = 4,096 each
    scores [N,4,16,8] @ [N,1,8,16] (K^T, broadcast over the heads): matmul m 16, n 16, k 8,
       count 4: 8,192; the 1/sqrt(8) Div fused
    softmax over the last axis: rows 4*16 = 64, cols 16 (1,024 elements)
    context [N,4,16,16] @ [N,1,16,8]: m 16, n 8, k 16, count 4: 8,192
    out 32->32: 16,384 (bias fused); residual add: eltwise (16, 32); LayerNorm: rows 16, cols 32
    cls: Gemm transB on [N*16, 32] (Reshape -1): fc tokens 16*N/N = 16, 32->10: 5,120
    total 16,384 + 2*4,096 + 2*8,192 + 16,384 + 5,120 = 62,464 per sample.
    """
    path = _save(tmp_path, om.attention_block())
    wl, summary = import_onnx(path)
    assert _rows(wl) == {
        "q": ("fc", 16, 32, 32, 1, 0),
        "k": ("fc", 16, 8, 32, 1, 0),
        "v": ("fc", 16, 8, 32, 1, 0),
        "scores": ("matmul", 16, 16, 8, 4, 0),
        "softmax": ("softmax", 0, 0, 0, 0, 1024),
        "context": ("matmul", 16, 8, 16, 4, 0),
        "out": ("fc", 16, 32, 32, 1, 0),
        "residual": ("eltwise", 0, 0, 0, 0, 512),
        "ln": ("layernorm", 0, 0, 0, 0, 512),
        "cls": ("fc", 16, 10, 32, 1, 0),
    }
    assert wl.macs == 62_464
    assert (wl.layer("softmax").spec.rows, wl.layer("softmax").spec.cols) == (64, 16)
    assert (wl.layer("ln").spec.rows, wl.layer("ln").spec.cols) == (16, 32)
    assert _sources(wl)["scores"] == ("q", "k") and _sources(wl)["context"] == ("softmax", "v")
    assert _sources(wl)["residual"] == ("out",) and _sources(wl)["cls"] == ("ln",)
    assert summary.fused == {"Add": 2, "Div": 1}
    assert summary.no_compute == {"Reshape": 5, "Transpose": 4}
    wl3 = import_onnx(path, batch=3)[0]
    assert wl3.macs == 3 * 62_464 and wl3.layer("scores").groups == 3 * 4
    assert wl3.layer("cls").m == 3 * 16
    assert _ort_run(om.attention_block(), batch=3)[0].shape == (48, 10)


# ------------------------------------------------------------------ quantized models


def test_qdq_model(tmp_path):
    """QuantizeLinear/DequantizeLinear pairs; bits and signedness from the zero-point types.

    conv1 3->4 3x3 p1: m 64, n 4, k 27: 6,912; a uint8 (x's Q), w int8; relu fused, then Q
       uint8 -> out 8; the int32 bias DQ is accepted and ignored
    conv2 4->4 1x1: m 64, n 4, k 4: 1,024; a uint8, w int4; out Q uint8 -> 8
    conv3 4->4 3x3 p1: m 64, n 4, k 36: 9,216; a uint8, w int8; out Q int8 -> 8
    fc (Flatten -> MatMul 256->10): 2,560; a int8 (conv3's Q), w int8; float output -> out_bits =
       a_bits 8, assumed
    total 19,712. The most common (conv1, conv3: a 8 uint, w 8 int) is the default; conv2
    overrides w_bits 4, fc a_encoding int.
    """
    path = _save(tmp_path, om.qdq_model())
    wl, summary = import_onnx(path)
    assert wl.macs == 6_912 + 1_024 + 9_216 + 2_560 == 19_712
    assert _bits(wl) == {
        "conv1": (8, "uint", 8, "int", 8),
        "conv2": (8, "uint", 4, "int", 8),
        "conv3": (8, "uint", 8, "int", 8),
        "fc": (8, "int", 8, "int", 8),
    }
    q = wl.quant
    assert (q.a_bits, q.a_encoding, q.w_bits, q.w_encoding, q.acc_bits) == (8, "uint", 8, "int", 32)
    assert wl.layer("conv2").spec.quant.model_dump(exclude_none=True) == {"w_bits": 4}
    assert wl.layer("fc").spec.quant.model_dump(exclude_none=True) == {"a_encoding": "int"}
    assert wl.layer("conv1").spec.quant is None
    assert {a.name for a in wl.assumed} == {"out_bits", "acc_bits"}
    assert summary.fused == {"Relu": 1}
    assert summary.no_compute == {"QuantizeLinear": 4, "DequantizeLinear": 9, "Flatten": 1}
    assert dict(summary.assignment.layers)["conv2"].model_dump(exclude_none=True) == {
        "a_bits": 8, "w_bits": 4, "a_encoding": "uint", "w_encoding": "int"}  # fmt: skip
    assert _sources(wl) == {"conv1": (), "conv2": ("conv1",), "conv3": ("conv2",), "fc": ("conv3",)}
    assert _ort_run(om.qdq_model())[0].shape == (1, 10)  # int4 QDQ runs in onnxruntime too


def test_qoperator_model(tmp_path):
    """QLinearConv, QLinearMatMul, MatMulInteger: operand types from the tensors themselves.

    qconv 4->8 3x3 on 6x6, no pad: out 4x4 -> m 16, n 8, k 36: 4,608; x uint8, W int8,
       y uint8 -> out 8
    qmatmul (Flatten [1,128] uint8) 128->16: 2,048; a uint8, w int8, y uint8
    imatmul 16->4: 64; a uint8, w int8, int32 output -> out_bits 32
    total 6,720. Every GEMM is a QOperator integer op, so acc_bits 32 is the ops' own (not
    assumed), and nothing else is assumed.
    """
    wl, summary = import_onnx(_save(tmp_path, om.qoperator_model()))
    assert _rows(wl) == {
        "qconv": ("conv", 16, 8, 36, 1, 0),
        "qmatmul": ("fc", 1, 16, 128, 1, 0),
        "imatmul": ("fc", 1, 4, 16, 1, 0),
    }
    assert wl.macs == 6_720
    assert _bits(wl) == {
        "qconv": (8, "uint", 8, "int", 8),
        "qmatmul": (8, "uint", 8, "int", 8),
        "imatmul": (8, "uint", 8, "int", 32),
    }
    assert wl.assumed == () and wl.quant.acc_bits == 32
    assert summary.no_compute == {"QuantizeLinear": 1, "Flatten": 1, "Cast": 1}
    assert _ort_run(om.qoperator_model())[0].shape == (1, 4)


@pytest.mark.parametrize("domain", [om.QONNX, "finn.custom_op.general"])
def test_qonnx_model(tmp_path, domain):
    """QONNX Quant (bit-width input, ``signed`` attribute) and BipolarQuant.

    conv1 3->8 3x3 p1: m 64, n 8, k 27: 13,824; a Quant 8 signed, w Quant 8 signed;
       relu fused, then Quant 4 unsigned -> out 4
    conv2 8->8 3x3 p1: m 64, n 8, k 72: 36,864; a 4 uint, w 4 int; bn folded, BipolarQuant -> out 1
    conv3 8->16 1x1: m 64, n 16, k 8: 8,192; a and w bipolar: 1-bit binary; relu, Quant 2 -> out 2
    maxpool 2x2 s2: 16 x 4x4 x 4 = 1,024 elements
    fc 256->10: 2,560; a 2 uint (Quant 2 unsigned seen through Flatten and MaxPool), w 2 int
    total 61,440. All four precisions differ: the first (conv1's) is the default.
    """
    path = _save(tmp_path, om.qonnx_model(domain))
    wl, summary = import_onnx(path)
    assert wl.macs == 13_824 + 36_864 + 8_192 + 2_560 == 61_440
    assert _bits(wl) == {
        "conv1": (8, "int", 8, "int", 4),
        "conv2": (4, "uint", 4, "int", 1),
        "conv3": (1, "binary", 1, "binary", 2),
        "fc": (2, "uint", 2, "int", 2),
    }
    assert wl.layer("pool").elements == 1_024
    assert wl.quant == wl.layer("conv1").quant
    assert summary.fused == {"Relu": 2, "BatchNormalization": 1}
    assert summary.no_compute == {"Quant": 6, "BipolarQuant": 2, "Flatten": 1}
    assert dict(summary.assignment.layers)["conv3"].model_dump(exclude_none=True) == {
        "a_bits": 1, "w_bits": 1, "a_encoding": "binary", "w_encoding": "binary"}  # fmt: skip


@pytest.mark.parametrize(
    ("act_type", "bits"),
    [(T.INT8, (8, "int")), (T.UINT8, (8, "uint")), (T.INT16, (16, "int")),
     (T.UINT16, (16, "uint")), (T.INT4, (4, "int")), (T.UINT4, (4, "uint"))],
)  # fmt: skip
def test_zero_point_types(tmp_path, act_type, bits):
    """The activation quantizer's zero-point type gives a_bits and a_encoding."""
    wl = accelsim.load_workload(_save(tmp_path, om.qdq_matmul(act_type)))
    assert _bits(wl)["fc"] == (*bits, 8, "int", bits[0])  # no output Q: out_bits = a_bits


def test_shape_inference_rule_for_qonnx_quant():
    """ONNX's own shape inference stops at a QONNX Quant (PEERS.md); ours passes its input's
    shape through, so the Conv after it has one: 8 channels of 8x8."""
    model = om.qonnx_model()
    plain = onnx.shape_inference.infer_shapes(model, data_prop=True)
    known = {v.name for v in plain.graph.value_info if v.type.tensor_type.HasField("shape")}
    assert "c1" not in known and "xq" not in known
    from accelsim.onnx_import import _Graph

    g = _Graph(model, "m.onnx", ".")
    g._check_structure()
    g._infer(None)
    assert g.shapes["xq"] == (1, 3, 8, 8) and g.shapes["c1"] == (1, 8, 8, 8)
    assert g.shapes["f"] == (1, 256)


# --------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize(
    "builder", ["resnet_block", "depthwise_separable", "attention_block", "qdq_model",
                "qoperator_model", "qonnx_model"],
)  # fmt: skip
def test_yaml_round_trip(tmp_path, builder):
    """The written workload YAML loads back to the same layers, precisions and MACs."""
    wl = accelsim.load_workload(_save(tmp_path, getattr(om, builder)()))
    text = workload_to_yaml(wl)
    (tmp_path / "w.yaml").write_text(text)
    back = accelsim.load_workload(tmp_path / "w.yaml")
    assert back.layers == wl.layers and back.quant == wl.quant and back.macs == wl.macs
    assert text.startswith("# assumed") == bool(wl.assumed)  # QOperator: nothing assumed


def test_unknown_ops_are_named(tmp_path):
    """TopK and a custom-domain op: not costed, each named with its count, never dropped."""
    path = _save(tmp_path, om.with_unknown_ops())
    wl, summary = import_onnx(path)
    assert summary.unknown == {"TopK": 1, "com.example.Frobnicate": 1}
    assert summary.warnings() == [
        "ops accelsim does not know, not costed: TopK 1, com.example.Frobnicate 1"
    ]
    with pytest.warns(UserWarning, match=r"m\.onnx: ops accelsim does not know.*TopK 1"):
        accelsim.load_workload(path)


def test_unfused_activation_and_batchnorm(tmp_path):
    """A Relu on a GEMM output with two consumers is not fused (activation layer of 4x6x6 =
    144 elements); a BatchNormalization on a graph input has no GEMM to fold into."""
    rng = np.random.default_rng(1)
    bn, bn_inits = om._bn("bn", 3, "x", "xb", rng)
    nodes = [
        bn,
        h.make_node("Conv", ["xb", "w"], ["c"], name="conv"),
        h.make_node("Relu", ["c"], ["r"], name="relu"),
        h.make_node("Add", ["r", "c"], ["y"], name="add"),
    ]
    model = om.finish(nodes, [om.vi("x", [1, 3, 8, 8])], [om.vi("y", [1, 4, 6, 6])],
                      [om.f32("w", 4, 3, 3, 3), *bn_inits])  # fmt: skip
    wl, summary = import_onnx(_save(tmp_path, model))
    assert [(la.name, la.type) for la in wl.layers] == [
        ("bn", "activation"), ("conv", "conv"), ("relu", "activation"), ("add", "eltwise")]  # fmt: skip
    assert wl.layer("bn").spec.op == "batchnorm" and wl.layer("relu").elements == 144
    assert summary.fused == {} and _sources(wl)["add"] == ("relu", "conv")
    _ort_run(model)


def test_unnamed_and_repeated_node_names(tmp_path):
    """An unnamed node is ``<op>_<index>``; a repeated name gets ``_<index>`` appended."""
    model = om.depthwise_separable()
    for node in model.graph.node:
        node.name = "" if node.op_type != "Conv" else "conv"
    wl = import_onnx(_save(tmp_path, model))[0]
    assert [la.name for la in wl.layers] == ["conv", "conv_2", "MaxPool_4", "GlobalAveragePool_5",
                                             "Gemm_7"]  # fmt: skip
    assert _sources(wl)["conv_2"] == ("conv",)


def test_onnx_is_imported_lazily():
    code = "import sys, accelsim; print('onnx' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# --------------------------------------------------------------------------- bad input


def _without_init(model, name):
    keep = [t for t in model.graph.initializer if t.name != name]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    return model


def _float_quant_model():
    model = om.qonnx_model()
    node = next(n for n in model.graph.node if n.name == "w2_q")
    node.op_type = "FloatQuant"
    return model


def _graph_input_bitwidth():
    model = om.qonnx_model()
    next(n for n in model.graph.node if n.name == "a1_q").input[3] = "runtime_bits"
    model.graph.input.append(om.vi("runtime_bits", [], T.FLOAT))
    return model


def _dynamic_width():
    model = om.depthwise_separable()
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_param = "W"
    return model


def _zero_width():
    model = om.depthwise_separable()
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_value = 0
    return model


def _too_much_work():
    """A MatMul of [2^30, 2^20] @ [2^20, 2^20] operands: 2^70 MACs, beyond the 2^50 the
    model counts exactly in int64."""
    nodes = [h.make_node("MatMul", ["x", "w"], ["y"], name="fc")]
    return om.finish(nodes, [om.vi("x", [1, 2**30, 2**20]), om.vi("w", [1, 2**20, 2**20])],
                     [om.vi("y", [1, 2**30, 2**20])], [])  # fmt: skip


def _unknown_before_gemm():
    nodes = [
        h.make_node("Mystery", ["x"], ["z"], name="mystery", domain="com.example"),
        h.make_node("MatMul", ["z", "w"], ["y"], name="fc"),
    ]
    return om.finish(nodes, [om.vi("x", [1, 8])], [om.vi("y", [1, 4])], [om.f32("w", 8, 4)],
                     domains=["com.example"])  # fmt: skip


def _duplicate_output():
    model = om.resnet_block()
    next(n for n in model.graph.node if n.name == "relu1").output[0] = "w2"
    return model


def _unsorted():
    model = om.depthwise_separable()
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend([nodes[1], nodes[0], *nodes[2:]])
    return model


def _conv_without_weights():
    """A Conv node given only its data input (onnx's shape inference lets it through)."""
    nodes = [h.make_node("Conv", ["x"], ["y"], name="conv")]
    return om.finish(nodes, [om.vi("x", [1, 4, 5, 5])], [om.vi("y", None)], [])


def _scalar_matmul():
    """MatMul of two 0-d operands (ONNX's MatMul needs at least one dimension on each)."""
    nodes = [h.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    return om.finish(nodes, [om.vi("x", [])], [om.vi("y", None)], [om.scalar("w", 2.0)])


def _quant_without_bitwidth():
    model = om.qonnx_model()
    del next(n for n in model.graph.node if n.name == "w1_q").input[3]
    return model


def _layernorm_axis(axis):
    """x[1,16,32] -> MatMul (32->32) -> LayerNormalization over ``axis``."""
    nodes = [
        h.make_node("MatMul", ["x", "w"], ["m"], name="fc"),
        h.make_node("LayerNormalization", ["m", "g", "b"], ["y"], name="ln", axis=axis),
    ]
    inits = [om.f32("w", 32, 32), om.f32("g", 32), om.f32("b", 32)]
    return om.finish(nodes, [om.vi("x", [1, 16, 32])], [om.vi("y", None)], inits)  # fmt: skip


def _gemm(*x_shape, transA=0, transB=0):
    """x (a graph input) -> Gemm with a constant B of 8 x 4 (stored [4, 8] with transB)."""
    w = om.f32("w", *((4, 8) if transB else (8, 4)))
    node = h.make_node("Gemm", ["x", "w"], ["y"], name="g", transA=transA, transB=transB)
    return om.finish([node], [om.vi("x", list(x_shape))], [om.vi("y", None)], [w])


@pytest.mark.parametrize(("x_shape", "attrs"), [((8, 8), {"transA": 1}), ((2, 8), {"transB": 1}),
                                                (("N", 8), {"transA": 0})])  # fmt: skip
def test_gemm_transposes_match_onnxruntime(tmp_path, x_shape, attrs):
    """Gemm's transA / transB: the imported fc (batch x tokens rows, out_features columns)
    has onnxruntime's output shape; 8 reduced features either way."""
    pytest.importorskip("onnxruntime")
    model = _gemm(*x_shape, **attrs)
    (y,) = _ort_run(model)
    wl = accelsim.load_workload(_save(tmp_path, model))
    (fc,) = wl.layers
    assert (wl.batch * fc.spec.tokens, fc.spec.out_features) == y.shape
    assert fc.spec.in_features == 8


def test_cli_batch_out_of_range(tmp_path):
    """`--batch` beyond int64 is a ConfigError (exit 2), not onnx's "Value out of range"."""
    path = _save(tmp_path, om.resnet_block())
    proc = subprocess.run([sys.executable, "-m", "accelsim", "import", path, "--batch",
                           "99999999999999999999", "-o", str(tmp_path / "m.yaml")],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "batch: out of range; found 99999999999999999999" in proc.stderr


@pytest.mark.parametrize(
    ("build", "kwargs", "match"),
    [
        (lambda: _without_init(om.resnet_block(), "w2"), {}, r"m\.onnx: nodes\.conv2: input 'w2' is neither an initializer, a graph input nor the output of an earlier node \(missing initializer\?\)"),
        (lambda: om.qdq_model(T.FLOAT8E4M3FN), {}, r"m\.onnx: nodes\.x_q: unsupported quantization: the zero point's type is float8e4m3fn; found float8e4m3fn; allowed: int2, uint2, int4"),
        (_float_quant_model, {}, r"m\.onnx: nodes\.w2_q: unsupported quantization: minifloat \(FloatQuant\)"),
        (_graph_input_bitwidth, {}, r"m\.onnx: nodes\.a1_q: the bit-width input 'runtime_bits' is not a constant"),
        (_dynamic_width, {}, r"m\.onnx: inputs\.x: dimension 3 is dynamic; accelsim needs static shapes.*found 'W'"),
        (_zero_width, {}, r"m\.onnx: inputs\.x: dimension 3 has no elements; found 0; allowed: >= 1"),
        (om.depthwise_separable, {"batch": 4}, r"m\.onnx: inputs\.x: the model's batch is fixed at 1; --batch 4 cannot change it"),
        (om.resnet_block, {"batch": 0}, r"m\.onnx: batch: out of range; found 0; allowed: 1\.\.9223372036854775807 \(an ONNX dimension is int64\)"),
        (om.resnet_block, {"batch": 10**20}, r"m\.onnx: batch: out of range; found 100000000000000000000; allowed: 1\.\.9223372036854775807"),
        (lambda: _gemm(8, 1, transA=1), {}, r"m\.onnx: nodes\.g: the rows of the data operand \[8, 1\] \(transA=1: its axis 1; its axis 0 is the reduction\) \(1\) are not a multiple of the batch \(8\)"),
        (_too_much_work, {}, r"m\.onnx: nodes\.fc: too much work in one layer to model; found 1,180,591,620,717,411,303,424 MACs; allowed: at most 1,125,899,906,842,624"),
        (_unknown_before_gemm, {}, r"m\.onnx: nodes\.fc: the shape of 'z' is unknown after ONNX shape inference"),
        (_duplicate_output, {}, r"m\.onnx: nodes\.relu1: output 'w2' has the name of an initializer or graph input's tensor"),
        (_unsorted, {}, r"m\.onnx: nodes\.relu6: input 'd' is produced by a later node: the graph is not sorted"),
        # malformed nodes that shape inference lets through: before, an IndexError traceback
        (_conv_without_weights, {}, r"m\.onnx: nodes\.conv: Conv needs its data and weight inputs \(inputs 0 and 1\); found \['x'\]"),
        (_scalar_matmul, {}, r"m\.onnx: nodes\.mm: MatMul operands must have at least one dimension; found \(\) @ \(\)"),
        (_quant_without_bitwidth, {}, r"m\.onnx: nodes\.w1_q: Quant has no bit-width input; found \['w1', 'qs', 'qz'\]"),
        # before: axis 9 taken modulo the rank (axis 1), a layernorm over 16 x 32 elements
        (lambda: _layernorm_axis(9), {}, r"m\.onnx: nodes\.ln: attribute axis is out of range for a rank-3 tensor; found 9; allowed: -3\.\.2"),
    ],
)  # fmt: skip
def test_bad_models(tmp_path, build, kwargs, match):
    path = _save(tmp_path, build())
    with pytest.raises(accelsim.ConfigError, match=match):
        accelsim.load_workload(path, **kwargs)


def _window_model(op="Conv", **attrs):
    """x[1,4,10,10] -> Conv (w[8,4,3,3]) or MaxPool with the window attributes given."""
    inputs, inits = (["x", "w"], [om.f32("w", 8, 4, 3, 3)]) if op == "Conv" else (["x"], [])
    node = h.make_node(op, inputs, ["y"], name="win", **attrs)
    return om.finish([node], [om.vi("x", [1, 4, 10, 10])], [om.vi("y", None)], inits)


@pytest.mark.parametrize(
    ("attrs", "match"),
    [
        ({"pads": [1, 1]}, r"attribute pads has the wrong length or a value out of range; found \[1, 1\]; allowed: 4 integers >= 0"),
        ({"pads": [-1, 0, 0, 0]}, r"attribute pads .*found \[-1, 0, 0, 0\]; allowed: 4 integers >= 0"),
        ({"strides": [2]}, r"attribute strides .*found \[2\]; allowed: 2 integers >= 1"),
        ({"strides": [0, 1]}, r"attribute strides .*found \[0, 1\]; allowed: 2 integers >= 1"),
        ({"dilations": [2, 2, 2]}, r"attribute dilations .*found \[2, 2, 2\]; allowed: 2 integers >= 1"),
        ({"kernel_shape": [5, 5]}, r"attribute kernel_shape differs from the weight's spatial shape; found \[5, 5\]; allowed: \[3, 3\]"),
        ({"op": "MaxPool", "kernel_shape": [2], "strides": [2, 2]}, r"attribute kernel_shape .*found \[2\]; allowed: 2 integers >= 1"),
        ({"op": "MaxPool", "kernel_shape": [2, 2], "pads": [0, 0, 1]}, r"attribute pads .*found \[0, 0, 1\]; allowed: 4 integers >= 0"),
    ],
)  # fmt: skip
def test_window_attributes_checked(tmp_path, attrs, match):
    """Malformed window attributes are one problem naming the node and the attribute.

    onnxruntime refuses each of these models; before the check, pads of the wrong length
    raised an IndexError, a kernel_shape of 5x5 on 3x3 weights was costed as 5x5 (m 36,
    n 8, k 4*25: 28,800 MACs, not a model onnxruntime runs) and the rest said only "Input
    should be a valid integer".
    """
    with pytest.raises(accelsim.ConfigError, match=r"m\.onnx: nodes\.win: " + match):
        accelsim.load_workload(_save(tmp_path, _window_model(**attrs)))


def test_asymmetric_window_attributes(tmp_path):
    """x[1,4,10,10], w[8,4,3,3].

    pads [top 0, left 1, bottom 2, right 0], strides [2, 3]: out (10+0+2-3)//2+1 = 5 by
    (10+1+0-3)//3+1 = 3 -> m 15, n 8, k 36: 4,320 MACs.
    dilations [2, 1], no pads: out (10-5)+1 = 6 by 8 -> m 48, n 8, k 36: 13,824 MACs.
    MaxPool 2x2 dilations [1, 2] strides [1, 2]: window 2 by 3 -> out 9 by (10-3)//2+1 = 4.
    Each output shape as onnxruntime's.
    """
    cases = [
        ({"pads": [0, 1, 2, 0], "strides": [2, 3]}, (5, 3), 4_320),
        ({"dilations": [2, 1]}, (6, 8), 13_824),
        ({"op": "MaxPool", "kernel_shape": [2, 2], "dilations": [1, 2], "strides": [1, 2]},
         (9, 4), 0),
    ]  # fmt: skip
    for attrs, out_hw, macs in cases:
        model = _window_model(**attrs)
        wl = accelsim.load_workload(_save(tmp_path, model))
        assert (wl.layer("win").spec.out_hw, wl.macs) == (out_hw, macs), attrs
        assert _ort_run(model)[0].shape[2:] == out_hw, attrs


def _pool_model(op, x_shape, **attrs):
    node = h.make_node(op, ["x"], ["y"], name="pool", **attrs)
    return om.finish([node], [om.vi("x", x_shape)], [om.vi("y", None)], [])


@pytest.mark.parametrize(
    ("op", "x_shape", "attrs", "out_hw", "ends", "elements"),
    [
        ("MaxPool", [1, 3, 8, 9], {"kernel_shape": [3, 2], "strides": [3, 3]}, (3, 3), (1, 0), 162),
        ("AveragePool", [1, 3, 11], {"kernel_shape": [1], "strides": [3]}, (1, 4), (0, 0), 12),
        ("MaxPool", [1, 3, 10, 11], {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [0, 1, 0, 1]},
         (5, 6), (1, 1), 540),
        ("MaxPool", [1, 3, 7, 7], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
         (4, 4), (1, 1), 432),
    ],
)  # fmt: skip
def test_pool_ceil_mode_drops_a_window_starting_in_the_padding(
    tmp_path, op, x_shape, attrs, out_hw, ends, elements
):
    """ceil_mode: out = ceil((in + pads - k) / s) + 1, less one when that last window would
    start in the end padding, i.e. at or past in + begin pad (ONNX spec; onnxruntime).

    MaxPool 3x2 s3 on 8x9: h ceil(5/3)+1 = 3, last start 6 < 8; w ceil(7/3)+1 = 4, last start
    9 >= 9 -> 3. End padding for the floor rule: h (3-1)*3+3-8 = 1, w (3-1)*3+2-9 < 0 -> 0.
    3 channels x 9 windows x 6 reads = 162.
    AveragePool k1 s3 on 11: ceil(10/3)+1 = 5, last start 12 >= 11 -> 4; 3 x 4 x 1 = 12.
    MaxPool 3x2 s2 pads [0,1,0,1] on 10x11: h ceil(7/2)+1 = 5 (start 8 < 10), end pad
    0 + (4*2+3-10) = 1; w ceil(11/2)+1 = 7, start 12 >= 11+1 -> 6, end 1 + (5*2+2-13 < 0) = 1.
    3 x 30 x 6 = 540.
    MaxPool 3x3 s2 pads 1 on 7x7: ceil(6/2)+1 = 4, start 6 < 8: 4 (no window dropped);
    end 1 + (3*2+3-9 = 0) = 1; 3 x 16 x 9 = 432.
    onnx's shape inference keeps the dropped window (4, 5 and 7 above): the first three were
    refused with "padding ... must be smaller than the kernel".
    """
    model = _pool_model(op, x_shape, ceil_mode=1, **attrs)
    wl = accelsim.load_workload(_save(tmp_path, model))
    (pool,) = wl.layers
    top, left, bottom, right = pool.spec.padding
    assert (pool.spec.out_hw, (bottom, right), pool.elements) == (out_hw, ends, elements)
    assert _ort_run(model)[0].shape[2:] == out_hw[4 - len(x_shape) :]  # 1-D: (1, w)


def test_unused_inputs_say_nothing_about_the_batch(tmp_path):
    """Graph inputs no node reads cost nothing and do not set the batch or need static shapes.

    Inputs: extra[5] (unused, listed first), x[2,8], mask[5,S] (unused, dynamic axis 1),
    blob (unused, no shape). Gemm x @ w^T, w[4,8]: batch 2 (x's axis 0), tokens 1, n 4, k 8:
    2 * 4 * 8 = 64 MACs. Before: batch 5 from the unused input ("the rows of the data operand
    (2) are not a multiple of the batch (5)"), and errors for mask's dynamic axis and blob's
    missing shape.
    """
    nodes = [h.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)]
    inputs = [om.vi("extra", [5]), om.vi("x", [2, 8]), om.vi("mask", [5, "S"]),
              h.make_tensor_value_info("blob", T.FLOAT, None)]  # fmt: skip
    model = om.finish(nodes, inputs, [om.vi("y", None)], [om.f32("w", 4, 8)])
    wl = accelsim.load_workload(_save(tmp_path, model))
    assert (wl.batch, _rows(wl), wl.macs, wl.assumed[0].name) == (
        2,
        {"fc": ("fc", 2, 4, 8, 1, 0)},
        64,
        "quant",
    )


def test_float8_names_every_quantizer(tmp_path):
    """All problems of a file together: the Q and the DQ of the float8 pair."""
    with pytest.raises(accelsim.ConfigError) as err:
        import_onnx(_save(tmp_path, om.qdq_model(T.FLOAT8E4M3FN)))
    assert [p.path for p in err.value.problems] == ["nodes.x_q", "nodes.x_dq"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"this is not an ONNX model at all", r"m\.onnx: <top>: not a readable ONNX model \(corrupt or truncated\?\)"),
        ("truncated", r"m\.onnx: <top>: not a readable ONNX model \(corrupt or truncated\?\)"),
        (b"", r"m\.onnx: <top>: the file is empty"),
    ],
)  # fmt: skip
def test_corrupt_files(tmp_path, content, match):
    if content == "truncated":
        data = om.resnet_block().SerializeToString()
        content = data[: len(data) // 2]
    (tmp_path / "m.onnx").write_bytes(content)
    with pytest.raises(accelsim.ConfigError, match=match):
        accelsim.load_workload(tmp_path / "m.onnx")


def test_missing_file_and_batch_on_yaml(tmp_path):
    with pytest.raises(accelsim.ConfigError, match=r"nope\.onnx: <top>: file not found"):
        accelsim.load_workload(tmp_path / "nope.onnx")
    wl = tmp_path / "w.yaml"
    wl.write_text((ROOT / "tests" / "data" / "tiny.yaml").read_text())
    with pytest.raises(
        accelsim.ConfigError, match=r"w\.yaml: batch: only an ONNX model's batch can be set"
    ):
        accelsim.load_workload(wl, batch=2)


# --------------------------------------------------------------------------------- CLI


def _accelsim(*args, cwd):
    return subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True,
                          text=True, cwd=cwd)  # fmt: skip


def test_cli_import_writes_workload_assignment_and_summary(tmp_path):
    _save(tmp_path, om.qdq_model(), "q.onnx")
    proc = _accelsim("import", "q.onnx", "-o", "w.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote w.yaml: 4 layers (4 GEMM), 19,712 MACs" in proc.stdout
    assert "wrote w.assignment.yaml: precisions of 4 layers" in proc.stdout
    assert "fused into the producing layer: Relu 1" in proc.stdout
    assert "not costed (no compute): QuantizeLinear 4, DequantizeLinear 9, Flatten 1" in proc.stdout
    assert proc.stderr == ""
    wl = accelsim.load_workload(tmp_path / "w.yaml")
    assignment = accelsim.load_assignment(tmp_path / "w.assignment.yaml")
    assert assignment.apply(wl).layers == wl.layers  # the model's own precisions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.onnx", "w.assignment.yaml", "w.yaml"]
    # a float model has no precisions: no assignment file; --batch sets the dynamic batch
    _save(tmp_path, om.resnet_block(), "r.onnx")
    proc = _accelsim("import", "r.onnx", "-o", "r.yaml", "--batch", "4", cwd=tmp_path)
    assert proc.returncode == 0 and f"{4 * 229_376:,} MACs" in proc.stdout
    assert not (tmp_path / "r.assignment.yaml").exists()
    assert accelsim.load_workload(tmp_path / "r.yaml").batch == 4


def test_cli_import_csv_unknown_ops_and_run(tmp_path):
    _save(tmp_path, om.with_unknown_ops(), "u.onnx")
    proc = _accelsim("import", "u.onnx", "-o", "u.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "u.csv").read_text() == "Layer, M, N, K,\nfc, 1, 4, 8,\n"
    assert proc.stderr == (
        "accelsim: warning: ops accelsim does not know, not costed: TopK 1, com.example.Frobnicate 1\n"
    )
    _save(tmp_path, om.attention_block(), "a.onnx")
    run = _accelsim("run", ARCH, "a.onnx", "--format", "json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    import json

    data = json.loads(run.stdout)
    assert data["total"]["macs"] == 62_464
    assert {a["name"] for a in data["provenance"]["assumed"]} >= {"batch", "quant"}
    # --batch sets the dynamic batch: every layer of the block scales with it, so 2 x MACs
    run = _accelsim("run", ARCH, "a.onnx", "--batch", "2", "--format", "json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["total"]["macs"] == 2 * 62_464
    resnet18 = str(ROOT / "workloads" / "resnet18.yaml")
    yaml_batch = _accelsim("run", ARCH, resnet18, "--batch", "2", cwd=tmp_path)
    assert (
        yaml_batch.returncode == 2 and "only an ONNX model's batch can be set" in yaml_batch.stderr
    )
    assert "Traceback" not in yaml_batch.stderr


def test_cli_bad_model_exits_2_and_writes_nothing(tmp_path):
    _save(tmp_path, _without_init(om.qdq_model(), "w3"), "bad.onnx")
    proc = _accelsim("import", "bad.onnx", "-o", "w.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "bad.onnx: nodes.w3_dq: input 'w3' is neither an initializer" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]


@pytest.mark.parametrize(
    ("op", "attrs", "out_hw", "padding", "elements"),
    [
        ("MaxPool", {"kernel_shape": [2, 2], "dilations": [1, 2], "strides": [1, 2]},
         (9, 4), (0, 0, 0, 0), 4 * 36 * 4),
        ("MaxPool", {"kernel_shape": [3, 3], "dilations": [2, 2], "strides": [2, 2],
                     "ceil_mode": 1}, (4, 4), (0, 0, 1, 1), 4 * 16 * 9),
        ("AveragePool", {"kernel_shape": [2, 3], "dilations": [3, 2], "pads": [1, 2, 1, 2]},
         (9, 10), (1, 2, 1, 2), 4 * 90 * 6),
    ],
)  # fmt: skip
def test_dilated_pool(tmp_path, op, attrs, out_hw, padding, elements):
    """x[1,4,10,10]; a dilated pool is stored with its ``dilation``, not as a wider window.

    MaxPool 2x2 dilations [1,2] strides [1,2]: the window spans 2 by 3; out (10-2)//1+1 = 9 by
    (10-3)//2+1 = 4; 4 channels x 36 windows x 4 taps = 576 (before: a 2x3 window, 864).
    MaxPool 3x3 dilations 2 s2 ceil_mode: span 5, out ceil((10-5)/2)+1 = 4 (last start 6 < 10),
    end padding (4-1)*2+5-10 = 1; 4 x 16 x 9 = 576 (before: 5x5 windows, 1,600).
    AveragePool 2x3 dilations [3,2] pads [1,2,1,2]: spans 4 by 5; out (12-4)+1 = 9 by
    (14-5)+1 = 10; 4 x 90 x 6 = 2,160 (before 4 x 90 x 20 = 7,200).
    Output sizes as onnxruntime's.
    """
    model = _pool_model(op, [1, 4, 10, 10], **attrs)
    (pool,) = accelsim.load_workload(_save(tmp_path, model)).layers
    dilation = tuple(attrs["dilations"])
    assert (pool.spec.out_hw, pool.spec.padding, pool.spec.dilation, pool.elements) == (
        out_hw, padding, dilation, elements)  # fmt: skip
    assert pool.spec.kernel == tuple(attrs["kernel_shape"])
    assert _ort_run(model)[0].shape[2:] == out_hw


# ------------------------------------------- models quantized by onnxruntime's quantizer


def _ort_shapes(path):
    """Every node output's shape as onnxruntime computes it (intermediates made outputs)."""
    import onnxruntime as ort

    model = onnx.load(path)
    have = {o.name for o in model.graph.output}
    for node in model.graph.node:
        model.graph.output.extend(
            h.make_empty_tensor_value_info(t) for t in node.output if t and t not in have
        )
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs() if "int4" not in o.type]
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.standard_normal(i.shape).astype(np.float32) for i in sess.get_inputs()}
    return {t: y.shape for t, y in zip(names, sess.run(names, feeds))}


def _check_shapes_against_ort(path, wl):
    """Each layer's output (per sample) has the size onnxruntime gives its node's output."""
    nodes = {n.name: n for n in onnx.load(path).graph.node}
    shapes = _ort_shapes(path)
    for la in wl.layers:
        y = shapes[nodes[la.name].output[0]]
        out = la.spec.out_shape()
        assert int(np.prod(out)) * wl.batch == int(np.prod(y)), (la.name, out, y)
        if la.type in ("conv", "pool"):
            assert out == tuple(y[1:]), (la.name, out, y)


CNN_LAYERS = {  # (type, m, n, k, groups, elements) of om.ort_cnn
    "conv1": ("conv", 64, 8, 72, 1, 0),
    "dw": ("conv", 64, 1, 9, 8, 0),
    "pw": ("conv", 64, 8, 8, 1, 0),
    "add": ("eltwise", 0, 0, 0, 0, 512),
    "sig": ("activation", 0, 0, 0, 0, 512),
    "mul": ("eltwise", 0, 0, 0, 0, 512),
    "lrelu": ("activation", 0, 0, 0, 0, 512),
    "ap": ("pool", 0, 0, 0, 0, 1024),
    "gap": ("pool", 0, 0, 0, 0, 256),
    "fc": ("fc", 1, 10, 16, 1, 0),
}


@pytest.mark.parametrize(
    ("fmt", "per_channel", "act", "weight", "bits"),
    [
        ("QOperator", False, "QUInt8", "QInt8", (8, "uint", 8, "int", 8)),
        ("QOperator", True, "QInt8", "QInt8", (8, "int", 8, "int", 8)),
        ("QDQ", True, "QUInt8", "QInt4", (8, "uint", 4, "int", 8)),  # com.microsoft Q/DQ
        ("QDQ", False, "QInt16", "QInt8", (16, "int", 8, "int", 16)),
    ],
)  # fmt: skip
def test_ort_quantized_cnn(tmp_path, fmt, per_channel, act, weight, bits):
    """om.ort_cnn quantized by onnxruntime's quantize_static.

    x[1,8,8,8]; conv1 8->8 3x3 p1: m 64, n 8, k 72: 36,864 MACs; dw 3x3 group 8: m 64, n 1,
    k 9, groups 8: 4,608; pw 1x1: m 64, n 8, k 8: 4,096; fc (QGemm in QOperator) 16->10: 160.
    Total 45,728 (before: QOperator's QGemm not costed, 45,568, and every layer after the
    first com.microsoft op without a shape: an error; QDQ int4 below opset 21 writes
    com.microsoft Q/DQ, whose outputs had no shape either).
    add (QLinearAdd) 8x8x8 = 512 elements; sig (QLinearSigmoid) 512; mul (QLinearMul) 512;
    lrelu (QLinearLeakyRelu) 512; cat (QLinearConcat) no compute; ap (QLinearAveragePool 2x2
    s2 on 16 channels): 16 x 4x4 x 4 = 1,024; gap (QLinearGlobalAveragePool): 16 x 16 = 256.
    Both formats drop relu2 (the requantization clamps); QOperator names its nodes
    ``<name>_quant``. Bits from the zero-point types
    (activation type, weight type; the output is the next activation quantizer's).
    Shapes as onnxruntime's.
    """
    path = om.ort_quantize(om.ort_cnn(), tmp_path / "q.onnx", fmt, per_channel, act, weight)
    wl, summary = import_onnx(path)
    suffix = "_quant" if fmt == "QOperator" else ""
    expected = {f"{k}{suffix}": v for k, v in CNN_LAYERS.items()}
    assert _rows(wl) == expected
    assert wl.macs == 36_864 + 4_608 + 4_096 + 160 == 45_728
    assert set(_bits(wl).values()) == {bits}
    assert summary.unknown == {} and summary.shapeless == {}
    if fmt == "QOperator":
        assert summary.no_compute == {"QuantizeLinear": 1, "com.microsoft.QLinearConcat": 1,
                                      "Flatten": 1, "DequantizeLinear": 1}  # fmt: skip
        assert wl.assumed == ()  # QGemm accumulates in int32 as QLinearConv does
        assert _sources(wl)["ap_quant"] == ("lrelu_quant", "add_quant")  # through the concat
    _check_shapes_against_ort(path, wl)


def test_ort_quantized_attention(tmp_path):
    """om.ort_attention, QOperator (uint8 activations, int8 weights).

    q, k, v, out 16->16 on 8 tokens: fc m 8, n 16, k 16: 2,048 each; scores [1,2,8,8] @
    [1,2,8,8]: matmul m 8, n 8, k 8, count 2: 1,024 (the * 0.5 QLinearMul has a constant
    operand: fused); context likewise 1,024; total 10,240. QLinearSoftmax over the last
    axis (its ``opset`` attribute 17 >= 13): rows 2*8 = 16, cols 8; res (QLinearAdd) 8x16 =
    128 elements; the float LayerNormalization: rows 8, cols 16. Both operands of scores and
    context are uint8 activations. Shapes as onnxruntime's.
    """
    path = om.ort_quantize(om.ort_attention(), tmp_path / "a.onnx")
    wl, summary = import_onnx(path)
    assert _rows(wl) == {
        "q_quant": ("fc", 8, 16, 16, 1, 0), "k_quant": ("fc", 8, 16, 16, 1, 0),
        "v_quant": ("fc", 8, 16, 16, 1, 0), "scores_quant": ("matmul", 8, 8, 8, 2, 0),
        "softmax_quant": ("softmax", 0, 0, 0, 0, 128),
        "context_quant": ("matmul", 8, 8, 8, 2, 0), "out_quant": ("fc", 8, 16, 16, 1, 0),
        "res_quant": ("eltwise", 0, 0, 0, 0, 128), "ln": ("layernorm", 0, 0, 0, 0, 128),
    }  # fmt: skip
    assert wl.macs == 4 * 2_048 + 2 * 1_024 == 10_240
    sm = wl.layer("softmax_quant").spec
    assert (sm.rows, sm.cols) == (16, 8)
    assert summary.fused == {"com.microsoft.QLinearMul": 1} and summary.unknown == {}
    assert _bits(wl)["scores_quant"] == (8, "uint", 8, "uint", 8)
    assert _bits(wl)["q_quant"] == (8, "uint", 8, "int", 8)
    _check_shapes_against_ort(path, wl)


@pytest.mark.parametrize(
    ("fmt", "per_channel", "weight"),
    [("QOperator", True, "QInt8"), ("QDQ", True, "QInt4"), ("QDQ", False, "QUInt8")],
)
def test_ort_quantized_with_tensors(tmp_path, fmt, per_channel, weight):
    """--with-tensors on quantizer output: each GEMM layer's integer weights are the
    quantizer's own initializers (QLinearConv / QGemm input 3, or the input of the weight's
    DequantizeLinear, com.microsoft's for int4) and so are their scales; fc [out, in] is the
    Gemm's transB weight as stored. Before: the QGemm layer did not exist, and the QDQ int4
    model was a ConfigError (no shapes after com.microsoft Q/DQ)."""
    from onnx import numpy_helper

    path = om.ort_quantize(om.ort_cnn(), tmp_path / "q.onnx", fmt, per_channel, "QUInt8", weight)
    wl, summary = import_onnx(path, with_tensors=True)
    model = onnx.load(path)
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {t: n for n in model.graph.node for t in n.output}
    nodes = {n.name: n for n in model.graph.node}
    assert summary.tensor_notes == ()
    assert set(summary.tensors) == {la.name for la in wl.layers if la.is_gemm}
    assert len(summary.tensors) == 4  # conv1, dw, pw and fc (QOperator: the QGemm)
    for la in wl.layers:
        if not la.is_gemm:
            continue
        node = nodes[la.name]
        if fmt == "QOperator":
            w, scale = init[node.input[3]], init[node.input[4]]
        else:
            dq = producer[node.input[1]]
            w, scale = init[dq.input[0]], init[dq.input[1]]
        got = summary.tensors[la.name]
        assert got["weights"].shape == w.shape, la.name
        np.testing.assert_array_equal(got["weights"].astype(np.int64), w.astype(np.int64))
        np.testing.assert_array_equal(got["weights_scale"].reshape(-1), scale.reshape(-1))


def _contrib_gemms():
    """x[1,4,8] -> DynamicQuantizeMatMul (B int8 [8,6]) -> y1[1,4,6];
    DynamicQuantizeLinear(x) -> MatMulIntegerToFloat (uint8 A, B int8 [8,5]) -> y2[1,4,5];
    x -> QuantizeLinear uint8 -> QLinearGlobalAveragePool channels_last=1 (NHWC) -> y3."""
    rng = np.random.default_rng(3)
    ms = "com.microsoft"
    nodes = [
        h.make_node("DynamicQuantizeMatMul", ["x", "b1", "s", "zp_i8"], ["y1"], name="dqmm",
                    domain=ms),
        h.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], name="dql"),
        h.make_node("MatMulIntegerToFloat", ["xq", "b2", "xs", "s", "xz", "zp_i8"], ["y2"],
                    name="mmitf", domain=ms),
        h.make_node("QuantizeLinear", ["x4", "s", "zp_u8"], ["x4q"], name="x4_q"),
        h.make_node("QLinearGlobalAveragePool", ["x4q", "s", "zp_u8", "s", "zp_u8"], ["y3"],
                    name="gap_nhwc", domain=ms, channels_last=1),
    ]  # fmt: skip
    inits = [om._int("b1", (8, 6), np.int8, rng), om._int("b2", (8, 5), np.int8, rng),
             om.scalar("s", 0.05), om.scalar("zp_i8", 0, np.int8),
             om.scalar("zp_u8", 128, np.uint8)]  # fmt: skip
    graph = h.make_graph(nodes, "g", [om.vi("x", [1, 4, 8]), om.vi("x4", [1, 3, 3, 4])],
                         [om.vi("y1", None), om.vi("y2", None), om.vi("y3", None, T.UINT8)],
                         inits)  # fmt: skip
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid(ms, 1)])
    model.ir_version = 10
    return model


def test_contrib_gemms_and_an_nhwc_op(tmp_path):
    """onnxruntime's DynamicQuantizeMatMul and MatMulIntegerToFloat (what its optimizer fuses
    dynamic quantization into) are GEMMs: fc tokens 4, 8->6: 192 MACs (A quantized to uint8
    inside the op; B int8) and 8->5: 160 (A uint8 from DynamicQuantizeLinear). Both float
    outputs: out_bits = a_bits, assumed. An NHWC (channels_last) contrib op stays unknown and
    named. Before: both GEMMs unknown ("the model has no layers accelsim can cost")."""
    path = _save(tmp_path, _contrib_gemms())
    shapes = _ort_shapes(path)
    wl, summary = import_onnx(path)
    assert _rows(wl) == {"dqmm": ("fc", 4, 6, 8, 1, 0), "mmitf": ("fc", 4, 5, 8, 1, 0)}
    assert (shapes["y1"], shapes["y2"]) == ((1, 4, 6), (1, 4, 5))
    assert wl.macs == 192 + 160
    assert set(_bits(wl).values()) == {(8, "uint", 8, "int", 8)}
    assert summary.unknown == {"com.microsoft.QLinearGlobalAveragePool": 1}
    assert [a.name for a in wl.assumed] == ["out_bits"]  # int32 accumulators: not assumed


# ----------------------------------------------------------------------- ConvTranspose


def _col2im(x, w, group, strides, dilations, begin, out_hw):
    """ConvTranspose by its GEMM lowering (module docstring): per group, inputs
    [N*H*W, C_in/g] @ weights [C_in/g, C_out/g*kh*kw], then each product added at output
    position (h*s + i*d - pad, w*s + j*d - pad). Returns the output and the MACs done."""
    n, c, hh, ww = x.shape
    cog, kh, kw = w.shape[1:]
    cg = c // group
    out = np.zeros((n, cog * group, *out_hw))
    macs = 0
    for g in range(group):
        a = x[:, g * cg : (g + 1) * cg].transpose(0, 2, 3, 1).reshape(-1, cg).astype(np.float64)
        b = w[g * cg : (g + 1) * cg].reshape(cg, -1).astype(np.float64)
        macs += a.shape[0] * a.shape[1] * b.shape[1]
        prod = (a @ b).reshape(n, hh, ww, cog, kh, kw)
        for y0, x0, i, j in np.ndindex(hh, ww, kh, kw):
            oy = y0 * strides[0] + i * dilations[0] - begin[0]
            ox = x0 * strides[1] + j * dilations[1] - begin[1]
            if 0 <= oy < out_hw[0] and 0 <= ox < out_hw[1]:
                out[:, g * cog : (g + 1) * cog, oy, ox] += prod[:, y0, x0, :, i, j]
    return out, macs


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "attrs", "begin", "out_hw"),
    [
        # out = s (in - 1) + output_padding + d (k - 1) + 1 - pads
        ([1, 4, 5, 6], [4, 3, 3, 3], {"strides": [2, 2]}, (0, 0), (11, 13)),
        ([2, 4, 3, 4], [4, 2, 3, 2], {"strides": [2, 3], "pads": [1, 0, 0, 1], "output_padding": [1, 2],
                                      "dilations": [1, 2]}, (1, 0), (7, 13)),
        ([1, 6, 4, 4], [6, 1, 2, 2], {"group": 3, "strides": [2, 2], "auto_pad": "SAME_UPPER"}, (0, 0), (8, 8)),
        ([1, 4, 3, 3], [4, 2, 3, 3], {"group": 2, "strides": [2, 2], "auto_pad": "SAME_LOWER"}, (1, 1), (6, 6)),
        ([1, 2, 3, 3], [2, 2, 3, 3], {"strides": [2, 2], "output_shape": [8, 7]}, (0, 0), (8, 7)),
    ],
)  # fmt: skip
def test_conv_transpose_is_a_gemm(tmp_path, x_shape, w_shape, attrs, begin, out_hw):
    """ConvTranspose: each input pixel meets every kernel tap of its group, so per group
    inputs [N*H_in*W_in, C_in/g] @ weights [C_in/g, C_out/g*kh*kw] and MACs = N H_in W_in
    C_in C_out kh kw / g, whatever the pads, output_padding, output_shape or auto_pad (they
    crop or extend where the products land). Group 1: fc (tokens H_in W_in, in C_in, out
    C_out kh kw); group g > 1: matmul (m H_in W_in, k C_in/g, n C_out/g kh kw, count g).
    Checked by brute force: the lowering, scattered into the output (col2im), equals
    onnxruntime's output, with onnxruntime's output shape. Before: not costed (unknown op).

    Case 1: 1*5*6*4*3*3*3 = 1,080 MACs; out 2*4+3 = 11 by 2*5+3 = 13.
    Case 2: 2*3*4*4*2*3*2 = 1,152; out 2*2+1+3-(1+0) = 7 by 3*3+2+(2*1+1)-(0+1) = 13.
    Case 3: group 3: 1*4*4*6*3*2*2 / 3 = 384; SAME: out = in*s = 8.
    Case 4: group 2: 1*3*3*4*4*3*3 / 2 = 648; SAME_LOWER: total pad 2*2+3-6 = 1, begin 1.
    Case 5: output_shape [8, 7]: the full 7x7 extended by output padding; 1*3*3*2*2*3*3 = 324.
    """
    rng = np.random.default_rng(5)
    w = (rng.standard_normal(w_shape) * 0.1).astype(np.float32)
    node = h.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", **attrs)
    model = om.finish([node], [om.vi("x", x_shape)], [om.vi("y", None)],
                      [onnx.numpy_helper.from_array(w, "w")])  # fmt: skip
    wl, summary = import_onnx(_save(tmp_path, model))
    (up,) = wl.layers
    n, c, hh, ww = x_shape
    group = attrs.get("group", 1)
    cog, kh, kw = w_shape[1:]
    assert summary.unknown == {}
    if group == 1:
        assert (up.type, up.spec.tokens, up.spec.in_features, up.spec.out_features) == (
            "fc", hh * ww, c, cog * kh * kw)  # fmt: skip
    else:
        assert (up.type, up.spec.m, up.spec.k, up.spec.n, up.spec.count) == (
            "matmul", hh * ww, c // group, cog * kh * kw, group)  # fmt: skip
    assert wl.macs == n * hh * ww * c * cog * group * kh * kw // group
    x = rng.standard_normal(x_shape).astype(np.float32)
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": x})
    assert y.shape[2:] == out_hw
    lowered, macs = _col2im(x, w, group, attrs.get("strides", [1, 1]),
                            attrs.get("dilations", [1, 1]), begin, out_hw)  # fmt: skip
    np.testing.assert_allclose(lowered, y, atol=1e-5)
    assert macs == wl.macs
