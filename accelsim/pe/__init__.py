"""Processing-element kinds: one module each, one line each in `REGISTRY` (DESIGN.md §8).

A PE kind is a small frozen pydantic model (its arch-file section, discriminated by
``kind``) with these methods; generic code never branches on a kind:

* ``check(quant) -> str | None``: why a layer at this precision cannot run, or None.
* ``k_per_cycle(quant) -> int``: MACs one PE does per step, packed along the reduction
  dimension ``k`` (spatial packing inside the PE; 1 for a plain MAC).
* ``cycles_per_step(quant) -> int``: cycles one step takes (temporal packing: a bit-serial
  PE spends one cycle per weight bit-plane; 1 for a plain MAC).
* ``actions(quant) -> {action: count per MAC}``: what the PE does, e.g. ``{"mac": 1}``.
* ``action_pj(tech, action, quant)``: energy of one such action.
* ``area_um2(tech)``: area of one PE.

and optionally ``STEP_ACTIONS``, the actions done once per array step however many of its
packed MACs are real (counted per step by the model, gated by all-zero activation groups
by `accelsim.trace`); the others are per MAC.
"""

from __future__ import annotations

from accelsim.pe.bit_fusion import BitFusion
from accelsim.pe.bit_serial import BitSerial
from accelsim.pe.int_mac import IntMac
from accelsim.pe.xnor import Xnor

REGISTRY = {
    "int_mac": IntMac,
    "bit_fusion": BitFusion,
    "bit_serial": BitSerial,
    "xnor": Xnor,
}

PEConfig = IntMac | BitFusion | BitSerial | Xnor
