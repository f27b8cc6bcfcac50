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

TOTAL_KEYS = ("cycles", "latency_s", "macs", "tops", "utilization")
JSON_LAYER_KEYS = (
    "name", "type", "m", "n", "k", "groups", "a_bits", "w_bits", "a_encoding", "w_encoding",
    "dataflow", "macs", "cycles", "compute_cycles", "latency_s", "utilization", "feasible",
    "costed", "reason", "elements",
)  # fmt: skip


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
    def build(cls, arch, wl, rows: dict, prov: dict, breakdown=None, area=None) -> Report:
        costed = np.asarray(rows["costed"], dtype=bool)
        cycles = np.where(costed, np.asarray(rows["cycles"], dtype=float), np.nan)
        macs = np.asarray(rows["macs"], dtype=np.int64)
        pes = arch.rows * arch.cols
        peak = pes * np.asarray(rows.get("pe_macs_per_cycle", 1), dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            util = np.where(macs > 0, macs / (cycles * peak), np.nan)  # GEMM layers only
        cols = dict(rows)
        cols["cycles"] = cycles
        cols["compute_cycles"] = np.where(costed, rows["compute_cycles"], np.nan)
        cols["latency_s"] = cycles / arch.clock_hz
        cols["utilization"] = util
        total = _totals(cols, arch, pes)
        nominal = float(np.max(cols.get("pe_peak_macs_per_cycle", 1)))
        peak = 2 * pes * nominal * arch.clock_hz / 1e12  # at the best precision in the workload
        total["peak_tops"] = peak
        if breakdown is not None and total["feasible"]:
            energy = float(np.nansum(cols["energy_pj"]))
            total["energy_pj"] = energy
            total["tops_per_w"] = 2 * total["macs"] / energy if energy else None
            total["edp_pj_s"] = energy * total["latency_s"]
        if area is not None:
            mm2 = sum(area.values()) / 1e6
            total["area_mm2"] = mm2
            total["peak_tops_per_mm2"] = peak / mm2
            if total["feasible"]:
                total["tops_per_mm2"] = total["tops"] / mm2
        if "dram_bytes" in cols and total["feasible"]:
            total["dram_bytes"] = int(np.sum(cols["dram_bytes"]))
            total["stall_cycles"] = int(np.sum(cols["stall_cycles"]))
        if "mode_switch" in cols and total["feasible"]:  # reconfigurable array (accelsim.reconfig)
            total["mode_switches"] = int(np.sum(cols["mode_switch"]))
            total["switch_cycles"] = int(np.sum(cols["stall_switch_cycles"]))
            if "energy_array_switch_pj" in cols:
                total["switch_energy_pj"] = float(np.sum(cols["energy_array_switch_pj"]))
        return cls(arch.name, wl.name, cols, total, prov, breakdown, area)

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
            lines.append("energy by component and action")
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


def _totals(cols: dict, arch, pes: int) -> dict:
    costed = np.asarray(cols["costed"], dtype=bool)
    feasible = np.asarray(cols["feasible"], dtype=bool)
    bad = [n for n, f in zip(cols["name"], feasible) if not f]
    uncosted = int((feasible & ~costed).sum())
    total = {"feasible": not bad}
    if bad:
        first = cols["reason"][list(cols["name"]).index(bad[0])]
        total["reason"] = f"{len(bad)} layer(s) cannot run on this design; first: {bad[0]}: {first}"
        total.update({k: None for k in TOTAL_KEYS})
    else:
        cycles = int(np.nansum(cols["cycles"]))
        macs = int(np.asarray(cols["macs"])[costed].sum())
        latency = cycles / arch.clock_hz
        peak = pes * np.asarray(cols.get("pe_macs_per_cycle", 1), dtype=float)
        busy = float(np.nansum(np.asarray(cols["cycles"]) * peak))
        total.update(
            {
                "cycles": cycles,
                "latency_s": latency,
                "macs": macs,
                "tops": 2 * macs / latency / 1e12 if latency else 0.0,
                "utilization": macs / busy if busy else 0.0,
            }
        )
    total["layers"] = len(cols["name"])
    total["uncosted_layers"] = uncosted
    return total


def _plain(value):
    """numpy scalars to Python, NaN to None (JSON null)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
