"""Non-GEMM layers on the vector unit are priced as the vector ops they need (accelsim/energy.py,
``vector_work``), and xnor's integer fallback prices a ±1 operand as int_mac runs it.

Per-op energies at the base point (45 nm, 0.9 V: energy scale 1), from Horowitz ISSCC 2014
(accelsim/data/technology.yaml ``horowitz_45nm``) and ``vector_ops.compositions``, 16 bits:

* add16 = 0.05 pJ (tabulated); sub, max, min = one add = 0.05 pJ;
* mul16 = log-log interpolation between mult8 0.2 and mult32 3.1 pJ:
  0.2 * (16/8)^(log(15.5)/log(4)) = 0.2 * sqrt(15.5) = 0.787401 pJ;
* exp = 4 mul + 4 add = 3.149603 + 0.2 = 3.349603 pJ;
* div = 5 mul + 2 add = 3.937004 + 0.1 = 4.037004 pJ;
* sqrt = 7 mul + 2 add = 5.511806 + 0.1 = 5.611806 pJ.

Before the fix every element of every non-GEMM layer was one add16 (0.05 pJ).
"""

import math

import numpy as np
import pytest
from conftest import QUANT

import accelsim
from accelsim import energy
from accelsim.model import layer_arrays
from accelsim.pe.int_mac import IntMac
from accelsim.pe.xnor import Xnor
from accelsim.quant import QuantSpec
from accelsim.technology import technology

ADD = 0.05
MUL = 0.2 * math.sqrt(15.5)
EXP = 4 * MUL + 4 * ADD
DIV = 5 * MUL + 2 * ADD
SQRT = 7 * MUL + 2 * ADD

ARCH = """\
name: v
array: {rows: 4, cols: 4, dataflow: ws, clock_mhz: 100}
pe: {kind: int_mac, max_a_bits: 8, max_w_bits: 8}
technology: {node_nm: 45, voltage_v: 0.9}
vector_unit: {lanes: 8%s}
"""


def _load(write, layers: str, batch: int = 2, op_pj: str = ""):
    arch = accelsim.load_arch(write("a.yaml", ARCH % op_pj))
    wl = accelsim.load_workload(
        write("w.yaml", f"name: w\nbatch: {batch}\nquant: {QUANT}\nlayers:\n{layers}")
    )
    return arch, wl


def _vector(arch, wl) -> dict:
    """`vector_work` on the arrays the model builds, with the layers' vector-op counts."""
    x = layer_arrays(wl.layers, arch.pe)
    x.update(energy.vector_arrays(wl.layers))
    return energy.vector_work(arch, x)


def test_primitive_op_energies_are_horowitz():
    """The per-op energies the derivations below use (module docstring)."""
    tech = technology(45, 0.9)
    for op, pj in [("add", ADD), ("sub", ADD), ("max", ADD), ("mul", MUL), ("exp", EXP),
                   ("div", DIV), ("sqrt", SQRT)]:  # fmt: skip
        assert float(tech.vector_op_pj(op, energy.VECTOR_BITS)) == pytest.approx(pj, rel=1e-9)


MUL_SOFTMAX = (
    "  - {name: m, type: eltwise, op: mul, shape: [4, 4, 4]}\n"
    "  - {name: s, type: softmax, rows: 3, cols: 10}\n"
)


