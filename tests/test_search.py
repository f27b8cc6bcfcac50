"""The HAQ-compatible environment, the budget rule, the searches and the accuracy side
(issue 10). HAQ's behaviour is from its released code, mit-han-lab/haq
``lib/env/linear_quantize_env.py`` (``_action_wall``, ``_final_action_wall``,
``_build_state_embedding``, ``reward``) and ``lib/utils/utils.py`` (``measure_layer``)."""

import numpy as np
import pytest
from conftest import ROOT

import accelsim
from accelsim import ConfigError
from accelsim.oracle import CostOracle
from accelsim.search import (
    BudgetRule,
    DigitsMLP,
    HAQEnv,
    action_to_bits,
    evolutionary_search,
    greedy_search,
    layer_features,
    pareto_front,
    state_embedding,
)

DIGITS = accelsim.load_workload(ROOT / "workloads" / "digits_mlp.yaml")


@pytest.fixture(scope="module")
def fusion():
    return CostOracle(accelsim.load_arch(ROOT / "arch_configs" / "bitfusion.yaml"), DIGITS)


@pytest.fixture(scope="module")
def serial():
    return CostOracle(accelsim.load_arch(ROOT / "arch_configs" / "unpu.yaml"), DIGITS)


@pytest.fixture(scope="module")
def net():
    return DigitsMLP()


def bits_lost(strategy):
    """A hand-made accuracy for search tests: 100 minus one point per bit removed below
    8/8 in every layer, two per weight bit of the middle layer (so the searches have
    something to trade)."""
    lost = sum((8 - w) + (8 - a) for w, a in strategy) + (8 - strategy[2][0])
    return 100.0 - lost


def test_action_to_bits_is_haqs_action_wall():
    """round((max - min + 1) a + min - 0.5), numpy's half-to-even rounding: with bits 2..8,
    a = 0 -> round(1.5) = 2, a = 1 -> round(8.5) = 8, a = 0.5 -> 5.0 -> 5,
    a = 3/7 -> 4.5 -> 4 (half to even); with bits 1..8, a = 0 -> round(0.5) = 0 in HAQ,
    clipped to 1 here."""
    assert [action_to_bits(a, 2, 8) for a in (0.0, 1.0, 0.5, 3 / 7)] == [2, 8, 5, 4]
    assert action_to_bits(np.array([0.999]), 2, 8) == 8
    assert action_to_bits(0.0, 1, 8) == 1
    for bad in (1.5, -0.1, np.array([0.2, 0.3]), "x"):
        with pytest.raises(ConfigError, match=r"action: an action is one number in \[0, 1\]"):
            action_to_bits(bad, 2, 8)


def test_state_rows_follow_haqs_embedding():
    """Conv rows as HAQ's (depthwise flag, in, out, stride, kernel, weight count, input
    feature-map size, index, previous action, flag); linear rows as HAQ's nn.Linear with
    measure_layer's in_h = in_features, in_w = 1."""
    r50 = accelsim.load_workload(ROOT / "workloads" / "resnet50.yaml")
    assert layer_features(r50.layer("conv1"), 0) == [0.0, 3, 64, 2, 7, 64 * 3 * 49, 224 * 224, 0, 1.0, 1.0]  # fmt: skip
    assert layer_features(r50.layer("fc"), 53) == [0.0, 2048, 1000, 0.0, 1.0, 2048000, 2048, 53, 1.0, 1.0]  # fmt: skip
    mbv2 = accelsim.load_workload(ROOT / "workloads" / "mobilenet_v2.yaml")
    assert layer_features(mbv2.layer("block1.dw"), 1)[:6] == [1.0, 32, 32, 1, 3, 32 * 9]
    emb = state_embedding([la for la in DIGITS.layers])
    # in-features 64, 96, 96, 64, 32 -> (x - 32) / 64; constant columns stay as they are
    assert emb[:, 1].tolist() == [0.5, 1.0, 1.0, 0.5, 0.0]
    assert emb[:, 7].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert emb[:, 0].tolist() == [0.0] * 5 and emb[:, 4].tolist() == [1.0] * 5
    assert emb[:, 8].tolist() == [1.0] * 5 and emb[:, 9].tolist() == [1.0] * 5


