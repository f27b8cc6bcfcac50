"""SCALE-Sim .cfg and topology inputs: accepted layouts, lowering rules, bad input."""

import subprocess
import sys

import pytest
from conftest import ROOT

import accelsim

GOLDEN = ROOT / "tests" / "goldens" / "scalesim"

V3 = """\
[general]
run_name = demo

[architecture_presets]
ArrayHeight:    16
ArrayWidth:     64
IfmapSramSzkB:    64
FilterSramSzkB:   64
OfmapSramSzkB:    32
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Dataflow : os
Bandwidth : 10
ReadRequestBuffer: 128
WriteRequestBuffer: 128

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false

[run_presets]
InterfaceBandwidth: CALC
"""


def test_v3_and_v2_layouts_load(write):
    arch = accelsim.load_arch(write("a.cfg", V3))
    assert (arch.rows, arch.cols, arch.dataflows, arch.timing) == (16, 64, ("os",), "scalesim")
    assert {a.name for a in arch.assumed} == {
        "array.clock_mhz",
        "pe",
        "technology",
        "memories.*.bytes_per_cycle",
        "dram.kind",
    }
    assert arch.spec.memories.inputs.size_bytes == 64 * 1024
    v2 = accelsim.load_arch(GOLDEN / "configs" / "v2_google_ws_128x128.cfg")
    assert (v2.rows, v2.cols, v2.dataflows) == (128, 128, ("ws",))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (("Dataflow : os", "Dataflow : rs"), r"a\.cfg:13: architecture_presets\.dataflow: unknown dataflow.*found 'rs'; allowed: os, ws, is"),
        (("ArrayWidth:     64", "ArrayWidth:     -64"), r"a\.cfg:6: architecture_presets\.arraywidth: out of range; found -64; allowed: >= 1"),
        (("ArrayWidth:     64", "ArrayWidth:     sixty"), r"a\.cfg:6: architecture_presets\.arraywidth: not a whole number; found 'sixty'"),
        (("ArrayHeight:    16\n", ""), r"a\.cfg:4: architecture_presets\.arrayheight: required key is missing"),
        (("[run_presets]\nInterfaceBandwidth: CALC\n", ""), r"a\.cfg: run_presets: required section is missing"),
        (("Bandwidth : 10", "Bandwith : 10"), r"a\.cfg:14: architecture_presets\.bandwith: unknown key \(did you mean 'bandwidth'\?\)"),
        (("OfmapOffset:    20000000", "OfmapOffset:    20000000\nDataflow : ws"), r"a\.cfg:14: architecture_presets\.dataflow: duplicate key \(first given on line 13\)"),
        (("SparsitySupport : false", "SparsitySupport : true"), r"sparse SCALE-Sim runs are not modelled"),
        (("Bandwidth : 10", "Bandwidth : 1" + "0" * 400), r"a\.cfg:14: architecture_presets\.bandwidth: not a positive finite number"),
        (("IfmapSramSzkB:    64", "IfmapSramSzkB:    100000000000000000000"), r"a\.cfg:7: architecture_presets\.ifmapsramszkb: out of range; found 100000000000000000000; allowed: >= 1 and <= 8796093022208"),
        (("ArrayWidth:     64", "ArrayWidth:     1000000000"), r"a\.cfg:6: architecture_presets\.arraywidth: ArrayHeight x ArrayWidth too large; found 16,000,000,000 PEs"),
        (("WriteRequestBuffer: 128", "WriteRequestBuffer: 128\nMemoryBanks: lots"), r"a\.cfg:17: architecture_presets\.memorybanks: not a whole number; found 'lots'"),
        (("WriteRequestBuffer: 128", "WriteRequestBuffer: 128\nMemoryBanks: 0"), r"a\.cfg:17: architecture_presets\.memorybanks: out of range; found 0; allowed: >= 1"),
        (("IfmapOffset:    0", "IfmapOffset:    banana"), r"a\.cfg:10: architecture_presets\.ifmapoffset: not a whole number; found 'banana'"),
        (("IfmapOffset:    0", "IfmapOffset:    -1"), r"a\.cfg:10: architecture_presets\.ifmapoffset: out of range; found -1; allowed: >= 0"),
    ],
)  # fmt: skip
def test_bad_cfg(write, change, match):
    """Every whole-number key SCALE-Sim reads (MemoryBanks and the offsets too, which accelsim
    does not use) must be one, in range; other bad values are named with file and line."""
    with pytest.raises(accelsim.ConfigError, match=match):
        accelsim.load_arch(write("a.cfg", V3.replace(*change)))


