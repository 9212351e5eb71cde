"""Playbook files that used to crash or hang the command line, through `python -m runner`: a 5,000-digit
integer (Python's int-str limit) and paths that are not regular files (a FIFO would block forever)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [("validate",), ("plan",), ("run", "--target", "sim")]


def qfex(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def huge_integer_playbook(tmp_path: Path) -> Path:
    path = tmp_path / "huge.yaml"
    path.write_text("version: 1\nname: huge\norders:\n  - id: a\n    symbol: AAPL-USD\n    side: BUY\n"
                    "    type: LIMIT\n    price: 200\n    quantity: " + "1" * 5000 + "\n")
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_5000_digit_integer_is_a_located_problem(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = qfex(*command, huge_integer_playbook(tmp_path))
    assert result.returncode == 1, result.stderr
    out = result.stdout + result.stderr
    assert "huge.yaml:9:15: number '11111111111111111111'…(5000 characters) is out of range (must be below " \
           "1e18) [yaml-number]" in out
    assert "internal error" not in out and "Traceback" not in out
    assert "1" * 100 not in out  # the message is cut short


def test_a_huge_decimal_is_cut_short_too(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("version: 1\nname: huge\norders:\n  - id: a\n    symbol: AAPL-USD\n    side: BUY\n"
                    "    type: LIMIT\n    price: " + "9" * 5000 + ".5\n    quantity: 1\n")
    result = qfex("validate", path)
    assert result.returncode == 1
    assert "huge.yaml:8:12: number '99999999999999999999'…(5002 characters) is out of range" in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_fifo_is_refused_at_once(tmp_path: Path, command: tuple[str, ...]) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = qfex(*command, fifo)  # before the fix: blocked until the 60 s timeout
    assert result.returncode == 1
    assert f"{fifo}:1:1: is a named pipe (FIFO), not a playbook file [file-unreadable]" in result.stdout \
        + result.stderr


@pytest.mark.parametrize(("path", "what"), [("/dev/null", "a device"), (".", "a directory")])
def test_devices_and_directories_are_refused(path: str, what: str) -> None:
    result = qfex("validate", path)
    assert result.returncode == 1
    assert f"{path}:1:1: is {what}, not a playbook file [file-unreadable]" in result.stdout
