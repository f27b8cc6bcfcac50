"""Weight sources: where a layer's weights come from (DESIGN.md §5, "Weight sources").

An arch's ``weights`` section selects one by ``source``; every GEMM layer of the arch uses it.

``dram`` (the default)
    Weights are read from DRAM at ``w_bits`` each (packed), held in the weight buffer and
    fed to the array.

``generated`` (Hiddenite: Hirose et al., ISSCC 2022)
    Weights are regenerated on chip by a seeded pseudo-random generator and selected by a
    binary supermask (hidden networks, edge-popup: Ramanujan et al., CVPR 2020). Only the
    supermask crosses DRAM and sits in the weight buffer; the generator sits between the
    weight buffer and the array and makes a weight every time the array takes one.

    *What the generator computes* is `accelsim.reference.hidden.generate_weights`: weight
    ``i`` (flat index) is a function of ``splitmix64(seed, i)`` (`accelsim.reference._prng`),
    masked by the supermask (`accelsim.reference.hidden.hidden_layer_forward` is the
    bit-accurate layer). The seeds (one 64-bit register per layer) are not counted as
    traffic.

    *Mask bytes*: a layer's ``K x N`` mask is stored at ``b`` bits per weight:

    - ``encoding: raw``: ``b = 1`` (one bit per weight, no compression);
    - ``encoding: entropy``: ``b = H(d) = -d log2 d - (1 - d) log2 (1 - d)``, the entropy of
      a mask whose bits are independent with P(1) = ``density`` ``d`` (Shannon's bound, which
      an arithmetic coder approaches); ``H(1) = 0``: a mask that keeps every weight carries
      no information. Compression ratio ``1 / H(d)``: e.g. 1.13x at ``d = 0.3``, 2.13x at
      ``d = 0.1``, none at ``d = 0.5``. (Hiddenite's own "supermask expansion" encoding is not
      described in public text we could read.)

    These bits take the place of ``w_bits`` in the memory model (`accelsim.memory`): DRAM
    weight traffic, weight-buffer capacity and weight-buffer reads and writes.

    *Generator*: ``weights_per_cycle`` weights per cycle. The array takes ``G`` weights
    per layer, one per array-side weight-buffer read (`accelsim.model`: ``k n`` per tile in
    ``ws``, ``k n ceil(m/R)`` in ``os``, ``k n ceil(m/C)`` in ``is``); the generator needs
    ``G / weights_per_cycle`` cycles, and when that exceeds what the array, DRAM and SRAM
    ports need it is the steady-state bound::

        steady = max(compute, dram, sram, G / weights_per_cycle)
        stall_generator = max(G / weights_per_cycle - max(compute, dram, sram), 0)

    (stall cause ``generator`` in the report; ``timing: scalesim`` is SCALE-Sim's stall-free
    mode and has none).

    *Energy*: ``G`` generated weights (action ``(generator, weights)``), priced at
    ``generator.pj_per_weight`` or, by default, the technology's generator: one SplitMix64
    evaluation (2 64-bit multiplies, one 64-bit add, three 64-bit xor-shifts) gives 64
    random bits, shared by ``64 / w_bits`` weights (see ``weight_generator`` in
    ``accelsim/data/technology.yaml``). Masked-out weights still occupy their MAC slot (no
    zero skipping is modelled).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from accelsim.schema import PerCycle, PositiveFloat, Strict

Density = Annotated[float, Field(gt=0, le=1)]


class DramWeights(Strict):
    """Weights read from DRAM at ``w_bits`` each."""

    source: Literal["dram"]

    def dram_bits(self, w_bits: np.ndarray, density=None) -> np.ndarray:
        """Bits per weight in DRAM and in the weight buffer."""
        return w_bits

    def counts(self, generated: np.ndarray) -> dict:
        return {}

    def prices(self, tech, w_bits: np.ndarray) -> dict:
        return {}

    def generator_cycles(self, generated: np.ndarray) -> None:
        return None


class Supermask(Strict):
    density: Density
    encoding: Literal["entropy", "raw"]

    @property
    def bits_per_weight(self) -> float:
        """Stored mask bits per weight (module docstring)."""
        return mask_bits(self.density, self.encoding)


class Generator(Strict):
    weights_per_cycle: PerCycle
    pj_per_weight: PositiveFloat | None = None


class GeneratedWeights(Strict):
    """Weights regenerated on chip from a seed and selected by a supermask (Hiddenite)."""

    source: Literal["generated"]
    supermask: Supermask
    generator: Generator

    def dram_bits(self, w_bits: np.ndarray, density=None) -> np.ndarray:
        """Mask bits per weight; ``density``: per-layer measured densities (a trace's
        supermasks, `accelsim.trace`), NaN where the configured one applies."""
        bits = np.full(np.shape(w_bits), self.supermask.bits_per_weight)
        if density is not None:
            measured = ~np.isnan(density)
            encoding = self.supermask.encoding
            bits[measured] = [mask_bits(d, encoding) for d in density[measured]]
        return bits

    def counts(self, generated: np.ndarray) -> dict:
        return {("generator", "weights"): generated}

    def prices(self, tech, w_bits: np.ndarray) -> dict:
        price = self.generator.pj_per_weight
        if price is None:
            price = generator_pj_per_weight(tech, w_bits)
        return {("generator", "weights"): price}

    def generator_cycles(self, generated: np.ndarray) -> np.ndarray:
        return generated / self.generator.weights_per_cycle


WeightSource = DramWeights | GeneratedWeights


def mask_bits(density: float, encoding: str) -> float:
    """Stored bits per weight of a supermask: 1 raw, or its binary entropy H(density)."""
    if encoding == "raw":
        return 1.0
    d = density
    return 0.0 if d in (0, 1) else -d * math.log2(d) - (1 - d) * math.log2(1 - d)


def generator_pj_per_weight(tech, w_bits) -> np.ndarray:
    """Default energy (pJ) of one generated ``w_bits`` weight: a SplitMix64 evaluation
    (priced in 32-bit Horowitz primitives, see ``weight_generator`` in the technology data)
    shared by ``bits_per_evaluation / w_bits`` weights, at the technology's node and supply."""
    from accelsim.technology import weight_generator

    gen = weight_generator()
    per_eval = sum(n * tech.vector_op_pj(op, 32) for op, n in gen["per_evaluation_32b"].items())
    return per_eval * np.asarray(w_bits, dtype=float) / gen["bits_per_evaluation"]
