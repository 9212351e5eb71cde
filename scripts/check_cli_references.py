#!/usr/bin/env python3
"""Check that docs and CI files only use qfex-runner commands and options that exist.

A README that shows `qfex-runner run --taget uat` or a workflow that calls a renamed option fails
only when a trader copies it; this finds every `qfex-runner <command> --option` in shell code
blocks and inline code spans of Markdown files, in GitHub Actions `run:` steps and in GitLab CI
`script:` lines, and checks each against `qfex-runner <command> --help`.

    python scripts/check_cli_references.py              # every doc and CI file the project ships
    python scripts/check_cli_references.py README.md    # just these
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PROGRAM = "qfex-runner"
ROOT = Path(__file__).resolve().parents[1]
#: what is checked without arguments: every Markdown page and CI file shipped to readers
DEFAULT_FILES = (
    "README.md",
    "docs/**/*.md",
    "examples/README.md",
    "examples/github-actions/*.yml",
    "examples/gitlab-ci/.gitlab-ci.yml",
    "runner/templates/README.md",
    "runner/simulator/README.md",
    "bench/README.md",
)
_INLINE = re.compile(r"(?<!`)`(" + PROGRAM + r" [^`\n]+)`(?!`)")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_QUOTED = re.compile(r"'([^']*)'")
_SHELL_LANGS = {"sh", "bash", "shell", "console", "zsh", "fish"}


@dataclass(frozen=True)
class Invocation:
    """One `qfex-runner ...` call found in a file."""

    source: str  # where it was found, e.g. "README.md:42" or "workflow.yml: job run, step Run"
    command: str | None  # sub-command, None for `qfex-runner --version` and the like
    options: tuple[str, ...]
    text: str


def _expand_expressions(line: str) -> str:
    """Replace a GitHub `${{ ... }}` expression by the quoted strings in it (its possible values)."""
    return _EXPRESSION.sub(lambda m: " ".join(_QUOTED.findall(m.group(1))) or "EXPR", line)


def _top_level_segments(line: str) -> Iterator[str]:
    """Split a shell line at |, ||, &&, ; outside quotes and $( ) (good enough for docs and CI)."""
    depth, quote, start, i = 0, "", 0, 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and c in "|&;":
            yield line[start:i]
            while i + 1 < len(line) and line[i + 1] in "|&":
                i += 1
            start = i + 1
        i += 1
    yield line[start:]


def _strip_comment(line: str) -> str:
    match = re.search(r"(^|\s)#", line)
    return line[: match.start()] if match else line


#: commands that are groups of subcommands (`qfex-runner refdata pull`)
GROUPS = frozenset({"refdata"})


def invocations_in_shell(text: str, source: str) -> list[Invocation]:
    """Every qfex-runner call in a piece of shell (backslash continuations joined)."""
    found = []
    logical = text.replace("\\\n", " ").splitlines()
    for number, raw in enumerate(logical, 1):
        line = _strip_comment(_expand_expressions(raw.strip()).removeprefix("$ "))
        for segment in _top_level_segments(line):
            words = segment.split()
            for position, word in enumerate(words):
                if word != PROGRAM and not word.endswith(f"/{PROGRAM}"):  # also .venv/bin/qfex-runner
                    continue
                rest = words[position + 1 :]
                command = next((w for w in rest if not w.startswith("-")), None)
                if command is not None and not re.fullmatch(r"[a-z][a-z-]*", command):
                    command = None
                if command in GROUPS:  # `qfex-runner refdata pull`: the subcommand is part of the name
                    after = rest[rest.index(command) + 1:]
                    if after and re.fullmatch(r"[a-z][a-z-]*", after[0]):
                        command = f"{command} {after[0]}"
                options = tuple(dict.fromkeys(_OPTION.findall(" ".join(rest))))
                found.append(Invocation(f"{source}:{number}", command, options, segment.strip()))
    return found


def shell_blocks_in_markdown(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, code) of each fenced shell block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)(```+|~~~+)\s*([\w-]*)", lines[i])
        if not fence:
            i += 1
            continue
        marker, lang = fence.group(2), fence.group(3).lower()
        start = i + 1
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marker):
            i += 1
        if lang in _SHELL_LANGS or (lang == "" and any(PROGRAM in ln for ln in lines[start:i])):
            yield start + 1, "\n".join(lines[start:i])
        i += 1


def inline_spans_in_markdown(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) of each inline `qfex-runner ...` span outside fenced blocks."""
    in_fence = False
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(r"^\s*(```|~~~)", line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for match in _INLINE.finditer(line):
            yield number, match.group(1)


def invocations_in_markdown(path: Path, text: str | None = None) -> list[Invocation]:
    text = path.read_text(encoding="utf-8") if text is None else text
    found = []
    for first, block in shell_blocks_in_markdown(text):
        for inv in invocations_in_shell(block, ""):
            number = int(inv.source.rsplit(":", 1)[1])
            found.append(Invocation(f"{path}:{first + number - 1}", inv.command, inv.options, inv.text))
    for number, span in inline_spans_in_markdown(text):
        for inv in invocations_in_shell(span, ""):
            found.append(Invocation(f"{path}:{number}", inv.command, inv.options, inv.text))
    return found


def github_run_scripts(workflow: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, script) for every shell `run:` step of a GitHub Actions workflow."""
    default_shell = ((workflow.get("defaults") or {}).get("run") or {}).get("shell", "bash")
    for job_id, job in (workflow.get("jobs") or {}).items():
        job_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell", default_shell)
        for index, step in enumerate(job.get("steps") or []):
            if "run" in step and step.get("shell", job_shell) in ("bash", "sh"):
                yield f"job {job_id}, step {step.get('name', index + 1)}", step["run"]


def gitlab_scripts(pipeline: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, script line) for every script/before_script/after_script line of every job."""
    for job_id, job in pipeline.items():
        if not isinstance(job, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            lines = job.get(key) or []
            for line in [lines] if isinstance(lines, str) else lines:
                yield f"job {job_id}, {key}", line
    default = pipeline.get("default") or {}
    for line in default.get("before_script") or []:
        yield "default, before_script", line


def invocations_in_ci_file(path: Path) -> list[Invocation]:
    import yaml

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    scripts = gitlab_scripts(doc) if "gitlab" in path.name else github_run_scripts(doc)
    found = []
    for where, script in scripts:
        found += invocations_in_shell(script, f"{path}: {where}")
    return found


@cache
def help_text(command: str | None) -> tuple[int, str]:
    """Exit code and text of `qfex-runner [command] --help` (the installed command line)."""
    args = [sys.executable, "-m", "runner", *(command.split() if command else []), "--help"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


def problems_with(invocations: Iterable[Invocation]) -> list[str]:
    """One message per unknown command or option."""
    problems = []
    for inv in invocations:
        code, text = help_text(inv.command)
        if code != 0:
            problems.append(f"{inv.source}: `{PROGRAM} {inv.command}` is not a command ({inv.text})")
            continue
        known = set(_OPTION.findall(text)) | {"--help"}
        if inv.command is not None:
            known |= set(_OPTION.findall(help_text(None)[1]))  # group options such as --debug
        for option in inv.options:
            if option not in known:
                problems.append(
                    f"{inv.source}: `{PROGRAM} {inv.command or ''}` has no option {option} ({inv.text})"
                )
    return problems


def invocations_in(path: Path) -> list[Invocation]:
    if path.suffix == ".md":
        return invocations_in_markdown(path)
    if path.suffix in (".yml", ".yaml"):
        return invocations_in_ci_file(path)
    raise SystemExit(f"{path}: not a Markdown or YAML file")


def default_paths() -> list[Path]:
    return [path for pattern in DEFAULT_FILES for path in sorted(ROOT.glob(pattern))]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(p) for p in args] if args else default_paths()
    problems: list[str] = []
    count = 0
    for path in paths:
        found = invocations_in(path)
        count += len(found)
        problems += problems_with(found)
    print(
        "\n".join(problems)
        if problems
        else f"{count} qfex-runner call(s) checked: all commands and options exist"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
