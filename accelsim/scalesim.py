"""SCALE-Sim inputs: ``.cfg`` architecture files and topology CSVs, read and written.

Configs: both the v2 layout (``[general]``, ``[architecture_presets]``, ``[run_presets]``) and
the 3.0.0 layout (adds ``[layout]`` and ``[sparsity]``). A ``.cfg`` says nothing about clock,
PE precision or energy; those come from the named default profile `SCALESIM_PROFILE` and are
listed as assumed in every report's provenance. An arch read from a ``.cfg`` uses
``timing: scalesim``, which reproduces SCALE-Sim's per-layer "Total Cycles".

Topologies, told apart by the header:

* conv: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
  Num Filter, Strides,`` — no padding column: the IFMAP size is already padded. SCALE-Sim's
  output size is ``ceil((H - R + S) / S)``; we represent it exactly as a conv with
  ``(S - (H - R) mod S) mod S`` extra rows/cols of padding at the bottom/right, so that our
  floor rule gives the same size. A layer whose name contains ``DP`` is, as in SCALE-Sim,
  run channel by channel: each of the ``C`` channels is a layer with one input channel and
  all ``Num Filter`` filters, i.e. a grouped conv with ``groups = C`` and
  ``out_channels = C x Num Filter``.
* GEMM: ``Layer, M, N, K,`` with ``K`` the reduction: ``inputs[M, K] @ weights[K, N]``.

Line 1 is the header (SCALE-Sim skips it unread) and every row ends with a trailing comma
(SCALE-Sim drops the last field of every row); a file that breaks either is rejected, as
SCALE-Sim cannot run it.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

from pydantic import ValidationError

from accelsim.arch import MAX_PES, Arch, ArchFile, Assumed
from accelsim.errors import ConfigError, Problem, did_you_mean
from accelsim.quant import QuantSpec
from accelsim.schema import MAX_INT
from accelsim.workload import (
    FC,
    MAX_WORK,
    TOTAL_TOO_LARGE,
    Conv,
    Workload,
    lower,
    pads,
    too_large,
    total_too_large,
)
from accelsim.yamlio import read_text

SCALESIM_PROFILE = {
    "name": "scalesim_default",
    "clock_mhz": (1000.0, "SCALE-Sim counts cycles only; 1 GHz makes cycles read as ns"),
    "pe": (
        {"kind": "int_mac", "max_a_bits": 8, "max_w_bits": 8},
        "SCALE-Sim moves one byte per operand (8-bit word); an 8-bit integer MAC",
    ),
    "quant": (
        {"a_bits": 8, "w_bits": 8, "acc_bits": 32, "out_bits": 8},
        "a SCALE-Sim topology has no precision; SCALE-Sim's word is one byte",
    ),
    "technology": (
        {"node_nm": 45.0, "voltage_v": 0.9},
        "SCALE-Sim has no energy model; the base node of our technology table "
        "(Horowitz, ISSCC 2014, 45 nm, 0.9 V)",
    ),
    "sram_bytes_per_cycle": (
        None,
        "SCALE-Sim CALC mode assumes SRAM ports feed the array without stalls: one word per "
        "array row and column per cycle (rows + cols bytes)",
    ),
    "dram": (
        "ddr3",
        "DRAM kind for its energy; bandwidth from the cfg's Bandwidth (words = bytes) or 10",
    ),
}

# Keys SCALE-Sim 2.x/3.0.0 reads, by section (configparser lower-cases them).
CFG_KEYS = {
    "general": {"run_name": True},
    "architecture_presets": {
        "arrayheight": True, "arraywidth": True, "ifmapsramszkb": True, "filtersramszkb": True,
        "ofmapsramszkb": True, "ifmapoffset": True, "filteroffset": True, "ofmapoffset": True,
        "dataflow": True, "bandwidth": False, "readrequestbuffer": False,
        "writerequestbuffer": False, "memorybanks": False, "onchipmemorybanks": False,
        "onchipmemorybankports": False, "ifmapcustomlayout": False,
        "ifmapsrambankbandwidth": False, "ifmapsrambanknum": False, "ifmapsrambankport": False,
        "filtercustomlayout": False, "filtersrambankbandwidth": False,
        "filtersrambanknum": False, "filtersrambankport": False,
    },
    "layout": {
        "ifmapcustomlayout": False, "ifmapsrambankbandwidth": False, "ifmapsrambanknum": False,
        "ifmapsrambankport": False, "filtercustomlayout": False,
        "filtersrambankbandwidth": False, "filtersrambanknum": False,
        "filtersrambankport": False,
    },
    "sparsity": {
        "sparsitysupport": False, "sparserep": False, "optimizedmapping": False,
        "blocksize": False, "randomnumbergeneratorseed": False, "nonzeroelems": False,
    },
    "run_presets": {"interfacebandwidth": True, "userramulatortrace": False,
                    "useramulatortrace": False},
    "network_presets": {"topologycsvloc": False},
}  # fmt: skip
CFG_TRUE, CFG_FALSE = ("1", "yes", "true", "on"), ("0", "no", "false", "off")  # getboolean
REQUIRED_SECTIONS = ("general", "architecture_presets", "run_presets")
# Whole-number keys -> their least value. accelsim uses only the array and SRAM sizes; the
# others are checked because SCALE-Sim reads them as integers (v2: the memory banks), so a
# config with nonsense there is not one SCALE-Sim runs.
INT_KEYS = {
    **dict.fromkeys(("ifmapoffset", "filteroffset", "ofmapoffset"), 0),
    **dict.fromkeys((
        "arrayheight", "arraywidth", "ifmapsramszkb", "filtersramszkb", "ofmapsramszkb",
        "readrequestbuffer", "writerequestbuffer", "ifmapsrambankbandwidth", "ifmapsrambanknum",
        "ifmapsrambankport", "filtersrambankbandwidth", "filtersrambanknum", "filtersrambankport",
        "memorybanks", "onchipmemorybanks", "onchipmemorybankports",
    ), 1),
}  # fmt: skip
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")  # the name as written: " x " is not "x"
_ENTRY = re.compile(r"^\s*([^:=#;\s][^:=]*?)\s*[:=]\s*(.*?)\s*$")


def parse_cfg(text: str, file: str) -> tuple[dict, dict, list[Problem]]:
    """INI text -> ``{section: {key: value}}``, ``{(section, key): line}``, problems.

    Read as SCALE-Sim's ``configparser`` reads it: section names are case-sensitive and
    taken as written between the brackets, key names are not; a line indented deeper than
    the key line above it continues that key's value (so it is reported, not read as a key).
    """
    values: dict = {}
    lines: dict = {}
    problems: list[Problem] = []
    section = None
    key, key_indent = None, 0  # the last key line of the section: a deeper line continues it
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith(("#", ";")):
            continue
        indent = len(raw) - len(raw.lstrip())
        if key is not None and indent > key_indent:
            problems.append(
                Problem(file, number, f"{section}.{key}", "line indented deeper than its key "
                        "line: SCALE-Sim's configparser reads it as a continuation of the "
                        "value", repr(raw.strip()), "each 'key: value' indented like the first")
            )  # fmt: skip
            continue
        head = _SECTION.match(raw)
        if head:
            section, key = head.group(1), None
            if section in values:
                problems.append(Problem(file, number, section, "duplicate section"))
            if section not in CFG_KEYS:
                hint = did_you_mean(section, CFG_KEYS)
                problems.append(
                    Problem(file, number, section, f"unknown section{hint}", repr(section),
                            ", ".join(CFG_KEYS) + " (case-sensitive)")
                )  # fmt: skip
            values.setdefault(section, {})
            lines[(section, None)] = number
            continue
        entry = _ENTRY.match(raw)
        if entry is None or section is None:
            problems.append(
                Problem(file, number, section or "", "expected 'key: value' inside a [section]",
                        repr(raw.strip()))
            )  # fmt: skip
            continue
        key, key_indent, value = entry.group(1).lower(), indent, entry.group(2)
        if "%" in value.replace("%%", ""):  # configparser's interpolation
            problems.append(
                Problem(file, number, f"{section}.{key}", "a '%' that is not written '%%' "
                        "(SCALE-Sim's configparser interpolates '%')", repr(value))
            )  # fmt: skip
        value = value.replace("%%", "%")
        if key in values[section]:
            first = lines[(section, key)]
            problems.append(
                Problem(
                    file, number, f"{section}.{key}", f"duplicate key (first given on line {first})"
                )
            )
            continue
        values[section][key] = value
        lines[(section, key)] = number
    return values, lines, problems


def _cfg_problems(values: dict, lines: dict, file: str) -> list[Problem]:
    problems = []
    for section in REQUIRED_SECTIONS:
        if section not in values:
            problems.append(Problem(file, None, section, "required section is missing"))
    for section, entries in values.items():
        known = CFG_KEYS.get(section, {})
        for key, required in known.items():
            if required and key not in entries:
                problems.append(
                    Problem(
                        file,
                        lines.get((section, None)),
                        f"{section}.{key}",
                        "required key is missing",
                    )
                )
        for key, value in entries.items():
            where = (file, lines[(section, key)], f"{section}.{key}")
            if known and key not in known:
                hint = did_you_mean(key, known)
                problems.append(Problem(*where, f"unknown key{hint}", None, ", ".join(known)))
            elif key in INT_KEYS:
                if not re.fullmatch(r"[+-]?\d+", value):
                    problems.append(Problem(*where, "not a whole number", repr(value)))
                elif not INT_KEYS[key] <= int(value) <= MAX_INT // 1024:  # kB sizes become bytes
                    allowed = f">= {INT_KEYS[key]} and <= {MAX_INT // 1024}"
                    problems.append(Problem(*where, "out of range", value, allowed))
            elif key == "dataflow" and value not in ("os", "ws", "is"):
                hint = did_you_mean(value, ("os", "ws", "is"))
                problems.append(
                    Problem(*where, f"unknown dataflow{hint}", repr(value), "os, ws, is")
                )
            elif key == "interfacebandwidth" and value not in ("CALC", "USER"):
                problems.append(Problem(*where, "not an allowed value", repr(value), "CALC, USER"))
            elif key in ("ifmapcustomlayout", "filtercustomlayout") and value.lower() not in (
                *CFG_FALSE,
                *CFG_TRUE,
            ):
                allowed = ", ".join((*CFG_FALSE, *CFG_TRUE))
                problems.append(Problem(*where, "not a configparser boolean", repr(value), allowed))
            elif key in ("ifmapcustomlayout", "filtercustomlayout") and value.lower() in CFG_TRUE:
                problems.append(
                    Problem(*where, "custom SRAM layouts are not modelled by accelsim", repr(value),
                            ", ".join(CFG_FALSE))
                )  # fmt: skip
            elif key == "sparsitysupport" and value.lower() not in ("false", "true"):
                problems.append(Problem(*where, "not an allowed value", repr(value), "true, false"))
            elif key == "sparsitysupport" and value.lower() == "true":
                problems.append(
                    Problem(*where, "sparse SCALE-Sim runs are not modelled by accelsim",
                            repr(value), "false")
                )  # fmt: skip
    presets = values.get("architecture_presets", {})
    try:
        pes = int(presets["arrayheight"]) * int(presets["arraywidth"])
    except (KeyError, ValueError):
        pes = 0  # reported above
    if pes > MAX_PES:
        line = lines[("architecture_presets", "arraywidth")]
        problems.append(Problem(file, line, "architecture_presets.arraywidth",
                                "ArrayHeight x ArrayWidth too large", f"{pes:,} PEs",
                                f"at most {MAX_PES:,} (2**32)"))  # fmt: skip
    return problems


def load_cfg(path) -> Arch:
    """A SCALE-Sim ``.cfg`` as an `Arch` with ``timing: scalesim`` and named assumptions."""
    file = str(path)
    text = read_text(path)
    if not text.strip():
        raise ConfigError(Problem(file, None, "", "the file is empty"))
    values, lines, problems = parse_cfg(text, file)
    if not problems:  # (a line not read as a key would also show up as a missing key)
        problems = _cfg_problems(values, lines, file)
    if problems:
        raise ConfigError(problems)
    presets = values["architecture_presets"]
    clock, clock_why = SCALESIM_PROFILE["clock_mhz"]
    pe, pe_why = SCALESIM_PROFILE["pe"]
    tech, tech_why = SCALESIM_PROFILE["technology"]
    rows, cols = int(presets["arrayheight"]), int(presets["arraywidth"])
    port = float(rows + cols)
    bandwidth = presets.get("bandwidth", "10").split(",")[0].strip()
    if not re.fullmatch(r"\d+(\.\d*)?", bandwidth) or not 0 < float(bandwidth) < math.inf:
        line = lines.get(("architecture_presets", "bandwidth"))
        raise ConfigError(
            Problem(file, line, "architecture_presets.bandwidth", "not a positive finite number",
                    repr(bandwidth))
        )  # fmt: skip
    memories = {
        name: {"size_bytes": int(presets[key]) * 1024, "bytes_per_cycle": port}
        for name, key in (("inputs", "ifmapsramszkb"), ("weights", "filtersramszkb"),
                          ("outputs", "ofmapsramszkb"))
    }  # fmt: skip
    dram_kind, dram_why = SCALESIM_PROFILE["dram"]
    spec = ArchFile(
        name=values["general"]["run_name"] or Path(file).stem,
        description=f"SCALE-Sim config {Path(file).name}",
        source=file,
        array={
            "rows": int(presets["arrayheight"]),
            "cols": int(presets["arraywidth"]),
            "dataflow": presets["dataflow"],
            "clock_mhz": clock,
        },
        pe=pe,
        timing="scalesim",
        memories=memories,
        dram={"bytes_per_cycle": float(bandwidth), "kind": dram_kind},
        technology=tech,
    )
    profile = SCALESIM_PROFILE["name"]
    assumed = [
        Assumed("array.clock_mhz", clock, f"{profile}: {clock_why}"),
        Assumed("pe", pe, f"{profile}: {pe_why}"),
        Assumed("technology", tech, f"{profile}: {tech_why}"),
        Assumed(
            "memories.*.bytes_per_cycle",
            port,
            f"{profile}: {SCALESIM_PROFILE['sram_bytes_per_cycle'][1]}",
        ),
        Assumed("dram.kind", dram_kind, f"{profile}: {dram_why}"),
    ]
    if values["run_presets"]["interfacebandwidth"] == "USER":
        assumed.append(
            Assumed("timing", "scalesim", "InterfaceBandwidth USER is run as CALC: the "
                    "scalesim timing reproduces SCALE-Sim's stall-free cycle counts")
        )  # fmt: skip
    assumed = tuple(assumed)
    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    return Arch(spec, file, digest, assumed)


# ----------------------------------------------------------------------------- topologies

CONV_HEADER = ("layer name", "ifmap height", "ifmap width", "filter height", "filter width",
               "channels", "num filter", "strides")  # fmt: skip
GEMM_HEADER = ("layer", "m", "n", "k")


def _fields(line: str) -> list[str]:
    parts = [p.strip() for p in line.split(",")]
    return parts[:-1] if parts and parts[-1] == "" else parts


def load_topology(path) -> Workload:
    """A SCALE-Sim topology CSV (conv or GEMM format) as a `Workload` (8-bit, batch 1)."""
    file = str(path)
    text = read_text(path).removeprefix("\ufeff")  # a BOM, as spreadsheet programs write
    rows = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not rows:
        raise ConfigError(Problem(file, None, "", "the file is empty"))
    if rows[0][0] != 1:  # SCALE-Sim skips line 1 and reads every later line as a layer
        raise ConfigError(
            Problem(file, 1, "header", "line 1 is blank: SCALE-Sim takes line 1 as the header "
                    "and reads the header below it as a layer", "''", "the header on line 1")
        )  # fmt: skip
    number, header_line = rows[0]
    header = tuple(h.lower() for h in _fields(header_line))
    if header[: len(CONV_HEADER)] == CONV_HEADER:
        conv = True
    elif header[: len(GEMM_HEADER)] == GEMM_HEADER:
        conv = False
    else:
        raise ConfigError(
            Problem(file, number, "header", "not a SCALE-Sim topology header", repr(header_line),
                    "'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                    "Channels, Num Filter, Strides,' or 'Layer, M, N, K,'")
        )  # fmt: skip
    columns = CONV_HEADER if conv else GEMM_HEADER
    q, q_why = SCALESIM_PROFILE["quant"]
    quant = QuantSpec(**q, a_encoding="int", w_encoding="int")
    specs, problems, names = [], [], set()
    for number, line in rows[1:]:
        if not line.rstrip().endswith(","):
            problems.append(
                Problem(file, number, "row", "no trailing comma: SCALE-Sim drops the last field "
                        "of every row", repr(line), "a ',' after the last field")
            )  # fmt: skip
            continue
        fields = _fields(line)
        if len(fields) < len(columns):
            problems.append(
                Problem(file, number, "row", f"too few fields: {len(fields)}", repr(line),
                        f"{len(columns)}: {', '.join(columns)}")
            )  # fmt: skip
            continue
        if len(fields) > len(columns):  # SCALE-Sim 3 reads the next one as a sparsity ratio
            problems.append(
                Problem(file, number, "row", f"too many fields: {len(fields)}", repr(line),
                        f"{len(columns)}: {', '.join(columns)} (a sparsity ratio after them is "
                        "not modelled)")
            )  # fmt: skip
            continue
        name, raw = fields[0], fields[1 : len(columns)]
        values = []
        for column, value in zip(columns[1:], raw):
            if not re.fullmatch(r"[+-]?\d+", value):
                problems.append(
                    Problem(file, number, f"{name}.{column}", "not a whole number", repr(value))
                )
            elif not 1 <= int(value) <= MAX_INT:
                problems.append(
                    Problem(file, number, f"{name}.{column}", "out of range", value,
                            f">= 1 and <= {MAX_INT}")
                )  # fmt: skip
            else:
                values.append(int(value))
        if not name or name in names:
            what = "empty layer name" if not name else "duplicate layer name"
            problems.append(Problem(file, number, "layer name", what, repr(name)))
        names.add(name)
        if len(values) != len(columns) - 1 or not name:
            continue
        try:
            spec = _conv_spec(name, *values) if conv else _gemm_spec(name, *values)
        except ValidationError as exc:  # e.g. a DP row's channels x filters above MAX_INT
            problems += [
                Problem(file, number, ".".join(map(str, (name, *e["loc"]))), e["msg"],
                        repr(e["input"]))
                for e in exc.errors()
            ]  # fmt: skip
            continue
        if isinstance(spec, str):
            problems.append(Problem(file, number, name, spec))
        elif work := too_large(lower(spec, 1, quant)):
            problems.append(Problem(file, number, name, "too much work in one layer to model",
                                    work, f"at most {MAX_WORK:,} (2**50)"))  # fmt: skip
        else:
            specs.append(spec)
    if problems:
        raise ConfigError(problems)
    if not specs:
        raise ConfigError(Problem(file, number, "", "the topology has a header but no layers"))
    layers = tuple(lower(s, 1, quant) for s in specs)
    if total := total_too_large(layers):
        raise ConfigError(Problem(file, None, "", TOTAL_TOO_LARGE, *total))
    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    return Workload(
        Path(file).stem, 1, layers, quant, file, digest,
        (Assumed("quant", q, f"{SCALESIM_PROFILE['name']}: {q_why}"),),
    )  # fmt: skip


def _conv_spec(name, h, w, fh, fw, channels, filters, stride):
    if fh > h or fw > w:
        return f"filter {fh}x{fw} larger than the IFMAP {h}x{w}"
    extra_h, extra_w = (stride - (h - fh) % stride) % stride, (stride - (w - fw) % stride) % stride
    depthwise = "DP" in name
    return Conv(
        name=name, type="conv", in_channels=channels,
        out_channels=channels * filters if depthwise else filters, in_h=h, in_w=w,
        kernel=(fh, fw), stride=stride, padding=(0, 0, extra_h, extra_w),
        groups=channels if depthwise else 1,
    )  # fmt: skip


def _gemm_spec(name, m, n, k):
    return FC(name=name, type="fc", in_features=k, out_features=n, tokens=m)


def write_topology(workload: Workload, path) -> None:
    """Write the GEMM layers as a SCALE-Sim GEMM topology (``Layer, M, N, K,``).

    GEMM rows are exact for every layer type (SCALE-Sim lowers convs to the same M, N, K);
    a layer with ``groups > 1`` becomes one row per group, ``<name>_g<i>``. Non-GEMM layers
    have no SCALE-Sim equivalent and are left out (SCALE-Sim does not model them).
    """
    out = ["Layer, M, N, K,"]
    for layer in workload.layers:
        if not layer.is_gemm:
            continue
        names = (
            [layer.name]
            if layer.groups == 1
            else [f"{layer.name}_g{i}" for i in range(layer.groups)]
        )
        out += [f"{name}, {layer.m}, {layer.n}, {layer.k}," for name in names]
    Path(path).write_text("\n".join(out) + "\n")


__all__ = ["SCALESIM_PROFILE", "load_cfg", "load_topology", "pads", "write_topology"]
