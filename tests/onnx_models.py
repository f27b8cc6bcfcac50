"""Small ONNX test models built with onnx.helper (no downloads).

Every model pins ``opset 21`` (plus the QONNX domain where used) and ``ir_version 10``, which
onnxruntime 1.31+ accepts (PEERS.md). Weights are seeded random numbers: only their shapes and
types matter to the importer; the float models also run in onnxruntime. The hand derivations of
the expected layers and MAC counts are in the docstrings of tests/test_onnx_import.py.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

QONNX = "qonnx.custom_op.general"


def _rng():
    return np.random.default_rng(7)


def finish(nodes, inputs, outputs, inits, domains=(), name="g") -> onnx.ModelProto:
    graph = h.make_graph(nodes, name, inputs, outputs, inits)
    opsets = [h.make_opsetid("", 21), *(h.make_opsetid(d, 1) for d in domains)]
    model = h.make_model(graph, opset_imports=opsets)
    model.ir_version = 10
    return model


def f32(name, *shape, rng=None):
    rng = rng or _rng()
    return nh.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name)


def scalar(name, value, dtype=np.float32):
    return nh.from_array(np.array(value, dtype=dtype), name)


def vi(name, shape, elem=T.FLOAT):
    return h.make_tensor_value_info(name, elem, shape)


def _bn(prefix, c, x, y, rng):
    inits = [
        nh.from_array((rng.random(c) + 0.5).astype(np.float32), f"{prefix}_s"),
        nh.from_array(rng.standard_normal(c).astype(np.float32) * 0.1, f"{prefix}_b"),
        nh.from_array(rng.standard_normal(c).astype(np.float32) * 0.1, f"{prefix}_m"),
        nh.from_array((rng.random(c) + 0.5).astype(np.float32), f"{prefix}_v"),
    ]
    node = h.make_node(
        "BatchNormalization", [x, *(t.name for t in inits)], [y], name=prefix, epsilon=1e-5
    )
    return node, inits


def resnet_block(batch="N") -> onnx.ModelProto:
    """x[N,8,16,16] -> conv1 (8->16, 3x3, s2, p1) -> bn1 -> relu1 -> conv2 (16->16, 3x3, p1)
    -> bn2 -> add(+ proj: 1x1 s2 conv 8->16 of x) -> relu -> maxpool 2x2 s2 -> y[N,16,4,4]."""
    rng = _rng()
    bn1, i1 = _bn("bn1", 16, "c1", "b1", rng)
    bn2, i2 = _bn("bn2", 16, "c2", "b2", rng)
    nodes = [
        h.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", kernel_shape=[3, 3],
                    strides=[2, 2], pads=[1, 1, 1, 1]),
        bn1,
        h.make_node("Relu", ["b1"], ["r1"], name="relu1"),
        h.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        bn2,
        h.make_node("Conv", ["x", "wp", "bp"], ["p"], name="proj", strides=[2, 2]),
        h.make_node("Add", ["b2", "p"], ["s"], name="add"),
        h.make_node("Relu", ["s"], ["r2"], name="relu2"),
        h.make_node("MaxPool", ["r2"], ["y"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
    ]  # fmt: skip
    inits = [
        f32("w1", 16, 8, 3, 3, rng=rng), f32("w2", 16, 16, 3, 3, rng=rng),
        f32("wp", 16, 8, 1, 1, rng=rng), f32("bp", 16, rng=rng), *i1, *i2,
    ]  # fmt: skip
    return finish(nodes, [vi("x", [batch, 8, 16, 16])], [vi("y", [batch, 16, 4, 4])], inits)


def depthwise_separable() -> onnx.ModelProto:
    """x[1,16,14,14] -> dw (3x3, group 16, s2, SAME_UPPER) -> relu6 (Clip) -> pw (1x1, 16->32)
    -> HardSwish -> maxpool 2x2 s2 ceil_mode -> global average pool -> flatten
    -> Gemm (transB, 32->10) -> y[1,10]."""
    rng = _rng()
    nodes = [
        h.make_node("Conv", ["x", "wd"], ["d"], name="dw", group=16, kernel_shape=[3, 3],
                    strides=[2, 2], auto_pad="SAME_UPPER"),
        h.make_node("Clip", ["d", "lo", "hi"], ["d6"], name="relu6"),
        h.make_node("Conv", ["d6", "wpw"], ["p"], name="pw"),
        h.make_node("HardSwish", ["p"], ["ph"], name="hswish"),
        h.make_node("MaxPool", ["ph"], ["mp"], name="pool", kernel_shape=[2, 2],
                    strides=[2, 2], ceil_mode=1),
        h.make_node("GlobalAveragePool", ["mp"], ["g"], name="gap"),
        h.make_node("Flatten", ["g"], ["f"], name="flatten"),
        h.make_node("Gemm", ["f", "wfc", "bfc"], ["y"], name="fc", transB=1),
    ]  # fmt: skip
    inits = [
        f32("wd", 16, 1, 3, 3, rng=rng), scalar("lo", 0.0), scalar("hi", 6.0),
        f32("wpw", 32, 16, 1, 1, rng=rng), f32("wfc", 10, 32, rng=rng), f32("bfc", 10, rng=rng),
    ]  # fmt: skip
    return finish(nodes, [vi("x", [1, 16, 14, 14])], [vi("y", [1, 10])], inits)


def attention_block() -> onnx.ModelProto:
    """Multi-query attention, S=16 tokens, D=32, 4 query heads of 8, one shared K/V head:
    q = x Wq + bq (32->32), k = x Wk (32->8), v = x Wv (32->8); q -> [N,4,16,8],
    k -> [N,1,8,16] (K^T), v -> [N,1,16,8]; scores = q @ k^T (broadcast over the heads)
    / sqrt(8) -> softmax -> context = p @ v -> [N,16,32] -> o = ctx Wo + bo -> o + x
    -> LayerNormalization -> flatten rows [N*16, 32] -> Gemm(transB) 32->10 -> y[N*16,10]."""
    rng = _rng()
    shape = lambda name, dims: nh.from_array(np.array(dims, dtype=np.int64), name)  # noqa: E731
    nodes = [
        h.make_node("MatMul", ["x", "wq"], ["q0"], name="q"),
        h.make_node("Add", ["q0", "bq"], ["q1"], name="q_bias"),
        h.make_node("MatMul", ["x", "wk"], ["k0"], name="k"),
        h.make_node("MatMul", ["x", "wv"], ["v0"], name="v"),
        h.make_node("Reshape", ["q1", "s_q"], ["q2"], name="q_split"),
        h.make_node("Transpose", ["q2"], ["q3"], name="q_heads", perm=[0, 2, 1, 3]),
        h.make_node("Reshape", ["k0", "s_kv"], ["k2"], name="k_split"),
        h.make_node("Transpose", ["k2"], ["k3"], name="k_t", perm=[0, 2, 3, 1]),
        h.make_node("Reshape", ["v0", "s_kv"], ["v2"], name="v_split"),
        h.make_node("Transpose", ["v2"], ["v3"], name="v_heads", perm=[0, 2, 1, 3]),
        h.make_node("MatMul", ["q3", "k3"], ["sc"], name="scores"),
        h.make_node("Div", ["sc", "sqrt_d"], ["sc2"], name="scale"),
        h.make_node("Softmax", ["sc2"], ["p"], name="softmax", axis=-1),
        h.make_node("MatMul", ["p", "v3"], ["c"], name="context"),
        h.make_node("Transpose", ["c"], ["c2"], name="merge_t", perm=[0, 2, 1, 3]),
        h.make_node("Reshape", ["c2", "s_merge"], ["c3"], name="merge"),
        h.make_node("MatMul", ["c3", "wo"], ["o0"], name="out"),
        h.make_node("Add", ["o0", "bo"], ["o1"], name="out_bias"),
        h.make_node("Add", ["o1", "x"], ["r"], name="residual"),
        h.make_node("LayerNormalization", ["r", "ln_g", "ln_b"], ["n"], name="ln", axis=-1),
        h.make_node("Reshape", ["n", "s_rows"], ["n2"], name="rows"),
        h.make_node("Gemm", ["n2", "wc"], ["y"], name="cls", transB=1),
    ]
    inits = [
        f32("wq", 32, 32, rng=rng), f32("bq", 32, rng=rng), f32("wk", 32, 8, rng=rng),
        f32("wv", 32, 8, rng=rng), f32("wo", 32, 32, rng=rng), f32("bo", 32, rng=rng),
        nh.from_array(np.ones(32, np.float32), "ln_g"), nh.from_array(np.zeros(32, np.float32), "ln_b"),
        f32("wc", 10, 32, rng=rng), scalar("sqrt_d", np.sqrt(8.0)),
        shape("s_q", [0, 16, 4, 8]), shape("s_kv", [0, 16, 1, 8]), shape("s_merge", [0, 16, 32]),
        shape("s_rows", [-1, 32]),
    ]  # fmt: skip
    return finish(nodes, [vi("x", ["N", 16, 32])], [vi("y", ["N*16", 10])], inits)


def _q(name, x, y, scale, zp):
    return h.make_node("QuantizeLinear", [x, scale, zp], [y], name=name)


def _dq(name, x, y, scale, zp=None):
    return h.make_node("DequantizeLinear", [x, scale] + ([zp] if zp else []), [y], name=name)


def _int(name, shape, dtype, rng, lo=-8, hi=8):
    return nh.from_array(rng.integers(lo, hi, size=shape).astype(dtype), name)


def _int4(name, shape, signed, rng):
    vals = rng.integers(-8 if signed else 0, 8 if signed else 16, size=shape)
    return h.make_tensor(name, T.INT4 if signed else T.UINT4, shape, vals.reshape(-1).tolist())


def qdq_model(zp_type=T.UINT8) -> onnx.ModelProto:
    """QDQ (QuantizeLinear/DequantizeLinear pairs):
    x[1,3,8,8] -Q uint8/DQ-> conv1 (3->4, 3x3, p1; W int8, bias int32 via DQ) -> relu
    -Q uint8/DQ-> conv2 (4->4, 1x1; W int4) -Q uint8/DQ-> conv3 (4->4, 3x3, p1; W int8)
    -Q int8/DQ-> flatten -> MatMul fc (256->10; W int8) -> y[1,10] (float, no output Q).
    ``zp_type`` is the type of the first activation quantizer (float8 for a bad-input test)."""
    rng = _rng()
    nodes = [
        _q("x_q", "x", "xq", "s", "zp_u8" if zp_type == T.UINT8 else "zp_bad"),
        _dq("x_dq", "xq", "xd", "s", "zp_u8" if zp_type == T.UINT8 else "zp_bad"),
        _dq("w1_dq", "w1", "w1d", "s"),
        _dq("b1_dq", "b1", "b1d", "s"),
        h.make_node("Conv", ["xd", "w1d", "b1d"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        _q("c1_q", "r1", "c1q", "s", "zp_u8"),
        _dq("c1_dq", "c1q", "c1d", "s", "zp_u8"),
        _dq("w2_dq", "w2", "w2d", "s"),
        h.make_node("Conv", ["c1d", "w2d"], ["c2"], name="conv2"),
        _q("c2_q", "c2", "c2q", "s", "zp_u8"),
        _dq("c2_dq", "c2q", "c2d", "s", "zp_u8"),
        _dq("w3_dq", "w3", "w3d", "s"),
        h.make_node("Conv", ["c2d", "w3d"], ["c3"], name="conv3", pads=[1, 1, 1, 1]),
        _q("c3_q", "c3", "c3q", "s", "zp_i8"),
        _dq("c3_dq", "c3q", "c3d", "s", "zp_i8"),
        h.make_node("Flatten", ["c3d"], ["f"], name="flatten"),
        _dq("wfc_dq", "wfc", "wfcd", "s"),
        h.make_node("MatMul", ["f", "wfcd"], ["y"], name="fc"),
    ]
    inits = [
        scalar("s", 0.05), scalar("zp_u8", 128, np.uint8), scalar("zp_i8", 0, np.int8),
        _int("w1", (4, 3, 3, 3), np.int8, rng), _int("b1", (4,), np.int32, rng),
        _int4("w2", (4, 4, 1, 1), True, rng), _int("w3", (4, 4, 3, 3), np.int8, rng),
        _int("wfc", (256, 10), np.int8, rng),
    ]  # fmt: skip
    if zp_type != T.UINT8:
        inits.append(h.make_tensor("zp_bad", zp_type, [], [0.0]))
    return finish(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", [1, 10])], inits)


def qoperator_model() -> onnx.ModelProto:
    """QOperator: x[1,4,6,6] float -QuantizeLinear uint8-> QLinearConv (4->8, 3x3, no pad;
    W int8; y uint8) -> Flatten [1,128] -> QLinearMatMul (128->16; W int8; y uint8)
    -> MatMulInteger (16->4; W int8; int32 out) -> Cast float -> y[1,4]."""
    rng = _rng()
    nodes = [
        _q("x_q", "x", "xq", "s", "zp_u8"),
        h.make_node("QLinearConv", ["xq", "s", "zp_u8", "w1", "s", "zp_i8", "s", "zp_u8"],
                    ["c1"], name="qconv", kernel_shape=[3, 3]),
        h.make_node("Flatten", ["c1"], ["f"], name="flatten"),
        h.make_node("QLinearMatMul", ["f", "s", "zp_u8", "w2", "s", "zp_i8", "s", "zp_u8"],
                    ["m1"], name="qmatmul"),
        h.make_node("MatMulInteger", ["m1", "w3", "zp_u8", "zp_i8"], ["m2"], name="imatmul"),
        h.make_node("Cast", ["m2"], ["y"], name="to_float", to=T.FLOAT),
    ]  # fmt: skip
    inits = [
        scalar("s", 0.05), scalar("zp_u8", 128, np.uint8), scalar("zp_i8", 0, np.int8),
        _int("w1", (8, 4, 3, 3), np.int8, rng), _int("w2", (128, 16), np.int8, rng),
        _int("w3", (16, 4), np.int8, rng),
    ]  # fmt: skip
    return finish(nodes, [vi("x", [1, 4, 6, 6])], [vi("y", [1, 4])], inits)


def _quant(name, x, y, bits, signed=1, domain=QONNX):
    return h.make_node("Quant", [x, "qs", "qz", bits], [y], name=name, domain=domain,
                       signed=signed, narrow=0, rounding_mode="ROUND")  # fmt: skip


def _bipolar(name, x, y, domain=QONNX):
    return h.make_node("BipolarQuant", [x, "qs"], [y], name=name, domain=domain)


def qonnx_model(domain=QONNX) -> onnx.ModelProto:
    """QONNX (Quant / BipolarQuant nodes, bit-widths as inputs):
    x[1,3,8,8] -Quant 8 signed-> conv1 (3->8, 3x3, p1; W Quant 8 signed) -> relu
    -Quant 4 unsigned-> conv2 (8->8, 3x3, p1; W Quant 4 signed) -> bn -BipolarQuant->
    conv3 (8->16, 1x1; W BipolarQuant) -> relu -Quant 2 unsigned-> maxpool 2x2 s2 -> flatten
    -> MatMul fc (256->10; W Quant 2 signed) -> y[1,10]."""
    rng = _rng()
    bn, bn_inits = _bn("bn2", 8, "c2", "b2", rng)
    nodes = [
        _quant("x_q", "x", "xq", "bits8", domain=domain),
        _quant("w1_q", "w1", "w1q", "bits8", domain=domain),
        h.make_node("Conv", ["xq", "w1q"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        _quant("a1_q", "r1", "a1", "bits4", signed=0, domain=domain),
        _quant("w2_q", "w2", "w2q", "bits4", domain=domain),
        h.make_node("Conv", ["a1", "w2q"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        bn,
        _bipolar("a2_q", "b2", "a2", domain=domain),
        _bipolar("w3_q", "w3", "w3q", domain=domain),
        h.make_node("Conv", ["a2", "w3q"], ["c3"], name="conv3"),
        h.make_node("Relu", ["c3"], ["r3"], name="relu3"),
        _quant("a3_q", "r3", "a3", "bits2", signed=0, domain=domain),
        h.make_node("MaxPool", ["a3"], ["mp"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("Flatten", ["mp"], ["f"], name="flatten"),
        _quant("wfc_q", "wfc", "wfcq", "bits2", domain=domain),
        h.make_node("MatMul", ["f", "wfcq"], ["y"], name="fc"),
    ]
    inits = [
        scalar("qs", 0.1), scalar("qz", 0.0), scalar("bits8", 8.0), scalar("bits4", 4.0),
        scalar("bits2", 2.0), f32("w1", 8, 3, 3, 3, rng=rng), f32("w2", 8, 8, 3, 3, rng=rng),
        f32("w3", 16, 8, 1, 1, rng=rng), f32("wfc", 256, 10, rng=rng), *bn_inits,
    ]  # fmt: skip
    return finish(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", [1, 10])], inits, domains=[domain])


def with_unknown_ops() -> onnx.ModelProto:
    """x[1,8] -> MatMul fc (8->4) -> TopK (k=2) and a custom-domain op: neither is known."""
    rng = _rng()
    nodes = [
        h.make_node("MatMul", ["x", "w"], ["m"], name="fc"),
        h.make_node("TopK", ["m", "k"], ["v", "i"], name="topk"),
        h.make_node("Frobnicate", ["v"], ["y"], name="frob", domain="com.example"),
    ]
    inits = [f32("w", 8, 4, rng=rng), nh.from_array(np.array([2], np.int64), "k")]
    return finish(
        nodes, [vi("x", [1, 8])], [vi("y", [1, 2]), vi("i", [1, 2], T.INT64)], inits,
        domains=["com.example"],
    )  # fmt: skip


def save(model: onnx.ModelProto, path) -> str:
    onnx.save(model, str(path))
    return str(path)


def qdq_matmul(act_type) -> onnx.ModelProto:
    """x[1,8] -Q act_type/DQ-> MatMul (8->4; W int8 via DQ) -> y[1,4]: one activation type."""
    rng = _rng()
    nodes = [
        _q("x_q", "x", "xq", "s", "zp"),
        _dq("x_dq", "xq", "xd", "s", "zp"),
        _dq("w_dq", "w", "wd", "s"),
        h.make_node("MatMul", ["xd", "wd"], ["y"], name="fc"),
    ]
    inits = [scalar("s", 0.05), h.make_tensor("zp", act_type, [], [0]),
             _int("w", (8, 4), np.int8, rng)]  # fmt: skip
    return finish(nodes, [vi("x", [1, 8])], [vi("y", [1, 4])], inits)


# ------------------------------------------- float models for onnxruntime's own quantizer


def _finish17(nodes, inputs, outputs, inits, opset=17):
    """opset 17 (below 21, onnxruntime's quantizer writes com.microsoft Q/DQ for int4/int16)."""
    graph = h.make_graph(nodes, "g", inputs, outputs, inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 10
    return model


def ort_cnn() -> onnx.ModelProto:
    """x[1,8,8,8] -> conv1 (8->8 3x3 p1, bias) -> relu1 -> dw (3x3 p1 group 8) -> pw (1x1 8->8)
    -> add (+ x) -> relu2 -> sig (Sigmoid) -> mul (relu2 * sig) -> lrelu (LeakyRelu)
    -> cat (Concat lrelu, relu2 on channels: 16) -> ap (AveragePool 2x2 s2) -> gap
    -> flat -> fc (Gemm transB 16->10, bias) -> y[1,10]."""
    rng = np.random.default_rng(11)
    nodes = [
        h.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        h.make_node("Conv", ["r1", "wd", "bd"], ["d"], name="dw", group=8, pads=[1, 1, 1, 1]),
        h.make_node("Conv", ["d", "wp", "bp"], ["p"], name="pw"),
        h.make_node("Add", ["p", "x"], ["s"], name="add"),
        h.make_node("Relu", ["s"], ["r2"], name="relu2"),
        h.make_node("Sigmoid", ["r2"], ["sg"], name="sig"),
        h.make_node("Mul", ["r2", "sg"], ["sw"], name="mul"),
        h.make_node("LeakyRelu", ["sw"], ["lr"], name="lrelu", alpha=0.1),
        h.make_node("Concat", ["lr", "r2"], ["cat"], name="cat", axis=1),
        h.make_node("AveragePool", ["cat"], ["ap"], name="ap", kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("GlobalAveragePool", ["ap"], ["g"], name="gap"),
        h.make_node("Flatten", ["g"], ["f"], name="flat"),
        h.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1),
    ]  # fmt: skip
    inits = [
        f32("w1", 8, 8, 3, 3, rng=rng), f32("b1", 8, rng=rng), f32("wd", 8, 1, 3, 3, rng=rng),
        f32("bd", 8, rng=rng), f32("wp", 8, 8, 1, 1, rng=rng), f32("bp", 8, rng=rng),
        f32("wf", 10, 16, rng=rng), f32("bf", 10, rng=rng),
    ]  # fmt: skip
    return _finish17(nodes, [vi("x", [1, 8, 8, 8])], [vi("y", [1, 10])], inits)


def ort_attention() -> onnx.ModelProto:
    """x[1,8,16], 2 heads of 8: q, k, v = x W (16->16 each) -> heads [1,2,8,8] (k as K^T)
    -> scores = q @ k^T -> * 0.5 -> softmax -> context = p @ v -> merge [1,8,16]
    -> out (16->16) -> res (+ x) -> ln (LayerNormalization) -> y[1,8,16]."""
    rng = np.random.default_rng(12)
    shape = lambda name, dims: nh.from_array(np.array(dims, dtype=np.int64), name)  # noqa: E731
    nodes = [
        h.make_node("MatMul", ["x", "wq"], ["q0"], name="q"),
        h.make_node("MatMul", ["x", "wk"], ["k0"], name="k"),
        h.make_node("MatMul", ["x", "wv"], ["v0"], name="v"),
        h.make_node("Reshape", ["q0", "s4"], ["q1"], name="q_split"),
        h.make_node("Transpose", ["q1"], ["q2"], name="q_heads", perm=[0, 2, 1, 3]),
        h.make_node("Reshape", ["k0", "s4"], ["k1"], name="k_split"),
        h.make_node("Transpose", ["k1"], ["k2"], name="k_t", perm=[0, 2, 3, 1]),
        h.make_node("Reshape", ["v0", "s4"], ["v1"], name="v_split"),
        h.make_node("Transpose", ["v1"], ["v2"], name="v_heads", perm=[0, 2, 1, 3]),
        h.make_node("MatMul", ["q2", "k2"], ["sc"], name="scores"),
        h.make_node("Mul", ["sc", "half"], ["sc2"], name="scale"),
        h.make_node("Softmax", ["sc2"], ["pr"], name="softmax", axis=-1),
        h.make_node("MatMul", ["pr", "v2"], ["c"], name="context"),
        h.make_node("Transpose", ["c"], ["c2"], name="merge_t", perm=[0, 2, 1, 3]),
        h.make_node("Reshape", ["c2", "s3"], ["c3"], name="merge"),
        h.make_node("MatMul", ["c3", "wo"], ["o"], name="out"),
        h.make_node("Add", ["o", "x"], ["r"], name="res"),
        h.make_node("LayerNormalization", ["r", "g", "b"], ["y"], name="ln", axis=-1),
    ]
    inits = [
        f32("wq", 16, 16, rng=rng), f32("wk", 16, 16, rng=rng), f32("wv", 16, 16, rng=rng),
        f32("wo", 16, 16, rng=rng), scalar("half", 0.5), shape("s4", [1, 8, 2, 8]),
        shape("s3", [1, 8, 16]), nh.from_array(np.ones(16, np.float32), "g"),
        nh.from_array(np.zeros(16, np.float32), "b"),
    ]  # fmt: skip
    return _finish17(nodes, [vi("x", [1, 8, 16])], [vi("y", [1, 8, 16])], inits)


def ort_quantize(model, path, fmt="QOperator", per_channel=False, act="QUInt8", weight="QInt8"):
    """``model`` quantized by onnxruntime's ``quantize_static`` (two random calibration
    samples) into ``path``; ``fmt`` "QOperator", "QDQ" or "dynamic" (``quantize_dynamic``)."""
    import logging
    import warnings

    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )  # fmt: skip

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            dims = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
            self.samples = iter(
                [
                    {
                        i.name: rng.standard_normal(d).astype(np.float32)
                        for i, d in zip(model.graph.input, dims)
                    }
                    for _ in range(2)
                ]  # fmt: skip
            )

        def get_next(self):
            return next(self.samples, None)

    src = str(path) + ".float.onnx"
    onnx.save(model, src)
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's "consider pre-processing"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "dynamic":
            quantize_dynamic(src, str(path), per_channel=per_channel,
                             weight_type=getattr(QuantType, weight))  # fmt: skip
        else:
            quantize_static(src, str(path), Reader(), quant_format=getattr(QuantFormat, fmt),
                            per_channel=per_channel, activation_type=getattr(QuantType, act),
                            weight_type=getattr(QuantType, weight))  # fmt: skip
    return str(path)
