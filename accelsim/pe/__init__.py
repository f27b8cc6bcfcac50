"""Processing-element kinds: one module each, one line each in `REGISTRY` (DESIGN.md §8).

A PE kind is a small frozen pydantic model (its arch-file section, discriminated by
``kind``) with these methods; generic code never branches on a kind:

* ``check(quant) -> str | None``: why a layer at this precision cannot run, or None.
* ``k_per_cycle(quant) -> int``: MACs one PE does per cycle, packed along the reduction
  dimension ``k`` (spatial packing inside the PE; 1 for a plain MAC).
* ``mac_pj(tech, a_bits, w_bits)``: energy of one MAC (arrays broadcast).
* ``area_um2(tech)``: area of one PE.
"""

from __future__ import annotations

from accelsim.pe.int_mac import IntMac

REGISTRY = {
    "int_mac": IntMac,
}

PEConfig = IntMac
