"""Design-space sweeps: many design points, in parallel, with results that survive (issue 9).

A sweep spec is a YAML file, validated like every input (unknown keys, wrong types, empty
lists are `ConfigError`s naming the file, line and field, with "did you mean")::

    base_arch: ../arch_configs/edge_32x32.yaml     # paths are relative to this file
    workloads: [../workloads/resnet50.yaml]        # every point runs every workload
    assignments: [w4.yaml, w2.yaml]                # optional mixed-precision files
    axes:                                          # axis -> list of values
      array.rows: [16, 32, 64]                     # any arch field, by dotted path
      array.cols: [16, 32, 64]
      memories.weights.size_bytes: [65536, 131072]
      pe: [{kind: int_mac, max_a_bits: 8, max_w_bits: 8}, {kind: bit_fusion}]  # a whole section
      w_bits: [2, 4, 8]                            # uniform over every GEMM layer
      a_bits: [4, 8]
      assignment: [null, w4, w2.yaml]              # null = the workload's own precisions
    zip: [[array.rows, array.cols]]                # advance together, not crossed
    constraints: ["array.rows * array.cols <= 4096"]
    objective: latency                             # latency | energy | edp

Points are the cartesian product of the axes (a ``zip`` group counts as one axis whose
values advance together), in the order the axes are written (the last varies fastest),
filtered by the constraints. Each point is an arch built with `accelsim.arch.with_changes`
and precisions applied in this order: the ``assignment`` (a name from ``assignments`` or a
file path; without an ``assignment`` axis, listed ``assignments`` become one), then the
uniform ``a_bits``/``w_bits``. Constraints are Python-like expressions over axis names
(``+ - * / // % **``, comparisons, ``in``, ``and``/``or``/``not``, numbers and strings),
parsed with `ast` and evaluated by a small interpreter: nothing else is allowed.

Before any work starts, a bad spec is one `ConfigError`: an unknown axis path, an empty
axis, a value the arch rejects on its own (``array.rows: -1``), more than `MAX_POINTS`
points before the constraints, a constraint that names no axis, constraints that remove
every point, an ``energy``/``edp`` objective on an arch without a technology section, an
unreachable ``scheduler``. A value that is only invalid together with
other axes (a supply voltage outside the range of one swept node) makes those points rows
with ``status: invalid`` and the reason; a point whose layers cannot run is ``infeasible``
with the reason; an unexpected error is ``error`` with its text. The sweep goes on.

Points run in chunks (a list of points handed to one worker call, `evaluate_chunk`) on
local worker processes or, with ``scheduler``, on a Dask distributed cluster. Points that
share an arch (differing only in precision or workload) are put in the same chunk and
priced in one model call (`accelsim.model.simulate_many`). Each
finished chunk is written at once, atomically (temp file + rename), by the local worker
that computed it (a Dask worker sends its rows back instead), as one Parquet part per
table::

    OUT/spec.json              the normalized spec (inputs' SHA-256, accelsim version)
    OUT/point_list.parquet     point_id, chunk_id and the axis values of every point
    OUT/points/part-NNNNNN.parquet   one row per (point, workload): totals
    OUT/layers/part-NNNNNN.parquet   one row per (point, workload, layer)

``resume=True`` recomputes no chunk that was written and ends with exactly the rows of an
uninterrupted run. `read_results` reads either table back.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import itertools
import json
import math
import operator
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from accelsim._version import __version__
from accelsim.arch import as_tuples
from accelsim.errors import ConfigError, Problem, did_you_mean
from accelsim.report import concat_columns, energy_column
from accelsim.schema import Strict, validate
from accelsim.yamlio import Doc, read_yaml

PRECISION_AXES = ("a_bits", "w_bits", "assignment")
OBJECTIVE_COLUMN = {"latency": "latency_s", "energy": "energy_pj", "edp": "edp_pj_s"}
TOTAL_COLUMNS = (
    "cycles", "latency_s", "energy_pj", "edp_pj_s", "macs", "tops", "tops_per_w",
    "utilization", "peak_tops", "area_mm2", "tops_per_mm2", "peak_tops_per_mm2",
    "dram_bytes", "stall_cycles", "layers", "uncosted_layers",
)  # fmt: skip
STATUSES = ("ok", "infeasible", "invalid", "error")
MAX_CHUNK = 512
MAX_POINTS = 10_000_000  # the cartesian product of the axes, counted before enumerating
_CONSTRAINT_CHARS = 1000
_CONSTRAINT_DEPTH = 100  # nesting of a constraint's expression tree (the compiler recurses)
_MAX_EXPONENT = 64
_MAX_POWER_BITS = 1024  # |a ** b| at most 2**1024: past that, big-integer powers take forever


class SweepFile(Strict):
    """The sweep spec file (see the module docstring)."""

    base_arch: str = Field(min_length=1)
    workloads: tuple[Annotated[str, Field(min_length=1)], ...] = Field(min_length=1)
    assignments: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    axes: dict[str, Annotated[tuple[Any, ...], Field(min_length=1)]] = Field(default_factory=dict)
    zip: tuple[Annotated[tuple[str, ...], Field(min_length=2)], ...] = ()
    constraints: tuple[str, ...] = ()
    objective: Literal["latency", "energy", "edp"] = "latency"


# --------------------------------------------------------------------------- constraints


def _power(base, exponent):
    if not isinstance(exponent, int | float) or abs(exponent) > _MAX_EXPONENT:
        raise ValueError(f"exponent {exponent!r} is too large (at most {_MAX_EXPONENT})")
    if isinstance(base, int | float) and base and math.log2(abs(base)) * exponent > _MAX_POWER_BITS:
        raise ValueError(f"{base!r} ** {exponent!r} is larger than 2**{_MAX_POWER_BITS}")
    return base**exponent


def _times(a, b):
    if isinstance(a, str | tuple) or isinstance(b, str | tuple):
        raise ValueError("repeating a string or a tuple is not allowed")
    return a * b


def _depth(tree) -> int:
    """The nesting depth of an `ast` tree, found without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: _times,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_WHAT = {
    ast.Call: "a function call",
    ast.Subscript: "indexing",
    ast.Lambda: "a lambda",
    ast.IfExp: "a conditional expression",
    ast.NamedExpr: "an assignment",
    ast.ListComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Dict: "a mapping",
    ast.Set: "a set",
}


