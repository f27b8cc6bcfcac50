"""Mixed-precision search with hardware costs in the loop (HAQ-style), on `CostOracle`.

* `HAQEnv`: the environment of HAQ's released code (Wang et al., CVPR 2019;
  mit-han-lab/haq ``lib/env/linear_quantize_env.py``), reimplemented on accelsim's costs so
  that any agent (HAQ's DDPG or another) can drive it through ``reset()`` / ``step(action)``;
  no RL framework is needed.
* `DigitsMLP`: the accuracy side — a small trained network (``workloads/digits_mlp*``) run
  at per-layer bit-widths through the bit-accurate reference (`accelsim.reference`).
* Two searches: `greedy_search` (HAQ-style budgeted baseline: lower one operand of one layer
  by one bit at a time, the move that loses the least accuracy per unit of cost saved,
  until the budget holds) and `evolutionary_search` (a genetic algorithm over per-layer
  bit-widths whose every candidate is brought under the budget by HAQ's rule).

A *strategy* is HAQ's: one ``[w_bits, a_bits]`` pair per GEMM layer in table order
(`CostOracle.names`).

What follows HAQ's code and where it differs
--------------------------------------------
State (``_build_state_embedding``): per layer ``[depthwise flag, in channels, out channels,
stride, kernel size, weight count, input feature-map size, layer index, previous action,
weight/activation flag]``, each column min-max normalised over the layers. A linear layer
is ``[0, in, out, 0, 1, in*out, in_features, i, ...]`` (HAQ's ``measure_layer`` sets a
linear layer's ``in_h`` to its input width and ``in_w`` to 1); accelsim's ``matmul`` (no
weights in HAQ's models) is described the same way from its GEMM view (k, n).

Action to bits (``_action_wall``): ``round((max - min + 1) a + min - 0.5)`` with numpy's
round-half-to-even, for ``a`` in [0, 1]. HAQ does not clip the result (with ``min_bit`` 1 an
action of 0 gives 0 bits, which its table reads at index -1, i.e. 8 bits); here it is
clipped to ``[min_bits, max_bits]``.

Budget (``_final_action_wall``): after the last action, while the strategy costs more than
the budget, walk the layers from the last to the first, lowering the activation bits, then
the weight bits, by one (not below ``min_bits``), stopping as soon as the cost fits. HAQ
keeps the first and last layers at 8 bits (``_keep_first_last_layer``) only while this loop
runs, and gives the first layer activation bits -1 (its input image is 8-bit), which its
table reads at index -2 (7 bits); here ``keep_first_last`` pins them for every strategy, the
first layer's activations at 8 bits. HAQ stops when its all-``min_bit`` cost (pinned layers
included) is reached and asserts at start-up that the budget is above it; here a budget
below the cheapest strategy the rules allow is a ConfigError, and a walk that ends with
every free operand at ``min_bits`` still over the budget (costs need not fall with bits on
every design) returns ``within_budget = False``.

Observation flag: HAQ's ``step`` writes the flag before flipping it, so after a weight
action its observation says 1.0 ("weight") although an activation action comes next; here
the flag is 1.0 exactly when the next action sets weight bits (as at ``reset``), 0.0 for
activation bits. The previous-action column is the last action's bits / ``max_bits``
(1.0 at reset), as in HAQ.

Cost and reward: the cost is the network's (`CostOracle.cost`, i.e. `simulate`'s total
latency or energy, non-GEMM layers included), not only the table's sum; the reward is HAQ's
``(accuracy - original accuracy) * 0.1`` at the end of an episode, 0 before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from accelsim.errors import ConfigError, Problem
from accelsim.oracle import CostOracle, check_bits
from accelsim.workload import pair

METRIC_FIELD = {"latency": "latency_s", "energy": "energy_pj"}
ROOT = Path(__file__).resolve().parent.parent
CLIP_RATIOS = np.linspace(0.3, 1.0, 15)  # weight clipping ratios DigitsMLP tries: 0.30, 0.35, ..


def _error(field_: str, message: str, found=None, allowed=None) -> ConfigError:
    return ConfigError(Problem("<python>", None, field_, message, found, allowed))


def layer_features(layer, index: int) -> list[float]:
    """HAQ's static state of one layer (before normalisation), from accelsim's workload."""
    spec = layer.spec
    if layer.type == "conv":
        (kh, kw), (sh, _) = pair(spec.kernel), pair(spec.stride)
        weights = spec.out_channels * spec.in_channels // spec.groups * kh * kw
        return [float(spec.in_channels == spec.groups), spec.in_channels, spec.out_channels,
                sh, kh, weights, spec.in_h * spec.in_w, index, 1.0, 1.0]  # fmt: skip
    # fc, and matmul by its GEMM view: HAQ's nn.Linear row
    return [0.0, layer.k, layer.n, 0.0, 1.0, layer.k * layer.n, layer.k, index, 1.0, 1.0]


def state_embedding(layers) -> np.ndarray:
    """``[layers, 10]``: HAQ's state rows, each column min-max normalised over the layers."""
    emb = np.array([layer_features(la, i) for i, la in enumerate(layers)], dtype=float)
    lo, hi = emb.min(axis=0), emb.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.where(hi > lo, (emb - lo) / span, emb)


