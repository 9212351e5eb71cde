"""Shell completion (click's: `qfex-runner completion SHELL`, or `_QFEX_RUNNER_COMPLETE`) and
`--version`, as documented in docs/getting-started.md: the completion scripts are produced for bash, zsh and
fish, and the bash one, loaded with either documented `eval` line, completes commands, options and
option values.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner import __version__

VENV_BIN = Path(sys.executable).parent


def qfex_runner(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_version() -> None:
    result = qfex_runner("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"qfex-runner, version {__version__}"


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "_qfex_runner_completion()"),
        ("zsh", "#compdef qfex-runner"),
        ("fish", "complete --no-files --command qfex-runner"),
    ],
)
def test_completion_script_is_produced(shell: str, marker: str) -> None:
    result = qfex_runner(env={"_QFEX_RUNNER_COMPLETE": f"{shell}_source"})
    assert result.returncode == 0, result.stderr
    assert marker in result.stdout
    assert "_QFEX_RUNNER_COMPLETE" in result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_command_prints_clicks_script(shell: str) -> None:
    result = qfex_runner("completion", shell)
    assert result.returncode == 0, result.stderr
    assert result.stdout == qfex_runner(env={"_QFEX_RUNNER_COMPLETE": f"{shell}_source"}).stdout


def test_completion_of_an_unknown_shell_is_a_usage_error() -> None:
    result = qfex_runner("completion", "ksh")
    assert result.returncode == 2 and "'ksh' is not one of" in result.stderr
    assert "Traceback" not in result.stderr


def complete(words: str, cword: int) -> list[str]:
    """What click answers bash for the command line `words` with the cursor on word `cword`."""
    result = qfex_runner(
        env={"_QFEX_RUNNER_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    )
    assert result.returncode == 0, result.stderr
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_completes_commands_options_and_choices() -> None:
    assert {"validate", "plan", "run", "init", "schema", "completion"} <= set(complete("qfex-runner ", 1))
    assert complete("qfex-runner completion ", 2) == ["bash", "zsh", "fish"]
    assert complete("qfex-runner va", 1) == ["validate"]
    assert "--format" in complete("qfex-runner validate --", 2)
    assert complete("qfex-runner validate --format ", 3) == ["text", "github", "json"]
    assert complete("qfex-runner run x.yaml --target ", 4) == ["sim", "uat", "prod"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    "eval_line",
    ['eval "$(qfex-runner completion bash)"', 'eval "$(_QFEX_RUNNER_COMPLETE=bash_source qfex-runner)"'],
)
def test_documented_eval_line_enables_completion_in_bash(eval_line: str) -> None:
    """The lines of docs/getting-started.md, in a real bash."""
    script = eval_line + """
        complete -p qfex-runner
        COMP_WORDS=(qfex-runner validate --format g); COMP_CWORD=3
        _qfex_runner_completion qfex-runner   # bash passes the command name as $1
        echo "reply: ${COMPREPLY[*]}"
    """
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "_qfex_runner_completion qfex-runner" in result.stdout
    assert "reply: github" in result.stdout
