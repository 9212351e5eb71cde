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


REFDATA = ROOT / "runner" / "simulator" / "data" / "refdata.json"
VALID = ROOT / "playbooks" / "quickstart.yaml"


def not_regular(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A path that is not a regular file, and how the runner names it."""
    if kind == "fifo":
        fifo = tmp_path / "pipe.json"
        os.mkfifo(fifo)
        return fifo, "a named pipe (FIFO)"
    if kind == "device":
        return Path("/dev/zero"), "a device"  # never ends: read whole it would eat all memory
    return tmp_path, "a directory"


KINDS = ["fifo", "device", "directory"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_refdata_that_is_not_a_regular_file_is_a_usage_error(tmp_path: Path, command: tuple[str, ...],
                                                             kind: str) -> None:
    path, what = not_regular(tmp_path, kind)
    result = qfex(*command, VALID, "--refdata", path)  # a FIFO: blocked until the 60 s timeout before
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"--refdata {path}: is {what}, not a reference-data file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", ["run", "status"])
def test_credentials_that_are_not_a_regular_file_are_refused_before_connecting(
        tmp_path: Path, command: str, kind: str) -> None:
    """Exit 4 like every other unusable credentials file (README: could not authenticate; nothing sent);
    the file is opened without blocking and judged by what was opened, not by an earlier stat."""
    path, what = not_regular(tmp_path, kind)
    extra = ("--refdata", REFDATA) if command == "run" else ()
    result = qfex(command, VALID, "--url", "ws://127.0.0.1:9/", "--credentials", path, *extra,
                  "--state-dir", tmp_path / "state")
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"credentials file {path} is {what}, not a regular file" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option", ["--scenario", "--refdata", "--accounts"])
def test_sim_files_that_are_not_regular_files_are_a_usage_error(tmp_path: Path, option: str,
                                                                kind: str) -> None:
    path, what = not_regular(tmp_path, kind)
    result = qfex("sim", "--port", "0", option, path)  # a FIFO: the simulator blocked reading it before
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{option} {path}: is {what}, not a regular file" in result.stderr