# Each input below is refused by real SCALE-Sim 3.0.0; the error it raised is in the comment.
# Produced with the V3 config above plus a "UseRamulatorTrace: False" line (3.0.0 needs it),
# the change applied, as a.cfg, and t.csv = "Layer, M, N, K,\ng1, 4, 5, 6,\n":
#   /work/venvs/scalesim/bin/python -c "from scalesim.scale_sim import scalesim; scalesim(
#     save_disk_space=True, config='a.cfg', topology='t.csv',
#     layout='tests/goldens/scalesim/topologies/layout_none.csv',
#     input_type_gemm=True).run_scale(top_path='out')"
@pytest.mark.parametrize(
    ("change", "match"),
    [
        # NoSectionError: No section: 'general'  (configparser section names are case-sensitive)
        (("[general]", "[General]"), r"a\.cfg:1: General: unknown section \(did you mean 'general'\?\); found 'General'; allowed: general, .* \(case-sensitive\)$"),
        # NoSectionError: No section: 'general'  (the name is ' general ')
        (("[general]", "[ general ]"), r"a\.cfg:1:  general : unknown section \(did you mean 'general'\?\); found ' general '"),
        # NoOptionError: No option 'ifmapoffset' in section: 'architecture_presets'  (v2 too)
        (("IfmapOffset:    0\n", ""), r"a\.cfg:4: architecture_presets\.ifmapoffset: required key is missing$"),
        # ValueError: invalid literal for int() with base 10: '16\nArrayWidth:     64'
        (("ArrayWidth:     64", "  ArrayWidth:     64"), r"a\.cfg:6: architecture_presets\.arrayheight: line indented deeper than its key line: SCALE-Sim's configparser reads it as a continuation of the value; found 'ArrayWidth:     64'; allowed: each 'key: value' indented like the first$"),
        # InterpolationSyntaxError: '%' must be followed by '%' or '(', found: '%1'
        (("run_name = demo", "run_name = demo%1"), r"a\.cfg:2: general\.run_name: a '%' that is not written '%%' \(SCALE-Sim's configparser interpolates '%'\); found 'demo%1'$"),
        # ValueError: Not a boolean: maybe
        (("IfmapCustomLayout: False", "IfmapCustomLayout: maybe"), r"a\.cfg:19: layout\.ifmapcustomlayout: not a configparser boolean; found 'maybe'; allowed: 0, no, false, off, 1, yes, true, on$"),
        # IndexError: list index out of range  (it reads the custom layout from the layout CSV)
        (("IfmapCustomLayout: False", "IfmapCustomLayout: True"), r"a\.cfg:19: layout\.ifmapcustomlayout: custom SRAM layouts are not modelled by accelsim; found 'True'; allowed: 0, no, false, off$"),
    ],
)  # fmt: skip
def test_cfg_scalesim_refuses(write, change, match):
    """A .cfg real SCALE-Sim 3.0.0 refuses (configparser's reading of it, or a missing key
    every SCALE-Sim version reads) is refused with one problem naming file, line and key."""
    with pytest.raises(accelsim.ConfigError, match=match):
        accelsim.load_arch(write("a.cfg", V3.replace(*change)))


def test_cfg_percent_escape(write):
    """configparser reads '%%' as '%': SCALE-Sim 3.0.0 runs `run_name = 100%%` (the command
    above test_cfg_scalesim_refuses) and names its output directory '100%'."""
    arch = accelsim.load_arch(write("a.cfg", V3.replace("run_name = demo", "run_name = 100%%")))
    assert arch.spec.name == "100%"


def test_empty_cfg(write):
    with pytest.raises(accelsim.ConfigError, match=r"a\.cfg: <top>: the file is empty"):
        accelsim.load_arch(write("a.cfg", "\n"))


