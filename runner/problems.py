"""Problems are values: collected across a file and reported by position (1-based line:col)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based position in a file."""

    file: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a playbook, located; `rule` names the check that found it."""

    location: Location
    message: str
    rule: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.location}: {self.message} [{self.rule}]"


def errors_in(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that stop a run (warnings do not), in their order."""
    return [p for p in problems if p.severity is Severity.ERROR]


def warnings_in(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that are only said: a run goes ahead."""
    return [p for p in problems if p.severity is Severity.WARNING]
