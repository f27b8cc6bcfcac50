"""CostOracle and `accelsim lut` (issue 10): every number is checked against `simulate`.

The HAQ test reads the table exactly as HAQ's released environment does
(mit-han-lab/haq ``lib/env/linear_quantize_env.py``: ``_cur_cost`` sums
``table[i, w_bits - 1, a_bits - 1]`` over the strategy, ``_org_cost`` reads ``[i, 7, 7]``
(float_bit 8), ``_min_cost`` reads ``[i, -1, -1]`` for the first and last layers, and
``_keep_first_last_layer`` sets the first layer's activation bits to -1, which indexes -2,
i.e. 7 bits).
"""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

import accelsim
from accelsim import ConfigError
from accelsim.oracle import CostOracle
from accelsim.workload import make_assignment

RESNET50 = accelsim.load_workload(ROOT / "workloads" / "resnet50.yaml")
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def _arch(name):
    return accelsim.load_arch(ROOT / "arch_configs" / f"{name}.yaml")


@pytest.fixture(scope="module")
def fusion():
    return CostOracle(_arch("bitfusion"), RESNET50)


@pytest.fixture(scope="module")
def serial():
    return CostOracle(_arch("unpu"), RESNET50)


def _narrow_arch(write, technology=True):
    """edge_32x32 with a 4-bit activation port: a_bits 5..8 cannot run (int_mac.check)."""
    text = (ROOT / "arch_configs" / "edge_32x32.yaml").read_text()
    text = text.replace("max_a_bits: 8", "max_a_bits: 4")
    if not technology:
        text = text.replace("technology: {node_nm: 28}\n", "")
    return accelsim.load_arch(write("narrow.yaml", text))


def _random_assignment(oracle, seed):
    bits = np.random.default_rng(seed).integers(1, 9, size=(len(oracle.layers), 2))
    named = {n: {"w_bits": int(w), "a_bits": int(a)} for n, (w, a) in zip(oracle.names, bits)}
    return bits, make_assignment(f"random{seed}", named)


@pytest.mark.parametrize("which", ["fusion", "serial"])
def test_cost_equals_simulate_bit_for_bit(which, request):
    """Random mixed assignments of ResNet-50 on both precision-flexible designs: the oracle's
    totals are simulate's, exactly, whichever form the assignment takes."""
    oracle = request.getfixturevalue(which)
    for seed in range(4):
        bits, assignment = _random_assignment(oracle, seed)
        total = accelsim.simulate(oracle.arch, RESNET50, assignment).total
        for cost in (oracle.cost(assignment), oracle.cost(bits), oracle.cost_bits(*bits.T)):
            assert cost.feasible and total["feasible"]
            assert cost.cycles == total["cycles"]
            assert cost.latency_s == total["latency_s"]
            assert cost.energy_pj == total["energy_pj"]
            assert cost.edp_pj_s == total["edp_pj_s"]


def test_cost_of_partial_mapping_and_default_precision(serial):
    """A mapping naming some layers leaves the others at the workload's precision (8/8)."""
    change = {"conv1": {"w_bits": 2}, "fc": {"a_bits": 4, "w_bits": 3}}
    total = accelsim.simulate(serial.arch, RESNET50, make_assignment("p", change)).total
    assert serial.cost(change).energy_pj == total["energy_pj"]
    assert serial.cost(None).cycles == accelsim.simulate(serial.arch, RESNET50).total["cycles"]


def test_layer_cost_is_simulates_row_and_memoised(fusion):
    report = accelsim.simulate(
        fusion.arch,
        RESNET50,
        make_assignment("one", {"layer3.2.conv2": {"w_bits": 4, "a_bits": 2}}),
    )
    row = report.layers.set_index("name").loc["layer3.2.conv2"]
    first = fusion.layer_cost("layer3.2.conv2", {"w_bits": 4, "a_bits": 2})
    assert (first.cycles, first.latency_s, first.energy_pj) == (
        row["cycles"],
        row["latency_s"],
        row["energy_pj"],
    )
    layer = RESNET50.layer("layer3.2.conv2")
    quant = layer.quant.model_copy(update={"w_bits": 4, "a_bits": 2})
    assert fusion.layer_cost(layer, quant) is first  # the memo, whatever form the query takes


