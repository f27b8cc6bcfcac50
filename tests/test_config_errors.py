"""Every ConfigError path of the YAML loaders (DESIGN.md §4): file, line, field, found,
allowed, "did you mean"; all problems of a file together."""

import subprocess
import sys

import pytest
from conftest import QUANT, ROOT

import accelsim
from accelsim.io import load_any

ARCH = """\
name: a
array:
  rows: 4
  cols: 4
  dataflow: ws
  clock_mhz: 100
pe:
  kind: int_mac
  max_a_bits: 8
  max_w_bits: 8
"""

WL = f"""\
name: w
batch: 1
quant: {QUANT}
layers:
  - {{name: c1, type: conv, in_channels: 3, out_channels: 8, in_h: 8, in_w: 8, kernel: 3}}
  - {{name: f1, type: fc, in_features: 288, out_features: 10, input_from: [c1]}}
"""


def test_valid_files_load(write):
    arch = accelsim.load_arch(write("a.yaml", ARCH))
    wl = accelsim.load_workload(write("w.yaml", WL))
    assert (arch.rows, arch.cols, arch.dataflows) == (4, 4, ("ws",))
    assert [layer.name for layer in wl.layers] == ["c1", "f1"]


def test_missing_file():
    with pytest.raises(accelsim.ConfigError, match=r"nope\.yaml: <top>: file not found"):
        accelsim.load_arch("nope.yaml")


def test_empty_file(write):
    with pytest.raises(accelsim.ConfigError, match="the file is empty"):
        accelsim.load_workload(write("e.yaml", ""))


def test_invalid_yaml_names_line(write):
    with pytest.raises(
        accelsim.ConfigError,
        match=r"b\.yaml:4: <top>: not valid YAML: .*\(while parsing a flow sequence that starts on line 3\)",
    ):
        accelsim.load_arch(write("b.yaml", "name: a\narray:\n  rows: [1\n"))


def test_duplicate_key(write):
    text = ARCH.replace("  cols: 4\n", "  cols: 4\n  rows: 8\n")
    with pytest.raises(
        accelsim.ConfigError,
        match=r"a\.yaml:5: array\.rows: duplicate key \(first given on line 3\)",
    ):
        accelsim.load_arch(write("a.yaml", text))


def test_unknown_key_did_you_mean(write):
    text = ARCH.replace("clock_mhz", "clock_mhzz")
    with pytest.raises(
        accelsim.ConfigError,
        match=r"a\.yaml:6: array\.clock_mhzz: unknown key \(did you mean 'clock_mhz'\?\); "
        r"allowed: rows, cols, dataflow, clock_mhz",
    ):
        accelsim.load_arch(write("a.yaml", text))


def test_wrong_type(write):
    text = ARCH.replace("rows: 4", 'rows: "4"')
    with pytest.raises(
        accelsim.ConfigError,
        match=r"a\.yaml:3: array\.rows: wrong type; found '4' \(str\); allowed: an integer",
    ):
        accelsim.load_arch(write("a.yaml", text))


@pytest.mark.parametrize("value", ["0", "-3"])
def test_zero_or_negative_size(write, value):
    text = ARCH.replace("cols: 4", f"cols: {value}")
    with pytest.raises(
        accelsim.ConfigError,
        match=rf"a\.yaml:4: array\.cols: out of range; found {value} \(int\); allowed: >= 1",
    ):
        accelsim.load_arch(write("a.yaml", text))


def test_unknown_dataflow(write):
    text = ARCH.replace("dataflow: ws", "dataflow: [ws, rs]")
    with pytest.raises(
        accelsim.ConfigError, match=r"array\.dataflow.*found 'rs'.*allowed: os, ws, is"
    ):
        accelsim.load_arch(write("a.yaml", text))


