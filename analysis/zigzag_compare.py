"""accelsim's memory and energy model against ZigZag on the same layers and design (issue 4).

    python analysis/zigzag_compare.py [--zigzag-python PY] [--lpf-limit 7] [--jobs 2] [--reuse]

Both tools price six ResNet-18 layers (four 3x3 convs, a strided 1x1 conv, the fc) and one
BERT-base GEMM (``enc0.attn.q``, 128 x 768 x 768) on one design,
`analysis/zigzag/ws_32x32.yaml` (edge_32x32 held to ``ws``): a 32x32 array of 8-bit MACs,
128 KiB input, 128 KiB weight and 64 KiB output SRAM, DRAM at 8 bytes per cycle. How the
ZigZag side is matched to it (`zigzag_hardware`, `zigzag_mapping`, `zigzag_layer`):

- array: 32 x 32 MACs, spatial unrolling fixed to K (output channels, accelsim's ``n``) on
  one side and C (input channels) on the other, ZigZag's ``tpu_like`` default; accelsim's
  ``ws`` puts ``k = C FY FX`` on the rows, the same unrolling when C >= 32 (every layer
  here); per-PE registers as in ``tpu_like``: one 8-bit weight and one 32-bit accumulator;
- buffers: one SRAM per operand with accelsim's size, one read/write port of accelsim's
  ``bytes_per_cycle`` (accelsim budgets a buffer's reads and writes together); DRAM shared
  by all operands, one port of ``dram.bytes_per_cycle``;
- energies: accelsim's own per-action prices (`accelsim.energy.unit_prices`: 28 nm,
  LPDDR4) as pJ/byte x port width per ZigZag access, accelsim's MAC energy at 8x8 bits;
  registers and inter-PE moves cost 0 in both (accelsim's default);
- layers: the same loop bounds, 8-bit operands, 32-bit partial sums, 8-bit final outputs;
  the ifmap as stored (no padding) in both; both pick the mapping with the least energy.

A second accelsim design, ``accelsim-cap`` (`capacity_matched`), gives accelsim's tiles the
capacity ZigZag gives them: ZigZag checks that one copy of each operand's tile fits its
buffer, accelsim that two do (double buffering) and that outputs fit at acc_bits + out_bits.

ZigZag's inputs are written to `analysis/zigzag/zigzag_{hardware,mapping,workload}.yaml`
and run by `analysis/zigzag/run_zigzag.py` in ZigZag's own Python (``--zigzag-python``,
default ``$ZIGZAG_PYTHON`` or ``/work/venvs/zigzag/bin/python``; ``pip install zigzag-dse
six``), which writes `analysis/out/zigzag_results.json` (``--reuse`` reads it again instead
of rerunning ZigZag, 3 to 6 minutes on 2 cores with ``--jobs 1``). ZigZag searches
temporal mappings (LOMA, ``opt="energy"``, one process per layer), accelsim its DRAM tiling
(`accelsim.memory`). Deterministic.

Writes `analysis/out/zigzag_vs_accelsim.csv`: per layer and for the ``TOTAL``, a row per
tool (``zigzag``, ``accelsim``, ``accelsim-cap``) and a row of ratios per accelsim design
(``accelsim/zigzag``, ``accelsim-cap/zigzag``; blank where ZigZag's value is 0). Columns:

- ``latency_cycles``; ``compute_cycles``: accelsim's array cycles without stalls (folds,
  fill and drain per DRAM tile), ZigZag's ideal temporal cycles (MACs / used PEs);
- ``energy_pj``: MAC + SRAM + DRAM, what both tools price; ``tool_energy_pj``: each tool's
  own total (accelsim's adds leakage); ``mac_energy_pj``;
- ``{dram,inputs_sram,weights_sram,outputs_sram}_{read_bytes,write_bytes,energy_pj}``:
  output SRAM reads count partial sums going back to the array and final outputs going to
  DRAM, writes the partial sums coming in and back from DRAM, in both tools;
- ``dram_read_{inputs,weights,psums}_bytes``: DRAM reads per operand;
- ``dram_read_inputs_halo_bytes`` (accelsim): the ifmap bytes accelsim's own tiling needs,
  counted element by element on the im2col matrix, halos included; accelsim's model scales
  the ifmap by each tile's share of the im2col matrix instead;
- ``mapping``: ZigZag's temporal loops per operand and memory level (innermost first:
  register | SRAM | DRAM), or accelsim's DRAM tile and loop order (outer to inner).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

import accelsim
from accelsim.arch import with_changes
from accelsim.energy import tech_of, unit_prices
from accelsim.memory import refetch
from accelsim.model import layer_arrays
from accelsim.workload import pads, pair

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "analysis" / "zigzag"
OUT = ROOT / "analysis" / "out" / "zigzag_vs_accelsim.csv"
RAW = OUT.with_name("zigzag_results.json")  # ZigZag's numbers, as run_zigzag.py wrote them
ARCH = HERE / "ws_32x32.yaml"
LAYERS = {  # workload -> layers compared
    "resnet18": (
        "layer1.0.conv1",
        "layer2.0.conv1",
        "layer2.0.downsample",
        "layer3.1.conv2",
        "layer4.1.conv2",
        "fc",
    ),
    "bert_base": ("enc0.attn.q",),
}
LEVELS = ("dram", "inputs_sram", "weights_sram", "outputs_sram")
OPERANDS = {"I": "inputs", "W": "weights", "O": "psums"}  # ZigZag layer operand -> DRAM part
NUMERIC = (
    "latency_cycles",
    "compute_cycles",
    "energy_pj",
    "mac_energy_pj",
    *(f"{lv}_{q}" for lv in LEVELS for q in ("read_bytes", "write_bytes", "energy_pj")),
    *(f"dram_read_{part}_bytes" for part in OPERANDS.values()),
    "dram_read_inputs_halo_bytes",
    "tool_energy_pj",
)
COLUMNS = ("layer", "tool", *NUMERIC, "mapping")


# --------------------------------------------------------------------------- ZigZag inputs


def prices(arch, layers) -> dict:
    """accelsim's per-action energies on this arch (one value each: all layers are 8-bit)."""
    out = {}
    for key, value in unit_prices(arch, tech_of(arch), layer_arrays(layers, arch.pe)).items():
        values = np.unique(np.asarray(value, dtype=float))
        assert values.size == 1, f"{key} differs between layers: {values}"
        out[key] = float(values[0])
    return out


