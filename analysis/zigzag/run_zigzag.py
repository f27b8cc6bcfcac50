"""Run ZigZag on each layer of a workload YAML and write plain numbers as JSON.

Runs in ZigZag's own venv (``pip install zigzag-dse six``; ZigZag 3.9.1 needs ``six`` and
does not declare it) and imports nothing from accelsim; `analysis/zigzag_compare.py` calls
it as a subprocess::

    python run_zigzag.py HARDWARE.yaml MAPPING.yaml WORKLOAD.yaml OUT.json [--lpf-limit 7]

Each layer is searched on its own (``opt="energy"``, LOMA), one process per layer. Per
layer, the JSON holds ZigZag's latency (``latency_total2``), ideal temporal cycles, MAC
energy, total energy, its temporal mapping, and per memory instance the bytes read and
written (accesses x port width / 8) and their energy; DRAM reads are also split by operand.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor

import yaml


def run_layer(job: tuple) -> dict:
    entry, hardware, mapping, lpf_limit = job
    logging.basicConfig(level=logging.WARNING)  # ZigZag's own basicConfig is then a no-op
    from zigzag.api import get_hardware_performance_zigzag
    from zigzag.hardware.architecture.memory_port import DataDirection as D

    with tempfile.TemporaryDirectory() as dump:
        _, latency, cmes = get_hardware_performance_zigzag(
            [entry], hardware, mapping, opt="energy", dump_folder=dump,
            lpf_limit=lpf_limit, loma_show_progress_bar=False,
        )  # fmt: skip
    cme = cmes[0][1][0][0]
    memories: dict = {}
    dram_read: dict = {}
    for layer_op, accesses in cme.memory_word_access.items():
        mem_op = cme.memory_operand_links.layer_to_mem_op(layer_op)
        levels = cme.accelerator.memory_hierarchy.get_memory_levels(mem_op)
        energies = cme.mem_energy_breakdown_further[layer_op]
        for access, level, energy in zip(accesses, levels, energies):
            n = {
                d: access.get(d) * level.get_max_bandwidth(mem_op, d) / 8
                for d in D
                if access.get(d)
            }
            mem = memories.setdefault(
                level.name, {"read_bytes": 0, "write_bytes": 0, "energy_pj": 0}
            )
            read = n.get(D.RD_OUT_TO_LOW, 0) + n.get(D.RD_OUT_TO_HIGH, 0)
            mem["read_bytes"] += read
            mem["write_bytes"] += n.get(D.WR_IN_BY_HIGH, 0) + n.get(D.WR_IN_BY_LOW, 0)
            mem["energy_pj"] += sum(energy.get(d) for d in D)
            if level.name == "dram":
                dram_read[str(layer_op)] = read
    temporal = cme.temporal_mapping.mapping_dic_stationary
    return {
        "name": entry["name"],
        "latency_cycles": float(latency),
        "ideal_cycles": float(cme.ideal_temporal_cycle),
        "mac_energy_pj": float(cme.mac_energy),
        "energy_pj": float(cme.energy_total),
        "memories": memories,
        "dram_read_bytes_by_operand": dram_read,
        # loops per memory level (innermost level first) of each operand
        "temporal_mapping": {
            str(op): [[[str(d), float(s)] for d, s in level] for level in levels]
            for op, levels in temporal.items()
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("hardware", "mapping", "workload", "out"):
        ap.add_argument(name)
    ap.add_argument("--lpf-limit", type=int, default=7, help="LOMA loop prime factor limit")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    with open(args.workload, encoding="utf-8") as fh:
        layers = yaml.safe_load(fh)
    jobs = [(entry, args.hardware, args.mapping, args.lpf_limit) for entry in layers]
    with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, len(jobs)))) as pool:
        results = list(pool.map(run_layer, jobs))
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
