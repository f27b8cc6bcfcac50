"""int_gemm / int_conv2d against plain-Python oracles, and their accumulator semantics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import accelsim.reference as R


def gemm_oracle(a, w, acc_bits, overflow):
    """Python ints: exact sums, then wrap; or clamp after every addition in increasing k."""
    lo, hi = -(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1
    m, k = len(a), len(a[0]) if a else 0
    n = len(w[0]) if w else 0
    out, bad = [], 0
    for i in range(m):
        row = []
        for j in range(n):
            if overflow == "wrap":
                exact = sum(a[i][t] * w[t][j] for t in range(k))
                bad += not lo <= exact <= hi
                row.append((exact - lo) % 2**acc_bits + lo)
            else:
                acc, clamped = 0, False
                for t in range(k):
                    acc += a[i][t] * w[t][j]
                    if acc > hi or acc < lo:
                        acc, clamped = min(max(acc, lo), hi), True
                bad += clamped
                row.append(acc)
        out.append(row)
    return out, bad


def check(a, w, acc_bits, overflow):
    got, bad = R.int_gemm(a, w, acc_bits, overflow, return_overflow=True)
    expect, expect_bad = gemm_oracle(a.tolist(), w.tolist(), acc_bits, overflow)
    assert got.dtype == (np.int32 if acc_bits <= 32 else np.int64)
    assert got.tolist() == expect
    assert bad == expect_bad
    assert np.array_equal(R.int_gemm(a, w, acc_bits, overflow), got)


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("acc_bits", [1, 8, 16, 20, 32, 33, 48, 64])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64])
def test_int_gemm_matches_oracle(dtype, acc_bits, overflow):
    rng = np.random.default_rng(acc_bits)
    info = np.iinfo(dtype)
    lo, hi = max(int(info.min), -(2**31)), min(int(info.max), 2**31 - 1)
    a = rng.integers(lo, hi + 1, (5, 37), endpoint=False).astype(dtype)
    w = rng.integers(lo, hi + 1, (37, 19), endpoint=False).astype(dtype)
    a[0, :] = lo  # most negative values everywhere in one row / column
    w[:, 0] = lo
    a[1, :] = -1 if info.min < 0 else info.max  # all ones
    check(a, w, acc_bits, overflow)


def test_int8_fast_path_edge_values_and_odd_shapes():
    rng = np.random.default_rng(1)
    for m, k, n in [(1, 1, 1), (3, 2, 17), (4, 16, 16), (65, 513, 33), (7, 1025, 5)]:
        a = rng.integers(-128, 128, (m, k)).astype(np.int8)
        w = rng.integers(-128, 128, (k, n)).astype(np.int8)
        a[0] = -128
        w[:, 0] = -128
        expect = a.astype(np.int64) @ w.astype(np.int64)
        assert np.array_equal(R.int_gemm(a, w), expect)


def test_int16_extremes_take_the_exact_path():
    # (-32768)**2 * 2 == 2**31: a pmaddwd pair would wrap; must still be exact
    a = np.full((2, 4), -32768, np.int16)
    w = np.full((4, 3), -32768, np.int16)
    got, bad = R.int_gemm(a, w, 64, return_overflow=True)
    assert got.tolist() == [[4 * 2**30] * 3] * 2
    assert bad == 0
    got32, bad32 = R.int_gemm(a, w, 32, return_overflow=True)
    assert got32.tolist() == [[0] * 3] * 2  # 2**32 wraps to 0
    assert bad32 == 6


def test_int64_carry_counts_overflow_beyond_64_bits():
    a = np.array([[2**31 - 1] * 4])
    w = np.array([[2**31 - 1]] * 4)
    exact = 4 * (2**31 - 1) ** 2  # > 2**63
    got, bad = R.int_gemm(a, w, 64, return_overflow=True)
    assert got.tolist() == [[(exact + 2**63) % 2**64 - 2**63]]
    assert bad == 1
    sat, clamped = R.int_gemm(a, w, 64, "saturate", return_overflow=True)
    assert sat.tolist() == [[2**63 - 1]] and clamped == 1


@given(
    hnp.arrays(
        np.int64,
        st.tuples(st.integers(1, 6), st.integers(1, 12)),
        elements=st.integers(-(2**15), 2**15),
    ),
    st.integers(1, 6),
    st.integers(2, 40),
    st.data(),
)
def test_wrap_and_saturate_agree_without_overflow(a, n, acc_bits, data):
    w = data.draw(hnp.arrays(np.int64, (a.shape[1], n), elements=st.integers(-(2**15), 2**15)))
    wrap, wrapped = R.int_gemm(a, w, acc_bits, "wrap", return_overflow=True)
    sat, clamped = R.int_gemm(a, w, acc_bits, "saturate", return_overflow=True)
    exact = a @ w
    if clamped == 0:
        assert np.array_equal(sat, wrap)
        assert np.array_equal(sat, exact)
    if wrapped == 0:
        assert np.array_equal(wrap, exact)
    assert wrapped <= clamped  # a final overflow implies some partial sum was clamped


def conv_oracle(x, w, stride, pads, dil, groups):
    n, c, h, wd = x.shape
    o, ci, kh, kw = w.shape
    top, left, bottom, right = pads
    oh = (h + top + bottom - (kh - 1) * dil[0] - 1) // stride[0] + 1
    ow = (wd + left + right - (kw - 1) * dil[1] - 1) // stride[1] + 1
    og = o // groups
    out = np.zeros((n, o, oh, ow), dtype=object)
    for b in range(n):
        for oc in range(o):
            g = oc // og
            for y in range(oh):
                for xx in range(ow):
                    s = 0
                    for cc in range(ci):
                        for i in range(kh):
                            for j in range(kw):
                                r = y * stride[0] - top + i * dil[0]
                                q = xx * stride[1] - left + j * dil[1]
                                if 0 <= r < h and 0 <= q < wd:
                                    s += int(x[b, g * ci + cc, r, q]) * int(w[oc, cc, i, j])
                    out[b, oc, y, xx] = s
    return out


@pytest.mark.parametrize(
    "stride,pads,dil,groups",
    [
        ((1, 1), (0, 0, 0, 0), (1, 1), 1),
        ((2, 1), (1, 2, 0, 1), (1, 2), 2),
        ((1, 3), (2, 2, 2, 2), (2, 1), 4),
    ],
)
def test_int_conv2d_matches_oracle(stride, pads, dil, groups):
    rng = np.random.default_rng(groups)
    x = rng.integers(-128, 128, (2, 4, 7, 8)).astype(np.int8)
    w = rng.integers(-128, 128, (8, 4 // groups, 3, 2)).astype(np.int8)
    got = R.int_conv2d(x, w, stride, pads, dil, groups)
    assert got.tolist() == conv_oracle(x, w, stride, pads, dil, groups).tolist()
    small, bad = R.int_conv2d(x, w, stride, pads, dil, groups, acc_bits=12, return_overflow=True)
    exact = conv_oracle(x, w, stride, pads, dil, groups)
    assert bad == sum(1 for v in exact.reshape(-1) if not -2048 <= v <= 2047)
    assert small.reshape(-1).tolist() == [((v + 2048) % 4096) - 2048 for v in exact.reshape(-1)]


def test_bad_input_raises_value_error():
    a = np.zeros((2, 3), np.int8)
    with pytest.raises(ValueError, match="do not chain"):
        R.int_gemm(a, np.zeros((4, 2), np.int8))
    with pytest.raises(ValueError, match="acc_bits"):
        R.int_gemm(a, np.zeros((3, 2), np.int8), acc_bits=65)
    with pytest.raises(ValueError, match="acc_bits"):
        R.int_gemm(a, np.zeros((3, 2), np.int8), acc_bits=0)
    with pytest.raises(ValueError, match="overflow"):
        R.int_gemm(a, np.zeros((3, 2), np.int8), overflow="clip")
    with pytest.raises(ValueError, match="integer"):
        R.int_gemm(a.astype(np.float32), np.zeros((3, 2), np.int8))
    with pytest.raises(ValueError, match="2-D"):
        R.int_gemm(np.zeros(3, np.int8), np.zeros((3, 2), np.int8))
    with pytest.raises(ValueError, match="int64"):
        R.int_gemm(np.array([[2**40]]), np.array([[2**40]]))
    x = np.zeros((1, 4, 5, 5), np.int8)
    with pytest.raises(ValueError, match="groups"):
        R.int_conv2d(x, np.zeros((3, 2, 3, 3), np.int8), groups=2)
    with pytest.raises(ValueError, match="input channels per group"):
        R.int_conv2d(x, np.zeros((4, 3, 3, 3), np.int8))
    with pytest.raises(ValueError, match="larger than the padded input"):
        R.int_conv2d(x, np.zeros((4, 4, 7, 7), np.int8))


def test_bias_is_the_accumulators_first_term():
    """A 4-bit accumulator holds -8..7. Inputs [1, -1] times weights [1, 1]: products +1, -1.

    bias 7: wrap gives the exact 7 + 1 - 1 = 7, no overflow; saturate starts at 7, 7 + 1
    clamps to 7 (one saturated output), then 7 - 1 = 6. bias 8 does not fit: wrap gives
    8 - 16 = -8 (one overflow); saturate starts from 8 clamped to 7, then 7, 6 (one).
    bias -3 with weights [3, 3]: exact -3 + 3 - 3 = -3, nothing clamped either way."""
    a = np.array([[1, -1]], np.int8)
    w = np.array([[1, 1, 3], [1, 1, 3]], np.int8)
    bias = np.array([7, 8, -3])
    y, bad = R.int_gemm(a, w, 4, "wrap", return_overflow=True, bias=bias)
    assert y.tolist() == [[7, -8, -3]] and bad == 1
    y, bad = R.int_gemm(a, w, 4, "saturate", return_overflow=True, bias=bias)
    assert y.tolist() == [[6, 6, -3]] and bad == 2
    # conv: per output channel, exact with a wide accumulator (numpy int64 as the oracle)
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (2, 4, 5, 5))
    wc = rng.integers(-128, 128, (6, 2, 3, 3))
    b = rng.integers(-(2**20), 2**20, 6)
    y = R.int_conv2d(x, wc, 1, 1, 1, 2, 32, bias=b)
    assert np.array_equal(y, R.int_conv2d(x, wc, 1, 1, 1, 2, 32) + b[None, :, None, None])
    with pytest.raises(ValueError, match=r"bias must have one value per output column"):
        R.int_gemm(a, w, 4, bias=[1, 2])


def test_products_are_bounded_per_reduction_index():
    """inputs [1, 2^31] and weights [2^40, 1]: the largest product is 2^40, not the
    2^31 x 2^40 of the two largest operands, so the exact sum 2^40 + 2^31 fits int64 and is
    computed, not refused."""
    a = np.array([[1, 2**31]], np.int64)
    w = np.array([[2**40], [1]], np.int64)
    assert R.int_gemm(a, w, 64).tolist() == [[2**40 + 2**31]]
    with pytest.raises(ValueError, match="do not fit int64"):
        R.int_gemm(np.array([[2**31]]), np.array([[2**32]]), 64)


def test_timedelta_arrays_are_not_integers():
    """numpy counts timedelta64 as a signed integer type; the reference refuses it with a
    ValueError (a duration is not an integer code) instead of a TypeError or an answer."""
    td = np.ones((2, 2), "m8[s]")
    i8 = np.ones((2, 2), np.int8)
    for call in (
        lambda: R.int_gemm(td, i8),
        lambda: R.int_conv2d(td[None, None], i8[None, None]),
        lambda: R.matmul_integer(td, i8),
        lambda: R.requantize(td, 0.5),
        lambda: R.quantize(td, 0.5),
        lambda: R.requantize_fixed(td, 2**30, 0),
    ):
        with pytest.raises(ValueError, match=r"must (be an integer|hold)"):
            call()