# how each ZigZag memory connects to the level below (to low) and above (from high), for the
# memory operands I1 (inputs), I2 (weights) and O (partial sums and outputs)
DIRECTIONS = {"I1": ("tl", "fh"), "I2": ("tl", "fh"), "O": ("tl", "th", "fh", "fl")}


def _memory(size_bits, width_bits, operands, read_pj, write_pj, per_pe=False) -> dict:
    """A ZigZag memory instance; ``read_pj``/``write_pj`` per byte.

    Buffers and DRAM have one read/write port (accelsim budgets a buffer's reads and writes
    together), byte-granular; per-PE registers one port per direction, as in ``tpu_like``.
    """
    assert width_bits == int(width_bits), "ZigZag port widths are whole bits"
    width = int(width_bits)

    def port(name, kind, directions):
        allocation = [f"{op}, {d}" for op in operands for d in DIRECTIONS[op] if d in directions]
        return {"name": name, "type": kind, "bandwidth_min": width if per_pe else 8,
                "bandwidth_max": width, "allocation": allocation}  # fmt: skip

    if per_pe:  # r_port_1, r_port_2 (to low, to high), w_port_1, w_port_2 (from high, low)
        reads = [d for op in operands for d in DIRECTIONS[op] if d[0] == "t"]
        writes = [d for op in operands for d in DIRECTIONS[op] if d[0] == "f"]
        ports = [port(f"r_port_{i}", "read", (d,)) for i, d in enumerate(reads, 1)]
        ports += [port(f"w_port_{i}", "write", (d,)) for i, d in enumerate(writes, 1)]
    else:
        ports = [port("rw_port_1", "read_write", ("tl", "th", "fh", "fl"))]
    return {
        "size": int(size_bits),
        "r_cost": read_pj * width / 8,
        "w_cost": write_pj * width / 8,
        "area": 0,
        "latency": 1,
        "operands": list(operands),
        "ports": ports,
        "served_dimensions": [] if per_pe else ["D1", "D2"],
    }


