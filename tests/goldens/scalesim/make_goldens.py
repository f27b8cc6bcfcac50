#!/usr/bin/env python3
"""Regenerate the SCALE-Sim 3.0.0 golden per-layer results in this directory.

Run it with the Python of a separate SCALE-Sim venv (never a dependency of accelsim):

    python3 -m venv /work/venvs/scalesim
    /work/venvs/scalesim/bin/pip install scalesim==3.0.0 'numpy<2.4'
    nice -n 10 /work/venvs/scalesim/bin/python tests/goldens/scalesim/make_goldens.py --jobs 1

Every (case, layer, dataflow) is simulated as its own one-row topology, so the work can be
split over processes (``--jobs N``) and any case regenerated alone (``--only CASE``).  Each
SCALE-Sim run is timed in-process with ``time.perf_counter()`` around ``run_scale()``; the
seconds are stored per layer in the ``scalesim_seconds`` column (the baseline of a later
speed benchmark).  Finished runs are cached as JSON (``--cache-dir``) so an interrupted
regeneration can continue with ``--resume``.

Output: one long-format CSV per case, ``golden_<topology>_<rows>x<cols>.csv``; see README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import multiprocessing
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG_DIR = HERE / "configs"
TOPO_DIR = HERE / "topologies"
LAYOUT_CSV = TOPO_DIR / "layout_none.csv"  # only "Layer name,": custom layouts are off

DATAFLOWS = ("os", "ws", "is")
ARRAYS = {"32x32": (32, 32), "128x128": (128, 128), "16x64": (16, 64)}  # rows x cols

# topology name -> (csv file, is a GEMM topology)
TOPOLOGIES = {
    "resnet18": ("resnet18.csv", False),
    "gemms": ("gemms.csv", True),
    "convmisc": ("convmisc.csv", False),
}

# Layer subsets per case (None = every row of the topology).  ResNet-18 on a 32x32 array is
# the slowest case (SCALE-Sim simulates a few thousand cycles per second); it was measured to
# fit the time budget, so every case holds its full topology.  To restrict a case, put a list
# of layer names here, e.g. SUBSETS[("resnet18", "32x32")] = ["conv1", "fc"].
SUBSETS: dict = {}

# case name -> (topology, array, layer subset or None for all rows)
CASES = {}
for _topo in ("gemms", "convmisc", "resnet18"):
    for _arr in ARRAYS:
        CASES[f"{_topo}_{_arr}"] = (_topo, _arr, SUBSETS.get((_topo, _arr)))

CONV_FIELDS = [
    "ifmap_height",
    "ifmap_width",
    "filter_height",
    "filter_width",
    "channels",
    "num_filter",
    "strides",
]
GEMM_FIELDS = ["m", "n", "k"]
# SCALE-Sim's own lowering of the (sub)layer, from its topology_utils
LOWERED_FIELDS = ["ofmap_height", "ofmap_width", "lowered_channels", "window_size", "sr", "sc", "t"]
COMPUTE_MAP = {
    "Total Cycles": "total_cycles",
    "Total Cycles (incl. prefetch)": "total_cycles_incl_prefetch",
    "Stall Cycles": "stall_cycles",
    "Overall Util %": "overall_util_pct",
    "Mapping Efficiency %": "mapping_eff_pct",
    "Compute Util %": "compute_util_pct",
}
COMPUTE_FIELDS = list(COMPUTE_MAP.values())
BW_HEADER = [
    "Avg IFMAP SRAM BW",
    "Avg FILTER SRAM BW",
    "Avg OFMAP SRAM BW",
    "Avg IFMAP DRAM BW",
    "Avg FILTER DRAM BW",
    "Avg OFMAP DRAM BW",
]
ACC_HEADER = [
    f"{mem} {op} {what}"
    for mem in ("SRAM", "DRAM")
    for op, what_last in (("IFMAP", "Reads"), ("Filter", "Reads"), ("OFMAP", "Writes"))
    for what in ("Start Cycle", "Stop Cycle", what_last)
]


def snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


BW_FIELDS = ["bw_" + snake(h) for h in BW_HEADER]
ACC_FIELDS = ["acc_" + snake(h) for h in ACC_HEADER]


def read_topology(topo: str):
    """Return (header line, [(layer name, raw row line, [field strings])])."""
    fname, _ = TOPOLOGIES[topo]
    lines = (TOPO_DIR / fname).read_text().splitlines()
    header, rows = lines[0], []
    for line in lines[1:]:
        if not line.strip():
            continue
        elems = [e.strip() for e in line.strip().split(",")]
        assert elems[-1] == "", f"topology rows must end with a trailing comma: {line!r}"
        rows.append((elems[0], line.strip(), elems[1:-1]))
    return header, rows


def config_path(dataflow: str, array: str) -> Path:
    return CONFIG_DIR / f"{dataflow}_{array}.cfg"


def make_jobs(case_names):
    jobs = []
    for case in case_names:
        topo, array, subset = CASES[case]
        header, rows = read_topology(topo)
        names = [r[0] for r in rows]
        if subset is not None:
            missing = set(subset) - set(names)
            assert not missing, f"unknown layers in subset: {missing}"
        for idx, (name, line, _fields) in enumerate(rows):
            if subset is not None and name not in subset:
                continue
            for df in DATAFLOWS:
                jobs.append(
                    {
                        "case": case,
                        "topology": topo,
                        "array": array,
                        "dataflow": df,
                        "layer_index": idx,
                        "layer": name,
                        "header": header,
                        "row": line,
                        "gemm": TOPOLOGIES[topo][1],
                        "config": str(config_path(df, array)),
                    }
                )
    return jobs


def job_key(job) -> str:
    cfg_text = Path(job["config"]).read_text()
    blob = json.dumps([cfg_text, job["header"], job["row"], job["gemm"], scalesim_version()])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def scalesim_version() -> str:
    from importlib.metadata import version

    return version("scalesim")


def parse_report(path: Path):
    """Parse a SCALE-Sim report CSV (', '-separated, trailing comma) into header + rows of
    the exact strings SCALE-Sim printed."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]

    def split(line):  # trailing comma
        return [e.strip() for e in line.split(",")][:-1]

    return split(lines[0]), [split(line) for line in lines[1:]]


