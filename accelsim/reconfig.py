"""Reconfigurable arrays (SARA-style): one physical PE grid, several array modes.

An arch with a ``reconfig`` section has one physical ``array.rows x array.cols`` grid that
can run in any of its ``modes``, each ``rows x cols`` (a logical array shape):

* sub-arrays: ``rows`` divides the grid's rows and ``cols`` its cols, so the grid runs as
  ``count = (R / rows) (C / cols)`` independent arrays (128x128 as 4 x 64x64, 16 x 32x32);
* another aspect ratio: ``rows`` a multiple of ``R`` and ``cols`` a divisor of ``C`` (or the
  other way round) with ``rows cols`` dividing ``R C``, the bypass links chain blocks
  (128x128 as 256x64 or 64x256, count 1; 128x128 as 2 x 256x32 also tiles).

Anything else does not tile the grid and is a `ConfigError`.

How a mode runs a layer (the "equivalent fixed arrays"): the ``count`` sub-arrays split
the layer's work along one GEMM dimension, ``split`` = ``m`` (rows of the inputs: output
pixels, or different inputs of a batch), ``n`` (output channels) or ``groups`` (grouped
and depthwise convolutions). The extent ``d`` is dealt out as evenly as possible:
``d mod count`` sub-arrays get ``ceil(d / count)``, the others ``floor(d / count)`` (none
when that is 0). Each sub-array is the closed-form model (`accelsim.model.evaluate`) of a
fixed ``rows x cols`` array that owns ``1 / count`` of every buffer (size and port
bandwidth), of the DRAM bandwidth and of a weight generator's rate; a sub-array fetches its
own operands (with an ``n`` split every sub-array reads all of the layer's inputs, with
``m`` all of its weights). The
layer takes as long as its slowest sub-array; counts (MACs, SRAM and DRAM bytes) are the
sum over sub-arrays, priced with the physical arch's energies (`accelsim.energy.price`:
leakage of the whole chip for the layer's cycles).

Mapper: every (mode, split, dataflow) is a choice; a mode change between two consecutive
GEMM layers costs ``switch_cycles`` and ``switch_pj`` (charged to the layer entering the
new mode; the first layer starts in its mode for free). The mapper picks the choice per
layer minimising the sum over layers of the objective's per-layer key (``latency``: cycles,
``energy``: pJ, ``edp``: pJ x cycles, each including the switch into the layer), by
dynamic programming over the modes (exact for that sum, not a greedy per-layer pick).

Overheads of the bypass network, from a cited synthesis (see ``source``):
``area_overhead`` (fraction of the PE array's area, `accelsim.energy.area_um2`, so it also
leaks) and ``pe_energy_overhead`` (fraction added to every PE action's energy, the power
overhead at equal activity).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from accelsim.errors import ConfigError
from accelsim.schema import NonNegInt, PositiveInt, Strict

Split = Literal["m", "n", "groups"]
_DATAFLOW = Literal["os", "ws", "is"]


class Mode(Strict):
    """One logical array shape; ``dataflow`` defaults to the array's dataflows."""

    rows: PositiveInt
    cols: PositiveInt
    dataflow: _DATAFLOW | tuple[_DATAFLOW, ...] | None = None


class Reconfig(Strict):
    modes: tuple[Mode, ...] = Field(min_length=1)
    splits: tuple[Split, ...] = Field(default=("m", "n", "groups"), min_length=1)
    switch_cycles: NonNegInt
    switch_pj: float = Field(ge=0)
    area_overhead: float = Field(ge=0)
    pe_energy_overhead: float = Field(ge=0)
    source: str = Field(min_length=1)


def count_of(grid_rows: int, grid_cols: int, rows: int, cols: int) -> int | None:
    """How many ``rows x cols`` arrays the grid runs as, or None if the shape does not tile."""
    fits = all(g % s == 0 or s % g == 0 for g, s in ((grid_rows, rows), (grid_cols, cols)))
    if not fits or (grid_rows * grid_cols) % (rows * cols):
        return None
    return grid_rows * grid_cols // (rows * cols)


