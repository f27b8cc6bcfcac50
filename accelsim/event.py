"""Event-driven model (simpy): tiles flow load -> compute -> store (DESIGN.md §5).

``simulate(..., fidelity="event")`` keeps the closed form's mapping (dataflow, DRAM tiling
and loop order, array mode and split) and its action counts, and replaces its timing with a
discrete-event simulation of the tiles. One simpy environment per layer (layers run one after
another, as in the closed form); in it:

Resources (shared by every array of the layer, FIFO)
    ``dram``: one channel of ``dram.bytes_per_cycle``; a transfer of ``b`` bytes holds it for
    ``b / bytes_per_cycle`` cycles. ``inputs_sram``, ``weights_sram``, ``outputs_sram``: each
    buffer's port at its ``bytes_per_cycle``; a tile holds it for the bytes it moves through
    that port (array side, plus its DRAM fill and drain) while it computes. ``generator``
    (weights generated on chip, `accelsim.weights`): one unit of ``weights_per_cycle``; a
    tile holds it for its generated weights / rate while it computes.

Processes (per array: the whole array, or each sub-array of a reconfigurable mode with its
piece of the layer, `accelsim.reconfig`)
    *loader*: walks the tiles of every group in the loop order (outer to inner); a tile
    loads from DRAM what it does not share with the tile before it (its inputs tile if
    ``(m, k)`` changed, its weights tile if ``(k, n)`` changed, its partial sums if it
    returns to an ``(m, n)`` tile it left unfinished), one DRAM request per tile. Double
    buffering: two operand slots; the loader takes a slot before loading, the array gives
    it back when the tile's compute ends, so at most one tile loads ahead.
    *array*: takes the loaded tiles in order; a tile computes for its closed-form cycles
    (`accelsim.dataflow`, the tile as its own GEMM) and ends when its bytes have also
    passed the buffers' ports and, with a generator, its weights have been made. (With one
    array nothing else holds a port, so its tile simply takes the longer of compute and
    port time; the processes are only started when sub-arrays share the ports.) When the tile
    is the last of a visit to its ``(m, n)`` outputs, the accumulator moves to the single
    drain slot (waiting while the previous drain is still being stored) and a *store*
    process writes it to DRAM (``out_bits``, or ``acc_bits`` for partial sums that will
    come back), freeing the slot when done. The layer ends when every array's last store is
    written.

Stalls emerge from waiting and are attributed by what the array waited for: a tile not
loaded yet (``stall_dram_read``), the drain slot while the previous output tile is still
being written (``stall_buffer_full``), the last stores of the layer (``stall_dram_write``),
SRAM ports (``stall_sram``), the generator (``stall_generator``). A layer's cycles are the
slowest array's compute plus its stalls, each cause rounded up to whole cycles as in the
closed form. With one array and bandwidth to spare the loads of tile ``i + 1`` hide under
tile ``i`` and the stores under the next visit: cycles are the first tile's loads + the
compute + the last tile's store, the closed form's prologue + compute + epilogue.

Energy: counts are the closed form's (the same tiles move the same bytes); leakage follows
the event cycles.

Size: a layer is simulated tile by tile (about 30 µs per tile), so a layer with more than
`MAX_TILES` tiles (over all its groups and arrays) is refused with a `ConfigError` before any
tile is built; ``closed_form`` costs it. The largest layer of the shipped networks and archs
has 225,792 (vgg16's conv1_2 on bitfusion, about 7 s).
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

from accelsim.dataflow import TIMINGS

FIDELITIES = ("closed_form", "event")
PORTS = ("inputs_sram", "weights_sram", "outputs_sram")
MAX_TILES = 2_000_000  # tiles of one layer: about a minute of simulation
STALLS = ("stall_dram_read", "stall_dram_write", "stall_buffer_full", "stall_sram",
          "stall_generator")  # fmt: skip


# who asked for the fidelity, named by its errors: a Python call unless the command line says so
_FLAG = contextvars.ContextVar("accelsim_event_fidelity_flag", default=None)


@contextlib.contextmanager
def asked_by_flag(flag: str):
    """Within it, the fidelity came from the command line's ``flag`` (``--fidelity``)."""
    token = _FLAG.set(flag)
    try:
        yield
    finally:
        _FLAG.reset(token)


