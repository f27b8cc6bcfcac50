"""Pricing: action counts x per-action energies, leakage and area (DESIGN.md §5, "Energy").

Counts come from `accelsim.model` ("count first"); the energy of each action comes from
`accelsim.technology` at the arch's node and voltage unless the arch file overrides it
("then price"). An arch without a ``technology`` section gets no energy columns (absent, not
zero). Every action and its price:

=============================  ==============================================================
(component, action)            energy per unit
=============================  ==============================================================
(pe, <action>)                 ``pe.action_pj(tech, action, quant)`` x ``technology.mac_pj_scale``
                               (``int_mac``: one ``mac`` per MAC at the operands' bits)
(pe, operand_move_bytes)       0 by default: the synthesized PE energy already includes its
                               pipeline registers; ``technology.register_pj_per_byte`` prices hops
(<buffer>_sram, read_bytes)    ``memories.<buffer>.read_pj_per_byte`` or the SRAM fit at the size
                               of one bank, ``size_bytes / banks``
(<buffer>_sram, write_bytes)   ``memories.<buffer>.write_pj_per_byte`` or the SRAM fit (one bank)
(dram, read_bytes/write_bytes) ``dram.pj_per_byte`` or the DRAM kind's energy
(generator, weights)           ``weights.generator.pj_per_weight`` or the technology's
                               generator (`accelsim.weights`), per generated weight
(chip, leakage_cycles)         leakage power of the whole chip area for one cycle
(vector, op)                   per non-GEMM layer: the sum over the vector ops it needs of
                               count x ``Technology.vector_op_pj(op, 16)`` (below), or
                               ``vector_unit.op_pj`` per element when the arch gives it
=============================  ==============================================================

Non-GEMM layers (`vector_work`; all energy under ``(vector, op)``, the vector unit's leakage
under ``(chip, leakage)``). Each layer is a composition of the vector ops of the technology
file (``vector_ops.compositions``: each op a count of Horowitz ISSCC 2014 integer adds and
multiplies), all at the unit's 16-bit width (`VECTOR_BITS`). Counted per *element* (the
layer's ``elements``: a pool's input taps read, otherwise its elements), per *output* (a
pool's windows: ``elements / (kh kw)``) or per *row* (softmax, layer norm: ``elements /
cols``):

==========================================  ========================================
layer (``type``: ``op``/``pool``)           vector ops
==========================================  ========================================
eltwise add / sub / mul / div               add / sub / mul / div per element
pool max                                    max per element
pool avg, global_avg                        add per element, mul (x 1/window) per output
softmax                                     exp + add + div per element
layernorm                                   3 add + sub + 3 mul per element (sum, x^2
                                            and its sum; x - mean, x rstd; gamma, beta),
                                            sqrt + div per row (rstd)
activation relu, thresholdedrelu            max per element
activation relu6, clip                      max + min per element
activation leakyrelu, prelu                 mul + max per element
activation neg / abs                        sub / sub + max per element
activation exp, log, sqrt, sin, cos         that op per element
activation reciprocal                       div per element
activation pow                              log + mul + exp per element
activation batchnorm (unfolded)             mul + add per element (scale, shift)
activation sigmoid                          exp + add + div per element, 1/(1+e^-x)
activation tanh, erf                        exp + add + sub + div per element,
                                            (e^2x - 1)/(e^2x + 1) (erf priced as tanh)
activation gelu                             sigmoid + 2 mul per element, x sigmoid(1.702 x)
activation swish, silu                      sigmoid + mul per element, x sigmoid(x)
activation hardsigmoid                      mul + add + max + min per element
activation hardswish                        hardsigmoid + mul per element
activation elu / selu / celu                max + exp + sub + mul, selu and celu + mul
activation softplus                         exp + add + log per element
activation softsign                         sub + max + add + div per element
activation mish                             softplus + tanh + mul per element
==========================================  ========================================

An activation ``op`` not in this table is not costed (``costed`` False, with a ``reason``):
its energy is not guessed. Cycles are ``ceil(elements / lanes)`` whatever the op.
"""

