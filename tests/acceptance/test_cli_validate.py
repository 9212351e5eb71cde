"""`validate`, `plan` and `schema` through the real command line: click's CliRunner driving the
error boundary (`runner.cli.main`), plus one real subprocess per exit code these commands own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from runner import jsonnum
from runner.cli import main
from runner.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yaml"))
SIM_REFDATA = ROOT / "runner" / "simulator" / "data" / "refdata.json"
VALID = ROOT / "tests" / "playbooks" / "valid" / "minimal.yaml"
INVALID = ROOT / "tests" / "playbooks" / "invalid" / "refdata.yaml"
TEST_REFDATA = ROOT / "tests" / "playbooks" / "refdata.json"


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
)
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(list(ctx.args))  # the real entry point, error boundary included (it calls sys.exit)


def qfex(*args: str | Path) -> Result:
    return CliRunner().invoke(_entry, [str(a) for a in args], catch_exceptions=False)


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- validate ---------------------------------------------------------------------------------------


def test_valid_file_exit_0_and_summary_on_stderr() -> None:
    result = qfex("validate", VALID)
    assert result.exit_code == ExitCode.OK
    assert result.stdout == "" and result.stderr == "1 file checked: no problems\n"


def test_shipped_playbooks_are_valid_with_and_without_the_simulator_refdata() -> None:
    assert PLAYBOOKS and all(
        p.read_text().startswith("# yaml-language-server: $schema=../schemas/playbook.schema.json\n")
        for p in PLAYBOOKS
    )
    for extra in ([], ["--refdata", SIM_REFDATA]):
        result = qfex("validate", *PLAYBOOKS, *extra)
        assert (result.exit_code, result.stdout) == (0, ""), result.stdout


def test_all_problems_of_all_files_in_text_format(tmp_path: Path) -> None:
    other = write(
        tmp_path,
        "version: 1\nname: x\norders:\n  - {id: a, symbol: AAPL-USD, side: BUY, type: LIMT, quantity: 1}\n",
    )
    result = qfex("validate", INVALID, other, "--refdata", TEST_REFDATA)
    assert result.exit_code == ExitCode.INVALID_PLAYBOOK
    lines = result.stdout.splitlines()
    expected = (ROOT / "tests/playbooks/invalid/refdata.expected").read_text().splitlines()
    assert lines[: len(expected)] == [
        line.replace("invalid/refdata.yaml", str(INVALID), 1).replace(
            "from refdata.json", f"from {TEST_REFDATA}"
        )
        for line in expected
    ]
    assert lines[-1] == (
        f"{other}:4:48: type: 'LIMT' is not one of LIMIT, MARKET, ALO, TAKE_PROFIT, STOP_LOSS "
        "(did you mean 'LIMIT'?) [schema]"
    )
    assert result.stderr == "2 files checked: 13 errors, 1 warning\n"


def test_github_format(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\nname: x\norders:\n  - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1}\n",
        name="a,b.yaml",
    )
    result = qfex("validate", "--format", "github", path)
    assert result.exit_code == 1
    file = str(path).replace(",", "%2C").replace(":", "%3A")
    assert result.stdout == (
        f"::error file={file},line=4,col=5,title=price-required::LIMIT order 'a' needs a "
        "price (its limit price)\n"
    )


def test_github_format_warnings() -> None:
    warn = ROOT / "tests/playbooks/valid/warnings-only.yaml"
    result = qfex("validate", "--format", "github", "--refdata", TEST_REFDATA, warn)
    assert result.exit_code == 0 and result.stdout.startswith("::warning file=")


def test_json_format() -> None:
    result = qfex("validate", "--format", "json", "--refdata", TEST_REFDATA, INVALID, VALID)
    assert result.exit_code == 1 and result.stderr == ""
    problems = json.loads(result.stdout)
    assert problems[0] == {
        "file": str(INVALID),
        "line": 4,
        "col": 27,
        "severity": "error",
        "rule": "refdata-symbol",
        "message": f"unknown symbol APPL-USD in reference data from {TEST_REFDATA} (did you mean AAPL-USD?)",
    }
    assert {p["severity"] for p in problems} == {"error", "warning"}
    assert json.loads(qfex("validate", "--format", "json", VALID).stdout) == []


def test_missing_playbook_is_a_located_problem_exit_1(tmp_path: Path) -> None:
    result = qfex("validate", tmp_path / "nope.yaml", VALID)
    assert result.exit_code == 1
    assert (
        result.stdout
        == f"{tmp_path / 'nope.yaml'}:1:1: cannot read file: No such file or directory [file-unreadable]\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read file: No such file or directory"),
        ("{oops", "not valid JSON"),
        ('[{"symbol": "A-USD"}]', "A-USD: missing tick_size"),
        ("[" * 100_000, "not valid JSON: JSON nested too deeply"),
        ("\ufeff\x00", "not valid JSON"),
        ('[{"symbol": "A-USD", "tick_size": NaN}]', "A-USD: tick_size must be a number"),
    ],
    ids=["missing", "syntax", "incomplete", "deep", "binary", "nan"],
)
def test_bad_refdata_is_a_usage_error_exit_2(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "refdata.json"
    if content is not None:
        path.write_text(content)
    result = qfex("validate", VALID, "--refdata", path)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == "" and result.stderr.startswith(f"qfex-runner: --refdata {path}: {message}")


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "--format", "xml", "x.yaml"],
        ["plan"],
        ["plan", "a.yaml", "b.yaml"],
        ["schema", "a", "b"],
    ],
)
def test_bad_command_lines_exit_2(args: list[str]) -> None:
    result = qfex(*args)
    assert result.exit_code == ExitCode.USAGE and "Traceback" not in result.output


def test_no_traceback_for_hostile_input(tmp_path: Path) -> None:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 10) + "]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    cases = {
        "bomb.yaml": bomb.encode(),
        "bin.yaml": bytes(range(256)),
        "deep.yaml": b"[" * 100000,
        "dir.yaml": None,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.mkdir() if data is None else path.write_bytes(data)
        result = qfex("validate", path)
        assert result.exit_code == 1, (name, result.output)
        assert result.stdout.startswith(f"{path}:") and "Traceback" not in result.output


# --- plan -----------------------------------------------------------------------------------------------


def test_plan_text_and_json() -> None:
    quickstart = ROOT / "playbooks" / "quickstart.yaml"
    text = qfex("plan", quickstart)
    assert text.exit_code == 0 and text.stderr == ""
    assert '"type": "add_order"' in text.stdout and "nothing is sent" in text.stdout
    data = jsonnum.loads(qfex("plan", quickstart, "--format", "json").stdout)
    steps = data["steps"]
    assert [s["order_id"] for s in steps] == ["aapl-dip-buy", "aapl-market-buy", "aapl-take-profit"]
    assert steps[0]["message"]["params"]["take_profit"] == jsonnum.loads("240.00")
    assert str(steps[0]["message"]["params"]["price"]) == "220.00"  # exact text, not float


def test_plan_shows_after_fill_legs() -> None:
    result = qfex("plan", ROOT / "playbooks" / "bracket-entry.yaml", "--format", "json")
    steps = json.loads(result.stdout)["steps"]
    assert [(s["leg"], s["message"] is None) for s in steps] == [("entry", False), ("tp", True), ("sl", True)]
    assert steps[1]["note"].startswith("placed after the entry fills, sized to the filled quantity")


def test_plan_refuses_invalid_playbooks_with_problems_on_stderr() -> None:
    result = qfex("plan", INVALID, "--refdata", TEST_REFDATA, "--format", "json")
    assert result.exit_code == 1 and result.stdout == ""
    assert "[refdata-symbol]" in result.stderr and result.stderr.endswith("; no plan\n")


def test_plan_with_warnings_still_plans() -> None:
    result = qfex("plan", ROOT / "tests/playbooks/valid/warnings-only.yaml", "--refdata", TEST_REFDATA)
    assert (
        result.exit_code == 0
        and "warning: OLD-USD is DELISTED" in result.stderr
        and "step 1" in result.stdout
    )


# --- schema ---------------------------------------------------------------------------------------------


def test_schema_prints_the_exact_bytes() -> None:
    result = qfex("schema")
    assert result.exit_code == 0
    assert result.stdout_bytes == (ROOT / "schemas" / "playbook.schema.json").read_bytes()
    assert qfex("schema", "no-such").exit_code == ExitCode.USAGE


# --- real processes, one per exit code ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["validate", str(VALID)], 0),
        (["validate", str(INVALID), "--refdata", str(TEST_REFDATA)], 1),
        (["validate", str(VALID), "--refdata", "/nonexistent/refdata.json"], 2),
        (["plan", str(VALID)], 0),
        (["plan", str(INVALID), "--refdata", str(TEST_REFDATA)], 1),
    ],
)
def test_real_process_exit_codes(args: list[str], code: int) -> None:
    done = subprocess.run([sys.executable, "-m", "runner", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr


# --- the error boundary: a bug is exit 70, one line, traceback only with --debug --------------------


def _break_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr("runner.playbook.load.validate_file", broken)


def test_internal_error_is_exit_70_with_one_line_and_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    _break_validation(monkeypatch)
    result = qfex("validate", VALID)
    assert result.exit_code == ExitCode.INTERNAL == 70
    assert result.stderr == (
        "qfex-runner: internal error: ZeroDivisionError: simulated bug (re-run with --debug)\n"
    )
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback_of_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _break_validation(monkeypatch)
    result = qfex("--debug", "validate", VALID)
    assert result.exit_code == ExitCode.INTERNAL
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "in broken" in result.stderr
    assert result.stderr.rstrip().endswith("ZeroDivisionError: simulated bug")


def test_debug_adds_no_traceback_to_bad_input(tmp_path: Path) -> None:
    """--debug is for bugs: an invalid playbook or refdata file is still a one-line, located answer."""
    bad = write(tmp_path, "version: 1\nname: p\norders: []\n")
    result = qfex("--debug", "validate", bad)
    assert result.exit_code == ExitCode.INVALID_PLAYBOOK and "Traceback" not in result.output
    result = qfex("--debug", "validate", VALID, "--refdata", tmp_path / "missing.json")
    assert result.exit_code == ExitCode.USAGE and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_need_no_network_and_no_credentials(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError(f"{command} opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for name in ("QFEX_PUBLIC_KEY", "QFEX_SECRET_KEY", "QFEX_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    for playbook in PLAYBOOKS:
        result = qfex(command, playbook)
        assert result.exit_code == ExitCode.OK, result.output
