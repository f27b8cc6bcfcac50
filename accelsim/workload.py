"""Workloads: what to compute and at which precision (DESIGN.md §2).

A workload file lists layers. GEMM layers (``conv``, ``fc``, ``matmul``) are lowered to the
GEMM view ``inputs[m, k] @ weights[k, n] -> outputs[m, n]`` repeated ``groups`` times:

* ``conv`` (NCHW, ONNX semantics): ``out_h = floor((in_h + pad_top + pad_bottom -
  dilation_h (kh - 1) - 1) / stride_h) + 1`` (likewise ``out_w``); ``m = batch out_h out_w``,
  ``n = out_channels / groups``, ``k = in_channels / groups kh kw``, ``groups = groups``
  (depthwise: ``groups = in_channels``, so ``n = out_channels / in_channels``, ``k = kh kw``).
* ``fc``: ``m = batch tokens``, ``n = out_features``, ``k = in_features``, ``groups = 1``.
* ``matmul`` (batched, e.g. attention): ``count`` independent ``[m x k] @ [k x n]`` per
  sample, so ``groups = batch count``.

Non-GEMM layers (``pool``, ``eltwise``, ``activation``, ``softmax``, ``layernorm``) are kept
with their element counts so they are never silently dropped; whether they are costed depends
on the arch. A ``pool``'s output size follows conv's rule (``kernel``, ``stride``, ``padding``,
``dilation``); its ``elements`` are ``batch channels out_h out_w kh kw`` (the taps each window
reads; a dilated window skips the elements between them).

A mixed-precision *assignment* file maps layer names to partial QuantSpecs and overrides the
workload's precisions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from accelsim.errors import ConfigError, Problem, did_you_mean
from accelsim.quant import QuantOverride, QuantSpec
from accelsim.schema import NonNegInt, PositiveInt, Strict, validate
from accelsim.yamlio import Doc, read_yaml

Pair = PositiveInt | tuple[PositiveInt, PositiveInt]
Padding = (
    NonNegInt | tuple[NonNegInt, NonNegInt] | tuple[NonNegInt, NonNegInt, NonNegInt, NonNegInt]
)


def pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def pads(value) -> tuple[int, int, int, int]:
    """ONNX order ``[top, left, bottom, right]``; an int or ``[h, w]`` pads both sides."""
    if isinstance(value, int):
        return (value,) * 4
    if len(value) == 2:
        return (value[0], value[1], value[0], value[1])
    return tuple(value)


class _LayerBase(Strict):
    name: str = Field(min_length=1)
    input_from: tuple[str, ...] = ()
    quant: QuantOverride | None = None


def _window_out(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dil: int) -> int:
    return (size + pad_lo + pad_hi - dil * (kernel - 1) - 1) // stride + 1


class Conv(_LayerBase):
    type: Literal["conv"]
    in_channels: PositiveInt
    out_channels: PositiveInt
    in_h: PositiveInt
    in_w: PositiveInt
    kernel: Pair
    stride: Pair = 1
    padding: Padding = 0
    dilation: Pair = 1
    groups: PositiveInt = 1

    @model_validator(mode="after")
    def _consistent(self):
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"groups ({self.groups}) must divide in_channels ({self.in_channels}) "
                f"and out_channels ({self.out_channels})"
            )
        if min(self.out_hw) < 1:
            raise ValueError(
                f"the kernel does not fit the padded input: output would be {self.out_hw}"
            )
        return self

    @property
    def out_hw(self) -> tuple[int, int]:
        (kh, kw), (sh, sw), (dh, dw) = pair(self.kernel), pair(self.stride), pair(self.dilation)
        top, left, bottom, right = pads(self.padding)
        return (
            _window_out(self.in_h, kh, sh, top, bottom, dh),
            _window_out(self.in_w, kw, sw, left, right, dw),
        )

    def in_shape(self):
        return (self.in_channels, self.in_h, self.in_w)

    def out_shape(self):
        return (self.out_channels, *self.out_hw)

    def input_elements(self, batch: int) -> int:
        """Distinct input elements (the ifmap, not its im2col expansion; padding is not
        stored)."""
        return batch * self.in_channels * self.in_h * self.in_w

    def gemm(self, batch: int):
        kh, kw = pair(self.kernel)
        oh, ow = self.out_hw
        g = self.groups
        return batch * oh * ow, self.out_channels // g, self.in_channels // g * kh * kw, g


class FC(_LayerBase):
    type: Literal["fc"]
    in_features: PositiveInt
    out_features: PositiveInt
    tokens: PositiveInt = 1

    def in_shape(self):
        return (self.tokens, self.in_features)

    def out_shape(self):
        return (self.tokens, self.out_features)

    def gemm(self, batch: int):
        return batch * self.tokens, self.out_features, self.in_features, 1


class MatMul(_LayerBase):
    type: Literal["matmul"]
    m: PositiveInt
    n: PositiveInt
    k: PositiveInt
    count: PositiveInt = 1

    def in_shape(self):
        return (self.count, self.m, self.k)

    def out_shape(self):
        return (self.count, self.m, self.n)

    def gemm(self, batch: int):
        return self.m, self.n, self.k, batch * self.count


class Pool(_LayerBase):
    type: Literal["pool"]
    pool: Literal["max", "avg", "global_avg"]
    channels: PositiveInt
    in_h: PositiveInt
    in_w: PositiveInt
    kernel: Pair
    stride: Pair = 1
    padding: Padding = 0
    dilation: Pair = 1

    @model_validator(mode="after")
    def _consistent(self):
        kh, kw = self.extent
        top, left, bottom, right = pads(self.padding)
        if max(top, bottom) >= kh or max(left, right) >= kw:
            # a window wholly in the padding pools no input element
            what = "the kernel" if self.extent == pair(self.kernel) else "the dilated kernel"
            raise ValueError(
                f"padding {list(pads(self.padding))} must be smaller than {what} "
                f"{[kh, kw]} on each side"
            )
        if min(self.out_hw) < 1:
            raise ValueError(
                f"the kernel does not fit the padded input: output would be {self.out_hw}"
            )
        return self

    @property
    def extent(self) -> tuple[int, int]:
        """The span of one window, ``dilation (kernel - 1) + 1`` per axis."""
        (kh, kw), (dh, dw) = pair(self.kernel), pair(self.dilation)
        return dh * (kh - 1) + 1, dw * (kw - 1) + 1

    @property
    def out_hw(self) -> tuple[int, int]:
        (kh, kw), (sh, sw), (dh, dw) = pair(self.kernel), pair(self.stride), pair(self.dilation)
        top, left, bottom, right = pads(self.padding)
        return (
            _window_out(self.in_h, kh, sh, top, bottom, dh),
            _window_out(self.in_w, kw, sw, left, right, dw),
        )

    def in_shape(self):
        return (self.channels, self.in_h, self.in_w)

    def out_shape(self):
        return (self.channels, *self.out_hw)

    def elements(self, batch: int) -> int:
        """Input elements read: ``kh kw`` per window (a dilated window reads its taps, not
        the elements between them), one compare/add each."""
        kh, kw = pair(self.kernel)
        oh, ow = self.out_hw
        return batch * self.channels * oh * ow * kh * kw


class _SameShape(_LayerBase):
    """Element-wise work: the output has the input's ``shape`` (each subclass declares it)."""

    def in_shape(self):
        return self.shape

    def out_shape(self):
        return self.shape

    def elements(self, batch: int) -> int:
        n = batch
        for d in self.shape:
            n *= d
        return n


