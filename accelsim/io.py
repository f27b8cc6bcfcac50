"""Telling input files apart, for ``accelsim check``: arch (YAML or SCALE-Sim ``.cfg``),
workload (YAML, SCALE-Sim topology ``.csv`` or ONNX model ``.onnx``), assignment or folding
(`accelsim.pipeline`)."""

from __future__ import annotations

from accelsim.errors import ConfigError, Problem
from accelsim.yamlio import read_yaml

KINDS = {"array": "arch", "layers": "workload", "assignment": "assignment", "folding": "folding"}


def load_any(path):
    """Load ``path`` as whatever it is; return ``(kind, object)``."""
    from accelsim.arch import arch_from_doc
    from accelsim.pipeline import folding_from_doc
    from accelsim.workload import assignment_from_doc, workload_from_doc

    lower = str(path).lower()
    if lower.endswith(".cfg"):
        from accelsim.scalesim import load_cfg

        return "arch", load_cfg(path)
    if lower.endswith(".csv"):
        from accelsim.scalesim import load_topology

        return "workload", load_topology(path)
    if lower.endswith(".onnx"):
        from accelsim.onnx_import import load_onnx

        return "workload", load_onnx(path)
    doc = read_yaml(path)
    keys = set(doc.data) if isinstance(doc.data, dict) else set()
    kinds = {KINDS[k] for k in keys & set(KINDS)}
    if len(kinds) != 1:
        raise ConfigError(
            Problem(
                str(path),
                1,
                "",
                "cannot tell what this file is: an arch has 'array', a workload 'layers', "
                "an assignment 'assignment', a folding 'folding' (exactly one of them)",
                ", ".join(sorted(keys)) or "no keys",
            )
        )
    kind = kinds.pop()
    builder = {"arch": arch_from_doc, "workload": workload_from_doc,
               "folding": folding_from_doc}.get(kind, assignment_from_doc)  # fmt: skip
    return kind, builder(doc)
