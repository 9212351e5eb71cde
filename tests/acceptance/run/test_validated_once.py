"""A run validates a playbook once when nothing in it waits for the account (issue 18: a second,
final validation of the same file with the same inputs doubled validation's cost per order)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.exit_codes import ExitCode
from tests.acceptance.run_kit import RESTING, order, outcomes, run, write_playbook


def test_a_playbook_without_sizing_is_validated_once_and_runs_as_before(
        tmp_path: Path, simulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.playbook import load

    calls: list[str] = []
    real = load.validate_file

    def counting(path: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(load, "validate_file", counting)
    book = write_playbook(tmp_path, [order("a", RESTING), order("b", RESTING.replace("220.00", "219.00"))])
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, result.report.summary.message
    assert outcomes(result) == ["passed", "passed"]
    assert calls == [str(book)]