def check_modes(spec, doc) -> None:
    """Every mode must tile the physical grid, once; one `ConfigError` lists the problems."""
    if spec.reconfig is None:
        return
    grid_r, grid_c = spec.array.rows, spec.array.cols
    problems, seen = [], {}
    for i, mode in enumerate(spec.reconfig.modes):
        shape = f"{mode.rows}x{mode.cols}"
        if count_of(grid_r, grid_c, mode.rows, mode.cols) is None:
            problems.append(
                doc.problem(
                    ("reconfig", "modes", i),
                    f"sub-array shape does not tile the {grid_r}x{grid_c} grid",
                    shape,
                    f"rows dividing {grid_r} or a multiple of it, cols dividing {grid_c} or a "
                    f"multiple of it, rows x cols dividing {grid_r * grid_c} "
                    f"(e.g. {grid_r // 2}x{grid_c // 2}, {grid_r // 2}x{grid_c * 2})",
                )
            )
        elif shape in seen:
            first = f"duplicate mode (first is modes.{seen[shape]})"
            problems.append(doc.problem(("reconfig", "modes", i), first, shape))
        seen.setdefault(shape, i)
    if problems:
        raise ConfigError(problems)


def label(count: int, rows: int, cols: int) -> str:
    """A mode's name in reports: ``"4x64x64"`` is 4 sub-arrays of 64x64."""
    return f"{count}x{rows}x{cols}"