class Eltwise(_SameShape):
    type: Literal["eltwise"]
    op: Literal["add", "mul", "sub", "div"]
    shape: tuple[PositiveInt, ...] = Field(min_length=1)


class Activation(_SameShape):
    """Element-wise work on one tensor that is not fused into a GEMM: an activation function
    (``relu``, ``sigmoid``, ``gelu``, ...) or a batch norm that could not be folded."""

    type: Literal["activation"]
    op: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    shape: tuple[PositiveInt, ...] = Field(min_length=1)


class _RowOp(_LayerBase):
    rows: PositiveInt
    cols: PositiveInt

    def in_shape(self):
        return (self.rows, self.cols)

    def out_shape(self):
        return (self.rows, self.cols)

    def elements(self, batch: int) -> int:
        return batch * self.rows * self.cols


class Softmax(_RowOp):
    type: Literal["softmax"]


class LayerNorm(_RowOp):
    type: Literal["layernorm"]


LayerSpec = Annotated[
    Conv | FC | MatMul | Pool | Eltwise | Activation | Softmax | LayerNorm,
    Field(discriminator="type"),
]
GEMM_TYPES = ("conv", "fc", "matmul")


class WorkloadFile(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    source: str = ""
    batch: PositiveInt
    quant: QuantSpec
    layers: tuple[LayerSpec, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Layer:
    """One layer, lowered: GEMM dims (zero for non-GEMM work) and its resolved QuantSpec.

    ``elements`` is the work of a non-GEMM layer; ``input_elements`` the distinct input
    elements of a GEMM layer (smaller than ``m k groups`` for a conv, whose windows overlap).
    """

    name: str
    type: str
    m: int
    n: int
    k: int
    groups: int
    elements: int
    quant: QuantSpec
    spec: Conv | FC | MatMul | Pool | Eltwise | Activation | Softmax | LayerNorm
    input_elements: int = 0
    k_run: int = 0  # contiguous run of the reduction: a conv's input channels per group, else k

    @property
    def is_gemm(self) -> bool:
        return self.type in GEMM_TYPES

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k * self.groups


@dataclass(frozen=True)
class Workload:
    name: str
    batch: int
    layers: tuple[Layer, ...]
    quant: QuantSpec
    file: str = ""
    sha256: str = ""
    assumed: tuple = ()

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)


def lower(spec, batch: int, quant: QuantSpec) -> Layer:
    if spec.type in GEMM_TYPES:
        m, n, k, g = spec.gemm(batch)
        conv = spec.type == "conv"
        unique = spec.input_elements(batch) if conv else m * k * g
        run = spec.in_channels // spec.groups if conv else k
        return Layer(spec.name, spec.type, m, n, k, g, 0, quant, spec, min(unique, m * k * g), run)
    return Layer(spec.name, spec.type, 0, 0, 0, 0, spec.elements(batch), quant, spec)


MAX_WORK = 2**50  # MACs (or elements) of one layer; beyond, the model's int64 counts overflow
MAX_TOTAL_WORK = 2**62  # of all layers together; beyond, the network's int64 totals overflow


def too_large(layer: Layer) -> str | None:
    """The work of ``layer`` if it is more than the model counts exactly, else None."""
    work = layer.macs if layer.is_gemm else layer.elements
    return f"{work:,} {'MACs' if layer.is_gemm else 'elements'}" if work > MAX_WORK else None


TOTAL_TOO_LARGE = "too much work in all layers together to model"


def total_too_large(layers) -> tuple[str, str] | None:
    """``(found, allowed)`` when the work of all ``layers`` together is more than the model
    totals exactly (the message is TOTAL_TOO_LARGE), else None."""
    work = sum(layer.macs + layer.elements for layer in layers)
    if work <= MAX_TOTAL_WORK:
        return None
    return f"{work:,} MACs and elements", f"at most {MAX_TOTAL_WORK:,} (2**62)"


def _check_names(data, doc: Doc) -> list[Problem]:
    """Unique layer names; ``input_from`` names an earlier layer. Works on the raw data so
    these problems are reported together with the type errors of the same file."""
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, tuple):
        return []
    problems, seen = [], {}
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("name"), str):
            continue
        name = layer["name"]
        if name in seen:
            problems.append(
                doc.problem(
                    ("layers", i, "name"),
                    f"duplicate layer name (first used by layers.{seen[name]})",
                    repr(name),
                )
            )
        sources = layer.get("input_from", ())
        for j, src in enumerate(sources if isinstance(sources, tuple) else ()):
            if isinstance(src, str) and src not in seen:
                problems.append(
                    doc.problem(
                        ("layers", i, "input_from", j),
                        f"names no earlier layer{did_you_mean(src, seen)}",
                        repr(src),
                    )
                )
        seen.setdefault(name, i)
    return problems


