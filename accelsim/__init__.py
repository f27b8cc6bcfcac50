"""accelsim: cycle-approximate simulation of systolic and precision-flexible GEMM arrays.

import accelsim
arch = accelsim.load_arch("arch_configs/tpu_v1_like.yaml")
wl = accelsim.load_workload("workloads/resnet50.yaml")
report = accelsim.simulate(arch, wl)
report.layers   # pandas DataFrame, one row per layer
report.total    # cycles, latency_s, macs, tops, utilization, ...
accelsim.sweep("sweep.yaml", out="results/")   # design-space sweep -> DataFrame
"""

from accelsim._version import __version__
from accelsim.arch import Arch, load_arch
from accelsim.errors import ConfigError
from accelsim.model import simulate
from accelsim.pipeline import load_folding
from accelsim.quant import QuantSpec
from accelsim.report import Report
from accelsim.workload import Assignment, Layer, Workload, load_assignment, load_workload

__all__ = [
    "Arch",
    "Assignment",
    "ConfigError",
    "CostOracle",
    "Layer",
    "QuantSpec",
    "Report",
    "Workload",
    "__version__",
    "load_arch",
    "load_assignment",
    "load_folding",
    "load_workload",
    "simulate",
    "sweep",
]


def __getattr__(name):
    """``sweep`` and ``CostOracle`` load on first use: ``import accelsim`` stays light."""
    if name == "sweep":
        from accelsim.sweeps import sweep as found
    elif name == "CostOracle":
        from accelsim.oracle import CostOracle as found
    else:
        raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
    globals()[name] = found
    return found