def action_to_bits(action: float, min_bits: int, max_bits: int) -> int:
    """HAQ's ``_action_wall``: an action in [0, 1] to bits (clipped, see the module doc)."""
    try:
        a = np.asarray(action, dtype=float)
    except (TypeError, ValueError):
        a = np.array([np.nan, np.nan])
    if a.size != 1 or not 0.0 <= a.item() <= 1.0:
        raise _error("action", "an action is one number in [0, 1]", repr(action), "0.0 .. 1.0")
    a = a.item()
    bits = int(np.round((max_bits - min_bits + 1) * a + min_bits - 0.5))
    return min(max(bits, min_bits), max_bits)


class BudgetRule:
    """HAQ's budget enforcement over a `CostOracle` (module docstring, "Budget").

    ``budget`` is absolute (seconds for ``latency``, pJ for ``energy``) or, with
    ``budget_ratio``, a fraction of the cost with every layer at 8/8 (HAQ's
    ``compress_ratio * _org_cost()``).
    """

    def __init__(self, oracle: CostOracle, metric="latency", budget=None, budget_ratio=None,
                 min_bits=2, max_bits=8, keep_first_last=True):  # fmt: skip
        if metric not in METRIC_FIELD:
            raise _error("metric", "unknown metric", repr(metric), ", ".join(METRIC_FIELD))
        check_bits((min_bits, max_bits), "bits")
        if min_bits > max_bits:
            raise _error("min_bits", "above max_bits", repr(min_bits), f"<= {max_bits}")
        self.oracle, self.metric = oracle, metric
        self.min_bits, self.max_bits, self.keep_first_last = min_bits, max_bits, keep_first_last
        self.n = len(oracle.layers)
        pinned = (0, self.n - 1) if keep_first_last else ()
        self.free = [i for i in range(self.n) if i not in pinned]  # layers the rules may change
        self.reference = self.cost([[8, 8]] * self.n)  # HAQ's _org_cost at float_bit 8
        if (budget is None) == (budget_ratio is None):
            raise _error("budget", "give exactly one of budget and budget_ratio",
                         f"budget={budget!r}, budget_ratio={budget_ratio!r}")  # fmt: skip
        self.budget = budget if budget is not None else budget_ratio * self.reference
        self.cheapest = self._cheapest()
        cheapest = self.cost(self.cheapest)
        if not self.budget >= cheapest:
            unit = "s" if metric == "latency" else "pJ"
            raise _error(
                "budget",
                f"below the cheapest assignment the rules allow (bits {min_bits}..{max_bits}"
                f"{', first and last layers at 8' if keep_first_last else ''}): "
                f"{cheapest:.6g} {unit}, {cheapest / self.reference:.4f} of the 8/8 cost",
                f"{self.budget:.6g} {unit}",
                f">= {cheapest:.6g}",
            )

    def cost(self, strategy) -> float:
        return getattr(
            self.oracle.cost(np.asarray(strategy, dtype=np.int64)), METRIC_FIELD[self.metric]
        )

    def pin(self, strategy) -> list:
        """First and last layers at 8/8 (``keep_first_last``); a copy."""
        s = [[int(w), int(a)] for w, a in strategy]
        if self.keep_first_last:
            s[0], s[-1] = [8, 8], [8, 8]
        return s

    def _cheapest(self) -> list:
        """Per layer, the cheapest allowed pair: costs add up over layers."""
        lut = self.oracle.lut(self.metric)
        lo, hi = self.min_bits - 1, self.max_bits
        out = []
        for i in range(self.n):
            sub = lut[i, lo:hi, lo:hi]
            w, a = np.unravel_index(np.argmin(sub), sub.shape)
            out.append([int(w) + self.min_bits, int(a) + self.min_bits])
        return self.pin(out)

    def enforce(self, strategy) -> tuple[list, bool]:
        """HAQ's walk: ``(strategy under the budget, within_budget)``."""
        s = self.pin(strategy)
        while self.cost(s) > self.budget:
            before = [list(p) for p in s]
            for i in range(self.n - 1, -1, -1):
                fits = False
                for operand in (1, 0):  # activations first, then weights
                    if s[i][operand] > self.min_bits:
                        s[i][operand] -= 1
                    s = self.pin(s)
                    if self.cost(s) <= self.budget:
                        fits = True
                        break
                if fits:
                    break
            if s == before:  # every free operand at min_bits
                return s, False
        return s, True