def test_unknown_pe_kind_did_you_mean(write):
    text = ARCH.replace("kind: int_mac", "kind: int_mc")
    with pytest.raises(
        accelsim.ConfigError,
        match=r"a\.yaml:8: pe\.kind: not an allowed value \(did you mean 'int_mac'\?\)",
    ):
        accelsim.load_arch(write("a.yaml", text))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (("dataflow: ws", "dataflow: []"), r"a\.yaml:5: array\.dataflow: must not be empty"),
        (("clock_mhz: 100", "clock_mhz: .inf"), r"a\.yaml:6: array\.clock_mhz: input should be a finite number; found inf"),
        (("rows: 4", "rows: 1000000000000000000000"), r"a\.yaml:3: array\.rows: out of range; found 1000000000000000000000 \(int\); allowed: <= 9007199254740992"),
        (("rows: 4", "rows: 10000000000"), r"a\.yaml:2: array: rows x cols is 40,000,000,000 PEs; at most 4,294,967,296"),
    ],
)  # fmt: skip
def test_values_the_model_cannot_take(write, change, match):
    """An empty dataflow list, an infinite clock, integers past int64 crashed the model or
    gave it numbers it cannot use; each is one problem at its line."""
    with pytest.raises(accelsim.ConfigError, match=match) as info:
        accelsim.load_arch(write("a.yaml", ARCH.replace(*change)))
    assert len(info.value.problems) == 1


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("stride: 0", r"w\.yaml:5: layers\.0\.stride: out of range; found 0 \(int\); allowed: >= 1$"),
        ("kernel: [3, 3, 3]", r"layers\.0\.kernel: too many items; found a list \[3, 3, 3\]; allowed: at most 2$"),
        ("padding: [1, 1, 1]", r"layers\.0\.padding: wrong type or length; found a list \[1, 1, 1\]; allowed: an integer or a list of 2 or a list of 4$"),
        ("padding: -1", r"layers\.0\.padding: out of range; found -1 \(int\); allowed: >= 0$"),
    ],
)  # fmt: skip
def test_int_or_list_field_gives_one_problem(write, change, match):
    """`kernel`, `stride`, `padding` take an int or a list: one problem, in plain words,
    not one per accepted form with pydantic's type names in the path."""
    text = WL.replace("kernel: 3}", "kernel: 3, " + change + "}").replace(
        "kernel: 3, kernel", "kernel"
    )
    with pytest.raises(accelsim.ConfigError, match=match) as info:
        accelsim.load_workload(write("w.yaml", text))
    assert len(info.value.problems) == 1


def test_layer_too_large_to_model(write):
    """1e9 x 1e9 inputs overflowed the model's int64 counts (negative energy, exit 0).
    3x3 conv, 3 -> 8 channels: (1e9 - 2)**2 x 8 x 27 = 215,999,999,136,000,000,864 MACs."""
    text = WL.replace("in_h: 8, in_w: 8", "in_h: 1000000000, in_w: 1000000000")
    with pytest.raises(
        accelsim.ConfigError,
        match=r"w\.yaml:5: layers\.0: too much work in one layer to model; "
        r"found 215,999,999,136,000,000,864 MACs; allowed: at most 1,125,899,906,842,624",
    ):
        accelsim.load_workload(write("w.yaml", text))


@pytest.mark.parametrize("bits", [0, 33])
def test_bits_outside_1_to_32(write, bits):
    text = WL.replace("w_bits: 8", f"w_bits: {bits}")
    with pytest.raises(
        accelsim.ConfigError, match=rf"w\.yaml:3: quant\.w_bits: out of range; found {bits}"
    ):
        accelsim.load_workload(write("w.yaml", text))


def test_binary_encoding_needs_one_bit(write):
    text = WL.replace("w_encoding: int", "w_encoding: binary")
    with pytest.raises(
        accelsim.ConfigError,
        match=r"quant: w_encoding 'binary' .* needs w_bits: 1, found w_bits: 8",
    ):
        accelsim.load_workload(write("w.yaml", text))


def test_missing_key(write):
    text = ARCH.replace("  clock_mhz: 100\n", "")
    with pytest.raises(
        accelsim.ConfigError, match=r"a\.yaml:2: array\.clock_mhz: required key is missing"
    ):
        accelsim.load_arch(write("a.yaml", text))