from __future__ import annotations

import functools

import numpy as np

BUFFERS = ("inputs", "weights", "outputs")


def tech_of(arch):
    """The `Technology` of an arch, or None when the arch has no technology section."""
    cfg = arch.spec.technology
    if cfg is None:
        return None
    from accelsim.technology import technology

    dram = arch.spec.dram.kind if arch.spec.dram is not None else "lpddr4"
    return technology(cfg.node_nm, cfg.voltage_v, dram)


@functools.lru_cache(maxsize=4096)
def _action_pj(pe, tech, action: str, quant) -> float:
    """`pe.action_pj`, remembered: a sweep prices the same few precisions at every point."""
    return float(pe.action_pj(tech, action, quant))


def unit_prices(arch, tech, x) -> dict:
    """Energy per unit of every action this arch can count (pJ; arrays are per layer)."""
    cfg = arch.spec.technology
    prices = {}
    for action in x["pe_actions"]:
        # each distinct precision priced once (accelsim.model.layer_arrays)
        distinct = np.array([_action_pj(arch.pe, tech, action, q) for q in x["quants"]])
        prices[("pe", action)] = distinct[x["quant_index"]] * cfg.mac_pj_scale
    # The PE energies come from synthesis of a whole systolic array divided per PE (BitFusion's
    # released data), so they already include the pipeline registers operands hop through:
    # hops are counted but priced 0 unless the arch prices them (technology.register_pj_per_byte).
    prices[("pe", "operand_move_bytes")] = cfg.register_pj_per_byte or 0.0
    mem, dram = arch.spec.memories, arch.spec.dram
    if mem is not None:
        for name in BUFFERS:
            buf = getattr(mem, name)
            bank = buf.size_bytes / buf.banks  # an access touches one bank
            prices[(f"{name}_sram", "read_bytes")] = (
                buf.read_pj_per_byte or tech.sram_read_pj_per_byte(bank)
            )
            prices[(f"{name}_sram", "write_bytes")] = (
                buf.write_pj_per_byte or tech.sram_write_pj_per_byte(bank)
            )
        per_byte = dram.pj_per_byte or tech.dram_pj_per_byte()
        prices[("dram", "read_bytes")] = per_byte
        prices[("dram", "write_bytes")] = per_byte
    prices.update(arch.spec.weights.prices(tech, x["w_bits"]))  # accelsim.weights
    return prices


def area_um2(arch, tech) -> dict:
    """Area per component (um^2): the PE array, each SRAM buffer, the vector unit."""
    area = {"pe_array": arch.rows * arch.cols * float(arch.pe.area_um2(tech))}
    if arch.spec.reconfig is not None:  # bypass network of a reconfigurable array
        area["reconfig_network"] = arch.spec.reconfig.area_overhead * area["pe_array"]
    if arch.spec.memories is not None:
        for name in BUFFERS:
            buf = getattr(arch.spec.memories, name)
            area[f"{name}_sram"] = buf.banks * float(tech.sram_area_um2(buf.size_bytes / buf.banks))
    if arch.spec.vector_unit is not None:
        area["vector_unit"] = arch.spec.vector_unit.lanes * float(tech.mac_area_um2(16, 16))
    return area


def leakage_pj_per_cycle(arch, tech) -> float:
    """Leakage of the whole chip for one cycle, at the leakage density of BitFusion's
    synthesized 45 nm logic over all the area. (CACTI's high-performance SRAM cells leak
    about 8x more per um^2; with them, SRAM leakage dominates every design, which published
    low-power chips do not show.) ``technology.leakage_nw_per_um2`` in the arch replaces that
    density, as given."""
    area = sum(area_um2(arch, tech).values())
    density = arch.spec.technology.leakage_nw_per_um2  # the arch's override, if any
    if density is not None:
        return float(density * area * 1e-9 / arch.clock_hz * 1e12)  # W / Hz -> pJ per cycle
    return float(tech.leakage_pj_per_cycle(area, arch.clock_hz, kind="logic"))


