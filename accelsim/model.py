"""The cost model: map each layer, count cycles, build the report (DESIGN.md §4).

Everything is computed over numpy arrays, all layers (and, in sweeps, all design points)
at once; `simulate` is the one-design case. For every GEMM layer and every dataflow the
arch allows, the cycle count comes from `accelsim.dataflow`; the mapper then picks one
dataflow per layer by the objective.

PE packing: a PE that does ``p = pe.k_per_cycle(quant)`` MACs per cycle along the
reduction dimension turns ``k`` into ``ceil(k / p)`` array steps.
"""

from __future__ import annotations

import numpy as np

from accelsim.arch import Arch
from accelsim.dataflow import TIMINGS, ceil_div
from accelsim.errors import ConfigError, Problem, did_you_mean
from accelsim.report import Report, provenance
from accelsim.workload import Assignment, Workload

OBJECTIVES = ("latency",)


def check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ConfigError(
            Problem(
                "<command line>",
                None,
                "objective",
                f"unknown objective{did_you_mean(objective, OBJECTIVES)}",
                repr(objective),
                ", ".join(OBJECTIVES),
            )
        )


def gemm_cycles(m, n, k, groups, rows, cols, dataflow: str, timing: str, k_per_cycle=1):
    """Array cycles of GEMM layers (arrays broadcast), for one dataflow and timing mode."""
    k_steps = ceil_div(k, k_per_cycle)
    return TIMINGS[timing](m, n, k_steps, rows, cols, dataflow, groups)


def map_layers(cycles_by_dataflow: np.ndarray) -> np.ndarray:
    """Index of the best dataflow per layer (``latency``: fewest cycles; ties: first listed)."""
    return np.argmin(cycles_by_dataflow, axis=0)


def simulate(
    arch: Arch,
    workload: Workload,
    assignment: Assignment | None = None,
    objective: str = "latency",
) -> Report:
    """Simulate ``workload`` on ``arch``; return a `Report` with one row per layer."""
    check_objective(objective)
    wl = assignment.apply(workload) if assignment is not None else workload
    layers = wl.layers
    gemm = np.array([layer.is_gemm for layer in layers], dtype=bool)
    pe = arch.pe
    reasons: dict = {}
    reason = [
        (reasons.setdefault(layer.quant, pe.check(layer.quant)) if layer.is_gemm else None)
        for layer in layers
    ]
    feasible = np.array([r is None for r in reason], dtype=bool)
    run = gemm & feasible

    dims = np.array([[la.m, la.n, la.k, la.groups] for la in layers], dtype=np.int64).reshape(-1, 4)
    m, n, k, g = dims.T
    pack = np.array([pe.k_per_cycle(la.quant) if r else 1 for la, r in zip(layers, run)])
    dataflows = arch.dataflows
    by_df = np.stack(
        [
            gemm_cycles(m, n, k, g, arch.rows, arch.cols, df, arch.timing, pack)
            for df in dataflows
        ]
    )
    choice = map_layers(by_df)
    cycles = np.where(run, by_df[choice, np.arange(len(layers))], 0)
    macs = m * n * k * g

    rows = {
        "name": [la.name for la in layers],
        "type": [la.type for la in layers],
        "m": m,
        "n": n,
        "k": k,
        "groups": g,
        "elements": np.array([la.elements for la in layers], dtype=np.int64),
        "a_bits": np.array([la.quant.a_bits for la in layers]),
        "w_bits": np.array([la.quant.w_bits for la in layers]),
        "a_encoding": [la.quant.a_encoding for la in layers],
        "w_encoding": [la.quant.w_encoding for la in layers],
        "macs": macs,
        "pe_macs_per_cycle": pack,
        "dataflow": [dataflows[c] if r else None for c, r in zip(choice, run)],
        "feasible": feasible,
        "costed": run,
        "reason": [
            r if r is not None else (None if la.is_gemm else NOT_COSTED)
            for la, r in zip(layers, reason)
        ],
        "cycles": cycles,
        "compute_cycles": cycles,
    }
    return Report.build(arch, wl, rows, provenance(arch, wl, assignment, objective))


NOT_COSTED = "not costed: non-GEMM work needs a vector unit, and this arch declares none"
