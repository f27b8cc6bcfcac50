"""Hiddenite weight generation, supermasks and the generated-weight layer."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import splitmix64_stream

import accelsim.reference as R


def test_known_splitmix64_outputs():
    # first outputs of SplitMix64 seeded with 1234567 (Vigna's reference C code)
    assert splitmix64_stream(1234567, 3) == [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
    ]


@pytest.mark.parametrize("seed", [0, 1, 2**64 - 1, 123456789])
def test_generated_weights_match_the_documented_generator(seed):
    stream = splitmix64_stream(seed, 60)
    pm1 = R.generate_weights(seed, (6, 10), "pm1")
    assert pm1.dtype == np.int8
    assert pm1.reshape(-1).tolist() == [1 if h >> 63 else -1 for h in stream]
    for bits in (1, 4, 8, 32):
        w = R.generate_weights(seed, (60,), "int", bits=bits)
        assert w.tolist() == [(h >> (64 - bits)) - 2 ** (bits - 1) for h in stream]
    u = R.generate_weights(seed, (60,), "uniform", scale=0.5)
    assert u.tolist() == [(2 * ((h >> 11) / 2**53) - 1) * 0.5 for h in stream]
    scaled = R.generate_weights(seed, (6, 10), "pm1", scale=0.25)
    assert np.array_equal(scaled, pm1 * 0.25)


def test_generation_is_deterministic_and_seed_dependent():
    a = R.generate_weights(42, (64, 64))
    assert np.array_equal(a, R.generate_weights(42, (64, 64)))
    assert not np.array_equal(a, R.generate_weights(43, (64, 64)))
    assert abs(a.mean()) < 0.05
    w = R.generate_weights(42, (100000,), "int", bits=4)
    assert w.min() == -8 and w.max() == 7


def supermask_oracle(scores, density):
    flat = list(scores.reshape(-1))
    keep = int(np.floor(density * len(flat) + 0.5))
    order = sorted(range(len(flat)), key=lambda i: (-flat[i], i))
    mask = [False] * len(flat)
    for i in order[:keep]:
        mask[i] = True
    return np.array(mask).reshape(scores.shape)


@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 0.5, 0.999, 1.0])
def test_supermask_keeps_the_top_fraction(density):
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 20, (7, 9)).astype(np.float64)  # many ties
    mask = R.supermask(scores, density)
    assert mask.dtype == np.bool_
    assert np.array_equal(mask, supermask_oracle(scores, density))
    assert mask.sum() == R.supermask_count(63, density)
    int_scores = rng.integers(-(2**62), 2**62, (5, 5))
    assert np.array_equal(R.supermask(int_scores, density), supermask_oracle(int_scores, density))


@pytest.mark.parametrize("kind,bits", [("pm1", 8), ("int", 3), ("int", 8)])
@pytest.mark.parametrize("overflow,acc_bits", [("wrap", 32), ("wrap", 10), ("saturate", 10)])
def test_hidden_layer_equals_dense_with_generated_masked_weights(kind, bits, overflow, acc_bits):
    rng = np.random.default_rng(bits)
    x = rng.integers(-128, 128, (9, 150))
    mask = R.supermask(rng.random((150, 70)), 0.4)
    dense = R.generate_weights(99, mask.shape, kind, bits=bits) * mask
    got = R.hidden_layer_forward(x, 99, mask, kind, bits=bits, acc_bits=acc_bits, overflow=overflow)
    assert np.array_equal(got, R.int_gemm(x, dense, acc_bits, overflow))


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="seed"):
        R.generate_weights(-1, (2, 2))
    with pytest.raises(ValueError, match="seed"):
        R.generate_weights(2**64, (2, 2))
    with pytest.raises(ValueError, match="kind"):
        R.generate_weights(1, (2, 2), "gauss")
    with pytest.raises(ValueError, match="scale"):
        R.generate_weights(1, (2, 2), "uniform", scale=0.0)
    with pytest.raises(ValueError, match="bits"):
        R.generate_weights(1, (2, 2), "int", bits=33)
    with pytest.raises(ValueError, match="density"):
        R.supermask(np.zeros(4), 1.5)
    with pytest.raises(ValueError, match="NaN"):
        R.supermask(np.array([np.nan, 1.0]), 0.5)
    with pytest.raises(ValueError, match="bool"):
        R.hidden_layer_forward(np.zeros((2, 3), np.int8), 1, np.ones((3, 2)))
    with pytest.raises(ValueError, match="do not chain"):
        R.hidden_layer_forward(np.zeros((2, 3), np.int8), 1, np.ones((4, 2), bool))
    with pytest.raises(ValueError, match="integers"):
        R.hidden_layer_forward(np.zeros((2, 3), np.int8), 1, np.ones((3, 2), bool), "uniform")
