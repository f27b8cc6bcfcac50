"""Validation of parsed YAML against pydantic models, with errors mapped to file lines.

Pydantic does the type and range checking (it already collects every problem in a document
instead of stopping at the first); this module turns its error list into `Problem`s that
name the file, the line, the dotted field path, what was found and what is allowed, with a
"did you mean" for unknown keys and choices.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accelsim.errors import ConfigError, Problem, did_you_mean
from accelsim.yamlio import Doc


class Strict(BaseModel):
    """Base of every input model: strict types, unknown keys rejected, frozen (hashable),
    numbers finite (no .inf or .nan)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


# Integers stay at most 2**53 (exact as floats): more is a typo, not hardware, and would
# overflow the model's int64 arrays. Products (PEs, MACs) are bounded where they are formed.
MAX_INT = 2**53
PositiveInt = Annotated[int, Field(ge=1, le=MAX_INT)]
NonNegInt = Annotated[int, Field(ge=0, le=MAX_INT)]
PositiveFloat = Annotated[float, Field(gt=0)]
# A rate that divides work (bytes or weights per cycle): smaller gives cycle counts past what
# the model's totals and a JSON report hold.
PerCycle = Annotated[float, Field(ge=1e-6)]

M = TypeVar("M", bound=BaseModel)


def validate(cls: type[M], doc: Doc, data=None, path: tuple = ()) -> M:
    """Validate ``data`` (default: the whole document) as ``cls``; raise one ConfigError."""
    data = doc.data if data is None else data
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        errors = [e for e in errors if not _masked(e, errors)]
        problems = []
        for group in _by_union(cls, errors):
            problems += [to_problem(e, cls, doc, path) for e in _explaining(group)]
        raise ConfigError(problems) from None


def _masked(err: dict, errors: list[dict]) -> bool:
    """A "too short" list whose items all failed is a consequence, not a problem of its own."""
    loc = err["loc"]
    return err["type"] == "too_short" and any(
        len(o["loc"]) > len(loc) and o["loc"][: len(loc)] == loc for o in errors
    )


def _by_union(cls, errors: list[dict]) -> list[list[dict]]:
    """Group the errors of one value of a plain union (``int | tuple[int, int]``): pydantic
    reports one error per branch, and the value has one problem."""
    groups: dict = {}
    for err in errors:
        branch = _walk(cls, err["loc"])[2]
        key = err["loc"][:branch] if branch is not None else id(err)
        groups.setdefault(key, []).append({**err, "branch": branch})
    return list(groups.values())


def _explaining(group: list[dict]) -> list[dict]:
    """The errors of a union group that explain it: those inside the value (an item of a
    list that is a list), else that of the one branch of the value's kind (an int out of
    range, a list too long), else one error listing the branches."""
    if group[0]["branch"] is None:
        return group
    inside = [e for e in group if len(e["loc"]) > e["branch"] + 1 and e["type"] != "missing"]
    if inside:
        return inside
    is_list = isinstance(group[0]["input"], tuple)
    tags = list(dict.fromkeys(e["loc"][e["branch"]] for e in group))
    fitting = [e for e in group if e["loc"][e["branch"]].startswith("tuple[") == is_list]
    if len(fitting) == 1 and len(tags) == len(group):
        return fitting
    err = group[0]
    branches = " or ".join(_branch(tag) for tag in tags)
    return [{**err, "loc": err["loc"][: err["branch"] + 1], "type": "union",
             "ctx": {"branches": branches}}]  # fmt: skip


def _branch(tag: str) -> str:
    """Plain words for pydantic's name of a union branch."""
    if tag.startswith("tuple["):
        inner = tag[len("tuple[") : -1]
        if inner.endswith(", ..."):
            return "a list"
        depth, items = 0, 1
        for char in inner:
            depth += (char == "[") - (char == "]")
            items += char == "," and depth == 0
        return f"a list of {items}"
    if tag.startswith("literal["):
        return "one of " + tag[len("literal[") : -1].replace("'", "").replace(",", ", ")
    words = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}
    return words.get(tag.removeprefix("constrained-"), tag)