def _haq_final_action_wall(table, fixed, strategy, target, min_bit):
    """HAQ's ``_final_action_wall`` transcribed on a table (its _cur_cost) plus the cost
    outside the table, with the first layer's activations at 8 (not -1, see search.py)."""

    def cur():
        return sum(table[i, w - 1, a - 1] for i, (w, a) in enumerate(strategy)) + fixed

    def keep():
        strategy[0][0], strategy[0][1] = 8, 8
        strategy[-1][0], strategy[-1][1] = 8, 8

    keep()  # here the pins hold for every strategy
    while target < cur():
        before = [list(p) for p in strategy]
        for i, n_bit in enumerate(reversed(strategy)):
            if n_bit[1] > min_bit:
                strategy[-(i + 1)][1] -= 1
            keep()
            if target >= cur():
                break
            if n_bit[0] > min_bit:
                strategy[-(i + 1)][0] -= 1
            keep()
            if target >= cur():
                break
        if strategy == before:
            break
    return strategy


@pytest.mark.parametrize("metric", ["latency", "energy"])
def test_budget_rule_is_haqs_walk(fusion, metric):
    rule = BudgetRule(fusion, metric, budget_ratio=0.7)
    table, fixed = (
        fusion.lut(metric),
        fusion.fixed_cost()[f"{metric}_{'s' if metric == 'latency' else 'pj'}"],
    )
    rng = np.random.default_rng(1)
    for _ in range(5):
        start = rng.integers(2, 9, size=(5, 2)).tolist()
        ours, within = rule.enforce(start)
        haq = _haq_final_action_wall(table, fixed, [list(p) for p in start], rule.budget, 2)
        assert ours == haq and within
        assert rule.cost(ours) <= rule.budget
    # the reference is HAQ's _org_cost: every layer at 8/8, here with the non-GEMM part
    assert rule.reference == getattr(
        fusion.cost([(8, 8)] * 5), "latency_s" if metric == "latency" else "energy_pj"
    )


def test_budget_errors(fusion):
    with pytest.raises(
        ConfigError,
        match=r"budget: below the cheapest assignment the rules allow \(bits 2\.\.8, first and last layers at 8\): .* of the 8/8 cost; found .*; allowed: >= ",
    ):
        BudgetRule(fusion, "latency", budget_ratio=0.3)
    with pytest.raises(ConfigError, match=r"budget: give exactly one of budget and budget_ratio"):
        BudgetRule(fusion, "latency")
    with pytest.raises(ConfigError, match=r"metric: unknown metric; found 'edp'"):
        BudgetRule(fusion, "edp", budget_ratio=0.9)
    with pytest.raises(ConfigError, match=r"bits: bit-widths outside the table"):
        BudgetRule(fusion, "latency", budget_ratio=0.9, min_bits=0)
    rule = BudgetRule(fusion, "latency", budget_ratio=0.45, keep_first_last=False)
    assert rule.free == [0, 1, 2, 3, 4]  # without the pins 45 % is reachable (not 30 %)
    cheapest = fusion.cost(rule.cheapest).latency_s
    assert cheapest == min(
        fusion.cost([(w, a)] * 5).latency_s for w in range(2, 9) for a in range(2, 9)
    )


