"""The console as a person and as CI see it: progress and colour on a terminal only (unless asked),
`NO_COLOR`, a JSON summary on stdout, credentials refused or missing said plainly."""

from __future__ import annotations

import json
import os

from runner.exit_codes import ExitCode
from tests.acceptance.run.test_cli import cli_env, qfex, sim_env
from tests.acceptance.run.test_targets import run_on_a_terminal
from tests.acceptance.run_kit import RESTING, order, write_playbook


def test_on_a_terminal_progress_and_colour_by_default(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", RESTING), order("b", RESTING)])
    env = {k: v for k, v in sim_env(simulator).items() if k != "NO_COLOR"}
    env["TERM"] = "xterm"
    code, screen = run_on_a_terminal(["run", str(book), "--url", simulator.url, "--report-dir", "rep"],
                                     tmp_path, None, env)
    assert code == ExitCode.OK, screen
    assert "\r[1/2] a: " in screen and "\r[2/2] b: " in screen  # one line, rewritten in place
    assert "\x1b[32m" in screen  # green: passed

    env["NO_COLOR"] = "1"
    code, screen = run_on_a_terminal(["run", str(book), "--url", simulator.url, "--report-dir", "rep2",
                                      "--state-dir", "other"], tmp_path, None, env)
    assert code == ExitCode.OK and "\r[1/2] a: " in screen and "\x1b[" not in screen, screen


def test_off_a_terminal_quiet_unless_progress_is_asked(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    quiet = qfex(["run", str(book), "--url", simulator.url, "--report-dir", "r1"], tmp_path,
                 sim_env(simulator))
    assert quiet.returncode == ExitCode.OK
    assert "[1/1]" not in quiet.stderr and "\x1b[" not in quiet.stdout + quiet.stderr
    book = write_playbook(tmp_path, [order("a", RESTING)], name="t2")  # a new identity: placed again
    loud = qfex(["run", str(book), "--url", simulator.url, "--report-dir", "r2", "--state-dir", "s2",
                 "--progress"], tmp_path, sim_env(simulator))
    lines = loud.stderr.splitlines()
    assert "[1/1] a: ACK" in lines and "\r" not in loud.stderr  # one event per line in a CI log
    book = write_playbook(tmp_path, [order("a", RESTING)], name="t3")
    as_json = qfex(["run", str(book), "--url", simulator.url, "--report-dir", "r3", "--state-dir", "s3",
                    "--format", "json"], tmp_path, sim_env(simulator))
    summary = json.loads(as_json.stdout)  # stdout is nothing but the JSON summary
    assert summary["exit_code"] == 0 and summary["orders"][0]["id"] == "a"
    assert summary["files"]["md"].endswith("report.md")


def test_credentials_file_readable_by_others_is_refused(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    creds = tmp_path / "creds.yaml"
    creds.write_text(f"public_key: {simulator.public_key}\nsecret_key: {simulator.secret_key}\n")
    os.chmod(creds, 0o644)
    done = qfex(["run", str(book), "--url", simulator.url, "--credentials", str(creds)], tmp_path, cli_env())
    assert done.returncode == ExitCode.CONNECT_FAILED
    assert "accessible by group or others (mode 0644)" in done.stderr and "chmod 600" in done.stderr
    assert simulator.secret_key not in done.stdout + done.stderr
    account = simulator.call(lambda ex: ex.account_for_key(simulator.public_key).account_id)
    assert simulator.call(lambda ex: ex.orders(account)) == []  # nothing sent


def test_a_missing_secret_names_its_variable(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    done = qfex(["run", str(book), "--url", simulator.url], tmp_path,
                cli_env({"QFEX_PUBLIC_KEY": simulator.public_key}))
    assert done.returncode == ExitCode.CONNECT_FAILED
    assert "set QFEX_SECRET_KEY" in done.stderr and "QFEX_PUBLIC_KEY" not in done.stderr.split("set ")[1]


def test_a_warning_is_shown_once(tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    text = qfex(["run", str(book), "--state-dir", "ignored", "--report-dir", "r1"], tmp_path, cli_env())
    assert text.returncode == ExitCode.OK, text.stderr
    assert (text.stdout + text.stderr).count("--state-dir is ignored with --target sim") == 1
    as_json = qfex(["run", str(book), "--state-dir", "ignored", "--report-dir", "r2", "--format", "json"],
                   tmp_path, cli_env())
    assert "warning: --state-dir is ignored" in as_json.stderr  # stdout holds only the JSON summary
    assert any("--state-dir is ignored" in w for w in json.loads(as_json.stdout)["warnings"])