_RANGES = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}
_TYPES = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def to_problem(err: dict, cls, doc: Doc, prefix: tuple) -> Problem:
    """Turn one pydantic error into a Problem at the right YAML path and line."""
    path, parent_type, _ = _walk(cls, err["loc"])
    full = (*prefix, *path)
    kind = err["type"]
    found = _show(err.get("input"))
    if kind == "extra_forbidden":
        allowed = _fields(parent_type)
        hint = did_you_mean(path[-1], allowed)
        return doc.problem(full, f"unknown key{hint}", None, ", ".join(allowed))
    if kind == "missing":
        return doc.problem(full, "required key is missing")
    if kind in ("literal_error", "union_tag_invalid", "enum"):
        expected = err.get("ctx", {}).get("expected") or err.get("ctx", {}).get("expected_tags")
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ",").split(",")]
        tag = err.get("input")
        if kind == "union_tag_invalid":  # the input is the mapping; ctx has the tag as str
            disc = err["ctx"]["discriminator"].strip("'")
            tag, full = tag.get(disc), (*full, disc)
        found = _show(tag)
        hint = did_you_mean(tag, choices) if isinstance(tag, str) else ""
        return doc.problem(full, f"not an allowed value{hint}", found, ", ".join(choices))
    if kind in _RANGES:
        op, key = _RANGES[kind]
        return doc.problem(full, "out of range", found, f"{op} {err['ctx'][key]}")
    if kind in _TYPES:
        allowed = _TYPES[kind]
        return doc.problem(full, "wrong type" + _float_hint(err, allowed), found, allowed)
    if kind == "too_short":
        return doc.problem(full, "must not be empty", found)
    if kind == "too_long":
        return doc.problem(full, "too many items", found, f"at most {err['ctx']['max_length']}")
    if kind == "union":
        allowed = err["ctx"]["branches"]
        return doc.problem(full, "wrong type or length" + _float_hint(err, allowed), found, allowed)
    if kind == "union_tag_not_found":
        disc = err.get("ctx", {}).get("discriminator", "type").strip("'")
        return doc.problem((*full, disc), "required key is missing")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if isinstance(err.get("input"), dict):
        found = None  # a whole section: the message says what is wrong with it
    return doc.problem(full, _lower(msg), found)


def _float_hint(err: dict, allowed: str) -> str:
    """PyYAML (YAML 1.1) reads ``1e6``, ``1e-9`` and ``1.0e300`` as strings: a float there
    needs a dot and a signed exponent. Say how to write the number."""
    value = err.get("input")
    if "a number" not in allowed or not isinstance(value, str):
        return ""
    match = re.fullmatch(r"([-+]?)(\d*)(\.?)(\d*)[eE]([-+]?)(\d+)", value.strip())
    if match is None or not (match[2] or match[4]):
        return ""
    sign, whole, _, frac, exp_sign, exp = match.groups()
    fixed = f"{sign}{whole or 0}.{frac or 0}e{exp_sign or '+'}{exp}"
    return f" (YAML 1.1 needs a dot and a signed exponent: write {fixed})"


def _lower(msg: str) -> str:
    return msg[:1].lower() + msg[1:]


def _show(value) -> str | None:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, tuple | list):
        return f"a list {list(value)!r}" if len(value) < 8 else "a list"
    if value is None:
        return "nothing (null)"
    return f"{value!r} ({type(value).__name__})"


def _strip(tp):
    """Remove Annotated and Optional wrappers."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
            else:
                return tp
        else:
            return tp


def _union_member(tp, tag):
    for member in get_args(tp):
        member = _strip(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            fields = member.model_fields
            field = fields.get("type") or fields.get("kind") or fields.get("source")
            if field is not None and tag in get_args(field.annotation):
                return member
    return None


def _walk(cls, loc):
    """Follow a pydantic error location through the model types.

    Returns the data path (union tags removed), the model type that holds the last key and
    the position in ``loc`` of the branch name of a plain (undiscriminated) union, or None.
    """
    tp, path, parent, branch = cls, [], cls, None
    for index, part in enumerate(loc):
        tp = _strip(tp)
        origin = get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            # pydantic names the branch right after a union, whatever keys the data holds
            tp = _union_member(tp, part)
            if tp is None and branch is None:
                branch = index
            continue
        parent = tp
        path.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part)
            tp = field.annotation if field is not None else None
        elif origin is tuple:
            args = get_args(tp)
            tp = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        elif origin is dict:
            tp = get_args(tp)[1]
        else:
            tp = None
    return tuple(path), parent, branch


def _fields(tp) -> list[str]:
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []
