"""Traces that carry tensors: value-aware costs and ``accelsim verify`` (issue 7).

A *trace* is a workload YAML plus an ``.npz`` next to it with the same stem (``w.yaml`` and
``w.npz``). The YAML is an ordinary workload file (`accelsim.load_workload` reads it); the
``.npz`` holds, per GEMM layer, arrays under the keys ``<layer>/<field>`` (the field is the
part after the last ``/``, so layer names may contain ``/``, as PyTorch's ONNX names do):

==========================  ====================================================================
field                       what
==========================  ====================================================================
``weights``                 integer weight codes in the layer's natural layout: conv
                            ``[out_channels, in_channels/groups, kh, kw]`` (OIHW), fc
                            ``[out_features, in_features]``, matmul ``[count, k, n]`` (the second
                            operand of each product)
``weights_scale``           float, per tensor (``()``/``(1,)``) or per output channel
                            (``(channels,)``: conv ``out_channels``, fc ``out_features``, matmul
                            ``n``)
``weights_zero_point``      integer, per tensor or per output channel (default 0)
``inputs``                  sample activations (integer codes), any number of samples: conv
                            ``[samples, in_channels, in_h, in_w]``, fc ``[samples, tokens,
                            in_features]`` (or ``[samples, in_features]`` when ``tokens`` is 1),
                            matmul ``[samples, count, m, k]``
``inputs_scale``            float, per tensor
``inputs_zero_point``       integer, per tensor (default 0)
``outputs``                 the layer's expected integer outputs for ``inputs``: conv
                            ``[samples, out_channels, out_h, out_w]``, fc ``[..., out_features]``
                            (the leading shape of ``inputs``), matmul ``[samples, count, m, n]``.
                            Without ``outputs_scale`` they are the accumulator
                            ``sum (inputs - izp)(weights - wzp) (+ bias)`` at ``acc_bits``
                            (wrap-around); with it, the requantized codes
                            ``saturate(round_half_even((acc + bias) * inputs_scale *
                            weights_scale / outputs_scale) + outputs_zero_point)`` in ``out_bits``
                            bits (float32 multiplier, as ONNX QLinearConv / QLinearMatMul in
                            onnxruntime), unsigned if the array's dtype is unsigned
``outputs_scale``           float, per tensor (needs ``inputs_scale`` and ``weights_scale``)
``outputs_zero_point``      integer, per tensor (needs ``outputs_scale``)
``bias``                    integer, ``(channels,)``, the accumulator's initial value (ONNX
                            QLinearConv's int32 ``B``): part of every accumulator `verify`
                            reports on (overflows, saturations, bits needed)
``supermask``               0/1 (or bool), the shape of ``weights``: which generated weights a
                            hidden network keeps (Hiddenite, `accelsim.reference.supermask`)
==========================  ====================================================================

Every field is optional; a layer may have only weights or only sample activations. Codes
must fit the layer's `QuantSpec`: ``weights`` (and their zero point) its ``w_bits`` /
``w_encoding`` range (``int``: two's complement, ``uint``: unsigned, ``binary``: -1 or +1),
``inputs`` its ``a_bits`` / ``a_encoding`` range, raw ``outputs`` and ``bias`` the signed
``acc_bits`` range. A trace whose tensors disagree with the layers (unknown layer or field,
wrong shape, dtype or range) is one `ConfigError` listing every problem.

Python: `save_trace` (from numpy arrays), `load_trace`; command line: ``accelsim import
model.onnx --with-tensors -o w.yaml`` (weights from the ONNX initializers) and ``accelsim
verify w.yaml``.

Value-aware costs
-----------------
``accelsim.simulate(arch, workload, trace=trace)`` measures per GEMM layer (`statistics`):

* ``inputs_zero_fraction``: the fraction of sample activations equal to their zero point
  (real value zero). With ``technology.zero_gating: true`` in the arch (a PE that skips the
  work of a zero operand), the PE's per-MAC action counts of the layer (every action not in
  its ``STEP_ACTIONS``, below: ``int_mac``'s ``mac``, ``xnor``'s ``xnor_popcount`` and
  fallback ``mac``) are multiplied by ``1 - inputs_zero_fraction``. Measured over the input
  tensor's elements; the zeros that conv padding adds are not counted (a conservative
  estimate).
* ``inputs_zero_group_fraction``: activations are cut into groups of ``inputs_group`` = ``p``
  consecutive activations along the reduction's contiguous run, as the PE packs them (``p``
  = the PE's ``k_per_cycle``; the run is a conv's input channels per group at one pixel,
  all of ``k`` for fc and matmul; a run that ``p`` does not divide ends in a short group:
  ``(k / k_run) ceil(k_run / p)`` groups per reduction, as in `accelsim.model`); this is the
  fraction of groups whose activations are all zero. An action the PE does once per group
  (its ``STEP_ACTIONS``: ``bit_serial``'s ``lut_lookup`` selects one subset sum of the group
  and ``lut_build`` tabulates the group, ``bit_fusion``'s ``fusion_unit_cycle`` runs ``p``
  packed MACs) can be skipped only when the whole group is zero: with
  ``technology.zero_gating`` its count is multiplied by ``1 - inputs_zero_group_fraction``.
  With ``p = 1`` it equals ``inputs_zero_fraction``. Measured as ``inputs_zero_fraction``
  is (every pixel's groups once; conv padding not counted).
* ``weights_zero_bitplane_fraction``: weights are cut into groups of ``p`` consecutive
  weights along the reduction's contiguous run (``p`` = the PE's ``k_per_cycle``, i.e. the
  LUT group of a ``bit_serial`` PE; a conv's run is its input channels, as in
  `accelsim.model`), and each group's ``w_bits`` bit-planes of the stored codes (two's
  complement for ``int``) are looked at: this is the fraction of (group, plane) pairs that
  are all zero. With ``pe.skip_zero_bitplanes: true`` (``bit_serial``), those lookups are
  skipped: ``lut_lookup`` counts are multiplied by ``1 - weights_zero_bitplane_fraction``,
  and the cycles of an array step by ``bitplane_step_fraction`` = the mean over groups of
  ``max(1, non-zero planes) / w_bits`` (a step still takes a cycle). This assumes each PE
  skips its own planes (no lock-step with its neighbours): an optimistic bound. ``binary``
  weights (one plane, one cycle) are not affected.
* ``supermask_density``: the fraction of ones in the layer's ``supermask``. On an arch with
  generated weights (``weights.source: generated``, `accelsim.weights`) it replaces the
  configured ``supermask.density`` for that layer: the mask's DRAM bytes follow the measured
  density (entropy encoding). A layer without a supermask keeps the configured density and
  is listed under ``assumed``.

The model applies these as per-layer multipliers on the PE action counts and the step cycles
(`value_aware`, called by `accelsim.model.simulate`). The report's provenance gets a ``data``
section listing, per layer, what was measured and which multipliers were applied; a switch
that is on without data for a layer (no trace, or no sample activations / weights) is listed
under ``assumed`` with the fraction assumed (0: nothing saved).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from accelsim.errors import ConfigError, Problem, did_you_mean
from accelsim.quant import QuantSpec
from accelsim.workload import Layer, Workload, pair

FIELDS = (
    "weights", "weights_scale", "weights_zero_point", "inputs", "inputs_scale",
    "inputs_zero_point", "outputs", "outputs_scale", "outputs_zero_point", "bias", "supermask",
)  # fmt: skip
INT_FIELDS = ("weights", "weights_zero_point", "inputs", "inputs_zero_point", "outputs",
              "outputs_zero_point", "bias")  # fmt: skip
SCALE_FIELDS = ("weights_scale", "inputs_scale", "outputs_scale")
# PE actions done once per weight bit-plane (skipped with pe.skip_zero_bitplanes)
BITPLANE_ACTIONS = ("lut_lookup",)


@dataclass(frozen=True, eq=False)
class Trace:
    """The tensors of a trace: ``layers[name][field]`` (read-only numpy arrays).

    ``quants`` is the precision each layer's tensors were checked against; ``file`` the
    ``.npz`` (empty when built in Python and not saved), ``sha256`` its hash.
    """

    layers: dict
    quants: dict
    file: str = ""
    sha256: str = ""
    notes: tuple = field(default=())

    def tensors(self, layer: str) -> dict:
        return dict(self.layers.get(layer, {}))


# ------------------------------------------------------------------------------ layouts


@dataclass(frozen=True)
class _Layout:
    weights: tuple
    weights_names: str
    inputs: tuple  # allowed per-sample shapes
    inputs_names: str
    channels: int
    w_axis: int  # output-channel axis of the weights
    o_axis: int  # output-channel axis of the outputs (negative: from the end)


def layout(layer: Layer) -> _Layout:
    """Natural layouts of a GEMM layer's tensors (see the module docstring)."""
    s = layer.spec
    if layer.type == "conv":
        kh, kw = pair(s.kernel)
        return _Layout(
            (s.out_channels, s.in_channels // s.groups, kh, kw),
            "[out_channels, in_channels/groups, kh, kw]",
            ((s.in_channels, s.in_h, s.in_w),),
            "[samples, in_channels, in_h, in_w]",
            s.out_channels, 0, 1,
        )  # fmt: skip
    if layer.type == "fc":
        shapes = ((s.tokens, s.in_features),) + (((s.in_features,),) if s.tokens == 1 else ())
        names = "[samples, tokens, in_features]" + (
            " or [samples, in_features]" if s.tokens == 1 else ""
        )
        return _Layout(
            (s.out_features, s.in_features), "[out_features, in_features]", shapes, names,
            s.out_features, 0, -1,
        )  # fmt: skip
    return _Layout(
        (s.count, s.k, s.n), "[count, k, n]", ((s.count, s.m, s.k),), "[samples, count, m, k]",
        s.n, 2, -1,
    )  # fmt: skip


def _outputs_shape(layer: Layer, inputs_shape: tuple) -> tuple:
    s = layer.spec
    if layer.type == "conv":
        return (inputs_shape[0], s.out_channels, *s.out_hw)
    if layer.type == "fc":
        return (*inputs_shape[:-1], s.out_features)
    return (inputs_shape[0], s.count, s.m, s.n)


def code_range(bits: int, encoding: str) -> tuple[int, int, str]:
    """(lowest, highest, description) of the codes of a ``bits``-wide operand."""
    if encoding == "binary":
        return -1, 1, "-1 or +1 (binary)"
    if encoding == "uint":
        lo, hi = 0, 2**bits - 1
    else:
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return lo, hi, f"{lo}..{hi} ({bits}-bit {encoding})"


def _shape(a) -> str:
    return str(tuple(int(d) for d in np.shape(a)))


# ------------------------------------------------------------------------------ checking


def _as_array(value, name: str, file: str, problems: list):
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and friends
        problems.append(Problem(file, None, name, f"not an array: {exc}"))
        return None
    if arr.dtype == object:
        problems.append(Problem(file, None, name, "not a numeric array", str(arr.dtype)))
        return None
    return arr


def _check_layer(layer: Layer, given: dict, file: str) -> tuple[dict, list[Problem]]:
    """Normalized arrays of one layer's tensors and the problems found with them."""
    problems: list[Problem] = []
    name, q = layer.name, layer.quant
    out: dict = {}
    for key, value in given.items():
        path = f"{name}.{key}"
        if key not in FIELDS:
            problems.append(
                Problem(file, None, path, f"unknown tensor field{did_you_mean(key, FIELDS)}",
                        repr(key), ", ".join(FIELDS))
            )  # fmt: skip
            continue
        arr = _as_array(value, path, file, problems)
        if arr is None:
            continue
        if key == "supermask":
            if arr.dtype.kind not in "biu" or (arr.size and not np.all((arr == 0) | (arr == 1))):
                found = str(arr.dtype) if arr.dtype.kind not in "biu" else "values other than 0/1"
                problems.append(Problem(file, None, path, "a supermask holds 0/1 flags", found,
                                        "bool, or integers 0 and 1"))  # fmt: skip
                continue
        elif key in INT_FIELDS:
            if arr.dtype.kind not in "iu":  # not bool, nor timedelta64 (a numpy 'integer')
                problems.append(Problem(file, None, path, "must hold integer codes", str(arr.dtype),
                                        "an integer dtype (int8, uint8, int32, ...)"))  # fmt: skip
                continue
        else:
            if not np.issubdtype(arr.dtype, np.floating):
                problems.append(Problem(file, None, path, "a scale must be a float array",
                                        str(arr.dtype), "float32 or float64"))  # fmt: skip
                continue
            if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                problems.append(Problem(file, None, path, "a scale must be finite and > 0",
                                        np.array2string(arr.reshape(-1)[:4]), "> 0"))  # fmt: skip
                continue
        out[key] = arr
    if not layer.is_gemm:
        problems.append(
            Problem(file, None, name, f"layer {name!r} is a {layer.type} layer: a trace holds "
                    "tensors of GEMM layers (conv, fc, matmul) only", ", ".join(sorted(given)))
        )  # fmt: skip
        return {}, problems
    lay = layout(layer)
    what = f"the {layer.type} layer {name!r}"

    def bad_shape(key, found, allowed):
        problems.append(Problem(file, None, f"{name}.{key}", f"shape does not match {what}",
                                _shape(found), allowed))  # fmt: skip
        out.pop(key, None)

    def bad_values(key, arr, lo, hi, desc, bits_name):
        if arr.size == 0:
            return
        amin, amax = int(arr.min()), int(arr.max())
        binary = desc.endswith("(binary)")
        outside = bool(np.any((arr != -1) & (arr != 1))) if binary else (amin < lo or amax > hi)
        if outside:
            found = f"values {amin}..{amax}"
            if binary:
                found += " (0 is not a ±1 code)" if np.any(arr == 0) else ""
            message = f"values outside the layer's {bits_name} range"
            problems.append(Problem(file, None, f"{name}.{key}", message, found, desc))
            out.pop(key, None)

    def per_channel(key, channels):
        arr = out.get(key)
        if arr is not None and arr.size != 1 and arr.shape != (channels,):
            bad_shape(key, arr, f"() or (1,) per tensor, or ({channels},) per output channel")

    def per_tensor(key):
        arr = out.get(key)
        if arr is not None and arr.size != 1:
            bad_shape(key, arr, "() or (1,): per tensor")

    # shapes
    w = out.get("weights")
    if w is not None and w.shape != lay.weights:
        bad_shape("weights", w, f"{lay.weights} = {lay.weights_names}")
    mask = out.get("supermask")
    if mask is not None and mask.shape != lay.weights:
        bad_shape("supermask", mask, f"{lay.weights} = {lay.weights_names}: the weights' shape")
    x = out.get("inputs")
    if x is not None and (x.ndim < 2 or x.shape[0] < 1 or x.shape[1:] not in lay.inputs):
        allowed = " or ".join(f"(samples, {', '.join(map(str, s))})" for s in lay.inputs)
        bad_shape("inputs", x, f"{allowed} = {lay.inputs_names}")
    y = out.get("outputs")
    if y is not None:
        x = out.get("inputs")
        if x is not None:
            expected = _outputs_shape(layer, x.shape)
            if y.shape != expected:
                bad_shape("outputs", y, f"{expected}: the outputs of inputs {_shape(x)}")
        elif "inputs" not in given:
            problems.append(Problem(file, None, f"{name}.outputs",
                                    "expected outputs need the inputs they come from",
                                    None, "give inputs too"))  # fmt: skip
            out.pop("outputs")
    per_channel("weights_scale", lay.channels)
    per_channel("weights_zero_point", lay.channels)
    for key in ("inputs_scale", "inputs_zero_point", "outputs_scale", "outputs_zero_point"):
        per_tensor(key)
    b = out.get("bias")
    if b is not None and b.shape != (lay.channels,):
        bad_shape("bias", b, f"({lay.channels},): one per output channel")
    # dependencies
    if "outputs_scale" in given:
        missing = [k for k in ("inputs_scale", "weights_scale") if k not in given]
        if missing:
            problems.append(Problem(file, None, f"{name}.outputs_scale",
                                    "requantized outputs need the scales of both operands",
                                    None, f"give {' and '.join(missing)} too"))  # fmt: skip
    if "outputs_zero_point" in given and "outputs_scale" not in given:
        problems.append(Problem(file, None, f"{name}.outputs_zero_point",
                                "a zero point of the outputs needs outputs_scale "
                                "(raw accumulator outputs have none)"))  # fmt: skip
    # ranges
    wlo, whi, wdesc = code_range(q.w_bits, q.w_encoding)
    alo, ahi, adesc = code_range(q.a_bits, q.a_encoding)
    acc_lo, acc_hi = -(2 ** (q.acc_bits - 1)), 2 ** (q.acc_bits - 1) - 1
    accdesc = f"{acc_lo}..{acc_hi} (signed {q.acc_bits}-bit accumulator)"
    operands = (("weights", "weights", wlo, whi, wdesc, "w_bits", q.w_encoding),
                ("inputs", "activations", alo, ahi, adesc, "a_bits", q.a_encoding))  # fmt: skip
    for tensor, what, lo, hi, desc, bits_field, encoding in operands:
        for key in (tensor, f"{tensor}_zero_point"):
            if key not in out:
                continue
            if key != tensor and encoding == "binary":
                if np.any(out[key] != 0):
                    problems.append(Problem(file, None, f"{name}.{key}", f"±1 {what} have no "
                                            "zero point", _values(out[key]), "0"))  # fmt: skip
                continue
            bad_values(key, out[key], lo, hi, desc, bits_field)
    if "bias" in out:
        bad_values("bias", out["bias"], acc_lo, acc_hi, accdesc, "acc_bits")
    if "outputs" in out:
        if "outputs_scale" in given:
            enc = "uint" if np.issubdtype(out["outputs"].dtype, np.unsignedinteger) else "int"
            lo, hi, desc = code_range(q.out_bits, enc)
            bad_values("outputs", out["outputs"], lo, hi, desc, "out_bits")
            if "outputs_zero_point" in out:
                bad_values("outputs_zero_point", out["outputs_zero_point"], lo, hi, desc,
                           "out_bits")  # fmt: skip
        else:
            bad_values("outputs", out["outputs"], acc_lo, acc_hi, accdesc, "acc_bits")
    return out, problems


def _values(arr) -> str:
    flat = np.unique(np.asarray(arr).reshape(-1))
    return ", ".join(str(v) for v in flat[:6]) + (", ..." if flat.size > 6 else "")


def check_tensors(workload: Workload, tensors: dict, file: str = "<python>") -> dict:
    """Validate ``tensors`` (``{layer: {field: array}}``) against ``workload``; return them as
    read-only numpy arrays, or raise one `ConfigError` listing every problem."""
    problems: list[Problem] = []
    if not isinstance(tensors, dict):
        raise ConfigError(Problem(file, None, "", "tensors must be a dict {layer: {field: "
                                  "array}}", type(tensors).__name__))  # fmt: skip
    names = [la.name for la in workload.layers]
    layers = {la.name: la for la in workload.layers}
    out = {}
    for name, given in tensors.items():
        if name not in layers:
            problems.append(
                Problem(file, None, str(name), f"no layer of workload {workload.name!r} has "
                        f"this name{did_you_mean(name, names)}", repr(name))
            )  # fmt: skip
            continue
        if not isinstance(given, dict):
            problems.append(Problem(file, None, str(name), "must map tensor fields to arrays",
                                    type(given).__name__, ", ".join(FIELDS)))  # fmt: skip
            continue
        arrays, found = _check_layer(layers[name], given, file)
        problems += found
        for arr in arrays.values():
            arr.setflags(write=False)
        if arrays:
            out[name] = arrays
    if problems:
        raise ConfigError(problems)
    return out


def make_trace(workload: Workload, tensors: dict, file: str = "", sha256: str = "") -> Trace:
    """A `Trace` of ``tensors`` checked against ``workload`` (copies of the arrays)."""
    copied = {
        name: {k: np.array(v, copy=True) for k, v in fields.items()}
        if isinstance(fields, dict) else fields
        for name, fields in tensors.items()
    }  # fmt: skip
    checked = check_tensors(workload, copied, file or "<python>")
    quants = {la.name: la.quant for la in workload.layers if la.name in checked}
    return Trace(checked, quants, file, sha256)


# ------------------------------------------------------------------------------ files


def tensors_path(path) -> Path:
    """The ``.npz`` of the trace whose workload YAML is ``path`` (same stem)."""
    return Path(path).with_suffix(".npz")


def npz_bytes(trace_or_tensors) -> bytes:
    """The ``.npz`` file content of a trace (keys ``<layer>/<field>``)."""
    layers = trace_or_tensors.layers if isinstance(trace_or_tensors, Trace) else trace_or_tensors
    flat = {f"{name}/{key}": arr for name, fields in layers.items() for key, arr in fields.items()}
    buf = io.BytesIO()
    np.savez_compressed(buf, **flat)
    return buf.getvalue()


def trace_header(npz: Path) -> str:
    return (
        f"# tensors: {npz.name} (an accelsim trace: accelsim.trace.load_trace, accelsim verify)\n"
    )


def save_trace(workload: Workload, tensors: dict, path) -> Trace:
    """Write ``workload`` to ``path`` (YAML) and ``tensors`` (``{layer: {field: array}}``) to
    the ``.npz`` next to it; return the `Trace`.

    The tensors are checked first (one `ConfigError` for every problem, nothing written); both
    files are written under temporary names and renamed, so nothing is half-written.
    """
    from accelsim.workload import workload_to_yaml

    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError(Problem(str(path), None, "", "a trace is a workload .yaml (the "
                                  "tensors go to the .npz next to it)", path.suffix or "no suffix",
                                  ".yaml, .yml"))  # fmt: skip
    npz = tensors_path(path)
    trace = make_trace(workload, tensors, str(npz))
    data = npz_bytes(trace)
    text = trace_header(npz) + workload_to_yaml(workload)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically({path: text.encode(), npz: data})
    return Trace(trace.layers, trace.quants, str(npz), hashlib.sha256(data).hexdigest())


def write_atomically(files: dict) -> None:
    """Write every ``{path: bytes}`` under a temporary name, then rename them all; on failure
    remove the temporary files (nothing half-written at an output path)."""
    temps = {p: Path(p).with_name(Path(p).name + ".partial") for p in files}
    try:
        for p, content in files.items():
            temps[p].write_bytes(content)
        for p in files:
            temps[p].replace(p)
    finally:
        for t in temps.values():
            t.unlink(missing_ok=True)


def load_trace(path) -> tuple[Workload, Trace]:
    """Read a trace: the workload YAML ``path`` and the ``.npz`` next to it (``path`` may
    also name the ``.npz``; the YAML is then the file with its stem)."""
    from accelsim.workload import load_workload

    path = Path(path)
    if path.suffix.lower() == ".npz":
        yamls = [path.with_suffix(s) for s in (".yaml", ".yml") if path.with_suffix(s).exists()]
        path = yamls[0] if yamls else path.with_suffix(".yaml")
    npz = tensors_path(path)
    wl = load_workload(path)
    if not npz.exists():
        raise ConfigError(Problem(str(path), None, "", "this workload has no tensors: a trace "
                                  f"keeps them in {npz.name} next to it", "no such file",
                                  str(npz)))  # fmt: skip
    try:
        data = npz.read_bytes()
    except OSError as exc:  # a directory, no permission, ...
        raise ConfigError(Problem(str(npz), None, "", "cannot read the trace's tensors",
                                  exc.strerror or str(exc), "an .npz file")) from None  # fmt: skip
    if not zipfile.is_zipfile(io.BytesIO(data)):  # np.load would take it for a pickle
        raise ConfigError(Problem(str(npz), None, "", "not a readable .npz: not a zip archive",
                                  f"{len(data):,} bytes starting {data[:8]!r}",
                                  "an .npz file (numpy.savez)"))  # fmt: skip
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            flat = {key: z[key] for key in z.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled objects), ...
        raise ConfigError(Problem(str(npz), None, "", f"not a readable .npz: {exc}")) from None
    tensors: dict = {}
    problems = []
    for key, arr in flat.items():
        if "/" not in key:
            problems.append(Problem(str(npz), None, key, "keys are <layer>/<field>", repr(key),
                                    ", ".join(f"<layer>/{f}" for f in FIELDS)))  # fmt: skip
            continue
        name, fld = key.rsplit("/", 1)
        tensors.setdefault(name, {})[fld] = arr
    try:
        checked = check_tensors(wl, tensors, str(npz))
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    quants = {la.name: la.quant for la in wl.layers if la.name in checked}
    return wl, Trace(checked, quants, str(npz), hashlib.sha256(data).hexdigest())


# ------------------------------------------------------------------------------ statistics


def _channel_param(t: dict, key: str, ndim: int, axis: int):
    """A per-tensor or per-channel parameter shaped to broadcast over an array of ``ndim``."""
    v = t.get(key)
    if v is None:
        return np.int64(0)
    v = np.asarray(v)
    if v.size == 1:
        return v.reshape(()).astype(np.int64) if v.dtype.kind in "iu" else v.reshape(())
    shape = [1] * ndim
    shape[axis] = v.size
    return v.astype(np.int64).reshape(shape) if v.dtype.kind in "iu" else v.reshape(shape)


def _reduction_rows(layer: Layer, w: np.ndarray) -> np.ndarray:
    """Weights as rows of the reduction's contiguous run (a conv's input channels)."""
    if layer.type == "conv":
        return w.transpose(0, 2, 3, 1).reshape(-1, w.shape[1])
    if layer.type == "fc":
        return w
    return w.transpose(0, 2, 1).reshape(-1, w.shape[1])


def bitplane_statistics(layer: Layer, weights: np.ndarray, group: int) -> dict:
    """All-zero bit-planes of groups of ``group`` weights along the reduction (see the module
    docstring): ``weights_zero_bitplane_fraction`` and ``bitplane_step_fraction``."""
    bits = layer.quant.w_bits
    rows = _reduction_rows(layer, np.asarray(weights, dtype=np.int64)) & (2**bits - 1)
    group = max(1, int(group))
    pad = -rows.shape[1] % group
    if pad:
        rows = np.pad(rows, ((0, 0), (0, pad)))
    groups = rows.reshape(rows.shape[0], -1, group)
    nonzero = np.zeros(groups.shape[:2], dtype=np.int64)
    for plane in range(bits):
        nonzero += np.any((groups >> plane) & 1, axis=2)
    total = nonzero.size * bits
    return {
        "bitplane_group": group,
        "weights_zero_bitplane_fraction": float(1 - nonzero.sum() / total) if total else 0.0,
        "bitplane_step_fraction": float(np.maximum(nonzero, 1).mean() / bits) if total else 1.0,
    }


def _activation_runs(layer: Layer, zero: np.ndarray) -> np.ndarray:
    """A per-activation array of sample ``inputs`` as rows of the reduction's contiguous
    run, in the order the PE packs them: a conv's input channels of one group at one pixel,
    the ``in_features`` of an fc token, the ``k`` of a matmul row."""
    if layer.type == "conv":
        s = layer.spec
        per_group = s.in_channels // s.groups
        return zero.transpose(0, 2, 3, 1).reshape(-1, per_group)
    return zero.reshape(-1, zero.shape[-1])


def zero_group_statistics(layer: Layer, inputs: np.ndarray, zero_point, group: int) -> dict:
    """All-zero groups of ``group`` consecutive sample activations along the reduction's run
    (see the module docstring): ``inputs_group`` and ``inputs_zero_group_fraction``."""
    group = max(1, int(group))
    rows = _activation_runs(layer, np.asarray(inputs) == zero_point)
    pad = -rows.shape[1] % group
    if pad:  # the short last group of a run: its missing activations do no work
        rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=True)
    groups = rows.reshape(rows.shape[0], -1, group)
    fraction = float(np.mean(np.all(groups, axis=2))) if groups.size else 0.0
    return {"inputs_group": group, "inputs_zero_group_fraction": fraction}


