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
(vector, op)                   ``vector_unit.op_pj`` or the technology's vector op
=============================  ==============================================================
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


def vector_work(arch, x: dict) -> dict:
    """Cycles and energy of non-GEMM layers on the arch's vector unit (if it has one).

    A lane does one element operation per cycle: ``cycles = ceil(elements / lanes)``; the
    operands are assumed to be in on-chip SRAM (their traffic is not counted).
    """
    n = len(x["gemm"])
    vec = arch.spec.vector_unit
    zero = np.zeros(n)
    if vec is None:
        return {"costed": np.zeros(n, dtype=bool), "cycles": zero, "energy_pj": zero,
                "breakdown": {}}  # fmt: skip
    other = ~x["gemm"]
    cycles = np.where(other, -(-x["elements"] // vec.lanes), 0)
    tech = tech_of(arch)
    energy = zero
    breakdown = {}
    if tech is not None:
        op = vec.op_pj or tech.vector_op_pj("add", 16)
        leak = leakage_pj_per_cycle(arch, tech)
        ops = np.where(other, x["elements"] * op, 0.0)
        breakdown = {("vector", "op"): ops, ("chip", "leakage"): cycles * leak}
        energy = ops + cycles * leak
    return {"costed": other, "cycles": cycles, "energy_pj": energy, "breakdown": breakdown}
