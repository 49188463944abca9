"""Errors a user can cause: located, coded, printable in one or a few lines."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Loc:
    """A position in a YAML file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class ArchcError(Exception):
    """One error in a spec, with a stable code and everything needed to fix it."""

    code: str
    message: str
    loc: Loc | None = None
    path: str = ""  # module path of the layer at fault, e.g. "layer1.0.conv1"
    expected: str = ""
    found: str = ""
    hint: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. "in block 'vgg_block' used at a.yaml:9:5"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def format(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        what = f" {self.path}:" if self.path else ""
        lines = [f"{where}error[{self.code}]{what} {self.message}"]
        if self.expected or self.found:
            lines.append(f"  expected {self.expected or '-'}; found {self.found or '-'}")
        lines += [f"  {note}" for note in self.notes]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


class ArchcErrors(Exception):
    """Several independent errors found in one spec, reported together."""

    def __init__(self, errors: list[ArchcError]):
        self.errors = errors
        super().__init__(self.format())

    def format(self) -> str:
        return "\n".join(e.format() for e in self.errors)

    def __str__(self) -> str:
        return self.format()


class ErrorSink:
    """Collects independent errors so one run reports them all."""

    def __init__(self, limit: int = 50):
        self.errors: list[ArchcError] = []
        self.limit = limit

    def add(self, error: ArchcError) -> None:
        if len(self.errors) < self.limit:
            self.errors.append(error)

    def raise_if_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ArchcErrors(self.errors)


def did_you_mean(word: str, choices) -> str:
    """A 'did you mean' hint for a misspelt name, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""
