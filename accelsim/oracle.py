"""Hardware cost oracle for mixed-precision search, and HAQ lookup tables (DESIGN.md §7).

`CostOracle(arch, workload)` answers "what does this network cost at these per-layer
bit-widths?" fast enough for a search loop, with the numbers of `accelsim.simulate`:

* ``layer_cost(layer, quant)``: one GEMM layer at one precision (memoised);
* ``cost(assignment)``: the whole network — equal to ``simulate(arch, workload, assignment)``
  (same cycles, latency and energy, bit for bit);
* ``table(...)`` / ``lut(...)``: every layer at every (w_bits, a_bits) pair, built with one
  `simulate` call over all (layer, precision) rows (the model is array arithmetic).

Why a table is exact: the model costs each layer on its own (its own mapping, tiling and
stalls; activations go to DRAM and back between layers), so a network's cycles and energy
are sums of per-layer terms, and a layer's term depends only on its own QuantSpec. An
assignment changes ``w_bits``/``a_bits`` of a layer; nothing else (``out_bits`` stays the
workload's). Non-GEMM layers (pooling, element-wise, ...) do not depend on bit-widths in the
model: their cost is a constant added to every total.

HAQ's lookup table (Wang et al., CVPR 2019; released code mit-han-lab/haq,
``lib/env/linear_quantize_env.py``): a ``.npy`` array ``table[layer, w_bits - 1, a_bits - 1]``
over the quantizable layers (conv and linear, in model order) that the environment sums
(``_cur_cost``), reads at ``[i, 7, 7]`` for the 8-bit reference (``_org_cost``, float_bit 8)
and at ``[i, -1, -1]`` for the first and last layers (``_min_cost``); it always indexes 8 x 8
entries, so `lut` returns shape ``(layers, 8, 8)``. Entries that cannot run are ``inf`` (the
reason is in `table` and in the companion file of `save_lut`); pairs not requested are NaN.
The rows are the workload's GEMM layers (``conv``, ``fc``, ``matmul``) in file order.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from accelsim.errors import ConfigError, Problem, did_you_mean
from accelsim.model import ENERGY_ALLOWED, check_objective, energy_problem, simulate
from accelsim.report import run_sums
from accelsim.workload import Assignment, Layer, make_assignment

BITS = tuple(range(1, 9))  # the table's axes: HAQ indexes w_bits - 1 and a_bits - 1 in 0..7
METRICS = {
    "latency": ("latency_s", "s"),
    "energy": ("energy_pj", "pJ"),
    "cycles": ("cycles", "cycles"),
}


@dataclass(frozen=True)
class LayerCost:
    """One GEMM layer at one precision; ``inf`` costs and a reason when it cannot run.
    ``energy_pj`` is None on an arch without a technology section (no energy model)."""

    feasible: bool
    reason: str | None
    cycles: float
    latency_s: float
    energy_pj: float | None


@dataclass(frozen=True)
class Cost:
    """A whole network at one assignment: ``simulate``'s totals. Infeasible: ``inf`` and the
    reason (the same text as ``report.total["reason"]``)."""

    feasible: bool
    reason: str | None
    cycles: float
    latency_s: float
    energy_pj: float | None
    edp_pj_s: float | None


def _problem(field: str, message: str, found=None, allowed=None, file="<python>") -> ConfigError:
    return ConfigError(Problem(file, None, field, message, found, allowed))


def parse_bits(text: str, field: str) -> tuple[int, ...]:
    """``"1-8"``, ``"4"`` or ``"2,4,8"`` -> sorted bit-widths within the table's 1..8."""
    found = []
    for part in str(text).split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            lo = int(lo)
            hi = int(hi) if hi else lo
        except ValueError:
            raise _problem(
                field, "not a bit-width range", repr(text), "e.g. 1-8, 4 or 2,4,8", "<command line>"
            ) from None
        check_bits((lo, hi), field, repr(text), "<command line>")  # before building the range
        found.extend(range(lo, hi + 1))
    return check_bits(found, field, repr(text), "<command line>")


