"""Counter-based random numbers shared by the reference kernels.

Every random value in ``accelsim.reference`` (stochastic rounding, generated weights) is a
pure function of ``(seed, index)``: element ``i`` (its flat C-order index) receives output
number ``i`` (0-based) of Vigna's SplitMix64 generator seeded with ``seed``, computed
directly as ``mix64(seed + (i + 1) * 0x9E3779B97F4A7C15 mod 2**64)`` with

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    z =  z ^ (z >> 31)

(all arithmetic modulo 2**64). There is no shared random stream, so results do not depend
on thread count, loop order or chunking, and a hardware generator can reproduce any single
weight without producing the ones before it. Seeds ``s`` and ``s + k * 0x9E3779B97F4A7C15``
give shifted copies of one sequence (a property of SplitMix64); use unrelated seeds for
unrelated tensors.
"""

from __future__ import annotations

import numpy as np
from numba import njit

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_ONE = np.uint64(1)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def splitmix64(seed, index):
    """Output number ``index`` (0-based) of SplitMix64 seeded with ``seed`` (both uint64)."""
    z = seed + (np.uint64(index) + _ONE) * GAMMA
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def uniform01(seed, index):
    """A float64 in [0, 1): the top 53 bits of ``splitmix64(seed, index)`` times 2**-53."""
    return np.float64(splitmix64(seed, index) >> _S11) * _INV53


def check_seed(seed) -> np.uint64:
    """Validate a seed (an integer in [0, 2**64)) and return it as numpy uint64."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer in [0, 2**64), found {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), found {seed}")
    return np.uint64(seed)