def statistics(layer: Layer, tensors: dict, group: int = 1) -> dict:
    """What the tensors of ``layer`` say about its values (see the module docstring);
    ``group`` is the PE's ``k_per_cycle`` at the layer's precision."""
    out: dict = {}
    x = tensors.get("inputs")
    if x is not None:
        zp = _channel_param(tensors, "inputs_zero_point", x.ndim, 0)
        out["inputs_samples"] = int(x.shape[0])
        out["inputs_zero_fraction"] = float(np.mean(x == zp)) if x.size else 0.0
        out.update(zero_group_statistics(layer, x, zp, group))
    w = tensors.get("weights")
    if w is not None:
        lay = layout(layer)
        zp = _channel_param(tensors, "weights_zero_point", w.ndim, lay.w_axis)
        out["weights_zero_fraction"] = float(np.mean(w == zp)) if w.size else 0.0
        if layer.quant.w_encoding != "binary":
            out.update(bitplane_statistics(layer, w, group))
    mask = tensors.get("supermask")
    if mask is not None and mask.size:
        out["supermask_density"] = float(np.mean(mask))
    return out


# ------------------------------------------------------------------------------ the model hook


def value_aware(arch, wl: Workload, x: dict, trace: Trace | None):
    """Apply measured statistics to the model's per-layer arrays ``x`` (in place).

    Called by `accelsim.model.simulate` between `layer_arrays` and `evaluate`. With
    ``technology.zero_gating`` every ``x["pe_actions"][action][layer]`` is multiplied by
    ``1 - inputs_zero_fraction``, except the PE's ``STEP_ACTIONS`` (done once per group of
    ``k_per_cycle`` activations), multiplied by ``1 - inputs_zero_group_fraction``; with
    ``pe.skip_zero_bitplanes`` ``x["step"][layer]`` by ``bitplane_step_fraction`` (the step
    becomes fractional: an average over groups) and the `BITPLANE_ACTIONS` by ``1 -
    weights_zero_bitplane_fraction``. Returns ``(data, assumed)``:
    the provenance ``data`` section (None without a trace) and `Assumed` entries for switches
    that are on where there is no data.
    """
    from accelsim.arch import Assumed

    tech = arch.spec.technology
    gating = bool(tech is not None and getattr(tech, "zero_gating", False))
    skipping = bool(getattr(arch.pe, "skip_zero_bitplanes", False))
    masked = arch.spec.weights.source == "generated"
    assumed = []
    if trace is None:
        if gating:
            assumed.append(Assumed("inputs_zero_fraction", 0.0, "technology.zero_gating is on "
                                   "but no trace with sample activations was given: no MAC "
                                   "is gated"))  # fmt: skip
        if skipping:
            assumed.append(Assumed("weights_zero_bitplane_fraction", 0.0, "pe."
                                   "skip_zero_bitplanes is on but no trace with weights was "
                                   "given: no bit-plane is skipped"))  # fmt: skip
        return None, assumed
    layers = {la.name: la for la in wl.layers}
    problems = []
    for name in trace.layers:
        if name not in layers:
            problems.append(Problem(trace.file or "<trace>", None, name, "the trace has "
                                    f"tensors of a layer that workload {wl.name!r} does not "
                                    f"have{did_you_mean(name, list(layers))}"))  # fmt: skip
            continue
        # shapes must agree with this workload (a trace of another network is an error);
        # values are checked at the precision the tensors were quantized at
        layer = _with_quant(layers[name], trace.quants[name])
        problems += _check_layer(layer, dict(trace.layers[name]), trace.file or "<trace>")[1]
    if problems:
        raise ConfigError(problems)
    step = x["step"].astype(np.float64)
    density = np.full(len(wl.layers), np.nan)  # measured supermask density, NaN: configured
    data_layers: dict = {}
    no_inputs, no_weights, no_mask = [], [], []
    for i, layer in enumerate(wl.layers):
        if not layer.is_gemm:
            continue
        t = trace.layers.get(layer.name)
        runs = x["reason"][i] is None
        if t is None:
            no_inputs.append(layer.name)
            no_weights.append(layer.name)
            no_mask.append(layer.name)
            continue
        if layer.quant != trace.quants[layer.name]:
            data_layers[layer.name] = {
                "not_used": "the layer's precision differs from the one its tensors were "
                f"quantized at ({_bits(trace.quants[layer.name])} -> {_bits(layer.quant)}, "
                "an assignment?)"
            }
            no_inputs.append(layer.name)
            no_weights.append(layer.name)
            continue
        group = arch.pe.k_per_cycle(layer.quant) if runs else 1
        stats = statistics(layer, t, group)
        applied = {}
        if "inputs" not in t:
            no_inputs.append(layer.name)
        if "weights" not in t:
            no_weights.append(layer.name)
        if runs and gating and "inputs_zero_fraction" in stats:
            # a per-MAC action is skipped with its zero activation; an action done once per
            # group of k_per_cycle activations only when all of them are zero
            per_group = set(getattr(arch.pe, "STEP_ACTIONS", ()))
            zeros = {True: "inputs_zero_group_fraction", False: "inputs_zero_fraction"}
            for action, per_mac in x["pe_actions"].items():
                if per_mac[i] == 0:  # an action of another precision (xnor's fallback)
                    continue
                keep = 1.0 - stats[zeros[action in per_group]]
                per_mac[i] *= keep
                applied[f"pe_{action}_scale"] = keep
        if runs and skipping and "weights_zero_bitplane_fraction" in stats:
            step[i] *= stats["bitplane_step_fraction"]
            applied["step_cycles_scale"] = stats["bitplane_step_fraction"]
            keep = 1.0 - stats["weights_zero_bitplane_fraction"]
            for action in BITPLANE_ACTIONS:
                if action in x["pe_actions"]:
                    x["pe_actions"][action][i] *= keep
                    applied[f"pe_{action}_scale"] = applied.get(f"pe_{action}_scale", 1.0) * keep
        if masked and "supermask_density" in stats:
            density[i] = stats["supermask_density"]
            applied["supermask_density"] = stats["supermask_density"]
        elif masked:
            no_mask.append(layer.name)
        data_layers[layer.name] = {**stats, "applied": applied}
    if skipping and np.any(step != x["step"]):
        x["step"] = step
    if masked:
        x["mask_density"] = density
    if masked and no_mask:
        configured = arch.spec.weights.supermask.density
        assumed.append(Assumed("supermask_density", configured, "the trace has no supermask "
                               "of layers " + ", ".join(no_mask) + ": their mask bytes follow "
                               "the configured weights.supermask.density"))  # fmt: skip
    if gating and no_inputs:
        assumed.append(Assumed("inputs_zero_fraction", 0.0, "technology.zero_gating is on but "
                               "the trace has no sample activations of layers "
                               + ", ".join(no_inputs) + ": no MAC of theirs is gated"))  # fmt: skip
    if skipping and no_weights:
        assumed.append(Assumed("weights_zero_bitplane_fraction", 0.0, "pe.skip_zero_bitplanes "
                               "is on but the trace has no weights of layers "
                               + ", ".join(no_weights) + ": none of their bit-planes is "
                               "skipped"))  # fmt: skip
    data = {
        "tensors_file": trace.file,
        "tensors_sha256": trace.sha256,
        "zero_gating": gating,
        "skip_zero_bitplanes": skipping,
        "layers": data_layers,
    }
    return data, assumed