CONV = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def test_conv_row_lowering_follows_scalesim(write):
    """SCALE-Sim: OH = ceil((H - R + S)/S). 58x58, 3x3, stride 2: ceil(57/2) = 29 (floor
    rule without padding would give 28), so m = 29*29 = 841, k = 3*3*16 = 144, n = 32.
    "DP" rows run per channel with all filters: Conv_DP (16 ch, 32 filters, 30x30, 3x3):
    groups = 16, n = 32, k = 9, m = 28*28 = 784."""
    wl = accelsim.load_workload(
        write("t.csv", CONV + "c, 58, 58, 3, 3, 16, 32, 2,\nConv_DP, 30, 30, 3, 3, 16, 32, 1,\n")
    )
    c, dp = wl.layers
    assert (c.m, c.n, c.k, c.groups) == (841, 32, 144, 1)
    assert (dp.m, dp.n, dp.k, dp.groups) == (784, 32, 9, 16)
    assert [a.name for a in wl.assumed] == ["quant"]


def test_gemm_rows(write):
    """GEMM rows are `name, M, N, K,` with K the reduction."""
    wl = accelsim.load_workload(write("g.csv", "Layer, M, N, K,\ng1, 100, 37, 300,\n"))
    layer = wl.layers[0]
    assert (layer.m, layer.n, layer.k, layer.groups) == (100, 37, 300, 1)


def test_topology_with_a_utf8_bom(write):
    """A header that starts with a UTF-8 byte-order mark (as spreadsheet programs write it) is
    read like one without."""
    wl = accelsim.load_workload(write("g.csv", "\ufeffLayer, M, N, K,\ng1, 100, 37, 300,\n"))
    assert [(la.name, la.m, la.n, la.k) for la in wl.layers] == [("g1", 100, 37, 300)]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"t\.csv: <top>: the file is empty"),
        ("Layer, M, N\n", r"t\.csv:1: header: not a SCALE-Sim topology header"),
        ("Layer, M, N, K,\ng1, 10, 20,\n", r"t\.csv:2: row: too few fields: 3"),
        ("Layer, M, N, K,\ng1, 10, x, 5,\n", r"t\.csv:2: g1\.n: not a whole number; found 'x'"),
        ("Layer, M, N, K,\ng1, 10, -2, 5,\n", r"t\.csv:2: g1\.n: out of range; found -2; allowed: >= 1"),
        (CONV + "c1, 8, 8, 3, 3, 4, 4, 0,\n", r"t\.csv:2: c1\.strides: out of range; found 0; allowed: >= 1"),
        (CONV + "c1, 2, 8, 3, 3, 4, 4, 1,\n", r"t\.csv:2: c1: filter 3x3 larger than the IFMAP 2x8"),
        ("Layer, M, N, K,\ng1, 1, 1, 1,\ng1, 2, 2, 2,\n", r"t\.csv:3: layer name: duplicate layer name"),
        ("Layer, M, N, K,\n", r"the topology has a header but no layers"),
        ("Layer, M, N, K,\ng1, 10000000000000000000, 1, 1,\n", r"t\.csv:2: g1\.m: out of range; found 10000000000000000000; allowed: >= 1 and <= 9007199254740992"),
        (CONV + "c1, 99999999999, 99999999999, 3, 3, 8, 8, 1,\n", r"t\.csv:2: c1: too much work in one layer to model; found 5,759,999,999,654,400,000,005,184 MACs"),
        ("Layer, M, N, K,\n, 4, 4, 4,\n", r"t\.csv:2: layer name: empty layer name; found ''"),
        ("Layer, M, N, K,\ng1, 4, 4, 4, 5, 6,\n", r"t\.csv:2: row: too many fields: 6; found 'g1, 4, 4, 4, 5, 6,'"),
        (CONV + "c1, 8, 8, 3, 3, 4, 4, 1, 1:1,\n", r"t\.csv:2: row: too many fields: 9.*a sparsity ratio after them is not modelled"),
        (CONV + "Conv_DP, 3, 3, 1, 1, 9007199254740992, 4, 1,\n", r"t\.csv:2: Conv_DP\.out_channels: Input should be less than or equal to 9007199254740992"),
        # 4,097 layers of 2**50 MACs: each may be modelled, their sum overflows int64 totals
        ("Layer, M, N, K,\n" + "".join(f"g{i}, 1048576, 1048576, 1024,\n" for i in range(4097)), r"t\.csv: <top>: too much work in all layers together to model; found 4,612,811,918,334,230,528 MACs and elements"),
    ],
)  # fmt: skip
def test_bad_topology(write, text, match):
    """Each bad row is a ConfigError naming file, line and field: an empty layer name, extra
    fields (SCALE-Sim 3 would read a 5th/9th as a sparsity ratio) and a depthwise row whose
    channels x filters is too large included, never a pydantic traceback."""
    with pytest.raises(accelsim.ConfigError, match=match):
        accelsim.load_workload(write("t.csv", text))


