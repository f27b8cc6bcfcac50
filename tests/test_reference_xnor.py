"""XNOR-popcount GEMM on packed ±1 operands equals the ±1 integer product."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import accelsim.reference as R


def xnor_oracle(a_rows, w_cols, k):
    """Python ints on the packed words: 2 * popcount(xnor over the k real bits) - k."""
    out = []
    for ar in a_rows:
        row = []
        for wc in w_cols:
            agree = 0
            for t in range(k):
                abit = (int(ar[t // 64]) >> (t % 64)) & 1
                wbit = (int(wc[t // 64]) >> (t % 64)) & 1
                agree += abit == wbit
            row.append(2 * agree - k)
        out.append(row)
    return out


def pm1(rng, shape):
    return rng.choice(np.array([-1, 1], np.int8), shape)


@pytest.mark.parametrize(
    "m,k,n", [(1, 1, 1), (3, 63, 2), (5, 64, 7), (4, 65, 4), (9, 200, 3), (8, 129, 6)]
)
def test_xnor_gemm_matches_oracles(m, k, n):
    rng = np.random.default_rng(k)
    a = pm1(rng, (m, k))
    w = pm1(rng, (k, n))
    ap = R.pack_bits(a, axis=1)
    wp = R.pack_bits(w, axis=0)
    assert ap.shape == (m, -(-k // 64)) and wp.shape == (-(-k // 64), n)
    got = R.xnor_gemm(ap, wp, k)
    assert got.dtype == np.int32
    assert np.array_equal(got, a.astype(np.int64) @ w.astype(np.int64))
    assert got.tolist() == xnor_oracle(ap.tolist(), wp.T.tolist(), k)


def test_packing_convention_and_padding():
    x = np.array([1, -1, 1, 1] + [-1] * 60 + [1])  # 65 values
    p = R.pack_bits(x)
    assert p.dtype == np.uint64 and p.shape == (2,)
    assert int(p[0]) == 0b1101 and int(p[1]) == 1  # bit 1 = +1, LSB first, padding 0
    assert np.array_equal(R.unpack_bits(p, 65), x)
    # garbage in the padding bits does not change the product
    a = np.ones((2, 65), np.int8)
    w = -np.ones((65, 3), np.int8)
    ap = R.pack_bits(a, 1)
    wp = R.pack_bits(w, 0)
    ap[:, 1] |= np.uint64(0xFFFF_FFFF_FFFF_FFFE)
    wp[1, :] |= np.uint64(0xAAAA_0000_0000_0000)
    assert np.array_equal(R.xnor_gemm(ap, wp, 65), np.full((2, 3), -65))


@given(st.tuples(st.integers(1, 9), st.integers(1, 300), st.integers(1, 9)), st.data())
def test_property_xnor_identity(shape, data):
    m, k, n = shape
    el = st.sampled_from([-1, 1])
    a = data.draw(hnp.arrays(np.int8, (m, k), elements=el))
    w = data.draw(hnp.arrays(np.int8, (k, n), elements=el))
    got = R.xnor_gemm(R.pack_bits(a, 1), R.pack_bits(w, 0), k)
    assert np.array_equal(got, a.astype(np.int64) @ w.astype(np.int64))
    assert np.array_equal(R.unpack_bits(R.pack_bits(w, 0), k, 0), w)


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match=r"\+1 and -1"):
        R.pack_bits(np.array([1, 0, -1]))
    ap = R.pack_bits(np.ones((2, 70), np.int8), 1)
    wp = R.pack_bits(np.ones((70, 2), np.int8), 0)
    with pytest.raises(ValueError, match="needs 3 words"):
        R.xnor_gemm(ap, wp, 130)
    with pytest.raises(ValueError, match="uint64"):
        R.xnor_gemm(ap.astype(np.int64), wp, 70)
    with pytest.raises(ValueError, match="positive"):
        R.xnor_gemm(ap, wp, 0)