def _resolve_quant(default: QuantSpec, change, doc: Doc, path: tuple) -> QuantSpec | Problem:
    try:
        return default.override(change)
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        msg = errors()[0]["msg"] if errors else str(exc)
        return doc.problem(path, msg.removeprefix("Value error, "))


def workload_from_doc(doc: Doc) -> Workload:
    problems = _check_names(doc.data, doc)
    try:
        wf = validate(WorkloadFile, doc)
    except ConfigError as exc:
        raise ConfigError(exc.problems + problems) from None
    if problems:
        raise ConfigError(problems)
    layers = []
    for i, spec in enumerate(wf.layers):
        quant = _resolve_quant(wf.quant, spec.quant, doc, ("layers", i, "quant"))
        if isinstance(quant, Problem):
            problems.append(quant)
            continue
        layers.append(lower(spec, wf.batch, quant))
        if work := too_large(layers[-1]):
            problems.append(
                doc.problem(("layers", i), "too much work in one layer to model", work,
                            f"at most {MAX_WORK:,} (2**50)")
            )  # fmt: skip
    if not problems and (total := total_too_large(layers)):
        problems.append(doc.problem(("layers",), TOTAL_TOO_LARGE, *total))
    if problems:
        raise ConfigError(problems)
    digest = hashlib.sha256(Path(doc.file).read_bytes()).hexdigest() if doc.file else ""
    return Workload(wf.name, wf.batch, tuple(layers), wf.quant, doc.file, digest)


