"""Traces that carry tensors (accelsim/trace.py): the .npz format, export from ONNX models,
every bad-tensor path, ``accelsim verify`` against onnxruntime, and value-aware costs
derived by hand.

Layouts (module docstring of accelsim.trace): conv weights OIHW, fc ``[out, in]``, matmul
``[count, k, n]``; conv inputs ``[samples, C, H, W]``, fc ``[samples, (tokens,) in]``.
"""

import json
import subprocess
import sys

import numpy as np
import onnx_models as om
import pytest
from conftest import ROOT
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

import accelsim
from accelsim.onnx_import import import_onnx
from accelsim.trace import load_trace, make_trace, save_trace, verify, verify_table

QUANT = "{a_bits: 8, w_bits: 8, acc_bits: 32, out_bits: 8, a_encoding: uint, w_encoding: int}"
WORKLOAD = f"""name: t
batch: 1
quant: {QUANT}
layers:
  - {{name: /blk/conv, type: conv, in_channels: 4, out_channels: 6, in_h: 5, in_w: 5, kernel: 3,
     padding: 1, groups: 2}}
  - {{name: pool, type: pool, pool: max, channels: 6, in_h: 5, in_w: 5, kernel: 5}}
  - {{name: fc, type: fc, in_features: 6, out_features: 3, tokens: 2, input_from: [pool],
     quant: {{w_bits: 4}}}}
  - {{name: mm, type: matmul, m: 2, n: 3, k: 4, count: 2}}
"""


def _rng():
    return np.random.default_rng(11)


def _wl(write):
    return accelsim.load_workload(write("t.yaml", WORKLOAD))


def _tensors(rng=None):
    rng = rng or _rng()
    return {
        "/blk/conv": {
            "weights": rng.integers(-128, 128, (6, 2, 3, 3)).astype(np.int8),
            "weights_scale": np.linspace(0.01, 0.06, 6).astype(np.float32),  # per channel
            "weights_zero_point": np.zeros(6, np.int8),
            "inputs": rng.integers(0, 256, (2, 4, 5, 5)).astype(np.uint8),
            "inputs_scale": np.float32(0.1),
            "inputs_zero_point": np.uint8(128),
            "bias": rng.integers(-100, 100, 6).astype(np.int32),
        },
        "fc": {"weights": rng.integers(-8, 8, (3, 6)).astype(np.int8)},
        "mm": {
            "weights": rng.integers(-128, 128, (2, 4, 3)).astype(np.int8),
            "inputs": rng.integers(0, 256, (1, 2, 2, 4)).astype(np.uint8),
        },
    }


# ----------------------------------------------------------------------------- the format


def test_round_trip(write, tmp_path):
    """save_trace writes the workload YAML and <stem>.npz (keys <layer>/<field>, the field
    after the last "/"); load_trace gives the same layers and bit-identical arrays."""
    wl = _wl(write)
    tensors = _tensors()
    saved = save_trace(wl, tensors, tmp_path / "out" / "trace.yaml")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["trace.npz", "trace.yaml"]
    with np.load(tmp_path / "out" / "trace.npz") as z:
        assert "/blk/conv/weights" in z.files and "mm/inputs" in z.files
    wl2, trace = load_trace(tmp_path / "out" / "trace.yaml")
    assert wl2.layers == wl.layers
    assert trace.file.endswith("trace.npz") and trace.sha256 == saved.sha256
    assert trace.layers.keys() == tensors.keys()
    for name, fields in tensors.items():
        assert trace.layers[name].keys() == fields.keys()
        for key, value in fields.items():
            got = trace.layers[name][key]
            assert got.dtype == np.asarray(value).dtype and np.array_equal(got, value)
            assert not got.flags.writeable
    # the YAML is an ordinary workload file; the .npz names the same trace
    assert accelsim.load_workload(tmp_path / "out" / "trace.yaml").layers == wl.layers
    assert load_trace(tmp_path / "out" / "trace.npz")[1].sha256 == saved.sha256


def test_simulate_with_load_traces_tuple_is_a_type_error(write, tmp_path):
    """`load_trace` returns ``(workload, trace)``; passing that pair as ``trace=`` names the
    mistake instead of failing inside the model on a tuple."""
    save_trace(_wl(write), _tensors(), tmp_path / "trace.yaml")
    pair = load_trace(tmp_path / "trace.yaml")
    arch = accelsim.load_arch(ROOT / "arch_configs" / "tpu_v1_like.yaml")
    with pytest.raises(TypeError, match=r"load_trace returns \(workload, trace\).*tuple"):
        accelsim.simulate(arch, pair[0], trace=pair)
    assert accelsim.simulate(arch, pair[0], trace=pair[1]).total["macs"] > 0


# ------------------------------------------------------------------------- ONNX export


def _init(model, name):
    return nh.to_array(next(t for t in model.graph.initializer if t.name == name))