class HAQEnv:
    """HAQ's ``LinearQuantizeEnv`` on accelsim costs: two actions per layer (weight bits,
    then activation bits), HAQ's state, budget rule and reward (module docstring).

    ``accuracy(strategy) -> float`` (percent, as HAQ's) gives the reward at the end of an
    episode; ``reference_accuracy`` is HAQ's ``org_acc`` (default: ``accuracy`` at 8/8).
    """

    def __init__(self, oracle: CostOracle, *, metric="latency", budget=None, budget_ratio=None,
                 min_bits=2, max_bits=8, keep_first_last=True, accuracy=None,
                 reference_accuracy=None):  # fmt: skip
        self.rule = BudgetRule(oracle, metric, budget, budget_ratio, min_bits, max_bits,
                               keep_first_last)  # fmt: skip
        self.oracle, self.accuracy = oracle, accuracy
        self.embedding = state_embedding(oracle.layers)
        self.n = len(oracle.layers)
        self.reference_accuracy = reference_accuracy
        if accuracy is not None and reference_accuracy is None:
            self.reference_accuracy = accuracy([[8, 8]] * self.n)
        self.observation_size = self.embedding.shape[1]
        self.reset()

    def _obs(self) -> np.ndarray:
        obs = self.embedding[self.layer].copy()
        obs[-2] = self.last_bits / self.rule.max_bits
        obs[-1] = 1.0 if self.weight_turn else 0.0
        return obs

    def reset(self) -> np.ndarray:
        self.layer, self.weight_turn, self.done = 0, True, False
        self.last_bits = self.rule.max_bits
        self.strategy: list = []
        return self._obs()

    def step(self, action):
        """``(observation, reward, done, info)`` as HAQ's ``step``."""
        if self.done:
            raise _error("step", "the episode is over; call reset() first")
        bits = action_to_bits(action, self.rule.min_bits, self.rule.max_bits)
        self.last_bits = bits
        if self.weight_turn:
            self.strategy.append([bits, None])
        else:
            self.strategy[-1][1] = bits
        self.weight_turn = not self.weight_turn
        if self.weight_turn and self.layer == self.n - 1:
            return self._finish()
        if self.weight_turn:
            self.layer += 1
        return self._obs(), 0.0, False, {}

    def _finish(self):
        self.done = True
        chosen = [list(p) for p in self.strategy]
        self.strategy, within = self.rule.enforce(chosen)
        cost = self.rule.cost(self.strategy)
        info = {"strategy": self.strategy, "chosen": chosen, "cost": cost,
                "cost_ratio": cost / self.rule.reference, "within_budget": within}  # fmt: skip
        reward = 0.0
        if self.accuracy is not None:
            acc = self.accuracy(self.strategy)
            info["accuracy"] = acc
            reward = (acc - self.reference_accuracy) * 0.1  # HAQ's reward()
        return self._obs(), reward, True, info


# ------------------------------------------------------------------ the accuracy side


