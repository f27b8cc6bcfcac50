"""Count first, then price (accelsim/energy.py): energies, TOPS/W, area, overrides,
technology ranges."""

import json

import numpy as np
import pytest
from conftest import QUANT, ROOT

import accelsim
from accelsim.arch import with_changes
from accelsim.energy import unit_prices
from accelsim.model import layer_arrays
from accelsim.technology import technology

ARCH = """\
name: a
array: {{rows: 4, cols: 4, dataflow: ws, clock_mhz: 100}}
pe: {{kind: int_mac, max_a_bits: 8, max_w_bits: 8}}
memories:
  inputs: {{size_bytes: 8192, bytes_per_cycle: 64}}
  weights: {{size_bytes: 8192, bytes_per_cycle: 64}}
  outputs: {{size_bytes: 8192, bytes_per_cycle: 64}}
dram: {{bytes_per_cycle: 8, kind: ddr3}}
technology: {{node_nm: 45, voltage_v: {v}}}
"""
LAYER = "  - {name: g, type: matmul, m: 8, n: 8, k: 16}\n"


def _load(write, v=0.9, quant=QUANT, arch_text=None):
    arch = accelsim.load_arch(write("a.yaml", arch_text or ARCH.format(v=v)))
    wl = accelsim.load_workload(
        write("w.yaml", f"name: w\nbatch: 1\nquant: {quant}\nlayers:\n{LAYER}")
    )
    return arch, wl


def test_energy_is_counts_times_prices(write):
    """m=8, n=8, k=16 on a 4x4 ws array, energy objective (tiles (8, 8, 4), see
    test_energy_objective_tiles_for_least_energy): 1024 MACs at 8x8 bits; each MAC moves its
    8-bit input right and its 32-bit partial sum down (5 bytes); DRAM 256 bytes read and 64
    written; leakage for every one of the layer's cycles. The layer energy is the sum of
    count x unit price over exactly these actions."""
    arch, wl = _load(write)
    report = accelsim.simulate(arch, wl, objective="energy")
    row = report.layer_records()[0]
    prices = unit_prices(arch, technology(45, 0.9, "ddr3"), layer_arrays(wl.layers, arch.pe))
    mac = float(np.asarray(prices[("pe", "mac")])[0])
    assert mac == pytest.approx(technology(45, 0.9).mac_pj(8, 8))
    assert row["energy_pe_mac_pj"] == pytest.approx(1024 * mac)
    hop = prices[("pe", "operand_move_bytes")]
    assert row["energy_pe_operand_move_pj"] == pytest.approx(1024 * 5 * hop)
    dram = prices[("dram", "read_bytes")]
    assert row["energy_dram_read_pj"] == pytest.approx(256 * dram)
    assert row["energy_dram_write_pj"] == pytest.approx(64 * dram)
    parts = [v for k, v in row.items() if k.startswith("energy_") and k != "energy_pj"]
    assert row["energy_pj"] == pytest.approx(sum(parts))
    assert report.total["tops_per_w"] == pytest.approx(2 * 1024 / row["energy_pj"])
    assert sum(report.energy_breakdown.values()) == pytest.approx(report.total["energy_pj"])


def test_energy_objective_tiles_for_least_energy(write):
    """The layer of tests/test_memory.py::test_tiling_hand_derived on 8 KiB buffers with
    DDR3: the latency objective takes tiles (8, 4, 4), 154 cycles, reading the inputs twice
    (384 DRAM bytes read); the energy objective takes (8, 8, 4), 160 cycles, reading each
    operand once (256): 128 DRAM bytes fewer at DDR3's pJ/byte save more than 6 cycles of
    the chip's leakage cost, so its energy is lower and its cycles higher."""
    arch, wl = _load(write)
    fast, lean = (accelsim.simulate(arch, wl, objective=o).layer_records()[0]
                  for o in ("latency", "energy"))  # fmt: skip
    tiles = [(r["tile_m"], r["tile_n"], r["tile_k"]) for r in (fast, lean)]
    assert tiles == [(8, 4, 4), (8, 8, 4)]
    assert (fast["cycles"], lean["cycles"]) == (154, 160)
    assert (fast["dram_read_bytes"], lean["dram_read_bytes"]) == (384, 256)
    dram = unit_prices(arch, technology(45, 0.9, "ddr3"), layer_arrays(wl.layers, arch.pe))[
        ("dram", "read_bytes")
    ]
    saved = 128 * dram
    leaked = lean["energy_chip_leakage_pj"] - fast["energy_chip_leakage_pj"]
    assert 0 < leaked < saved
    assert lean["energy_pj"] < fast["energy_pj"]


