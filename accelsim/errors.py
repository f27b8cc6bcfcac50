"""The one error type for malformed input (DESIGN.md §4).

A `ConfigError` carries every problem found in the inputs; each `Problem` names the file,
the line, the dotted field path, what was found and what is allowed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    path: str
    message: str
    found: str | None = None
    allowed: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.path or '<top>'}: {self.message}"
        if self.found is not None:
            text += f"; found {self.found}"
        if self.allowed is not None:
            text += f"; allowed: {self.allowed}"
        return text


class ConfigError(ValueError):
    """Malformed input: one or more `Problem`s, each on its own line."""

    def __init__(self, problems: list[Problem] | Problem):
        problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, choices) -> str:
    """Return " (did you mean 'x'?)" when a close match exists, else ""."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""
