"""Every ConfigError path of the YAML loaders (DESIGN.md §4): file, line, field, found,
allowed, "did you mean"; all problems of a file together."""

import re
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


POOL = "{name: p, type: pool, pool: max, channels: 4, in_h: 8, in_w: 8, kernel: 2}"


def pool_workload(change: tuple[str, str]) -> str:
    """WL with a pool layer, changed by ``change``, between its conv and fc layers."""
    return WL.replace("  - {name: f1", f"  - {POOL.replace(*change)}\n  - {{name: f1")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (("in_w: 8, kernel: 2", "in_w: 100, kernel: 20"), r"w\.yaml:6: layers\.1: the kernel does not fit the padded input: output would be \(-11, 81\)$"),
        (("kernel: 2", "kernel: 20"), r"w\.yaml:6: layers\.1: the kernel does not fit the padded input: output would be \(-11, -11\)$"),
        (("kernel: 2", "kernel: 2, padding: 100"), r"w\.yaml:6: layers\.1: padding \[100, 100, 100, 100\] must be smaller than the kernel \[2, 2\] on each side$"),
        (("kernel: 2", "kernel: [2, 3], padding: [1, 3]"), r"layers\.1: padding \[1, 3, 1, 3\] must be smaller than the kernel \[2, 3\] on each side$"),
    ],
)  # fmt: skip
def test_pool_window_must_fit(write, change, match):
    """A pool kernel larger than its padded input gave negative output sizes, cycles and
    energy (exit 0; with both sizes negative their product was positive), and a window
    wholly in the padding pools nothing: each is one problem of the layer, as for a conv."""
    with pytest.raises(accelsim.ConfigError, match=match) as info:
        accelsim.load_workload(write("w.yaml", pool_workload(change)))
    assert len(info.value.problems) == 1


def test_pool_union_tag_is_not_a_field(write):
    """A pool layer's ``pool`` field has the name of its layer type (pydantic's union tag):
    ``stride: 0`` was two problems with pydantic's type names in the path; one, as for conv."""
    text = pool_workload(("kernel: 2", "kernel: 2, stride: 0"))
    with pytest.raises(
        accelsim.ConfigError,
        match=r"w\.yaml:6: layers\.1\.stride: out of range; found 0 \(int\); allowed: >= 1$",
    ) as info:
        accelsim.load_workload(write("w.yaml", text))
    assert len(info.value.problems) == 1


def test_network_too_large_to_model(write):
    """4,097 fc layers of 2**50 MACs each (each within the per-layer cap) overflowed the
    network's int64 totals (negative total MACs): the layers together are one problem."""
    layer = "  - {name: f%d, type: fc, in_features: 33554432, out_features: 33554432}\n"
    text = WL.split("layers:\n")[0] + "layers:\n" + "".join(layer % i for i in range(4097))
    with pytest.raises(
        accelsim.ConfigError,
        match=rf"w\.yaml:4: layers: too much work in all layers together to model; "
        rf"found {4097 * 2**50:,} MACs and elements; allowed: at most {2**62:,} \(2\*\*62\)$",
    ):
        accelsim.load_workload(write("w.yaml", text))


MEMORIES = """\
memories:
  inputs: {size_bytes: 1024, bytes_per_cycle: 16}
  weights: {size_bytes: 1024, bytes_per_cycle: 16}
  outputs: {size_bytes: 1024, bytes_per_cycle: 16}
dram: {bytes_per_cycle: 8}
"""


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (("clock_mhz: 100", "clock_mhz: 1.0e-320"), r"a\.yaml:6: array\.clock_mhz: out of range; found 1e-320 \(float\); allowed: >= 0\.001$"),
        (("dram: {bytes_per_cycle: 8}", "dram: {bytes_per_cycle: 1.0e-300}"), r"a\.yaml:15: dram\.bytes_per_cycle: out of range; found 1e-300 \(float\); allowed: >= 1e-06$"),
        (("outputs: {size_bytes: 1024, bytes_per_cycle: 16}", "outputs: {size_bytes: 1024, bytes_per_cycle: 1.0e-9}"), r"a\.yaml:14: memories\.outputs\.bytes_per_cycle: out of range; found 1e-09 \(float\); allowed: >= 1e-06$"),
    ],
)  # fmt: skip
def test_rates_too_small_to_model(write, change, match):
    """A clock below 1 kHz or a bandwidth below 1e-6 bytes per cycle gave an infinite
    latency (invalid JSON) or cycle counts of hundreds of digits: out of range."""
    with pytest.raises(accelsim.ConfigError, match=match) as info:
        accelsim.load_arch(write("a.yaml", (ARCH + MEMORIES).replace(*change)))
    assert len(info.value.problems) == 1