def test_env_episode(serial):
    """Ten actions (weight, activation per layer); the observation carries the layer's
    state, the previous action's bits / 8 and the flag of the next action; the episode ends
    with HAQ's budget rule and reward (acc - org_acc) * 0.1."""
    env = HAQEnv(serial, metric="latency", budget_ratio=0.8, accuracy=bits_lost)
    assert env.reference_accuracy == 100.0
    obs = env.reset()
    assert obs.shape == (10,) and obs[-2] == 1.0 and obs[-1] == 1.0
    actions = [0.0, 1.0, 0.5, 0.5, 0.2, 0.9, 1.0, 0.0, 0.6, 0.6]
    for step, action in enumerate(actions[:-1]):
        obs, reward, done, info = env.step(action)
        assert not done and reward == 0.0 and info == {}
        assert obs[-2] == action_to_bits(action, 2, 8) / 8
        assert obs[-1] == (1.0 if step % 2 else 0.0)  # weight bits next after an activation's
        assert (obs[:-2] == env.embedding[(step + 1) // 2, :-2]).all()
    obs, reward, done, info = env.step(actions[-1])
    assert done
    assert info["chosen"] == [[2, 8], [5, 5], [3, 8], [8, 2], [6, 6]]
    assert info["strategy"][0] == [8, 8] and info["strategy"][-1] == [8, 8]
    assert info["within_budget"] and info["cost"] <= env.rule.budget
    assert info["cost"] == serial.cost(info["strategy"]).latency_s
    assert reward == pytest.approx((bits_lost(info["strategy"]) - 100.0) * 0.1)
    with pytest.raises(ConfigError, match=r"step: the episode is over; call reset\(\) first"):
        env.step(0.5)
    assert env.reset()[-1] == 1.0 and env.strategy == []


def test_digits_mlp_inference_is_the_documented_recipe(net):
    """The reference path equals the recipe in plain numpy (rint = half to even, clip to the
    code range, the per-channel clip ratio with the least squared error, exact integer
    GEMM); 8/8 keeps the float accuracy within a point."""
    strategy = [[8, 8], [4, 6], [3, 5], [5, 3], [8, 8]]
    x = net.splits["test"][0][:50]
    h = x
    for i, ((w, b), (wb, ab)) in enumerate(zip(net.params, strategy)):
        s_a = net.ranges[i] / (2**ab - 1)
        qa = np.clip(np.rint(h / s_a), 0, 2**ab - 1).astype(np.int64)
        qmax = 2 ** (wb - 1) - 1
        s_w, best = None, None
        for r in np.linspace(0.3, 1.0, 15):  # clip ratio with the least squared error
            s = np.abs(w).max(axis=0) * r / qmax
            err = ((np.clip(np.rint(w / s), -qmax - 1, qmax) * s - w) ** 2).sum(axis=0)
            if best is None:
                s_w, best = s, err
            else:  # strictly better only: the first (smallest) ratio wins ties, as argmin
                s_w, best = np.where(err < best, s, s_w), np.minimum(err, best)
        qw = np.clip(np.rint(w / s_w), -qmax - 1, qmax).astype(np.int64)
        h = (qa @ qw) * (s_a * s_w)[None, :] + b
        h = np.maximum(h, 0) if i < 4 else h
    assert np.allclose(net.logits(strategy, x), h, rtol=1e-12, atol=1e-9)
    assert abs(net.accuracy([[8, 8]] * 5, "test") - net.float_accuracy("test")) <= 1.0
    assert net.float_accuracy("test") > 95.0
    assert net.accuracy([[2, 2]] * 5, "test") < net.accuracy([[6, 6]] * 5, "test")
    with pytest.raises(
        ConfigError, match=r"strategy\.1: signed symmetric weights need w_bits >= 2; found \[1, 8\]"
    ):
        net.accuracy([[8, 8], [1, 8], [8, 8], [8, 8], [8, 8]])
    with pytest.raises(ConfigError, match=r"strategy: one \[w_bits, a_bits\] pair per layer"):
        net.accuracy([[8, 8]])


def test_greedy_search_meets_the_budget(fusion):
    rule = BudgetRule(fusion, "energy", budget_ratio=0.75)
    result = greedy_search(rule, bits_lost)
    assert result.within_budget and result.cost <= rule.budget
    assert result.cost == fusion.cost(result.strategy).energy_pj
    assert result.accuracy == bits_lost(result.strategy)
    assert result.strategy[0] == [8, 8] and result.strategy[-1] == [8, 8]
    # its first move, by hand: the one-bit step with the least accuracy loss per pJ saved
    top = rule.cost([[8, 8]] * 5)
    moves = []
    for i in (1, 2, 3):
        for operand in (0, 1):
            t = [[8, 8] for _ in range(5)]
            t[i][operand] = 7
            saved = top - rule.cost(t)
            moves.append(((100.0 - bits_lost(t)) / saved, -saved, t))
    first = min(moves)[2]
    # greedy only lowers bits: the result is at or below the first move everywhere
    assert all(r <= f for rp, fp in zip(result.strategy, first) for r, f in zip(rp, fp))
    assert result.history[0][0] == [[8, 8]] * 5


def test_evolutionary_search_is_seeded_and_beats_the_plain_rule(serial):
    rule = BudgetRule(serial, "latency", budget_ratio=0.7)
    first = evolutionary_search(rule, bits_lost, population=8, generations=4, seed=3)
    again = evolutionary_search(rule, bits_lost, population=8, generations=4, seed=3)
    assert first.strategy == again.strategy and first.accuracy == again.accuracy
    assert first.within_budget and first.cost <= rule.budget
    plain, _ = rule.enforce([[8, 8]] * 5)  # HAQ's rule applied to 8/8 is in the population
    assert first.accuracy >= bits_lost(plain)
    assert all(c <= rule.budget for _, _, c in first.history)


def test_pareto_front():
    points = [(90, 5.0), (80, 3.0), (85, 4.0), (70, 3.5), (95, 9.0), (88, 6.0)]
    assert pareto_front(points) == [1, 2, 0, 4]
