"""Strict YAML reading: duplicate keys are errors and every value keeps its line number.

`read_yaml(path)` returns a `Doc`: the plain Python value (mappings as dicts, sequences as
tuples so they can live in frozen objects) plus a map from field path (a tuple of keys and
indices) to the 1-based line where that value starts, so later validation can say where a
bad value is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from accelsim.errors import ConfigError, Problem

try:  # the C loader composes 5-10x faster; same node API
    from yaml import CSafeLoader as _Loader

    _SAFE_DEPTH = 400  # C composer: about 0.5 KB of C stack per level
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader

    _SAFE_DEPTH = 200  # pure-Python composer: two frames per level, within the recursion limit


@dataclass(frozen=True)
class Doc:
    file: str
    data: object
    lines: dict

    def line(self, path: tuple) -> int | None:
        """Line of the deepest prefix of `path` that exists in the document."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def problem(self, path: tuple, message: str, found=None, allowed=None) -> Problem:
        dotted = ".".join(str(p) for p in path)
        return Problem(self.file, self.line(path), dotted, message, found, allowed)


MAX_NODES = 1_000_000  # values built, aliases expanded: an alias bomb stops here
MAX_DEPTH = 100  # nesting of lists and mappings; far deeper overflows Python's stack
_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class _Builder:
    """Node tree -> plain values and the line of every path, expanding aliases once each
    time they are used, within `MAX_NODES` and `MAX_DEPTH`."""

    def __init__(self, file: str):
        self.file, self.lines, self.problems = file, {}, []
        self.count, self.open = 0, set()  # nodes built; ids of collections being built
        # scalars -> values; its own: a constructor caches every node it builds, for good
        self.constructor = yaml.constructor.SafeConstructor()

    def stop(self, node, path, message: str):
        raise ConfigError(Problem(self.file, node.start_mark.line + 1, _dotted(path), message))

    def build(self, node, path):
        self.count += 1
        if self.count > MAX_NODES:
            self.stop(node, path, f"more than {MAX_NODES:,} values once aliases are expanded")
        if len(path) > MAX_DEPTH:
            self.stop(node, path[:1], f"nested more than {MAX_DEPTH} levels deep")
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if node.tag not in _PLAIN_TAGS:
            self.stop(node, path, f"tag {node.tag} is not supported: write a plain list or mapping")
        if id(node) in self.open:
            self.stop(node, path, "an alias refers to the list or mapping that contains it")
        self.open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            out = self.mapping(node, path)
        else:
            out = tuple(self.build(v, (*path, i)) for i, v in enumerate(node.value))
        self.open.discard(id(node))
        return out

    def mapping(self, node, path) -> dict:
        out = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.stop(key_node, path, "merge keys (<<) are not supported: write the keys out")
            key = self.scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int):
                self.problems.append(Problem(self.file, line, _dotted(path), "keys must be names"))
                continue
            if key in out:
                first = self.lines.get((*path, key))
                self.problems.append(
                    Problem(self.file, line, _dotted((*path, key)),
                            f"duplicate key (first given on line {first})")
                )  # fmt: skip
                continue
            out[key] = self.build(value_node, (*path, key))
            self.lines[(*path, key)] = line  # point at the key's line
        return out

    def scalar(self, node, path):
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(
                Problem(self.file, node.start_mark.line + 1, _dotted(path),
                        f"not a plain YAML value: {reason}")
            ) from None  # fmt: skip


def _dotted(path) -> str:
    return ".".join(str(p) for p in path)


# where a block collection can start on a line: after the indentation and compact "- ", "? "
# and ": " indicators (a BOM counted as one more column)
_BLOCK_START = re.compile(r"^[ \t\ufeff]*(?:[-?:][ \t\ufeff]+)*", re.MULTILINE)
_OPEN = {yaml.SequenceStartEvent, yaml.MappingStartEvent}
_CLOSE = {yaml.SequenceEndEvent, yaml.MappingEndEvent}
_NODES = _OPEN | {yaml.ScalarEvent, yaml.AliasEvent}


def _depth_bound(text: str) -> int:
    """An upper bound of how deep ``text``'s lists and mappings nest, at the cost of a few
    passes of C over it. Flow collections: one ``[`` or ``{`` each. Block collections: a
    nested one starts at a greater column (PyYAML's and libyaml's indentation stack), but
    for a list at its mapping's column (``a:\n- x``): at most two per column where one can
    start, after `_BLOCK_START` on a line."""
    if any(c in text for c in "\r\x85\u2028\u2029"):  # YAML's other line breaks
        text = text.translate(dict.fromkeys(map(ord, "\r\x85\u2028\u2029"), "\n"))
    column = max(map(len, _BLOCK_START.findall(text)), default=0)
    return text.count("[") + text.count("{") + 2 * (column + 1)


def _check_depth(text: str, file: str) -> None:
    """`MAX_DEPTH` checked on the event stream, which both parsers make without recursion,
    before the composer recurses once per level (deep enough, Python's RecursionError or a
    crash of the C one): the error `_Builder.build` gives, at the same node."""
    if _depth_bound(text) <= _SAFE_DEPTH:  # the composer recurses safely; _Builder checks
        return
    stack: list = []  # per open collection: [is a mapping, nodes started in it]
    top = None  # the top-level key or index, as _Builder names it
    for event in yaml.parse(text, Loader=_Loader):
        kind = type(event)
        if kind in _CLOSE:
            stack.pop()
        elif kind in _NODES:
            if stack:
                mapping, count = stack[-1]
                stack[-1][1] += 1
                key = mapping and count % 2 == 0
                if len(stack) == 1 and (key or not mapping):
                    top = count if not mapping else getattr(event, "value", None)
                # an alias is expanded by _Builder, a scalar key read with its mapping
                scalar_key = key and kind is yaml.ScalarEvent
                if len(stack) > MAX_DEPTH and kind is not yaml.AliasEvent and not scalar_key:
                    path = "" if top is None else str(top)
                    why = f"nested more than {MAX_DEPTH} levels deep"
                    raise ConfigError(Problem(file, event.start_mark.line + 1, path, why))
            if kind in _OPEN:
                stack.append([kind is yaml.MappingStartEvent, 0])


def parse_yaml(text: str, file: str) -> Doc:
    try:
        _check_depth(text, file)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.reader.ReaderError):  # no mark, only the character offset
            line = text.count("\n", 0, exc.position) + 1
            reason = f"character #x{exc.character:04x} is not allowed ({exc.reason})"
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None:
            reason += f" ({context} that starts on line {start.line + 1})"
        raise ConfigError(Problem(file, line, "", f"not valid YAML: {reason}")) from None
    if node is None:
        raise ConfigError(Problem(file, None, "", "the file is empty"))
    builder = _Builder(file)
    data = builder.build(node, ())
    if builder.problems:
        raise ConfigError(builder.problems)
    return Doc(file, data, builder.lines)


def read_text(path) -> str:
    p = Path(path)
    if not p.exists():
        raise ConfigError(Problem(str(path), None, "", "file not found"))
    if p.is_dir():
        raise ConfigError(Problem(str(path), None, "", "is a directory, expected a file"))
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(str(path), None, "", f"not UTF-8 text ({exc.reason})")) from None


def read_yaml(path) -> Doc:
    return parse_yaml(read_text(path), str(path))