def test_dynamic_energy_scales_with_voltage_squared(write):
    """Horowitz's 45 nm figures are at 0.9 V; at 0.7 V every dynamic action costs (0.7/0.9)^2."""
    hi = accelsim.simulate(*_load(write, 0.9)).layer_records()[0]
    lo = accelsim.simulate(*_load(write, 0.7)).layer_records()[0]
    assert lo["energy_pe_mac_pj"] / hi["energy_pe_mac_pj"] == pytest.approx((0.7 / 0.9) ** 2)
    assert lo["energy_dram_read_pj"] == pytest.approx(
        hi["energy_dram_read_pj"]
    )  # DRAM: no node/V scaling


def test_fewer_operand_bits_cost_less_mac_energy_not_quadratically(write):
    """BitFusion's released 45 nm fixed-point MACs: 8x8 -> 4x4 saves about 2.5x (not 4x)."""
    e8 = accelsim.simulate(*_load(write)).layer_records()[0]["energy_pe_mac_pj"]
    q4 = QUANT.replace("a_bits: 8", "a_bits: 4").replace("w_bits: 8", "w_bits: 4")
    e4 = accelsim.simulate(*_load(write, quant=q4)).layer_records()[0]["energy_pe_mac_pj"]
    assert 2.2 < e8 / e4 < 2.8


def test_overrides_replace_the_technology_defaults(write):
    text = ARCH.format(v=0.9).replace("kind: ddr3}", "kind: ddr3, pj_per_byte: 100}")
    text = text.replace(
        "voltage_v: 0.9}", "voltage_v: 0.9, mac_pj_scale: 2.0, register_pj_per_byte: 0.5}"
    )
    base = accelsim.simulate(*_load(write), objective="energy").layer_records()[0]
    over = accelsim.simulate(*_load(write, arch_text=text), objective="energy").layer_records()[0]
    assert over["energy_dram_read_pj"] == pytest.approx(256 * 100)
    assert over["energy_pe_mac_pj"] == pytest.approx(2 * base["energy_pe_mac_pj"])
    # operand hops are counted but free by default (the synthesized PE includes its
    # registers); priced when the arch says so: 1024 MACs x 5 bytes x 0.5 pJ
    assert base["energy_pe_operand_move_pj"] == 0
    assert over["energy_pe_operand_move_pj"] == pytest.approx(1024 * 5 * 0.5)


def test_banked_buffer_priced_per_bank(write):
    """The 8 KB input buffer as 4 banks of 2 KB: the same bytes move, each access touches one
    2 KB macro. Horowitz's fit E64 ∝ C^0.4726 (technology.yaml, sram.read) gives a per-byte
    read energy (2048 / 8192)^0.4726 = 0.519 of the unbanked one; the area is four 2 KB
    macros (more periphery than one 8 KB macro)."""
    text = ARCH.format(v=0.9).replace(
        "inputs: {size_bytes: 8192, bytes_per_cycle: 64}",
        "inputs: {size_bytes: 8192, bytes_per_cycle: 64, banks: 4}",
    )
    base = accelsim.simulate(*_load(write))
    banked = accelsim.simulate(*_load(write, arch_text=text))
    b, k = base.layer_records()[0], banked.layer_records()[0]
    assert k["inputs_sram_read_bytes"] == b["inputs_sram_read_bytes"] > 0
    ratio = (2048 / 8192) ** 0.4726
    assert k["energy_inputs_sram_read_pj"] == pytest.approx(
        ratio * b["energy_inputs_sram_read_pj"], rel=1e-3
    )
    assert k["energy_inputs_sram_write_pj"] == pytest.approx(
        ratio * b["energy_inputs_sram_write_pj"], rel=1e-3
    )
    assert k["energy_weights_sram_read_pj"] == pytest.approx(b["energy_weights_sram_read_pj"])
    tech = technology(45, 0.9)
    assert banked.area_um2["inputs_sram"] == pytest.approx(4 * float(tech.sram_area_um2(2048)))
    assert banked.area_um2["inputs_sram"] > base.area_um2["inputs_sram"]


