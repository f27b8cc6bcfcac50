"""Reports: one row per layer plus totals and provenance (DESIGN.md §4, §7).

Columns are plain numpy arrays / lists; pandas is imported only when `Report.layers` is
asked for, so the command line stays fast. A value that was not computed (a layer that
cannot run, non-GEMM work on an arch without a vector unit) is NaN in the DataFrame and
null in JSON, never zero.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass

import numpy as np

from accelsim._version import __version__


def provenance(arch, wl, assignment, objective) -> dict:
    """What produced a report: version, input files and hashes, assumed parameters."""
    return {
        "accelsim_version": __version__,
        "arch_file": arch.file,
        "arch_sha256": arch.sha256,
        "workload_file": wl.file,
        "workload_sha256": wl.sha256,
        "assignment_file": assignment.file if assignment else None,
        "assignment_sha256": assignment.sha256 if assignment else None,
        "objective": objective,
        "timing": arch.timing,
        "assumed": [
            {"name": a.name, "value": a.value, "reason": a.reason}
            for a in (*arch.assumed, *wl.assumed)
        ],
    }


@dataclass(frozen=True)
class Report:
    arch: str
    workload: str
    columns: dict
    total: dict
    provenance: dict
    energy_breakdown: dict | None = None
    area_um2: dict | None = None
    timeline: list | None = None  # event model's busy intervals (accelsim.event)

    @classmethod
    def build(cls, arch, wl, rows: dict, prov: dict, parts=None, area=None) -> Report:
        """The report of one workload: ``rows`` are the model's per-layer columns, ``parts``
        its energy breakdown per layer (`summarize`), ``area`` per component."""
        return Batch.build(arch, [wl], rows, parts, area).report(0, prov)

    def breakdown_table(self):
        """Energy per (component, action) as a pandas DataFrame (pJ and share)."""
        import pandas as pd

        items = sorted((self.energy_breakdown or {}).items(), key=lambda kv: -kv[1])
        total = sum(v for _, v in items) or 1.0
        return pd.DataFrame(
            [(c, a, v, v / total) for (c, a), v in items],
            columns=["component", "action", "energy_pj", "share"],
        )

    @property
    def layers(self):
        """Per-layer results as a pandas DataFrame (one row per layer)."""
        import pandas as pd

        return pd.DataFrame(self.columns)

    def layer_records(self) -> list[dict]:
        n = len(self.columns["name"])
        return [{key: _plain(self.columns[key][i]) for key in self.columns} for i in range(n)]

    def to_dict(self) -> dict:
        return {
            "arch": self.arch,
            "workload": self.workload,
            "provenance": self.provenance,
            "total": {k: _plain(v) for k, v in self.total.items()},
            "energy_breakdown": [
                {"component": c, "action": a, "energy_pj": v}
                for (c, a), v in (self.energy_breakdown or {}).items()
            ],
            "area_um2": self.area_um2,
            "layers": self.layer_records(),
            **({"timeline": self.timeline} if self.timeline is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_csv(self) -> str:
        out = io.StringIO()
        keys = list(self.columns)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(keys)
        for record in self.layer_records():
            writer.writerow(["" if record[k] is None else record[k] for k in keys])
        return out.getvalue()

    def table(self) -> str:
        """A readable console table of the layers, then the totals."""
        head = ("layer", "type", "m", "n", "k", "groups", "a/w", "df", "cycles", "stalls",
                "util", "energy_uj", "note")  # fmt: skip
        body = []
        for r in self.layer_records():
            gemm = r["type"] in ("conv", "fc", "matmul")
            stall, energy = r.get("stall_cycles"), r.get("energy_pj")
            mapping = (r["dataflow"], r.get("array_mode"), r.get("split"), r.get("folding"))
            body.append(
                (
                    r["name"],
                    r["type"],
                    *(str(r[x]) if gemm else "" for x in ("m", "n", "k", "groups")),
                    f"{r['a_bits']}/{r['w_bits']}" if gemm else "",
                    " ".join(filter(None, mapping)),
                    "" if r["cycles"] is None else f"{r['cycles']:,.0f}",
                    "" if not stall else f"{stall:,.0f}",
                    "" if r["utilization"] is None else f"{100 * r['utilization']:.1f}%",
                    "" if energy is None or not r["costed"] else f"{energy / 1e6:,.2f}",
                    r["reason"] or "",
                )
            )
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        widths[-1] = 0
        lines = [_fmt(head, widths)] + [_fmt(row, widths) for row in body]
        lines.append("")
        lines.append(f"{self.arch} running {self.workload}")
        for key, value in self.total.items():
            lines.append(f"  {key:<18} {_show_total(key, value)}")
        if self.energy_breakdown:
            total = sum(self.energy_breakdown.values()) or 1.0
            lines.append("energy by component and action" if self.total.get("feasible", True)
                         else "energy of the feasible layers only, by component and action "
                         "(the network does not run: no total)")  # fmt: skip
            for (component, action), pj in sorted(
                self.energy_breakdown.items(), key=lambda kv: -kv[1]
            ):
                lines.append(
                    f"  {component + ' ' + action:<30} {pj / 1e6:>14,.3f} uJ {pj / total:>7.1%}"
                )
        return "\n".join(lines)


def _fmt(row, widths) -> str:
    cells = []
    for i, (cell, w) in enumerate(zip(row, widths)):
        cell = str(cell)
        cells.append(cell.ljust(w) if i in (0, 1, 7, 12) else cell.rjust(w))
    return "  ".join(cells).rstrip()


def _show_total(key, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "utilization":
        return f"{100 * value:.2f}%"
    if key == "latency_s":
        return f"{value * 1e3:.4f} ms"
    if key == "energy_pj":
        return f"{value / 1e9:,.4f} mJ"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return str(value)


@dataclass(frozen=True)
class Batch:
    """Several workloads on one arch as tables (`accelsim.model.simulate_batch`, what sweeps
    store): ``columns`` of every workload's layers in turn (workload ``i`` from
    ``starts[i]``), `summarize`'s ``total`` arrays and ``energy`` breakdown (None without a
    technology section) per workload, and the chip's ``area_um2``. Row ``i`` of each equals
    the `Report` of workload ``i`` (`report`)."""

    arch: str
    workloads: tuple
    columns: dict
    starts: np.ndarray
    total: dict
    energy: dict | None
    area_um2: dict | None
    actions: tuple | None = None  # per workload, the PE actions its layers count, in order

    @classmethod
    def build(cls, arch, workloads, rows: dict, parts, area, actions=None) -> Batch:
        """``actions``: per workload, the PE actions its own layers count (in the order a
        report of it alone lists them); another workload's actions are not its columns (NaN
        here, absent from its `report`), never zeros."""
        cols = layer_table(arch, rows)
        starts = np.cumsum([0] + [len(wl.layers) for wl in workloads[:-1]])
        sums = summarize(arch, cols, starts, parts, area)
        energy = sums["energy"] if parts is not None else None
        if actions is not None and energy is not None:
            stops = [*starts[1:].tolist(), len(cols["name"])]
            every = {a for own in actions for a in own}
            for i, (lo, hi) in enumerate(zip(starts.tolist(), stops)):
                for action in every - set(actions[i]):
                    energy[("pe", action)][i] = np.nan
                    cols[energy_column(("pe", action))][lo:hi] = np.nan
        names = tuple(wl.name for wl in workloads)
        return cls(arch.name, names, cols, starts, sums["total"], energy, area,
                   None if actions is None else tuple(actions))  # fmt: skip

    @classmethod
    def join(cls, reports: list) -> Batch:
        """The batch of reports computed one by one."""
        columns = concat_columns([(len(r.columns["name"]), r.columns) for r in reports])
        starts = np.cumsum([0] + [len(r.columns["name"]) for r in reports[:-1]])
        total = {}
        for key in dict.fromkeys(k for r in reports for k in r.total):
            values = [r.total.get(key) for r in reports]
            numbers = all(isinstance(v, int | float) or v is None for v in values)
            total[key] = (np.array([np.nan if v is None else v for v in values], dtype=float)
                          if numbers and key != "feasible" else values)  # fmt: skip
        total["feasible"] = np.array(total["feasible"], dtype=bool)
        total["reason"] = [r.total.get("reason") for r in reports]
        energy = None
        if reports[0].energy_breakdown is not None:
            energy = {k: np.array([r.energy_breakdown[k] for r in reports])
                      for k in reports[0].energy_breakdown}  # fmt: skip
        return cls(reports[0].arch, tuple(r.workload for r in reports), columns, starts,
                   total, energy, reports[0].area_um2)  # fmt: skip

    def report(self, i: int, prov: dict) -> Report:
        """Workload ``i``'s `Report`."""
        stop = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.columns["name"])
        span = slice(int(self.starts[i]), int(stop))
        total = _plain_total({key: value[i] for key, value in self.total.items()})
        keys = list(self.columns)
        energy = None
        if self.energy is not None:
            energy = dict.fromkeys(self.energy)
            if self.actions is not None:  # this workload's PE actions, in its own order
                mine = [("pe", a) for a in self.actions[i]]
                theirs = {("pe", a) for own in self.actions for a in own}
                energy = _own_order(list(energy), theirs, mine)
                keys = _own_order(keys, {energy_column(k) for k in theirs},
                                  [energy_column(k) for k in mine])  # fmt: skip
            energy = {key: float(self.energy[key][i]) for key in energy}
        cols = {key: self.columns[key][span] for key in keys}
        return Report(self.arch, self.workloads[i], cols, total, prov, energy, self.area_um2)


