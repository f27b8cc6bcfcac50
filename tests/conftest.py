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
