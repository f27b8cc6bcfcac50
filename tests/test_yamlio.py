"""Strict YAML reading (accelsim.yamlio): nesting deeper than MAX_DEPTH is one ConfigError at
any depth, without recursing (the composer's RecursionError, or a crash of the C one); a
parse keeps nothing of the file alive."""

import gc
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

import accelsim
from accelsim import yamlio
from accelsim.errors import ConfigError

SIZES = [200, 10_000, 100_000]
# line 3 on: one nested list or mapping per line, or "- " 100,000 times on one line
SHAPES = {
    "lists": lambda n: " [\n" * n + " " + "]" * n,
    "mappings": lambda n: " {a:\n" * n + " 1" + "}" * n,
    "compact": lambda n: "- " * n + "x",
}
LINE = {"lists": 103, "mappings": 103, "compact": 3}  # of the first value 101 levels deep


def _deep(tmp_path, shape: str, n: int):
    path = tmp_path / f"{shape}_{n}.yaml"
    path.write_text("name: a\nx:\n" + SHAPES[shape](n) + "\n")
    return path


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("shape", SHAPES)
def test_deep_nesting_is_one_config_error(tmp_path, shape, n):
    """200, 10,000 and 100,000 nested lists, flow mappings or compact block lists: one
    ConfigError naming the file, the line of the first value nested more than MAX_DEPTH deep
    and the top-level key. (100,000 levels crashed the C composer, below any check.)"""
    path = _deep(tmp_path, shape, n)
    if n == 100_000:  # in a child process, so that a crash fails this test only
        code = f"import accelsim\ntry:\n    accelsim.load_arch({str(path)!r})\n" \
               "except accelsim.ConfigError as exc:\n    print(exc)\n"  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode == 0 and not proc.stderr, (proc.returncode, proc.stderr[-2000:])
        text = proc.stdout.strip()
    else:
        with pytest.raises(ConfigError) as exc:
            accelsim.load_arch(path)
        text = str(exc.value)
    assert text == f"{path}:{LINE[shape]}: x: nested more than 100 levels deep"


@pytest.mark.parametrize("n", SIZES)
def test_deep_nesting_on_the_command_line(tmp_path, n):
    """``accelsim run DEEP.yaml workloads/resnet50.yaml`` exits 2 with that one problem."""
    path = _deep(tmp_path, "lists", n)
    proc = subprocess.run(
        [sys.executable, "-m", "accelsim", "run", str(path), "workloads/resnet50.yaml"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stderr == (
        f"accelsim: 1 problem in the input:\n  {path}:103: x: nested more than 100 levels deep\n"
    )


def test_deep_nesting_with_the_pure_python_parser(monkeypatch):
    """Without the C parser (PyYAML built without libyaml) the same: PyYAML's composer
    recurses once per level and raised RecursionError at about 500."""
    monkeypatch.setattr(yamlio, "_Loader", yaml.SafeLoader)
    monkeypatch.setattr(yamlio, "_SAFE_DEPTH", 200, raising=False)
    for text in ("[" * 10_000 + "]" * 10_000, "- " * 10_000 + "x", "{a: " * 300 + "1" + "}" * 300):
        with pytest.raises(ConfigError, match=r"^f\.yaml:1: (0|a): nested more than 100 levels"):
            yamlio.parse_yaml(text, "f.yaml")
    assert yamlio.parse_yaml("x: " + "[" * 99 + "]" * 99, "f.yaml").data["x"] is not None


@pytest.mark.parametrize("check", ["bound", "events"])
def test_depth_limit_is_the_same_either_way(monkeypatch, check):
    """Small files are checked while building (the composer's recursion is safe for them),
    large ones on the event stream first: the same limit and message. 100 levels load; 101
    (and the first value 101 deep on its own line, under a top-level list or mapping) do
    not; aliases are counted where they are expanded."""
    if check == "events":
        monkeypatch.setattr(yamlio, "_SAFE_DEPTH", -1)
    assert yamlio.parse_yaml("x: " + "[" * 100 + "]" * 100, "f.yaml").line(("x",)) == 1
    with pytest.raises(ConfigError, match=r"^f\.yaml:1: x: nested more than 100 levels deep$"):
        yamlio.parse_yaml("x: " + "[" * 100 + "1" + "]" * 100, "f.yaml")
    with pytest.raises(ConfigError, match=r"^f\.yaml:4: 1: nested more than 100 levels deep$"):
        yamlio.parse_yaml("- 0\n- " + "[" * 99 + "\n\n[1]" + "]" * 99, "f.yaml")
    alias = "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 50 + "*a" + "]" * 50
    with pytest.raises(ConfigError, match=r"^f\.yaml:1: b: nested more than 100 levels deep$"):
        yamlio.parse_yaml(alias, "f.yaml")


def _live_nodes() -> int:
    gc.collect()
    return sum(isinstance(o, yaml.Node) for o in gc.get_objects())


def test_a_parse_keeps_nothing_of_the_file_alive():
    """Every file's YAML nodes are freed once it is read. A constructor shared by every parse
    cached each scalar node it ever built, for the life of the process: ResNet-50's
    workload kept about 1,900 nodes (0.7 MB) alive per read, without bound."""
    text = (ROOT / "workloads" / "resnet50.yaml").read_text()
    yamlio.parse_yaml(text, "first.yaml")
    before = _live_nodes()
    for i in range(3):
        doc = yamlio.parse_yaml(text, f"{i}.yaml")
    assert _live_nodes() == before
    assert doc.data["name"] == "resnet50"
