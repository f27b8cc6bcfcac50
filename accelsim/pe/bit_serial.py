"""``bit_serial``: UNPU's LUT-based bit-serial PE (Lee et al., IEEE JSSC 2019).

Weights enter one bit-plane per cycle. A PE holds a look-up table of the partial sums of a
group of ``lut_group`` activations (every subset sum); each weight bit-plane selects one
entry, which is shifted and accumulated. So a step covers ``lut_group`` MACs along the
reduction dimension and takes ``w_bits`` cycles: throughput ∝ 1 / w_bits. For ±1 weights
(``w_encoding: binary``) UNPU's 1-bit mode covers ``binary_group`` activations per lookup in one
cycle (a symmetric table: an entry and its negation). UNPU publishes 345.6 GOPS at 16-bit and
7,372 GOPS at 1-bit weights (JSSC 2019 abstract): 7372 / 345.6 = 21.33 = 16 x 4/3, which
``lut_group: 3`` and ``binary_group: 4`` reproduce.

Actions (priced separately, as UNPU's energy is): ``lut_lookup``, one per group per weight
bit-plane (an entry select, priced like an adder of the entry's width, plus a shift-and-add
at the accumulator width): ``w_bits / lut_group`` per MAC; ``lut_build``, the table of a
group of activations, built once and shared by ``lut_share`` PEs that need the same
activations: ``1 / (lut_group lut_share)`` per MAC, each build costing ``2^(g-1)`` additions
at the activation width.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from accelsim.quant import OperandBits, QuantSpec
from accelsim.schema import PositiveInt, Strict


class BitSerial(Strict):
    kind: Literal["bit_serial"]
    # actions done once per array step (a lookup per group and bit-plane, a table per group),
    # however many of the group's activations are real (see BitFusion.STEP_ACTIONS)
    STEP_ACTIONS: ClassVar[tuple[str, ...]] = ("lut_lookup", "lut_build")
    max_a_bits: OperandBits
    max_w_bits: OperandBits
    lut_group: PositiveInt
    binary_group: PositiveInt
    lut_share: PositiveInt
    # skip the lookups (and cycles) of all-zero weight bit-planes of a group; takes effect with
    # a trace's weights, applied by the model as per-layer multipliers (accelsim.trace)
    skip_zero_bitplanes: bool = False

    def check(self, quant: QuantSpec) -> str | None:
        for operand, limit in (("a", self.max_a_bits), ("w", self.max_w_bits)):
            bits = getattr(quant, f"{operand}_bits")
            if bits > limit:
                return (
                    f"{operand}_bits {bits} exceeds this bit_serial PE's max_{operand}_bits {limit}"
                )
        return None

    def _group(self, quant: QuantSpec) -> int:
        return self.binary_group if quant.w_encoding == "binary" else self.lut_group

    def k_per_cycle(self, quant: QuantSpec) -> int:
        return self._group(quant)

    def cycles_per_step(self, quant: QuantSpec) -> int:
        return 1 if quant.w_encoding == "binary" else quant.w_bits

    def actions(self, quant: QuantSpec) -> dict:
        g = self._group(quant)
        return {
            "lut_lookup": self.cycles_per_step(quant) / g,
            "lut_build": 1 / (g * self.lut_share),
        }

    def action_pj(self, tech, action: str, quant: QuantSpec) -> float:
        a = 2 if quant.a_encoding == "binary" else quant.a_bits
        g = self._group(quant)
        if action == "lut_lookup":  # select an entry of a_bits + g bits, shift-and-add it
            # an 2^g-to-1 multiplexer of (a + g)-bit entries switches about as much logic as an
            # adder of that width (estimate); the shift-add is an adder at the accumulator width
            select = tech.vector_op_pj("add", a + g)
            return float(select + tech.vector_op_pj("add", quant.acc_bits))
        # lut_build: every subset sum of g activations, 2^(g-1) additions (half, if symmetric)
        return float(2 ** (g - 1) * tech.vector_op_pj("add", a + g))

    def area_um2(self, tech) -> float:
        """A LUT of 2^g entries of (a + g) bits plus a shift-accumulator: as many adders as a
        ``max_a_bits`` x 1 multiplier's worth (the fit's area at w = 1) — an estimate."""
        return float(tech.mac_area_um2(self.max_a_bits, 1))
