"""Folder-driven tests: every `valid/*.yaml` and `invalid/*.yaml` beside its `.expected` file.

The `.expected` file holds the exact `file:line:col: message [rule]` lines `validate` prints
(paths relative to this folder); valid files may expect warnings, or nothing. All files are
checked with `refdata.json` here unless their first lines say `# test: no-refdata`.
Regenerate after a deliberate message change with `QFEX_REGEN_EXPECTED=1` (then review the diff).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from runner import jsonnum
from runner.playbook.load import validate_bytes
from runner.playbook.policy import load_policy
from runner.playbook.refdata import parse_refdata
from runner.report.problems import text_line

HERE = Path(__file__).parent
REFDATA = parse_refdata(jsonnum.loads((HERE / "refdata.json").read_bytes()), source="refdata.json")
CASES = sorted((HERE / "valid").glob("*.yaml")) + sorted((HERE / "invalid").glob("*.yaml"))


def _problems(path: Path) -> list[str]:
    """`# test: policy NAME` in the first lines: the repository policy file NAME beside it applies."""
    data = path.read_bytes()
    refdata = None if b"# test: no-refdata" in data[:200] else REFDATA
    named = re.search(rb"# test: policy (\S+)", data[:300])
    policy = None
    if named:
        policy_path = path.parent / named.group(1).decode()
        policy, _ = load_policy(policy_path, name=policy_path.relative_to(HERE).as_posix())
    result = validate_bytes(data, path.relative_to(HERE).as_posix(), refdata, policy=policy)
    return [text_line(p) for p in result.problems]


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_expected_problems(path: Path) -> None:
    lines = _problems(path)
    expected_file = path.with_suffix(".expected")
    if os.environ.get("QFEX_REGEN_EXPECTED"):
        expected_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8").splitlines()
    assert lines == expected


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_folder_matches_outcome(path: Path) -> None:
    """valid/ files have no errors (warnings allowed); invalid/ files have at least one."""
    has_error = any(": warning: " not in line for line in _problems(path))
    assert has_error == (path.parent.name == "invalid")


def test_every_rule_has_an_invalid_example() -> None:
    from runner.playbook.rules import CHECKS

    seen = "".join(p.with_suffix(".expected").read_text() for p in CASES)
    missing = [rule for rule in CHECKS if f"[{rule}]" not in seen]
    assert not missing


def test_every_problem_class_before_the_rules_has_an_invalid_example() -> None:
    """Only `file-unreadable` cannot be a file here (it is a missing file: test_cli_validate.py)."""
    from runner.playbook.load import SOURCE_PROBLEMS

    seen = "".join(p.with_suffix(".expected").read_text() for p in CASES)
    missing = [rule for rule in SOURCE_PROBLEMS if f"[{rule}]" not in seen and rule != "file-unreadable"]
    assert not missing