def area(arch) -> dict | None:
    """Area per component of an arch with a technology section, else None."""
    tech = tech_of(arch)
    return None if tech is None else area_um2(arch, tech)


def price(arch, x: dict, counts: dict, cycles: np.ndarray):
    """``(energy_pj[L], {(component, action): pJ[L]})``, or ``(None, None)`` without a
    technology section."""
    tech = tech_of(arch)
    if tech is None:
        return None, None
    prices = unit_prices(arch, tech, x)
    breakdown = {key: counts[key] * prices[key] for key in counts}
    breakdown[("chip", "leakage")] = cycles * leakage_pj_per_cycle(arch, tech)
    return sum(breakdown.values()), breakdown


VECTOR_BITS = 16  # width of a vector-unit lane (element operands and results)

_SIGMOID = {"exp": 1, "add": 1, "div": 1}
_TANH = {"exp": 1, "add": 1, "sub": 1, "div": 1}
_HARDSIGMOID = {"mul": 1, "add": 1, "max": 1, "min": 1}
_ELU = {"max": 1, "exp": 1, "sub": 1, "mul": 1}
_SOFTPLUS = {"exp": 1, "add": 1, "log": 1}


def _plus(*parts: dict) -> dict:
    total: dict = {}
    for part in parts:
        for op, n in part.items():
            total[op] = total.get(op, 0) + n
    return total


# per element of an activation layer, by its op (the module docstring's table)
ACTIVATION_OPS = {
    "relu": {"max": 1},
    "thresholdedrelu": {"max": 1},
    "relu6": {"max": 1, "min": 1},
    "clip": {"max": 1, "min": 1},
    "leakyrelu": {"mul": 1, "max": 1},
    "prelu": {"mul": 1, "max": 1},
    "neg": {"sub": 1},
    "abs": {"sub": 1, "max": 1},
    **{op: {op: 1} for op in ("exp", "log", "sqrt", "sin", "cos")},
    "reciprocal": {"div": 1},
    "pow": {"log": 1, "mul": 1, "exp": 1},
    "batchnorm": {"mul": 1, "add": 1},
    "sigmoid": _SIGMOID,
    "tanh": _TANH,
    "erf": _TANH,
    "gelu": _plus(_SIGMOID, {"mul": 2}),
    "swish": _plus(_SIGMOID, {"mul": 1}),
    "silu": _plus(_SIGMOID, {"mul": 1}),
    "hardsigmoid": _HARDSIGMOID,
    "hardswish": _plus(_HARDSIGMOID, {"mul": 1}),
    "elu": _ELU,
    "selu": _plus(_ELU, {"mul": 1}),
    "celu": _plus(_ELU, {"mul": 1}),
    "softplus": _SOFTPLUS,
    "softsign": {"sub": 1, "max": 1, "add": 1, "div": 1},
    "mish": _plus(_SOFTPLUS, _TANH, {"mul": 1}),
}


def layer_vector_ops(layer) -> dict | None:
    """The vector ops one non-GEMM ``layer`` needs, ``{"element"|"output"|"row": {op: n}}``
    (per element, per pool window, per row); None for an activation op the table lacks."""
    spec = layer.spec
    if layer.type == "eltwise":
        return {"element": {spec.op: 1}}
    if layer.type == "pool":
        if spec.pool == "max":
            return {"element": {"max": 1}}
        return {"element": {"add": 1}, "output": {"mul": 1}}
    if layer.type == "softmax":
        return {"element": {"exp": 1, "add": 1, "div": 1}}
    if layer.type == "layernorm":
        return {"element": {"add": 3, "sub": 1, "mul": 3}, "row": {"sqrt": 1, "div": 1}}
    if layer.type == "activation":
        ops = ACTIVATION_OPS.get(spec.op)
        return None if ops is None else {"element": ops}
    raise ValueError(f"{layer.type!r} is not a non-GEMM layer type")