def _own_order(keys: list, theirs: set, mine: list) -> list:
    """``keys`` with those in ``theirs`` (the batch's PE actions, one block) replaced by
    ``mine``, in that order, where the block starts."""
    out: list = []
    for key in keys:
        if key not in theirs:
            out.append(key)
        elif mine:
            out += mine
            mine = []
    return out


def energy_column(key) -> str:
    """The report column of a ``(component, action)`` energy."""
    return f"energy_{key[0]}_{key[1]}_pj".replace("_bytes", "")


def concat_columns(parts: list[tuple[int, dict]]) -> dict:
    """Column tables ``(rows, {column: array or list})`` one after another: numeric arrays
    stay arrays, anything else becomes a list; a column a part lacks is None there."""
    keys: dict = {}
    for _, cols in parts:
        keys.update(dict.fromkeys(cols))
    out = {}
    for key in keys:
        pieces = [(n, cols.get(key)) for n, cols in parts]
        arrays = [p for _, p in pieces if isinstance(p, np.ndarray) and p.dtype != object]
        if len(arrays) == len(pieces):
            out[key] = np.concatenate(arrays) if arrays else np.array([])
            continue
        values: list = []
        for n, piece in pieces:
            if piece is None:
                values.extend([None] * n)
            elif isinstance(piece, np.ndarray):
                values.extend(piece.tolist())
            else:
                values.extend(piece)
        out[key] = values
    return out


