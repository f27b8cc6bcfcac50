"""Layer-pipelined execution: every layer has its own compute unit and frames stream through
them (FINN, Umuroglu et al., FPGA 2017; many BNN accelerators).

An arch selects it with an ``execution`` section; ``budget_lanes`` is the total ``pe x simd``
the design has::

    execution: {mode: layer_pipelined, budget_lanes: 24704}

The per-layer folding is either searched (below) or given in a *folding file*, which, like a
mixed-precision assignment, belongs to one network (``simulate(..., folding=)``,
``accelsim run ARCH WORKLOAD --folding FILE``)::

    name: finn_lfc_max
    folding:
      fc0: {pe: 128, simd: 64, pad: true}
      fc1: {pe: 128, simd: 64}

**Stage cycles.** A layer's matrix-vector unit has ``pe`` rows (outputs computed in
parallel) of ``simd`` lanes (reduction elements per row per step); FINN's folding: the
``n x k`` weight matrix is folded ``n / pe`` times along the outputs and ``k / simd`` times
along the reduction, and the unit repeats that for every output pixel (finn's MVAU
``get_exp_cycles``; the same count is the "Ext Latency" in the BNN-PYNQ ``config.h``
headers, e.g. ``cnvW1A1`` L0: 30·30 pixels x 64/16 x 27/3 = 32,400). SIMD lanes run along
a conv's input channels (FINN's sliding-window unit streams channels), so with ``k_run`` the
contiguous reduction run (input channels per group of a conv, all of ``k`` for an fc) and
``s`` the PE kind's cycles per step::

    stage_cycles = s · groups · m · ceil(n / pe) · (k / k_run) · ceil(k_run / simd)

``pe`` must divide ``n`` and ``simd`` must divide ``k_run`` (finn's MatrixVectorActivation
rule, ``MH % PE == 0`` and ``MW % SIMD == 0``), unless the layer sets ``pad: true``: then
the matrix is padded up to the next multiple, as FINN's LFC-max pads 784 inputs to 832 and
10 outputs to 16 (hence the ceilings). ``array.rows`` and ``array.cols`` bound one layer's
``pe`` and ``simd`` (the largest unit the design may build); a given folding's lanes must
fit ``budget_lanes``. The arch's PE kind says which precisions a layer may have (``check``)
and the cycles of a step (``cycles_per_step``: 1 for xnor and its integer fallback,
``w_bits`` for ``bit_serial``); its own spatial packing (``k_per_cycle``, e.g. xnor
``lanes``) is replaced by ``simd``.

**Grouped and depthwise convs** (``groups > 1``) run on a vector-vector unit instead, as
FINN runs depthwise convs on its VectorVectorActivation unit (VVAU; finn
``custom_op/fpgadataflow/vectorvectoractivation.py``, ``get_exp_cycles``: ``Channels ·
k_h · k_w / PE / SIMD · dim_h · dim_w``, ``PE`` dividing ``Channels`` and ``SIMD`` dividing
``k_h · k_w``): ``pe`` runs over all ``groups · n`` output channels and ``simd`` over the
per-group reduction ``k`` (``kh · kw`` for a depthwise conv: FINN's rule exactly)::

    stage_cycles = s · m · ceil(groups · n / pe) · ceil(k / simd)

``pe`` must divide ``groups · n`` and ``simd`` must divide ``k`` unless ``pad: true``;
``array.rows``/``array.cols`` bound them as above. Folded like a dense conv (the groups one
after another on an ``n x k`` matrix unit) a depthwise conv would get a single lane
(``pe <= n = 1``, ``simd <= k_run = 1``). Dense convs, fcs and matmuls (whose ``count``
products, their ``groups``, are folded one after another) keep the matrix-vector rule above.

Non-GEMM layers are stages on the ``vector_unit`` (``ceil(elements / lanes)`` cycles) when
the arch has one, and listed as not costed otherwise.

**Frames.** Stages overlap on consecutive frames, so a new frame enters every
``II = max(stage_cycles)`` cycles: ``frames_per_s = clock / II``. One frame goes through
the stages one after another: ``latency = sum(stage_cycles) / clock``. This is exact for
fully connected stages (a stage needs the whole input vector) and an upper bound for
convolutions, which in FINN may start on the first rows of their input.

**Folding search** (``budget_lanes``): minimise ``II`` subject to ``sum(pe · simd) <=
budget_lanes`` over the legal (dividing) foldings. For a target ``T`` every layer
independently takes its cheapest folding with ``stage_cycles <= T``; the lanes needed fall
as ``T`` grows, so a bisection over the achievable stage-cycle values finds the smallest
feasible ``T`` — the optimum. Ties go to fewer cycles.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from accelsim.errors import ConfigError, Problem, did_you_mean
from accelsim.schema import PositiveInt, Strict, validate
from accelsim.yamlio import Doc, read_yaml


class Allocation(Strict):
    """One layer's matrix-vector unit: ``pe`` rows of ``simd`` lanes."""

    pe: PositiveInt
    simd: PositiveInt
    pad: bool = False


