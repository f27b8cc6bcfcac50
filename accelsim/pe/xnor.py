"""``xnor``: binary (BNN) PEs, XNOR + popcount (XNOR-Net, Rastegari et al. 2016; FINN,
Umuroglu et al., FPGA 2017).

A PE computes ``lanes`` binary MACs per cycle along the reduction dimension: with ±1
operands stored as bits (1 = +1), a dot product of ``k`` terms is ``2 popcount(xnor(a, w)) -
k``. Only binary layers (``a_encoding`` and ``w_encoding`` ``binary``, 1 bit each) run on it;
BNNs keep their first and last layers in higher precision, which run on the optional
``fallback`` integer path (one MAC per cycle up to its bits) or are infeasible with a reason.

Energy: ``xnor_popcount`` per binary MAC is priced as one 1-bit addition (a popcount tree
of L inputs has about L full adders; Horowitz's adder energy per bit); a fallback MAC as the
technology's fixed-point MAC at the bits ``int_mac`` runs the operands at (a ±1 operand of a
layer that is not all-binary is the 2-bit integer -1/+1: `accelsim.pe.int_mac.run_bits`).
"""

from __future__ import annotations

from typing import Literal

from accelsim.pe.int_mac import run_bits
from accelsim.quant import OperandBits, QuantSpec
from accelsim.schema import PositiveInt, Strict


class Fallback(Strict):
    max_a_bits: OperandBits
    max_w_bits: OperandBits


def _binary(quant: QuantSpec) -> bool:
    return quant.a_encoding == "binary" and quant.w_encoding == "binary"


class Xnor(Strict):
    kind: Literal["xnor"]
    lanes: PositiveInt
    fallback: Fallback | None = None

    def check(self, quant: QuantSpec) -> str | None:
        if _binary(quant):
            return None
        what = f"a{quant.a_bits}/{quant.a_encoding} x w{quant.w_bits}/{quant.w_encoding}"
        if self.fallback is None:
            return (
                f"xnor PEs run only binary layers (a_encoding and w_encoding 'binary'), this "
                f"layer is {what}; give the arch a pe.fallback integer path to run it"
            )
        a, w = run_bits(quant.a_bits, quant.a_encoding), run_bits(quant.w_bits, quant.w_encoding)
        if a > self.fallback.max_a_bits or w > self.fallback.max_w_bits:
            return (
                f"{what} exceeds the fallback path's {self.fallback.max_a_bits}x"
                f"{self.fallback.max_w_bits} bits"
            )
        return None

    def k_per_cycle(self, quant: QuantSpec) -> int:
        return self.lanes if _binary(quant) else 1

    def cycles_per_step(self, quant: QuantSpec) -> int:
        return 1

    def actions(self, quant: QuantSpec) -> dict:
        return {"xnor_popcount": 1.0} if _binary(quant) else {"mac": 1.0}

    def action_pj(self, tech, action: str, quant: QuantSpec) -> float:
        if action == "xnor_popcount":
            return float(tech.vector_op_pj("add", 1))
        a = run_bits(quant.a_bits, quant.a_encoding)
        return float(tech.mac_pj(a, run_bits(quant.w_bits, quant.w_encoding)))

    def area_um2(self, tech) -> float:
        """``lanes`` XNOR gates and a popcount tree: about ``lanes`` 1-bit adders; plus the
        fallback MAC if any (areas of the technology's MAC fit)."""
        area = self.lanes * float(tech.mac_area_um2(1, 1)) / 2
        if self.fallback is not None:
            area += float(tech.mac_area_um2(self.fallback.max_a_bits, self.fallback.max_w_bits))
        return area
