"""Bit-serial and UNPU lookup-table GEMM equal integer GEMM for every weight width."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import accelsim.reference as R


def bitserial_oracle(a, w, w_bits, signed):
    """Python ints: sum over bit-planes of ±2**b * (a @ plane_b)."""
    m, k, n = len(a), len(w), len(w[0])
    out = [[0] * n for _ in range(m)]
    for b in range(w_bits):
        factor = -(2**b) if signed and b == w_bits - 1 else 2**b
        for i in range(m):
            for j in range(n):
                out[i][j] += factor * sum(a[i][t] * ((w[t][j] >> b) & 1) for t in range(k))
    return out


@pytest.mark.parametrize("w_bits", [1, 2, 3, 4, 7, 8, 12, 16, 17, 24, 32])
@pytest.mark.parametrize("signed", [True, False])
def test_bitserial_and_lut_equal_int_gemm(w_bits, signed):
    rng = np.random.default_rng(w_bits + 100 * signed)
    lo, hi = R.int_range(w_bits, signed)
    a = rng.integers(-(2**15), 2**15, (4, 13))
    w = rng.integers(lo, hi + 1, (13, 6))
    w[0, :] = lo
    w[1, :] = hi
    exact = R.int_gemm(a, w, 64)
    assert exact.tolist() == bitserial_oracle(a.tolist(), w.tolist(), w_bits, signed)
    assert np.array_equal(R.bitserial_gemm(a, w, w_bits, signed), exact)
    for group in (1, 3, 4, 8):
        assert np.array_equal(R.unpu_lut_gemm(a, w, w_bits, group, signed), exact)
    assert np.array_equal(R.bitserial_gemm(a, w, w_bits, signed, acc_bits=20), R.int_gemm(a, w, 20))


@given(
    st.integers(1, 16),
    st.booleans(),
    st.integers(1, 4),
    st.tuples(st.integers(1, 5), st.integers(1, 20), st.integers(1, 5)),
    st.data(),
)
def test_property_bitserial_equals_int_gemm(w_bits, signed, group, shape, data):
    m, k, n = shape
    lo, hi = R.int_range(w_bits, signed)
    a = data.draw(hnp.arrays(np.int64, (m, k), elements=st.integers(-(2**16), 2**16)))
    w = data.draw(hnp.arrays(np.int64, (k, n), elements=st.integers(lo, hi)))
    exact = R.int_gemm(a, w, 64)
    assert np.array_equal(R.bitserial_gemm(a, w, w_bits, signed), exact)
    assert np.array_equal(R.unpu_lut_gemm(a, w, w_bits, group, signed), exact)


def test_lut_contents_are_subset_sums():
    # one group of 3 activations, one 1-bit unsigned weight column per subset pattern
    a = np.array([[5, -7, 11]])
    patterns = np.array([[(p >> t) & 1 for p in range(8)] for t in range(3)])
    got = R.unpu_lut_gemm(a, patterns, 1, group=3, signed=False)
    assert got.tolist() == [[0, 5, -7, -2, 11, 16, 4, 9]]


def test_bad_input_raises_value_error():
    a = np.zeros((2, 3), np.int64)
    with pytest.raises(ValueError, match="4-bit signed range"):
        R.bitserial_gemm(a, np.full((3, 2), 8), 4)
    with pytest.raises(ValueError, match="unsigned range"):
        R.bitserial_gemm(a, np.full((3, 2), -1), 4, signed=False)
    with pytest.raises(ValueError, match="w_bits"):
        R.bitserial_gemm(a, np.zeros((3, 2), np.int64), 0)
    with pytest.raises(ValueError, match="do not chain"):
        R.unpu_lut_gemm(a, np.zeros((2, 2), np.int64), 4)
    with pytest.raises(ValueError, match="group"):
        R.unpu_lut_gemm(a, np.zeros((3, 2), np.int64), 4, group=13)