def _units(layer) -> dict:
    """Elements, pool windows and rows of a non-GEMM layer."""
    spec = layer.spec
    if layer.type == "pool":
        from accelsim.workload import pair

        kh, kw = pair(spec.kernel)
        return {"element": layer.elements, "output": layer.elements // (kh * kw)}
    if layer.type in ("softmax", "layernorm"):
        return {"element": layer.elements, "row": layer.elements // spec.cols}
    return {"element": layer.elements}


def vector_arrays(layers) -> dict:
    """The per-layer inputs of `vector_work` (entries of `accelsim.model.layer_arrays`):
    ``vector_ops`` {op: count per layer} (0 for GEMM layers) and ``vector_unknown`` (an
    activation op without a composition)."""
    layers = list(layers)
    counts: dict = {}
    unknown = np.zeros(len(layers), dtype=bool)
    for i, layer in enumerate(layers):
        if layer.is_gemm:
            continue
        ops = layer_vector_ops(layer)
        if ops is None:
            unknown[i] = True
            continue
        units = _units(layer)
        for unit, per in ops.items():
            for op, n in per.items():
                counts.setdefault(op, np.zeros(len(layers)))[i] += n * units[unit]
    return {"vector_ops": counts, "vector_unknown": unknown}


NOT_COSTED = "not costed: non-GEMM work needs a vector unit, and this arch declares none"
UNKNOWN_ACTIVATION = (
    "not costed: the vector unit has no op composition for this activation op (accelsim."
    "energy.ACTIVATION_OPS: " + ", ".join(sorted(ACTIVATION_OPS)) + ")"
)


def vector_work(arch, x: dict) -> dict:
    """Cycles and energy of non-GEMM layers on the arch's vector unit (if it has one).

    A lane does one element operation per cycle: ``cycles = ceil(elements / lanes)``; the
    operands are assumed to be in on-chip SRAM (their traffic is not counted). Energy: the
    layer's vector ops (module docstring) x ``Technology.vector_op_pj(op, VECTOR_BITS)``,
    or ``elements x vector_unit.op_pj`` when the arch gives one; ``reason`` per layer (None,
    or why a non-GEMM layer is not costed: no vector unit, or an activation op it has no
    composition for).
    """
    n = len(x["gemm"])
    vec = arch.spec.vector_unit
    zero = np.zeros(n)
    if vec is None:
        reason = [None if g else NOT_COSTED for g in x["gemm"].tolist()]
        return {"costed": np.zeros(n, dtype=bool), "cycles": zero, "energy_pj": zero,
                "breakdown": {}, "reason": reason}  # fmt: skip
    unknown = np.asarray(x["vector_unknown"], dtype=bool)
    other = ~x["gemm"] & ~unknown
    cycles = np.where(other, -(-x["elements"] // vec.lanes), 0)
    reason = [UNKNOWN_ACTIVATION if u else None for u in unknown.tolist()]
    tech = tech_of(arch)
    energy = zero
    breakdown = {}
    if tech is not None:
        if vec.op_pj is not None:
            ops = np.where(other, x["elements"] * vec.op_pj, 0.0)
        else:
            ops = zero.copy()
            for op, count in x["vector_ops"].items():
                ops = ops + np.where(other, count, 0.0) * float(tech.vector_op_pj(op, VECTOR_BITS))
        leak = leakage_pj_per_cycle(arch, tech)
        breakdown = {("vector", "op"): ops, ("chip", "leakage"): cycles * leak}
        energy = ops + cycles * leak
    return {"costed": other, "cycles": cycles, "energy_pj": energy, "breakdown": breakdown,
            "reason": reason}  # fmt: skip
