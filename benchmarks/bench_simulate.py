"""Speed of the closed-form model: `accelsim.simulate` in process, and `accelsim run` end to
end (interpreter start included). Medians of repeated runs; prints a table. ``simulate`` is
timed repeated (the mapper's caches of the layer set's tilings and their costs hit, as in a
loop over one design) and cold (caches emptied before each call: a first call).

    python benchmarks/bench_simulate.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import accelsim

ROOT = Path(__file__).resolve().parent.parent
ARCH = ROOT / "arch_configs" / "tpu_v1_like.yaml"
WL = ROOT / "workloads" / "resnet50.yaml"


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold(arch, wl) -> None:
    from accelsim import memory, model

    memory._TABLES.clear()
    model._COSTS.clear()
    model._ARRAYS.clear()
    accelsim.simulate(arch, wl)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    arch, wl = accelsim.load_arch(ARCH), accelsim.load_workload(WL)
    sim = median_seconds(lambda: accelsim.simulate(arch, wl), 200)
    first = median_seconds(lambda: cold(arch, wl), 50)
    load = median_seconds(lambda: (accelsim.load_arch(ARCH), accelsim.load_workload(WL)), 20)
    cmd = [sys.executable, "-m", "accelsim", "run", str(ARCH), str(WL)]
    cli = median_seconds(lambda: subprocess.run(cmd, check=True, capture_output=True), 10)
    bare = median_seconds(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 10)
    layers = sum(layer.is_gemm for layer in wl.layers)
    print(f"ResNet-50 ({layers} GEMM layers) on {arch.name}, medians")
    print(f"  accelsim.simulate            {sim * 1e3:8.3f} ms (cold: {first * 1e3:.3f} ms)")
    print(f"  load arch + workload (YAML)  {load * 1e3:8.3f} ms")
    print(f"  `accelsim run` end to end    {cli * 1e3:8.1f} ms")
    print(f"  bare `python -c pass`        {bare * 1e3:8.1f} ms")
    edge = accelsim.load_arch(ROOT / "arch_configs" / "edge_32x32.yaml")
    sim = median_seconds(lambda: accelsim.simulate(edge, wl), 200)
    first = median_seconds(lambda: cold(edge, wl), 50)
    print(f"  accelsim.simulate on {edge.name} ({len(edge.dataflows)} dataflows)  "
          f"{sim * 1e3:.3f} ms (cold: {first * 1e3:.3f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
