"""The ONNX entry points of accelsim.reference against onnxruntime, onnx.reference and the
onnx package's own node test cases, bit for bit.

Peers: onnxruntime's CPU provider (MLAS) and ``onnx.reference.ReferenceEvaluator``. Their
requantization differs in one place (float32 vs float64 product, see
``accelsim.reference.onnx_ops``); each is compared with the matching ``precision``.
PEERS.md trap: onnxruntime's uint8 x int8 kernels on AVX2 without VNNI sum pairs of
products in int16 with saturation, so u8 x s8 cases use weights in [-64, 63].
"""

from __future__ import annotations

import functools
import importlib

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

import accelsim.reference as R  # noqa: E402

_TP = {
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.uint16): TensorProto.UINT16,
    np.dtype(np.int16): TensorProto.INT16,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.float32): TensorProto.FLOAT,
}
_NARROW = {(4, True): TensorProto.INT4, (4, False): TensorProto.UINT4}


def _tensor(name, value, bits=None, signed=None):
    value = np.asarray(value)
    if bits is not None and (bits, signed) in _NARROW:
        return helper.make_tensor(
            name, _NARROW[(bits, signed)], list(value.shape), value.reshape(-1).tolist()
        )
    return numpy_helper.from_array(value, name)


def _model(nodes, feeds, initializers, out_type):
    inputs = [
        helper.make_tensor_value_info(name, _TP[arr.dtype], list(arr.shape)) for name, arr in feeds
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        inputs,
        [helper.make_tensor_value_info("y", out_type, None)],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def _run_both(model, feeds):
    """(onnxruntime output, onnx.reference output)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    fd = dict(feeds)
    return sess.run(None, fd)[0], ReferenceEvaluator(model).run(None, fd)[0]


def _mismatches(a, b) -> int:
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    return int(np.count_nonzero(a != b))


def _ints(rng, dtype, shape, lo=None, hi=None):
    info = np.iinfo(dtype)
    lo = info.min if lo is None else lo
    hi = info.max if hi is None else hi
    return rng.integers(lo, hi + 1, shape).astype(dtype)


def _weight_range(a_dtype, w_dtype):
    # PEERS.md: onnxruntime u8 x s8 saturates int16 pair sums; keep |w| small there
    if np.dtype(a_dtype) == np.uint8 and np.dtype(w_dtype) == np.int8:
        return -64, 63
    return None, None


TYPE_PAIRS = [(np.uint8, np.uint8), (np.int8, np.int8), (np.uint8, np.int8)]


# --------------------------------------------------------------------------- MatMulInteger


@pytest.mark.parametrize("a_dtype,b_dtype", TYPE_PAIRS)
@pytest.mark.parametrize("seed", range(4))
def test_matmul_integer_matches_onnxruntime(a_dtype, b_dtype, seed):
    rng = np.random.default_rng(100 + seed)
    m, k, n = (int(v) for v in rng.integers(1, 48, 3))
    batch = (2,) if seed == 3 else ()
    a = _ints(rng, a_dtype, batch + (m, k))
    b = _ints(rng, b_dtype, (k, n), *_weight_range(a_dtype, b_dtype))
    azp = _ints(rng, a_dtype, ())
    bzp = _ints(rng, b_dtype, (n,) if seed % 2 else (), *_weight_range(a_dtype, b_dtype))
    model = _model(
        [helper.make_node("MatMulInteger", ["a", "b", "azp", "bzp"], ["y"])],
        [("a", a), ("b", b)],
        [_tensor("azp", azp), _tensor("bzp", bzp)],
        TensorProto.INT32,
    )
    got_ort, got_ref = _run_both(model, [("a", a), ("b", b)])
    mine = R.matmul_integer(a, b, azp, bzp)
    assert _mismatches(mine, got_ort) == 0
    assert _mismatches(mine, got_ref) == 0


# --------------------------------------------------------------------------- QLinearMatMul


@pytest.mark.parametrize("a_dtype,b_dtype", TYPE_PAIRS)
@pytest.mark.parametrize("seed", range(4))
def test_qlinear_matmul_matches_onnxruntime(a_dtype, b_dtype, seed):
    rng = np.random.default_rng(200 + seed)
    m, k, n = (int(v) for v in rng.integers(1, 48, 3))
    wlo, whi = _weight_range(a_dtype, b_dtype)
    a = _ints(rng, a_dtype, (m, k))
    b = _ints(rng, b_dtype, (k, n), wlo, whi)
    a_scale = np.float32(rng.uniform(0.001, 0.05))
    per_column = seed % 2 == 1
    b_scale = rng.uniform(0.001, 0.05, n if per_column else ()).astype(np.float32)
    a_zp = _ints(rng, a_dtype, ())
    b_zp = np.zeros(n, b_dtype) if per_column else _ints(rng, b_dtype, (), wlo, whi).astype(b_dtype)
    y_scale = np.float32(rng.uniform(0.05, 0.5))
    y_zp = _ints(rng, a_dtype, ())
    names = ["a", "as", "azp", "b", "bs", "bzp", "ys", "yzp"]
    model = _model(
        [helper.make_node("QLinearMatMul", names, ["y"])],
        [("a", a)],
        [
            _tensor("as", np.array(a_scale)),
            _tensor("azp", a_zp),
            _tensor("b", b),
            _tensor("bs", b_scale),
            _tensor("bzp", b_zp),
            _tensor("ys", np.array(y_scale)),
            _tensor("yzp", y_zp),
        ],
        _TP[np.dtype(a_dtype)],
    )
    got_ort, got_ref = _run_both(model, [("a", a)])
    args = (a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)
    assert _mismatches(R.qlinear_matmul(*args), got_ort) == 0
    assert _mismatches(R.qlinear_matmul(*args, precision="float64"), got_ref) == 0


# --------------------------------------------------------------------------- Quantize / Dequantize

Q_TYPES = [(8, False), (8, True), (16, False), (16, True), (4, False), (4, True)]


def _q_output(bits, signed):
    """Output node chain: narrow types are cast to int8/uint8 so numpy can hold them."""
    if (bits, signed) in _NARROW:
        return TensorProto.INT8 if signed else TensorProto.UINT8, True
    return _TP[R.storage_dtype(bits, signed)], False


@pytest.mark.parametrize("bits,signed", Q_TYPES)
@pytest.mark.parametrize("per_axis", [False, True])
@pytest.mark.parametrize("seed", range(2))
def test_quantize_linear_matches_onnxruntime(bits, signed, per_axis, seed):
    rng = np.random.default_rng(300 + seed + 10 * bits)
    shape = tuple(int(v) for v in rng.integers(1, 9, 3))
    lo, hi = R.int_range(bits, signed)
    if per_axis:
        scale = rng.uniform(0.01, 2.0, shape[1]).astype(np.float32)
        zp = rng.integers(lo, hi + 1, shape[1])
    else:
        scale = np.array(rng.uniform(0.01, 2.0), np.float32)
        zp = np.array(rng.integers(lo, hi + 1))
    sc = scale if per_axis else scale.reshape(())
    codes = rng.integers(lo - 5, hi + 6, shape)
    # exact ties (k + 1/2) * scale where representable, plus random and out-of-range values
    x = (codes + rng.choice([0.5, -0.5, 0.25, 0.0], shape)) * np.broadcast_to(
        sc.reshape((1, -1, 1)) if per_axis else sc, shape
    )
    x = x.astype(np.float32)
    x.reshape(-1)[:2] = [3e9, -3e9]
    dtype = R.storage_dtype(bits, signed)
    out_type, cast = _q_output(bits, signed)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q" if cast else "y"], axis=1)]
    if cast:
        nodes.append(helper.make_node("Cast", ["q"], ["y"], to=out_type))
    model = _model(
        nodes,
        [("x", x)],
        [_tensor("s", scale), _tensor("zp", zp.astype(dtype), bits, signed)],
        out_type,
    )
    with np.errstate(invalid="ignore"):
        got_ort, got_ref = _run_both(model, [("x", x)])
    mine = R.quantize_linear(x, scale, zp.astype(dtype), axis=1, bits=bits, signed=signed)
    assert _mismatches(mine, got_ort) == 0
    # onnx.reference casts x / scale to int32 before clamping: undefined for +-3e9 / scale
    assert _mismatches(mine.reshape(-1)[2:], got_ref.astype(dtype).reshape(-1)[2:]) == 0


@pytest.mark.parametrize("bits,signed", Q_TYPES)
@pytest.mark.parametrize("per_axis", [False, True])
def test_dequantize_linear_matches_onnxruntime(bits, signed, per_axis):
    rng = np.random.default_rng(400 + bits + signed)
    shape = (3, 5, 4)
    lo, hi = R.int_range(bits, signed)
    dtype = R.storage_dtype(bits, signed)
    q = rng.integers(lo, hi + 1, shape).astype(dtype)
    q.reshape(-1)[:2] = [lo, hi]
    if per_axis:
        scale = rng.uniform(0.001, 3.0, shape[1]).astype(np.float32)
        zp = rng.integers(lo, hi + 1, shape[1]).astype(dtype)
    else:
        scale = np.array(rng.uniform(0.001, 3.0), np.float32)
        zp = np.array(rng.integers(lo, hi + 1)).astype(dtype)
    model = _model(
        [helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], axis=1)],
        [],
        [_tensor("q", q, bits, signed), _tensor("s", scale), _tensor("zp", zp, bits, signed)],
        TensorProto.FLOAT,
    )
    got_ort, got_ref = _run_both(model, [])
    mine = R.dequantize_linear(q, scale, zp, axis=1, bits=bits, signed=signed)
    assert _mismatches(mine, got_ort) == 0
    assert _mismatches(mine, got_ref) == 0


# --------------------------------------------------------------------------- convolutions

CONV_CASES = [
    # (x shape NCHW, out channels, kernel, strides, pads, dilations, group)
    ((1, 3, 9, 9), 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((2, 4, 10, 7), 6, (3, 2), (2, 1), (0, 1, 2, 0), (1, 1), 2),
    ((1, 4, 11, 11), 4, (3, 3), (2, 2), (2, 2, 2, 2), (2, 2), 4),
    ((1, 5, 6, 8), 3, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("x_dtype,w_dtype", [(np.uint8, np.uint8), (np.uint8, np.int8)])
def test_conv_integer_matches_onnxruntime(case, x_dtype, w_dtype):
    xshape, o, kern, strides, pads, dil, group = CONV_CASES[case]
    rng = np.random.default_rng(500 + case)
    wlo, whi = _weight_range(x_dtype, w_dtype)
    x = _ints(rng, x_dtype, xshape)
    w = _ints(rng, w_dtype, (o, xshape[1] // group) + kern, wlo, whi)
    xzp = _ints(rng, x_dtype, ())
    wzp = _ints(rng, w_dtype, (), wlo, whi)
    attrs = dict(strides=list(strides), pads=list(pads), dilations=list(dil), group=group)
    model = _model(
        [helper.make_node("ConvInteger", ["x", "w", "xzp", "wzp"], ["y"], **attrs)],
        [("x", x)],
        [_tensor("w", w), _tensor("xzp", xzp), _tensor("wzp", wzp)],
        TensorProto.INT32,
    )
    try:
        got_ort, got_ref = _run_both(model, [("x", x)])
    except Exception as err:  # onnxruntime implements only some type pairs
        if "NOT_IMPLEMENTED" in str(err) or "Could not find an implementation" in str(err):
            pytest.skip(f"onnxruntime has no ConvInteger for this type pair: {err}")
        raise
    mine = R.conv_integer(x, w, xzp, wzp, **attrs)
    assert _mismatches(mine, got_ort) == 0
    assert _mismatches(mine, got_ref) == 0


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("x_dtype,w_dtype", TYPE_PAIRS)
@pytest.mark.parametrize("per_channel", [False, True])
def test_qlinear_conv_matches_onnxruntime(case, x_dtype, w_dtype, per_channel):
    xshape, o, kern, strides, pads, dil, group = CONV_CASES[case]
    rng = np.random.default_rng(600 + case + 7 * per_channel)
    wlo, whi = _weight_range(x_dtype, w_dtype)
    x = _ints(rng, x_dtype, xshape)
    w = _ints(rng, w_dtype, (o, xshape[1] // group) + kern, wlo, whi)
    x_scale = np.array(rng.uniform(0.005, 0.05), np.float32)
    w_scale = rng.uniform(0.005, 0.05, o if per_channel else ()).astype(np.float32)
    xzp = _ints(rng, x_dtype, ())
    # onnxruntime needs symmetric int8 weights (zero point 0); uint8 weights may be asymmetric
    wzp = (
        np.zeros(o if per_channel else (), w_dtype)
        if np.dtype(w_dtype) == np.int8
        else _ints(rng, w_dtype, (o,) if per_channel else ())
    )
    y_scale = np.array(rng.uniform(0.05, 0.5), np.float32)
    yzp = _ints(rng, x_dtype, ())
    bias = rng.integers(-3000, 3000, o).astype(np.int32)
    attrs = dict(strides=list(strides), pads=list(pads), dilations=list(dil), group=group)
    names = ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp", "B"]
    model = _model(
        [helper.make_node("QLinearConv", names, ["y"], **attrs)],
        [("x", x)],
        [
            _tensor("xs", x_scale),
            _tensor("xzp", xzp),
            _tensor("w", w),
            _tensor("ws", w_scale),
            _tensor("wzp", wzp),
            _tensor("ys", y_scale),
            _tensor("yzp", yzp),
            _tensor("B", bias),
        ],
        _TP[np.dtype(x_dtype)],
    )
    got_ort, got_ref = _run_both(model, [("x", x)])
    args = (x, x_scale, xzp, w, w_scale, wzp, y_scale, yzp, bias)
    assert _mismatches(R.qlinear_conv(*args, **attrs), got_ort) == 0
    assert _mismatches(R.qlinear_conv(*args, **attrs, precision="float64"), got_ref) == 0


def test_auto_pad_same_matches_onnxruntime():
    rng = np.random.default_rng(7)
    x = _ints(rng, np.uint8, (1, 2, 7, 8))
    w = _ints(rng, np.uint8, (3, 2, 3, 2))
    for auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        attrs = dict(auto_pad=auto_pad, strides=[2, 3])
        model = _model(
            [helper.make_node("ConvInteger", ["x", "w"], ["y"], **attrs)],
            [("x", x)],
            [_tensor("w", w)],
            TensorProto.INT32,
        )
        got_ort, got_ref = _run_both(model, [("x", x)])
        mine = R.conv_integer(x, w, **attrs)
        assert _mismatches(mine, got_ort) == 0, auto_pad
        assert _mismatches(mine, got_ref) == 0, auto_pad


# --------------------------------------------------------------------------- onnx node cases

_NODE_MODULES = {
    "QLinearMatMul": "qlinearmatmul",
    "QLinearConv": "qlinearconv",
    "MatMulInteger": "matmulinteger",
    "ConvInteger": "convinteger",
    "QuantizeLinear": "quantizelinear",
    "DequantizeLinear": "dequantizelinear",
}
_INT_TYPES = {
    TensorProto.UINT8: (8, False),
    TensorProto.INT8: (8, True),
    TensorProto.UINT16: (16, False),
    TensorProto.INT16: (16, True),
    TensorProto.UINT4: (4, False),
    TensorProto.INT4: (4, True),
    TensorProto.UINT2: (2, False),
    TensorProto.INT2: (2, True),
}


@functools.lru_cache(maxsize=1)
def _node_cases():
    """The onnx package's node test cases for our operators, collected once per process.

    The wheel ships the generators (``onnx.backend.test.case.node.<op>``), not the data:
    each class's ``export*`` static methods build the cases and hand them to ``expect``.
    We call them with the module's ``expect`` replaced by a collector (seeding numpy as
    the onnx exporter does) and keep (name, node, inputs, outputs).
    """
    from onnx.backend.test.case.base import Base

    cases = []
    for op, mod_name in _NODE_MODULES.items():
        mod = importlib.import_module(f"onnx.backend.test.case.node.{mod_name}")
        found = []

        def collect(node, inputs, outputs, name, _found=found, **kwargs):
            _found.append((name, node, list(inputs), list(outputs)))

        original = mod.expect
        mod.expect = collect
        try:
            for cls in vars(mod).values():
                if isinstance(cls, type) and issubclass(cls, Base) and cls is not Base:
                    for attr in sorted(vars(cls)):
                        if attr.startswith("export"):
                            np.random.seed(0)
                            getattr(cls, attr)()
        finally:
            mod.expect = original
        cases += [c for c in found if c[1].op_type == op]
    return cases


def _as_array(value):
    """A node-case tensor as numpy, with its (bits, signed) when it is an integer code."""
    if isinstance(value, onnx.TensorProto):
        if value.data_type not in _INT_TYPES:
            return None, None
        arr = numpy_helper.to_array(value)
        bits, signed = _INT_TYPES[value.data_type]
        return arr.astype(np.int8 if signed else np.uint8), (bits, signed)
    arr = np.asarray(value)
    if arr.dtype == np.float16:
        return None, None  # float16-scale variants are out of scope
    if np.issubdtype(arr.dtype, np.integer):
        return arr, (arr.dtype.itemsize * 8, bool(np.issubdtype(arr.dtype, np.signedinteger)))
    return arr, None


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _evaluate_node_case(node, inputs):
    """Run one node case through accelsim.reference; None when out of scope."""
    arrays, types = zip(*(_as_array(v) for v in inputs), strict=True)
    if any(a is None for a in arrays):
        return None
    attrs = _attrs(node)
    op = node.op_type
    if op == "QuantizeLinear":
        x, scale = arrays[0], arrays[1]
        if len(arrays) > 2:
            bits, signed = types[2]
            zp = arrays[2]
        else:
            out_type = attrs.get("output_dtype", TensorProto.UINT8)
            if out_type not in _INT_TYPES:
                return None
            (bits, signed), zp = _INT_TYPES[out_type], None
        return R.quantize_linear(
            x,
            scale,
            zp,
            axis=attrs.get("axis", 1),
            block_size=attrs.get("block_size", 0),
            bits=bits,
            signed=signed,
        )
    if op == "DequantizeLinear":
        bits, signed = types[0]
        return R.dequantize_linear(
            *arrays,
            axis=attrs.get("axis", 1),
            block_size=attrs.get("block_size", 0),
            bits=bits,
            signed=signed,
        )
    conv_attrs = {
        k: attrs[k]
        for k in ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
        if k in attrs
    }
    if isinstance(conv_attrs.get("auto_pad"), bytes):
        conv_attrs["auto_pad"] = conv_attrs["auto_pad"].decode()
    if op == "MatMulInteger":
        return R.matmul_integer(*arrays)
    if op == "QLinearMatMul":
        return R.qlinear_matmul(*arrays, precision="float64")
    if op == "ConvInteger":
        return R.conv_integer(*arrays, **conv_attrs)
    if op == "QLinearConv":
        return R.qlinear_conv(*arrays, **conv_attrs, precision="float64")
    raise AssertionError(op)


def test_node_cases_are_collected():
    names = {c[0] for c in _node_cases()}
    for expected in (
        "test_qlinearmatmul_2D_uint8_float32",
        "test_qlinearmatmul_3D_int8_float32",
        "test_qlinearconv",
        "test_matmulinteger",
        "test_convinteger_with_padding",
        "test_quantizelinear_axis",
        "test_quantizelinear_int4",
        "test_quantizelinear_uint4",
        "test_dequantizelinear_int4",
        "test_dequantizelinear_uint4",
    ):
        assert expected in names


def _node_case_ids():
    return [c[0] for c in _node_cases()]


@pytest.mark.parametrize("name", _node_case_ids())
def test_onnx_node_case(name):
    _, node, inputs, outputs = next(c for c in _node_cases() if c[0] == name)
    got = _evaluate_node_case(node, inputs)
    if got is None:
        pytest.skip("float8/float4/float16 variants are out of scope")
    expected, _ = _as_array(outputs[0])
    expected = np.asarray(expected)
    if np.issubdtype(expected.dtype, np.integer):
        expected = expected.astype(got.dtype)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected), (got, expected)


# --------------------------------------------------------------------------- bad input


def test_onnx_ops_reject_bad_input():
    a = np.zeros((2, 3), np.uint8)
    b = np.zeros((4, 2), np.uint8)
    with pytest.raises(ValueError, match="do not chain"):
        R.matmul_integer(a, b)
    with pytest.raises(ValueError, match="outside the range"):
        R.matmul_integer(a, np.zeros((3, 2), np.uint8), 300)
    with pytest.raises(ValueError, match="finite and > 0"):
        R.quantize_linear(np.zeros(3, np.float32), np.float32(0.0))
    with pytest.raises(ValueError, match="outside the quantized range"):
        R.quantize_linear(np.zeros(3, np.float32), np.float32(1.0), np.int8(9), bits=4)
    with pytest.raises(ValueError, match="per-channel"):
        R.quantize_linear(np.zeros((2, 3), np.float32), np.ones(4, np.float32), axis=1)
    with pytest.raises(ValueError, match="outside the 4-bit"):
        R.dequantize_linear(np.array([9], np.int8), np.float32(1.0), bits=4, signed=True)
    with pytest.raises(ValueError, match="1-D and 2-D"):
        R.conv_integer(np.zeros((1, 1, 2, 2, 2), np.uint8), np.zeros((1, 1, 1, 1, 1), np.uint8))
    with pytest.raises(ValueError, match="auto_pad"):
        R.conv_integer(
            np.zeros((1, 1, 3, 3), np.uint8), np.zeros((1, 1, 1, 1), np.uint8), auto_pad="SAME"
        )


# --------------------------------------------------------------------------- compat mode


@pytest.mark.parametrize("seed", range(4))
def test_ort_u8s8_compat_mode_reproduces_onnxruntime_full_range(seed):
    """Full-range int8 weights: onnxruntime is not exact (PEERS.md), the compat mode is it."""
    rng = np.random.default_rng(700 + seed)
    m, k, n = (int(v) for v in rng.integers(8, 64, 3))
    a = _ints(rng, np.uint8, (m, k))
    b = _ints(rng, np.int8, (k, n))
    azp = _ints(rng, np.uint8, ())
    bzp = _ints(rng, np.int8, (n,) if seed % 2 else ())
    model = _model(
        [helper.make_node("MatMulInteger", ["a", "b", "azp", "bzp"], ["y"])],
        [("a", a)],
        [_tensor("b", b), _tensor("azp", azp), _tensor("bzp", bzp)],
        TensorProto.INT32,
    )
    got_ort, got_ref = _run_both(model, [("a", a)])
    exact = R.matmul_integer(a, b, azp, bzp)
    assert _mismatches(exact, got_ref) == 0
    assert _mismatches(exact, got_ort) > 0  # the trap is real on this CPU
    compat = R.matmul_integer(a, b, azp, bzp, compat="ort_u8s8_int16_pairs")
    assert _mismatches(compat, got_ort) == 0

    names = ["a", "as", "azp", "b", "bs", "bzp", "ys", "yzp"]
    scales = [np.array(0.02, np.float32), np.array(0.01, np.float32), np.array(2.5, np.float32)]
    yzp = _ints(rng, np.uint8, ())
    model = _model(
        [helper.make_node("QLinearMatMul", names, ["y"])],
        [("a", a)],
        [
            _tensor("as", scales[0]),
            _tensor("azp", azp),
            _tensor("b", b),
            _tensor("bs", scales[1]),
            _tensor("bzp", bzp),
            _tensor("ys", scales[2]),
            _tensor("yzp", yzp),
        ],
        TensorProto.UINT8,
    )
    got_ort, _ = _run_both(model, [("a", a)])
    mine = R.qlinear_matmul(
        a, scales[0], azp, b, scales[1], bzp, scales[2], yzp, compat="ort_u8s8_int16_pairs"
    )
    assert _mismatches(mine, got_ort) == 0


def test_compat_mode_rejects_other_types():
    with pytest.raises(ValueError, match="uint8 A and int8 B"):
        R.matmul_integer(
            np.zeros((2, 2), np.int8), np.zeros((2, 2), np.int8), compat="ort_u8s8_int16_pairs"
        )
    with pytest.raises(ValueError, match="compat"):
        R.matmul_integer(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.int8), compat="mlas")