class DigitsMLP:
    """The HAQ study's network (``analysis/haq_train_digits.py``) at per-layer bit-widths.

    Quantized inference through `accelsim.reference`, layer by layer: activations unsigned
    (pixels and ReLU outputs are >= 0), per tensor, ``scale = calibrated max / (2^a - 1)``,
    the max taken on the 256 calibration images in float; weights signed, symmetric, per
    output channel, ``scale = r max |w| / (2^(w-1) - 1)`` with the clipping ratio ``r`` in
    ``CLIP_RATIOS`` that minimises the channel's squared quantization error (plain max
    scaling, ``r = 1``, loses most of the accuracy at 3 bits and below); ``w_bits`` >= 2;
    both rounded half to even and saturated; the integer GEMM in a 32-bit accumulator
    (`accelsim.reference.int_gemm`, exact here: k <= 96); then ``acc * s_a * s_w + bias`` in
    float and ReLU. Accuracy in percent on the stored test split (``split="test"``) or the
    training images (``"train"``, what searches optimise, so that the test split is only
    reported). Memoised per strategy.
    """

    def __init__(self, path=ROOT / "workloads" / "digits_mlp_float.npz"):
        from sklearn.datasets import load_digits

        data = np.load(path)
        names = sorted({k.split("/")[0] for k in data.files if "/" in k})
        self.params = [(data[f"{n}/weights"].astype(np.float64),
                        data[f"{n}/bias"].astype(np.float64)) for n in names]  # fmt: skip
        digits = load_digits()
        x, y = digits.data.astype(np.float64), digits.target
        test = data["test_index"].astype(np.int64)
        train = np.setdiff1d(np.arange(len(y)), test)
        self.splits = {"test": (x[test], y[test]), "train": (x[train], y[train])}
        self.ranges = self._calibrate(x[data["calib_index"].astype(np.int64)])
        self._memo: dict = {}
        self._scales: dict = {}

    def _calibrate(self, x) -> list[float]:
        ranges, h = [], x
        for i, (w, b) in enumerate(self.params):
            ranges.append(float(h.max()))
            h = h @ w + b
            if i < len(self.params) - 1:
                h = np.maximum(h, 0)
        return ranges

    def weight_scale(self, layer: int, bits: int) -> np.ndarray:
        """Per output channel: the clipped scale with the least squared error (class doc)."""
        key = (layer, bits)
        if key not in self._scales:
            w = self.params[layer][0]
            qmax = 2 ** (bits - 1) - 1
            scales = np.abs(w).max(axis=0)[None, :] * CLIP_RATIOS[:, None] / qmax  # [r, n]
            q = np.clip(np.rint(w[None] / scales[:, None, :]), -qmax - 1, qmax)
            err = ((q * scales[:, None, :] - w[None]) ** 2).sum(axis=1)
            self._scales[key] = scales[np.argmin(err, axis=0), np.arange(w.shape[1])]
        return self._scales[key]

    def logits(self, strategy, x) -> np.ndarray:
        import accelsim.reference as R

        if len(strategy) != len(self.params):
            raise _error("strategy", "one [w_bits, a_bits] pair per layer",
                         f"{len(strategy)} pairs", f"{len(self.params)}")  # fmt: skip
        h = x
        for i, ((w, b), (wb, ab)) in enumerate(zip(self.params, strategy)):
            if not (2 <= wb <= 32 and 1 <= ab <= 32):
                raise _error(f"strategy.{i}", "signed symmetric weights need w_bits >= 2",
                             f"[{wb}, {ab}]", "w_bits 2..32, a_bits 1..32")  # fmt: skip
            s_a = self.ranges[i] / (2**ab - 1)
            qa = R.quantize(h, s_a, 0, bits=int(ab), signed=False)
            s_w = self.weight_scale(i, int(wb))
            qw = R.quantize(w, s_w, 0, bits=int(wb), signed=True, axis=1)
            acc = R.int_gemm(qa, qw, acc_bits=32)
            h = acc * (s_a * s_w)[None, :] + b
            if i < len(self.params) - 1:
                h = np.maximum(h, 0)
        return h

    def accuracy(self, strategy, split: str = "train") -> float:
        key = (tuple((int(w), int(a)) for w, a in strategy), split)
        if key not in self._memo:
            x, y = self.splits[split]
            self._memo[key] = 100.0 * float((self.logits(key[0], x).argmax(axis=1) == y).mean())
        return self._memo[key]

    def float_accuracy(self, split: str = "test") -> float:
        x, y = self.splits[split]
        h = x
        for i, (w, b) in enumerate(self.params):
            h = h @ w + b
            if i < len(self.params) - 1:
                h = np.maximum(h, 0)
        return 100.0 * float((h.argmax(axis=1) == y).mean())


