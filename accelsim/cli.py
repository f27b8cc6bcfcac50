"""The ``accelsim`` command (DESIGN.md §7). Exit status: 0 success, 2 bad input, 1 bug."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from pathlib import Path

from accelsim.errors import ConfigError, Problem


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="accelsim", description="Simulate quantized networks on GEMM accelerators."
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a workload on an arch")
    run.add_argument("arch", help="arch file (.yaml or SCALE-Sim .cfg)")
    run.add_argument("workload", help="workload file (.yaml, .csv topology or .onnx model)")
    run.add_argument("--assignment", help="mixed-precision assignment file (.yaml)")
    run.add_argument(
        "--batch", type=int, help="batch for an ONNX model's dynamic batch dimension (default 1)"
    )
    run.add_argument("--folding", help="per-layer pe/simd file for a layer-pipelined arch (.yaml)")
    run.add_argument("--objective", default="latency", help="mapper objective (default latency)")
    run.add_argument(
        "--fidelity", default="closed_form",
        help="timing model: closed_form (default) or event (simpy tiles, accelsim.event)",
    )  # fmt: skip
    run.add_argument(
        "--timeline", action="store_true",
        help="with --fidelity event: every resource's busy intervals in the report "
        "(accelsim plot timeline REPORT.json draws them)",
    )  # fmt: skip
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
    _sweep_parsers(sub)
    lut = sub.add_parser(
        "lut", help="HAQ-style cost table [layer, w_bits-1, a_bits-1] (.npy + .json + .csv)"
    )
    lut.add_argument("arch", help="arch file (.yaml or SCALE-Sim .cfg)")
    lut.add_argument("workload", help="workload file (.yaml, .csv topology or .onnx model)")
    lut.add_argument("--metric", choices=("latency", "energy", "cycles"), default="latency")
    lut.add_argument("--w-bits", default="1-8", help="weight bit-widths to cost (default 1-8)")
    lut.add_argument("--a-bits", default="1-8", help="activation bit-widths (default 1-8)")
    lut.add_argument("--objective", default="latency", help="mapper objective (default latency)")
    lut.add_argument("-o", "--output", required=True, help="table file (.npy)")
    return p


def _unwritable(path: str, flag: str, directory: bool) -> list[Problem]:
    """Why an output cannot be written (checked before any work is done), or []."""
    out = Path(path).absolute()
    if out.exists() and out.is_dir() != directory:
        want = "a directory" if directory else "a file"
        return [Problem("<command line>", None, flag, f"exists and is not {want}", repr(path))]
    parent = out if directory else out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return [Problem("<command line>", None, flag, "cannot be written", repr(path),
                        f"a path under a writable directory ({parent} is not one)")]  # fmt: skip
    return []


def _problems_of(check, *args) -> list[Problem]:
    """The problems ``check(*args)`` raises, or []."""
    try:
        check(*args)
    except ConfigError as exc:
        return exc.problems
    return []


def _objective_problems(arch, objective: str) -> list[Problem]:
    """--objective energy or edp on an arch without an energy model."""
    from accelsim.oracle import check_energy

    if objective not in ("energy", "edp"):
        return []
    return _problems_of(check_energy, arch, "--objective", repr(objective), "latency",
                        "<command line>")  # fmt: skip


def _lut(args) -> int:
    import numpy as np

    import accelsim
    from accelsim.oracle import CostOracle, check_energy, check_output, parse_bits, save_lut

    problems: list[Problem] = []
    loaded = {}
    for key, load in (("arch", accelsim.load_arch), ("workload", accelsim.load_workload)):
        try:
            loaded[key] = load(getattr(args, key))
        except ConfigError as exc:
            problems.extend(exc.problems)
    bits = []
    for flag, text in (("--w-bits", args.w_bits), ("--a-bits", args.a_bits)):
        try:
            bits.append(parse_bits(text, flag))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if "arch" in loaded:
        problems += _objective_problems(loaded["arch"], args.objective)
        if args.metric == "energy":
            problems += _problems_of(check_energy, loaded["arch"], "--metric", repr(args.metric),
                                     "latency, cycles", "<command line>")  # fmt: skip
    problems += _problems_of(check_output, args.output, "--output", "<command line>")
    problems += _unwritable(args.output, "--output", directory=False)
    if problems:
        raise ConfigError(problems)
    oracle = CostOracle(loaded["arch"], loaded["workload"], objective=args.objective)
    doc = save_lut(oracle, args.output, args.metric, *bits)
    table = np.load(args.output)
    out = Path(args.output)
    print(f"wrote {out}: shape {table.shape}, {doc['metric']} in {doc['unit']}, "
          f"[layer, w_bits-1, a_bits-1]; {len(doc['infeasible'])} infeasible entries")  # fmt: skip
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.csv')}: layers, units, reasons")
    return 0


def _sweep_parsers(sub) -> None:
    sw = sub.add_parser("sweep", help="run a design-space sweep (spec: accelsim.sweeps)")
    sw.add_argument("spec", help="sweep spec (.yaml)")
    sw.add_argument("--out", required=True, help="directory for the Parquet tables")
    sw.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    sw.add_argument("--scheduler", help="Dask scheduler address: run on that cluster instead")
    sw.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    sw.add_argument("--chunk-size", type=int, help="design points per worker call (default: auto)")
    pl = sub.add_parser("plot", help="plot a sweep directory or a report JSON")
    pl.add_argument("kind", choices=("pareto", "heatmap", "layers", "breakdown", "timeline"))
    pl.add_argument("input", help="sweep directory (sweep --out) or report JSON (run --out)")
    pl.add_argument("-o", "--output", required=True, help="figure file: .png, .svg or .pdf")
    pl.add_argument("--x", help="x column (pareto: latency_s; heatmap: the first axis)")
    pl.add_argument("--y", help="y column (pareto: energy_pj; heatmap: the second axis)")
    pl.add_argument("--value", help="heatmap value column (default tops_per_w)")
    pl.add_argument("--workload", help="which workload of the sweep (default: the first)")
    pl.add_argument("--point", type=int, help="point_id for layers/breakdown (default: best)")


def _sweep(args) -> int:
    from accelsim.sweeps import command

    if problems := _unwritable(args.out, "--out", directory=True):
        raise ConfigError(problems)
    return command(args)


def _plot(args) -> int:
    from accelsim.plots import command

    return command(args)


def _run(args) -> int:
    import accelsim
    from accelsim.pipeline import load_folding

    problems: list[Problem] = []
    loaded = {}
    for key, loader in (
        ("arch", accelsim.load_arch),
        ("workload", lambda path: accelsim.load_workload(path, batch=args.batch)),
        ("assignment", accelsim.load_assignment),
        ("folding", load_folding),
    ):
        path = getattr(args, key)
        if path is None:
            continue
        try:
            loaded[key] = loader(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if "arch" in loaded:
        problems += _objective_problems(loaded["arch"], args.objective)
    if args.out:
        problems += _unwritable(args.out, "--out", directory=True)
    if problems:
        raise ConfigError(problems)
    trace = None
    if str(args.workload).lower().endswith((".yaml", ".yml")):
        from accelsim.trace import load_trace, tensors_path

        if tensors_path(args.workload).exists():  # a trace: its tensors make costs value-aware
            loaded["workload"], trace = load_trace(args.workload)
    from accelsim.event import asked_by_flag

    with asked_by_flag("--fidelity"):  # the fidelity's errors name the command line
        report = accelsim.simulate(
            loaded["arch"], loaded["workload"], loaded.get("assignment"),
            objective=args.objective, trace=trace, folding=loaded.get("folding"),
            fidelity=args.fidelity, timeline=args.timeline,
        )  # fmt: skip
    if args.out:
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "layers.csv").write_text(report.to_csv())
            (out / "report.json").write_text(report.to_json() + "\n")
        except OSError as exc:  # the pre-check cannot see everything (root, /proc, full disk)
            raise ConfigError(Problem("<command line>", None, "--out", "cannot be written",
                                      f"{args.out!r}: {exc.strerror or exc}",
                                      "a writable directory")) from None  # fmt: skip
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
    if problems := _unwritable(args.output, "--output", directory=False):
        raise ConfigError(problems)
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


def _warn(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings (e.g. ONNX ops that are not costed) as one plain line."""
    print(f"accelsim: warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _warn
        return _main(args)


def _main(args) -> int:
    try:
        commands = {
            "run": _run,
            "check": _check,
            "import": _import,
            "verify": _verify,
            "sweep": _sweep,
            "plot": _plot,
            "lut": _lut,
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