def _source() -> tuple[str, str]:
    """Where the fidelity came from, and how to ask for closed_form there."""
    flag = _FLAG.get()
    if flag is None:
        return "accelsim.simulate()", 'fidelity="closed_form"'
    return "<command line>", f"{flag} closed_form"


def check_fidelity(fidelity: str, arch, timeline: bool = False) -> None:
    """A `ConfigError` for an unknown fidelity, ``event`` on an arch it cannot model, or a
    timeline without the event model."""
    from accelsim.errors import ConfigError, Problem, did_you_mean

    why, allowed = None, "closed_form for this arch"
    if fidelity not in FIDELITIES:
        why = f"unknown fidelity{did_you_mean(fidelity, FIDELITIES)}"
        allowed = ", ".join(FIDELITIES)
    elif timeline and fidelity != "event":
        why, allowed = "a timeline needs fidelity event", "event"
    elif arch.spec.memories is None or arch.timing != "accelsim":
        why = f"fidelity event needs memories and dram and timing accelsim ({arch.name} has not)"
    elif arch.spec.execution is not None:
        why = f"fidelity event models one shared array; {arch.name} is layer-pipelined"
    if why is not None:
        raise ConfigError(Problem(_source()[0], None, "fidelity", why, repr(fidelity), allowed))