def test_unknown_layer_type(write):
    text = WL.replace("type: fc", "type: fully_connected")
    with pytest.raises(
        accelsim.ConfigError,
        match=r"w\.yaml:6: layers\.1\.type: not an allowed value.*found 'fully_connected'",
    ):
        accelsim.load_workload(write("w.yaml", text))


def test_groups_must_divide_channels(write):
    text = WL.replace("kernel: 3}", "kernel: 3, groups: 2}")
    with pytest.raises(
        accelsim.ConfigError, match=r"layers\.0: groups \(2\) must divide in_channels \(3\)"
    ):
        accelsim.load_workload(write("w.yaml", text))


def test_kernel_larger_than_input(write):
    text = WL.replace("kernel: 3}", "kernel: 9}")
    with pytest.raises(
        accelsim.ConfigError, match=r"layers\.0: the kernel does not fit the padded input"
    ):
        accelsim.load_workload(write("w.yaml", text))


def test_layer_names_checked(write):
    text = WL.replace("name: f1", "name: c1").replace("input_from: [c1]", "input_from: [c0]")
    with pytest.raises(accelsim.ConfigError) as info:
        accelsim.load_workload(write("w.yaml", text))
    text = str(info.value)
    assert "w.yaml:6: layers.1.name: duplicate layer name (first used by layers.0)" in text
    assert "layers.1.input_from.0: names no earlier layer (did you mean 'c1'?); found 'c0'" in text


def test_every_problem_reported_together(write):
    """Four independent mistakes: all four in one ConfigError, sorted by line."""
    text = (
        ARCH.replace("rows: 4", "rows: 0")
        .replace("cols: 4", "colls: 4")
        .replace("clock_mhz: 100", "clock_mhz: -1")
        .replace("max_w_bits: 8", "max_w_bits: 64")
    )
    with pytest.raises(accelsim.ConfigError) as info:
        accelsim.load_arch(write("a.yaml", text))
    lines = [p.line for p in info.value.problems]
    assert len(lines) == 5  # rows, colls (unknown), cols (missing), clock_mhz, max_w_bits
    assert lines == sorted(lines)


def test_assignment_unknown_layer(write):
    wl = accelsim.load_workload(write("w.yaml", WL))
    asg = accelsim.load_assignment(write("s.yaml", "name: s\nassignment:\n  c2: {w_bits: 4}\n"))
    with pytest.raises(
        accelsim.ConfigError,
        match=r"s\.yaml:3: assignment\.c2: no layer of workload 'w' has this name \(did you mean 'c1'\?\)",
    ):
        asg.apply(wl)


def test_assignment_bad_bits(write):
    with pytest.raises(
        accelsim.ConfigError, match=r"s\.yaml:3: assignment\.c1\.w_bits: out of range; found 0"
    ):
        accelsim.load_assignment(write("s.yaml", "name: s\nassignment:\n  c1: {w_bits: 0}\n"))


def test_check_cannot_tell_kind(write):
    with pytest.raises(accelsim.ConfigError, match=r"cannot tell what this file is"):
        load_any(write("x.yaml", "name: x\n"))


def test_cli_bad_input_exit_2_without_traceback(write):
    bad = write("a.yaml", ARCH.replace("rows: 4", "rows: -4"))
    wl = write("w.yaml", WL)
    proc = subprocess.run(
        [sys.executable, "-m", "accelsim", "run", str(bad), str(wl)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "array.rows: out of range; found -4 (int); allowed: >= 1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_check_collects_problems_of_every_file(write):
    bad_arch = write("a.yaml", ARCH.replace("kind: int_mac", "kind: nope"))
    bad_wl = write("w.yaml", WL.replace("batch: 1", "batch: 0"))
    good = ROOT / "arch_configs" / "edge_32x32.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "accelsim", "check", str(good), str(bad_arch), str(bad_wl)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "ok: " in proc.stdout and "edge_32x32" in proc.stdout
    assert "pe.kind: not an allowed value" in proc.stderr
    assert "batch: out of range; found 0" in proc.stderr
    assert "Traceback" not in proc.stderr
