import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile("ci", max_examples=25, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

QUANT = "{a_bits: 8, w_bits: 8, acc_bits: 32, out_bits: 8, a_encoding: uint, w_encoding: int}"


@pytest.fixture
def write(tmp_path):
    """Write a text file into a temporary directory and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


GAMMA = 0x9E3779B97F4A7C15
MASK64 = 2**64 - 1


def splitmix64_stream(seed: int, count: int) -> list[int]:
    """Vigna's sequential SplitMix64: the reference the counter-based kernels must match."""
    state = seed
    out = []
    for _ in range(count):
        state = (state + GAMMA) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        out.append(z ^ (z >> 31))
    return out
