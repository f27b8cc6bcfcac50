"""Technology model: published points reproduced, scaling laws, validation (DESIGN.md §5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.technology import (
    Technology,
    _energy_poly,
    node_area_factor,
    node_energy_factor,
    nominal_voltage,
    technology,
    technology_data,
    voltage_range,
)

BASE = technology(45, 0.9)  # Horowitz ISSCC 2014's table point: 45 nm, 0.9 V


@pytest.mark.parametrize(
    "op, bits, pj",
    [("add", 8, 0.03), ("add", 16, 0.05), ("add", 32, 0.1), ("mul", 8, 0.2), ("mul", 32, 3.1)],
)
def test_horowitz_integer_ops(op, bits, pj):
    """Horowitz, ISSCC 2014, 45 nm 0.9 V: int add 8/16/32 bit 0.03/0.05/0.1 pJ, int mult
    8/32 bit 0.2/3.1 pJ. The vector-op model passes through them exactly."""
    assert float(BASE.vector_op_pj(op, bits)) == pytest.approx(pj, rel=1e-9)


@pytest.mark.parametrize("size, pj_per_64b", [(8192, 10.0), (32768, 20.0), (1 << 20, 100.0)])
def test_horowitz_sram_reads_within_fit_tolerance(size, pj_per_64b):
    """Horowitz, ISSCC 2014: 64-bit SRAM read 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB).
    The stated power-law fit is within 3% of each (+1.6%, -2.2%, +0.6%)."""
    assert float(BASE.sram_read_pj_per_byte(size)) * 8 == pytest.approx(pj_per_64b, rel=0.03)


def test_horowitz_dram_range_and_no_node_scaling():
    """Horowitz, ISSCC 2014: DRAM 1.3-2.6 nJ per 64-bit access (keyed lpddr / ddr3); DRAM
    energy does not follow the logic node or supply."""
    low = technology(45, 0.9, dram="lpddr").dram_pj_per_byte() * 8
    high = technology(45, 0.9, dram="ddr3").dram_pj_per_byte() * 8
    assert (low, high) == pytest.approx((1300.0, 2600.0))
    assert technology(7, dram="ddr3").dram_pj_per_byte() * 8 == pytest.approx(2600.0)
    assert technology(180, 1.0, dram="ddr3").dram_pj_per_byte() * 8 == pytest.approx(2600.0)


def test_dram_kinds_per_bit():
    """O'Connor et al., MICRO 2017: HBM2 ~3.97 pJ/bit, GDDR5 ~14 pJ/bit (Fig. 1a); Ha,
    Stanford thesis 2018: LPDDR4 (32 Gb SDP) 14.0 pJ/bit."""
    assert technology(45, dram="hbm2").dram_pj_per_byte() == pytest.approx(8 * 3.97)
    assert technology(45, dram="gddr5").dram_pj_per_byte() == pytest.approx(8 * 14.0)
    assert technology(45).dram_pj_per_byte() == pytest.approx(8 * 14.0)  # lpddr4 default
    with pytest.raises(ValueError, match="known kinds"):
        technology(45, dram="sdr")


# hsharma35/bitfusion results/systolic_array_synth.csv, N=4, M=4, fixed precision rows:
# (bits, area um^2, dynamic power nW) for the 16-PE array at 500 MHz
BITFUSION_FIXED = [
    (2, 1297.069191, 325616),
    (4, 3066.008364, 659402),
    (8, 8171.729995, 1627500),
    (16, 26870.48336, 4821500),
]


@pytest.mark.parametrize("bits, area, dyn_nw", BITFUSION_FIXED)
def test_bitfusion_fixed_mac_points(bits, area, dyn_nw):
    """Bit Fusion (ISCA 2018) released synthesis, systolic_array_synth.csv rows N=4, M=4,
    Max = Min precision: per-PE energy = dynamic power / 16 / 500 MHz, per-PE area =
    area / 16. The fit stays within 1% (energy) and 3% (area) of each point."""
    assert float(BASE.mac_pj(bits, bits)) == pytest.approx(dyn_nw / 16 / 500e6 * 1e3, rel=0.01)
    assert float(BASE.mac_area_um2(bits, bits)) == pytest.approx(area / 16, rel=0.03)


def test_bitfusion_8x8_to_4x4_saves_2_5x_not_4x():
    """Bit Fusion's synthesis data: 8x8 -> 4x4 saves 1627500/659402 = 2.47x, not the 4x a
    pure a_bits*w_bits law would give (DESIGN.md §5)."""
    ratio = float(BASE.mac_pj(8, 8) / BASE.mac_pj(4, 4))
    assert ratio == pytest.approx(1627500 / 659402, rel=0.01)
    assert 2.3 < ratio < 2.7


def test_mac_monotone_and_sane_extrapolation():
    """Energy and area never decrease when either operand widens (1..32 bits); asymmetric
    pairs land between the symmetric ones around them."""
    b = np.arange(1, 33)
    a, w = np.meshgrid(b, b, indexing="ij")
    for f in (BASE.mac_pj, BASE.mac_area_um2):
        grid = f(a, w)
        assert np.all(np.diff(grid, axis=0) >= 0) and np.all(np.diff(grid, axis=1) >= 0)
        assert np.all(grid > 0)
    assert BASE.mac_pj(4, 4) < BASE.mac_pj(8, 4) < BASE.mac_pj(8, 8)
    assert BASE.mac_pj(1, 1) < BASE.mac_pj(16, 1) < BASE.mac_pj(16, 16)


@pytest.mark.parametrize("bad", [0, 33, 2.5, -1])
def test_operand_bits_validated(bad):
    with pytest.raises(ValueError, match=r"1\.\.32"):
        BASE.mac_pj(bad, 8)


# Stillmaker & Baas 2017, area scaling table, row 45 nm (area at node / area at 45 nm)
STILLMAKER_AREA = {180: 19, 130: 6.4, 90: 2.8, 65: 1.5, 45: 1.0, 32: 0.46, 20: 0.21,
                   16: 0.19, 14: 0.17, 10: 0.1, 7: 0.059}  # fmt: skip
# Stillmaker & Baas 2017, Table 5 energy polynomials a*V^2 + b*V + c (HP for 45..7 nm)
STILLMAKER_ENERGY = {
    180: (0.0, 24.64, -17.98), 130: (7.171, -6.709, 2.904), 90: (4.762, -4.781, 2.092),
    65: (3.755, -4.398, 1.975), 45: (1.018, -0.3107, 0.1539), 32: (0.8367, -0.4341, 0.1701),
    20: (0.373, -0.1582, 0.04104), 16: (0.2958, -0.1241, 0.03024),
    14: (0.2363, -0.09675, 0.02239), 10: (0.2068, -0.09311, 0.02375),
    7: (0.1776, -0.09097, 0.02447),
}  # fmt: skip
# nominal supplies: PTM HP cards (45, 32 nm), PTM-MG ITRS-2011 param.inc (20..7 nm), assumed
VNOM = {180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1, 45: 1.0, 32: 0.9, 20: 0.9, 16: 0.86,
        14: 0.86, 10: 0.83, 7: 0.8}  # fmt: skip


@pytest.mark.parametrize("node", sorted(STILLMAKER_AREA))
def test_node_factors_equal_table_at_tabulated_nodes(node):
    """Area factor = Stillmaker & Baas's table; energy factor = P_n(Vnom_n) / P_45(Vnom_45)
    with their Table 5 polynomials."""
    assert node_area_factor(node) == pytest.approx(STILLMAKER_AREA[node], rel=1e-12)
    a, b, c = STILLMAKER_ENERGY[node]
    a45, b45, c45 = STILLMAKER_ENERGY[45]
    want = (a * VNOM[node] ** 2 + b * VNOM[node] + c) / (a45 + b45 + c45)
    assert node_energy_factor(node) == pytest.approx(want, rel=1e-12)
    assert nominal_voltage(node) == pytest.approx(VNOM[node])


def test_stillmaker_corrigendum_example():
    """Stillmaker & Baas corrigendum (Sec. 4.2.1 example, Table 5): EnergyFactor(32 nm HP,
    0.9 V) = 0.4571 and EnergyFactor(65 nm, 1.3 V) = 2.604."""
    assert _energy_poly(32, 0.9) == pytest.approx(0.4571, abs=5e-5)
    assert _energy_poly(65, 1.3) == pytest.approx(2.604, abs=5e-4)


def test_intermediate_nodes_log_log_interpolated():
    """Nodes not in the table (40, 28, 22 nm) are log-log interpolated between neighbours."""
    mid = math.sqrt(32 * 20)
    assert node_area_factor(mid) == pytest.approx(math.sqrt(0.46 * 0.21))
    for node in (40, 28, 22):
        assert technology(node).mac_pj(8, 8) > 0
    nodes = np.linspace(7, 180, 200)
    area = [node_area_factor(n) for n in nodes]
    energy = [node_energy_factor(n) for n in nodes]
    assert np.all(np.diff(area) > 0) and np.all(np.diff(energy) > 0)


@pytest.mark.parametrize("node", [5, 6.9, 180.5, 250])
def test_node_outside_range_rejected(node):
    with pytest.raises(ValueError, match=r"7\.\.180 nm"):
        technology(node)
    with pytest.raises(ValueError, match=r"7\.\.180 nm"):
        nominal_voltage(node)


@pytest.mark.parametrize("node, volts", [(28, 0.7), (45, 0.9), (65, 0.63), (7, 0.5)])
def test_dynamic_energy_follows_v_squared(node, volts):
    """E_dyn ~ C V^2: at a fixed node every dynamic energy scales by (V / Vnom)^2."""
    nom, at_v = technology(node), technology(node, volts)
    k = (volts / nominal_voltage(node)) ** 2
    assert float(at_v.mac_pj(8, 8) / nom.mac_pj(8, 8)) == pytest.approx(k)
    assert float(at_v.sram_read_pj_per_byte(4096) / nom.sram_read_pj_per_byte(4096)) == (
        pytest.approx(k)
    )
    assert float(at_v.vector_op_pj("exp", 16) / nom.vector_op_pj("exp", 16)) == pytest.approx(k)
    assert at_v.dram_pj_per_byte() == nom.dram_pj_per_byte()


def test_45nm_nominal_is_scaled_from_the_0v9_base():
    """Horowitz's table is at 0.9 V; 45 nm nominal (PTM HP) is 1.0 V: x (1.0/0.9)^2."""
    assert float(technology(45).mac_pj(8, 8) / BASE.mac_pj(8, 8)) == pytest.approx((1.0 / 0.9) ** 2)


