"""Accelerator descriptions: what hardware exists (DESIGN.md §2).

An arch file has an ``array`` (PE grid, dataflows, clock), a ``pe`` section whose ``kind``
selects a PE model from `accelsim.pe.REGISTRY`, and a ``timing`` mode: ``accelsim`` (our
closed form, validated cycle by cycle against `accelsim.reference.systolic`) or
``scalesim`` (SCALE-Sim v3's per-layer cycle counts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from accelsim.errors import did_you_mean
from accelsim.pe import REGISTRY, PEConfig
from accelsim.pipeline import LayerPipelined
from accelsim.reconfig import Reconfig, check_modes
from accelsim.schema import PerCycle, PositiveFloat, PositiveInt, Strict, validate
from accelsim.weights import DramWeights, WeightSource
from accelsim.yamlio import Doc, read_yaml

Dataflow = Literal["os", "ws", "is"]
MAX_PES = 2**32  # beyond, the model's int64 counts (PEs x cycles) overflow
Timing = Literal["accelsim", "scalesim"]


class ArrayConfig(Strict):
    rows: PositiveInt
    cols: PositiveInt
    dataflow: Dataflow | Annotated[tuple[Dataflow, ...], Field(min_length=1)]
    clock_mhz: Annotated[float, Field(ge=1e-3)]  # 1 kHz; slower overflows the latency

    @model_validator(mode="after")
    def _pes_countable(self):
        if self.rows * self.cols > MAX_PES:
            raise ValueError(
                f"rows x cols is {self.rows * self.cols:,} PEs; at most {MAX_PES:,} (2**32)"
            )
        return self

    @property
    def dataflows(self) -> tuple[str, ...]:
        return (self.dataflow,) if isinstance(self.dataflow, str) else tuple(self.dataflow)


class Buffer(Strict):
    """An on-chip SRAM buffer; energies default to the technology model's fit.

    ``banks``: the buffer is that many separate SRAM macros of ``size_bytes / banks`` each
    (distributed buffers, each next to the PEs it feeds); an access touches one macro, so
    the per-byte energy is that of a macro of ``size_bytes / banks`` (accelsim.energy).
    """

    size_bytes: PositiveInt
    bytes_per_cycle: PerCycle
    banks: PositiveInt = 1
    read_pj_per_byte: PositiveFloat | None = None
    write_pj_per_byte: PositiveFloat | None = None


class InputBuffer(Buffer):
    """The input buffer. ``window_reuse``: the array is fed through a sliding-window loader
    (line buffer) that reuses the overlap of neighbouring conv windows, so the buffer is
    read once per distinct ifmap element per pass, not once per im2col element
    (accelsim.model)."""

    window_reuse: bool = False


class Memories(Strict):
    inputs: InputBuffer
    weights: Buffer
    outputs: Buffer


class Dram(Strict):
    bytes_per_cycle: PerCycle
    kind: str = "lpddr4"
    pj_per_byte: PositiveFloat | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        from accelsim.technology import dram_kinds

        kinds = dram_kinds()
        if kind not in kinds:
            hint = did_you_mean(kind, kinds)
            raise ValueError(f"unknown DRAM kind {kind!r}{hint}; allowed: {', '.join(kinds)}")
        return kind


class TechnologyConfig(Strict):
    """Process node and supply; overrides of the technology model's defaults.

    ``zero_gating``: the PEs skip the work of a zero activation (clock or operand gating,
    whatever the PE kind). It takes effect with a trace's sample activations
    (``simulate(..., trace=)``): every PE action count of a layer is multiplied by ``1 -`` the
    measured fraction of zero activations (`accelsim.trace`). Default off.
    """

    node_nm: PositiveFloat
    voltage_v: PositiveFloat | None = None
    mac_pj_scale: PositiveFloat = 1.0
    register_pj_per_byte: PositiveFloat | None = None
    # leakage power density of the whole chip at this node and supply (nW per um^2 of the
    # modelled area, used as given); default: the technology table's, node- and V-scaled
    leakage_nw_per_um2: Annotated[float, Field(ge=0)] | None = None
    zero_gating: bool = False  # value-aware costs (accelsim.trace)

    @model_validator(mode="after")
    def _in_range(self):
        from accelsim.technology import technology

        technology(self.node_nm, self.voltage_v)  # ValueError names the allowed range
        return self


class VectorUnit(Strict):
    """Executes non-GEMM work (pooling, element-wise, softmax, layer norm)."""

    lanes: PositiveInt
    op_pj: PositiveFloat | None = None


class ArchFile(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    source: str = ""
    array: ArrayConfig
    pe: Annotated[PEConfig, Field(discriminator="kind")]
    timing: Timing = "accelsim"
    memories: Memories | None = None
    dram: Dram | None = None
    technology: TechnologyConfig | None = None
    vector_unit: VectorUnit | None = None
    reconfig: Reconfig | None = None  # reconfigurable array modes (accelsim.reconfig)
    execution: LayerPipelined | None = None  # layer-pipelined mode (accelsim.pipeline)
    weights: Annotated[WeightSource, Field(discriminator="source")] = DramWeights(source="dram")

    @model_validator(mode="after")
    def _memories_need_dram(self):
        if (self.memories is None) != (self.dram is None):
            raise ValueError("memories and dram go together: give both or neither")
        if self.weights.source == "generated" and self.memories is None:
            raise ValueError(
                "weights.source generated needs memories and dram (the supermask crosses DRAM)"
            )
        if self.reconfig is not None and self.execution is not None:
            raise ValueError(
                "reconfig and execution (layer_pipelined) cannot be combined: give one or neither"
            )
        return self


@dataclass(frozen=True)
class Assumed:
    """A parameter that was assumed rather than given, with why (report provenance)."""

    name: str
    value: object
    reason: str


@dataclass(frozen=True)
class Arch:
    spec: ArchFile
    file: str = ""
    sha256: str = ""
    assumed: tuple[Assumed, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def rows(self) -> int:
        return self.spec.array.rows

    @property
    def cols(self) -> int:
        return self.spec.array.cols

    @property
    def dataflows(self) -> tuple[str, ...]:
        return self.spec.array.dataflows

    @property
    def clock_hz(self) -> float:
        return self.spec.array.clock_mhz * 1e6

    @property
    def pe(self):
        return self.spec.pe

    @property
    def timing(self) -> str:
        return self.spec.timing


def arch_from_doc(doc: Doc) -> Arch:
    spec = validate(ArchFile, doc)
    check_modes(spec, doc)
    digest = hashlib.sha256(Path(doc.file).read_bytes()).hexdigest() if doc.file else ""
    return Arch(spec, doc.file, digest)


def load_arch(path) -> Arch:
    """Load an accelerator description (YAML; SCALE-Sim ``.cfg`` files as well)."""
    if str(path).lower().endswith(".cfg"):
        from accelsim.scalesim import load_cfg

        return load_cfg(path)
    return arch_from_doc(read_yaml(path))


__all__ = ["Arch", "ArchFile", "ArrayConfig", "Assumed", "REGISTRY", "load_arch"]


def with_changes(arch: Arch, changes: dict) -> Arch:
    """A new `Arch` with fields replaced by dotted path, validated like a file.

    ``with_changes(arch, {"array.rows": 64, "technology.voltage_v": 0.7})``. An unknown path
    or a bad value is a `ConfigError` naming the path (with "did you mean").
    """
    from accelsim.errors import ConfigError, Problem

    data = arch.spec.model_dump()
    for path, value in changes.items():
        node, keys = data, path.split(".")
        for i, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                options = list(node) if isinstance(node, dict) else []
                where = ".".join(keys[: i + 1])
                raise ConfigError(
                    Problem("<changes>", None, where, f"no such field{did_you_mean(key, options)}",
                            repr(value), ", ".join(options) or None)
                )  # fmt: skip
            if i == len(keys) - 1:
                node[key] = value
            else:
                node = node[key]
    doc = Doc("<changes>", data, {})
    spec = validate(ArchFile, doc, as_tuples(data))
    check_modes(spec, doc)
    assumed = tuple(a for a in arch.assumed if a.name not in changes)
    return Arch(spec, arch.file, arch.sha256, assumed)


def as_tuples(value):
    """Lists to tuples, as the YAML reader gives them (the models are strict about it)."""
    if isinstance(value, dict):
        return {k: as_tuples(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(as_tuples(v) for v in value)
    return value