def run_job(job):
    """Simulate one topology row with SCALE-Sim; return the golden rows (one per SCALE-Sim
    (sub)layer: a depthwise 'DP' row expands into one sublayer per channel)."""
    from scalesim.scale_sim import scalesim

    work = Path(tempfile.mkdtemp(prefix="scalesim_golden_"))
    try:
        topo_csv = work / f"{job['topology']}_{job['layer_index']}.csv"
        topo_csv.write_text(job["header"] + "\n" + job["row"] + "\n")
        out_dir = work / "out"
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            sim = scalesim(
                save_disk_space=True,
                verbose=False,
                config=job["config"],
                topology=str(topo_csv),
                layout=str(LAYOUT_CSV),
                input_type_gemm=job["gemm"],
            )
            t0 = time.perf_counter()
            sim.run_scale(top_path=str(out_dir))
            seconds = time.perf_counter() - t0
        report_dir = out_dir / sim.config.get_run_name()
        comp_h, comp_rows = parse_report(report_dir / "COMPUTE_REPORT.csv")
        bw_h, bw_rows = parse_report(report_dir / "BANDWIDTH_REPORT.csv")
        acc_h, acc_rows = parse_report(report_dir / "DETAILED_ACCESS_REPORT.csv")
        assert comp_h[0] == "LayerID" and set(comp_h[1:]) == set(COMPUTE_MAP), comp_h
        assert bw_h[1:] == BW_HEADER, bw_h
        assert acc_h[1:] == ACC_HEADER, acc_h

        topo = sim.topo
        sublayers = topo.get_layer_names()
        assert len(sublayers) == len(comp_rows) == len(bw_rows) == len(acc_rows)
        df = job["dataflow"]
        rows = []
        for i, sub in enumerate(sublayers):
            comp = dict(zip(comp_h, comp_rows[i]))
            assert (
                comp["LayerID"] == str(i) and bw_rows[i][0] == str(i) and acc_rows[i][0] == str(i)
            )
            oh, ow = topo.get_layer_ofmap_dims(i)
            sr, sc, t = topo.calc_spatio_temporal_params(df=df, layer_id=i)
            rec = {
                "sublayer": sub,
                "sublayer_index": i,
                "ofmap_height": oh,
                "ofmap_width": ow,
                "lowered_channels": topo.get_layer_num_channels(i),
                "window_size": topo.get_layer_window_size(i),
                "sr": sr,
                "sc": sc,
                "t": t,
            }
            rec.update({COMPUTE_MAP[k]: v for k, v in comp.items() if k != "LayerID"})
            rec.update(dict(zip(BW_FIELDS, bw_rows[i][1:])))
            rec.update(dict(zip(ACC_FIELDS, acc_rows[i][1:])))
            rows.append(rec)
        return {
            "key": job_key(job),
            "seconds": seconds,
            "n_sublayers": len(sublayers),
            "rows": rows,
            "stdout_tail": sink.getvalue()[-2000:],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _worker(args):
    job, cache_dir = args
    res = run_job(job)
    if cache_dir:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        tmp = Path(cache_dir) / f".{res['key']}.tmp"
        tmp.write_text(json.dumps(res))
        tmp.replace(Path(cache_dir) / f"{res['key']}.json")
    return job, res


def write_case(case, jobs, results, out_dir: Path):
    topo, array, _ = CASES[case]
    rows_r, cols_c = ARRAYS[array]
    fields = GEMM_FIELDS if TOPOLOGIES[topo][1] else CONV_FIELDS
    columns = (
        ["topology", "layer", "sublayer", "dataflow", "array_rows", "array_cols"]
        + fields
        + LOWERED_FIELDS
        + COMPUTE_FIELDS
        + BW_FIELDS
        + ACC_FIELDS
        + ["scalesim_seconds", "run_sublayers"]
    )
    order = {df: i for i, df in enumerate(DATAFLOWS)}
    case_jobs = sorted(
        (j for j in jobs if j["case"] == case),
        key=lambda j: (j["layer_index"], order[j["dataflow"]]),
    )
    out = out_dir / f"golden_{case}.csv"
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for j in case_jobs:
            res = results[id(j)]
            topo_fields = [e.strip() for e in j["row"].split(",")][1:-1]
            for rec in res["rows"]:
                base = {
                    "topology": topo,
                    "layer": j["layer"],
                    "sublayer": rec["sublayer"],
                    "dataflow": j["dataflow"],
                    "array_rows": rows_r,
                    "array_cols": cols_c,
                    "scalesim_seconds": f"{res['seconds']:.3f}",
                    "run_sublayers": res["n_sublayers"],
                }
                base.update(dict(zip(fields, topo_fields)))
                base.update(rec)
                w.writerow([base[c] for c in columns])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        help="case (e.g. resnet18_128x128) or topology (resnet18, gemms, convmisc) "
        "to regenerate; repeatable or comma-separated (default: all cases)",
    )
    p.add_argument("--out-dir", default=str(HERE), help="where golden_*.csv go (default: here)")
    p.add_argument(
        "--cache-dir",
        default="/tmp/scalesim_goldens_cache",
        help="per-run JSON cache ('' to disable)",
    )
    p.add_argument("--resume", action="store_true", help="reuse cached runs instead of rerunning")
    p.add_argument("--list", action="store_true", help="list the cases and their runs, then exit")
    args = p.parse_args(argv)

    wanted = [w for o in args.only for w in o.split(",") if w] or list(CASES)
    cases = []
    for w in wanted:
        if w in CASES:
            cases.append(w)
        elif w in TOPOLOGIES:
            cases += [c for c in CASES if CASES[c][0] == w]
        else:
            p.error(f"unknown case/topology {w!r}; cases: {', '.join(CASES)}")
    cases = list(dict.fromkeys(cases))
    jobs = make_jobs(cases)

    if args.list:
        for c in cases:
            n = sum(1 for j in jobs if j["case"] == c)
            print(f"{c:22s} {n:4d} runs -> golden_{c}.csv")
        return 0

    results, todo = {}, []
    for j in jobs:
        cached = Path(args.cache_dir) / f"{job_key(j)}.json" if args.cache_dir else None
        if args.resume and cached is not None and cached.exists():
            results[id(j)] = json.loads(cached.read_text())
        else:
            todo.append(j)
    print(
        f"scalesim {scalesim_version()}, numpy {__import__('numpy').__version__}, "
        f"python {platform.python_version()}; {len(jobs)} runs, {len(jobs) - len(todo)} "
        f"from cache, jobs={args.jobs}",
        flush=True,
    )

    out_dir = Path(args.out_dir)
    remaining = {c: sum(1 for j in todo if j["case"] == c) for c in cases}
    wall0 = time.perf_counter()
    done = 0

    def finish(job, res):
        nonlocal done
        done += 1
        results[id(job)] = res
        tc = ",".join(r["total_cycles"] for r in res["rows"][:1])
        n_sub = res["n_sublayers"]
        print(
            f"[{done}/{len(todo)}] {job['case']} {job['layer']} {job['dataflow']}: "
            f"{res['seconds']:.2f} s, total_cycles {tc}"
            f"{f' (x{n_sub} sublayers)' if n_sub > 1 else ''}"
            f"  [wall {time.perf_counter() - wall0:.0f} s]",
            flush=True,
        )
        remaining[job["case"]] -= 1
        if remaining[job["case"]] == 0:
            out = write_case(job["case"], jobs, results, out_dir)
            print(f"wrote {out}", flush=True)

    for c in cases:  # cases entirely served from the cache
        if remaining[c] == 0:
            print(f"wrote {write_case(c, jobs, results, out_dir)}", flush=True)

    payload = [(j, args.cache_dir) for j in todo]
    if args.jobs <= 1:
        for item in payload:
            finish(*_worker(item))
    else:
        with multiprocessing.get_context("fork").Pool(args.jobs, maxtasksperchild=4) as pool:
            for job, res in pool.imap_unordered(_worker, payload):
                # imap_unordered pickles the job: map it back onto our own dict
                mine = next(
                    j
                    for j in todo
                    if j["case"] == job["case"]
                    and j["layer_index"] == job["layer_index"]
                    and j["dataflow"] == job["dataflow"]
                )
                finish(mine, res)
    wall = time.perf_counter() - wall0
    total = sum(results[id(j)]["seconds"] for j in todo)
    print(
        f"done: {len(todo)} runs, wall {wall:.1f} s, sum of scalesim_seconds {total:.1f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