def test_export_qoperator_and_qdq(tmp_path):
    """QOperator: the op's integer initializers with the op's scales and zero points, fc
    weights [k, n] -> [out, in]; QDQ: the DequantizeLinear inputs (int4 widened to int8), the
    activation quantizer's scale and zero point as inputs_*."""
    q = om.qoperator_model()
    _, s = import_onnx(om.save(q, tmp_path / "q.onnx"), with_tensors=True)
    assert s.tensor_notes == () and list(s.tensors) == ["qconv", "qmatmul", "imatmul"]
    conv, mm, imm = s.tensors["qconv"], s.tensors["qmatmul"], s.tensors["imatmul"]
    assert np.array_equal(conv["weights"], _init(q, "w1")) and conv["weights"].dtype == np.int8
    assert np.array_equal(mm["weights"], _init(q, "w2").T) and mm["weights"].shape == (16, 128)
    assert np.array_equal(imm["weights"], _init(q, "w3").T)
    assert conv["weights_scale"] == np.float32(0.05) and conv["weights_zero_point"] == 0
    assert conv["inputs_zero_point"] == 128 and conv["inputs_zero_point"].dtype == np.uint8
    assert conv["outputs_scale"] == np.float32(0.05) and conv["outputs_zero_point"] == 128
    assert "weights_scale" not in imm and imm["inputs_zero_point"] == 128  # MatMulInteger
    d = om.qdq_model()
    wl, s = import_onnx(om.save(d, tmp_path / "d.onnx"), with_tensors=True)
    assert list(s.tensors) == ["conv1", "conv2", "conv3", "fc"]
    assert np.array_equal(s.tensors["conv1"]["weights"], _init(d, "w1"))
    assert s.tensors["conv2"]["weights"].dtype == np.int8  # int4 in the model
    assert np.array_equal(s.tensors["conv2"]["weights"], _init(d, "w2").astype(np.int8))
    assert np.array_equal(s.tensors["fc"]["weights"], _init(d, "wfc").T)
    assert s.tensors["fc"]["inputs_zero_point"].dtype == np.int8  # behind Flatten, int8 DQ
    assert "weights_zero_point" not in s.tensors["conv1"]  # DQ without zero point: 0
    make_trace(wl, s.tensors)  # shapes and bits agree with the imported layers


def test_export_qonnx_quantizes_float_weights(tmp_path):
    """QONNX Quant: codes = clip(round_half_even(w / scale + zero_point)) in the Quant's
    range (8-bit signed, narrow 0: -128..127); BipolarQuant: +1 where w >= 0, else -1."""
    m = om.qonnx_model()
    wl, s = import_onnx(om.save(m, tmp_path / "n.onnx"), with_tensors=True)
    w1 = _init(m, "w1").astype(np.float64)
    expected = np.clip(np.round(w1 / np.float64(np.float32(0.1))), -128, 127)
    assert np.array_equal(s.tensors["conv1"]["weights"], expected)
    assert np.array_equal(s.tensors["conv3"]["weights"], np.where(_init(m, "w3") >= 0, 1, -1))
    assert s.tensors["fc"]["weights"].min() >= -2 and s.tensors["fc"]["weights"].max() <= 1
    make_trace(wl, s.tensors)


def _accelsim(*args, cwd):
    return subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True,
                          text=True, cwd=cwd)  # fmt: skip


