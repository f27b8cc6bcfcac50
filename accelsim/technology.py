"""Technology model: per-action energies and per-component areas with their sources.

Count first, then price (Accelergy style): the cost model counts actions, this module says
what one action costs at a process node and supply. The numbers live in
``accelsim/data/technology.yaml``, each with its source; fits are computed from the
published points in that file when it is first loaded.

    tech = technology(28, 0.8, dram="lpddr4")
    tech.mac_pj(8, 4)                 # one 8x4-bit MAC, pJ
    tech.sram_read_pj_per_byte(64 * 1024)
    tech.citation("mac")              # where the number comes from

Model (every base number is at 45 nm, 0.9 V, the point of Horowitz's ISSCC 2014 table):

- dynamic energy at node n and supply V = base * S_E(n) * (V / Vnom_n)^2 * (Vnom_45 / 0.9)^2,
  with S_E(n) = P_n(Vnom_n) / P_45(Vnom_45) from Stillmaker & Baas's Table 5 polynomials;
- area at node n = base * S_A(n), Stillmaker & Baas's area table;
- nodes between tabulated ones: log(factor) linear in log(node); nodes outside 7..180 nm and
  supplies outside [0.55, 1.10] x Vnom are rejected with a ValueError naming the range;
- DRAM energy does not scale with node or supply.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml

NODE_RANGE_NM = (7.0, 180.0)
MAX_BITS = 32  # operand bits (QuantSpec); an element-wise op may be as wide as an accumulator
MAX_ACC_BITS = 64


@functools.cache
def _data() -> dict:
    text = resources.files("accelsim").joinpath("data/technology.yaml").read_text("utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # C: 10x faster


def technology_data() -> dict:
    """A copy of the whole data file (sources, raw points, derivations, assumptions)."""
    return copy.deepcopy(_data())


@functools.cache
def dram_kinds() -> tuple[str, ...]:
    """The DRAM kinds the data file prices, sorted."""
    return tuple(sorted(_data()["dram"]["kinds"]))


@functools.cache
def weight_generator() -> dict:
    """The data file's on-chip weight generator section (a copy, shared: read only)."""
    return copy.deepcopy(_data()["weight_generator"])


def _relative_lstsq(columns: list, y: np.ndarray) -> np.ndarray:
    """Least squares minimising relative error: coefficients c of y ~ sum c_i * column_i."""
    a = np.stack(columns, axis=1) / y[:, None]
    return np.linalg.lstsq(a, np.ones_like(y), rcond=None)[0]


@functools.cache
def _fits() -> dict:
    """Every fit in the data file, computed once from the published points."""
    d = _data()
    mac = d["mac"]
    per_pe = mac["pes_per_row"]
    bits = np.array([p["bits"] for p in mac["points"]], dtype=float)
    energy = np.array([p["dynamic_nw"] for p in mac["points"]]) * 1e3 / mac["frequency_hz"]
    area = np.array([p["area_um2"] for p in mac["points"]], dtype=float)
    cols = [np.ones_like(bits), 2 * bits, bits * bits]  # c0 + c1*(a+w) + c2*a*w at a = w
    horowitz = d["horowitz_45nm"]
    cap = np.array(sorted(horowitz["sram_read_pj_per_64b"]), dtype=float)
    e64 = np.array([horowitz["sram_read_pj_per_64b"][int(c)] for c in cap])
    alpha, log_k = np.polyfit(np.log(cap / 8192), np.log(e64), 1)
    pts = d["sram"]["area"]["points_um2"]
    size = np.array(sorted(pts), dtype=float)
    sram_area = np.array([pts[int(s)] for s in size])
    return {
        "mac_pj": _relative_lstsq(cols, energy / per_pe),
        "mac_um2": _relative_lstsq(cols, area / per_pe),
        "sram_e64": (float(np.exp(log_k)), float(alpha)),
        "sram_um2": _relative_lstsq([size, np.sqrt(size)], sram_area),
    }