def sub_arch(arch, mode: Mode, count: int):
    """The fixed arch one sub-array of ``mode`` is: its shape and dataflows, ``1 / count``
    of every buffer, of the DRAM bandwidth and of a weight generator's rate, no reconfig
    section."""
    from accelsim.arch import with_changes

    changes = {"array.rows": mode.rows, "array.cols": mode.cols, "reconfig": None}
    if mode.dataflow is not None:
        changes["array.dataflow"] = mode.dataflow
    spec = arch.spec
    if spec.memories is not None and count > 1:
        for name in ("inputs", "weights", "outputs"):
            buf = getattr(spec.memories, name)
            # at least a byte: a share too small for any tile makes the mode infeasible
            changes[f"memories.{name}.size_bytes"] = max(1, buf.size_bytes // count)
            changes[f"memories.{name}.bytes_per_cycle"] = buf.bytes_per_cycle / count
        changes["dram.bytes_per_cycle"] = spec.dram.bytes_per_cycle / count
    generator = getattr(spec.weights, "generator", None)
    if generator is not None and count > 1:  # one on-chip weight generator, shared
        changes["weights.generator.weights_per_cycle"] = generator.weights_per_cycle / count
    return with_changes(arch, changes)


def _pieces(extent: np.ndarray, count: int):
    """Even deal of ``extent`` over ``count`` sub-arrays: ``(big, n_big, small, n_small)``."""
    big = -(-extent // count)
    rem = extent % count
    n_big = np.where(rem == 0, count, rem)
    small = extent // count
    n_small = np.where((rem == 0) | (small == 0), 0, count - rem)
    return big, n_big, np.maximum(small, 1), n_small


def modes_of(arch) -> list[tuple[str, Mode, int]]:
    """``(label, mode, count)`` of every mode of a reconfigurable arch, in file order."""
    r, c = arch.rows, arch.cols
    out = []
    for mode in arch.spec.reconfig.modes:
        count = count_of(r, c, mode.rows, mode.cols)
        out.append((label(count, mode.rows, mode.cols), mode, count))
    return out


def evaluate(arch, x: dict, objective: str = "latency") -> dict:
    """`accelsim.model.evaluate` over every (mode, split, dataflow) choice.

    Same keys as the fixed model, with the first axis of the arrays (and the lists
    ``counts`` and ``tilings``) over choices instead of dataflows, plus per choice its
    ``dataflow``, ``mode`` and ``split`` (None for a one-array mode) and ``feasible``
    ``[choices, layers]``. Tiling byte parts are totals over sub-arrays divided by the
    layer's groups (the fixed model's per-group convention).
    """
    out: dict = {key: [] for key in ("counts", "tilings", "feasible", "dataflow", "mode",
                                     "split", "reasons")}  # fmt: skip
    for name, mode, count in modes_of(arch):
        sub = sub_arch(arch, mode, count)
        splits = arch.spec.reconfig.splits if count > 1 else (None,)
        for split in splits:
            if split is None:
                ev = sub_evaluate(arch, sub, x, objective)
                for d, df in enumerate(sub.dataflows):
                    _append(out, ev, d, name, split, df)
                continue
            (ev_big, x_big, n_big), (ev_small, x_small, n_small) = split_evaluate(
                arch, sub, x, split, count, objective
            )
            for d, df in enumerate(sub.dataflows):
                pieces = ((ev_big, x_big, n_big), (ev_small, x_small, n_small))
                _combine(out, pieces, d, x["groups"], name, split, df)
    result = {key: np.stack(out[key]) for key in (*_keys(out), "feasible")}
    for key in ("counts", "tilings", "dataflow", "mode", "split"):
        result[key] = out[key]
    feasible = result["feasible"]
    result["run"] = x["gemm"] & feasible.any(axis=0)
    first = np.argmax(feasible, axis=0)  # a feasible choice's reason (None), else choice 0's
    result["reason"] = [out["reasons"][c][i] for i, c in enumerate(first)]
    return result


def sub_evaluate(arch, sub, x: dict, objective: str, copies=None) -> dict:
    """The fixed model on sub-array ``sub`` of ``arch``, its tilings chosen by ``objective``
    with the energies the whole chip prices them at (`price`). ``copies`` (per layer): that
    many sub-arrays run this piece at once, so its actions count that many times against
    the chip's one leakage over its cycles, as in the layer's energy (`_combine`)."""
    from accelsim.model import evaluate as fixed

    if copies is not None:
        x = {**x, "copies": np.asarray(copies, dtype=np.float64)}

    def pricing(xc, counts, cycles):
        n = xc.get("copies", 1.0)
        return price(arch, xc, {key: v * n for key, v in counts.items()}, cycles)[0]

    return fixed(sub, x, objective, pricing)


def split_evaluate(arch, sub, x: dict, split: str, count: int, objective: str) -> list:
    """A layer dimension ``split`` over ``count`` sub-arrays: ``[(evaluation, x, copies)]``
    of the big pieces and of the small ones (evaluation None where no layer has one)."""
    big, n_big, small, n_small = _pieces(x[split], count)
    x_big, x_small = {**x, split: big}, {**x, split: small}
    ev_small = sub_evaluate(arch, sub, x_small, objective, n_small) if n_small.any() else None
    return [(sub_evaluate(arch, sub, x_big, objective, n_big), x_big, n_big),
            (ev_small, x_small, n_small)]  # fmt: skip


_BYTES = ("read", "write", "inputs_read", "weights_read", "spill")


def _keys(ev) -> list[str]:
    """The per-choice timing arrays the fixed model returned (``stall_generator`` only with
    generated weights)."""
    keys = ("cycles", "compute", "stall_read", "stall_write", "stall_sram", "stall_generator")
    return [key for key in keys if key in ev]


def _append(out, ev, d, name, split, df) -> None:
    """Add choice (mode ``name``, ``split``, dataflow index ``d``) of a one-array mode."""
    for key in _keys(ev):
        out.setdefault(key, []).append(ev[key][d])
    _record(out, ev["counts"][d], ev["tilings"][d], list(ev["reason"]), name, split, df)


def _combine(out, pieces, d, groups, name, split, df) -> None:
    """Add a split choice: the slowest piece sets the time, counts add over sub-arrays."""
    (ev, x, n), (ev_s, x_s, n_s) = pieces
    values = {key: ev[key][d] for key in _keys(ev)}
    counts = {key: v * n for key, v in ev["counts"][d].items()}
    tiling = ev["tilings"][d]  # None without memories
    moved = {key: tiling[key] * x["groups"] * n for key in _BYTES} if tiling else {}
    reason = list(ev["reason"])
    if ev_s is not None:
        slow = values["cycles"] >= np.where(n_s > 0, ev_s["cycles"][d], 0)
        values = {key: np.where(slow, value, ev_s[key][d]) for key, value in values.items()}
        counts = {key: v + ev_s["counts"][d][key] * n_s for key, v in counts.items()}
        moved = {k: v + ev_s["tilings"][d][k] * x_s["groups"] * n_s for k, v in moved.items()}
        reason = [r if r is not None or not s else rs
                  for r, rs, s in zip(reason, ev_s["reason"], n_s > 0)]  # fmt: skip
    if tiling:
        tiling = {**tiling, **{key: v / groups for key, v in moved.items()}}
    for key, value in values.items():
        out.setdefault(key, []).append(value)
    _record(out, counts, tiling, reason, name, split, df)


def _record(out, counts, tiling, reason, name, split, df) -> None:
    out["counts"].append(counts)
    out["tilings"].append(tiling)
    out["feasible"].append(np.array([r is None for r in reason]))
    out["reasons"].append(reason)
    out["dataflow"].append(df)
    out["mode"].append(name)
    out["split"].append(split)


def switch_energy_pj(arch) -> float:
    """Energy of one mode switch: ``switch_pj`` plus the chip's leakage over its cycles."""
    from accelsim.energy import leakage_pj_per_cycle, tech_of

    cfg = arch.spec.reconfig
    tech = tech_of(arch)
    leak = leakage_pj_per_cycle(arch, tech) if tech is not None else 0.0
    return cfg.switch_pj + cfg.switch_cycles * leak


def price(arch, x: dict, counts: dict, cycles: np.ndarray):
    """`accelsim.energy.price` plus the bypass network's share of the PE energy,
    ``(pe, reconfig_overhead) = pe_energy_overhead x`` the PE actions' energy."""
    from accelsim.energy import price as base

    energy, breakdown = base(arch, x, counts, cycles)
    if energy is None:
        return None, None
    pe = np.zeros(np.shape(cycles))  # stays zero where no GEMM layer runs
    for (comp, action), v in breakdown.items():
        if comp == "pe" and action != "operand_move_bytes":
            pe = pe + v
    breakdown[("pe", "reconfig_overhead")] = arch.spec.reconfig.pe_energy_overhead * pe
    return energy + breakdown[("pe", "reconfig_overhead")], breakdown


def choose(arch, objective: str, ev: dict, energy: np.ndarray) -> np.ndarray:
    """Choice index per layer minimising the summed per-layer key with switch costs.

    Dynamic programming over the modes along the GEMM layers that run (others do not use
    the array and keep its mode): ``cost[mode]`` is the best total up to the current layer
    ending in ``mode``; staying costs the layer's best key in that mode, entering it from
    another mode the best key with ``switch_cycles`` and the switch energy added. Ties go to
    staying, then to the first mode and choice listed.
    """
    from accelsim.model import objective_key

    cfg = arch.spec.reconfig
    feasible, cycles = ev["feasible"], ev["cycles"]
    stay = np.where(feasible, objective_key(objective, cycles, energy), np.inf)
    enter = np.where(
        feasible,
        objective_key(objective, cycles + cfg.switch_cycles, energy + switch_energy_pj(arch)),
        np.inf,
    )
    names = list(dict.fromkeys(ev["mode"]))
    of_mode = np.array([names.index(m) for m in ev["mode"]])
    best, arg = {}, {}
    for tag, key in (("stay", stay), ("enter", enter)):
        best[tag] = np.stack([key[of_mode == i].min(axis=0) for i in range(len(names))])
        arg[tag] = np.stack([np.flatnonzero(of_mode == i)[np.argmin(key[of_mode == i], axis=0)]
                             for i in range(len(names))])  # fmt: skip
    pick = np.zeros(cycles.shape[1], dtype=np.int64)
    layers = np.flatnonzero(ev["run"])
    if not len(layers):
        return pick
    cost = best["stay"][:, layers[0]]
    came = []  # per layer after the first: the mode each mode was entered from
    for i in layers[1:]:
        stayed = cost + best["stay"][:, i]
        moved = cost[None, :] + best["enter"][:, i][:, None]
        np.fill_diagonal(moved, np.inf)
        src = np.argmin(moved, axis=1)
        moved = moved[np.arange(len(names)), src]
        keep = stayed <= moved
        came.append(np.where(keep, np.arange(len(names)), src))
        cost = np.where(keep, stayed, moved)
    mode = int(np.argmin(cost))
    for i, src in zip(layers[:0:-1], reversed(came)):
        prev = int(src[mode])
        pick[i] = arg["stay" if prev == mode else "enter"][mode, i]
        mode = prev
    pick[layers[0]] = arg["stay"][mode, layers[0]]
    return pick


def add_columns(arch, ev: dict, pick: np.ndarray, rows: dict, parts) -> None:
    """Report columns of a reconfigurable arch: ``array_mode`` and ``split`` per layer, and
    the mode switches (``mode_switch``; their cycles as ``stall_switch_cycles``, part of
    ``cycles`` and of ``stall_cycles``; their energy as ``energy_array_switch_pj``)."""
    cfg = arch.spec.reconfig
    run = ev["run"]
    mode = [ev["mode"][p] if r else None for p, r in zip(pick, run)]
    rows["array_mode"] = mode
    rows["split"] = [ev["split"][p] if r else None for p, r in zip(pick, run)]
    switched = np.zeros(len(run), dtype=bool)
    running = np.flatnonzero(run)
    switched[running[1:]] = [mode[a] != mode[b] for a, b in zip(running[1:], running[:-1])]
    rows["mode_switch"] = switched
    extra = np.where(switched, cfg.switch_cycles, 0)
    rows["stall_switch_cycles"] = extra
    rows["cycles"] = rows["cycles"] + extra
    if "stall_cycles" in rows:
        rows["stall_cycles"] = rows["stall_cycles"] + extra
    if "energy_pj" in rows:
        energy = np.where(switched, switch_energy_pj(arch), 0.0)
        rows["energy_array_switch_pj"] = energy
        rows["energy_pj"] = rows["energy_pj"] + energy
        parts.append((("array", "switch"), energy))