def layer_table(arch, rows: dict) -> dict:
    """A report's per-layer columns from the model's: cycles NaN where a layer is not costed,
    its latency and utilization (GEMM layers: MACs over the cycles x the PEs x the MACs a PE
    does per cycle at this layer's packing, ``pe_macs_per_cycle``: the share of PE steps
    that do work; a layer that under-fills a PE's packing shows it as ``pe_macs_per_cycle``
    below ``pe_peak_macs_per_cycle``, not here)."""
    costed = np.asarray(rows["costed"], dtype=bool)
    cycles = np.where(costed, np.asarray(rows["cycles"], dtype=float), np.nan)
    macs = np.asarray(rows["macs"], dtype=np.int64)
    peak = arch.rows * arch.cols * np.asarray(rows.get("pe_macs_per_cycle", 1), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(macs > 0, macs / (cycles * peak), np.nan)
    cols = dict(rows)
    cols["cycles"] = cycles
    cols["compute_cycles"] = np.where(costed, rows["compute_cycles"], np.nan)
    cols["latency_s"] = cycles / arch.clock_hz
    cols["utilization"] = util
    return cols


def summarize(arch, cols: dict, starts, parts=None, area=None) -> dict:
    """The totals of consecutive runs of layers (several workloads' layers in one table,
    run ``i`` from ``starts[i]`` to the next start), all at once: ``{"total": {key: array
    per run}, "energy": {(component, action): pJ per run}}``. A total that does not apply
    (an infeasible run's cycles, energy without a technology section) is NaN; `Report.build`
    (one run) turns those into None or leaves them out. ``parts``: the model's energy
    breakdown, ``[((component, action), pJ per layer), ...]`` (a key may repeat)."""
    n = len(cols["name"])
    starts = np.asarray(starts, dtype=np.int64)
    counts = np.diff(np.append(starts, n))

    def add(values):
        return run_sums(values, starts)

    costed = np.asarray(cols["costed"], dtype=bool)
    bad = ~np.asarray(cols["feasible"], dtype=bool)
    n_bad = add(bad.astype(np.int64))
    feasible = n_bad == 0
    cycles_col = np.asarray(cols["cycles"], dtype=float)
    cycles = add(np.nan_to_num(cycles_col, nan=0.0))
    macs = add(np.where(costed, np.asarray(cols["macs"], dtype=np.int64), 0))
    latency = cycles / arch.clock_hz
    pes = arch.rows * arch.cols
    peak = pes * np.broadcast_to(np.asarray(cols.get("pe_macs_per_cycle", 1), dtype=float), n)
    busy = add(np.nan_to_num(cycles_col * peak, nan=0.0))
    nominal = np.maximum.reduceat(
        np.broadcast_to(np.asarray(cols.get("pe_peak_macs_per_cycle", 1), dtype=float), n), starts
    )
    ok = np.where(feasible, 1.0, np.nan)  # totals that need every layer to run
    with np.errstate(invalid="ignore", divide="ignore"):
        total = {
            "cycles": cycles * ok,
            "latency_s": latency * ok,
            "macs": macs * ok,
            "tops": np.where(latency > 0, 2 * macs / latency / 1e12, 0.0) * ok,
            "utilization": np.where(busy > 0, macs / busy, 0.0) * ok,
            "layers": counts,
            "uncosted_layers": add((~bad & ~costed).astype(np.int64)),
            "peak_tops": 2 * pes * nominal * arch.clock_hz / 1e12,
        }
        energy: dict = {}
        if parts is not None:
            for key, per_layer in parts:
                energy[key] = energy.get(key, 0.0) + add(per_layer)
            pj = add(np.nan_to_num(np.asarray(cols["energy_pj"], dtype=float), nan=0.0)) * ok
            total["energy_pj"] = pj
            total["tops_per_w"] = np.where(pj > 0, 2 * macs / pj, np.nan)
            total["edp_pj_s"] = pj * latency
        if area is not None:
            mm2 = sum(area.values()) / 1e6
            total["area_mm2"] = np.full(len(starts), mm2)
            total["peak_tops_per_mm2"] = total["peak_tops"] / mm2
            total["tops_per_mm2"] = total["tops"] / mm2
    for key, column in (("dram_bytes", "dram_bytes"), ("stall_cycles", "stall_cycles"),
                        ("mode_switches", "mode_switch"),
                        ("switch_cycles", "stall_switch_cycles"),
                        ("switch_energy_pj", "energy_array_switch_pj")):  # fmt: skip
        if column in cols:
            total[key] = add(cols[column]) * ok
    reasons = [None] * len(starts)
    for i in np.flatnonzero(~feasible).tolist():
        first = int(starts[i]) + int(np.argmax(bad[starts[i] :]))  # the run's first bad layer
        reasons[i] = (f"{n_bad[i]} layer(s) cannot run on this design; first: "
                      f"{cols['name'][first]}: {cols['reason'][first]}")  # fmt: skip
    total = {"feasible": feasible, "reason": reasons, **total}
    return {"total": total, "energy": energy}


def run_sums(values, starts) -> np.ndarray:
    """Sums of consecutive runs of ``values`` (run ``i`` from ``starts[i]`` to the next start),
    each added on its own, the same way wherever it sits in the array: every total of a
    report, of a `Batch` and of `accelsim.oracle` is added this way, so they agree to the last
    bit."""
    return np.add.reduceat(np.asarray(values), np.asarray(starts, dtype=np.int64))


_INTS = ("cycles", "macs", "layers", "uncosted_layers", "dram_bytes", "stall_cycles",
         "mode_switches", "switch_cycles")  # fmt: skip
# totals a report leaves out, rather than None, when the workload cannot run
_ONLY_FEASIBLE = ("energy_pj", "tops_per_w", "edp_pj_s", "tops_per_mm2", "dram_bytes",
                  "stall_cycles", "mode_switches", "switch_cycles", "switch_energy_pj")  # fmt: skip


def _plain_total(total: dict) -> dict:
    """One run's `summarize` totals as a report's: Python numbers, None for what was not
    computed, no reason when feasible, and no values that need every layer to run when
    some layer cannot."""
    feasible = bool(total["feasible"])
    out = {"feasible": feasible}
    if not feasible:
        out["reason"] = total["reason"]
    for key, value in total.items():
        if key in ("feasible", "reason") or (not feasible and key in _ONLY_FEASIBLE):
            continue
        if value is None or isinstance(value, str):  # e.g. a pipeline's bottleneck layer
            out[key] = value
            continue
        value = float(value)
        if math.isnan(value):
            out[key] = None
        else:
            out[key] = int(value) if key in _INTS else value
    return out


def _plain(value):
    """numpy scalars to Python, NaN to None (JSON null)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