def _interp_loglog(table: dict, node_nm: float) -> float:
    nodes = sorted(table)
    x = np.log(np.array(nodes, dtype=float))
    y = np.log(np.array([table[n] for n in nodes], dtype=float))
    return float(np.exp(np.interp(np.log(node_nm), x, y)))


def _check_node(node_nm: float) -> float:
    lo, hi = NODE_RANGE_NM
    if not lo <= float(node_nm) <= hi:
        raise ValueError(
            f"technology node {node_nm} nm is outside the modelled range {lo:g}..{hi:g} nm "
            "(Stillmaker & Baas 2017 scaling tables)"
        )
    return float(node_nm)


@functools.cache
def nominal_voltage(node_nm: float) -> float:
    """Nominal supply (V) of a node; log-log interpolated between tabulated nodes."""
    node = _check_node(node_nm)
    return _interp_loglog(_data()["node_scaling"]["nominal_voltage_v"]["values"], node)


def voltage_range(node_nm: float) -> tuple[float, float]:
    """Allowed supply range (V) of a node: ``range_factor`` x its nominal voltage."""
    lo, hi = _data()["voltage"]["range_factor"]
    v = nominal_voltage(node_nm)
    return (lo * v, hi * v)


def _energy_poly(node: int, volts: float) -> float:
    a, b, c = _data()["node_scaling"]["energy_polynomial"]["coefficients"][node]
    return a * volts * volts + b * volts + c


@functools.cache
def node_energy_factor(node_nm: float) -> float:
    """Dynamic energy at ``node_nm`` (nominal supply) relative to 45 nm (nominal supply)."""
    node = _check_node(node_nm)
    vnom = _data()["node_scaling"]["nominal_voltage_v"]["values"]
    ref = _energy_poly(45, vnom[45])
    table = {n: _energy_poly(n, v) / ref for n, v in vnom.items()}
    return _interp_loglog(table, node)


@functools.cache
def node_area_factor(node_nm: float) -> float:
    """Area at ``node_nm`` relative to 45 nm (Stillmaker & Baas's area table)."""
    node = _check_node(node_nm)
    return _interp_loglog(_data()["node_scaling"]["area_factor_vs_45nm"]["values"], node)


def _bits(x, most: int = MAX_BITS) -> np.ndarray:
    b = np.asarray(x)
    if b.size and (not np.all(np.equal(np.mod(b, 1), 0)) or b.min() < 1 or b.max() > most):
        raise ValueError(f"operand bits must be integers in 1..{most}, got {x!r}")
    return b.astype(float)


def _log_interp_bits(points: dict, bits: np.ndarray) -> np.ndarray:
    """log E linear in log b through the points; end segments extrapolated."""
    b = np.array(sorted(points), dtype=float)
    e = np.log(np.array([points[int(k)] for k in b]))
    lb = np.log(bits)
    seg = np.clip(np.searchsorted(b, bits, side="right") - 1, 0, len(b) - 2)
    slope = (e[seg + 1] - e[seg]) / (np.log(b[seg + 1]) - np.log(b[seg]))
    return np.exp(e[seg] + slope * (lb - np.log(b[seg])))


_CITATIONS = {  # quantity -> the data blocks whose source/derivation it rests on
    "mac": [("mac",)],
    "mac_area": [("mac",)],
    "bit_fusion": [("bit_fusion",)],
    "sram_read": [("sram", "read")],
    "sram_write": [("sram", "read"), ("sram", "write_factor")],
    "sram_area": [("sram", "area")],
    "register": [("register",), ("mac",)],
    "leakage": [("leakage", "logic")],
    "leakage_sram": [("leakage", "sram")],
    "vector_op": [("vector_ops",), ("horowitz_45nm",)],
    "node_area": [("node_scaling", "area_factor_vs_45nm")],
    "node_energy": [("node_scaling", "energy_polynomial")],
    "nominal_voltage": [("node_scaling", "nominal_voltage_v")],
    "voltage": [("voltage",)],
}