def test_window_reuse_reads_each_ifmap_element_once_per_pass(write):
    """A 3x3 conv, padding 1, 4 -> 8 channels on an 8x8 ifmap: GEMM M = 64, K = 36, N = 8.
    The im2col matrix has 64 * 36 = 2304 elements, the ifmap 4 * 8 * 8 = 256: share = 1/9.
    Fed through a sliding-window loader the input buffer is read 1/9 as much (same tiling,
    same DRAM traffic, same compute); nothing else changes."""
    conv = "{name: c, type: conv, in_channels: 4, out_channels: 8, in_h: 8, in_w: 8, kernel: 3, padding: 1}"
    wl = accelsim.load_workload(
        write("w.yaml", f"name: w\nbatch: 1\nquant: {QUANT}\nlayers:\n  - {conv}\n")
    )
    text = ARCH.format(v=0.9)
    reuse = text.replace(
        "inputs: {size_bytes: 8192,", "inputs: {window_reuse: true, size_bytes: 8192,"
    )
    base = accelsim.simulate(accelsim.load_arch(write("a.yaml", text)), wl).layer_records()[0]
    win = accelsim.simulate(accelsim.load_arch(write("b.yaml", reuse)), wl).layer_records()[0]
    assert (base["m"], base["n"], base["k"]) == (64, 8, 36)
    assert base["inputs_sram_read_bytes"] > 0
    assert win["inputs_sram_read_bytes"] == pytest.approx(base["inputs_sram_read_bytes"] / 9)
    assert win["energy_inputs_sram_read_pj"] == pytest.approx(
        base["energy_inputs_sram_read_pj"] / 9
    )
    for same in ("dram_read_bytes", "weights_sram_read_bytes", "compute_cycles", "tile_k"):
        assert win[same] == base[same]


def test_tpu_v1_peak_and_area():
    """Jouppi et al., ISCA 2017: 65,536 8-bit MACs at 700 MHz = 91.75 peak TOPS."""
    arch = accelsim.load_arch(ROOT / "arch_configs" / "tpu_v1_like.yaml")
    report = accelsim.simulate(arch, accelsim.load_workload(ROOT / "workloads" / "resnet50.yaml"))
    assert (
        report.total["peak_tops"]
        == pytest.approx(2 * 65536 * 700e6 / 1e12)
        == pytest.approx(91.75, abs=0.01)
    )
    assert report.total["area_mm2"] == pytest.approx(sum(report.area_um2.values()) / 1e6)
    assert report.total["tops_per_mm2"] == pytest.approx(
        report.total["tops"] / report.total["area_mm2"]
    )
    js = json.loads(report.to_json())
    assert {"energy_pj", "tops_per_w", "area_mm2", "dram_bytes", "stall_cycles"} <= set(js["total"])
    assert {"energy_pj", "dram_bytes", "stall_cycles"} <= set(js["layers"][0])