def zigzag_hardware(arch, price: dict, acc_bits: int) -> dict:
    """``arch`` as a ZigZag accelerator, after ZigZag's bundled ``tpu_like`` example.

    As in ``tpu_like``: a D1 x D2 systolic array, per-PE weight and output registers, DRAM
    shared by all operands. Changed: the weight register holds one 8-bit weight
    (weight-stationary PEs, as accelsim's ``ws``; tpu_like has 128 bytes), the output
    register one ``acc_bits`` partial sum, both priced 0 (accelsim prices no register or
    inter-PE move by default); tpu_like's 2 MB SRAM shared by inputs and outputs becomes
    accelsim's three buffers with their sizes and widths; energies are accelsim's. Memory
    instances carry accelsim's component names.
    """
    mem = arch.spec.memories
    memories = {
        "weights_reg": _memory(8, 8, ("I2",), 0.0, 0.0, per_pe=True),
        "outputs_reg": _memory(acc_bits, acc_bits, ("O",), 0.0, 0.0, per_pe=True),
    }
    for name, operand in (("inputs", "I1"), ("weights", "I2"), ("outputs", "O")):
        buf = getattr(mem, name)
        memories[f"{name}_sram"] = _memory(
            buf.size_bytes * 8,
            buf.bytes_per_cycle * 8,
            (operand,),
            price[(f"{name}_sram", "read_bytes")],
            price[(f"{name}_sram", "write_bytes")],
        )
    memories["dram"] = _memory(
        10**10,  # tpu_like's DRAM size (bits): holds any layer
        arch.spec.dram.bytes_per_cycle * 8,
        ("I1", "I2", "O"),
        price[("dram", "read_bytes")],
        price[("dram", "write_bytes")],
    )
    return {
        "name": f"{arch.name}_zigzag",
        "memories": memories,
        "operational_array": {
            "unit_energy": price[("pe", "mac")],
            "unit_area": 1,
            "dimensions": ["D1", "D2"],
            "sizes": [arch.cols, arch.rows],
            "systolic_dimensions": ["D1", "D2"],
        },
    }


def zigzag_mapping(arch) -> list:
    """``tpu_like``'s default spatial mapping: K (accelsim's ``n``) on D1, C on D2.

    The same entry is repeated under the operator names so that ZigZag does not warn that
    it fell back to ``default``.
    """
    spatial = {"D1": [f"K, {arch.cols}"], "D2": [f"C, {arch.rows}"]}
    links = {"O": "O", "W": "I2", "I": "I1"}
    return [
        {"name": name, "spatial_mapping": spatial, "memory_operand_links": links}
        for name in ("default", "Conv", "Gemm")
    ]