def _with_quant(layer: Layer, quant: QuantSpec) -> Layer:
    from dataclasses import replace

    return layer if layer.quant == quant else replace(layer, quant=quant)


def _bits(q: QuantSpec) -> str:
    return f"a{q.a_bits}/w{q.w_bits}"


# ------------------------------------------------------------------------------ verify


def _bits_needed(lo: int, hi: int) -> int:
    """Narrowest two's complement width holding every value in ``lo..hi``."""
    need = 1
    if hi > 0:
        need = max(need, hi.bit_length() + 1)
    if lo < 0:
        need = max(need, (-lo - 1).bit_length() + 1)
    return need


def _run(layer: Layer, x: np.ndarray, w: np.ndarray, acc_bits: int, overflow: str,
         bias=None):  # fmt: skip
    """The layer on centered operands through the bit-accurate reference:
    ``(outputs, number of outputs that overflowed / saturated)``. ``bias`` (per output
    channel) is the accumulator's initial value (`accelsim.reference.int_gemm`)."""
    from accelsim.reference import int_conv2d, int_gemm

    s = layer.spec
    if layer.type == "conv":
        return int_conv2d(x, w, s.stride, _pads(s.padding), s.dilation, s.groups, acc_bits,
                          overflow, return_overflow=True, bias=bias)  # fmt: skip
    if layer.type == "fc":
        y, bad = int_gemm(x.reshape(-1, x.shape[-1]), w.T, acc_bits, overflow,
                          return_overflow=True, bias=bias)  # fmt: skip
        return y.reshape(*x.shape[:-1], w.shape[0]), bad
    n, count = x.shape[:2]
    out = np.empty((n, count, s.m, s.n), np.int64)
    bad = 0
    for i in range(n):
        for c in range(count):
            y, b = int_gemm(x[i, c], w[c], acc_bits, overflow, return_overflow=True, bias=bias)
            out[i, c] = y
            bad += b
    return out, bad


