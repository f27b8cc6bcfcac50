"""The cost model: map each layer, count cycles and actions, then price them (DESIGN.md §4).

Everything is computed over numpy arrays, all layers at once and every dataflow the arch
allows; the mapper picks per layer the DRAM tiling and then the dataflow that the objective
prefers (`latency`, fewest cycles; `energy`; `edp`, energy x cycles), each candidate costed
by steps 1-5 below (`evaluate`). `simulate` is the one-design case.

Per GEMM layer and dataflow:

1. PE packing: a PE doing ``p = pe.k_per_cycle(quant)`` MACs per step along ``k`` turns a
   layer's ``k`` into fewer array steps (see `_packing`); a step takes
   ``pe.cycles_per_step(quant)`` cycles, which multiplies the array's cycle count.
2. Tiling (`accelsim.memory`): if the arch has memories, every candidate DRAM tiling that
   fits; compute cycles are the closed form (`accelsim.dataflow`) summed over tiles.
   Weights take the bits their source puts in DRAM (`accelsim.weights`: ``w_bits``, or the
   supermask's bits when weights are generated on chip).
3. Stalls: DRAM transfers overlap compute except the first tile's loads and the last
   tile's write-back; an SRAM port that cannot feed the array also stalls it, and so does
   a weight generator that cannot keep up (`accelsim.weights`).
4. Counts ("count first"): MACs, inter-PE operand moves, SRAM bytes read and written per
   buffer (array side and DRAM side), DRAM bytes, vector ops, leakage cycles.
5. Prices ("then price", `accelsim.energy`): counts x per-action energies.

Array-side SRAM traffic of one tile ``mt x nt x kt`` (elements; ``R x C`` array)::

    os: inputs mt kt ceil(nt/C)   weights kt nt ceil(mt/R)   outputs written mt nt
    ws: inputs mt kt ceil(nt/C)   weights kt nt              outputs written mt nt ceil(st/R)
    is: inputs mt kt              weights kt nt ceil(mt/C)   outputs written mt nt ceil(st/R)

(the streamed operand is re-read once per fold of the other array dimension, the
stationary one is loaded once per tile; ``ws``/``is`` produce one partial sum per row fold,
and a row of PEs holds ``R`` array steps of the reduction: ``st = ceil(kt / pack)``, step 1).
Every output write but the first of each output element is a read-modify-write, so
output reads = writes - M N per group. With ``memories.inputs.window_reuse`` the inputs
reach the array through a sliding-window loader: input reads x ``share`` (distinct ifmap
elements / ``M K``, see `accelsim.memory`; a tile's halo is not counted).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from accelsim.arch import Arch
from accelsim.dataflow import TIMINGS, ceil_div, systolic_terms
from accelsim.errors import ConfigError, Problem, did_you_mean
from accelsim.memory import (
    ORDERS,
    best,
    every_tiling,
    fitting,
    tile_parts,
    tiled,
    tiled_product,
)
from accelsim.report import Batch, Report, energy_column, provenance
from accelsim.workload import Assignment, Workload

OBJECTIVES = ("latency", "energy", "edp")
# what `evaluate` reports of each layer's chosen tiling (`accelsim.memory.every_tiling`)
TILING_KEYS = ("tm", "tn", "tk", "order", "read", "write", "inputs_read", "weights_read", "spill")


ENERGY_ALLOWED = "(or add a technology section to the arch)"


def energy_problem(arch: Arch) -> str | None:
    """Why ``arch`` has no energy to optimise or report, or None when it has."""
    if arch.spec.technology is None:
        return f"arch {arch.name!r} has no technology section, so no energy model"
    return None


def check_objective(objective: str, arch: Arch | None = None) -> None:
    """An objective the model knows and, for ``energy``/``edp``, an arch it can price."""
    why = energy_problem(arch) if arch is not None and objective != "latency" else None
    if objective in OBJECTIVES and why is not None:
        raise ConfigError(Problem("<command line>", None, "objective", why, repr(objective),
                                  f"latency {ENERGY_ALLOWED}"))  # fmt: skip
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


def layer_arrays(layers, pe) -> dict:
    """The per-layer inputs of the model as arrays (one entry per layer)."""
    from accelsim.energy import vector_arrays

    quant = [la.quant for la in layers]
    # each distinct precision once, keyed by its field values (hashing a pydantic model is
    # slow): checked, packed and priced once, however many layers share it
    keys = [tuple(vars(q).values()) for q in quant]
    distinct: dict = {}  # field values -> the first QuantSpec with them
    for key, q in zip(keys, quant):
        distinct.setdefault(key, q)
    position = {key: i for i, key in enumerate(distinct)}
    index = np.array([position[key] for key in keys], dtype=np.int64)
    quants = list(distinct.values())
    gemm = np.array([la.is_gemm for la in layers], dtype=bool)
    used = set(index[gemm].tolist())  # precisions of GEMM layers: the PE checks those
    checks = [pe.check(q) if i in used else None for i, q in enumerate(quants)]
    reason = [checks[i] if g else None for g, i in zip(gemm.tolist(), index.tolist())]
    shapes = [(la.m, la.n, la.k, la.groups, la.elements, la.input_elements, la.k_run)
              for la in layers]  # fmt: skip
    shapes = np.array(shapes, dtype=np.int64).reshape(-1, 7)
    dims = np.where(gemm[:, None], shapes[:, :4], 1)
    share = shapes[:, 5] / np.where(gemm, dims[:, 0] * dims[:, 2] * dims[:, 3], 1)
    return {
        "gemm": gemm,
        "reason": reason,
        "m": dims[:, 0],
        "n": dims[:, 1],
        "k": dims[:, 2],
        "groups": dims[:, 3],
        "elements": shapes[:, 4],
        "share": np.where(gemm, share, 1.0),
        **{
            f"{b}_bits": np.array([getattr(q, f"{b}_bits") for q in quants], dtype=np.int64)[index]
            for b in ("a", "w", "acc", "out")
        },
        "quants": quants,  # the distinct QuantSpecs; layer i has quants[quant_index[i]]
        "quant_index": index,
        "quant": quant,
        **_packing(gemm, shapes[:, 2], shapes[:, 6], quants, index, checks, pe),
        **vector_arrays(layers),  # the vector ops of non-GEMM layers (accelsim.energy)
    }


def _packing(gemm, k, k_run, quants, index, checks, pe) -> dict:
    """How the PE packs each layer: array steps per ``k`` and cycles per step.

    A PE that does ``p`` MACs per step packs them along the contiguous run of the reduction
    (the input channels of a conv, all of ``k`` otherwise), as BitFusion's simulator does:
    ``steps = (k / k_run) ceil(k_run / p)``, so a layer with few channels under-fills. ``pack``
    is the effective ``k / steps`` (used to scale a tile's ``k``); ``step`` the cycles one
    step takes (bit-serial PEs need several). Layers that do not run pack 1 MAC in 1 cycle.
    ``pe_actions`` per MAC: the PE's, except that the actions it does once per step
    (``pe.STEP_ACTIONS``: a fusion-unit cycle, a LUT lookup) count per step, ``p / pack``
    times its per-MAC figure at full packing (an under-filled step costs a full one).
    """
    runs = gemm & np.array([checks[i] is None for i in index.tolist()], dtype=bool)
    p, s = np.ones(len(quants), dtype=np.int64), np.ones(len(quants), dtype=np.int64)
    actions: dict = {}
    for i in _running(index, runs):
        p[i], s[i] = pe.k_per_cycle(quants[i]), pe.cycles_per_step(quants[i])
        for action, per_mac in pe.actions(quants[i]).items():
            actions.setdefault(action, np.zeros(len(quants)))[i] = per_mac
    p, s = np.where(runs, p[index], 1), np.where(runs, s[index], 1)
    k, run = np.maximum(k, 1), np.maximum(k_run, 1)
    steps = (k // run) * -(-run // p)
    per_step = getattr(pe, "STEP_ACTIONS", ())
    return {
        "pack": k / steps,
        "step": s,
        "pe_actions": {
            a: np.where(runs, t[index], 0.0) * (p * steps / k if a in per_step else 1)
            for a, t in actions.items()
        },  # fmt: skip
        # a PE that skips all-zero weight bit-planes (accelsim.trace) can finish a step in one
        # cycle: its peak, whatever the data, is a step per cycle
        "peak": p / (1 if getattr(pe, "skip_zero_bitplanes", False) else s),
    }


def _running(index, runs) -> list:
    """The distinct precisions (``index`` into the distinct QuantSpecs) of the layers that
    run, in order of the first layer that runs with each: the order of the PE's actions."""
    return list(dict.fromkeys(index[runs].tolist()))


def _own_actions(pe, x: dict, starts) -> list[tuple]:
    """Per run of layers (a workload's, from ``starts``), the PE actions its own layers
    count, in the order `layer_arrays` of those layers alone lists them."""
    runs = x["gemm"] & np.array([r is None for r in x["reason"]], dtype=bool)
    bounds = [*np.asarray(starts).tolist(), len(runs)]
    return [
        tuple(dict.fromkeys(a for q in _running(x["quant_index"][lo:hi], runs[lo:hi])
                            for a in pe.actions(x["quants"][q])))
        for lo, hi in zip(bounds, bounds[1:])
    ]  # fmt: skip


def _sram_factors(dataflow, rows, cols, pack=1) -> dict:
    """Per-tile array-side SRAM element counts (see the module docstring) as a product of
    one factor per dimension ``(m, n, k)``: None for the tile's extent, else a function of it
    (`accelsim.memory.tiled_product` sums such products over the tiles in closed form).
    ``pack``: reduction elements per array step (per layer), which row folds count in."""

    def one(x):
        return 1

    def over(d):
        return lambda x: ceil_div(x, d)

    def row_folds(x):
        return ceil_div(np.ceil(x / pack - 1e-9).astype(np.int64), rows)

    if dataflow == "os":
        return {"inputs": (None, over(cols), None), "weights": (over(rows), None, None),
                "outputs": (None, None, one)}  # fmt: skip
    if dataflow == "ws":
        return {"inputs": (None, over(cols), None), "weights": (one, None, None),
                "outputs": (None, None, row_folds)}  # fmt: skip
    return {"inputs": (None, one, None), "weights": (over(cols), None, None),
            "outputs": (None, None, row_folds)}  # fmt: skip


def _sram_elements(dataflow, rows, cols, pack=1) -> dict:
    """`_sram_factors` as functions of one tile ``(m, n, k)``."""

    def product(factors):
        def count(*extents):
            out = 1
            for f, e in zip(factors, extents):
                out = out * (e if f is None else f(e))
            return out

        return count

    return {t: product(f) for t, f in _sram_factors(dataflow, rows, cols, pack).items()}


# operand bits that hop between neighbouring PEs on every MAC, per dataflow
MOVING = {"os": ("a_bits", "w_bits"), "ws": ("a_bits", "acc_bits"), "is": ("w_bits", "acc_bits")}


def evaluate(arch: Arch, x: dict, objective: str = "latency", pricing=None, distinct=None) -> dict:
    """Cycles, stalls and action counts of every layer under every allowed dataflow.

    With memories, each dataflow's tiling is chosen per layer by ``objective`` among the
    candidates of `accelsim.memory.every_tiling` that fit (`accelsim.memory.fitting`), each
    costed exactly as below (`_cost`) and priced by ``pricing(x, counts, cycles) -> energy``
    (default `accelsim.energy.price` on ``arch``); ties (energies within 1e-9 relative, equal
    cycles) go to fewer cycles, then to less DRAM traffic (within 1e-9), then to the first in
    the nesting (order, Tm, Tn, Tk). Identical layers
    are costed once (``distinct``: `_distinct` of ``x``, if known). Returns arrays of shape
    ``[dataflows, layers]`` (counts in a nested dict keyed by ``(component, action)``) plus
    per-layer tiling and feasibility.
    """
    mem = arch.spec.memories
    reason = list(x["reason"])
    results, tilings = [], [None] * len(arch.dataflows)
    if mem is None:
        results = _cost(arch, x, None)
    else:
        if pricing is None:
            from accelsim.energy import price

            def pricing(xc, counts, cycles):
                return price(arch, xc, counts, cycles)[0]

        sizes = (mem.inputs.size_bytes, mem.weights.size_bytes, mem.outputs.size_bytes)
        first, inverse = _distinct(x) if distinct is None else distinct
        xu = _take(x, first)
        bits = (xu["a_bits"], _w_dram(arch, xu), xu["acc_bits"], xu["out_bits"])
        every = every_tiling(xu["m"], xu["n"], xu["k"], xu["share"], bits,
                             min(arch.rows, arch.cols), arch.timing == "scalesim")  # fmt: skip
        xe, costs = _every_cost(arch, xu, every)
        keep, fits = fitting(every, sizes)
        row, rank = every["row"][keep], every["rank"][keep]
        moved = every["moved"][keep]
        tilings = []
        for res in costs:
            cycles = res["cycles"][keep]
            energy = None  # the latency objective needs no prices (ties: cycles, traffic)
            if objective != "latency":
                counts = {a: v[keep] if np.ndim(v) else v for a, v in res["counts"].items()}
                energy = pricing(_take(xe, keep), counts, cycles)
            if objective == "latency":
                keys, slack = (cycles, moved), (0, 1e-9)
            else:
                keys = (objective_key(objective, cycles, energy), cycles, moved)
                slack = (1e-9, 0, 1e-9)
            take = keep[best(row, keys, rank, slack)][inverse]  # into every
            results.append(_take(res, take))
            tilings.append({**{key: every[key][take] for key in TILING_KEYS},
                            "fits": fits[inverse]})  # fmt: skip
        for i in np.flatnonzero(x["gemm"] & ~tilings[0]["fits"]):
            if reason[i] is None:
                reason[i] = _too_small(i, x, sizes)
    result = {key: np.stack([r[key] for r in results]) for key in results[0] if key != "counts"}
    result["counts"] = [r["counts"] for r in results]
    result["reason"] = reason
    result["run"] = x["gemm"] & np.array([r is None for r in reason])
    result["tilings"] = tilings
    return result


def _per_layer(x: dict) -> np.ndarray:
    """Every per-layer array the cost reads, one column each: ``[layers, columns]``."""
    n = len(x["gemm"])
    columns = [v for v in x.values() if isinstance(v, np.ndarray) and v.shape == (n,)]
    columns += list(x["pe_actions"].values())
    return np.stack([np.asarray(v, dtype=np.float64) for v in columns], axis=1)


def _distinct(x: dict):
    """Layers identical in every per-layer array the cost reads: the first of each and, per
    layer, the index of its distinct layer."""
    per_layer = np.ascontiguousarray(_per_layer(x))
    rows = per_layer.view(np.dtype((np.void, per_layer.dtype.itemsize * per_layer.shape[1])))
    _, first, inverse = np.unique(rows.ravel(), return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


# The latest arch (its buffer sizes aside) and layers with every tiling costed: a tiling's
# cost does not depend on buffer sizes (they decide which tilings fit, and prices), so a
# sweep's points that differ only in those share it. Kept if under COSTS_BYTES.
_COSTS: dict = {}
COSTS_BYTES = 256 << 20


def _every_cost(arch: Arch, xu: dict, every: dict):
    """``(x of every entry of every, _cost of every entry)`` for the distinct layers ``xu``."""
    spec = arch.spec.model_dump(mode="json")
    for buffer in (spec.get("memories") or {}).values():
        buffer.pop("size_bytes")
    key = (json.dumps(spec, sort_keys=True), _per_layer(xu).tobytes())
    found = _COSTS.get(key)  # (one lookup: dask may run chunks in threads)
    if found is not None:
        return found
    xe = _take(xu, every["row"])
    found = (xe, _cost(arch, xe, every))
    _COSTS.clear()
    size = sum(np.asarray(v).nbytes for r in found[1] for v in (*r.values(), *r["counts"].values())
               if not isinstance(v, dict))  # fmt: skip
    if size <= COSTS_BYTES:
        _COSTS[key] = found
    return found


def _take(x: dict, idx) -> dict:
    """``x`` with every per-row array (and nested dict of them) taken at ``idx``; other
    entries as they are (per-layer lists are dropped: the cost does not read them)."""
    n = len(x["gemm"]) if "gemm" in x else len(x["cycles"])
    out = {}
    for key, value in x.items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (n,):
            out[key] = value[idx]
        elif isinstance(value, dict):
            out[key] = {k: v[idx] if np.ndim(v) else v for k, v in value.items()}
        elif not isinstance(value, list) or key == "quants":
            out[key] = value
    return out


def _w_dram(arch: Arch, x: dict):
    """Bits per weight in DRAM and the weight buffer (`accelsim.weights`)."""
    return arch.spec.weights.dram_bits(x["w_bits"], x.get("mask_density"))


def _cost(arch: Arch, x: dict, tiling: dict | None) -> list[dict]:
    """Cycles, compute cycles, stalls and action counts of each row of ``x`` with the tiles
    of ``tiling`` (per row; None without memories: one whole tile), one dict per dataflow of
    the arch. The formulas of the module docstring and of `accelsim.memory`."""
    m, n, k, g, pack, step = x["m"], x["n"], x["k"], x["groups"], x["pack"], x["step"]
    source, mem, dram = arch.spec.weights, arch.spec.memories, arch.spec.dram
    tm, tn, tk = (m, n, k) if tiling is None else (tiling["tm"], tiling["tn"], tiling["tk"])
    parts = [tile_parts(e, t) for e, t in ((m, tm), (n, tn), (k, tk))]
    # the array runs tile by tile, or (scalesim timing) the whole layer at once, as SCALE-Sim
    # does: that sets its compute and its array-side SRAM traffic
    whole = arch.timing == "scalesim"
    at = [tile_parts(e, e) for e in (m, n, k)] if whole else parts
    if step.dtype.kind == "i" and not whole:  # the closed form summed term by term
        size, full, rem, last, _ = at[2]  # a tile's k runs as ceil(kt / pack) array steps
        s_full, s_rem = (np.ceil(t / pack - 1e-9).astype(np.int64) for t in (size, rem))
        by_steps = (at[0], at[1], (s_full, full, s_rem, last, full * s_full + last * s_rem))
    macs = m * n * k * g
    common = {("pe", action): macs * per_mac for action, per_mac in x["pe_actions"].items()}
    if mem is not None:
        w_dram = _w_dram(arch, x)
        d_read, d_write = tiling["read"] * g, tiling["write"] * g
        d_in, d_w = tiling["inputs_read"] * g, tiling["weights_read"] * g
        d_spill = tiling["spill"] * g
        common[("inputs_sram", "write_bytes")] = d_in
        common[("weights_sram", "write_bytes")] = d_w
        common[("dram", "read_bytes")] = d_read
        common[("dram", "write_bytes")] = d_write
        bw = dram.bytes_per_cycle
        pro = (tm * tk * x["share"] * x["a_bits"] + tk * tn * w_dram) / 8 / bw
        # the last output tile written is the edge tile in m and n (first tiles are whole)
        last_m, last_n = m - (np.ceil(m / tm) - 1) * tm, n - (np.ceil(n / tn) - 1) * tn
        epi = last_m * last_n * x["out_bits"] / 8 / bw
        dram_steady = (d_read + d_write) / bw - pro - epi
        share = np.divide(
            d_read, d_read + d_write, out=np.ones_like(d_read), where=d_read + d_write > 0
        )
    out = []
    for df in arch.dataflows:

        def array_cycles(mt, nt, kt, df=df):
            steps = np.ceil(kt / pack - 1e-9).astype(np.int64)
            cycles = step * TIMINGS[arch.timing](mt, nt, steps, arch.rows, arch.cols, df)
            # value-aware costs (accelsim.trace) may make a step fractional (an average over
            # weight groups): whole cycles per tile
            return cycles if step.dtype.kind == "i" else np.ceil(cycles - 1e-9)

        if whole:
            compute = g * array_cycles(m, n, k)
        elif step.dtype.kind == "i":
            terms = systolic_terms(arch.rows, arch.cols, df)
            compute = g * step * sum(coef * tiled_product(f, by_steps) for coef, f in terms)
        else:
            compute = g * tiled(array_cycles, m, n, k, tm, tn, tk)
        c = dict(common)
        # operands hop once per MAC; a partial sum once per array step (``pack`` MACs)
        hops = [macs / x["pack"] if b == "acc_bits" else macs for b in MOVING[df]]
        c[("pe", "operand_move_bytes")] = sum(h * x[b] for h, b in zip(hops, MOVING[df])) / 8
        stall = {key: np.zeros(len(m)) for key in ("stall_read", "stall_write", "stall_sram")}
        cycles = compute.astype(np.float64)
        if mem is not None:
            per_tile = _sram_factors(df, arch.rows, arch.cols, pack)
            elems = {t: g * tiled_product(f, at) for t, f in per_tile.items()}
            read_in = elems["inputs"] * x["a_bits"] / 8
            if mem.inputs.window_reuse:  # a window loader reads each ifmap element once
                read_in = read_in * x["share"]
            read_w = elems["weights"] * w_dram / 8
            out_w = elems["outputs"] * x["acc_bits"] / 8
            out_r = (elems["outputs"] - m * n * g) * x["acc_bits"] / 8
            c[("inputs_sram", "read_bytes")] = read_in
            c[("weights_sram", "read_bytes")] = read_w
            c[("outputs_sram", "read_bytes")] = out_r + d_write
            c[("outputs_sram", "write_bytes")] = out_w + d_spill
            c.update(source.counts(elems["weights"]))  # one generated weight per read
            if not whole:  # scalesim timing is SCALE-Sim's stall-free CALC mode
                sram = np.maximum(  # cycles each buffer's ports need
                    np.maximum((read_in + d_in) / mem.inputs.bytes_per_cycle,
                               (read_w + d_w) / mem.weights.bytes_per_cycle),
                    (out_r + out_w + d_write + d_spill) / mem.outputs.bytes_per_cycle,
                )  # fmt: skip
                dram_excess = np.maximum(dram_steady - compute, 0)
                sram_excess = np.maximum(sram - np.maximum(compute, dram_steady), 0)
                stall["stall_read"] = pro + dram_excess * share
                stall["stall_write"] = epi + dram_excess * (1 - share)
                stall["stall_sram"] = sram_excess
                generator = source.generator_cycles(elems["weights"])
                if generator is not None:  # the generator cannot keep up (accelsim.weights)
                    busy = np.maximum(np.maximum(compute, dram_steady), sram)
                    stall["stall_generator"] = np.maximum(generator - busy, 0)
                stall = whole_stalls(stall)
                cycles = compute + sum(stall.values())
        out.append({"cycles": cycles, "compute": compute, **stall, "counts": c})
    return out


def whole_stalls(stalls: dict) -> dict:
    """Stall cycles by cause in whole cycles: the layer stalls for the causes' sum rounded
    up (``ceil(sum - 1e-9)``); each cause gets its whole part and the cycles left over go
    one each to the causes with the largest fractions (ties to the first listed). Rounding
    the sum, not each cause, keeps a layer's cycles ``compute + ceil(prologue + steady +
    epilogue - compute)``, which more bandwidth or fewer bits never raise. Arrays per
    layer; the event model rounds its measured stalls the same way."""
    keys = list(stalls)
    causes = [np.asarray(stalls[k], dtype=np.float64) for k in keys]
    whole = [np.floor(c) for c in causes]
    left = np.ceil(sum(causes) - 1e-9) - sum(whole)  # 0..len(keys)
    frac = [c - w for c, w in zip(causes, whole)]
    out = {}
    for i, k in enumerate(keys):  # place: causes ahead of cause i (larger fraction, or equal
        place = sum((f > frac[i]) if j > i else (f >= frac[i])  # and listed first)
                    for j, f in enumerate(frac) if j != i)  # fmt: skip
        out[k] = whole[i] + (place < left) + 0.0  # no -0.0 from float residue
    return out


def _too_small(i, x, sizes) -> str:
    """Why layer ``i`` has no legal tiling: the smallest tile of some buffer does not fit."""
    a, w, acc, out = (int(x[b][i]) for b in ("a_bits", "w_bits", "acc_bits", "out_bits"))
    need = {"inputs": 2 * a / 8, "weights": 2 * w / 8, "outputs": (acc + out) / 8}
    names = ("inputs", "weights", "outputs")
    short = [f"{t} buffer ({s} bytes)" for t, s in zip(names, sizes) if need[t] > s]
    where = ", ".join(short) or "the buffers"
    return (
        f"no tile of this layer fits {where} with double buffering; give the buffer more size_bytes"
    )


def objective_key(objective: str, cycles, energy):
    """What the mapper minimises: cycles (`latency`), energy (`energy`, 0 without a
    technology section) or their product (`edp`); NaN counts as infinite."""
    energy = np.zeros_like(cycles) if energy is None else energy
    key = {"latency": cycles, "energy": energy}.get(objective)
    return np.nan_to_num(energy * cycles if key is None else key, nan=np.inf)


def choose(objective: str, cycles: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Index of the best dataflow per layer (ties: the first listed in the arch)."""
    return np.argmin(objective_key(objective, cycles, energy), axis=0)


def simulate(
    arch: Arch,
    workload: Workload,
    assignment: Assignment | None = None,
    objective: str = "latency",
    trace=None,
    folding=None,
    fidelity: str = "closed_form",
    timeline: bool = False,
) -> Report:
    """Simulate ``workload`` on ``arch``; return a `Report` with one row per layer.

    ``trace``: an `accelsim.trace.Trace` of this workload's tensors; its measured statistics
    make costs value-aware where the arch says so (``technology.zero_gating``,
    ``pe.skip_zero_bitplanes``) and are listed in the provenance's ``data`` section.
    ``folding``: an `accelsim.pipeline.Folding` (per-layer pe/simd) for a layer-pipelined arch.
    ``fidelity``: ``closed_form``, or ``event`` for the simpy tile model (`accelsim.event`);
    with ``timeline`` the event report carries every resource's busy intervals.
    """
    from accelsim.energy import area
    from accelsim.trace import Trace, value_aware

    check_objective(objective, arch)
    if trace is not None and not isinstance(trace, Trace):
        raise TypeError(f"trace must be an accelsim.trace.Trace (load_trace returns (workload, "
                        f"trace)); got {type(trace).__name__}")  # fmt: skip
    if fidelity != "closed_form" or timeline:
        from accelsim.event import check_fidelity

        check_fidelity(fidelity, arch, timeline)
    wl = assignment.apply(workload) if assignment is not None else workload
    if arch.spec.execution is not None or folding is not None:  # accelsim.pipeline
        from accelsim.pipeline import simulate_pipelined

        return simulate_pipelined(arch, wl, assignment, objective, trace, folding)
    x = layer_arrays(wl.layers, arch.pe)
    # value-aware costs: per-layer multipliers on PE action counts and step cycles (trace.py)
    data, assumed_values = value_aware(arch, wl, x, trace)
    rows, parts = _layer_rows(arch, wl.layers, x, objective)
    intervals = [] if timeline else None
    if fidelity == "event":  # the same mapping and counts, timing from tiles (accelsim.event)
        from accelsim.event import refine

        refine(arch, x, rows, parts, objective, intervals)
    prov = provenance(arch, wl, assignment, objective)
    prov["fidelity"] = fidelity
    prov["assumed"] += [{"name": a.name, "value": a.value, "reason": a.reason}
                        for a in assumed_values]  # fmt: skip
    if data is not None:  # what was measured from tensors, per layer (accelsim.trace)
        prov["data"] = data
    report = Report.build(arch, wl, rows, prov, parts, area(arch))
    return report if intervals is None else replace(report, timeline=intervals)


_ARRAYS: dict = {}  # simulate_many's last few (workloads, PE) -> layer_arrays


def simulate_many(arch: Arch, workloads, objective: str = "latency") -> list[Report]:
    """`simulate` of several workloads on one arch (one network at many precisions, several
    networks) in one pass of the model: the model works per layer, so their layers are
    evaluated together, as one array, and split into one `Report` per workload, each equal to
    ``simulate(arch, workload, objective=objective)``. (Layer-pipelined and reconfigurable
    archs, whose layers are not independent, run one workload at a time.)"""
    from accelsim.trace import value_aware

    if _one_at_a_time(arch) or not workloads:
        check_objective(objective, arch)
        return [simulate(arch, wl, objective=objective) for wl in workloads]
    batch = simulate_batch(arch, workloads, objective)
    x = _arrays(arch, workloads)[0]
    reports = []
    for i, wl in enumerate(workloads):
        prov = provenance(arch, wl, None, objective)
        prov["fidelity"] = "closed_form"
        prov["assumed"] += [{"name": a.name, "value": a.value, "reason": a.reason}
                            for a in value_aware(arch, wl, x, None)[1]]  # fmt: skip
        reports.append(batch.report(i, prov))
    return reports


def simulate_batch(arch: Arch, workloads, objective: str = "latency") -> Batch:
    """`simulate_many` as tables (a `Batch`: the reports' columns, totals and energy breakdowns,
    row ``i`` workload ``i``'s), without building a `Report` per workload. What design-space
    sweeps call."""
    from accelsim.energy import area

    check_objective(objective, arch)
    if not workloads:
        raise ValueError("simulate_batch needs at least one workload")
    if _one_at_a_time(arch):
        return Batch.join([simulate(arch, wl, objective=objective) for wl in workloads])
    x, known = _arrays(arch, workloads)
    rows, parts = _layer_rows(arch, None, x, objective, known)
    return Batch.build(arch, workloads, rows, parts, area(arch), known["actions"])


def _one_at_a_time(arch: Arch) -> bool:
    """A layer pipeline has no shared array to batch on; a reconfigurable array's mode choice
    couples consecutive layers (mode switches), so workloads must not be concatenated."""
    return arch.spec.execution is not None or arch.spec.reconfig is not None


_ARRAYS: dict = {}  # the last few (workloads, PE) -> layer_arrays of their layers


def _arrays(arch: Arch, workloads) -> tuple[dict, dict]:
    """`layer_arrays` of the workloads' layers, in turn, and what follows from them alone
    (their `_distinct` layers and `layer_columns`); kept for the last few (a sweep prices the
    same workloads on many archs). Read only: reports share them."""
    key = (tuple(map(id, workloads)), arch.pe)
    held = _ARRAYS.get(key)  # (one lookup: dask may run chunks in threads)
    if held is None:
        if len(_ARRAYS) >= 4:
            _ARRAYS.pop(next(iter(list(_ARRAYS))), None)
        layers = [la for wl in workloads for la in wl.layers]
        x = layer_arrays(layers, arch.pe)
        for a in (*x.values(), *x["pe_actions"].values()):
            if isinstance(a, np.ndarray):
                a.setflags(write=False)
        starts = np.cumsum([0] + [len(wl.layers) for wl in workloads[:-1]])
        known = {"distinct": _distinct(x), "columns": layer_columns(layers, x),
                 "actions": _own_actions(arch.pe, x, starts)}  # fmt: skip
        held = _ARRAYS[key] = (tuple(workloads), x, known)  # the workloads keep their ids
    return held[1], held[2]


def layer_columns(layers, x: dict) -> dict:
    """The report columns that say what each layer is: name, type, GEMM view (0 for non-GEMM
    layers), element count, precision and MACs."""
    gemm = x["gemm"]
    return {
        "name": [la.name for la in layers],
        "type": [la.type for la in layers],
        **{key: np.where(gemm, x[key], 0) for key in ("m", "n", "k", "groups")},
        "elements": x["elements"],
        "a_bits": x["a_bits"],
        "w_bits": x["w_bits"],
        "a_encoding": [la.quant.a_encoding for la in layers],
        "w_encoding": [la.quant.w_encoding for la in layers],
        "macs": np.where(gemm, x["m"] * x["n"] * x["k"] * x["groups"], 0),
    }


def _layer_rows(arch: Arch, layers, x: dict, objective: str, known=None):
    """The report columns of ``layers`` (one value per layer) and the energy breakdown as
    ``[((component, action), pJ per layer), ...]`` (None without a technology section).
    ``known``: `_distinct` of ``x`` and `layer_columns` of ``layers`` if already computed
    (then ``layers`` is not read)."""
    from accelsim.energy import price, vector_work

    rc = None
    if arch.spec.reconfig is not None:  # choices are (mode, split, dataflow): accelsim.reconfig
        from accelsim import reconfig as rc

        price = rc.price
    known = known or {"columns": layer_columns(layers, x)}
    if rc is None:
        ev = evaluate(arch, x, objective, distinct=known.get("distinct"))
    else:
        ev = rc.evaluate(arch, x, objective)
    if rc is None and objective == "latency":  # the choice needs no prices
        pick = choose(objective, ev["cycles"], None)
    else:
        energies = [price(arch, x, c, cyc)[0] for c, cyc in zip(ev["counts"], ev["cycles"])]
        energy = np.stack(energies) if energies[0] is not None else np.zeros_like(ev["cycles"])
        pick = (
            choose(objective, ev["cycles"], energy)
            if rc is None
            else rc.choose(arch, objective, ev, energy)
        )
    cols = np.arange(len(x["gemm"]))
    run = ev["run"]
    vec = vector_work(arch, x)

    def sel(a):
        return a[pick, cols]

    # the chosen counts, priced (pricing is per layer: the same as choosing among prices)
    counts = {key: sel(np.stack([c[key] for c in ev["counts"]])) for key in ev["counts"][0]}
    energy, breakdown = price(arch, x, counts, sel(ev["cycles"]))
    names = ev.get("dataflow", arch.dataflows)
    rows = {
        **known["columns"],
        "pe_macs_per_cycle": x["pack"] / x["step"],
        "pe_peak_macs_per_cycle": x["peak"],
        "dataflow": _labels(names, np.where(run, pick, -1)),
        "feasible": np.array([r is None for r in ev["reason"]]),
        "costed": run | (~x["gemm"] & vec["costed"]),
        "reason": [r if r is not None else v for r, v in zip(ev["reason"], vec["reason"])],
        "cycles": np.where(run, sel(ev["cycles"]), vec["cycles"]),
        "compute_cycles": np.where(run, sel(ev["compute"]), vec["cycles"]),
    }
    if arch.spec.memories is not None:
        t = {
            key: sel(np.stack([tiling[key] for tiling in ev["tilings"]]))
            for key in ("tm", "tn", "tk", "order")
        }
        rows["stall_cycles"] = np.where(run, sel(ev["cycles"] - ev["compute"]), 0)
        rows["stall_dram_read_cycles"] = np.where(run, sel(ev["stall_read"]), 0)
        rows["stall_dram_write_cycles"] = np.where(run, sel(ev["stall_write"]), 0)
        rows["stall_sram_cycles"] = np.where(run, sel(ev["stall_sram"]), 0)
        if "stall_generator" in ev:  # generated weights (accelsim.weights)
            rows["stall_generator_cycles"] = np.where(run, sel(ev["stall_generator"]), 0)
        for dim in "mnk":
            rows[f"tile_{dim}"] = np.where(run, t[f"t{dim}"], 0)
        rows["loop_order"] = _labels(["".join(o) for o in ORDERS], np.where(run, t["order"], -1))
        for (comp, action), count in counts.items():
            if comp in ("dram", "inputs_sram", "weights_sram", "outputs_sram", "generator"):
                rows[f"{comp}_{action}"] = np.where(run, np.ceil(count), 0)
        rows["dram_bytes"] = rows["dram_read_bytes"] + rows["dram_write_bytes"]
        for key, column in (("inputs_read", "dram_inputs_read_bytes"),
                            ("weights_read", "dram_weights_read_bytes"),
                            ("spill", "dram_psum_spill_bytes")):  # fmt: skip
            per_df = np.stack([tiling[key] * x["groups"] for tiling in ev["tilings"]])
            rows[column] = np.where(run, np.ceil(sel(per_df)), 0)
    parts = None
    if breakdown is not None:
        rows["energy_pj"] = np.where(run, energy, 0) + vec["energy_pj"]
        parts = []
        for key, chosen in breakdown.items():
            per_layer = np.where(run, chosen, 0)
            rows[energy_column(key)] = per_layer
            parts.append((key, per_layer))
        for key, value in vec["breakdown"].items():
            parts.append((key, value))
            column = energy_column(key)
            rows[column] = rows.get(column, 0) + value
    if rc is not None:
        rc.add_columns(arch, ev, pick, rows, parts)
    return rows, parts


def _labels(names, index) -> list:
    """``names[i]`` for each ``i`` of ``index``, None where ``i`` is -1."""
    return np.array([*names, None], dtype=object)[index].tolist()