def test_unpu_operating_range_accepted():
    """UNPU (Lee et al., ISSCC 2018), 65 nm, runs 0.63-1.1 V: both ends must be allowed."""
    lo, hi = voltage_range(65)
    assert lo <= 0.63 and hi >= 1.1
    technology(65, 0.63), technology(65, 1.1)


@pytest.mark.parametrize("volts", [0.3, 1.5])
def test_voltage_outside_range_rejected(volts):
    with pytest.raises(ValueError, match=r"allowed range 0\.550\.\.1\.100 V at 45 nm"):
        technology(45, volts)


def test_sram_energy_and_area_monotone_in_capacity():
    sizes = np.logspace(6, 26, 60, base=2)
    for tech in (BASE, technology(7)):
        read = tech.sram_read_pj_per_byte(sizes)
        assert np.all(np.diff(read) > 0)
        assert np.all(np.diff(tech.sram_area_um2(sizes)) > 0)
        assert np.all(np.diff(tech.sram_area_um2(sizes) / sizes) < 0)  # periphery amortised
        assert np.allclose(tech.sram_write_pj_per_byte(sizes), 1.31 * read)


def test_sram_area_cacti_points():
    """hsharma35/bitfusion bitfusion/sram/cacti_sweep.csv (45 nm, single port): 128 B
    0.00149898 mm^2, 16 KB 0.108577 mm^2; the fit is within 5% of every row."""
    assert float(BASE.sram_area_um2(128)) == pytest.approx(1498.98, rel=0.05)
    assert float(BASE.sram_area_um2(16384)) == pytest.approx(108577.0, rel=0.05)