def _pads(padding):
    from accelsim.workload import pads

    return pads(padding)


def _requantized(layer: Layer, t: dict, acc: np.ndarray) -> np.ndarray:
    from accelsim.reference import requantize

    y = t["outputs"]
    sx = np.float32(np.asarray(t["inputs_scale"]).reshape(-1)[0])
    sy = np.float32(np.asarray(t["outputs_scale"]).reshape(-1)[0])
    sw = np.asarray(t["weights_scale"], dtype=np.float32).reshape(-1)
    mult = ((sx * sw) / sy).astype(np.float32)  # float32, ONNX's order
    zp = int(np.asarray(t.get("outputs_zero_point", 0)).reshape(-1)[0])
    signed = not np.issubdtype(y.dtype, np.unsignedinteger)
    axis = None
    if mult.size > 1:
        axis = layout(layer).o_axis % acc.ndim
    else:
        mult = mult[:1]
    return requantize(acc, mult, zp, bits=layer.quant.out_bits, signed=signed, axis=axis,
                      precision="float32")  # fmt: skip


def _centered(layer: Layer, t: dict) -> tuple[np.ndarray, np.ndarray]:
    """The operands minus their zero points (int64)."""
    x = t["inputs"].astype(np.int64) - _channel_param(t, "inputs_zero_point", t["inputs"].ndim, 0)
    w = t["weights"].astype(np.int64) - _channel_param(
        t, "weights_zero_point", t["weights"].ndim, layout(layer).w_axis
    )
    return x, w