def load_workload(path, *, batch: int | None = None) -> Workload:
    """Load a workload: a YAML layer trace, a SCALE-Sim topology ``.csv`` or an ONNX model
    (``batch`` sets an ONNX model's dynamic batch dimension; other files state their batch)."""
    if str(path).lower().endswith(".onnx"):
        from accelsim.onnx_import import load_onnx

        return load_onnx(path, batch=batch)
    if batch is not None:
        raise ConfigError(
            Problem(str(path), None, "batch", "only an ONNX model's batch can be set; "
                    "a workload file states its own", repr(batch))
        )  # fmt: skip
    if str(path).lower().endswith(".csv"):
        from accelsim.scalesim import load_topology

        return load_topology(path)
    return workload_from_doc(read_yaml(path))


def workload_to_yaml(wl: Workload) -> str:
    """The workload file text for ``wl`` (what ``accelsim import`` writes)."""
    import yaml

    layers = []
    for layer in wl.layers:
        spec = layer.spec.model_dump(exclude_none=True)
        spec = {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()}
        if not spec.get("input_from"):
            spec.pop("input_from", None)
        if layer.quant != wl.quant:
            spec["quant"] = {
                k: v for k, v in layer.quant.model_dump().items() if v != getattr(wl.quant, k)
            }
        layers.append(spec)
    doc = {
        "name": wl.name,
        "description": f"imported from {Path(wl.file).name}" if wl.file else "",
        "source": wl.file,
        "batch": wl.batch,
        "quant": wl.quant.model_dump(),
        "layers": layers,
    }
    head = "".join(f"# assumed {a.name}: {a.reason}\n" for a in wl.assumed)
    return head + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100)


# ---------------------------------------------------------------------------- assignments


class AssignmentFile(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    assignment: dict[str, QuantOverride] = Field(min_length=1)


@dataclass(frozen=True)
class Assignment:
    """Layer name -> partial QuantSpec, read from its own small file."""

    name: str
    layers: tuple[tuple[str, QuantOverride], ...]
    doc: Doc | None = None
    file: str = ""
    sha256: str = ""

    def apply(self, wl: Workload) -> Workload:
        """Return ``wl`` with these precisions; unknown layer names are ConfigErrors."""
        names = [layer.name for layer in wl.layers]
        doc = self.doc or Doc(self.file or "<assignment>", None, {})
        problems, changes = [], dict(self.layers)
        for name in changes:
            if name not in names:
                hint = did_you_mean(name, names)
                message = f"no layer of workload {wl.name!r} has this name{hint}"
                problems.append(doc.problem(("assignment", name), message))
        layers = []
        for layer in wl.layers:
            quant = _resolve_quant(
                layer.quant, changes.get(layer.name), doc, ("assignment", layer.name)
            )
            if isinstance(quant, Problem):
                problems.append(quant)
                continue
            layers.append(replace(layer, quant=quant))
        if problems:
            raise ConfigError(problems)
        return replace(wl, layers=tuple(layers))


def assignment_from_doc(doc: Doc) -> Assignment:
    af = validate(AssignmentFile, doc)
    digest = hashlib.sha256(Path(doc.file).read_bytes()).hexdigest() if doc.file else ""
    return Assignment(af.name, tuple(af.assignment.items()), doc, doc.file, digest)


def load_assignment(path) -> Assignment:
    return assignment_from_doc(read_yaml(path))


def make_assignment(name: str, layers: dict) -> Assignment:
    """An `Assignment` from Python: ``make_assignment("w4", {"conv1": {"w_bits": 4}})``,
    validated like a file."""
    doc = Doc("<python>", {"name": name, "assignment": dict(layers)}, {})
    af = validate(AssignmentFile, doc)
    return Assignment(af.name, tuple(af.assignment.items()), doc)