def _dotted(node) -> str | None:
    """``array.rows`` parses as Attribute(Name(array), rows): the dotted axis name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


class Constraint:
    """A boolean expression over axis names, compiled to closures (never `eval`)."""

    def __init__(self, text: str, axes):
        self.text = text
        self.axes = list(axes)
        self.unknown: list[str] = []
        if len(text) > _CONSTRAINT_CHARS:
            raise ValueError(f"longer than {_CONSTRAINT_CHARS} characters")
        self.named: set[str] = set()
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"not a valid expression: {exc.msg}") from None
        except (RecursionError, MemoryError):
            raise ValueError("nested too deeply to parse") from None
        if _depth(tree) > _CONSTRAINT_DEPTH:
            raise ValueError(f"nested more than {_CONSTRAINT_DEPTH} levels deep")
        self._fn = self._compile(tree.body)
        if self.unknown:
            names = ", ".join(repr(n) + did_you_mean(n, self.axes) for n in self.unknown)
            raise ValueError(f"names no axis: {names}")
        if not self.named:
            raise ValueError("names no axis: it is the same for every point")

    def _compile(self, node):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool | int | float | str) or node.value is None:
                value = node.value
                return lambda env: value
            raise ValueError(f"constant {node.value!r} is not allowed")
        if isinstance(node, ast.Name | ast.Attribute):
            name = _dotted(node)
            if name is None:
                raise ValueError("attribute access is not allowed")
            if name not in self.axes:
                self.unknown.append(name)
            self.named.add(name)
            return lambda env: env[name]
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                fn = _power
            elif type(node.op) in _BINOPS:
                fn = _BINOPS[type(node.op)]
            else:
                raise ValueError(f"operator {type(node.op).__name__} is not allowed")
            left, right = self._compile(node.left), self._compile(node.right)
            return lambda env: fn(left(env), right(env))
        if isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise ValueError(f"operator {type(node.op).__name__} is not allowed")
            fn, operand = _UNARY[type(node.op)], self._compile(node.operand)
            return lambda env: fn(operand(env))
        if isinstance(node, ast.BoolOp):
            values = [self._compile(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda env: all(v(env) for v in values)
            return lambda env: any(v(env) for v in values)
        if isinstance(node, ast.Compare):
            ops = []
            for op in node.ops:
                if type(op) not in _CMPOPS:
                    raise ValueError(f"comparison {type(op).__name__} is not allowed")
                ops.append(_CMPOPS[type(op)])
            operands = [self._compile(v) for v in (node.left, *node.comparators)]

            def compare(env):
                values = [o(env) for o in operands]
                return all(op(a, b) for op, a, b in zip(ops, values, values[1:]))

            return compare
        if isinstance(node, ast.Tuple | ast.List):
            items = [self._compile(v) for v in node.elts]
            return lambda env: tuple(i(env) for i in items)
        what = _WHAT.get(type(node), type(node).__name__)
        raise ValueError(
            f"{what} is not allowed (only arithmetic, comparisons, and/or/not, axis names, "
            "numbers and strings)"
        )

    def __call__(self, env: dict) -> bool:
        return bool(self._fn(env))


# ------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class SweepContext:
    """What every worker needs, shipped once per chunk (pickled with the points)."""

    key: str
    arch: Any
    workloads: tuple
    assignments: tuple  # (name, Assignment)
    objective: str
    axes: tuple[str, ...]
    encodings: tuple[str, ...]  # per axis: bool, int, float, str or json


@dataclass(frozen=True)
class Point:
    """One design point: axis values in the order of ``ctx.axes``."""

    ctx: SweepContext
    point_id: int
    values: tuple

    def changes(self) -> dict:
        return {a: v for a, v in zip(self.ctx.axes, self.values) if a not in PRECISION_AXES}

    def precision(self) -> dict:
        return {a: v for a, v in zip(self.ctx.axes, self.values) if a in PRECISION_AXES}

    @functools.cached_property
    def arch_key(self) -> str:
        """`changes` as JSON: points with equal keys share an arch."""
        return _json(self.changes())


@dataclass(frozen=True)
class Plan:
    ctx: SweepContext
    values: list  # tuples of axis values, one per point (point_id = index)
    normalized: dict
    file: str

    @property
    def points(self) -> list[Point]:
        return [Point(self.ctx, i, v) for i, v in enumerate(self.values)]


def _plain(value):
    """Tuples (as the YAML reader gives them) to lists, for JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _json(value) -> str:
    return json.dumps(_plain(value), sort_keys=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _encoding(values) -> str:
    """How an axis's values are stored in a table column."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, str) for v in present):
        return "str"
    if all(isinstance(v, bool) for v in present) and len(present) == len(values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int" if len(present) == len(values) else "float"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "float"
    return "json"


def _encode(value, encoding: str):
    if encoding == "json":
        return _json(value)
    if encoding == "float":
        return math.nan if value is None else float(value)
    return value


def uniform_assignment(workload, bits: dict):
    """The `Assignment` that sets ``bits`` (``a_bits``/``w_bits``) on every GEMM layer."""
    from accelsim.workload import make_assignment

    name = "uniform " + " ".join(f"{k}={v}" for k, v in sorted(bits.items()))
    return make_assignment(name, {la.name: dict(bits) for la in workload.layers if la.is_gemm})


def load_spec(spec) -> Plan:
    """Validate a sweep spec (a path or a dict) and enumerate its points.

    Every problem is collected into one `ConfigError`; nothing runs on a bad spec.
    """
    from accelsim.arch import load_arch
    from accelsim.workload import load_assignment, load_workload

    if isinstance(spec, dict):
        doc, base = Doc("<sweep spec>", as_tuples(spec), {}), Path.cwd()
    else:
        doc, base = read_yaml(spec), Path(spec).resolve().parent
    sf = validate(SweepFile, doc)
    problems: list[Problem] = []

    def load(loader, name, path):
        file = base / name
        if not file.is_file():
            what = "is a directory, expected a file" if file.is_dir() else "file not found"
            problems.append(doc.problem(path, what, repr(str(file))))
            return None
        try:
            return loader(file), file
        except ConfigError as exc:
            problems.extend(exc.problems)
            return None

    arch = load(load_arch, sf.base_arch, ("base_arch",))
    workloads = [load(load_workload, w, ("workloads", i)) for i, w in enumerate(sf.workloads)]
    listed = [load(load_assignment, a, ("assignments", i)) for i, a in enumerate(sf.assignments)]
    if arch is None or None in workloads or None in listed:
        raise ConfigError(problems)
    arch, arch_file = arch
    names: dict = {}
    for i, (wl, _) in enumerate(workloads):
        if wl.name in names:
            problems.append(doc.problem(("workloads", i), f"a second workload named {wl.name!r} "
                                        f"(first: workloads.{names[wl.name]})"))  # fmt: skip
        names.setdefault(wl.name, i)
    assignments: dict = {}
    files: dict = {}
    for i, (asg, file) in enumerate(listed):
        if asg.name in assignments:
            message = f"a second assignment named {asg.name!r}: assignment names must be unique"
            problems.append(doc.problem(("assignments", i), message))
        assignments[asg.name] = asg
        files[asg.name] = file

    axes = {name: list(values) for name, values in sf.axes.items()}
    if listed and "assignment" not in axes:  # listed assignments without the axis: one axis
        axes["assignment"] = [asg.name for asg, _ in listed]
    data = arch.spec.model_dump()
    arch_axes = [a for a in axes if a not in PRECISION_AXES]
    for name, values in list(axes.items()):
        where = ("axes", name)
        if name in ("a_bits", "w_bits"):
            problems += _check_bits(name, values, [wl for wl, _ in workloads], doc)
        elif name == "assignment":
            axes[name] = _resolve_assignments(
                values, assignments, files, base, [wl for wl, _ in workloads], doc, problems
            )
        else:
            problem = _check_path(name, data, arch_axes, doc)
            if problem is not None:
                problems.append(problem)
                continue
            problems += _check_arch_values(arch, name, values, arch_axes, doc)
        seen: dict = {}
        for i, value in enumerate(axes[name]):
            key = _json(value)
            if key in seen:
                problems.append(doc.problem((*where, i), f"duplicate value (also axes.{name}."
                                            f"{seen[key]})", repr(value)))  # fmt: skip
            seen.setdefault(key, i)

    from accelsim.model import ENERGY_ALLOWED, energy_problem

    why = energy_problem(arch) if sf.objective != "latency" else None
    if why is not None and "technology" not in axes:
        problems.append(doc.problem(("objective",), why, repr(sf.objective),
                                    f"latency {ENERGY_ALLOWED}"))  # fmt: skip
    units = _zip_units(sf.zip, axes, doc, problems)
    count = math.prod(len(unit_values) for _, unit_values in units)
    if count > MAX_POINTS:
        problems.append(doc.problem(("axes",), "too many design points (the product of the "
                                    "axis lengths, a zip group counted once)", f"{count:,}",
                                    f"at most {MAX_POINTS:,}"))  # fmt: skip
    constraints = []
    for i, text in enumerate(sf.constraints):
        try:
            constraints.append((i, Constraint(text, axes)))
        except ValueError as exc:
            problems.append(doc.problem(("constraints", i), str(exc), repr(text),
                                        "axes: " + ", ".join(axes)))  # fmt: skip
    if problems:
        raise ConfigError(problems)

    order = list(axes)
    values = []
    total = 0
    for combo in itertools.product(*(u[1] for u in units)):
        total += 1
        env = {}
        for (group, _), vals in zip(units, combo):
            env.update(zip(group, vals))
        for i, constraint in constraints:
            try:
                keep = constraint(env)
            except Exception as exc:
                raise ConfigError(doc.problem(("constraints", i),
                    f"cannot be evaluated on the point {_json(env)}: {type(exc).__name__}: {exc}",
                    repr(constraint.text))) from None  # fmt: skip
            if not keep:
                break
        else:
            values.append(tuple(env[a] for a in order))
    if not values:
        path = ("constraints",) if constraints else ("axes",)
        raise ConfigError(doc.problem(path, f"the constraints remove every one of the {total} "
                                      "points: nothing to sweep"))  # fmt: skip

    def entry(given, file, obj):
        return {"path": given, "sha256": _sha256(file), "name": obj.name}

    normalized = {
        "accelsim_version": __version__,
        "base_arch": entry(sf.base_arch, arch_file, arch),
        "workloads": [entry(g, f, wl) for g, (wl, f) in zip(sf.workloads, workloads)],
        "assignments": [entry(g, files[a.name], a) for g, (a, _) in zip(sf.assignments, listed)]
        + [
            entry(os.path.relpath(files[n], base), files[n], assignments[n])
            for n in axes.get("assignment", [])
            if n is not None and n not in {a.name for a, _ in listed}
        ],
        "axes": {a: _plain(v) for a, v in axes.items()},
        "zip": [list(g) for g in sf.zip],
        "constraints": list(sf.constraints),
        "objective": sf.objective,
    }
    key = hashlib.sha256(json.dumps(normalized, sort_keys=True).encode()).hexdigest()
    ctx = SweepContext(
        key=key,
        arch=arch,
        workloads=tuple(wl for wl, _ in workloads),
        assignments=tuple(assignments.items()),
        objective=sf.objective,
        axes=tuple(order),
        encodings=tuple(_encoding(axes[a]) for a in order),
    )
    return Plan(ctx, values, normalized, doc.file)


def _check_bits(name, values, workloads, doc) -> list[Problem]:
    problems = []
    for i, value in enumerate(values):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 32:
            problems.append(doc.problem(("axes", name, i), "not a bit-width",
                                        repr(value), "integers 1..32"))  # fmt: skip
            continue
        for wl in workloads:
            try:
                uniform_assignment(wl, {name: value}).apply(wl)
            except ConfigError as exc:
                problems.append(doc.problem(("axes", name, i),
                    f"cannot apply to workload {wl.name!r}: {exc.problems[0].message}",
                    repr(value)))  # fmt: skip
                break
    return problems


def _resolve_assignments(values, assignments, files, base, workloads, doc, problems) -> list:
    """``assignment`` axis values to assignment names (loading files given by path)."""
    from accelsim.workload import load_assignment

    out = []
    for i, value in enumerate(values):
        where = ("axes", "assignment", i)
        if value is None:
            out.append(None)
            continue
        if not isinstance(value, str):
            problems.append(doc.problem(where, "wrong type", repr(value),
                                        "an assignment name, a file path or null"))  # fmt: skip
            continue
        if value in assignments:
            out.append(value)
            continue
        file = base / value
        if not file.is_file():
            hint = did_you_mean(value, assignments)
            problems.append(doc.problem(where, f"names no listed assignment and no file{hint}",
                                        repr(value), ", ".join(assignments) or None))  # fmt: skip
            continue
        try:
            asg = load_assignment(file)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if asg.name in assignments and files[asg.name].resolve() != file.resolve():
            message = f"a second assignment named {asg.name!r}: assignment names must be unique"
            problems.append(doc.problem(where, message, repr(value)))
            continue
        assignments[asg.name], files[asg.name] = asg, file
        out.append(asg.name)
    for name in {v for v in out if v is not None}:
        for wl in workloads:
            try:
                assignments[name].apply(wl)
            except ConfigError as exc:
                problems.extend(exc.problems)
    return out


def _check_path(name, data, arch_axes, doc) -> Problem | None:
    """An arch axis must name a field of the base arch (did you mean ...)."""
    where = ("axes", name)
    node, keys = data, name.split(".")
    for i, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            here = ".".join(keys[:i]) or "the arch"
            if node is None:
                return doc.problem(where, f"the base arch has no {here} section: sweep the whole "
                                   f"section instead (axes: {{{here}: [...]}})")  # fmt: skip
            options = list(node) if isinstance(node, dict) else []
            if i == 0:
                options += list(PRECISION_AXES)
            return doc.problem(where, f"no such field in {here}{did_you_mean(key, options)}",
                               None, ", ".join(options) or None)  # fmt: skip
        node = node[key]
    for other in arch_axes:
        if other != name and (other.startswith(name + ".") or name.startswith(other + ".")):
            return doc.problem(where, f"overlaps the axis {other!r}: sweep one or the other")
    return None


def _check_arch_values(arch, name, values, arch_axes, doc) -> list[Problem]:
    """Apply each value alone to the base arch.

    A problem at or under the axis's own field is that value's fault in every point: an
    error now. A cross-field problem (a voltage outside the range of the node) may be fixed
    by another axis in the same section; then it is left to the points (``invalid`` rows).
    """
    from accelsim.arch import with_changes

    problems = []
    section = name.split(".")[0]
    shared = any(a != name and a.split(".")[0] == section for a in arch_axes)
    for i, value in enumerate(values):
        try:
            with_changes(arch, {name: value})
        except ConfigError as exc:
            own = [p for p in exc.problems if p.path == name or p.path.startswith(name + ".")]
            if own or not shared:
                first = (own or exc.problems)[0]
                text = first.message if first.path == name else f"{first.path}: {first.message}"
                problems.append(doc.problem(("axes", name, i), f"rejected by the arch: {text}",
                                            repr(value), first.allowed))  # fmt: skip
    return problems


def _zip_units(groups, axes, doc, problems) -> list:
    """The enumeration units: each zip group is one unit of value tuples, each other axis
    one unit; in the order the axes are written."""
    owner: dict = {}
    for g, group in enumerate(groups):
        lengths = {}
        for j, name in enumerate(group):
            where = ("zip", g, j)
            if name not in axes:
                problems.append(doc.problem(where, f"names no axis{did_you_mean(name, axes)}",
                                            repr(name), ", ".join(axes) or None))  # fmt: skip
            elif name in owner:
                message = f"axis already in zip group {owner[name]}"
                problems.append(doc.problem(where, message, repr(name)))
            else:
                owner[name] = g
                lengths[name] = len(axes[name])
        if len(set(lengths.values())) > 1:
            found = ", ".join(f"{k}: {v}" for k, v in lengths.items())
            problems.append(doc.problem(("zip", g), "the axes of a zip group need the same "
                                        "number of values", found))  # fmt: skip
    units, done = [], set()
    for name in axes:
        if name in done:
            continue
        group = [a for a in groups[owner[name]] if a in axes] if name in owner else [name]
        done.update(group)
        units.append((tuple(group), list(zip(*(axes[a] for a in group)))))
    return units


# ------------------------------------------------------------------------ the evaluation

_CACHE: dict = {}
_CACHE_SIZE = 512


def _cached(key, build):
    value = _CACHE.get(key)  # (one lookup: dask may run chunks in threads)
    if value is None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        value = _CACHE[key] = build()
    return value


def point_arch(point: Point):
    """The arch of one design point: the base arch with the point's arch axes applied."""
    from accelsim.arch import with_changes

    ctx, changes = point.ctx, point.changes()
    if not changes:
        return ctx.arch
    return _cached(("arch", ctx.key, point.arch_key), lambda: with_changes(ctx.arch, changes))


def point_workload(point: Point, workload_index: int):
    """Workload ``workload_index`` at the point's precisions (assignment, then uniform bits)."""
    ctx, prec = point.ctx, point.precision()
    wl = ctx.workloads[workload_index]
    if not prec:
        return wl

    def build():
        name = prec.get("assignment")
        out = dict(ctx.assignments)[name].apply(wl) if name is not None else wl
        bits = {k: prec[k] for k in ("a_bits", "w_bits") if k in prec}
        return uniform_assignment(out, bits).apply(out) if bits else out

    return _cached(("wl", ctx.key, workload_index, tuple(prec.items())), build)  # scalars


def _failure(exc: Exception) -> tuple[str, str]:
    """A point that cannot be evaluated: ``invalid`` (its inputs are rejected) or ``error``."""
    if isinstance(exc, ConfigError):
        return "invalid", str(exc)
    return "error", f"{type(exc).__name__}: {exc}"


def _total_row(point: Point, workload: str) -> dict:
    row = {"point_id": point.point_id, "workload": workload}
    for axis, value, enc in zip(point.ctx.axes, point.values, point.ctx.encodings):
        row[axis] = _encode(value, enc)
    return row


def evaluate_chunk(points) -> tuple[dict, dict]:
    """Evaluate a chunk of design points: ``(layer_rows, total_rows)``, both column tables
    (column name -> list or array, all of one length).

    Many points per model call: the (point, workload) pairs of the chunk that share an arch
    (they differ in workload or precision) are evaluated together by
    `accelsim.model.simulate_batch`, one numpy pass over all their layers, whose rows equal
    `accelsim.simulate`'s reports; archs and precision variants are cached per process. It
    never raises for a point: an infeasible point is a row with its reason, an invalid one
    (a combination of axis values the arch rejects) a row with the validation message, an
    unexpected exception a row with the error text (a failing batch is re-run one pair at a
    time, so the error stays with its point).
    """
    from accelsim.model import simulate_batch

    failed: dict = {}  # (point_id, workload index) -> (status, text)
    groups: dict = {}  # arch changes -> (arch, [(key, workload)])
    for point in points:
        keys = [(point.point_id, wi) for wi in range(len(point.ctx.workloads))]
        try:
            arch = point_arch(point)
        except Exception as exc:
            failed.update(dict.fromkeys(keys, _failure(exc)))
            continue
        group = groups.setdefault(point.arch_key, (arch, []))[1]
        for key in keys:
            try:
                group.append((key, point_workload(point, key[1])))
            except Exception as exc:
                failed[key] = _failure(exc)
    objective = points[0].ctx.objective if points else "latency"
    batches = []  # ([(point_id, workload index)], Batch)
    for arch, items in groups.values():
        try:
            batches.append(([k for k, _ in items], simulate_batch(arch, [w for _, w in items],
                                                                  objective)))  # fmt: skip
        except Exception:
            for key, wl in items:
                try:
                    batches.append(([key], simulate_batch(arch, [wl], objective)))
                except Exception as exc:
                    failed[key] = _failure(exc)

    by_id = {point.point_id: point for point in points}
    layer_parts: list[tuple[int, dict]] = []
    total_parts: list[tuple[int, dict]] = []
    for keys, batch in batches:
        layers, totals = _batch_rows(keys, batch, by_id, objective)
        layer_parts.append((len(layers["point_id"]), layers))
        total_parts.append((len(keys), totals))
    rows = []
    for (pid, wi), (status, text) in failed.items():
        point = by_id[pid]
        row = _total_row(point, point.ctx.workloads[wi].name)
        row.update(status=status, feasible=False, reason=text if status == "invalid" else None,
                   error=text if status == "error" else None)  # fmt: skip
        rows.append(row)
    if rows or not total_parts:
        total_parts.append((len(rows), _rows_to_columns(rows)))
    return concat_columns(layer_parts), concat_columns(total_parts)


def _batch_rows(keys, batch, by_id: dict, objective: str) -> tuple[dict, dict]:
    """One `accelsim.model.simulate_batch` result as rows of the two tables: ``keys`` are
    its workloads' (point_id, workload index)."""
    n = len(keys)
    ctx = by_id[keys[0][0]].ctx
    points = [by_id[pid] for pid, _ in keys]
    names = [ctx.workloads[wi].name for _, wi in keys]
    total = batch.total
    feasible = np.asarray(total["feasible"], dtype=bool)
    totals = {"point_id": np.array([pid for pid, _ in keys], dtype=np.int64), "workload": names}
    for j, (axis, enc) in enumerate(zip(ctx.axes, ctx.encodings)):
        totals[axis] = [_encode(p.values[j], enc) for p in points]
    totals.update(status=np.where(feasible, "ok", "infeasible").astype(object).tolist(),
                  feasible=feasible, reason=list(total["reason"]), error=[None] * n)  # fmt: skip
    for key in TOTAL_COLUMNS:
        value = total.get(key)
        totals[key] = np.full(n, math.nan) if value is None else np.asarray(value, dtype=float)
    totals["objective_value"] = totals[OBJECTIVE_COLUMN[objective]]
    for key, value in total.items():  # what some designs add (mode switches, a pipeline's rate)
        if key not in totals and key not in ("feasible", "reason"):
            totals[key] = value if isinstance(value, list) else np.asarray(value, dtype=float)
    for key, pj in (batch.energy or {}).items():
        totals[energy_column(key)] = np.where(feasible, pj, math.nan)
    for comp, um2 in (batch.area_um2 or {}).items():
        totals[f"area_{comp}_um2"] = np.full(n, float(um2))
    size = len(batch.columns["name"])
    lengths = np.diff(np.append(batch.starts, size))
    layers = {
        "point_id": np.repeat(totals["point_id"], lengths),
        "workload": np.repeat(np.array(names, dtype=object), lengths).tolist(),
        "layer_index": np.arange(size, dtype=np.int64) - np.repeat(batch.starts, lengths),
        **batch.columns,
    }
    return layers, totals


_TOTAL_HEAD = ("status", "feasible", "reason", "error")


def _rows_to_columns(rows: list[dict]) -> dict:
    keys: dict = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    for key in (*_TOTAL_HEAD, *TOTAL_COLUMNS, "objective_value"):
        keys.setdefault(key, None)
    floats = set(TOTAL_COLUMNS) | {"objective_value"}
    out = {}
    for key in keys:
        values = [row.get(key) for row in rows]
        if key in floats or key.startswith(("energy_", "area_")):
            out[key] = np.array([math.nan if v is None else v for v in values], dtype=float)
        elif key == "feasible":
            out[key] = np.array([bool(v) for v in values], dtype=bool)
        else:
            out[key] = values
    return out


# ----------------------------------------------------------------------------- the store


def _arrow_table(cols: dict):
    import pyarrow as pa

    arrays = {}
    for key, values in cols.items():
        if isinstance(values, np.ndarray) and values.dtype != object:
            arrays[key] = pa.array(values)
            continue
        arr = pa.array(values, from_pandas=True)  # numpy scalars and NaN (null) included
        if pa.types.is_null(arr.type):
            arr = arr.cast(pa.string())
        arrays[key] = arr
    return pa.table(arrays)


def _write_atomic(path: Path, table) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _part(cid: int) -> str:
    return f"part-{cid:06d}.parquet"


class _Store:
    """The output directory: spec, point list, one Parquet part per chunk and table."""

    def __init__(self, out, plan: Plan, resume: bool, chunk_size: int | None):
        self.out = Path(out)
        self.spec_file = self.out / "spec.json"
        self.plan = plan
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(Problem("<command line>", None, "--out", "is a file, not a "
                                      "directory", repr(str(out))))  # fmt: skip
        previous = self.spec_file.is_file() or any(self.out.glob("points/part-*.parquet"))
        self.chunk_size = chunk_size
        if previous and not resume:
            raise ConfigError(Problem("<command line>", None, "--out", "already holds a sweep; "
                                      "pass --resume to continue it, or choose another directory",
                                      repr(str(out))))  # fmt: skip
        if previous:
            stored = _read_spec_file(self.out) if self.spec_file.is_file() else {}
            before = stored.get("spec", {})
            if before != plan.normalized:
                changed = sorted(
                    k
                    for k in set(before) | set(plan.normalized)
                    if before.get(k) != plan.normalized.get(k)
                )
                message = (
                    "the sweep in this directory was made from another spec or other input "
                    "files; resume it with the same ones, or choose another --out"
                )
                raise ConfigError(Problem(str(self.spec_file), None, ", ".join(changed), message))
            self.chunk_size = stored["run"]["chunk_size"]

    def prepare(self, chunks, chunk_size) -> None:
        self.chunk_size = chunk_size
        for sub in ("points", "layers"):
            try:
                (self.out / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # e.g. a path under a file
                why = f"cannot be written ({exc.strerror})"
                allowed = "a path under a writable directory"
                raise ConfigError(
                    Problem("<command line>", None, "--out", why, repr(str(self.out)), allowed)
                ) from None
            for stale in (self.out / sub).glob(".part-*.tmp-*"):
                stale.unlink(missing_ok=True)
        if not self.spec_file.is_file():
            cols = {
                "point_id": np.arange(len(self.plan.values), dtype=np.int64),
                "chunk_id": np.zeros(len(self.plan.values), dtype=np.int64),
            }
            for cid, pts in enumerate(chunks):
                cols["chunk_id"][[p.point_id for p in pts]] = cid
            ctx = self.plan.ctx
            for j, (axis, enc) in enumerate(zip(ctx.axes, ctx.encodings)):
                cols[axis] = [_encode(v[j], enc) for v in self.plan.values]
            _write_atomic(self.out / "point_list.parquet", _arrow_table(cols))
            run = {"chunk_size": chunk_size, "chunks": len(chunks), "points": len(self.plan.values)}
            text = json.dumps({"spec": self.plan.normalized, "run": run}, indent=2) + "\n"
            tmp = self.spec_file.with_name(".spec.json.tmp")
            tmp.write_text(text)
            os.replace(tmp, self.spec_file)

    def stored_chunks(self, points: list) -> list[list] | None:
        """``points`` dealt into the chunks of the sweep being resumed, as its point list
        recorded them (a resumed sweep computes exactly the chunks that are missing), or
        None for a new sweep."""
        path = self.out / "point_list.parquet"
        if not (self.spec_file.is_file() and path.is_file()):
            return None
        import pyarrow.parquet as pq

        chunk_id = pq.read_table(path, columns=["chunk_id"]).column(0).to_numpy()
        chunks: list[list] = [[] for _ in range(int(chunk_id.max()) + 1 if len(chunk_id) else 0)]
        for point in points:
            chunks[chunk_id[point.point_id]].append(point)
        return chunks

    def done(self) -> set[int]:
        return {int(p.name[5:11]) for p in self.out.glob("points/part-*.parquet")}


def _write_parts(out: Path, cid: int, layer_rows: dict, total_rows: dict) -> None:
    """Write chunk ``cid``'s two parts; the points part last: a chunk is done once its
    points part exists."""
    _write_atomic(out / "layers" / _part(cid), _arrow_table(layer_rows))
    _write_atomic(out / "points" / _part(cid), _arrow_table(total_rows))


def _run_chunk(points, cid: int, out: Path | None, layers: bool):
    """A worker's job: evaluate chunk ``cid``; with ``out`` (a directory this process can
    write: local workers) write its parts there and return None, else return ``(layer_rows
    or None, total_rows)``. Writing where the chunk was computed spares shipping the rows
    back and lets the workers write in parallel."""
    layer_rows, total_rows = evaluate_chunk(points)
    if out is not None:
        _write_parts(out, cid, layer_rows, total_rows)
        return None
    return (layer_rows if layers else None), total_rows


def read_spec(out) -> dict:
    """The normalized spec in a sweep directory's ``spec.json``, checked to be one."""
    return _read_spec_file(out)["spec"]


def _read_spec_file(out) -> dict:
    """A sweep directory's ``spec.json`` (``spec`` and ``run``), checked to be what
    `sweep` writes."""
    spec_file = Path(out) / "spec.json"
    if not spec_file.is_file():
        raise ConfigError(Problem(str(out), None, "", "not a sweep directory (no spec.json)"))
    try:
        doc = json.loads(spec_file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            Problem(str(spec_file), exc.lineno, "", f"not JSON ({exc.msg})")
        ) from None
    spec = doc.get("spec") if isinstance(doc, dict) else None
    workloads = spec.get("workloads") if isinstance(spec, dict) else None
    if not (
        isinstance(workloads, list)
        and all(isinstance(w, dict) and isinstance(w.get("name"), str) for w in workloads)
        and isinstance(spec.get("axes"), dict)
        and isinstance(spec.get("objective"), str)
        and isinstance(spec.get("base_arch"), dict)
        and isinstance(spec["base_arch"].get("name"), str)
        and isinstance(doc.get("run"), dict)
        and isinstance(doc["run"].get("chunk_size"), int)
        and doc["run"]["chunk_size"] >= 1
    ):
        found = json.dumps(spec)
        raise ConfigError(Problem(str(spec_file), None, "spec", "not the spec that accelsim sweep "
                                  "writes", found[:80] + ("..." if len(found) > 80 else ""),
                                  "an object with base_arch.name, workloads[].name, axes and "
                                  "objective, and run.chunk_size"))  # fmt: skip
    return doc


# what to do about a damaged or foreign Parquet part of a sweep directory
REDO_PART = "delete this chunk's parts (points/ and layers/) and run accelsim sweep --resume"


def read_results(out, table: str = "points"):
    """Read a sweep directory's ``points`` (totals) or ``layers`` table as one DataFrame,
    sorted by point, workload (spec order) and layer."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if table not in ("points", "layers"):
        raise ValueError(f"table is 'points' or 'layers', not {table!r}")
    out = Path(out)
    spec = read_spec(out)
    parts = sorted((out / table).glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    tables = []
    for part in parts:
        try:
            tables.append(pq.read_table(part))
        except (pa.ArrowException, OSError) as exc:
            message = f"not a readable Parquet part ({exc})"
            raise ConfigError(Problem(str(part), None, "", message, None, REDO_PART)) from None
    keys = ["point_id", "workload"] + (["layer_index"] if table == "layers" else [])
    for part, t in zip(parts, tables):
        missing = [key for key in keys if key not in t.column_names]
        if missing:
            message = f"no column {', '.join(map(repr, missing))} (written by another version?)"
            allowed = f"a {table} part with {', '.join(keys)}: {REDO_PART}"
            raise ConfigError(Problem(str(part), None, "", message, None, allowed))
    merged = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    order = {w["name"]: i for i, w in enumerate(spec["workloads"])}
    keys[1] = "_w"
    merged["_w"] = merged["workload"].map(order)
    merged = merged.sort_values(keys, kind="stable").drop(columns="_w")
    return merged.reset_index(drop=True)


# ------------------------------------------------------------------------------- running


class SweepIncomplete(RuntimeError):
    """Some chunks could not be run (a worker died, the cluster went away); the chunks that
    finished are written and ``resume`` runs the rest."""


def _connect(scheduler, timeout: float):
    if not isinstance(scheduler, str):
        return scheduler, False  # a distributed.Client given by the caller
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(Problem("<command line>", None, "--scheduler", "needs dask "
                                  "distributed: pip install 'accelsim[dask]'", repr(scheduler))
                          ) from None  # fmt: skip
    # Made in two steps so that a client whose __init__ fails can be closed here: left to
    # the garbage collector, it tries to close at interpreter exit and prints a TimeoutError.
    client = Client.__new__(Client)
    try:
        client.__init__(scheduler, timeout=timeout, set_as_default=False)
        return client, True
    except Exception as exc:
        client.close()
        raise ConfigError(Problem("<command line>", None, "--scheduler", "cannot reach a Dask "
                                  f"scheduler there ({type(exc).__name__}: {exc})",
                                  repr(scheduler))) from None  # fmt: skip


def _chunk_size(n: int, workers: int) -> int:
    """Small enough that every worker gets several chunks (progress, resume granularity),
    large enough that a chunk's overhead (shipping, one Parquet write) stays small."""
    return max(1, min(MAX_CHUNK, math.ceil(n / (4 * max(1, workers)))))


def _chunks(families: list[list[list]], size: int) -> list[list]:
    """Chunks of at most ``size`` points made of whole arch groups (one model call per group
    and chunk), and of whole families of arch groups when a family fits: the archs of a
    family differ only in buffer sizes, so one process costs their tilings once
    (`accelsim.model`); a family of more than ``size`` points gets chunks of its own, a
    group of more than ``size`` points is cut into pieces of ``size``."""
    chunks: list[list] = []
    current: list = []
    for family in families:
        if sum(map(len, family)) <= size:
            family = [[point for group in family for point in group]]
        elif current:
            chunks.append(current)
            current = []
        for group in family:
            for start in range(0, len(group), size):
                piece = group[start : start + size]
                if current and len(current) + len(piece) > size:
                    chunks.append(current)
                    current = []
                current = current + piece
    return chunks + [current] if current else chunks


def _exit_with_parent(parent: int) -> None:
    """A local worker's initializer: end this worker once the sweep process that started it
    is gone (killed: it cannot shut its pool down), instead of waiting for work forever."""
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _run_chunks(chunks: dict, workers: int, client, out: Path | None):
    """Yield ``(chunk_id, result or exception)`` as chunks finish (`_run_chunk`'s results:
    local workers write into ``out`` themselves; a Dask cluster's workers, which may not see
    this file system, send the rows back)."""
    if client is not None:
        from distributed import as_completed

        run = os.urandom(4).hex()
        futures = {
            client.submit(
                _run_chunk,
                pts,
                cid,
                None,
                out is not None,
                pure=False,
                key=f"accelsim-{run}-chunk-{cid}",
            ): cid  # fmt: skip
            for cid, pts in chunks.items()
        }
        try:
            for fut in as_completed(futures, loop=client.loop):
                try:
                    yield futures[fut], fut.result()
                except Exception as exc:
                    yield futures[fut], exc
                fut.release()
        finally:
            for fut in futures:
                fut.cancel()
        return
    if workers <= 1 or len(chunks) <= 1:
        for cid, pts in chunks.items():
            try:
                yield cid, _run_chunk(pts, cid, out, False)
            except Exception as exc:
                yield cid, exc
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        futures = {
            pool.submit(_run_chunk, pts, cid, out, False): cid for cid, pts in chunks.items()
        }
        for fut in as_completed(futures):
            try:
                yield futures[fut], fut.result()
            except Exception as exc:
                yield futures[fut], exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def sweep(
    spec,
    workers: int | None = None,
    scheduler=None,
    out=None,
    resume: bool = False,
    *,
    chunk_size: int | None = None,
    progress: bool | None = None,
    connect_timeout: float = 5.0,
):
    """Run a design-space sweep; return the per-point totals as a pandas DataFrame.

    ``spec``: a sweep spec file or the same as a dict (paths then relative to the current
    directory). ``workers``: local worker processes (default: all cores; 1 runs in this
    process). ``scheduler``: a Dask scheduler address (or a ``distributed.Client``) to run
    the chunks on instead. ``out``: a directory for the Parquet tables (see the module
    docstring; without it the results live only in the returned DataFrame); ``resume``
    continues a sweep that ``out`` holds. ``progress``: a tqdm bar on stderr (default: only
    when stderr is a terminal). One row per (point, workload), sorted; columns: ``point_id``,
    ``workload``, one per axis, ``status``, ``feasible``, ``reason``, ``error``, the totals
    of `accelsim.Report.total`, ``objective_value`` and the energy breakdown
    (``energy_<component>_<action>_pj``). The per-layer table is ``read_results(out,
    "layers")``.
    """
    import pandas as pd

    workers = (os.cpu_count() or 1) if workers is None else workers
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(Problem("<command line>", None, "--workers", "out of range",
                                  repr(workers), ">= 1"))  # fmt: skip
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ConfigError(Problem("<command line>", None, "--chunk-size", "out of range",
                                  repr(chunk_size), ">= 1"))  # fmt: skip
    plan = load_spec(spec)
    store = _Store(out, plan, resume, chunk_size) if out is not None else None
    client, own_client = (None, False)
    if scheduler is not None:
        client, own_client = _connect(scheduler, connect_timeout)
    try:
        parallel = sum(client.nthreads().values()) if client is not None else workers
        size = (store.chunk_size if store else chunk_size) or _chunk_size(
            len(plan.values), parallel
        )
        by_arch: dict = {}  # points that share an arch go together: one model call
        for point in plan.points:
            by_arch.setdefault(point.arch_key, []).append(point)
        families: dict = {}  # arch groups by their arch without buffer sizes
        for group in by_arch.values():
            changes = group[0].changes()
            family = {k: v for k, v in changes.items() if not k.endswith(".size_bytes")}
            families.setdefault(_json(family), []).append(group)
        families = list(families.values())
        points = [point for family in families for group in family for point in group]
        stored = store.stored_chunks(points) if store is not None else None
        chunks = stored if stored is not None else _chunks(families, size)
        done: set[int] = set()
        if store is not None:
            store.prepare(chunks, size)
            done = store.done()
        todo = {cid: pts for cid, pts in enumerate(chunks) if cid not in done}
        results: list[dict] = []
        failed: list[str] = []
        show = sys.stderr.isatty() if progress is None else progress
        from tqdm import tqdm

        with tqdm(
            total=len(points),
            initial=sum(len(chunks[c]) for c in done if c < len(chunks)),
            unit="pt",
            desc="sweep",
            disable=not show,
            file=sys.stderr,
            dynamic_ncols=True,
        ) as bar:
            for cid, result in _run_chunks(todo, workers, client, store and store.out):
                if isinstance(result, BaseException):
                    failed.append(f"chunk {cid}: {type(result).__name__}: {result}")
                elif store is not None and result is not None:  # sent back by a Dask worker
                    _write_parts(store.out, cid, *result)
                elif result is not None:
                    results.append(result[1])
                bar.update(len(todo[cid]))
    finally:
        if own_client:
            client.close()
    if failed:
        hint = " (run it again with resume to compute them)" if store is not None else ""
        if any("BrokenProcessPool" in f for f in failed) and workers > 1 and client is None:
            hint += (
                "; worker processes start by importing the calling script: call "
                "accelsim.sweep under `if __name__ == '__main__':` (or use workers=1)"
            )
        raise SweepIncomplete(f"{len(failed)} of {len(chunks)} chunks failed{hint}:\n  "
                              + "\n  ".join(failed[:10]))  # fmt: skip
    if store is not None:
        return read_results(store.out, "points")
    frame = pd.concat([_arrow_table(r).to_pandas() for r in results], ignore_index=True)
    order = {wl.name: i for i, wl in enumerate(plan.ctx.workloads)}
    frame["_w"] = frame["workload"].map(order)
    return frame.sort_values(["point_id", "_w"]).drop(columns="_w").reset_index(drop=True)


# ------------------------------------------------------------------------ accelsim sweep


def command(args) -> int:
    """``accelsim sweep SPEC --out DIR [--workers N] [--scheduler ADDRESS] [--resume]``."""
    import time

    start = time.perf_counter()
    try:
        points = sweep(args.spec, workers=args.workers, scheduler=args.scheduler, out=args.out,
                       resume=args.resume, chunk_size=args.chunk_size)  # fmt: skip
    except SweepIncomplete as exc:
        print(f"accelsim: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"accelsim: interrupted; the finished chunks are in {args.out}: continue with "
              "--resume", file=sys.stderr)  # fmt: skip
        return 130
    seconds = time.perf_counter() - start
    print(summary(points, args.out, seconds))
    errors = points[points["status"] == "error"]
    if len(errors):
        print(f"accelsim: warning: {len(errors)} point(s) failed with an unexpected error; "
              f"first (point {errors['point_id'].iloc[0]}): {errors['error'].iloc[0]}",
              file=sys.stderr)  # fmt: skip
    return 0


def summary(points, out, seconds: float) -> str:
    """What a finished sweep printed: counts, where the tables are, the best points."""
    spec = read_spec(out)
    axes, objective = list(spec["axes"]), spec["objective"]
    counts = points["status"].value_counts()
    n = points["point_id"].nunique()
    lines = [
        f"{n:,} design point(s) x {points['workload'].nunique()} workload(s) in {seconds:.1f} s: "
        + ", ".join(f"{int(counts.get(s, 0)):,} {s}" for s in STATUSES),
        f"results: {Path(out) / 'points'} (totals), {Path(out) / 'layers'} (per layer); "
        "plots: accelsim plot pareto|heatmap|layers|breakdown " + str(out) + " -o FILE.png",
    ]
    for workload, rows in points.groupby("workload", sort=False):
        best = rows[rows["feasible"]].nsmallest(5, "objective_value")
        if best.empty:
            lines.append(f"{workload}: no feasible point")
            continue
        lines.append(f"{workload}: best by {objective}")
        head = ["point", *axes, "latency_ms", "energy_mJ", "TOPS/W"]
        body = [
            [str(r["point_id"]), *(str(r[a]) for a in axes), f"{r['latency_s'] * 1e3:.4g}",
             f"{r['energy_pj'] / 1e9:.4g}" if r["energy_pj"] == r["energy_pj"] else "",
             f"{r['tops_per_w']:.4g}" if r["tops_per_w"] == r["tops_per_w"] else ""]
            for _, r in best.iterrows()
        ]  # fmt: skip
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        for row in (head, *body):
            lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)))
    return "\n".join(lines)