def test_register_energies_follow_eyeriss_ratios():
    """Eyeriss (ISCA 2016): inter-PE hop 2x, RF access 1x a 16-bit MAC (per 16-bit word)."""
    mac16 = float(BASE.mac_pj(16, 16))
    assert BASE.register_pj_per_byte() == pytest.approx(2 * mac16 / 2)
    assert BASE.register_file_pj_per_byte() == pytest.approx(mac16 / 2)


def test_leakage_reproduces_bitfusion_pe():
    """systolic_array_synth.csv, 4x4 array of 8x8 PEs: 257700 nW over 8171.729995 um^2;
    one PE (1/16 of both) at 500 MHz leaks 257700/16 nW / 500 MHz per cycle."""
    pj = float(BASE.leakage_pj_per_cycle(8171.729995 / 16, 500e6))
    assert pj == pytest.approx(257700 / 16 * 1e-9 / 500e6 * 1e12, rel=1e-3)
    assert float(BASE.leakage_pj_per_cycle(1e6, 1e9, kind="sram")) > pj
    with pytest.raises(ValueError):
        BASE.leakage_pj_per_cycle(1.0, 0.0)


def test_citations():
    assert "Bit Fusion" in BASE.citation("mac")
    assert "Horowitz" in BASE.citation("sram_read")
    assert "Stillmaker" in BASE.citation("node_area")
    assert "3.97" in technology(45, dram="hbm2").citation("dram")
    assert "Eyeriss" in BASE.citation("register")
    with pytest.raises(ValueError, match="known"):
        BASE.citation("flux_capacitor")


def test_every_number_in_the_data_file_is_cited():
    """Each number in technology.yaml sits in a block that has (or inherits) a source;
    the only exempt block is `assumed`, which is itself the citation."""
    data = technology_data()

    def walk(node, cited, path):
        if isinstance(node, dict):
            cited = cited or "source" in node
            for key, value in node.items():
                walk(value, cited, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, cited, f"{path}[{i}]")
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            assert cited, f"uncited number at {path}"

    for key, value in data.items():
        if key not in ("schema", "assumed"):
            walk(value, False, key)
    assert isinstance(Technology(45), Technology)