def test_cli_import_with_tensors(tmp_path):
    om.save(om.qdq_model(), tmp_path / "d.onnx")
    proc = _accelsim("import", "d.onnx", "--with-tensors", "-o", "w.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote w.npz: integer weights of 4 of 4 GEMM layers" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "d.onnx", "w.assignment.yaml", "w.npz", "w.yaml"
    ]  # fmt: skip
    wl, trace = load_trace(tmp_path / "w.yaml")
    assert set(trace.layers) == {"conv1", "conv2", "conv3", "fc"}
    # a float model says it has no integer tensors and writes no .npz
    om.save(om.resnet_block(), tmp_path / "r.onnx")
    proc = _accelsim("import", "r.onnx", "--with-tensors", "-o", "r.yaml", cwd=tmp_path)
    assert proc.returncode == 0
    assert "r.onnx carries no integer tensors (a float model" in proc.stderr
    assert not (tmp_path / "r.npz").exists() and (tmp_path / "r.yaml").exists()
    # a topology cannot carry tensors: exit 2, nothing written
    proc = _accelsim("import", "d.onnx", "--with-tensors", "-o", "x.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "--with-tensors: a SCALE-Sim topology cannot" in proc.stderr
    assert not (tmp_path / "x.csv").exists()


# ------------------------------------------------------------------------- bad tensors


@pytest.mark.parametrize(
    "change, match",
    [
        ({"fc": {"weights": np.zeros((6, 3), np.int8)}},
         r"t\.npz: fc\.weights: shape does not match the fc layer 'fc'; found \(6, 3\); "
         r"allowed: \(3, 6\) = \[out_features, in_features\]"),
        ({"fc": {"weights": np.full((3, 6), 9, np.int8)}},
         r"t\.npz: fc\.weights: values outside the layer's w_bits range; found values 9\.\.9; "
         r"allowed: -8\.\.7 \(4-bit int\)"),
        ({"fc": {"inputs": np.zeros((1, 6), np.uint8)}},
         r"fc\.inputs: shape does not match the fc layer 'fc'; found \(1, 6\); "
         r"allowed: \(samples, 2, 6\) = \[samples, tokens, in_features\]"),
        ({"/blk/conv": {"inputs": np.full((1, 4, 5, 5), -1, np.int16)}},
         r"/blk/conv\.inputs: values outside the layer's a_bits range; found values -1\.\.-1; "
         r"allowed: 0\.\.255 \(8-bit uint\)"),
        ({"/blk/conv": {"weights_scale": np.ones(4, np.float32)}},
         r"/blk/conv\.weights_scale: shape does not match .*; found \(4,\); allowed: \(\) or "
         r"\(1,\) per tensor, or \(6,\) per output channel"),
        ({"fc": {"weights": np.zeros((3, 6), np.float32)}},
         r"fc\.weights: must hold integer codes; found float32"),
        ({"fc": {"weigths": np.zeros((3, 6), np.int8)}},
         r"fc\.weigths: unknown tensor field \(did you mean 'weights'\?\)"),
        ({"fc2": {"weights": np.zeros((3, 6), np.int8)}},
         r"fc2: no layer of workload 't' has this name \(did you mean 'fc'\?\)"),
        ({"pool": {"inputs": np.zeros((1, 6, 5, 5), np.uint8)}},
         r"pool: layer 'pool' is a pool layer: a trace holds tensors of GEMM layers"),
        ({"fc": {"outputs": np.zeros((1, 2, 3), np.int32)}},
         r"fc\.outputs: expected outputs need the inputs they come from"),
        ({"mm": {"inputs": np.zeros((1, 2, 2, 4), np.uint8),
                 "outputs": np.zeros((1, 2, 2, 4), np.int32)}},
         r"mm\.outputs: shape does not match .*; found \(1, 2, 2, 4\); allowed: \(1, 2, 2, 3\)"),
        ({"fc": {"weights_scale": np.float32(-1.0)}},
         r"fc\.weights_scale: a scale must be finite and > 0"),
    ],
)  # fmt: skip
def test_bad_tensors_are_one_config_error_naming_the_layer(write, tmp_path, change, match):
    wl = _wl(write)
    tensors = _tensors() | change
    with pytest.raises(accelsim.ConfigError, match=match):
        save_trace(wl, tensors, tmp_path / "t.yaml")
    assert not (tmp_path / "t.npz").exists()  # nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.yaml"]  # (the workload's own)


def test_every_problem_at_once_and_binary_weights(write, tmp_path):
    wl = _wl(write)
    bad = _tensors() | {
        "fc": {"weights": np.zeros((6, 3), np.int8)},
        "mm": {"weights": np.full((2, 4, 3), 300, np.int16)},
    }
    with pytest.raises(accelsim.ConfigError) as exc:
        save_trace(wl, bad, tmp_path / "t.yaml")
    assert [p.path for p in exc.value.problems] == ["fc.weights", "mm.weights"]
    b = write("b.yaml", WORKLOAD.replace("quant: {w_bits: 4}", "quant: {w_bits: 1, "
                                         "w_encoding: binary}"))  # fmt: skip
    wlb = accelsim.load_workload(b)
    zero = np.ones((3, 6), np.int8)
    zero[0, 0] = 0
    with pytest.raises(accelsim.ConfigError, match=r"fc\.weights: values outside the layer's "
                       r"w_bits range; found values 0\.\.1 \(0 is not a ±1 code\); allowed: "
                       r"-1 or \+1 \(binary\)"):  # fmt: skip
        make_trace(wlb, {"fc": {"weights": zero}})
    make_trace(wlb, {"fc": {"weights": np.where(zero == 0, -1, 1).astype(np.int8)}})


def test_bad_npz_files(write, tmp_path):
    wl = _wl(write)
    save_trace(wl, _tensors(), tmp_path / "t.yaml")
    (tmp_path / "u.yaml").write_text((tmp_path / "t.yaml").read_text())
    with pytest.raises(accelsim.ConfigError, match=r"u\.yaml: <top>: this workload has no "
                       r"tensors: a trace keeps them in u\.npz next to it"):  # fmt: skip
        load_trace(tmp_path / "u.yaml")
    (tmp_path / "u.npz").write_bytes(b"not a zip")
    with pytest.raises(accelsim.ConfigError, match=r"u\.npz: <top>: not a readable \.npz"):
        load_trace(tmp_path / "u.yaml")
    np.savez(tmp_path / "u.npz", weights=np.zeros(3, np.int8))
    with pytest.raises(accelsim.ConfigError, match=r"u\.npz: weights: keys are <layer>/<field>"):
        load_trace(tmp_path / "u.yaml")
    proc = _accelsim("verify", "u.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "u.npz: weights: keys are <layer>/<field>" in proc.stderr


def test_npz_that_is_a_directory_or_text(write, tmp_path):
    """An .npz that is a directory is a ConfigError naming it (exit 2 from `run` and
    `verify`, no traceback); a text file named .npz is "not a zip archive" (np.load would
    call it pickled data)."""
    from conftest import ROOT

    wl = _wl(write)
    save_trace(wl, _tensors(), tmp_path / "t.yaml")
    (tmp_path / "t.npz").unlink()
    (tmp_path / "t.npz").mkdir()
    with pytest.raises(accelsim.ConfigError, match=r"t\.npz: <top>: cannot read the trace's "
                       r"tensors; found Is a directory"):  # fmt: skip
        load_trace(tmp_path / "t.yaml")
    arch = str(ROOT / "arch_configs" / "edge_32x32.yaml")
    for args in (("verify", "t.yaml"), ("run", arch, "t.yaml")):
        proc = _accelsim(*args, cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert "t.npz: <top>: cannot read the trace's tensors" in proc.stderr
    (tmp_path / "t.npz").rmdir()
    (tmp_path / "t.npz").write_text("weights\n")
    with pytest.raises(accelsim.ConfigError, match=r"t\.npz: <top>: not a readable \.npz: not "
                       r"a zip archive; found 8 bytes starting b'weights\\n'"):  # fmt: skip
        load_trace(tmp_path / "t.yaml")


# ------------------------------------------------------------------------- verify


def _ort_trace(tmp_path):
    """The QOperator model imported with --with-tensors, plus each layer's integer inputs
    and outputs as onnxruntime computes them (intermediate tensors made graph outputs)."""
    ort = pytest.importorskip("onnxruntime")
    model = om.qoperator_model()  # weights in [-8, 8): exact in onnxruntime's u8 x s8 path
    om.save(model, tmp_path / "q.onnx")
    proc = _accelsim("import", "q.onnx", "--with-tensors", "-o", "q.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    seen = {"xq": (T.UINT8, [1, 4, 6, 6]), "c1": (T.UINT8, [1, 8, 4, 4]),
            "f": (T.UINT8, [1, 128]), "m1": (T.UINT8, [1, 16]), "m2": (T.INT32, [1, 4])}  # fmt: skip
    for name, (elem, shape) in seen.items():
        model.graph.output.append(h.make_tensor_value_info(name, elem, shape))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 4, 6, 6)).astype(np.float32) * 3
    out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"x": x})))
    assert len(np.unique(out["c1"])) > 20  # requantized outputs, not all saturated
    wl, trace = load_trace(tmp_path / "q.yaml")
    tensors = {name: dict(fields) for name, fields in trace.layers.items()}
    for layer, (i, o) in {"qconv": ("xq", "c1"), "qmatmul": ("f", "m1"),
                          "imatmul": ("m1", "m2")}.items():  # fmt: skip
        tensors[layer].update(inputs=out[i], outputs=out[o])
    save_trace(wl, tensors, tmp_path / "s.yaml")
    return wl, tensors