def zigzag_layer(layer, layer_id: int) -> dict:
    """One accelsim layer as a stand-alone ZigZag workload entry (operands from outside)."""
    q = layer.quant
    entry = {
        "id": layer_id,
        "name": layer.name,
        "operand_precision": {"W": q.w_bits, "I": q.a_bits, "O": q.acc_bits, "O_final": q.out_bits},
        "operand_source": {"I": layer_id, "W": layer_id},
    }
    if layer.type == "fc":
        return {
            **entry,
            "operator_type": "Gemm",
            "equation": "O[b][k]+=I[b][c]*W[c][k]",
            "dimension_relations": [],
            "loop_dims": ["B", "C", "K"],
            "loop_sizes": [layer.m, layer.k, layer.n],
        }
    s = layer.spec
    assert layer.type == "conv" and layer.groups == 1 and pair(s.dilation) == (1, 1), layer.name
    (kh, kw), (sh, sw), (oh, ow) = pair(s.kernel), pair(s.stride), s.out_hw
    return {
        **entry,
        "operator_type": "Conv",
        "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
        "dimension_relations": [f"ix={sw}*ox+1*fx", f"iy={sh}*oy+1*fy"],
        "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
        "loop_sizes": [layer.m // (oh * ow), layer.n, s.in_channels, oh, ow, kh, kw],
        "pr_loop_dims": ["IX", "IY"],
        "pr_loop_sizes": [s.in_w, s.in_h],  # the ifmap as stored, without padding
    }


def run_zigzag(python: str, paths: dict, out: Path, lpf_limit: int, jobs: int) -> None:
    """Run `analysis/zigzag/run_zigzag.py` in ZigZag's Python; it writes ``out`` (JSON)."""
    inputs = [str(paths[k]) for k in ("hardware", "mapping", "workload")]
    cmd = [python, str(HERE / "run_zigzag.py"), *inputs, str(out), f"--lpf-limit={lpf_limit}",
           f"--jobs={jobs}"]  # fmt: skip
    subprocess.run(cmd, check=True)


# --------------------------------------------------------------------------- rows


def zigzag_row(r: dict) -> dict:
    row = {
        "latency_cycles": r["latency_cycles"],
        "compute_cycles": r["ideal_cycles"],
        "mac_energy_pj": r["mac_energy_pj"],
        "tool_energy_pj": r["energy_pj"],
    }
    for lv in LEVELS:
        for q in ("read_bytes", "write_bytes", "energy_pj"):
            row[f"{lv}_{q}"] = r["memories"][lv][q]
    for op, part in OPERANDS.items():
        row[f"dram_read_{part}_bytes"] = r["dram_read_bytes_by_operand"].get(op, 0.0)
    row["mapping"] = "; ".join(
        f"{op}: " + " | ".join(",".join(f"{d}{s:g}" for d, s in lv) or "-" for lv in levels)
        for op, levels in sorted(r["temporal_mapping"].items())
    )
    return row


def accelsim_row(r, layer) -> dict:
    """One row of accelsim's report (a pandas Series) in the comparison's columns."""
    assert r["dataflow"] == "ws" and r["feasible"], (layer.name, r["reason"])
    row = {
        "latency_cycles": r["cycles"],
        "compute_cycles": r["compute_cycles"],
        "mac_energy_pj": r["energy_pe_mac_pj"],
        "tool_energy_pj": r["energy_pj"],
        "dram_read_inputs_bytes": r["dram_inputs_read_bytes"],
        "dram_read_weights_bytes": r["dram_weights_read_bytes"],
        "dram_read_psums_bytes": r["dram_psum_spill_bytes"],
    }
    for lv in LEVELS:
        for q in ("read", "write"):
            row[f"{lv}_{q}_bytes"] = r[f"{lv}_{q}_bytes"]
        row[f"{lv}_energy_pj"] = r[f"energy_{lv}_read_pj"] + r[f"energy_{lv}_write_pj"]
    tiles = {d: int(r[f"tile_{d}"]) for d in "mnk"}
    order = tuple(r["loop_order"])
    trips = {d: -(-getattr(layer, d) // tiles[d]) for d in "mnk"}
    row["dram_read_inputs_halo_bytes"] = (
        halo_input_elements(layer, tiles["m"], tiles["k"])
        * int(refetch(order, trips, "inputs"))
        * layer.quant.a_bits
        / 8
    )
    row["mapping"] = f"tile m{tiles['m']} n{tiles['n']} k{tiles['k']}, loops {''.join(order)}"
    return {k: (float(v) if k != "mapping" else v) for k, v in row.items()}


def halo_input_elements(layer, tm: int, tk: int) -> int:
    """Distinct ifmap elements summed over the ``tm x tk`` tiles of the im2col matrix."""
    if layer.type != "conv":
        return layer.m * layer.k * layer.groups
    from accelsim.reference.gemm import im2col

    s = layer.spec
    batch = layer.m // (s.out_hw[0] * s.out_hw[1])
    index = np.arange(1, batch * s.in_channels * s.in_h * s.in_w + 1, dtype=np.int64)
    x = index.reshape(batch, s.in_channels, s.in_h, s.in_w)
    cols, _, _ = im2col(x, *pair(s.kernel), pair(s.stride), pads(s.padding), pair(s.dilation))
    return sum(
        np.count_nonzero(np.unique(cols[m0 : m0 + tm, k0 : k0 + tk]))  # 0 = padding
        for m0 in range(0, layer.m, tm)
        for k0 in range(0, layer.k, tk)
    )


def with_energy(row: dict) -> dict:
    return {**row, "energy_pj": row["mac_energy_pj"] + sum(row[f"{lv}_energy_pj"] for lv in LEVELS)}


def total(rows: list[dict]) -> dict:
    keys = [k for k in NUMERIC if any(k in row for row in rows)]
    return {k: sum(row.get(k, 0.0) for row in rows) for k in keys}


def ratios(a: dict, z: dict) -> dict:
    return {k: a[k] / z[k] for k in NUMERIC if k in a and z.get(k)}


# --------------------------------------------------------------------------- output

SHOW = (  # console table: (column, header, format)
    ("latency_cycles", "cycles", ".4g"),
    ("energy_pj", "E pJ", ".4g"),
    ("dram_energy_pj", "E dram", ".3g"),
    ("inputs_sram_energy_pj", "E in", ".3g"),
    ("weights_sram_energy_pj", "E w", ".3g"),
    ("outputs_sram_energy_pj", "E out", ".3g"),
    ("dram_read_inputs_bytes", "DRAM in", ".4g"),
    ("dram_read_inputs_halo_bytes", "in+halo", ".4g"),
    ("dram_read_weights_bytes", "DRAM w", ".4g"),
    ("dram_write_bytes", "DRAM wr", ".4g"),
    ("weights_sram_read_bytes", "wSRAM rd", ".4g"),
    ("outputs_sram_write_bytes", "oSRAM wr", ".4g"),
)


def table(rows: list[dict]) -> str:
    lines = [f"{'layer':<19} {'tool':<19}" + "".join(f"{h:>10}" for _, h, _ in SHOW)]
    for row in rows:
        cells = [f"{row[k]:>10{f}}" if k in row else f"{'':>10}" for k, _, f in SHOW]
        lines.append(f"{row['layer']:<19} {row['tool']:<19}" + "".join(cells))
    return "\n".join(lines)


def capacity_matched(arch, price: dict, acc_bits: int, out_bits: int):
    """``arch`` with each buffer enlarged so that accelsim's tiles get the capacity ZigZag
    gives one copy of a tile: double-buffered inputs and weights x2, outputs (accumulating
    at ``acc_bits`` while draining at ``out_bits``) x (acc + out) / acc. Per-byte energies
    stay those of the original buffers."""
    mem = arch.spec.memories
    scale = {
        "inputs": 2,
        "weights": 2,
        "outputs": (acc_bits + out_bits) / acc_bits,
    }
    changes = {}
    for name, factor in scale.items():
        changes[f"memories.{name}.size_bytes"] = int(getattr(mem, name).size_bytes * factor)
        for action in ("read", "write"):
            changes[f"memories.{name}.{action}_pj_per_byte"] = price[
                (f"{name}_sram", f"{action}_bytes")
            ]
    return with_changes(arch, changes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--zigzag-python",
        default=os.environ.get("ZIGZAG_PYTHON", "/work/venvs/zigzag/bin/python"),
        help="a Python with zigzag-dse and six installed (default: $ZIGZAG_PYTHON or %(default)s)",
    )
    ap.add_argument("--lpf-limit", type=int, default=7, help="ZigZag LOMA loop prime factor limit")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="ZigZag processes")
    ap.add_argument("--reuse", action="store_true", help=f"reuse ZigZag's results in {RAW.name}")
    args = ap.parse_args(argv)
    if args.reuse and not RAW.exists():  # analysis/out/ is not in git: a fresh clone lacks it
        print(
            f"--reuse: no saved ZigZag results at {RAW}. --reuse reuses the results of an "
            "earlier run without --reuse; run `python analysis/zigzag_compare.py` first, which "
            f"needs ZigZag's own venv (--zigzag-python, default $ZIGZAG_PYTHON or "
            f"/work/venvs/zigzag/bin/python; now {args.zigzag_python}): "
            "python3 -m venv DIR && DIR/bin/pip install zigzag-dse six",
            file=sys.stderr,
        )
        return 2
    start = time.time()
    OUT.parent.mkdir(parents=True, exist_ok=True)

    arch = accelsim.load_arch(ARCH)
    workloads = {w: accelsim.load_workload(ROOT / "workloads" / f"{w}.yaml") for w in LAYERS}
    layers = [workloads[w].layer(name) for w, names in LAYERS.items() for name in names]
    price = prices(arch, layers)
    # one set of bit-widths (the encodings, uint or int activations, do not change costs here)
    ((a_bits, w_bits, acc_bits, out_bits),) = {
        (q.a_bits, q.w_bits, q.acc_bits, q.out_bits) for q in (la.quant for la in layers)
    }
    assert (a_bits, w_bits) == (8, 8), "the ZigZag registers are built for 8-bit operands"

    inputs = {
        "hardware": zigzag_hardware(arch, price, acc_bits),
        "mapping": zigzag_mapping(arch),
        "workload": [zigzag_layer(la, i) for i, la in enumerate(layers)],
    }
    paths = {kind: HERE / f"zigzag_{kind}.yaml" for kind in inputs}
    if args.reuse:  # ZigZag's results stand only for the inputs this accelsim would give it
        stale = [k for k, data in inputs.items() if yaml.safe_load(paths[k].read_text()) != data]
        if stale:
            print(f"--reuse: ZigZag's inputs changed ({', '.join(stale)}); run without it",
                  file=sys.stderr)  # fmt: skip
            return 2
    else:
        if not Path(args.zigzag_python).exists():
            hint = "python3 -m venv DIR && DIR/bin/pip install zigzag-dse six"
            print(f"no ZigZag Python at {args.zigzag_python} ({hint})", file=sys.stderr)
            return 2
        header = "# generated by analysis/zigzag_compare.py -- do not edit by hand\n"
        for kind, data in inputs.items():
            paths[kind].write_text(header + yaml.safe_dump(data, sort_keys=False), "utf-8")
        run_zigzag(args.zigzag_python, paths, RAW, args.lpf_limit, args.jobs)
    zz = {r["name"]: zigzag_row(r) for r in json.loads(RAW.read_text("utf-8"))}

    designs = {"accelsim": arch, "accelsim-cap": capacity_matched(arch, price, acc_bits, out_bits)}
    frames = {
        (tool, w): accelsim.simulate(design, wl, objective="energy").layers.set_index("name")
        for tool, design in designs.items()
        for w, wl in workloads.items()
    }
    tools = ("zigzag", *designs)
    by_layer = {
        name: {
            "zigzag": zz[name],
            **{t: accelsim_row(frames[t, w].loc[name], workloads[w].layer(name)) for t in designs},
        }
        for w, names in LAYERS.items()
        for name in names
    }
    by_layer["TOTAL"] = {tool: total([t[tool] for t in by_layer.values()]) for tool in tools}
    rows = []
    for name, per_tool in by_layer.items():
        per_tool = {tool: with_energy(row) for tool, row in per_tool.items()}
        rows += [{"layer": name, "tool": tool, **row} for tool, row in per_tool.items()]
        rows += [
            {"layer": name, "tool": f"{t}/zigzag", **ratios(per_tool[t], per_tool["zigzag"])}
            for t in designs
        ]

    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})

    print(table(rows))
    print("\nprices (accelsim's, copied into ZigZag), pJ per action:")
    for (component, action), value in price.items():
        print(f"  {component:>13} {action:<20} {value:.4f}")
    print("\nmappings:")
    for row in rows:
        if "mapping" in row:
            print(f"  {row['layer']:<20} {row['tool']:<13} {row['mapping']}")
    print(f"\nwrote {OUT} ({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
