"""Mistakes found in rule files, each pointing at a file, a line and a value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.shown import shown

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake: where it is, the offending value and what was expected."""

    file: str
    line: int
    path: str
    value: Any
    expected: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        at = f" {self.path}:" if self.path else ""
        return f"{where}:{at} {shown(self.value)} {self.expected}"


class RulesError(Exception):
    """Raised when a rule set has mistakes; carries every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        unique = {str(p): p for p in problems}
        self.problems = sorted(unique.values(), key=lambda p: (p.file, p.line, p.path))
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the rule files:\n{lines}")

    def __reduce__(self) -> tuple[type[RulesError], tuple[list[Problem]]]:
        # Rebuilt from its problems when it crosses a process boundary (reloads).
        return (RulesError, (self.problems,))


def dotted(path: Path) -> str:
    """Render a location such as ('reps', 3, 'products') as reps[3].products."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
