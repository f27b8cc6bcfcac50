"""``bit_fusion``: BitFusion fusion units of 2-bit BitBricks (Sharma et al., ISCA 2018).

A fusion unit of sixteen 2-bit BitBricks runs one 8x8 MAC per cycle, or fuses its bricks
into ``floor(8 / max(a, 2)) x floor(8 / max(w, 2))`` narrower MACs per cycle (1 at 8/8, 2 at
8/4, 4 at 4/4, 8 at 4/2, 16 at 2/2), packed along the reduction dimension — the input
channels of a conv — as the released simulator does (``get_perf_factor`` and
``get_compute_cycles`` in hsharma35/bitfusion ``bitfusion/src/simulator/accelerator.py``),
so layers with few channels under-fill. Operands above 8 bits run in the 8x8 mode over
several cycles: 2 when one operand is wider than 8 bits, 4 when both are (the released
simulator itself cannot run 16-bit layers: its perf factor becomes 0).

Energy: one action, a fusion-unit cycle, priced from the released 45 nm synthesis of the
8-bit unit (``results/systolic_array_synth.csv``: 0.459 pJ per cycle, 1,735 um^2; see
``accelsim/data/technology.yaml``, key ``bit_fusion``), scaled to the arch's node and voltage.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from accelsim.quant import QuantSpec
from accelsim.schema import Strict


def _bits(bits: int, encoding: str) -> int:
    return 2 if encoding == "binary" else bits  # ±1 runs as a 2-bit signed operand


def fusion_unit(tech) -> dict:
    """The 8-bit fusion unit of the released synthesis: pJ per cycle and um^2 at ``tech``."""
    from accelsim.technology import technology_data

    data = technology_data()["bit_fusion"]
    unit = next(u for u in data["units"] if u["max_bits"] == 8)
    per_unit = data["pes_per_row"]  # the CSV row is a 4x4 array: 16 fusion units
    pj = unit["dynamic_nw"] / per_unit * 1e-9 / data["frequency_hz"] * 1e12
    return {"pj": pj * tech.energy_scale(), "um2": unit["area_um2"] / per_unit * tech.area_scale()}


class BitFusion(Strict):
    kind: Literal["bit_fusion"]
    # actions done once per array step, however many of its packed MACs are real: a layer
    # that under-fills the packing (few input channels) pays them per step, not per MAC
    STEP_ACTIONS: ClassVar[tuple[str, ...]] = ("fusion_unit_cycle",)

    def check(self, quant: QuantSpec) -> str | None:
        for operand in ("a", "w"):
            bits = getattr(quant, f"{operand}_bits")
            if bits > 16:
                return f"{operand}_bits {bits} exceeds bit_fusion's 16-bit mode"
        return None

    def k_per_cycle(self, quant: QuantSpec) -> int:
        a, w = _bits(quant.a_bits, quant.a_encoding), _bits(quant.w_bits, quant.w_encoding)
        if max(a, w) > 8:
            return 1
        return (8 // max(a, 2)) * (8 // max(w, 2))

    def cycles_per_step(self, quant: QuantSpec) -> int:
        a, w = _bits(quant.a_bits, quant.a_encoding), _bits(quant.w_bits, quant.w_encoding)
        return (2 if a > 8 else 1) * (2 if w > 8 else 1)

    def actions(self, quant: QuantSpec) -> dict:
        return {"fusion_unit_cycle": self.cycles_per_step(quant) / self.k_per_cycle(quant)}

    def action_pj(self, tech, action: str, quant: QuantSpec) -> float:
        return fusion_unit(tech)["pj"]

    def area_um2(self, tech) -> float:
        return fusion_unit(tech)["um2"]