def tiles(m, n, k, tm, tn, tk, order: str, bits, share: float, pack: float, step, arch, df):
    """Per-tile arrays of one group, in loop order: ``compute`` cycles (the closed form of
    the tile as its own GEMM), bytes through each buffer's ``ports`` (inputs, weights,
    outputs: array side plus the tile's DRAM fill and drain), DRAM bytes to ``load`` before
    the tile and to ``store`` after it, ``generated`` weights."""
    from accelsim.model import _sram_elements

    trips = {"m": -(-m // tm), "n": -(-n // tn), "k": -(-k // tk)}
    grids = np.indices([trips[d] for d in order]).reshape(3, -1)
    idx = {d: grids[order.index(d)] for d in "mnk"}
    size = {d: np.where(idx[d] == trips[d] - 1, e - (trips[d] - 1) * t, t)
            for d, e, t in (("m", m, tm), ("n", n, tn), ("k", k, tk))}  # fmt: skip
    mt, nt, kt = size["m"], size["n"], size["k"]
    a, w, acc, out = bits

    def changed(d0, d1):
        key = idx[d0] * (trips[d1] + 1) + idx[d1]
        return np.concatenate([[True], key[1:] != key[:-1]])

    out_key = idx["m"] * trips["n"] + idx["n"]
    enter = changed("m", "n")
    first_visit = np.zeros(len(out_key), dtype=bool)
    starts = np.flatnonzero(enter)
    _, first = np.unique(out_key[starts], return_index=True)
    first_visit[starts[first]] = True
    leave = np.concatenate([enter[1:], [True]])
    final = leave & (idx["k"] == trips["k"] - 1)
    in_bytes = np.where(changed("m", "k"), mt * kt * share * a / 8, 0.0)
    w_bytes = np.where(changed("k", "n"), kt * nt * w / 8, 0.0)
    psum = np.where(enter & ~first_visit, mt * nt * acc / 8, 0.0)
    store = np.where(final, mt * nt * out / 8, np.where(leave, mt * nt * acc / 8, 0.0))
    steps = np.ceil(kt / pack - 1e-9).astype(np.int64)
    compute = step * TIMINGS[arch.timing](mt, nt, steps, arch.rows, arch.cols, df)
    compute = compute if np.asarray(step).dtype.kind == "i" else np.ceil(compute - 1e-9)
    el = {t: fn(mt, nt, kt) for t, fn in _sram_elements(df, arch.rows, arch.cols, pack).items()}
    mem = arch.spec.memories
    read_in = el["inputs"] * a / 8 * (share if mem.inputs.window_reuse else 1)
    out_rw = el["outputs"] * acc / 8 * 2 - np.where(first_visit, mt * nt * acc / 8, 0)
    return {
        "compute": compute.astype(np.float64),
        "ports": np.stack(
            [read_in + in_bytes, el["weights"] * w / 8 + w_bytes, out_rw + store + psum]
        ).astype(np.float64),  # fmt: skip
        "load": in_bytes + w_bytes + psum,
        "store": store,
        "generated": el["weights"].astype(np.float64),
    }


def run_layer(jobs, dram_bpc: float, port_bpc, generator_rate: float | None,
              record=None) -> dict:  # fmt: skip
    """Simulate the arrays of one layer; return the slowest one's compute and stalls.

    ``jobs``: per array ``(tile arrays of one group, groups)``; ``port_bpc``: bytes per
    cycle of the inputs, weights and outputs buffers' ports. ``record``: a list to append
    every busy interval to, as ``(resource, start, end, what)``.
    """
    import simpy

    env = simpy.Environment()
    dram = simpy.Resource(env, capacity=1)
    gen = simpy.Resource(env, capacity=1) if generator_rate is not None else None
    ports = [simpy.Resource(env, capacity=1) for _ in PORTS]
    shared = len(jobs) > 1  # one array never finds a port busy: no port processes needed
    results = []

    def busy(resource, cycles, what):
        with resource.request() as req:
            yield req
            start = env.now
            yield env.timeout(cycles)
            if record is not None:
                record.append((what[0], start, env.now, what[1]))

    def loader(j, t, groups, slots, ready):
        for _ in range(groups):
            for load in t["load"]:
                yield slots.get(1)
                if load > 0:
                    yield from busy(dram, load / dram_bpc, ("dram", f"load array{j}"))
                yield ready.put(1)

    def store(j, nbytes, drain):
        yield from busy(dram, nbytes / dram_bpc, ("dram", f"store array{j}"))
        yield drain.put(1)

    def array(j, t, groups, slots, ready, stats):
        drain = simpy.Container(env, capacity=1, init=1)
        compute, out, generated = t["compute"], t["store"], t["generated"]
        port_cycles = t["ports"] / np.asarray(port_bpc, dtype=np.float64)[:, None]
        alone = np.maximum(compute, port_cycles.max(axis=0))
        for _ in range(groups):
            for i in range(len(compute)):
                t0 = env.now
                yield ready.get(1)
                stats["stall_dram_read"] += env.now - t0
                if gen is not None:
                    made = ("generator", f"weights array{j}")
                    making = env.process(busy(gen, generated[i] / generator_rate, made))
                start = env.now
                if shared:  # the buffers' ports stream this tile's bytes while it computes
                    streams = [
                        env.process(busy(ports[b], port_cycles[b, i], (name, f"stream array{j}")))
                        for b, name in enumerate(PORTS)
                        if port_cycles[b, i] > 0
                    ]
                    yield env.timeout(compute[i])
                    t0 = env.now
                    yield env.all_of(streams)
                    stats["stall_sram"] += env.now - t0
                else:
                    yield env.timeout(alone[i])
                    stats["stall_sram"] += alone[i] - compute[i]
                if record is not None:
                    record.append((f"array{j}", start, start + compute[i], "compute"))
                stats["compute"] += compute[i]
                if gen is not None:
                    t0 = env.now
                    yield making
                    stats["stall_generator"] += env.now - t0
                yield slots.put(1)
                if out[i] > 0:
                    t0 = env.now
                    yield drain.get(1)
                    stats["stall_buffer_full"] += env.now - t0
                    env.process(store(j, out[i], drain))
        t0 = env.now
        yield drain.get(1)  # the last store is written
        stats["stall_dram_write"] += env.now - t0
        stats["end"] = env.now

    for j, (t, groups) in enumerate(jobs):
        slots = simpy.Container(env, capacity=2, init=2)
        ready = simpy.Container(env, init=0)
        stats = dict.fromkeys(("compute", *STALLS), 0.0)
        results.append(stats)
        env.process(loader(j, t, groups, slots, ready))
        env.process(array(j, t, groups, slots, ready, stats))
    env.run()
    return max(results, key=lambda s: s["end"])


def refine(arch, x: dict, rows: dict, parts, objective: str, timeline: list | None = None) -> None:
    """Replace the closed-form timing of ``rows`` by the event model's (in place).

    ``timeline``: a list to fill with every busy interval of the network, one dict per
    interval: ``layer``, ``resource`` (``dram``, ``generator``, ``array0``, ...), ``start``,
    ``end`` (cycles from the start of the network; layers run one after another) and
    ``what`` (``compute``, ``load array0``, ``store array0``, ``stream array0`` on a buffer
    port, ``weights array0`` on the generator).
    """
    from accelsim.memory import ORDERS
    from accelsim.model import whole_stalls

    run = np.asarray(rows["costed"], dtype=bool) & x["gemm"]
    src = arch.spec.weights
    rate = src.generator.weights_per_cycle if src.source == "generated" else None
    plans = _plans(arch, x, rows, run, objective)
    _check_size(plans, rows["name"])
    mem = arch.spec.memories
    port_bpc = [getattr(mem, b).bytes_per_cycle for b in ("inputs", "weights", "outputs")]
    new = {key: np.zeros(len(run)) for key in ("compute", *STALLS)}
    intervals: dict = {}
    for i in np.flatnonzero(run):
        jobs = []
        for sub, dims, tiling, groups, copies in plans[i]:
            order = "".join(ORDERS[tiling["order"]]) if "order" in tiling else "mnk"
            w_dram = src.dram_bits(x["w_bits"], x.get("mask_density"))[i]
            bits = (x["a_bits"][i], w_dram, x["acc_bits"][i], x["out_bits"][i])
            tile = (tiling["tm"], tiling["tn"], tiling["tk"])
            t = tiles(*dims, *tile, order, bits, x["share"][i], x["pack"][i], x["step"][i],
                      sub, rows["dataflow"][i])  # fmt: skip
            jobs += [(t, groups)] * copies
        record = [] if timeline is not None else None
        res = run_layer(jobs, arch.spec.dram.bytes_per_cycle, port_bpc, rate, record)
        if record is not None:
            intervals[i] = record
        new["compute"][i] = res["compute"]
        rounded = whole_stalls({key: res[key] for key in STALLS})
        for key in STALLS:
            new[key][i] = rounded[key]
    cycles = new["compute"] + sum(new[key] for key in STALLS)
    # mode switches (accelsim.reconfig) stay in the layer's cycles
    extra = np.broadcast_to(np.asarray(rows.get("stall_switch_cycles", 0)), run.shape)
    old = np.asarray(rows["cycles"], dtype=np.float64)
    rows["cycles"] = np.where(run, cycles + extra, old)
    rows["compute_cycles"] = np.where(run, new["compute"], rows["compute_cycles"])
    rows["stall_cycles"] = np.where(run, rows["cycles"] - rows["compute_cycles"], 0)
    starts = np.concatenate([[0.0], np.cumsum(np.nan_to_num(rows["cycles"]))])
    for i, record in intervals.items():
        # a mode switch (accelsim.reconfig) comes first in its layer's cycles
        at = starts[i] + extra[i]
        timeline += [{"layer": rows["name"][i], "resource": r, "start": float(at + a),
                      "end": float(at + b), "what": w} for r, a, b, w in record]  # fmt: skip
    for key in STALLS:
        if key != "stall_generator" or rate is not None:
            rows[f"{key}_cycles"] = np.where(run, new[key], 0)
    if "energy_pj" in rows:  # leakage follows the cycles
        from accelsim.energy import leakage_pj_per_cycle, tech_of

        leak = (rows["cycles"] - old) * leakage_pj_per_cycle(arch, tech_of(arch))
        rows["energy_pj"] = rows["energy_pj"] + leak
        rows["energy_chip_leakage_pj"] = rows["energy_chip_leakage_pj"] + leak
        parts.append((("chip", "leakage"), leak))


def _check_size(plans: dict, names) -> None:
    """A `ConfigError` naming every layer with more than `MAX_TILES` tiles to simulate."""
    from accelsim.errors import ConfigError, Problem

    problems = []
    source, closed_form = _source()
    for i, plan in plans.items():
        count = sum(
            math.prod(-(-d // t) for d, t in zip(dims, (tiling["tm"], tiling["tn"], tiling["tk"])))
            * groups * copies
            for _, dims, tiling, groups, copies in plan
        )  # fmt: skip
        if count > MAX_TILES:
            why = f"layer {names[i]!r} has {count:,} tiles: too many for the event model"
            allowed = f"closed_form for this workload ({closed_form})"
            problems.append(Problem(source, None, "fidelity", f"{why} (at most {MAX_TILES:,})",
                                    repr("event"), allowed))  # fmt: skip
    if problems:
        raise ConfigError(problems)


def _plans(arch, x, rows, run, objective) -> dict:
    """Per layer: ``[(array arch, (m, n, k), tiling, groups, copies), ...]``, one entry per
    distinct array (a reconfigurable mode's big and small pieces)."""
    tiling_of = {key: rows[f"tile_{key[1]}"] for key in ("tm", "tn", "tk")}
    orders = rows["loop_order"]
    from accelsim.memory import ORDERS

    order_idx = {"".join(o): j for j, o in enumerate(ORDERS)}
    plans = {}
    reconfig = arch.spec.reconfig is not None
    pieces: dict = {}
    for i in np.flatnonzero(run):
        dims = (int(x["m"][i]), int(x["n"][i]), int(x["k"][i]))
        tiling = {key: int(v[i]) for key, v in tiling_of.items()}
        tiling["order"] = order_idx[orders[i]]
        groups = int(x["groups"][i])
        if not reconfig:
            plans[i] = [(arch, dims, tiling, groups, 1)]
            continue
        mode, split = rows["array_mode"][i], rows["split"][i]
        if split is None:
            plans[i] = [(_sub(arch, mode, pieces), dims, tiling, groups, 1)]
            continue
        plans[i] = _split_plan(arch, x, i, mode, split, rows["dataflow"][i], pieces, objective)
    return plans


def _sub(arch, mode_label, cache):
    from accelsim.reconfig import modes_of, sub_arch

    if mode_label not in cache:
        for name, mode, count in modes_of(arch):
            if name == mode_label:
                cache[mode_label] = sub_arch(arch, mode, count)
    return cache[mode_label]


def _split_plan(arch, x, i, mode_label, split, dataflow, cache, objective):
    """The big and small pieces of layer ``i`` on a sub-array mode, each with the tiling
    the closed form chose for it (`accelsim.reconfig`)."""
    from accelsim.reconfig import split_evaluate

    sub = _sub(arch, mode_label, cache)
    count = arch.rows * arch.cols // (sub.rows * sub.cols)
    key = (mode_label, split)
    if key not in cache:
        cache[key] = split_evaluate(arch, sub, x, split, count, objective)
    d = sub.dataflows.index(dataflow)
    plan = []
    for ev, xp, copies in cache[key]:
        if copies[i] == 0:
            continue
        t = ev["tilings"][d]
        tiling = {"tm": int(t["tm"][i]), "tn": int(t["tn"][i]), "tk": int(t["tk"][i]),
                  "order": int(t["order"][i])}  # fmt: skip
        dims = (int(xp["m"][i]), int(xp["n"][i]), int(xp["k"][i]))
        plan.append((sub, dims, tiling, int(xp["groups"][i]), int(copies[i])))
    return plan