# SCALE-Sim 3.0.0 on each (the command above test_cfg_scalesim_refuses with the V3 config and
# input_type_gemm=False for the conv files):
#   conv row without its trailing comma  -> IndexError: list index out of range
#   GEMM row without its trailing comma  -> AssertionError: There should be at least 4 entries per row
#   blank line 1, conv                   -> ValueError: invalid literal for int() with base 10: 'IFMAP Height'
#   blank line 1, GEMM                   -> ValueError: invalid literal for int() with base 10: 'M'
@pytest.mark.parametrize(
    ("text", "match"),
    [
        (CONV + "c1, 8, 8, 3, 3, 4, 4, 1\n", r"t\.csv:2: row: no trailing comma: SCALE-Sim drops the last field of every row; found 'c1, 8, 8, 3, 3, 4, 4, 1'; allowed: a ',' after the last field$"),
        ("Layer, M, N, K,\ng1, 4, 5, 6\n", r"t\.csv:2: row: no trailing comma: SCALE-Sim drops the last field of every row; found 'g1, 4, 5, 6'"),
        ("\n" + CONV + "c1, 8, 8, 3, 3, 4, 4, 1,\n", r"t\.csv:1: header: line 1 is blank: SCALE-Sim takes line 1 as the header and reads the header below it as a layer; found ''; allowed: the header on line 1$"),
        ("\nLayer, M, N, K,\ng1, 4, 5, 6,\n", r"t\.csv:1: header: line 1 is blank"),
    ],
)  # fmt: skip
def test_topology_scalesim_refuses(write, text, match):
    """SCALE-Sim skips line 1 unread and drops the last field of every later line
    (topology_utils.py: `row.split(',')[:-1]`), so a row without its trailing comma loses its
    Strides or K and a header below a blank line is read as a layer: it refuses both files.
    accelsim refuses them too, with one problem each, instead of reading them differently."""
    with pytest.raises(accelsim.ConfigError, match=match):
        accelsim.load_workload(write("t.csv", text))


def test_topology_formatting_scalesim_accepts(write):
    """Spaces or tabs around fields and after the trailing comma, CRLF or CR line ends, blank
    lines between rows and no newline at the end: SCALE-Sim 3.0.0 runs all of these."""
    text = "Layer, M, N, K\r\n  g1 ,\t4 ,5,  6 ,  \r\n\r\ng2,1,1,1,"
    wl = accelsim.load_workload(write("g.csv", text))
    assert [(la.name, la.m, la.n, la.k) for la in wl.layers] == [("g1", 4, 5, 6), ("g2", 1, 1, 1)]


def test_export_and_import_round_trip(tmp_path):
    """workload YAML -> SCALE-Sim GEMM topology -> workload: same GEMMs, layer by layer
    (grouped convs become one row per group)."""
    src = accelsim.load_workload(ROOT / "workloads" / "mobilenet_v2.yaml")
    csv_path, yaml_path = tmp_path / "m.csv", tmp_path / "m.yaml"
    for args in (
        ["workloads/mobilenet_v2.yaml", "-o", str(csv_path)],
        [str(csv_path), "-o", str(yaml_path)],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "accelsim", "import", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert proc.returncode == 0, proc.stderr
    back = accelsim.load_workload(yaml_path)
    expanded = [(la.m, la.n, la.k) for la in src.layers if la.is_gemm for _ in range(la.groups)]
    assert [(la.m, la.n, la.k) for la in back.layers] == expanded
    assert back.macs == src.macs