def test_table_rows_are_per_layer_simulations(serial):
    """Each table entry is the layer's row of simulate at that precision."""
    df = serial.table(w_bits=(2, 8), a_bits=(4, 8))
    assert len(df) == len(serial.layers) * 4
    assert list(df.columns) == ["layer_index", "layer", "w_bits", "a_bits", "cycles", "latency_s",
                                "energy_pj", "feasible", "reason"]  # fmt: skip
    entry = df[(df.layer == "layer4.0.conv2") & (df.w_bits == 2) & (df.a_bits == 4)].iloc[0]
    assignment = make_assignment("x", {"layer4.0.conv2": {"w_bits": 2, "a_bits": 4}})
    row = accelsim.simulate(serial.arch, RESNET50, assignment).layers.set_index("name")
    assert entry.cycles == row.loc["layer4.0.conv2", "cycles"]
    assert entry.energy_pj == row.loc["layer4.0.conv2", "energy_pj"]
    # DESIGN.md §9: lower bits are never slower on bit_serial
    lut = serial.lut("latency")
    assert (np.diff(lut, axis=1) >= 0).all()
    only = serial.table(metric="energy")
    assert list(only.columns) == ["layer_index", "layer", "w_bits", "a_bits", "energy_pj",
                                  "feasible", "reason"]  # fmt: skip


def _haq_cur_cost(table, strategy):
    """``LinearQuantizeEnv._cur_cost``: the sum of table[i, w - 1, a - 1]."""
    return sum(table[i, w - 1, a - 1] for i, (w, a) in enumerate(strategy))


