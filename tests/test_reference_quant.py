"""accelsim.reference quantize / dequantize / requantize against plain-Python oracles.

The oracles use Python integers and ``fractions.Fraction`` (exact), plus numpy float32
scalar division where the semantics say "divide in float32" (IEEE, correctly rounded).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from conftest import splitmix64_stream

import accelsim.reference as R


def round_oracle(v: Fraction, mode: str, u: Fraction | None = None) -> int:
    f = math.floor(v)
    frac = v - f
    half = Fraction(1, 2)
    if mode == "half_even":
        return f + (frac > half or (frac == half and f % 2 == 1))
    if mode == "half_away":
        return f + (frac > half or (frac == half and v > 0))
    if mode == "half_up":
        return f + (frac >= half)
    if mode == "floor":
        return f
    if mode == "ceil":
        return f + (frac > 0)
    if mode == "toward_zero":
        return f + (frac > 0 and v < 0)
    if mode == "stochastic":
        return f + (u < frac)
    raise AssertionError(mode)


def quantize_oracle(x, scale, zp, bits, signed, mode, seed=0, f32=True):
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    out = []
    stream = splitmix64_stream(seed, len(x)) if mode == "stochastic" else [0] * len(x)
    for i, xi in enumerate(x):
        ftype = np.float32 if f32 else np.float64
        with np.errstate(over="ignore"):
            q = ftype(xi) / ftype(scale)
        if math.isinf(q):
            r = hi - zp if q > 0 else lo - zp
        else:
            r = round_oracle(Fraction(float(q)), mode, Fraction(stream[i] >> 11, 2**53))
        out.append(min(max(r + zp, lo), hi))
    return out


# --------------------------------------------------------------------------- rounding

TIES = [-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5]
EXPECTED_TIES = {
    "half_even": [-4, -2, -2, 0, 0, 2, 2, 4],
    "half_away": [-4, -3, -2, -1, 1, 2, 3, 4],
    "half_up": [-3, -2, -1, 0, 1, 2, 3, 4],
    "floor": [-4, -3, -2, -1, 0, 1, 2, 3],
    "ceil": [-3, -2, -1, 0, 1, 2, 3, 4],
    "toward_zero": [-3, -2, -1, 0, 0, 1, 2, 3],
}


@pytest.mark.parametrize("mode", sorted(EXPECTED_TIES))
def test_ties_for_every_rounding_mode(mode):
    x = np.array(TIES, np.float32)
    got = R.quantize(x, np.float32(1.0), 0, bits=8, rounding=mode)
    assert got.tolist() == EXPECTED_TIES[mode]
    assert got.tolist() == quantize_oracle(TIES, 1.0, 0, 8, True, mode)


def test_just_below_half_is_not_a_tie():
    # 0.49999997 + 0.5 rounds to 1.0 in float32: a naive floor(v + 0.5) gets it wrong
    x = np.array([np.nextafter(np.float32(0.5), np.float32(0)), -0.49999997], np.float32)
    for mode in ("half_away", "half_up", "half_even"):
        assert R.quantize(x, np.float32(1.0), 0, rounding=mode).tolist() == [0, 0]


@pytest.mark.parametrize("mode", R.ROUNDING_MODES)
@pytest.mark.parametrize("bits,signed", [(1, False), (1, True), (3, True), (8, False), (12, True)])
def test_quantize_matches_oracle(mode, bits, signed):
    rng = np.random.default_rng(bits * 7 + signed)
    lo, hi = R.int_range(bits, signed)
    scale = np.float32(rng.uniform(0.01, 1.0))
    zp = int(rng.integers(lo, hi + 1))
    x = (rng.uniform(lo - 3, hi + 3, 200) * scale).astype(np.float32)
    x[:4] = [np.inf, -np.inf, 1e38, -1e38]
    got = R.quantize(x, scale, zp, bits=bits, signed=signed, rounding=mode, seed=5)
    assert got.dtype == R.storage_dtype(bits, signed)
    assert got.tolist() == quantize_oracle(x.tolist(), scale, zp, bits, signed, mode, seed=5)


def test_quantize_float64_divides_in_float64():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 50, 300)
    scale = 0.37
    got = R.quantize(x, scale, 3, bits=8, signed=True, rounding="half_even")
    assert got.tolist() == quantize_oracle(x.tolist(), scale, 3, 8, True, "half_even", f32=False)


@pytest.mark.parametrize("bits,signed", [(32, True), (32, False), (31, True), (24, False)])
def test_quantize_wide_codes(bits, signed):
    lo, hi = R.int_range(bits, signed)
    x = np.array([lo - 10.0, hi + 10.0, lo, hi, 0.0, -1.5, 1.5, 2.0**30 + 0.5], np.float64)
    got = R.quantize(x, 1.0, 0, bits=bits, signed=signed)
    assert got.tolist() == quantize_oracle(x.tolist(), 1.0, 0, bits, signed, "half_even", f32=False)


def test_per_channel_quantize_matches_oracle():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 3, (2, 3, 4)).astype(np.float32)
    scales = np.array([0.1, 0.5, 2.0], np.float32)
    zps = np.array([-3, 0, 7])
    got = R.quantize(x, scales, zps, bits=6, signed=True, axis=1)
    for c in range(3):
        expect = quantize_oracle(
            x[:, c].reshape(-1).tolist(), scales[c], zps[c], 6, True, "half_even"
        )
        assert got[:, c].reshape(-1).tolist() == expect


def test_stochastic_rounding_is_counter_based_and_unbiased():
    x = np.full(20000, 0.25, np.float32)
    a = R.quantize(x, np.float32(1.0), 0, rounding="stochastic", seed=11)
    b = R.quantize(x, np.float32(1.0), 0, rounding="stochastic", seed=11)
    c = R.quantize(x, np.float32(1.0), 0, rounding="stochastic", seed=12)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(a).tolist()) == {0, 1}
    assert abs(a.mean() - 0.25) < 0.02
    # element i depends only on (seed, i): a slice of a larger tensor keeps its values
    sub = R.quantize(x.reshape(100, 200), np.float32(1.0), 0, rounding="stochastic", seed=11)
    assert np.array_equal(sub.reshape(-1), a)
    # and equals the oracle built on the sequential SplitMix64 stream
    stream = splitmix64_stream(11, 50)
    assert a[:50].tolist() == [int((h >> 11) < 2**51) for h in stream]  # u < 1/4


# --------------------------------------------------------------------------- dequantize


def test_dequantize_matches_oracle():
    rng = np.random.default_rng(5)
    q = rng.integers(-128, 128, 500).astype(np.int8)
    q[:2] = [-128, 127]
    scale = np.float32(0.0371)
    got = R.dequantize(q, scale, -5)
    assert got.dtype == np.float32
    expect = [np.float32(np.float32(int(v) + 5) * scale) for v in q]
    assert got.tolist() == expect
    got64 = R.dequantize(q, 0.0371, -5)
    assert got64.dtype == np.float64
    assert got64.tolist() == [float(int(v) + 5) * 0.0371 for v in q]


def test_dequantize_int32_extremes_exact_difference():
    q = np.array([-(2**31), 2**31 - 1], np.int32)
    got = R.dequantize(q, np.float64(1.0), 0)
    assert got.tolist() == [-(2.0**31), 2.0**31 - 1]


# --------------------------------------------------------------------------- requantize


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_requantize_float_scale_matches_oracle(precision):
    rng = np.random.default_rng(6)
    acc = rng.integers(-(2**31), 2**31, 400)
    acc[:3] = [-(2**31), 2**31 - 1, 0]
    scale = np.float32(rng.uniform(1e-6, 1e-3))
    got = R.requantize(acc, scale, 10, bits=8, signed=True, precision=precision)
    ftype = np.float32 if precision == "float32" else np.float64
    expect = []
    for a in acc.tolist():
        v = ftype(a) * ftype(scale)  # numpy: int -> float rounds to nearest even
        expect.append(min(max(round_oracle(Fraction(float(v)), "half_even") + 10, -128), 127))
    assert got.tolist() == expect


def srdhm_oracle(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    ab = a * b
    t = ab + (2**30 if ab >= 0 else 1 - 2**30)
    q = abs(t) // 2**31
    return q if t >= 0 else -q


def rdbpot_oracle(x: int, e: int) -> int:
    # nearest, ties away from zero (Fraction based, independent of the bit trick)
    return round_oracle(Fraction(x, 2**e), "half_away")


def mbqm_oracle(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    xs = ((x << left) + 2**31) % 2**32 - 2**31
    return rdbpot_oracle(srdhm_oracle(xs, m), right)


def test_srdhm_edge_values():
    lo, hi = -(2**31), 2**31 - 1
    pairs = [(lo, lo), (lo, hi), (hi, hi), (lo, 1), (hi, lo), (0, lo), (-1, -1), (1, 1)]
    pairs += [(2**30, 2**30), (-(2**30), 2**30), (12345, -67890), (-3, 2**31 - 1)]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    got = R.saturating_rounding_doubling_high_mul(a, b)
    assert got.dtype == np.int32
    assert got.tolist() == [srdhm_oracle(x, y) for x, y in pairs]
    assert got[0] == hi  # INT32_MIN * INT32_MIN saturates


def test_rounding_divide_by_pot_matches_oracle():
    rng = np.random.default_rng(7)
    x = rng.integers(-(2**31), 2**31, 300)
    x[:6] = [-(2**31), 2**31 - 1, -1, 1, -6, 6]
    e = rng.integers(0, 32, 300)
    e[:6] = [31, 31, 1, 1, 2, 2]
    got = R.rounding_divide_by_pot(x, e)
    assert got.tolist() == [rdbpot_oracle(int(a), int(b)) for a, b in zip(x, e, strict=True)]
    # ties go away from zero
    assert R.rounding_divide_by_pot(np.array([-6, 6, -2, 2]), 2).tolist() == [-2, 2, -1, 1]


def test_quantize_multiplier_known_values():
    assert R.quantize_multiplier(0.5) == (2**30, 0)
    assert R.quantize_multiplier(1.0) == (2**30, 1)
    assert R.quantize_multiplier(0.25) == (2**30, -1)
    assert R.quantize_multiplier(0.0) == (0, 0)
    assert R.quantize_multiplier(1e-12) == (0, 0)  # flushed: shift < -31
    # rounding up to 2**31 renormalises
    assert R.quantize_multiplier(1.0 - 2.0**-40) == (2**30, 1)
    rng = np.random.default_rng(8)
    for real in rng.uniform(1e-6, 4.0, 200):
        m, s = R.quantize_multiplier(float(real))
        assert 2**30 <= m < 2**31
        assert abs(m * 2.0 ** (s - 31) - real) <= 2.0 ** (s - 32)


def test_multiply_by_quantized_multiplier_matches_oracle():
    rng = np.random.default_rng(9)
    x = rng.integers(-(2**31), 2**31, 400)
    x[:3] = [-(2**31), 2**31 - 1, 0]
    reals = rng.uniform(1e-5, 2.0, 400)
    ms, ss = zip(*(R.quantize_multiplier(float(r)) for r in reals), strict=True)
    got = R.multiply_by_quantized_multiplier(x, np.array(ms), np.array(ss))
    expect = [mbqm_oracle(int(a), m, s) for a, m, s in zip(x, ms, ss, strict=True)]
    assert got.tolist() == expect


def test_requantize_fixed_per_channel_matches_oracle():
    rng = np.random.default_rng(10)
    acc = rng.integers(-(2**20), 2**20, (4, 3))
    acc[0, 0] = -(2**31)
    mults, shifts = zip(*(R.quantize_multiplier(r) for r in (0.003, 0.0007, 0.02)), strict=True)
    got = R.requantize_fixed(
        acc, np.array(mults), np.array(shifts), [1, -2, 0], bits=8, signed=True, axis=1
    )
    zps = [1, -2, 0]
    for i in range(4):
        for c in range(3):
            v = mbqm_oracle(int(acc[i, c]), mults[c], shifts[c]) + zps[c]
            assert got[i, c] == min(max(v, -128), 127)


# --------------------------------------------------------------------------- bad input


def test_bad_input_raises_value_error():
    x = np.zeros(4, np.float32)
    for bits in (0, 33, -1, 2.0, True):
        with pytest.raises(ValueError, match="bits"):
            R.quantize(x, 1.0, bits=bits)
    for scale in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="finite and > 0"):
            R.quantize(x, scale)
        with pytest.raises(ValueError, match="finite and > 0"):
            R.dequantize(np.zeros(4, np.int8), scale)
        with pytest.raises(ValueError, match="finite and > 0"):
            R.requantize(np.zeros(4, np.int32), scale)
    with pytest.raises(ValueError, match="outside the quantized range"):
        R.quantize(x, 1.0, 128, bits=8, signed=True)
    with pytest.raises(ValueError, match="outside the quantized range"):
        R.quantize(x, 1.0, -1, bits=8, signed=False)
    with pytest.raises(ValueError, match="outside the quantized range"):
        R.dequantize(np.zeros(2, np.int8), 1.0, 200)
    with pytest.raises(ValueError, match="rounding"):
        R.quantize(x, 1.0, rounding="nearest")
    with pytest.raises(ValueError, match="seed"):
        R.quantize(x, 1.0, rounding="stochastic")
    with pytest.raises(ValueError, match="seed"):
        R.quantize(x, 1.0, rounding="stochastic", seed=-1)
    with pytest.raises(ValueError, match="NaN"):
        R.quantize(np.array([np.nan]), 1.0)
    with pytest.raises(ValueError, match="per-channel"):
        R.quantize(np.zeros((2, 3)), [1.0, 2.0], axis=1)
    with pytest.raises(ValueError, match="axis is None"):
        R.quantize(np.zeros((2, 3)), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="int32"):
        R.requantize_fixed(np.array([2**31]), 2**30, 0)
    with pytest.raises(ValueError, match="shift"):
        R.requantize_fixed(np.array([1]), 2**30, 31)
    with pytest.raises(ValueError, match="exponent"):
        R.rounding_divide_by_pot(np.array([1]), 32)
    with pytest.raises(ValueError, match="real_multiplier"):
        R.quantize_multiplier(-0.5)
    with pytest.raises(ValueError, match="precision"):
        R.requantize(np.zeros(2, np.int32), 0.1, precision="float16")