def test_verify_reproduces_onnxruntime_integer_outputs(tmp_path):
    """QLinearConv and QLinearMatMul outputs are requantized (float32 multiplier, half-even),
    MatMulInteger's are the int32 accumulators: the reference gives all 148 exactly."""
    wl, tensors = _ort_trace(tmp_path)
    proc = _accelsim("verify", "s.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "expected outputs: 0 mismatches in 148 outputs of 3 layer(s)" in proc.stdout
    head = (
        "layer    type  samples  acc_bits  overflows  saturations  max|acc|  bits_needed  outputs"
    )
    assert head in proc.stdout
    assert "0 of 128 differ" in proc.stdout and "0 of 4 differ" in proc.stdout
    proc = _accelsim("verify", "s.yaml", "--format", "json", cwd=tmp_path)
    rows = json.loads(proc.stdout)["layers"]
    assert [(r["layer"], r["overflows"], r["mismatches"]) for r in rows] == [
        ("qconv", 0, 0), ("qmatmul", 0, 0), ("imatmul", 0, 0)
    ]  # fmt: skip
    # one wrong expected output is one mismatch
    tensors["imatmul"]["outputs"] = tensors["imatmul"]["outputs"].copy()
    tensors["imatmul"]["outputs"][0, 0] += 1
    rows, notes = verify(wl, make_trace(wl, tensors))
    assert [r["mismatches"] for r in rows] == [0, 0, 1] and notes == []


def test_verify_overflow_saturation_and_bits_needed(write):
    """fc 4 -> 1 with a 16-bit accumulator, inputs all 127 (int8), weights all 127: the sum
    4 x 127^2 = 64,516 exceeds 32,767 -> 1 overflow (wrap), 1 saturation; 2^15 <= 64,516 < 2^16
    needs 16 magnitude bits + sign = 17. The second output (weights 1) sums 508: fits."""
    wl = accelsim.load_workload(write("o.yaml", """name: o
batch: 1
quant: {a_bits: 8, w_bits: 8, acc_bits: 16, out_bits: 8, a_encoding: int, w_encoding: int}
layers:
  - {name: fc, type: fc, in_features: 4, out_features: 2}
"""))  # fmt: skip
    w = np.array([[127] * 4, [1] * 4], np.int8)
    x = np.full((1, 4), 127, np.int8)
    acc = (x.astype(np.int64) @ w.T.astype(np.int64)).astype(np.int16)  # wraps: 64516 - 65536
    trace = make_trace(wl, {"fc": {"weights": w, "inputs": x, "outputs": acc}})
    (row,), notes = verify(wl, trace)
    assert row["overflows"] == 1 and row["saturations"] == 1
    assert row["max_abs_acc"] == 64_516 and row["bits_needed"] == 17 and row["acc_bits"] == 16
    assert row["mismatches"] == 0  # the expected outputs are the wrapped 16-bit accumulators
    assert verify_table([row]).splitlines()[1].split() == [
        "fc", "fc", "1", "16", "1", "1", "64,516", "17", "0", "of", "2", "differ"
    ]  # fmt: skip


def test_verify_wide_operands_exact_beyond_int64(write):
    """32-bit operands: fc 4 -> 1, inputs 2^32 - 1 (uint), weights -2^31 (int). The exact sum
    -4 (2^32 - 1) 2^31 = -(2^65 - 2^33) does not fit int64: max|acc| is that exact value and
    bits_needed 66 (65 magnitude bits + sign), not int64's wrapped result. A matmul with wide
    random operands matches Python's exact integers. Products that do not fit 64 bits
    (32-bit codes minus 32-bit zero points) are a note, not a crash."""
    wl = accelsim.load_workload(write("w.yaml", """name: w
batch: 1
quant: {a_bits: 32, w_bits: 32, acc_bits: 64, out_bits: 8, a_encoding: uint, w_encoding: int}
layers:
  - {name: fc, type: fc, in_features: 4, out_features: 1}
  - {name: mm, type: matmul, m: 3, n: 5, k: 64, count: 2}
"""))  # fmt: skip
    rng = _rng()
    x = rng.integers(2**31, 2**32, (1, 2, 3, 64), dtype=np.uint64)
    w = rng.integers(-(2**31), 2**31, (2, 64, 5), dtype=np.int64)
    tensors = {
        "fc": {"weights": np.full((1, 4), -(2**31), np.int64),
               "inputs": np.full((1, 4), 2**32 - 1, np.uint64)},
        "mm": {"weights": w, "inputs": x},
    }  # fmt: skip
    rows, notes = verify(wl, make_trace(wl, tensors))
    assert notes == []
    assert rows[0]["max_abs_acc"] == 4 * (2**32 - 1) * 2**31 and rows[0]["bits_needed"] == 66
    assert rows[0]["overflows"] == 1
    exact = np.matmul(x.astype(object), w.astype(object))
    assert rows[1]["max_abs_acc"] == max(abs(v) for v in exact.reshape(-1))
    assert rows[1]["max_abs_acc"] >= 2**63
    tensors["fc"].update(inputs=np.zeros((1, 4), np.uint64),
                         inputs_zero_point=np.uint64(2**32 - 1),
                         weights_zero_point=np.int64(2**31 - 1))  # fmt: skip
    rows, notes = verify(wl, make_trace(wl, tensors))
    assert [r["layer"] for r in rows] == ["mm"]
    assert notes == ["fc: products up to 4,294,967,295 x 4,294,967,295 (operands minus zero "
                     "points) exceed the reference's 64-bit products: not run"]  # fmt: skip


# ------------------------------------------------------------------------- value-aware costs


def _arch(write, pe: str, technology="{node_nm: 45}"):
    text = (
        "name: a\narray: {rows: 4, cols: 4, dataflow: os, clock_mhz: 500}\n"
        f"pe: {pe}\ntechnology: {technology}\n"
    )
    return accelsim.load_arch(write("a.yaml", text))


FC = """name: f
batch: 1
quant: {a_bits: 8, w_bits: 8, acc_bits: 32, out_bits: 8, a_encoding: uint, w_encoding: int}
layers:
  - {name: fc, type: fc, in_features: 48, out_features: 8, tokens: 4}
"""


def test_zero_gating_scales_mac_energy_by_the_measured_zero_fraction(write):
    """Half of the sample activations equal their zero point (real zero): with
    technology.zero_gating the (pe, mac) energy is half of the ungated one (48 x 8 x 4 =
    1,536 MACs at the 8x8 price, x 0.5); without gating, or without a trace, it is unchanged;
    cycles never change."""
    wl = accelsim.load_workload(write("f.yaml", FC))
    x = np.full((3, 4, 48), 7, np.uint8)
    x[:, :, ::2] = 5  # the zero point
    trace = make_trace(wl, {"fc": {"inputs": x, "inputs_zero_point": np.uint8(5)}})
    pe = "{kind: int_mac, max_a_bits: 8, max_w_bits: 8}"
    off = _arch(write, pe)
    on = _arch(write, pe, "{node_nm: 45, zero_gating: true}")
    base = accelsim.simulate(off, wl)
    mac = base.columns["energy_pe_mac_pj"][0]
    assert mac > 0
    gated = accelsim.simulate(on, wl, trace=trace)
    assert gated.columns["energy_pe_mac_pj"][0] == pytest.approx(mac / 2)
    assert gated.columns["cycles"][0] == base.columns["cycles"][0]
    assert accelsim.simulate(off, wl, trace=trace).columns["energy_pe_mac_pj"][0] == mac
    data = gated.provenance["data"]
    assert data["zero_gating"] is True and data["tensors_file"] == ""
    assert data["layers"]["fc"]["inputs_zero_fraction"] == 0.5
    assert data["layers"]["fc"]["inputs_samples"] == 3
    assert data["layers"]["fc"]["applied"] == {"pe_mac_scale": 0.5}
    json.loads(gated.to_json())
    # gating on without data: assumed, and named in the provenance
    alone = accelsim.simulate(on, wl)
    assert alone.columns["energy_pe_mac_pj"][0] == mac and "data" not in alone.provenance
    assert [a["name"] for a in alone.provenance["assumed"]] == ["inputs_zero_fraction"]


def test_bit_serial_skips_all_zero_bitplanes(write):
    """Every weight is 63 = 0b00111111: in each group of lut_group = 3 weights, planes 0-5
    are non-zero and planes 6, 7 all zero: 2 of 8. With pe.skip_zero_bitplanes a step takes
    8 x 6/8 = 6 cycles instead of 8 (no memories: compute cycles are steps x the array
    formula, so they drop by exactly 2/8) and lut_lookup energy drops by 2/8; lut_build (per
    activation group) is unchanged. Off: nothing changes."""
    wl = accelsim.load_workload(write("f.yaml", FC))
    trace = make_trace(wl, {"fc": {"weights": np.full((8, 48), 63, np.int8)}})
    pe = "{{kind: bit_serial, max_a_bits: 16, max_w_bits: 16, lut_group: 3, binary_group: 4, " \
         "lut_share: 8{}}}"  # fmt: skip
    off = _arch(write, pe.format(""))
    on = _arch(write, pe.format(", skip_zero_bitplanes: true"))
    base = accelsim.simulate(off, wl)
    skip = accelsim.simulate(on, wl, trace=trace)
    assert skip.columns["compute_cycles"][0] == pytest.approx(
        0.75 * base.columns["compute_cycles"][0]
    )
    for key, ratio in (("energy_pe_lut_lookup_pj", 0.75), ("energy_pe_lut_build_pj", 1.0)):
        assert skip.columns[key][0] == pytest.approx(ratio * base.columns[key][0])
    assert skip.columns["pe_macs_per_cycle"][0] == pytest.approx(3 / 6)
    layer = skip.provenance["data"]["layers"]["fc"]
    assert layer["bitplane_group"] == 3 and layer["weights_zero_bitplane_fraction"] == 0.25
    assert layer["applied"] == {"step_cycles_scale": 0.75, "pe_lut_lookup_scale": 0.75}
    unchanged = accelsim.simulate(off, wl, trace=trace)
    assert unchanged.columns["compute_cycles"][0] == base.columns["compute_cycles"][0]
    assert unchanged.provenance["data"]["layers"]["fc"]["applied"] == {}


GATED = "{node_nm: 45, zero_gating: true}"


def _gating(write, pe: str, workload: str, tensors: dict):
    """(ungated report without a trace, gated report with the trace) of one workload."""
    wl = accelsim.load_workload(write("w.yaml", workload))
    trace = make_trace(wl, tensors)
    base = accelsim.simulate(_arch(write, pe), wl)
    return base, accelsim.simulate(_arch(write, pe, GATED), wl, trace=trace)


def test_zero_gating_of_bit_serial_lut_groups_in_a_grouped_conv(write):
    """bit_serial packs lut_group = 3 activations along a conv's input channels per group
    (k_run = 8 / groups 2 = 4): each pixel's channels c0-c3 and c4-c7 are two runs, cut
    into groups {c0, c1, c2}, {c3}, {c4, c5, c6}, {c7} (a run of 4 ends in a short group):
    4 groups per pixel, 16 over the 2 x 2 pixels of one sample. Zero activations (the zero
    point 10): c0-c2 at every pixel, c3 at pixel 0, c4 at every pixel, c7 at pixels 0 and 1.
    All-zero groups: {c0-c2} 4, {c3} 1, {c4-c6} 0 (c5, c6 never zero), {c7} 2 = 7 of 16,
    so inputs_zero_group_fraction = 7/16 and lut_lookup and lut_build (one per group) keep
    9/16 of their energy, while only 1 - 19/32 of the activations is non-zero
    (inputs_zero_fraction = (3 x 4 + 1 + 4 + 2) / 32 = 19/32): a per-activation gate would
    keep 13/32. (Runs across the conv groups would give {c0-c2}, {c3-c5}, {c6, c7}: 4/12;
    a short group padded with non-zeros 4/16.) Cycles do not change."""
    workload = f"""name: c
batch: 1
quant: {QUANT}
layers:
  - {{name: conv, type: conv, in_channels: 8, out_channels: 4, in_h: 2, in_w: 2, kernel: 3,
     padding: 1, groups: 2}}
"""
    x = np.full((1, 8, 2, 2), 200, np.uint8)
    x[0, 0:3] = 10
    x[0, 3, 0, 0] = 10  # pixel 0 = (0, 0), pixel 1 = (0, 1)
    x[0, 4] = 10
    x[0, 7, 0, :] = 10
    pe = "{kind: bit_serial, max_a_bits: 16, max_w_bits: 16, lut_group: 3, binary_group: 4, " \
         "lut_share: 8}"  # fmt: skip
    tensors = {"conv": {"inputs": x, "inputs_zero_point": np.uint8(10)}}
    base, gated = _gating(write, pe, workload, tensors)
    for key in ("energy_pe_lut_lookup_pj", "energy_pe_lut_build_pj"):
        assert base.columns[key][0] > 0
        assert gated.columns[key][0] == pytest.approx(9 / 16 * base.columns[key][0])
    assert gated.columns["cycles"][0] == base.columns["cycles"][0]
    layer = gated.provenance["data"]["layers"]["conv"]
    assert layer["inputs_zero_fraction"] == 19 / 32
    assert layer["inputs_group"] == 3 and layer["inputs_zero_group_fraction"] == 7 / 16
    assert layer["applied"] == {"pe_lut_lookup_scale": 9 / 16, "pe_lut_build_scale": 9 / 16}


def test_zero_gating_of_bit_fusion_packed_macs(write):
    """bit_fusion at 4/4 bits packs k_per_cycle = (8 // 4) x (8 // 4) = 4 MACs per
    fusion-unit cycle along k. fc (k = 12; one sample, 2 tokens): groups of 4 per token;
    zeros (zero point 0) in token 0: group 0 all, group 1 two of four, group 2 none; token 1:
    group 0 one, groups 1 and 2 all. All-zero groups 3 of 6 (inputs_zero_group_fraction
    1/2), zero activations (4 + 2 + 1 + 8) / 24 = 5/8: fusion_unit_cycle keeps 1/2 of its
    energy, not 3/8. matmul (k = 8, m = 2): row 0 has zeros at 0-3 (a whole group) and 4,
    row 1 at 1: all-zero groups 1 of 4 (keep 3/4), zero activations 6/16."""
    workload = """name: f
batch: 1
quant: {a_bits: 4, w_bits: 4, acc_bits: 32, out_bits: 8, a_encoding: uint, w_encoding: int}
layers:
  - {name: fc, type: fc, in_features: 12, out_features: 8, tokens: 2}
  - {name: mm, type: matmul, m: 2, n: 3, k: 8, count: 1}
"""
    fc = np.full((1, 2, 12), 5, np.uint8)
    fc[0, 0, 0:4] = 0
    fc[0, 0, 4:6] = 0
    fc[0, 1, 0] = 0
    fc[0, 1, 4:12] = 0
    mm = np.full((1, 1, 2, 8), 9, np.uint8)
    mm[0, 0, 0, 0:5] = 0
    mm[0, 0, 1, 1] = 0
    base, gated = _gating(write, "{kind: bit_fusion}", workload, {"fc": {"inputs": fc},
                                                                  "mm": {"inputs": mm}})  # fmt: skip
    key = "energy_pe_fusion_unit_cycle_pj"
    for i, name, keep, zeros in ((0, "fc", 1 / 2, 5 / 8), (1, "mm", 3 / 4, 6 / 16)):
        assert base.columns[key][i] > 0
        assert gated.columns[key][i] == pytest.approx(keep * base.columns[key][i])
        layer = gated.provenance["data"]["layers"][name]
        assert layer["inputs_group"] == 4 and layer["inputs_zero_group_fraction"] == 1 - keep
        assert layer["inputs_zero_fraction"] == zeros
        assert layer["applied"] == {"pe_fusion_unit_cycle_scale": keep}


def test_zero_gating_of_per_mac_actions_int_mac_and_xnor(write):
    """Per-MAC actions are gated per activation, whatever the packing. int_mac (one MAC per
    step, groups of 1): fc with 3 zeros (zero point 4) among 8 activations: mac keeps 5/8,
    inputs_zero_group_fraction = inputs_zero_fraction = 3/8. xnor (lanes: 4): its 8-bit
    fallback layer is the same (mac keeps 5/8, groups of 1); its binary layer packs 4 ±1
    activations per step but xnor_popcount is per MAC: ±1 activations are never zero
    (zero point 0), so nothing is gated (fractions 0, keep 1)."""
    fc8 = "  - {name: fc8, type: fc, in_features: 8, out_features: 4}\n"
    bnn = ("  - {name: bnn, type: fc, in_features: 8, out_features: 4, quant: {a_bits: 1, "
           "w_bits: 1, a_encoding: binary, w_encoding: binary}}\n")  # fmt: skip
    head = f"name: w\nbatch: 1\nquant: {QUANT}\nlayers:\n"
    x = np.array([[4, 9, 4, 9, 9, 9, 4, 9]], np.uint8)
    fc8_t = {"inputs": x, "inputs_zero_point": np.uint8(4)}
    b = np.array([[1, -1, -1, -1, 1, 1, -1, 1]], np.int8)
    int_mac = "{kind: int_mac, max_a_bits: 8, max_w_bits: 8}"
    xnor = "{kind: xnor, lanes: 4, fallback: {max_a_bits: 8, max_w_bits: 8}}"
    cases = (
        (int_mac, head + fc8, {"fc8": fc8_t}, [("fc8", "mac", 1, 5 / 8, 3 / 8)]),
        (xnor, head + fc8 + bnn, {"fc8": fc8_t, "bnn": {"inputs": b}},
         [("fc8", "mac", 1, 5 / 8, 3 / 8), ("bnn", "xnor_popcount", 4, 1.0, 0.0)]),
    )  # fmt: skip
    for pe, workload, tensors, layers in cases:
        base, gated = _gating(write, pe, workload, tensors)
        for i, (name, action, group, keep, zeros) in enumerate(layers):
            key = f"energy_pe_{action}_pj"
            assert base.columns[key][i] > 0
            assert gated.columns[key][i] == pytest.approx(keep * base.columns[key][i])
            layer = gated.provenance["data"]["layers"][name]
            assert layer["inputs_group"] == group
            assert layer["inputs_zero_fraction"] == layer["inputs_zero_group_fraction"] == zeros
            assert layer["applied"] == {f"pe_{action}_scale": keep}


def test_trace_of_another_precision_or_network(write):
    """An assignment that changes a layer's bits makes its tensors inapplicable (said in the
    data section, the layer costed without them); a trace of another network is an error."""
    wl = accelsim.load_workload(write("f.yaml", FC))
    trace = make_trace(wl, {"fc": {"weights": np.full((8, 48), 63, np.int8)}})
    arch = _arch(write, "{kind: int_mac, max_a_bits: 8, max_w_bits: 8}",
                 "{node_nm: 45, zero_gating: true}")  # fmt: skip
    a4 = accelsim.load_assignment(write("a4.yaml", "name: a4\nassignment: {fc: {w_bits: 4}}\n"))
    report = accelsim.simulate(arch, wl, a4, trace=trace)
    assert "precision differs" in report.provenance["data"]["layers"]["fc"]["not_used"]
    other = accelsim.load_workload(
        write("g.yaml", FC.replace("in_features: 48", "in_features: 24"))
    )
    with pytest.raises(accelsim.ConfigError, match=r"fc\.weights: shape does not match the fc "
                       r"layer 'fc'; found \(8, 48\); allowed: \(8, 24\)"):  # fmt: skip
        accelsim.simulate(arch, other, trace=trace)


def test_trace_module_is_light():
    code = "import sys, accelsim.trace; print(sorted(m for m in ('numba', 'onnx', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_cli_run_uses_the_trace_next_to_the_workload(tmp_path):
    """`accelsim run ARCH w.yaml` with w.npz beside it costs value-aware: the report's
    provenance carries the measured data section."""
    from conftest import ROOT

    from accelsim.trace import save_trace

    wl = accelsim.load_workload(ROOT / "tests" / "data" / "tiny.yaml")
    fc = wl.layer("fc")
    weights = np.ones((fc.n, fc.k), dtype=np.int8)
    save_trace(wl, {"fc": {"weights": weights}}, tmp_path / "w.yaml")
    arch = ROOT / "arch_configs" / "edge_32x32.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "accelsim", "run", str(arch), str(tmp_path / "w.yaml"), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["provenance"].get("data")


def test_verify_counts_the_bias_in_the_accumulator(write):
    """The bias is the accumulator's initial value. fc 4 -> 2, 16-bit accumulator
    (-32,768..32,767), inputs all 100. Channel 0: weights 25, sum 4 x 2,500 = 10,000, bias
    30,000: the accumulator holds 40,000, which wraps to 40,000 - 65,536 = -25,536 (1
    overflow) and saturates (30,000 + 2,500 + 2,500 = 35,000 > 32,767 at the second
    product: 1 saturation); 2^15 <= 40,000 < 2^16 needs 17 bits. Channel 1: weights 0, bias
    -5: -5. Counting without the bias would say 0 overflows and 15 bits (10,000)."""
    wl = accelsim.load_workload(write("b.yaml", """name: b
batch: 1
quant: {a_bits: 8, w_bits: 8, acc_bits: 16, out_bits: 8, a_encoding: int, w_encoding: int}
layers:
  - {name: fc, type: fc, in_features: 4, out_features: 2}
"""))  # fmt: skip
    w = np.array([[25] * 4, [0] * 4], np.int8)
    x = np.full((1, 4), 100, np.int8)
    bias = np.array([30_000, -5], np.int32)
    outputs = np.array([[-25_536, -5]], np.int16)
    trace = make_trace(wl, {"fc": {"weights": w, "inputs": x, "bias": bias, "outputs": outputs}})
    (row,), _ = verify(wl, trace)
    assert (row["overflows"], row["saturations"]) == (1, 1)
    assert (row["max_abs_acc"], row["bits_needed"], row["mismatches"]) == (40_000, 17, 0)


def test_timedelta_tensors_are_a_config_error(write, tmp_path):
    """numpy calls timedelta64 a signed integer type; a trace holding one is the usual
    "must hold integer codes" ConfigError, not a TypeError traceback."""
    wl = _wl(write)
    save_trace(wl, _tensors(), tmp_path / "t.yaml")
    np.savez(tmp_path / "t.npz", **{"fc/weights": np.zeros((3, 6), "m8[s]")})
    with pytest.raises(accelsim.ConfigError, match=r"t\.npz: fc\.weights: must hold integer "
                       r"codes; found timedelta64\[s\]"):  # fmt: skip
        load_trace(tmp_path / "t.yaml")