@dataclass(frozen=True)
class Technology:
    """A process node, a supply (None = the node's nominal) and a DRAM kind.

    Every method returns the default energy/area of one action or component; an arch file
    that overrides a price does so in the cost model (`accelsim.energy`), not here.
    """

    node_nm: float
    voltage_v: float | None = None
    dram: str = "lpddr4"

    def __post_init__(self):
        _check_node(self.node_nm)
        lo, hi = voltage_range(self.node_nm)
        if self.voltage_v is not None and not lo - 1e-9 <= self.voltage_v <= hi + 1e-9:
            f_lo, f_hi = _data()["voltage"]["range_factor"]
            raise ValueError(
                f"supply {self.voltage_v} V is outside the allowed range {lo:.3f}..{hi:.3f} V "
                f"at {self.node_nm:g} nm ({f_lo:g}..{f_hi:g} x nominal "
                f"{nominal_voltage(self.node_nm):.3f} V)"
            )
        kinds = _data()["dram"]["kinds"]
        if self.dram not in kinds:
            raise ValueError(f"unknown DRAM kind {self.dram!r}; known kinds: {sorted(kinds)}")

    @property
    def vdd(self) -> float:
        return nominal_voltage(self.node_nm) if self.voltage_v is None else self.voltage_v

    def _supply_ratio(self) -> float:
        """(V / Vnom_node) / (V_base / Vnom_45): this supply against the base point's."""
        base = _data()["base"]
        at_base = base["voltage_v"] / nominal_voltage(base["node_nm"])
        return self.vdd / nominal_voltage(self.node_nm) / at_base

    def energy_scale(self) -> float:
        """Dynamic energy relative to the base point (45 nm, 0.9 V): S_E x supply ratio^2."""
        return node_energy_factor(self.node_nm) * self._supply_ratio() ** 2

    def area_scale(self) -> float:
        """Area relative to 45 nm."""
        return node_area_factor(self.node_nm)

    def mac_pj(self, a_bits, w_bits) -> np.ndarray:
        """Energy (pJ) of one a_bits x w_bits integer MAC in a systolic PE."""
        a, w = _bits(a_bits), _bits(w_bits)
        c0, c1, c2 = _fits()["mac_pj"]
        return (c0 + c1 * (a + w) + c2 * a * w) * self.energy_scale()

    def mac_area_um2(self, a_bits, w_bits) -> np.ndarray:
        """Area (um^2) of one fixed-precision a_bits x w_bits MAC PE."""
        a, w = _bits(a_bits), _bits(w_bits)
        c0, c1, c2 = _fits()["mac_um2"]
        return (c0 + c1 * (a + w) + c2 * a * w) * self.area_scale()

    def sram_read_pj_per_byte(self, size_bytes) -> np.ndarray:
        """Read energy (pJ) per byte of an SRAM of ``size_bytes``."""
        size = np.asarray(size_bytes, dtype=float)
        if np.any(size <= 0):
            raise ValueError(f"SRAM size must be positive, got {size_bytes!r}")
        k, alpha = _fits()["sram_e64"]
        return k * (size / 8192) ** alpha / 8 * self.energy_scale()

    def sram_write_pj_per_byte(self, size_bytes) -> np.ndarray:
        """Write energy (pJ) per byte: the read energy x the CACTI write/read factor."""
        return self.sram_read_pj_per_byte(size_bytes) * _data()["sram"]["write_factor"]["value"]

    def sram_area_um2(self, size_bytes) -> np.ndarray:
        """Area (um^2) of a single-port SRAM of ``size_bytes``."""
        size = np.asarray(size_bytes, dtype=float)
        if np.any(size <= 0):
            raise ValueError(f"SRAM size must be positive, got {size_bytes!r}")
        a1, a2 = _fits()["sram_um2"]
        return (a1 * size + a2 * np.sqrt(size)) * self.area_scale()

    def dram_pj_per_byte(self) -> float:
        """Energy (pJ) per byte moved to or from DRAM of this kind (node-independent)."""
        kind = _data()["dram"]["kinds"][self.dram]
        if "pj_per_bit" in kind:
            return 8.0 * kind["pj_per_bit"]
        return kind["pj_per_64b"] / 8.0

    def _eyeriss(self, key: str) -> float:
        reg = _data()["register"]
        bits = reg["reference_mac_bits"]
        return float(reg[key] * self.mac_pj(bits, bits) / (bits / 8))

    def register_pj_per_byte(self) -> float:
        """One inter-PE hop of one byte (Eyeriss: 2x a 16-bit MAC per 16-bit word)."""
        return self._eyeriss("inter_pe_x_mac")

    def register_file_pj_per_byte(self) -> float:
        """One PE register-file access of one byte (Eyeriss: 1x a 16-bit MAC per word)."""
        return self._eyeriss("register_file_x_mac")

    def leakage_nw_per_um2(self, kind: str = "logic") -> float:
        """Leakage power density (nW/um^2) of ``kind`` ('logic' or 'sram') here."""
        leak = _data()["leakage"]
        if kind not in ("logic", "sram"):
            raise ValueError(f"leakage kind must be 'logic' or 'sram', got {kind!r}")
        scale = node_energy_factor(self.node_nm) / node_area_factor(self.node_nm)
        return leak[kind]["nw_per_um2"] * scale * self._supply_ratio()

    def leakage_pj_per_cycle(self, area_um2, clock_hz, kind: str = "logic") -> np.ndarray:
        """Leakage energy (pJ) of ``area_um2`` of ``kind`` silicon over one clock cycle."""
        if np.any(np.asarray(clock_hz) <= 0):
            raise ValueError(f"clock must be positive, got {clock_hz!r}")
        watts = self.leakage_nw_per_um2(kind) * np.asarray(area_um2, dtype=float) * 1e-9
        return watts / np.asarray(clock_hz, dtype=float) * 1e12

    def vector_op_pj(self, op: str, bits: int) -> np.ndarray:
        """Energy (pJ) of one element-wise ``op`` at ``bits`` on a vector unit."""
        comps = _data()["vector_ops"]["compositions"]
        if op not in comps:
            raise ValueError(f"unknown vector op {op!r}; known ops: {sorted(comps)}")
        b = _bits(bits, MAX_ACC_BITS)
        h = _data()["horowitz_45nm"]
        prim = {"add": h["int_add_pj"], "mul": h["int_mult_pj"]}
        total = sum(n * _log_interp_bits(prim[p], b) for p, n in comps[op].items())
        return total * self.energy_scale()

    def citation(self, quantity: str) -> str:
        """The source string(s) behind ``quantity`` (see ``_CITATIONS`` for the names)."""
        if quantity == "dram":
            return _data()["dram"]["kinds"][self.dram]["source"]
        if quantity not in _CITATIONS:
            known = sorted([*_CITATIONS, "dram"])
            raise ValueError(f"unknown quantity {quantity!r}; known: {known}")
        parts = []
        for path in _CITATIONS[quantity]:
            entry = _data()
            for key in path:
                entry = entry[key]
            how = entry.get("derivation") or entry.get("law")
            parts += [entry.get("source", ""), f"derivation: {how}" if how else ""]
        if quantity.startswith("leakage"):
            parts.append("scaling: " + _data()["leakage"]["scaling"])
        if quantity not in ("bit_fusion", "node_area", "node_energy", "nominal_voltage"):
            parts.append("node/supply scaling: " + _data()["node_scaling"]["source"])
        return " | ".join(p for p in parts if p)


def technology(node_nm: float, voltage_v: float | None = None, dram: str = "lpddr4") -> Technology:
    """A validated `Technology` (ValueError naming the allowed range when out of range)."""
    return Technology(float(node_nm), None if voltage_v is None else float(voltage_v), dram)