class LayerPipelined(Strict):
    """The arch's ``execution`` section: ``budget_lanes`` = total ``pe x simd`` of the design."""

    mode: Literal["layer_pipelined"]
    budget_lanes: PositiveInt


class FoldingFile(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    source: str = ""
    folding: dict[str, Allocation] = Field(min_length=1)


@dataclass(frozen=True)
class Folding:
    """Layer name -> `Allocation` for one network, read from its own small file."""

    name: str
    layers: tuple[tuple[str, Allocation], ...]
    doc: Doc
    file: str = ""
    sha256: str = ""


def folding_from_doc(doc: Doc) -> Folding:
    ff = validate(FoldingFile, doc)
    digest = hashlib.sha256(Path(doc.file).read_bytes()).hexdigest() if doc.file else ""
    return Folding(ff.name, tuple(ff.folding.items()), doc, doc.file, digest)


def load_folding(path) -> Folding:
    """Load a folding file (per-layer ``pe``, ``simd``, optional ``pad``)."""
    return folding_from_doc(read_yaml(path))


def divisors(x: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(x) + 1) if x % d == 0]
    return sorted(set(small + [x // d for d in small]))


def is_vvau(layer) -> bool:
    """Whether a layer runs on a vector-vector unit: a grouped or depthwise conv (module
    docstring)."""
    return layer.type == "conv" and layer.groups > 1


def extents(m, n, k, k_run, groups, vvau=False) -> tuple[int, int, int]:
    """``(pe extent, simd extent, passes)`` of a layer's unit: ``pe`` and ``simd`` fold the
    extents, and the folded unit runs ``passes`` times a frame (module docstring)."""
    if vvau:
        return groups * n, k, m
    return n, k_run, groups * m * (k // k_run)


def stage_cycles(m, n, k, k_run, groups, pe, simd, step, vvau=False) -> int:
    """Cycles one frame spends in a layer's unit (module docstring); ``vvau`` for a grouped
    or depthwise conv (`is_vvau`)."""
    rows, cols, passes = extents(m, n, k, k_run, groups, vvau)
    return step * passes * -(-rows // pe) * -(-cols // simd)


def options(
    m, n, k, k_run, groups, step, max_pe, max_simd, vvau=False
) -> list[tuple[int, int, int, int]]:
    """Legal foldings of one layer as ``(lanes, cycles, pe, simd)``, fewest lanes first."""
    rows, cols, _ = extents(m, n, k, k_run, groups, vvau)
    out = [
        (pe * simd, stage_cycles(m, n, k, k_run, groups, pe, simd, step, vvau), pe, simd)
        for pe in divisors(rows)
        if pe <= max_pe
        for simd in divisors(cols)
        if simd <= max_simd
    ]
    return sorted(out)


def fold(layer_options: list[list[tuple]], budget: int) -> list[tuple[int, int, int, int]]:
    """The folding with the smallest initiation interval within ``budget`` lanes (module
    docstring); ``layer_options`` as `options` returns them (each holds ``pe = simd = 1``,
    so a budget of one lane per layer always fits)."""

    def cheapest(opts, target):
        fits = [o for o in opts if o[1] <= target]
        return min(fits, key=lambda o: (o[0], o[1])) if fits else None

    def lanes(target):
        picks = [cheapest(opts, target) for opts in layer_options]
        return None if None in picks else sum(p[0] for p in picks)

    targets = sorted({o[1] for opts in layer_options for o in opts})
    lo, hi = 0, len(targets) - 1  # lanes(targets[hi]) <= budget
    while lo < hi:
        mid = (lo + hi) // 2
        got = lanes(targets[mid])
        if got is not None and got <= budget:
            hi = mid
        else:
            lo = mid + 1
    return [cheapest(opts, targets[hi]) for opts in layer_options]


def _problem(arch, path: tuple, message: str, found=None, allowed=None) -> Problem:
    """A Problem in the arch file at ``path`` (its line read back from the file)."""
    line = None
    if arch.file and not str(arch.file).lower().endswith(".cfg"):
        line = read_yaml(arch.file).line(path)
    dotted = ".".join(str(p) for p in path)
    return Problem(arch.file or "<arch>", line, dotted, message, found, allowed)


def _allowed(values: list[int]) -> str:
    shown = values if len(values) <= 16 else [*values[:8], "...", *values[-4:]]
    return ", ".join(str(v) for v in shown)


def _given(arch, wl, x, run, folding: Folding) -> dict:
    """Check a folding file against the workload and the arch; ``{layer index: (pe, simd)}``."""
    names = [la.name for la in wl.layers]
    gemm = {la.name: i for i, la in enumerate(wl.layers) if la.is_gemm}
    given = dict(folding.layers)
    problems, chosen = [], {}
    for name, alloc in given.items():
        path = ("folding", name)
        if name not in names:
            problems.append(folding.doc.problem(
                path, f"no layer of workload {wl.name!r} has this name"
                f"{did_you_mean(name, list(gemm))}", repr(name), ", ".join(gemm),
            ))  # fmt: skip
            continue
        if name not in gemm:
            layer = wl.layers[names.index(name)]
            problems.append(folding.doc.problem(
                path, f"is a {layer.type} layer: only GEMM layers get a pe/simd unit",
                repr(name), ", ".join(gemm),
            ))  # fmt: skip
            continue
        i, layer = gemm[name], wl.layers[gemm[name]]
        vvau = is_vvau(layer)
        rows, cols, _ = extents(int(x["m"][i]), int(x["n"][i]), int(x["k"][i]), layer.k_run,
                                int(x["groups"][i]), vvau)  # fmt: skip
        if vvau:
            what_pe = (
                f"output channels (groups x n = {int(x['groups'][i])} x {int(x['n'][i])}"
                ": a grouped or depthwise conv's vector-vector unit, as FINN's VVAU)"
            )
            what_simd = (
                "per-group reduction (k = in_channels / groups x kh x kw; kh x kw "
                "for a depthwise conv)"
            )
        else:
            what_pe = "outputs (n)"
            what_simd = "reduction run (k_run: input channels of a conv, in_features of an fc)"
        for field, value, extent, bound, what in (
            ("pe", alloc.pe, rows, arch.rows, what_pe),
            ("simd", alloc.simd, cols, arch.cols, what_simd),
        ):
            if value > bound:
                problems.append(folding.doc.problem(
                    (*path, field), f"exceeds the largest unit of arch {arch.name!r} "
                    f"(array.{'rows' if field == 'pe' else 'cols'})", repr(value), f"<= {bound}",
                ))  # fmt: skip
            elif not alloc.pad and extent % value:
                problems.append(folding.doc.problem(
                    (*path, field), f"does not divide the layer's {extent} {what}; "
                    "set pad: true to pad the matrix as FINN's LFC-max does", repr(value),
                    _allowed(divisors(extent)),
                ))  # fmt: skip
        chosen[i] = (alloc.pe, alloc.simd)
    missing = [la.name for i, la in enumerate(wl.layers) if run[i] and la.name not in given]
    if missing:
        problems.append(folding.doc.problem(
            ("folding",), f"every GEMM layer needs a pe/simd unit; missing: {', '.join(missing)}",
        ))  # fmt: skip
    lanes = sum(p * s for i, (p, s) in chosen.items() if run[i])
    budget = arch.spec.execution.budget_lanes
    if not problems and lanes > budget:
        problems.append(folding.doc.problem(
            ("folding",), f"needs {lanes} lanes (sum of pe x simd), more than arch "
            f"{arch.name!r} has (execution.budget_lanes)", str(lanes), f"<= {budget}",
        ))  # fmt: skip
    if problems:
        raise ConfigError(problems)
    return chosen


def _searched(arch, wl, x, run, step) -> dict:
    """The folding search under ``budget_lanes``; ``{layer index: (pe, simd)}``."""
    budget = arch.spec.execution.budget_lanes
    index = [i for i in range(len(wl.layers)) if run[i]]
    opts = [
        options(*(int(x[d][i]) for d in ("m", "n", "k")), wl.layers[i].k_run,
                int(x["groups"][i]), int(step[i]), arch.rows, arch.cols,
                is_vvau(wl.layers[i]))
        for i in index
    ]  # fmt: skip
    if budget < len(index):
        raise ConfigError(_problem(
            arch, ("execution", "budget_lanes"), f"too small: each of the {len(index)} GEMM "
            "layers needs at least one lane", repr(budget), f">= {len(index)}",
        ))  # fmt: skip
    if not index:
        return {}
    picks = fold(opts, budget)
    return {i: (p[2], p[3]) for i, p in zip(index, picks)}


def simulate_pipelined(arch, wl, assignment, objective, trace=None, folding=None):
    """`accelsim.simulate` for an arch whose ``execution.mode`` is ``layer_pipelined``:
    ``folding`` a `Folding` for this workload, or None for the folding search."""
    from accelsim.energy import vector_work
    from accelsim.model import layer_arrays, layer_columns
    from accelsim.report import Report, provenance

    if arch.spec.execution is None:
        raise ConfigError(folding.doc.problem(
            ("folding",), f"a folding needs a layer-pipelined arch; {arch.name!r} has no "
            "execution section", None, "an arch with execution: {mode: layer_pipelined, ...}",
        ))  # fmt: skip
    if trace is not None:
        raise ConfigError(_problem(
            arch, ("execution", "mode"), "value-aware costs (a trace's tensors) are not "
            "modelled in this mode; simulate the workload without its tensors",
            repr(arch.spec.execution.mode),
        ))  # fmt: skip
    x = layer_arrays(wl.layers, arch.pe)
    run = x["gemm"] & np.array([r is None for r in x["reason"]])
    step = np.array([arch.pe.cycles_per_step(q) if r else 1 for q, r in zip(x["quant"], run)])
    spec = arch.spec.execution
    chosen = _given(arch, wl, x, run, folding) if folding is not None else (
        _searched(arch, wl, x, run, step))  # fmt: skip
    n_layers = len(wl.layers)
    pe = np.full(n_layers, np.nan)
    simd = np.full(n_layers, np.nan)
    cycles = np.zeros(n_layers)
    for i, (p, s) in chosen.items():
        if run[i]:
            pe[i], simd[i] = p, s
            cycles[i] = stage_cycles(int(x["m"][i]), int(x["n"][i]), int(x["k"][i]),
                                     wl.layers[i].k_run, int(x["groups"][i]), p, s,
                                     int(step[i]), is_vvau(wl.layers[i]))  # fmt: skip
    vec = vector_work(arch, x)
    cycles = np.where(run, cycles, vec["cycles"])
    lanes = pe * simd
    rows = {
        **layer_columns(wl.layers, x),
        "pe": pe,
        "simd": simd,
        "lanes": lanes,
        "folding": [f"{p:.0f}x{s:.0f}" if r else None for p, s, r in zip(pe, simd, run)],
        "pe_macs_per_cycle": np.where(run, lanes / step, 1.0),
        "pe_peak_macs_per_cycle": np.where(run, lanes / step, 1.0),
        "dataflow": [None] * n_layers,
        "feasible": np.array([r is None for r in x["reason"]]),
        "costed": run | (~x["gemm"] & vec["costed"]),
        "reason": [r if r is not None else v for r, v in zip(x["reason"], vec["reason"])],
        "cycles": cycles,
        "compute_cycles": cycles,
    }
    prov = provenance(arch, wl, assignment, objective)
    prov["execution"] = {
        "mode": spec.mode,
        "budget_lanes": spec.budget_lanes,
        "folding": "searched" if folding is None else "given",
        "folding_file": folding.file if folding is not None else None,
        "folding_sha256": folding.sha256 if folding is not None else None,
    }
    report = Report.build(arch, wl, rows, prov)
    costed = np.asarray(report.columns["costed"], dtype=bool)
    busy = np.where(costed, cycles, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        macs = report.columns["macs"]
        report.columns["utilization"] = np.where(run, macs / (busy * lanes / step), np.nan)
    total = report.total
    per_cycle = float(np.sum(np.where(run, lanes / step, 0.0)))
    total["peak_tops"] = 2 * per_cycle * arch.clock_hz / 1e12
    total["lanes"] = int(np.nansum(lanes))
    ii = float(np.max(busy[costed])) if costed.any() else None
    if total["feasible"] and ii:
        total["initiation_interval_cycles"] = int(ii)
        total["bottleneck_layer"] = report.columns["name"][int(np.nanargmax(busy))]
        total["frames_per_s"] = arch.clock_hz / ii
        total["tops"] = 2 * total["macs"] * total["frames_per_s"] / 1e12
        total["utilization"] = total["macs"] / (ii * per_cycle) if per_cycle else 0.0
    else:
        for key in ("initiation_interval_cycles", "bottleneck_layer", "frames_per_s"):
            total[key] = None
    return report