def test_simulated_eltwise_mul_and_softmax_priced_by_their_ops(write):
    """The audit's example, end to end (batch 2, 8 lanes, 45 nm, 0.9 V):

    * eltwise mul, shape 4x4x4: 2 * 64 = 128 elements, one mul16 each:
      128 * 0.787401 = 100.787 pJ (was 128 * 0.05 = 6.4 pJ);
    * softmax 3 x 10: 2 * 30 = 60 elements, exp + add + div each:
      60 * (3.349603 + 0.05 + 4.037004) = 60 * 7.436607 = 446.196 pJ (was 3.0 pJ).

    Cycles are unchanged: ceil(128 / 8) = 16 and ceil(60 / 8) = 8."""
    arch, wl = _load(write, MUL_SOFTMAX)
    rows = accelsim.simulate(arch, wl).layer_records()
    assert rows[0]["energy_vector_op_pj"] == pytest.approx(128 * MUL, rel=1e-9)
    assert rows[0]["energy_vector_op_pj"] == pytest.approx(100.787, rel=1e-5)
    assert rows[1]["energy_vector_op_pj"] == pytest.approx(60 * (EXP + ADD + DIV), rel=1e-9)
    assert rows[1]["energy_vector_op_pj"] == pytest.approx(446.196, rel=1e-5)
    assert [r["cycles"] for r in rows] == [16, 8]
    for r in rows:  # the op energy plus the chip's leakage over the layer's cycles
        assert r["energy_pj"] == pytest.approx(
            r["energy_vector_op_pj"] + r["energy_chip_leakage_pj"]
        )


def test_vector_work_composes_ops_per_layer(write):
    """Batch 1, each layer's ``(vector, op)`` energy from the module docstring's table:

    * eltwise add 4x4: 16 add = 16 * 0.05 = 0.8 pJ; div: 16 div = 16 * 4.037004 = 64.592 pJ;
    * pool max, 2 channels, 4x4, 2x2 windows stride 2: 2*2*2*4 = 32 taps read, one max
      each: 32 * 0.05 = 1.6 pJ;
    * pool avg, same: 32 add + 8 windows x one mul: 1.6 + 8 * 0.787401 = 7.899 pJ;
    * layernorm 2 x 4: 8 elements x (3 add + sub + 3 mul) + 2 rows x (sqrt + div):
      8 * (0.2 + 2.362205) + 2 * (5.611806 + 4.037004) = 20.498 + 19.298 = 39.795 pJ;
    * activation relu 4x4: 16 max = 0.8 pJ;
    * activation sigmoid 4x4: 16 x (exp + add + div) = 16 * 7.436607 = 118.986 pJ;
    * activation gelu 4x4, x sigmoid(1.702 x): 16 x (sigmoid + 2 mul) = 16 * 9.011409 =
      144.183 pJ.
    Cycles ceil(elements / 8): 2, 2, 4, 4, 1, 2, 2, 2."""
    layers = (
        "  - {name: a, type: eltwise, op: add, shape: [4, 4]}\n"
        "  - {name: d, type: eltwise, op: div, shape: [4, 4]}\n"
        "  - {name: pm, type: pool, pool: max, channels: 2, in_h: 4, in_w: 4, kernel: 2, stride: 2}\n"
        "  - {name: pa, type: pool, pool: avg, channels: 2, in_h: 4, in_w: 4, kernel: 2, stride: 2}\n"
        "  - {name: ln, type: layernorm, rows: 2, cols: 4}\n"
        "  - {name: r, type: activation, op: relu, shape: [4, 4]}\n"
        "  - {name: sg, type: activation, op: sigmoid, shape: [4, 4]}\n"
        "  - {name: ge, type: activation, op: gelu, shape: [4, 4]}\n"
    )
    arch, wl = _load(write, layers, batch=1)
    vec = _vector(arch, wl)
    sigmoid = EXP + ADD + DIV
    expected = [16 * ADD, 16 * DIV, 32 * ADD, 32 * ADD + 8 * MUL,
                8 * (3 * ADD + ADD + 3 * MUL) + 2 * (SQRT + DIV), 16 * ADD, 16 * sigmoid,
                16 * (sigmoid + 2 * MUL)]  # fmt: skip
    assert vec["breakdown"][("vector", "op")] == pytest.approx(expected, rel=1e-9)
    assert vec["breakdown"][("vector", "op")] == pytest.approx(
        [0.8, 64.592, 1.6, 7.899, 39.795, 0.8, 118.986, 144.183], rel=1e-4
    )
    assert vec["cycles"].tolist() == [2, 2, 4, 4, 1, 2, 2, 2]
    assert vec["costed"].all()