def test_lut_file_read_as_haq_does(fusion, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "accelsim", "lut", str(ROOT / "arch_configs" / "bitfusion.yaml"),
         str(ROOT / "workloads" / "resnet50.yaml"), "--metric", "latency",
         "-o", str(tmp_path / "r50.npy")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table = np.load(tmp_path / "r50.npy")
    n = len(fusion.layers)
    assert table.shape == (n, 8, 8) and table.dtype == np.float64
    fixed = fusion.fixed_cost()["latency_s"]
    # _org_cost (float_bit 8): every layer at [7, 7] is the 8/8 network
    org = sum(table[i, 7, 7] for i in range(n))
    assert org + fixed == pytest.approx(fusion.cost([(8, 8)] * n).latency_s, rel=1e-12)
    # a strategy as HAQ's agent leaves it after _keep_first_last_layer: first [8, -1]
    bits, _ = _random_assignment(fusion, 7)
    strategy = [[int(w), int(a)] for w, a in bits]
    strategy[0], strategy[-1] = [8, -1], [8, 8]
    read = _haq_cur_cost(table, strategy)
    strategy[0] = [8, 7]  # what index -2 reads
    assert read + fixed == pytest.approx(fusion.cost(strategy).latency_s, rel=1e-12)
    assert table[0, 7, -2] == fusion.layer_cost("conv1", {"w_bits": 8, "a_bits": 7}).latency_s
    # _min_cost: [-1, -1] for the first and last layers is the 8/8 entry
    assert table[-1, -1, -1] == fusion.layer_cost("fc", {"w_bits": 8, "a_bits": 8}).latency_s
    doc = json.loads((tmp_path / "r50.json").read_text())
    assert [la["name"] for la in doc["layers"]] == list(fusion.names)
    assert doc["unit"] == "s" and doc["metric"] == "latency" and doc["shape"] == [n, 8, 8]
    assert doc["reference_8_8"] == pytest.approx(org, rel=1e-12)
    assert doc["provenance"]["arch_sha256"] == fusion.arch.sha256
    lines = (tmp_path / "r50.csv").read_text().splitlines()
    assert lines[0] == "layer_index,layer,w_bits,a_bits,latency_s,feasible,reason"
    assert len(lines) == 1 + n * 64
    assert "wrote" in proc.stdout and "(54, 8, 8)" in proc.stdout


def test_infeasible_entries_are_inf_with_reasons(write, tmp_path):
    """On a 4-bit activation port, a_bits 5..8 cannot run: inf in the table, int_mac's reason
    in the table, the companion files and the network cost (as simulate words it)."""
    arch = _narrow_arch(write)
    wl = accelsim.load_workload(TINY)
    oracle = CostOracle(arch, wl)
    table = oracle.lut("energy")
    assert np.isinf(table[:, :, 4:]).all() and np.isfinite(table[:, :, :4]).all()
    df = oracle.table()
    bad = df[~df.feasible]
    assert len(bad) == 2 * 8 * 4 and (bad.a_bits > 4).all()
    assert bad.reason.str.contains(
        r"a_bits [5-8] \(uint\) exceeds this int_mac.s max_a_bits", regex=True
    ).all()
    cost = oracle.cost({"fc": {"w_bits": 4, "a_bits": 3}})  # c1 stays at a_bits 8
    total = accelsim.simulate(arch, wl, make_assignment("a", {"fc": {"a_bits": 3}})).total
    assert not cost.feasible and not total["feasible"]
    assert cost.reason == total["reason"] and cost.cycles == math.inf
    assert oracle.cost([(8, 4), (2, 1)]).feasible
    from accelsim.oracle import save_lut

    doc = save_lut(oracle, tmp_path / "t.npy", "latency", w_bits=range(2, 9), a_bits=range(1, 9))
    saved = np.load(tmp_path / "t.npy")
    assert np.isnan(saved[:, 0, :]).all()  # w_bits 1 not requested
    assert len(doc["infeasible"]) == 2 * 7 * 4
    assert {e["a_bits"] for e in doc["infeasible"]} == {5, 6, 7, 8}
    csv_rows = (tmp_path / "t.csv").read_text().splitlines()
    assert sum(",False," in r for r in csv_rows) == 2 * 7 * 4
    assert doc["not_in_table"]["layers"] == ["p1"]
    assert doc["not_in_table"]["cycles"] > 0  # the pool runs on the vector unit


def test_binary_layers_cannot_take_wider_bits(tmp_path):
    """A layer whose weights are binary (±1, one bit) has no 2..8-bit entries: inf, with the
    QuantSpec's reason."""
    text = TINY.read_text().replace("quant: {w_bits: 4}", "quant: {w_bits: 1, w_encoding: binary}")
    (tmp_path / "b.yaml").write_text(text)
    oracle = CostOracle(_arch("bitfusion"), accelsim.load_workload(tmp_path / "b.yaml"))
    df = oracle.table()
    fc = df[df.layer == "fc"]
    assert fc[fc.w_bits == 1].feasible.all() and not fc[fc.w_bits > 1].feasible.any()
    assert fc[fc.w_bits > 1].reason.str.contains("needs w_bits: 1").all()


def test_bad_queries_are_config_errors(fusion, write):
    with pytest.raises(
        ConfigError,
        match=r"assignment\.conv_1: no layer of workload 'resnet50' has this name \(did you mean 'conv1'\?\)",
    ):
        fusion.cost({"conv_1": {"w_bits": 4}})
    with pytest.raises(
        ConfigError,
        match=r"layer: no GEMM layer of workload 'resnet50' has this name.*; found 'avgpool'",
    ):
        fusion.layer_cost("avgpool", {"w_bits": 4})
    with pytest.raises(
        ConfigError,
        match=r"assignment\.conv1\.w_bits: out of range; found 0 \(int\); allowed: >= 1",
    ):
        fusion.layer_cost("conv1", {"w_bits": 0})
    n = len(fusion.layers)
    with pytest.raises(
        ConfigError,
        match=r"strategy: bit-widths outside the table; found \[0, 9\]; allowed: 1\.\.8",
    ):
        fusion.cost([(9, 8)] + [(8, 0)] + [(8, 8)] * (n - 2))
    with pytest.raises(
        ConfigError, match=r"strategy: a strategy is one integer .* allowed: shape \(54, 2\)"
    ):
        fusion.cost([(8, 8)] * 3)
    with pytest.raises(
        ConfigError,
        match=r"w_bits: bit-widths outside the table .* found \[1, 16\]; allowed: 1\.\.8",
    ):
        fusion.lut("latency", w_bits=(1, 16))
    with pytest.raises(ConfigError, match=r"metric: unknown metric \(did you mean 'latency'\?\)"):
        fusion.lut("latncy")
    bare = CostOracle(_narrow_arch(write, technology=False), accelsim.load_workload(TINY))
    with pytest.raises(ConfigError, match=r"metric: arch 'edge_32x32' has no technology section"):
        bare.lut("energy")
    assert bare.cost([(8, 4), (4, 4)]).energy_pj is None
    with pytest.raises(ConfigError, match=r"objective: unknown objective"):
        CostOracle(fusion.arch, RESNET50, objective="speed")


def test_lut_command_bad_input_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "accelsim", "lut", str(ROOT / "arch_configs" / "bitfusion.yaml"),
         str(TINY), "--w-bits", "0-9", "--a-bits", "x", "-o", str(tmp_path / "t.npy")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "<command line>: --w-bits: bit-widths outside the table" in proc.stderr
    assert "<command line>: --a-bits: not a bit-width range; found 'x'" in proc.stderr
    assert not (tmp_path / "t.npy").exists()
    wrong = subprocess.run(
        [sys.executable, "-m", "accelsim", "lut", str(ROOT / "arch_configs" / "bitfusion.yaml"),
         str(TINY), "-o", str(tmp_path / "t.txt")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert wrong.returncode == 2
    assert "output: the table is a NumPy .npy file; found" in wrong.stderr


def _lut(*args):
    return subprocess.run([sys.executable, "-m", "accelsim", "lut", *map(str, args)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_lut_command_names_the_flag_or_file(write, tmp_path):
    """`lut` problems name what the user gave, not <python>: --metric energy and --objective
    energy/edp on an arch without technology, an -o that is not .npy (all at once, before
    any work), a workload without a GEMM layer (its file); --w-bits 1-3000000000 is out of
    the table, checked before the range is built (it was a MemoryError)."""
    bare = write("bare.yaml", (ROOT / "arch_configs" / "edge_32x32.yaml").read_text()
                 .replace("technology: {node_nm: 28}\n", ""))  # fmt: skip
    proc = _lut(bare, TINY, "--metric", "energy", "--objective", "edp", "-o", tmp_path / "t.txt")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[1:] == [
        "  <command line>: --objective: arch 'edge_32x32' has no technology section, so no "
        "energy model; found 'edp'; allowed: latency (or add a technology section to the arch)",
        "  <command line>: --metric: arch 'edge_32x32' has no technology section, so no energy "
        "model; found 'energy'; allowed: latency, cycles (or add a technology section to the arch)",
        f"  <command line>: --output: the table is a NumPy .npy file; found '{tmp_path / 't.txt'}'"
        "; allowed: *.npy",
    ]  # fmt: skip
    text = TINY.read_text().split("layers:")[0].replace("name: tiny", "name: p")
    pools = write("p.yaml", text + "layers:\n  - {name: p, type: pool, pool: max, channels: 4, "
                  "in_h: 4, in_w: 4, kernel: 2}\n")  # fmt: skip
    proc = _lut(bare, pools, "-o", tmp_path / "t.npy")
    assert proc.returncode == 2
    assert f"{pools}: layers: workload 'p' has no GEMM layer to cost" in proc.stderr
    proc = _lut(bare, TINY, "--w-bits", "1-3000000000", "-o", tmp_path / "t.npy")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "<command line>: --w-bits: bit-widths outside the table" in proc.stderr
    assert not list(tmp_path.glob("t.*"))


@pytest.mark.parametrize("design", ["reconfig_128x128", "finn_zc706"])
def test_oracle_refuses_archs_whose_layer_costs_are_not_additive(design):
    """A reconfigurable array pays for mode switches between layers and a layer-pipelined
    design shares one PE budget among its stages: a per-layer table cannot sum to their
    totals, so the oracle refuses them by name."""
    arch = accelsim.load_arch(ROOT / "arch_configs" / f"{design}.yaml")
    wl = accelsim.load_workload(ROOT / "workloads" / "finn_sfc.yaml")
    with pytest.raises(ConfigError, match="not additive"):
        CostOracle(arch, wl)
