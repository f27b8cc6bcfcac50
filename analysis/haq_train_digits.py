"""Train the small network of the HAQ study: an MLP on scikit-learn's bundled handwritten
digits (1,797 8x8 images, 10 classes; no download), in plain numpy.

    python analysis/haq_train_digits.py        # writes workloads/digits_mlp.yaml and
                                               # workloads/digits_mlp_float.npz

Network: 64 -> 96 -> 96 -> 64 -> 32 -> 10, ReLU between the fully connected layers, inputs
the pixel values (0..16) as they are. Training: softmax cross-entropy, Adam (lr 1e-3), 200
epochs of shuffled mini-batches of 32, He-normal initialisation, seed 0. Split: a fixed,
class-stratified 25 % test set (indices stored in the .npz, so evaluation never depends on a
library's splitter); 256 training images are kept as the calibration set that sets the
activation ranges of quantized inference (`accelsim.search.DigitsMLP`).

The .npz holds ``fc{i}/weights`` as ``[in, out]`` float32, ``fc{i}/bias``, ``test_index``,
``calib_index``; the workload YAML is the same network as a layer trace at batch 16 (the
batch of HAQ's released lookup table, ``simulator_batch = 16``) for the cost oracle.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIZES = (64, 96, 96, 64, 32, 10)
SEED = 0


def split(y: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Class-stratified 75/25 split: every class contributes a quarter of its images."""
    test = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        test.extend(rng.choice(idx, size=len(idx) // 4, replace=False))
    test = np.sort(np.array(test))
    return np.setdiff1d(np.arange(len(y)), test), test


def forward(params, x):
    acts = [x]
    for i, (w, b) in enumerate(params):
        z = acts[-1] @ w + b
        acts.append(np.maximum(z, 0) if i < len(params) - 1 else z)
    return acts


def train(x, y, rng, epochs=200, batch=32, lr=1e-3):
    params = [
        (rng.normal(0, np.sqrt(2 / i), (i, o)).astype(np.float64), np.zeros(o))
        for i, o in zip(SIZES[:-1], SIZES[1:])
    ]
    m = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
    v = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            acts = forward(params, x[idx])
            logits = acts[-1] - acts[-1].max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            grad = p
            grad[np.arange(len(idx)), y[idx]] -= 1
            grad /= len(idx)
            step += 1
            for i in range(len(params) - 1, -1, -1):
                w, b = params[i]
                gw, gb = acts[i].T @ grad, grad.sum(axis=0)
                if i:
                    grad = (grad @ w.T) * (acts[i] > 0)
                new = []
                for j, (g, p_) in enumerate(((gw, w), (gb, b))):
                    m_, v_ = m[i][j], v[i][j]
                    m_[...] = 0.9 * m_ + 0.1 * g
                    v_[...] = 0.999 * v_ + 0.001 * g * g
                    mhat, vhat = m_ / (1 - 0.9**step), v_ / (1 - 0.999**step)
                    new.append(p_ - lr * mhat / (np.sqrt(vhat) + 1e-8))
                params[i] = tuple(new)
    return params


def workload_yaml() -> str:
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
        src = f", input_from: [fc{i - 1}]" if i > 1 else ""
        layers.append(
            f"  - {{name: fc{i}, type: fc, in_features: {n_in}, out_features: {n_out}{src}}}"
        )
    return "\n".join(
        [
            "name: digits_mlp",
            "description: >-",
            "  MLP 64-96-96-64-32-10 on scikit-learn's 8x8 handwritten digits (the HAQ study's",
            "  network), batch 16 as HAQ's released lookup table; float weights in",
            "  digits_mlp_float.npz (analysis/haq_train_digits.py).",
            "source: analysis/haq_train_digits.py",
            "batch: 16",
            "quant: {a_bits: 8, w_bits: 8, acc_bits: 32, out_bits: 8, a_encoding: uint, "
            "w_encoding: int}",
            "layers:",
            *layers,
            "",
        ]
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = digits.data.astype(np.float64), digits.target
    rng = np.random.default_rng(SEED)
    train_idx, test_idx = split(y, rng)
    params = train(x[train_idx], y[train_idx], rng)
    calib = np.sort(rng.choice(train_idx, size=256, replace=False))
    acc = (forward(params, x[test_idx])[-1].argmax(axis=1) == y[test_idx]).mean()
    print(f"float test accuracy: {acc:.4f} on {len(test_idx)} images")
    tensors = {"test_index": test_idx.astype(np.int16), "calib_index": calib.astype(np.int16)}
    for i, (w, b) in enumerate(params, start=1):
        tensors[f"fc{i}/weights"] = w.astype(np.float32)
        tensors[f"fc{i}/bias"] = b.astype(np.float32)
    out = ROOT / "workloads" / "digits_mlp_float.npz"
    np.savez_compressed(out, **tensors)
    (ROOT / "workloads" / "digits_mlp.yaml").write_text(workload_yaml())
    print(f"wrote {out} ({out.stat().st_size:,} bytes) and workloads/digits_mlp.yaml")


if __name__ == "__main__":
    main()