def test_unknown_activation_is_not_costed_rather_than_guessed(write):
    """An activation op without a composition is not priced as anything: not costed, with a
    reason naming the ops that are."""
    arch, wl = _load(write, "  - {name: q, type: activation, op: frobnicate, shape: [4]}\n")
    vec = _vector(arch, wl)
    assert not vec["costed"][0]
    assert vec["cycles"][0] == 0 and vec["energy_pj"][0] == 0
    assert "frobnicate" not in vec["reason"][0] and "sigmoid" in vec["reason"][0]


def test_arch_op_pj_still_prices_every_element(write):
    """``vector_unit.op_pj`` replaces the compositions: 128 + 60 elements at 0.5 pJ."""
    arch, wl = _load(write, MUL_SOFTMAX, op_pj=", op_pj: 0.5")
    vec = _vector(arch, wl)
    assert vec["breakdown"][("vector", "op")] == pytest.approx([64.0, 30.0])


def test_vector_ops_scale_with_node_and_supply(write):
    """The compositions scale like the rest of the technology file: at 45 nm, 0.81 V the
    dynamic energy is (0.81 / 0.9)^2 = 0.81 x the base point's."""
    arch, wl = _load(write, MUL_SOFTMAX)
    low = accelsim.load_arch(write("b.yaml", (ARCH % "").replace("0.9}", "0.81}")))
    base = _vector(arch, wl)["breakdown"][("vector", "op")]
    scaled = _vector(low, wl)["breakdown"][("vector", "op")]
    np.testing.assert_allclose(scaled, 0.81 * base, rtol=1e-9)


@pytest.mark.parametrize(("a", "w"), [("uint", "binary"), ("binary", "int")])
def test_xnor_fallback_prices_a_binary_operand_as_int_mac_runs_it(a, w):
    """A layer with one ±1 operand and one 8-bit operand runs on xnor's integer fallback.
    int_mac runs the ±1 operand as the 2-bit integer -1/+1, so the MAC is an 8 x 2-bit one:
    mac_pj = c0 + c1 (8 + 2) + c2 * 8 * 2 with the fitted c = (0.01209, 0.005549, 0.001611)
    pJ (technology.yaml ``mac``): 0.01209 + 0.05549 + 0.025776 = 0.093356 pJ at 45 nm, 0.9 V;
    the old price, 8 x 1 bits, was 0.01209 + 0.049941 + 0.012888 = 0.074919 pJ."""
    quant = QuantSpec(
        a_bits=1 if a == "binary" else 8, w_bits=1 if w == "binary" else 8, acc_bits=32,
        out_bits=8, a_encoding=a, w_encoding=w,
    )  # fmt: skip
    tech = technology(45, 0.9)
    xnor = Xnor(kind="xnor", lanes=64, fallback={"max_a_bits": 8, "max_w_bits": 8})
    assert xnor.check(quant) is None and xnor.actions(quant) == {"mac": 1.0}
    pj = xnor.action_pj(tech, "mac", quant)
    assert pj == pytest.approx(0.093356, rel=2e-3)
    assert pj == IntMac(kind="int_mac", max_a_bits=8, max_w_bits=8).action_pj(tech, "mac", quant)


def test_xnor_fallback_needs_two_bits_for_a_binary_operand():
    """Like int_mac, the fallback holds a ±1 operand as a 2-bit integer: a 1-bit fallback
    port cannot take it."""
    quant = QuantSpec(a_bits=8, w_bits=1, acc_bits=32, out_bits=8, a_encoding="uint",
                      w_encoding="binary")  # fmt: skip
    xnor = Xnor(kind="xnor", lanes=64, fallback={"max_a_bits": 8, "max_w_bits": 1})
    int_mac = IntMac(kind="int_mac", max_a_bits=8, max_w_bits=1)
    assert xnor.check(quant) is not None and int_mac.check(quant) is not None