def test_reconfig_and_execution_exclusive(write):
    """A layer-pipelined ``execution`` silently ignored the arch's ``reconfig`` modes: the
    two together are a problem naming both."""
    text = (ROOT / "arch_configs" / "reconfig_128x128.yaml").read_text()
    text += "execution: {mode: layer_pipelined, budget_lanes: 1000}\n"
    with pytest.raises(
        accelsim.ConfigError,
        match=r"r\.yaml:1: <top>: reconfig and execution \(layer_pipelined\) cannot be combined",
    ):
        accelsim.load_arch(write("r.yaml", text))


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefg", "bcdefgh")
)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (BOMB, r"y\.yaml:1: .*: more than 1,000,000 values once aliases are expanded$"),
        ("name: a\nx: &a [1, *a]\n", r"y\.yaml:2: x\.1: an alias refers to the list or mapping that contains it$"),
        ("name: a\nx: " + "[" * 3000 + "]" * 3000 + "\n", r"y\.yaml:2: x: nested more than 100 levels deep$"),
        ("name: a\nx: " + "{a: " * 1500 + "1" + "}" * 1500 + "\n", r"y\.yaml:2: x: nested more than 100 levels deep$"),
        ("name: a\nrows: !custom 4\n", r"y\.yaml:2: rows: not a plain YAML value: could not determine a constructor for the tag '!custom'$"),
        ("name: a\nrows: !!python/object:os.system 4\n", r"y\.yaml:2: rows: not a plain YAML value: could not determine a constructor .*python/object:os\.system'$"),
        ("name: a\nrows: !custom {b: 1}\n", r"y\.yaml:2: rows: tag !custom is not supported: write a plain list or mapping$"),
        ("b: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n", r"y\.yaml:3: c: merge keys \(<<\) are not supported: write the keys out$"),
        ("name: a\nrows: 4\x00\n", r"y\.yaml:2: <top>: not valid YAML: character #x0000 is not allowed \(control characters are not allowed\)$"),
    ],
    ids=["alias-bomb", "self-alias", "deep-lists", "deep-mappings", "tag", "python-tag", "mapping-tag", "merge-key", "nul"],
)  # fmt: skip
def test_yaml_the_reader_cannot_build(write, text, match):
    """An alias bomb hung; a self-referencing alias or deep nesting raised RecursionError;
    tags and merge keys raised PyYAML's ConstructorError; a NUL byte had no line (only a
    character offset): each is one problem at its line."""
    with pytest.raises(accelsim.ConfigError, match=match) as info:
        accelsim.load_arch(write("y.yaml", text))
    assert len(info.value.problems) == 1


@pytest.mark.parametrize(
    ("value", "hint"),
    [("1.0e300", "1.0e+300"), ("1e6", "1.0e+6"), ("1e-3", "1.0e-3"), ("-2.5E10", "-2.5e+10")],
)
def test_float_without_dot_or_exponent_sign_hint(write, value, hint):
    """PyYAML (YAML 1.1) reads these as strings; "wrong type" says how to write the number."""
    text = ARCH.replace("clock_mhz: 100", f"clock_mhz: {value}")
    with pytest.raises(
        accelsim.ConfigError,
        match=rf"array\.clock_mhz: wrong type \(YAML 1\.1 needs a dot and a signed exponent: "
        rf"write {re.escape(hint)}\); found '{value}' \(str\); allowed: a number$",
    ):
        accelsim.load_arch(write("a.yaml", text))


def test_null_layer_type_shown_as_null(write):
    """``type: null`` was reported as the string 'None'."""
    text = WL.replace("type: fc", "type: null")
    with pytest.raises(
        accelsim.ConfigError,
        match=r"w\.yaml:6: layers\.1\.type: not an allowed value; found nothing \(null\); allowed: conv,",
    ):
        accelsim.load_workload(write("w.yaml", text))