# ------------------------------------------------------------------ searches


@dataclass
class SearchResult:
    """The best strategy found, its accuracy and cost, and every strategy evaluated
    (``history``: ``(strategy, accuracy, cost)``), e.g. for Pareto fronts."""

    strategy: list
    accuracy: float
    cost: float
    within_budget: bool
    history: list = field(default_factory=list)


def greedy_search(rule: BudgetRule, accuracy) -> SearchResult:
    """HAQ-style budgeted baseline: from 8/8 (``max_bits``) everywhere, repeatedly lower one
    operand of one free layer by one bit — the move with the least accuracy loss per unit
    of cost saved (ties: the larger saving) — until the budget holds."""
    s = rule.pin([[rule.max_bits, rule.max_bits]] * rule.n)
    acc, cost = accuracy(s), rule.cost(s)
    history = [(s, acc, cost)]
    while cost > rule.budget:
        best = None
        for i in rule.free:
            for operand in (0, 1):
                if s[i][operand] <= rule.min_bits:
                    continue
                t = [list(p) for p in s]
                t[i][operand] -= 1
                c = rule.cost(t)
                if c >= cost:
                    continue
                a = accuracy(t)
                history.append((t, a, c))
                key = (max(acc - a, 0.0) / (cost - c), -(cost - c))
                if best is None or key < best[0]:
                    best = (key, t, a, c)
        if best is None:  # nothing lowers the cost further
            return SearchResult(s, acc, cost, False, history)
        _, s, acc, cost = best
    return SearchResult(s, acc, cost, True, history)


def evolutionary_search(rule: BudgetRule, accuracy, *, population=24, generations=25,
                        mutation=0.25, seed=0) -> SearchResult:  # fmt: skip
    """A genetic algorithm over strategies: random initial bit-widths in
    ``[min_bits, max_bits]`` (plus 8/8 everywhere), each candidate brought under the budget
    by HAQ's rule (`BudgetRule.enforce`); fitness = accuracy (ties: lower cost); tournament
    selection of 3, uniform crossover, each free operand moved by ±1 with probability
    ``mutation``, the best two kept. Seeded: same seed, same result."""
    rng = np.random.default_rng(seed)
    lo, hi = rule.min_bits, rule.max_bits
    free = np.zeros((rule.n, 2), dtype=bool)
    free[rule.free] = True
    history, scored = [], {}

    def evaluate(genome):
        s, within = rule.enforce(genome.tolist())
        key = tuple(map(tuple, s))
        if key not in scored:
            a, c = accuracy(s), rule.cost(s)
            scored[key] = (a, c, within)
            history.append((s, a, c))
        a, c, within = scored[key]
        return np.array(s), a, c, within

    pop = [np.full((rule.n, 2), hi)] + [
        rng.integers(lo, hi + 1, size=(rule.n, 2)) for _ in range(population - 1)
    ]
    pop = [evaluate(g) for g in pop]
    for _ in range(generations):
        pop.sort(key=lambda p: (-p[1], p[2]))
        children = pop[:2]
        while len(children) < population:
            pa, pb = (min(rng.choice(len(pop), 3, replace=False)) for _ in range(2))
            mask = rng.random((rule.n, 2)) < 0.5
            child = np.where(mask, pop[pa][0], pop[pb][0])
            step = rng.choice((-1, 1), size=child.shape) * (rng.random(child.shape) < mutation)
            child = np.clip(child + step * free, lo, hi)
            children.append(evaluate(child))
        pop = children
    pop.sort(key=lambda p: (-p[1], p[2]))
    s, a, c, within = pop[0]
    return SearchResult(s.tolist(), a, c, within, history)


def pareto_front(points) -> list:
    """Indices of the points ``(accuracy, cost, ...)`` no other point beats on both
    (higher accuracy, lower cost), by increasing cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0]))
    front, best = [], -math.inf
    for i in order:
        if points[i][0] > best:
            front.append(i)
            best = points[i][0]
    return front
