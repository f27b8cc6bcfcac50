"""Figures from reports and sweeps (DESIGN.md §8: a plot takes a DataFrame, returns a Figure).

* `pareto`: latency against energy of every design point, the Pareto front highlighted.
* `heatmap`: a metric (TOPS/W, EDP, ...) over two sweep axes, the best over the other axes.
* `layer_bars`: per-layer latency and energy (by component) of one report or sweep point.
* `energy_breakdown`: energy by component, of one design or stacked for several.

matplotlib is imported inside the functions (``import accelsim`` stays light) and figures
are made without pyplot (`matplotlib.figure.Figure`), so no GUI backend or global state is
involved: ``fig.savefig("x.png")`` works anywhere. `command` is ``accelsim plot``.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import numpy as np

from accelsim.errors import ConfigError, Problem, did_you_mean

# column -> (what, unit, factor from the column's unit to the shown one)
UNITS = {
    "latency_s": ("latency", "ms", 1e3),
    "energy_pj": ("energy", "mJ", 1e-9),
    "edp_pj_s": ("energy-delay product", "mJ·ms", 1e-6),
    "cycles": ("cycles", "", 1.0),
    "tops": ("throughput", "TOPS", 1.0),
    "tops_per_w": ("energy efficiency", "TOPS/W", 1.0),
    "tops_per_mm2": ("area efficiency", "TOPS/mm²", 1.0),
    "area_mm2": ("area", "mm²", 1.0),
    "utilization": ("utilization", "%", 100.0),
    "dram_bytes": ("DRAM traffic", "MB", 1e-6),
    "objective_value": ("objective", "", 1.0),
}
HIGHER_IS_BETTER = ("tops", "tops_per_w", "tops_per_mm2", "peak_tops", "utilization")
COMPONENTS = ("pe", "inputs_sram", "weights_sram", "outputs_sram", "dram", "chip", "vector")


def label(column: str) -> str:
    what, unit, _ = UNITS.get(column, (column, "", 1.0))
    return f"{what} ({unit})" if unit else what


def _scaled(column: str, values):
    return np.asarray(values, dtype=float) * UNITS.get(column, ("", "", 1.0))[2]


def _need(df, func: str, columns) -> None:
    """A `ConfigError` (a ValueError) naming each column ``func`` reads that ``df`` lacks.
    ``columns``: ``(argument, column)`` pairs, the column a tuple when any one of them does."""
    alts = [(arg, want if isinstance(want, tuple) else (want,)) for arg, want in columns]
    needs = ", ".join(" or ".join(want) for _, want in alts)
    have = [str(c) for c in df.columns]
    problems = [
        Problem(f"accelsim.plots.{func}()", None, arg,
                f"no column {' or '.join(map(repr, want))} in the DataFrame"
                + (did_you_mean(want[0], have) if len(want) == 1 else ""),
                None, f"a DataFrame with {needs}")
        for arg, want in alts
        if not any(c in df.columns for c in want)
    ]  # fmt: skip
    if problems:
        raise ConfigError(problems)


def _figure(width=6.4, height=4.8):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def pareto_front(df, x: str = "latency_s", y: str = "energy_pj") -> np.ndarray:
    """Boolean mask of the rows on the Pareto front, minimizing both ``x`` and ``y``.

    Rows that are infeasible (``feasible`` False) or have no value are never on it. A row is
    on the front when no other row is at least as good in both and better in one; of rows
    with equal values only the first is kept.
    """
    _need(df, "pareto_front", [("x", x), ("y", y)])
    xs = df[x].to_numpy(dtype=float)
    ys = df[y].to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if "feasible" in df:
        ok &= df["feasible"].to_numpy(dtype=bool)
    idx = np.flatnonzero(ok)
    front = np.zeros(len(xs), dtype=bool)
    best = math.inf
    for i in idx[np.lexsort((ys[idx], xs[idx]))]:
        if ys[i] < best:
            front[i] = True
            best = ys[i]
    return front


def pareto(df, x: str = "latency_s", y: str = "energy_pj", label_column=None, title=None):
    """Every feasible design point of ``df`` at (``x``, ``y``), the front highlighted and
    (with ``label_column``) labelled."""
    labels = [] if label_column is None else [("label_column", label_column)]
    _need(df, "pareto", [("x", x), ("y", y), *labels])
    fig = _figure()
    ax = fig.add_subplot()
    front = pareto_front(df, x, y)
    xs, ys = _scaled(x, df[x]), _scaled(y, df[y])
    ok = np.isfinite(xs) & np.isfinite(ys)
    if "feasible" in df:
        ok &= df["feasible"].to_numpy(dtype=bool)
    ax.scatter(xs[ok & ~front], ys[ok & ~front], s=12, color="0.6", alpha=0.6,
               label=f"design points ({int(ok.sum())})")  # fmt: skip
    order = np.flatnonzero(front)[np.argsort(xs[front])]
    ax.step(xs[order], ys[order], where="post", color="C3", linewidth=1.2)
    ax.scatter(xs[order], ys[order], s=28, color="C3", zorder=3,
               label=f"Pareto front ({len(order)})")  # fmt: skip
    if label_column is not None:
        for i in order[:15]:
            ax.annotate(str(df[label_column].iloc[i]), (xs[i], ys[i]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
    for axis, values in (("x", xs[ok]), ("y", ys[ok])):
        if len(values) and values.min() > 0 and values.max() / values.min() > 30:
            getattr(ax, f"set_{axis}scale")("log")
    feasible = df["feasible"].to_numpy(dtype=bool) if "feasible" in df else np.ones(len(xs), bool)
    hidden = {"infeasible or failed": int((~feasible).sum()),
              f"without {label(x)} or {label(y)}": int((feasible & ~ok).sum())}  # fmt: skip
    if any(hidden.values()):
        why = ", ".join(f"{n} {what}" for what, n in hidden.items() if n)
        ax.plot([], [], " ", label=f"not shown: {why}")
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    ax.set_title(title or f"{UNITS.get(y, (y,))[0]} against {UNITS.get(x, (x,))[0]}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _sorted_values(values):
    try:
        return sorted(values, key=float)
    except (TypeError, ValueError):
        return sorted(values, key=str)


def heatmap(df, x: str, y: str, value: str = "tops_per_w", best=None, title=None):
    """``value`` over the sweep axes ``x`` and ``y``: each cell is the best feasible point
    with those two values (``best``: ``max`` or ``min``; by default max for throughput and
    efficiency, min for latency, energy and EDP); an empty cell has none."""
    import pandas as pd

    _need(df, "heatmap", [("x", x), ("y", y), ("value", value)])
    best = best or ("max" if value in HIGHER_IS_BETTER else "min")
    data = df
    if "feasible" in df:
        data = df[df["feasible"].to_numpy(dtype=bool)]
    table = pd.pivot_table(data, index=y, columns=x, values=value, aggfunc=best, dropna=False)
    cols = _sorted_values(df[x].dropna().unique())
    rows = _sorted_values(df[y].dropna().unique())
    table = table.reindex(index=rows, columns=cols)
    grid = _scaled(value, table.to_numpy(dtype=float))
    fig = _figure(max(4.8, 0.9 * len(cols) + 2.5), max(3.6, 0.5 * len(rows) + 2))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(grid)
    image = ax.imshow(masked, origin="lower", aspect="auto", cmap="viridis")
    ax.set_facecolor("0.85")
    ax.set_xticks(range(len(cols)), [str(c) for c in cols])
    ax.set_yticks(range(len(rows)), [str(r) for r in rows])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if len(cols) * len(rows) <= 400 and masked.count():
        lo, hi = float(masked.min()), float(masked.max())
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                dark = hi > lo and (v - lo) / (hi - lo) < 0.5
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")  # fmt: skip
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(label(value))
    combos = data.groupby([x, y]).ngroups if len(data) else 0
    how = f" ({best} over the other axes)" if len(data) > combos else ""
    ax.set_title(title or f"{UNITS.get(value, (value,))[0]}{how}", fontsize=10)
    return fig


def energy_columns(df) -> dict:
    """``energy_<component>_<action>_pj`` columns by component."""
    out: dict = {}
    for col in df.columns:
        if not (col.startswith("energy_") and col.endswith("_pj")) or col == "energy_pj":
            continue
        body = col[len("energy_") : -len("_pj")]
        comp = next((c for c in COMPONENTS if body.startswith(c + "_")), body.rsplit("_", 1)[0])
        out.setdefault(comp, []).append(col)
    return out


def _component_totals(df):
    """Energy (pJ) per component: from a breakdown table (component, action, energy_pj) or
    from the ``energy_*_pj`` columns of report layers or sweep points, summed over rows."""
    if {"component", "energy_pj"} <= set(df.columns):
        sums = df.groupby("component")["energy_pj"].sum()
        return {str(k): float(v) for k, v in sums.items()}
    return {
        comp: float(np.nansum(df[cols].to_numpy(dtype=float)))
        for comp, cols in energy_columns(df).items()
    }


def _energy_unit(total_pj: float):
    return ("µJ", 1e-6) if total_pj < 1e9 else ("mJ", 1e-9)


def energy_breakdown(df, by=None, title=None):
    """Energy by component. Without ``by``: one bar per component, summed over the rows of
    ``df`` (a report's breakdown table, its layers, or sweep points), with its share. With
    ``by`` (a column naming each row, e.g. the design): one stacked bar per row."""
    if by is not None:
        _need(df, "energy_breakdown", [("by", by)])
    if by is None:
        totals = {k: v for k, v in _component_totals(df).items() if v > 0}
        if not totals:
            raise ValueError("no energy columns to plot (an arch without a technology section?)")
        items = sorted(totals.items(), key=lambda kv: kv[1])
        total = sum(totals.values())
        unit, factor = _energy_unit(total)
        fig = _figure(6.4, 0.45 * len(items) + 1.6)
        ax = fig.add_subplot()
        ax.barh([k for k, _ in items], [v * factor for _, v in items], color="C0")
        for i, (_, v) in enumerate(items):
            ax.text(v * factor, i, f" {v / total:.1%}", va="center", fontsize=8)
        ax.set_xlabel(f"energy ({unit})")
        ax.set_ylabel("component")
        ax.set_xlim(0, max(v for _, v in items) * factor * 1.18)
        ax.set_title(title or f"energy by component: {total * factor:,.3g} {unit} in all")
        return fig
    rows = df.head(40)
    groups = energy_columns(rows)
    if not groups:
        raise ValueError("no energy_<component>_<action>_pj columns to plot")
    per = {c: np.nansum(rows[cols].to_numpy(dtype=float), axis=1) for c, cols in groups.items()}
    unit, factor = _energy_unit(max(float(sum(per.values()).max()), 1.0))
    fig = _figure(max(6.4, 0.35 * len(rows) + 2), 4.8)
    ax = fig.add_subplot()
    bottom = np.zeros(len(rows))
    names = [str(v) for v in rows[by]]
    for i, (comp, values) in enumerate(sorted(per.items(), key=lambda kv: -kv[1].sum())):
        ax.bar(names, values * factor, bottom=bottom, label=comp, color=f"C{i % 10}")
        bottom += values * factor
    ax.set_ylabel(f"energy ({unit})")
    ax.set_xlabel(by)
    ax.tick_params(axis="x", labelrotation=60 if len(rows) > 6 else 0, labelsize=7)
    ax.legend(fontsize=7, ncols=2)
    ax.set_title(title or "energy by component")
    return fig


def layer_bars(layers, title=None):
    """Per-layer latency and energy (stacked by component when the columns are there) of a
    report's layers DataFrame (`accelsim.Report.layers`, a report JSON's ``layers``, or a
    sweep's layers table for one point)."""
    _need(layers, "layer_bars", [("layers", "name"), ("layers", ("latency_s", "cycles"))])
    rows = layers
    if "costed" in rows:
        rows = rows[rows["costed"].astype(bool).to_numpy()]
    names = [str(n) for n in rows["name"]]
    x = np.arange(len(names))
    if "latency_s" in rows:
        latency, ylabel = _scaled("latency_s", rows["latency_s"]), label("latency_s")
    else:
        latency, ylabel = rows["cycles"].to_numpy(dtype=float), "cycles"
    has_energy = "energy_pj" in rows
    fig = _figure(max(6.4, 0.12 * len(names) + 3), 6.4 if has_energy else 3.6)
    axes = fig.subplots(2 if has_energy else 1, 1, sharex=True, squeeze=False)[:, 0]
    axes[0].bar(x, latency, color="C0")
    axes[0].set_ylabel(ylabel)
    axes[0].set_title(title or f"per-layer latency and energy ({len(names)} layers)")
    if has_energy:
        ax = axes[1]
        total = float(np.nansum(rows["energy_pj"].to_numpy(dtype=float)))
        unit, factor = _energy_unit(total / max(len(names), 1) * 10)
        groups = energy_columns(rows)
        if groups:
            bottom = np.zeros(len(names))
            per = {
                c: np.nansum(rows[cols].to_numpy(dtype=float), axis=1) for c, cols in groups.items()
            }
            for i, (comp, values) in enumerate(sorted(per.items(), key=lambda kv: -kv[1].sum())):
                ax.bar(x, values * factor, bottom=bottom, label=comp, color=f"C{i % 10}")
                bottom += values * factor
            ax.legend(fontsize=7, ncols=2)
        else:
            ax.bar(x, rows["energy_pj"].to_numpy(dtype=float) * factor, color="C1")
        ax.set_ylabel(f"energy ({unit})")
    last = axes[-1]
    last.set_xticks(x, names, rotation=90, fontsize=max(4, min(8, 400 // max(len(names), 1))))
    last.set_xlabel("layer")
    return fig


# ------------------------------------------------------------------------ accelsim plot

KINDS = ("pareto", "heatmap", "layers", "breakdown")


def gantt(timeline, title=None):
    """A Gantt chart of the event model's busy intervals (`accelsim.event`): one row per
    resource (``dram``, ``generator``, ``array0``, ...), one bar per interval, coloured by
    what it was (compute, load, store, weights); cycles on the x axis."""
    _need(timeline, "gantt", [("timeline", c) for c in ("resource", "what", "start", "end")])
    fig = _figure(10, 1.2 + 0.5 * timeline["resource"].nunique())
    ax = fig.add_subplot()
    resources = sorted(timeline["resource"].unique(),
                       key=lambda r: (r.startswith("array"), len(r), r))  # fmt: skip
    kinds = sorted({w.split()[0] for w in timeline["what"]})
    colours = dict(zip(kinds, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:grey")))
    labelled = set()
    for y, resource in enumerate(resources):
        on = timeline[timeline["resource"] == resource]
        for kind in kinds:
            sel = on[on["what"].str.split().str[0] == kind]
            if len(sel):
                spans = list(zip(sel["start"], sel["end"] - sel["start"]))
                label = None if kind in labelled else kind
                labelled.add(kind)
                ax.broken_barh(spans, (y - 0.4, 0.8), color=colours[kind], label=label)
    ax.set_yticks(range(len(resources)), resources)
    ax.set_xlabel("cycles")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def _bad(path: str, message: str, found=None, allowed=None) -> ConfigError:
    return ConfigError(Problem("<command line>", None, path, message, found, allowed))


def _column(df, name, option, default=None):
    name = name or default
    if name not in df.columns:
        columns = [c for c in df.columns if not c.startswith(("energy_", "area_"))]
        raise _bad(option, f"no such column{did_you_mean(name, columns)}", repr(name),
                   ", ".join(columns))  # fmt: skip
    return name


def design_labels(points, axes) -> list[str]:
    """``rows=32 cols=32 w_bits=4``: a short name of each point from its axis values."""
    _need(points, "design_labels", [("axes", a) for a in axes] or [("points", "point_id")])
    short = {a: a.rsplit(".", 1)[-1] for a in axes}
    return [
        " ".join(f"{short[a]}={row[a]}" for a in axes) or f"point {row['point_id']}"
        for _, row in points.iterrows()
    ]


def command(args) -> int:
    """``accelsim plot KIND INPUT -o FILE``: INPUT is a sweep directory (``accelsim sweep
    --out``) or a report JSON (``accelsim run --out``)."""
    from accelsim.cli import _unwritable

    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise _bad("--output", "unknown figure format", repr(str(out)), ".png, .svg, .pdf")
    problems = _unwritable(args.output, "--output", directory=False)
    if problems:
        raise ConfigError(problems)
    source = Path(args.input)
    if source.is_dir():
        fig = _from_sweep(args, source)
    elif source.is_file() and source.suffix.lower() == ".json":
        fig = _from_report(args, source)
    else:
        message = (
            "not a sweep directory (accelsim sweep --out DIR) nor a report JSON "
            "(accelsim run --out DIR writes DIR/report.json)"
        )
        raise _bad("INPUT", message, repr(str(source)))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    print(f"wrote {out}")
    return 0


def _from_report(args, source: Path):
    try:
        report = json.loads(source.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad("INPUT", f"not JSON ({exc})", repr(str(source))) from None
    if not isinstance(report, dict) or "layers" not in report:
        raise _bad("INPUT", "not a report JSON (no 'layers')", repr(str(source)))
    name = f"{report.get('arch')} running {report.get('workload')}"
    if args.kind == "layers":

        def optional(column):  # used by layer_bars when present
            return _NUMBER if column == "latency_s" or column.startswith("energy_") else None

        layers = _records(report, "layers", source, {"name": str, "cycles": _NUMBER}, optional)
        return layer_bars(layers, title=name)
    if args.kind == "breakdown":
        if report.get("energy_breakdown") in (None, []):
            raise _bad("INPUT", "the report has no energy (its arch has no technology section)",
                       repr(str(source)))  # fmt: skip
        table = _records(report, "energy_breakdown", source,
                         {"component": str, "energy_pj": _NUMBER})  # fmt: skip
        return energy_breakdown(table, title=f"{name}: energy by component")
    if args.kind == "timeline":  # accelsim run --fidelity event --timeline
        if not report.get("timeline"):
            raise _bad("INPUT", "the report has no timeline (accelsim run --fidelity event "
                       "--timeline writes one)", repr(str(source)))  # fmt: skip
        number = (int, float)
        columns = {"resource": str, "what": str, "start": number, "end": number}
        timeline = _records(report, "timeline", source, columns)
        return gantt(timeline, title=f"{name}: busy intervals")
    raise _bad("KIND", f"{args.kind} needs a sweep directory; a report is one design",
               repr(args.kind), "layers, breakdown, timeline")  # fmt: skip


_NUMBER = (int, float, type(None))  # None: a value the model did not compute


def _records(report: dict, key: str, source: Path, columns: dict, optional=lambda column: None):
    """``report[key]`` as a DataFrame, checked first: a non-empty list of objects, each with
    ``columns`` (name -> allowed types); ``optional(name)`` gives the allowed types of a
    column that is used when present (None: any). Otherwise a `ConfigError` naming the
    report file and the entry."""
    import pandas as pd

    rows = report.get(key)
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        found = json.dumps(rows)
        raise ConfigError(Problem(str(source), None, key, "not a non-empty list of objects",
                                  found[:80] + ("..." if len(found) > 80 else ""),
                                  "what accelsim run --out writes"))  # fmt: skip
    for i, row in enumerate(rows):
        for column in columns:
            if column not in row:
                allowed = ", ".join(columns) + " in every entry"
                raise ConfigError(
                    Problem(str(source), None, f"{key}.{i}", f"no {column!r}", None, allowed)
                )
        for column, value in row.items():
            types = columns.get(column) or optional(column)
            if types is not None and (not isinstance(value, types) or isinstance(value, bool)):
                allowed = "a string" if types is str else "a number"
                raise ConfigError(Problem(str(source), None, f"{key}.{i}.{column}",
                                          "wrong type", repr(value)[:80], allowed))  # fmt: skip
    return pd.DataFrame(rows)


def _from_sweep(args, source: Path):
    from accelsim.sweeps import read_results, read_spec

    if args.kind not in KINDS:
        raise _bad("KIND", f"{args.kind} needs a report JSON; a sweep directory has no "
                   f"{args.kind}", repr(args.kind), ", ".join(KINDS))  # fmt: skip
    spec = read_spec(source)
    axes = list(spec["axes"])
    for table, columns in _reads(args, axes).items():
        _check_parts(source, table, columns, args.kind)
    points = read_results(source, "points")
    if points.empty:
        raise _bad("INPUT", "the sweep has no finished points yet", repr(str(source)))
    workloads = [w["name"] for w in spec["workloads"]]
    workload = args.workload or workloads[0]
    if workload not in workloads:
        raise _bad("--workload", f"not in this sweep{did_you_mean(workload, workloads)}",
                   repr(workload), ", ".join(workloads))  # fmt: skip
    points = points[points["workload"] == workload].reset_index(drop=True)
    points["design"] = design_labels(points, axes)
    title = f"{spec['base_arch']['name']} sweep, {workload}"
    if args.kind == "pareto":
        x = _column(points, args.x, "--x", "latency_s")
        y = _column(points, args.y, "--y", "energy_pj")
        _has_values(points, {"--x": x, "--y": y}, source)
        return pareto(points, x, y, label_column="design", title=title)
    if args.kind == "heatmap":
        if len(axes) < 2 and not (args.x and args.y):
            raise _bad("--x", "a heatmap needs two axes; this sweep has " + str(len(axes)))
        x = _column(points, args.x, "--x", axes[0] if axes else None)
        y = _column(points, args.y, "--y", axes[1] if len(axes) > 1 else None)
        value = _column(points, args.value, "--value", "tops_per_w")
        _has_values(points, {"--value": value}, source)
        return heatmap(points, x, y, value, title=f"{title}: {label(value)}")
    if args.kind == "layers":
        pid = _pick_point(points, args.point)
        layers = read_results(source, "layers")
        rows = layers[(layers["point_id"] == pid) & (layers["workload"] == workload)]
        design = points.loc[points["point_id"] == pid, "design"].iloc[0]
        return layer_bars(rows.reset_index(drop=True), title=f"{title}: {design}")
    _has_values(points, {"KIND": "energy_pj"}, source)
    if not energy_columns(points):
        why = "no energy_<component>_<action>_pj column in any part"
        redo = "what accelsim plot breakdown reads; run the sweep again to write them"
        raise ConfigError(Problem(str(source / "points"), None, "", why, None, redo))
    if args.point is not None:
        pid = _pick_point(points, args.point)
        rows = points[points["point_id"] == pid]
        return energy_breakdown(rows, title=f"{title}: {rows['design'].iloc[0]}")
    front = points[pareto_front(points)].sort_values("latency_s")
    if front.empty:
        raise _bad("INPUT", "no feasible point to plot", repr(str(source)))
    return energy_breakdown(front, by="design", title=f"{title}: Pareto-front designs")


def _reads(args, axes) -> dict:
    """Per table of a sweep directory, ``(column, option)`` for every column ``accelsim plot
    KIND`` reads from it (option: the one that chose the column, None for the plot's own; a
    tuple of columns: any one of them)."""
    points = [(c, None) for c in ("point_id", "workload", "feasible", *axes)]
    chosen = {"pareto": (("--x", "latency_s"), ("--y", "energy_pj")),
              "heatmap": (("--x", axes[0] if axes else None),
                          ("--y", axes[1] if len(axes) > 1 else None),
                          ("--value", "tops_per_w"))}.get(args.kind, ())  # fmt: skip
    for flag, default in chosen:
        given = getattr(args, flag[2:])
        if (given or default) is not None:
            points.append((given or default, flag if given else None))
    if args.kind == "breakdown":
        points += [("energy_pj", None)] + ([] if args.point is not None else [("latency_s", None)])
    if args.kind != "layers":
        return {"points": points}
    if args.point is None:
        points.append(("objective_value", None))  # the best point by the sweep's objective
    layers = [(c, None) for c in ("point_id", "workload", "layer_index", "name")]
    return {"points": points, "layers": [*layers, (("latency_s", "cycles"), None)]}


def _check_parts(source: Path, table: str, columns: list, kind: str) -> None:
    """A `ConfigError` naming each Parquet part of ``table`` (or the table, when every part
    lacks the same ones) without a column the plot reads (`_reads`): a part written by
    another accelsim version or edited, read before pandas meets it. A column an option
    chose that no part has is left to the option's own error (`_column`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from accelsim.sweeps import REDO_PART

    parts = sorted((source / table).glob("part-*.parquet"))
    if not parts and table == "layers":
        raise ConfigError(Problem(str(source / table), None, "", "no Parquet part", None,
                                  "the layers table accelsim sweep writes"))  # fmt: skip
    names = {}
    for part in parts:
        with contextlib.suppress(pa.ArrowException, OSError):  # read_results names it
            names[part] = set(pq.read_schema(part).names)
    wanted: dict = {}  # columns (any one of them) -> option; the plot's own come first
    for c, flag in columns:
        wanted.setdefault(c if isinstance(c, tuple) else (c,), flag)
    wanted = [c for c, flag in wanted.items()
              if flag is None or any(names[p] & set(c) for p in names)]  # fmt: skip
    missing = {p: [c for c in wanted if not names[p] & set(c)] for p in names}
    missing = {p: m for p, m in missing.items() if m}
    if not missing:
        return

    def listed(cols, quote=str):
        return ", ".join(" or ".join(map(quote, c)) for c in cols)

    reads = f"columns {listed(wanted)}: what accelsim plot {kind} reads"
    if len(missing) == len(parts) > 1 and len({tuple(m) for m in missing.values()}) == 1:
        cols = next(iter(missing.values()))
        problems = [Problem(str(source / table), None, "", f"no part has {listed(cols, repr)} "
                            "(written by another accelsim version?)", None,
                            f"{reads}; run the sweep again to write them")]  # fmt: skip
    else:
        problems = [
            Problem(str(p), None, "", f"no column {listed(m, repr)}", None, f"{reads}; {REDO_PART}")
            for p, m in missing.items()
        ]
    raise ConfigError(problems)


def _has_values(points, columns: dict, source) -> None:
    """A `ConfigError` when no feasible point of the sweep has a value in a column to plot
    (energy columns are empty when the arch has no technology section)."""
    feasible = points["feasible"].to_numpy(dtype=bool)
    for flag, column in columns.items():
        values = points.get(column)
        if values is not None and not np.isfinite(values[feasible].to_numpy(dtype=float)).any():
            raise _bad(flag, f"no feasible point of this sweep has {label(column)} (energy "
                       "needs a technology section in the arch)", repr(str(source)))  # fmt: skip


def _pick_point(points, point):
    if point is None:  # the best feasible point by the sweep's objective
        ok = points[points["feasible"].astype(bool) & points["objective_value"].notna()]
        if ok.empty:
            raise _bad("--point", "no feasible point in this sweep")
        return int(ok.loc[ok["objective_value"].idxmin(), "point_id"])
    if point not in set(points["point_id"]):
        raise _bad("--point", "no such point in this sweep", repr(point),
                   f"0..{int(points['point_id'].max())}")  # fmt: skip
    return point
