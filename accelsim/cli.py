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
    imp.add_argument(
        "--with-tensors",
        action="store_true",
        help="also write the model's integer weights (scales, zero points) to OUTPUT's .npz: "
        "a trace (accelsim.trace)",
    )

    ver = sub.add_parser(
        "verify",
        help="run a trace's layers through the bit-accurate reference: accumulator overflows, "
        "bits needed, expected outputs",
    )
    ver.add_argument("trace", help="trace: workload .yaml with its .npz next to it")
    ver.add_argument("--arch", help="arch file (.yaml); its PE's accumulator width if it has one")
    ver.add_argument("--format", choices=("table", "json"), default="table", help="stdout format")
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
    trace = None
    if str(args.workload).lower().endswith((".yaml", ".yml")):
        from accelsim.trace import load_trace, tensors_path

        if tensors_path(args.workload).exists():  # a trace: its tensors make costs value-aware
            loaded["workload"], trace = load_trace(args.workload)
    report = accelsim.simulate(
        loaded["arch"], loaded["workload"], loaded.get("assignment"),
        objective=args.objective, trace=trace,
    )  # fmt: skip
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
    with_tensors = getattr(args, "with_tensors", False)
    if with_tensors and (out.suffix.lower() == ".csv" or not args.file.lower().endswith(".onnx")):
        why = ("a SCALE-Sim topology cannot carry tensors" if out.suffix.lower() == ".csv"
               else "only an ONNX model has tensors to export")  # fmt: skip
        raise ConfigError(
            Problem("<command line>", None, "--with-tensors", why, f"{args.file} -o {out}",
                    "an .onnx model and a .yaml output")
        )  # fmt: skip
    if str(args.file).lower().endswith(".onnx"):
        from accelsim.onnx_import import assignment_to_yaml, import_onnx

        wl, summary = import_onnx(args.file, batch=args.batch, with_tensors=with_tensors)
    else:
        wl = accelsim.load_workload(args.file, batch=args.batch)
    trace = None
    if with_tensors and summary.tensors:  # checked before anything is written
        from accelsim.trace import make_trace, npz_bytes, tensors_path, trace_header

        npz = tensors_path(out)
        trace = make_trace(wl, summary.tensors, str(npz))
        npz_tmp = npz.with_name(npz.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")  # nothing half-written at the output path
    if out.suffix.lower() == ".csv":
        write_topology(wl, tmp)
    else:
        tmp.write_text((trace_header(npz) if trace else "") + workload_to_yaml(wl))
    if trace is not None:
        npz_tmp.write_bytes(npz_bytes(trace))
    assignment = summary.assignment if summary and out.suffix.lower() != ".csv" else None
    if assignment is not None:  # the model's per-layer precisions, next to the workload
        a_out = out.with_name(out.name.rsplit(".", 1)[0] + ".assignment.yaml")
        a_tmp = a_out.with_name(a_out.name + ".partial")
        a_tmp.write_text(assignment_to_yaml(assignment, str(args.file)))
    tmp.replace(out)
    gemms = sum(layer.is_gemm for layer in wl.layers)
    print(f"wrote {out}: {len(wl.layers)} layers ({gemms} GEMM), {wl.macs:,} MACs")
    if trace is not None:
        npz_tmp.replace(npz)
        print(f"wrote {npz}: integer weights of {len(trace.layers)} of {gemms} GEMM layers")
    if with_tensors and summary.tensors:
        for note in summary.tensor_notes:
            print(f"accelsim: warning: no tensors for layer {note}", file=sys.stderr)
    elif with_tensors:
        float_model = all("float weights" in n or "no weights" in n for n in summary.tensor_notes)
        why = ("a float model: its weights are float, with no quantizer" if float_model
               else "; ".join(summary.tensor_notes))  # fmt: skip
        print(f"accelsim: warning: {args.file} carries no integer tensors ({why}): no .npz "
              "written", file=sys.stderr)  # fmt: skip
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


def _verify(args) -> int:
    import json

    import accelsim
    from accelsim.trace import load_trace, verify, verify_table

    problems, arch = [], None
    try:
        wl, trace = load_trace(args.trace)
    except ConfigError as exc:
        problems += exc.problems
    if args.arch:
        try:
            arch = accelsim.load_arch(args.arch)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    rows, notes = verify(wl, trace, arch)
    if args.format == "json":
        print(json.dumps({"workload": wl.name, "trace": trace.file, "layers": rows,
                          "not_run": notes}, indent=2))  # fmt: skip
        return 0
    acc = "the layers' acc_bits"
    if arch is not None:
        pe_acc = getattr(arch.pe, "acc_bits", None)
        acc = f"{arch.name}'s PE acc_bits" if pe_acc else f"{acc} ({arch.name}'s PE declares none)"
    print(f"{wl.name}: {len(rows)} layer(s) run through the bit-accurate reference "
          f"(accumulator: {acc}; overflows: wrap-around, saturations: saturating)")  # fmt: skip
    if rows:
        print(verify_table(rows))
    for note in notes:
        print(f"  {note}")
    compared = [r for r in rows if r["compared"] is not None]
    if compared:
        bad = sum(r["mismatches"] for r in compared)
        total = sum(r["compared"] for r in compared)
        layers = len(compared)
        print(f"expected outputs: {bad:,} mismatches in {total:,} outputs of {layers} layer(s)")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        commands = {
            "run": _run,
            "check": _check,
            "import": _import,
            "verify": _verify,
        }
        return commands[args.command](args)
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
