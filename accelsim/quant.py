"""Per-layer precision: `QuantSpec` (DESIGN.md §3).

Each operand has its own bit-width and encoding: ``int`` (two's complement), ``uint``
(unsigned) or ``binary`` (±1 stored as one bit, so ``binary`` needs exactly 1 bit).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from accelsim.schema import Strict

Encoding = Literal["int", "uint", "binary"]
OperandBits = Annotated[int, Field(ge=1, le=32)]
AccBits = Annotated[int, Field(ge=1, le=64)]


def _check_binary(spec) -> None:
    for operand in ("a", "w"):
        bits = getattr(spec, f"{operand}_bits")
        encoding = getattr(spec, f"{operand}_encoding")
        if encoding == "binary" and bits is not None and bits != 1:
            raise ValueError(
                f"{operand}_encoding 'binary' (±1 in one bit) needs {operand}_bits: 1, "
                f"found {operand}_bits: {bits}"
            )


class QuantSpec(Strict):
    """Bit-widths and encodings of one layer's operands and results."""

    a_bits: OperandBits
    w_bits: OperandBits
    acc_bits: AccBits
    out_bits: OperandBits
    a_encoding: Encoding
    w_encoding: Encoding

    @model_validator(mode="after")
    def _binary_is_one_bit(self):
        _check_binary(self)
        return self

    def override(self, change: QuantOverride | None) -> QuantSpec:
        if change is None:
            return self
        given = {k: v for k, v in change.model_dump().items() if v is not None}
        return QuantSpec(**{**self.model_dump(), **given})


class QuantOverride(Strict):
    """A partial QuantSpec: the fields given replace the workload default."""

    a_bits: OperandBits | None = None
    w_bits: OperandBits | None = None
    acc_bits: AccBits | None = None
    out_bits: OperandBits | None = None
    a_encoding: Encoding | None = None
    w_encoding: Encoding | None = None