def _max_abs(v: np.ndarray) -> int:
    return max(abs(int(v.min())), abs(int(v.max()))) if v.size else 0


def _limbs(v: np.ndarray, bits: int) -> list[np.ndarray]:
    """``v`` as ``sum(limb[i] * 2**(bits * i))`` with every ``|limb| <= 2**bits``."""
    limbs = []
    while _max_abs(v) > 2**bits:
        limbs.append(v & (2**bits - 1))
        v = v >> bits
    return limbs + [v]


def _exact(layer: Layer, x: np.ndarray, w: np.ndarray, bias=None) -> np.ndarray:
    """The layer's exact outputs (plus ``bias``). When a sum could reach 2**63 (wide operands
    or a long reduction) int64 would wrap: the operands are then cut into limbs narrow enough
    for exact int64 sums and the partial outputs recombined as Python ints (an object
    array)."""
    k = max(layer.k, 1)
    b = 0 if bias is None else _max_abs(bias)
    if _max_abs(x) * _max_abs(w) * k + b < 2**63:
        return _run(layer, x, w, 64, "wrap", bias)[0]
    bits = (62 - k.bit_length()) // 2  # limb products times k stay below 2**62
    total = 0
    for i, xi in enumerate(_limbs(x, bits)):
        for j, wj in enumerate(_limbs(w, bits)):
            part = _run(layer, xi, wj, 64, "wrap")[0].astype(object)
            total = total + part * 2 ** (bits * (i + j))
    if bias is not None:
        shape = [1] * total.ndim
        shape[layout(layer).o_axis % total.ndim] = bias.size
        total = total + bias.astype(object).reshape(shape)
    return total


def verify_layer(layer: Layer, t: dict, acc_bits: int) -> dict:
    """One layer through the bit-accurate reference (see `verify`)."""
    x, w = _centered(layer, t)
    bias = t["bias"].astype(np.int64) if "bias" in t else None  # the accumulator's start
    wrapped, overflows = _run(layer, x, w, acc_bits, "wrap", bias)
    _, saturations = _run(layer, x, w, acc_bits, "saturate", bias)
    exact = _exact(layer, x, w, bias)
    lo, hi = (int(exact.min()), int(exact.max())) if exact.size else (0, 0)
    row = {
        "layer": layer.name,
        "type": layer.type,
        "samples": int(t["inputs"].shape[0]),
        "outputs": int(exact.size),
        "acc_bits": acc_bits,
        "overflows": int(overflows),
        "saturations": int(saturations),
        "max_abs_acc": max(abs(lo), abs(hi)),
        "bits_needed": _bits_needed(lo, hi),
        "compared": None,
        "mismatches": None,
    }
    if "outputs" in t:
        acc = wrapped.astype(np.int64)
        got = _requantized(layer, t, acc) if "outputs_scale" in t else acc
        expected = t["outputs"].astype(np.int64)
        row["compared"] = int(expected.size)
        row["mismatches"] = int(np.count_nonzero(got.astype(np.int64) != expected))
    return row


def verify(wl: Workload, trace: Trace, arch=None) -> tuple[list[dict], list[str]]:
    """Run every GEMM layer that has weights and sample activations through the bit-accurate
    reference (`accelsim.reference.int_conv2d` / `int_gemm`) on the centered operands
    ``inputs - inputs_zero_point`` and ``weights - weights_zero_point``.

    The accumulator is ``acc_bits`` wide: the arch PE's ``acc_bits`` if it declares one, else
    the layer's `QuantSpec`; a layer's ``bias`` is its initial value (preloaded, the first
    term of every sum), so every figure below is of ``bias + sum``. Per layer:
    ``overflows`` (outputs a wrap-around accumulator gets wrong), ``saturations`` (outputs a
    saturating one clamps at least once), ``max_abs_acc``
    (the largest exact output magnitude) and ``bits_needed`` (the narrowest accumulator that
    holds every exact output: enough when it wraps; a saturating one may need more if partial
    sums peak higher, which its saturation count shows), and, when the trace has expected
    ``outputs``, how many differ from the reference's (bias added and requantized as the
    module docstring says). Returns ``(rows, notes)``: notes name the layers left out.
    """
    rows, notes = [], []
    pe_acc = getattr(arch.pe, "acc_bits", None) if arch is not None else None
    for layer in wl.layers:
        if not layer.is_gemm:
            continue
        t = trace.layers.get(layer.name, {})
        missing = [k for k in ("weights", "inputs") if k not in t]
        if missing:
            notes.append(f"{layer.name}: no {' and no '.join(missing)} in the trace: not run")
            continue
        x, w = _centered(layer, t)
        if _max_abs(x) * _max_abs(w) >= 2**63:
            notes.append(f"{layer.name}: products up to {_max_abs(x):,} x {_max_abs(w):,} "
                         "(operands minus zero points) exceed the reference's 64-bit "
                         "products: not run")  # fmt: skip
            continue
        rows.append(verify_layer(layer, t, pe_acc or layer.quant.acc_bits))
    return rows, notes


def verify_table(rows: list[dict]) -> str:
    head = ("layer", "type", "samples", "acc_bits", "overflows", "saturations", "max|acc|",
            "bits_needed", "outputs")  # fmt: skip
    body = []
    for r in rows:
        if r["compared"] is None:
            outputs = "no expected outputs"
        else:
            outputs = f"{r['mismatches']:,} of {r['compared']:,} differ"
        body.append((r["layer"], r["type"], f"{r['samples']:,}", str(r["acc_bits"]),
                     f"{r['overflows']:,}", f"{r['saturations']:,}", f"{r['max_abs_acc']:,}",
                     str(r["bits_needed"]), outputs))  # fmt: skip
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    lines = []
    for row in (head, *body):
        cells = [c.ljust(wd) if j in (0, 1, 8) else c.rjust(wd)
                 for j, (c, wd) in enumerate(zip(row, widths))]  # fmt: skip
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


__all__ = [
    "FIELDS",
    "Trace",
    "check_tensors",
    "load_trace",
    "make_trace",
    "save_trace",
    "statistics",
    "value_aware",
    "verify",
]