def check_bits(bits, field: str, found=None, file="<python>") -> tuple[int, ...]:
    bits = tuple(sorted(set(int(b) for b in bits)))
    if not bits or bits[0] < 1 or bits[-1] > 8:
        raise _problem(
            field,
            "bit-widths outside the table (HAQ indexes [layer, w_bits-1, a_bits-1], 8 x 8)",
            found or repr(list(bits)),
            "1..8",
            file,
        )
    return bits


def check_energy(arch, field: str, found, allowed: str, file="<python>") -> None:
    """A `ConfigError` when ``field`` asks for energy on an arch without an energy model."""
    why = energy_problem(arch)
    if why is not None:
        raise _problem(field, why, found, f"{allowed} {ENERGY_ALLOWED}", file)


def check_output(path, field: str = "output", file="<python>") -> Path:
    """The table's path, a ``.npy`` file."""
    path = Path(path)
    if path.suffix != ".npy":
        raise _problem(field, "the table is a NumPy .npy file", repr(str(path)), "*.npy", file)
    return path


class CostOracle:
    """Costs of ``workload`` on ``arch`` at any per-layer precision (module docstring).

    ``objective`` is the mapper's (as in `simulate`): it picks each layer's dataflow.
    """

    def __init__(self, arch, workload, objective: str = "latency"):
        check_objective(objective)
        # a table adds layer costs: only right when a layer's cost does not depend on others
        not_additive = (
            ("reconfig", "mode switches between layers"),
            ("execution", "a pipeline's stages sharing one PE budget"),
        )
        for field, what in not_additive:
            if getattr(arch.spec, field) is not None:
                raise _problem(
                    field, f"arch {arch.name!r}: layer costs are not additive ({what})",
                    found=field, allowed="an arch without reconfig or execution sections",
                    file=arch.file or "<python>",
                )  # fmt: skip
        self.arch, self.workload, self.objective = arch, workload, objective
        self.layers: tuple[Layer, ...] = tuple(la for la in workload.layers if la.is_gemm)
        if not self.layers:
            raise _problem("layers", f"workload {workload.name!r} has no GEMM layer to cost",
                           file=workload.file or "<python>")  # fmt: skip
        self.names = tuple(la.name for la in self.layers)
        self._row = {name: i for i, name in enumerate(self.names)}
        self._gemm_idx = np.array([i for i, la in enumerate(workload.layers) if la.is_gemm])
        self._has_energy = arch.spec.technology is not None
        self._memo: dict = {}
        base = simulate(arch, workload, objective=objective)
        # the constant part of every total: non-GEMM rows as simulate reports them (an
        # uncosted row adds nothing, as in the report's nansum); GEMM rows are filled per query
        self._fixed_cycles = np.nan_to_num(np.asarray(base.columns["cycles"], dtype=float))
        self._fixed_cycles[self._gemm_idx] = 0.0
        energy = base.columns.get("energy_pj", np.zeros(len(workload.layers)))
        self._fixed_energy = np.asarray(energy, dtype=float).copy()
        self._fixed_energy[self._gemm_idx] = 0.0
        self._store(self.layers, base, self._gemm_idx)
        # non-GEMM layers the arch cannot cost (no vector unit): in no total, named here
        self._not_costed = [
            la.name for la, costed in zip(workload.layers, base.columns["costed"])
            if not (la.is_gemm or costed)
        ]  # fmt: skip
        self._lut: dict | None = None

    # ------------------------------------------------------------------ per layer

    def _store(self, layers, report, rows) -> None:
        cols = report.columns
        for la, r in zip(layers, rows):
            ok = bool(cols["feasible"][r])
            cycles = float(cols["cycles"][r]) if ok else math.inf
            energy = None
            if self._has_energy:
                energy = float(cols["energy_pj"][r]) if ok else math.inf
            self._memo[(la.name, la.quant)] = LayerCost(
                ok, None if ok else cols["reason"][r], cycles,
                cycles / self.arch.clock_hz, energy,
            )  # fmt: skip

    def _fill(self, pairs) -> None:
        """Cost the (layer, QuantSpec) pairs not yet memoised, all in one `simulate` call."""
        todo = {(la.name, q): replace(la, quant=q) for la, q in pairs}
        todo = [la for key, la in todo.items() if key not in self._memo]
        if todo:
            wl = replace(self.workload, layers=tuple(todo))
            report = simulate(self.arch, wl, objective=self.objective)
            self._store(todo, report, range(len(todo)))

    def _layer(self, layer) -> Layer:
        name = layer.name if isinstance(layer, Layer) else layer
        if name not in self._row:
            raise _problem(
                "layer",
                f"no GEMM layer of workload {self.workload.name!r} has this name"
                f"{did_you_mean(name, self.names)}",
                repr(name),
            )
        return self.layers[self._row[name]]

    def quant_of(self, layer, change) -> object:
        """The QuantSpec of ``layer`` with ``change`` (a QuantSpec, or a partial mapping such
        as ``{"w_bits": 4, "a_bits": 6}``) applied; bad values are a ConfigError."""
        la = self._layer(layer)
        if not isinstance(change, dict):
            return change
        one = replace(self.workload, layers=(la,))
        return make_assignment("layer_cost", {la.name: change}).apply(one).layers[0].quant

    def layer_cost(self, layer, quant) -> LayerCost:
        """Cost of one GEMM layer (name or `Layer`) at ``quant`` (a QuantSpec or a partial
        mapping); memoised."""
        la = self._layer(layer)
        q = self.quant_of(la, quant)
        key = (la.name, q)
        if key not in self._memo:
            self._fill([(la, q)])
        return self._memo[key]

    # ------------------------------------------------------------------ whole network

    def _total(self, cycles, energy, bad) -> Cost:
        if bad:
            name, reason = bad[0]
            why = f"{len(bad)} layer(s) cannot run on this design; first: {name}: {reason}"
            inf_e = math.inf if self._has_energy else None
            return Cost(False, why, math.inf, math.inf, inf_e, inf_e)
        all_cycles = self._fixed_cycles.copy()
        all_cycles[self._gemm_idx] = cycles
        total_cycles = int(run_sums(all_cycles, [0])[0])
        latency = total_cycles / self.arch.clock_hz
        if not self._has_energy:
            return Cost(True, None, total_cycles, latency, None, None)
        all_energy = self._fixed_energy.copy()
        all_energy[self._gemm_idx] = energy
        total_energy = float(run_sums(all_energy, [0])[0])
        return Cost(True, None, total_cycles, latency, total_energy, total_energy * latency)

    def cost(self, assignment) -> Cost:
        """Totals of the network at ``assignment``, equal to ``simulate(arch, workload,
        assignment)``: None (the workload's own precisions), an `Assignment`, a mapping
        ``{layer: {"w_bits": 4, ...}}`` (validated as an assignment file), or HAQ's
        strategy — one ``(w_bits, a_bits)`` pair per GEMM layer in table order (read from
        the table: bits 1..8)."""
        if assignment is None or isinstance(assignment, Assignment | dict):
            if isinstance(assignment, dict):
                assignment = make_assignment("cost", assignment)
            wl = self.workload if assignment is None else assignment.apply(self.workload)
            layers = [la for la in wl.layers if la.is_gemm]
            self._fill([(la, la.quant) for la in layers])
            costs = [self._memo[(la.name, la.quant)] for la in layers]
            bad = [(la.name, c.reason) for la, c in zip(layers, costs) if not c.feasible]
            return self._total(
                np.array([c.cycles for c in costs]),
                np.array([c.energy_pj or 0.0 for c in costs]),
                bad,
            )
        return self.cost_bits(*self._strategy(assignment))

    def _strategy(self, strategy):
        bits = np.asarray(strategy)
        if bits.shape != (len(self.layers), 2) or bits.dtype.kind not in "iu":
            raise _problem(
                "strategy",
                "a strategy is one integer (w_bits, a_bits) pair per GEMM layer, in table order",
                f"an array of shape {bits.shape} ({bits.dtype})",
                f"shape ({len(self.layers)}, 2)",
            )
        return bits[:, 0], bits[:, 1]

    def cost_bits(self, w_bits, a_bits) -> Cost:
        """`cost` from per-layer bit arrays (table order) through the built table: the fast
        path a search loop uses (about 20 µs for ResNet-50, benchmarks/bench_oracle.py)."""
        t = self._tables()
        w, a = np.asarray(w_bits), np.asarray(a_bits)
        if (((w - 1) | (a - 1)) >> 3).any():  # some bit-width outside 1..8
            both = np.concatenate([w, a])
            raise _problem(
                "strategy",
                "bit-widths outside the table",
                repr(sorted(set(both[(both < 1) | (both > 8)].tolist()))),
                "1..8",
            )
        flat = t["base"] + w * 8 + a  # [layer, w - 1, a - 1] in the flattened table
        cycles = t["cycles"].take(flat)
        bad = []
        if not np.isfinite(cycles).all():
            bad = [
                (self.names[i], t["reason"][(i, int(w[i]), int(a[i]))])
                for i in np.flatnonzero(~np.isfinite(cycles))
            ]
        energy = t["energy"].take(flat) if self._has_energy else None
        return self._total(cycles, energy, bad)

    # ------------------------------------------------------------------ tables

    def _pairs(self, w_bits, a_bits) -> list:
        """(layer, QuantSpec or the reason it is not one) for every requested pair."""
        out, made = [], {}
        for la in self.layers:
            for w in w_bits:
                for a in a_bits:
                    key = (la.quant, w, a)
                    if key not in made:
                        try:  # validated: a binary operand must stay 1 bit
                            made[key] = type(la.quant)(
                                **{**la.quant.model_dump(), "w_bits": w, "a_bits": a}
                            )
                        except ValueError as exc:  # pydantic's ValidationError
                            made[key] = exc.errors()[0]["msg"].removeprefix("Value error, ")
                    out.append((la, w, a, made[key]))
        return out

    def _tables(self) -> dict:
        """The full 8 x 8 table as arrays, built once (one `simulate` call)."""
        if self._lut is None:
            shape = (len(self.layers), 8, 8)
            cycles, energy, reason = np.full(shape, np.inf), np.full(shape, np.inf), {}
            pairs = self._pairs(BITS, BITS)
            self._fill([(la, q) for la, _, _, q in pairs if not isinstance(q, str)])
            for la, w, a, q in pairs:
                i = self._row[la.name]
                c = LayerCost(False, q, math.inf, math.inf, None) if isinstance(q, str) else (
                    self._memo[(la.name, q)]
                )  # fmt: skip
                cycles[i, w - 1, a - 1] = c.cycles
                if c.energy_pj is not None:
                    energy[i, w - 1, a - 1] = c.energy_pj
                if not c.feasible:
                    reason[(i, w, a)] = c.reason
            base = np.arange(len(self.layers)) * 64 - 9
            self._lut = {"cycles": cycles, "energy": energy, "reason": reason, "base": base}
        return self._lut

    def _metric(self, metric: str) -> str:
        if metric not in METRICS:
            raise _problem(
                "metric", f"unknown metric{did_you_mean(metric, METRICS)}", repr(metric),
                ", ".join(METRICS),
            )  # fmt: skip
        if metric == "energy":
            check_energy(self.arch, "metric", repr(metric), "latency, cycles")
        return metric

    def lut(self, metric: str = "latency", w_bits=BITS, a_bits=BITS) -> np.ndarray:
        """HAQ's table ``[layer, w_bits - 1, a_bits - 1]``, shape ``(layers, 8, 8)``:
        latency in seconds, energy in pJ or cycles; ``inf`` where a layer cannot run, NaN
        for pairs not requested."""
        metric = self._metric(metric)
        w_bits, a_bits = check_bits(w_bits, "w_bits"), check_bits(a_bits, "a_bits")
        t = self._tables()
        full = t["energy"] if metric == "energy" else t["cycles"]
        if metric == "latency":
            full = full / self.arch.clock_hz
        out = np.full(full.shape, np.nan)
        wi, ai = np.array(w_bits)[:, None] - 1, np.array(a_bits)[None, :] - 1
        out[:, wi, ai] = full[:, wi, ai]
        return out

    def table(self, w_bits=BITS, a_bits=BITS, metric: str | None = None):
        """Tidy DataFrame: one row per (layer, w_bits, a_bits) with ``cycles``, ``latency_s``,
        ``energy_pj`` (or only ``metric``'s column), ``feasible`` and ``reason``."""
        import pandas as pd

        w_bits, a_bits = check_bits(w_bits, "w_bits"), check_bits(a_bits, "a_bits")
        columns = ["cycles", "latency_s"] + (["energy_pj"] if self._has_energy else [])
        if metric is not None:
            columns = [METRICS[self._metric(metric)][0]]
        t = self._tables()
        rows = []
        for i, name in enumerate(self.names):
            for w in w_bits:
                for a in a_bits:
                    cycles = t["cycles"][i, w - 1, a - 1]
                    values = {"cycles": cycles, "latency_s": cycles / self.arch.clock_hz,
                              "energy_pj": t["energy"][i, w - 1, a - 1]}  # fmt: skip
                    why = t["reason"].get((i, w, a))
                    rows.append({"layer_index": i, "layer": name, "w_bits": w, "a_bits": a,
                                 **{c: values[c] for c in columns},
                                 "feasible": why is None, "reason": why})  # fmt: skip
        return pd.DataFrame(rows)

    def fixed_cost(self) -> dict:
        """What every total adds outside the table: the non-GEMM layers (independent of
        bit-widths in the model)."""
        cycles = float(self._fixed_cycles.sum())
        out = {"layers": [la.name for la in self.workload.layers if not la.is_gemm],
               "not_costed": self._not_costed,
               "cycles": cycles, "latency_s": cycles / self.arch.clock_hz}  # fmt: skip
        if self._has_energy:
            out["energy_pj"] = float(self._fixed_energy.sum())
        return out


def save_lut(oracle: CostOracle, path, metric="latency", w_bits=BITS, a_bits=BITS) -> dict:
    """Write HAQ's ``.npy`` table and its companions: ``<stem>.json`` (layers, units, axes,
    provenance, infeasible entries with reasons, the cost outside the table) and
    ``<stem>.csv`` (one row per entry). Returns the JSON document."""
    from accelsim.report import provenance

    path = check_output(path)
    table = oracle.lut(metric, w_bits, a_bits)
    w_bits, a_bits = check_bits(w_bits, "w_bits"), check_bits(a_bits, "a_bits")
    column, unit = METRICS[metric]
    t = oracle._tables()
    infeasible = [
        {"layer_index": i, "layer": oracle.names[i], "w_bits": w, "a_bits": a, "reason": r}
        for (i, w, a), r in sorted(t["reason"].items())
        if w in w_bits and a in a_bits
    ]
    reference = table[:, 7, 7]  # HAQ's _org_cost at float_bit 8
    doc = {
        "format": "HAQ lookup table (mit-han-lab/haq lib/env/linear_quantize_env.py): "
        "value[layer, w_bits - 1, a_bits - 1], numpy .npy, float64",
        "shape": list(table.shape),
        "metric": metric,
        "unit": unit,
        "arch": oracle.arch.name,
        "workload": oracle.workload.name,
        "objective": oracle.objective,
        "w_bits": list(w_bits),
        "a_bits": list(a_bits),
        "nan": "pair not requested (outside --w-bits / --a-bits)",
        "inf": "the layer cannot run at this precision on this design (see infeasible)",
        "layers": [
            {
                "index": i,
                "name": la.name,
                "type": la.type,
                "m": la.m,
                "n": la.n,
                "k": la.k,
                "groups": la.groups,
                "macs": la.macs,
                "quant": la.quant.model_dump(),
            }
            for i, la in enumerate(oracle.layers)
        ],  # fmt: skip
        "reference_8_8": float(reference.sum()) if np.isfinite(reference).all() else None,
        "not_in_table": oracle.fixed_cost(),
        "infeasible": infeasible,
        "provenance": provenance(oracle.arch, oracle.workload, None, oracle.objective),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, table)
    path.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    reasons = {(e["layer_index"], e["w_bits"], e["a_bits"]): e["reason"] for e in infeasible}
    with path.with_suffix(".csv").open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(
            ["layer_index", "layer", "w_bits", "a_bits", f"{column}", "feasible", "reason"]
        )
        for i, name in enumerate(oracle.names):
            for w in w_bits:
                for a in a_bits:
                    why = reasons.get((i, w, a))
                    value = table[i, w - 1, a - 1]
                    out.writerow([i, name, w, a, "" if why else repr(float(value)),
                                  why is None, why or ""])  # fmt: skip
    return doc
