"""Problems rendered for people (text), CI (GitHub workflow annotations) and tools (JSON).

Text is the compiler form editors understand: `file:line:col: message [rule]`, 1-based;
warnings say so (`file:line:col: warning: message [rule]`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from runner.problems import Problem, Severity

FORMATS = ("text", "github", "json")


def text_line(problem: Problem) -> str:
    prefix = "warning: " if problem.severity is Severity.WARNING else ""
    return f"{problem.location}: {prefix}{problem.message} [{problem.rule}]"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github_line(problem: Problem) -> str:
    """A GitHub Actions workflow command: shows the problem on the pull request's diff."""
    loc = problem.location
    level = "warning" if problem.severity is Severity.WARNING else "error"
    return (f"::{level} file={_escape_property(loc.file)},line={loc.line},col={loc.col},"
            f"title={_escape_property(problem.rule)}::{_escape_data(problem.message)}")


def as_json(problem: Problem) -> dict[str, Any]:
    loc = problem.location
    return {"file": loc.file, "line": loc.line, "col": loc.col, "severity": problem.severity.value,
            "rule": problem.rule, "message": problem.message}


def render(problems: Iterable[Problem], fmt: str = "text") -> str:
    """All problems in one format; empty text/github output is the empty string, JSON is `[]`."""
    problems = list(problems)
    if fmt == "json":
        return json.dumps([as_json(p) for p in problems], indent=2, ensure_ascii=False) + "\n"
    line = github_line if fmt == "github" else text_line
    return "".join(line(p) + "\n" for p in problems)


def summary(files: int, problems: Iterable[Problem]) -> str:
    """One line for people: `3 files checked: 2 errors, 1 warning` or `1 file checked: no problems`."""
    problems = list(problems)
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    parts = [f"{errors} error{'s' * (errors != 1)}"] if errors else []
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    found = ", ".join(parts) if parts else "no problems"
    return f"{files} file{'s' * (files != 1)} checked: {found}"
