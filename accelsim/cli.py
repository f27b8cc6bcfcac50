"""The ``accelsim`` command (DESIGN.md §7). Exit status: 0 success, 2 bad input, 1 bug."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from accelsim.errors import ConfigError, Problem


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="accelsim", description="Simulate quantized networks on GEMM accelerators."
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a workload on an arch")
    run.add_argument("arch", help="arch file (.yaml)")
    run.add_argument("workload", help="workload file (.yaml, .csv topology or .onnx model)")
    run.add_argument("--assignment", help="mixed-precision assignment file (.yaml)")
    run.add_argument("--objective", default="latency", help="mapper objective (default latency)")
    run.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="stdout format"
    )
    run.add_argument("--out", help="directory to write layers.csv and report.json into")

    check = sub.add_parser("check", help="validate configs, workloads and assignments")
    check.add_argument("files", nargs="+", metavar="FILE")

    imp = sub.add_parser(
        "import",
        help="convert an ONNX model or a SCALE-Sim topology to a workload YAML, or a workload "
        "to a topology",
    )
    imp.add_argument(
        "file", help="input: ONNX model .onnx, SCALE-Sim topology .csv or workload .yaml"
    )
    imp.add_argument(
        "-o",
        "--output",
        required=True,
        help="output: .yaml (workload) or .csv (SCALE-Sim GEMM topology)",
    )
    imp.add_argument(
        "--batch", type=int, help="batch for an ONNX model's dynamic batch dimension (default 1)"
    )
    return p


def _run(args) -> int:
    import accelsim

    problems: list[Problem] = []
    loaded = {}
    for key, loader in (
        ("arch", accelsim.load_arch),
        ("workload", accelsim.load_workload),
        ("assignment", accelsim.load_assignment),
    ):
        path = getattr(args, key)
        if path is None:
            continue
        try:
            loaded[key] = loader(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    report = accelsim.simulate(
        loaded["arch"], loaded["workload"], loaded.get("assignment"), objective=args.objective
    )
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "layers.csv").write_text(report.to_csv())
        (out / "report.json").write_text(report.to_json() + "\n")
    text = {"table": report.table, "csv": report.to_csv, "json": report.to_json}[args.format]()
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _check(args) -> int:
    from accelsim.io import load_any

    problems: list[Problem] = []
    for path in args.files:
        try:
            kind, obj = load_any(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        print(f"ok: {path} ({kind}: {obj.name})")
    if problems:
        raise ConfigError(problems)
    return 0


def _import(args) -> int:
    import accelsim
    from accelsim.scalesim import write_topology
    from accelsim.workload import workload_to_yaml

    out = Path(args.output)
    if out.suffix.lower() not in (".yaml", ".yml", ".csv"):
        raise ConfigError(
            Problem("<command line>", None, "--output", "unknown output kind", repr(str(out)),
                    ".yaml (workload), .csv (SCALE-Sim topology)")
        )  # fmt: skip
    summary = None
    if str(args.file).lower().endswith(".onnx"):
        from accelsim.onnx_import import assignment_to_yaml, import_onnx

        wl, summary = import_onnx(args.file, batch=args.batch)
    else:
        wl = accelsim.load_workload(args.file, batch=args.batch)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")  # nothing half-written at the output path
    if out.suffix.lower() == ".csv":
        write_topology(wl, tmp)
    else:
        tmp.write_text(workload_to_yaml(wl))
    assignment = summary.assignment if summary and out.suffix.lower() != ".csv" else None
    if assignment is not None:  # the model's per-layer precisions, next to the workload
        a_out = out.with_name(out.name.rsplit(".", 1)[0] + ".assignment.yaml")
        a_tmp = a_out.with_name(a_out.name + ".partial")
        a_tmp.write_text(assignment_to_yaml(assignment, str(args.file)))
    tmp.replace(out)
    gemms = sum(layer.is_gemm for layer in wl.layers)
    print(f"wrote {out}: {len(wl.layers)} layers ({gemms} GEMM), {wl.macs:,} MACs")
    if assignment is not None:
        a_tmp.replace(a_out)
        print(f"wrote {a_out}: precisions of {len(assignment.layers)} layers")
    if summary is not None:
        print("\n".join(f"  {line}" for line in summary.lines()))
        if summary.assignment is not None and assignment is None:
            print("  note: a SCALE-Sim topology has no precisions; write a .yaml to keep them")
        for text in summary.warnings():
            print(f"accelsim: warning: {text}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"run": _run, "check": _check, "import": _import}[args.command](args)
    except ConfigError as exc:
        count = len(exc.problems)
        print(f"accelsim: {count} problem{'s' if count > 1 else ''} in the input:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except Exception:  # a bug of ours: say so, with the traceback to report
        traceback.print_exc()
        print(
            "accelsim: internal error (please report it with the traceback above)", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
