"""Speed of `accelsim.CostOracle` on ResNet-50 (issue 10): building the full table (every
GEMM layer at every (w_bits, a_bits) in 1..8 x 1..8, one `simulate` call over all rows),
then `cost(strategy)` (HAQ's per-layer [w_bits, a_bits] list, read from the table),
`cost(Assignment)` (the general path: the assignment applied and validated, then the memo)
and, for scale, one `simulate` with that assignment. Medians; prints a table.

    python benchmarks/bench_oracle.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bench_simulate import median_seconds  # benchmarks/ is on sys.path when run

import accelsim
from accelsim.oracle import CostOracle
from accelsim.workload import make_assignment

ROOT = Path(__file__).resolve().parent.parent
WL = ROOT / "workloads" / "resnet50.yaml"
ARCHS = ("bitfusion", "unpu", "tpu_v1_like")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    wl = accelsim.load_workload(WL)
    rng = np.random.default_rng(0)
    print(f"ResNet-50, {sum(la.is_gemm for la in wl.layers)} GEMM layers x 64 bit pairs, medians")
    print(f"{'arch':<12} {'table build':>12} {'cost(strategy)':>15} {'cost(Assignment)':>17} "
          f"{'simulate':>10}")  # fmt: skip
    for name in ARCHS:
        arch = accelsim.load_arch(ROOT / "arch_configs" / f"{name}.yaml")

        def build(arch=arch):
            oracle = CostOracle(arch, wl)
            oracle.lut("latency")

        table = median_seconds(build, 5)
        oracle = CostOracle(arch, wl)
        oracle.lut("latency")
        strategy = rng.integers(1, 9, size=(len(oracle.layers), 2))
        named = {
            n: {"w_bits": int(w), "a_bits": int(a)} for n, (w, a) in zip(oracle.names, strategy)
        }
        assignment = make_assignment("random", named)
        fast = median_seconds(lambda o=oracle, s=strategy: o.cost(s), 2000)
        general = median_seconds(lambda o=oracle, a=assignment: o.cost(a), 50)
        sim = median_seconds(lambda a=arch, x=assignment: accelsim.simulate(a, wl, x), 20)
        print(f"{name:<12} {table * 1e3:>9.0f} ms {fast * 1e6:>12.1f} us {general * 1e3:>14.2f} ms "
              f"{sim * 1e3:>7.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
