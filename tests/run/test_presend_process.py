"""The command's own process collects cyclic garbage less often (runner.cli.collect_garbage_less_often);
a caller running the CLI inside its own process (tests, tools) keeps its collector as it set it."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner import cli

REPO = Path(__file__).resolve().parents[2]


def test_the_commands_own_process_raises_the_first_threshold_only() -> None:
    code = ("import gc, sys; from runner.cli import GC_THRESHOLD, main; before = gc.get_threshold(); "
            "sys.argv = ['qfex-runner', '--version']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "after = gc.get_threshold(); print(before[1:] == after[1:], after[0] == GC_THRESHOLD)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split()[-2:] == ["True", "True"], done.stderr


def test_a_caller_passing_its_own_arguments_keeps_its_collector(capsys: pytest.CaptureFixture[str]) -> None:
    before = gc.get_threshold()
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert gc.get_threshold() == before
    assert "qfex-runner" in capsys.readouterr().out


def test_a_run_without_steps_or_equity_loads_neither_the_step_kinds_nor_the_account_reader(
        tmp_path: Path) -> None:
    """They are imported where a playbook needs them (a step of the kind runs; the account is read)."""
    shutil.copytree(REPO / "playbooks", tmp_path / "playbooks")
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('LOADED', *sorted(m for m in sys.modules if m.startswith(("
            "'runner.run.steps.', 'runner.exchange.account')))))\n"
            "from runner.cli import main\n"
            "main(['run', 'playbooks/quickstart.yaml', '--no-progress'])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.strip().splitlines()[-1].split()[1:]
    assert loaded == ["runner.run.steps.context", "runner.run.steps.dispatch"], loaded
