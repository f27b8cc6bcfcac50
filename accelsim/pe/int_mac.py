"""``int_mac``: a fixed-precision integer multiply-accumulate PE.

One MAC per cycle for any operand up to ``max_a_bits`` x ``max_w_bits``: narrower operands
run at the same speed (their energy is lower; see the technology model). A ±1 (``binary``)
operand is run as the two's-complement integer -1/+1, which needs 2 bits.
"""

from __future__ import annotations

from typing import Literal

from accelsim.quant import OperandBits, QuantSpec
from accelsim.schema import Strict


def run_bits(bits: int, encoding: str) -> int:
    """The bits a signed integer multiplier runs an operand at: a ±1 (``binary``) operand as
    the two's-complement integer -1/+1, 2 bits; any other operand at its own bits. Shared by
    every integer MAC path (``int_mac``, ``xnor``'s fallback) for its check and its price."""
    return 2 if encoding == "binary" else bits


class IntMac(Strict):
    kind: Literal["int_mac"]
    max_a_bits: OperandBits
    max_w_bits: OperandBits
    signed_multiplier: bool = True

    def check(self, quant: QuantSpec) -> str | None:
        """Reason the multiplier cannot take these operands, or None.

        With ``signed_multiplier`` (the usual design) an operand of b bits fits a b-bit port
        whatever its encoding, except a ``binary`` ±1 operand, which needs 2. Unsigned
        multipliers take only ``uint`` operands.
        """
        for operand, limit in (("a", self.max_a_bits), ("w", self.max_w_bits)):
            bits = getattr(quant, f"{operand}_bits")
            encoding = getattr(quant, f"{operand}_encoding")
            if not self.signed_multiplier:
                if encoding != "uint":
                    return (
                        f"{operand}_encoding {encoding!r} needs a signed multiplier; "
                        "this int_mac is unsigned (signed_multiplier: false)"
                    )
                need = bits
            else:
                # uint8 activations on an 8-bit MAC are the common case: the PE widens
                # them by one sign bit internally, so a uint operand needs only its bits
                need = run_bits(bits, encoding)
            if need > limit:
                return (
                    f"{operand}_bits {bits} ({encoding}) exceeds this int_mac's "
                    f"max_{operand}_bits {limit}"
                )
        return None

    def k_per_cycle(self, quant: QuantSpec) -> int:
        return 1

    def cycles_per_step(self, quant: QuantSpec) -> int:
        return 1

    def actions(self, quant: QuantSpec) -> dict:
        return {"mac": 1.0}

    def action_pj(self, tech, action: str, quant: QuantSpec) -> float:
        """One MAC: the technology's fixed-point MAC at the operands' bits (a narrower
        operand toggles fewer bits of the same multiplier: energy follows the operand bits)."""
        a = run_bits(quant.a_bits, quant.a_encoding)
        return float(tech.mac_pj(a, run_bits(quant.w_bits, quant.w_encoding)))

    def area_um2(self, tech) -> float:
        return float(tech.mac_area_um2(self.max_a_bits, self.max_w_bits))