def test_non_gemm_work_costed_on_the_vector_unit(write):
    """A max pool over 4x8x8 with 2x2 windows reads 256 elements: 256/16 = 16 cycles on a
    16-lane vector unit."""
    text = ARCH.format(v=0.9) + "vector_unit: {lanes: 16}\n"
    arch = accelsim.load_arch(write("a.yaml", text))
    layer = "  - {name: p, type: pool, pool: max, channels: 4, in_h: 8, in_w: 8, kernel: 2, stride: 2}\n"
    wl = accelsim.load_workload(
        write("w.yaml", f"name: w\nbatch: 1\nquant: {QUANT}\nlayers:\n{layer}")
    )
    row = accelsim.simulate(arch, wl).layer_records()[0]
    assert (row["costed"], row["cycles"]) == (True, 16)
    assert row["energy_pj"] > 0


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (("voltage_v: 0.9", "voltage_v: 1.5"), r"technology: .*allowed range 0\.550\.\.1\.100 V at 45 nm"),
        (("node_nm: 45", "node_nm: 3"), r"technology: .*7\.\.180 nm"),
        (("kind: ddr3", "kind: ddr9"), r"dram\.kind: unknown DRAM kind 'ddr9' \(did you mean 'ddr3'\?\)"),
        (("bytes_per_cycle: 8,", "bytes_per_cycle: 0,"), r"dram\.bytes_per_cycle: out of range; found 0"),
        (("size_bytes: 8192, bytes_per_cycle: 64}\n  weights", "size_bytes: -1, bytes_per_cycle: 64}\n  weights"), r"memories\.inputs\.size_bytes: out of range; found -1"),
        (("bytes_per_cycle: 64}\n  outputs", "bytes_per_cycle: 64, banks: 0}\n  outputs"), r"memories\.weights\.banks: out of range; found 0"),
        (("bytes_per_cycle: 64}\n  outputs", "bytes_per_cycle: 64, window_reuse: true}\n  outputs"), r"memories\.weights\.window_reuse: unknown key"),
    ],
)  # fmt: skip
def test_bad_technology_and_memory_values(write, change, match):
    with pytest.raises(accelsim.ConfigError, match=match):
        accelsim.load_arch(write("a.yaml", ARCH.format(v=0.9).replace(*change)))


def test_memories_without_dram_is_an_error(write):
    text = ARCH.format(v=0.9).replace("dram: {bytes_per_cycle: 8, kind: ddr3}\n", "")
    with pytest.raises(accelsim.ConfigError, match="memories and dram go together"):
        accelsim.load_arch(write("a.yaml", text))


@pytest.mark.parametrize("density", [0.0, 2.0, 35.5])
def test_leakage_density_override(density):
    """``technology.leakage_nw_per_um2: d`` replaces the table's leakage density: the chip
    leaks d nW per um^2 of its modelled area, i.e. d * area_um2 * 1e-9 W, which over one
    cycle of a clock f is d * area_um2 * 1e-9 / f * 1e12 pJ; a layer of c cycles pays c
    times that. Nothing else changes."""
    base = accelsim.load_arch(ROOT / "arch_configs" / "edge_32x32.yaml")
    arch = with_changes(base, {"technology.leakage_nw_per_um2": density})
    wl = accelsim.load_workload(ROOT / "workloads" / "resnet18.yaml")
    report, plain = accelsim.simulate(arch, wl), accelsim.simulate(base, wl)
    per_cycle = density * report.total["area_mm2"] * 1e6 * 1e-9 / arch.clock_hz * 1e12
    leak = np.nan_to_num(report.layers["energy_chip_leakage_pj"].to_numpy())
    cycles = np.nan_to_num(report.layers["cycles"].to_numpy(dtype=float))
    gemm = np.nan_to_num(report.layers["macs"].to_numpy(dtype=float)) > 0
    assert leak[gemm] == pytest.approx(cycles[gemm] * per_cycle, rel=1e-9, abs=1e-9)
    assert report.total["cycles"] == plain.total["cycles"]
    other = report.total["energy_pj"] - np.nansum(leak)
    plain_leak = np.nansum(plain.layers["energy_chip_leakage_pj"].to_numpy())
    assert other == pytest.approx(plain.total["energy_pj"] - plain_leak, rel=1e-9)


def test_negative_leakage_density_is_a_config_error(write):
    path = write("a.yaml", (ROOT / "arch_configs" / "edge_32x32.yaml").read_text()
                 .replace("technology: {", "technology: {leakage_nw_per_um2: -1, "))  # fmt: skip
    with pytest.raises(accelsim.ConfigError, match=r"technology.leakage_nw_per_um2"):
        accelsim.load_arch(path)
