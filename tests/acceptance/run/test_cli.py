"""`qfex-runner run` / `report` as a user runs them: a subprocess, checked by exit code and output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runner.exit_codes import ExitCode
from tests.acceptance.run_kit import MARGIN_REJECT, RESTING, order, write_playbook

REPO = Path(__file__).resolve().parents[3]


def cli_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QFEX_", "GITHUB_"))}
    env.update({"NO_COLOR": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def qfex(args: list[str], cwd: Path, env: dict | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=cwd, env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout)


def sim_env(sim) -> dict:
    return cli_env({"QFEX_PUBLIC_KEY": sim.public_key, "QFEX_SECRET_KEY": sim.secret_key})


def test_quickstart_runs_against_the_embedded_exchange(tmp_path):
    shutil.copytree(REPO / "playbooks", tmp_path / "playbooks")
    done = qfex(["run", "playbooks/quickstart.yaml"], cwd=tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    assert "PASSED: 3 orders, 3 passed, 0 failed" in done.stdout
    runs = list((tmp_path / "runs" / "quickstart").glob("2*"))
    assert len(runs) == 1
    assert sorted(p.name for p in runs[0].iterdir()) == ["junit.xml", "report.json", "report.md"]
    assert "\x1b[" not in done.stdout  # not a TTY / NO_COLOR: no colour codes


def test_exit_1_invalid_playbook_nothing_sent(tmp_path, simulator):
    book = tmp_path / "bad.yaml"
    book.write_text("version: 1\nname: bad\norders:\n  - id: a\n    symbol: AAPL-USD\n    side: BUY\n"
                    "    type: LIMIT\n    quantity: 1\n    prise: 220\n")
    done = qfex(["run", str(book), "--url", simulator.url], cwd=tmp_path, env=sim_env(simulator))
    assert done.returncode == ExitCode.INVALID_PLAYBOOK
    assert f"{book}:9:5:" in done.stderr and "nothing was sent" in done.stderr
    assert simulator.call(lambda ex: ex.orders(ex.account_for_key(simulator.public_key).account_id)) == []


@pytest.mark.parametrize("args", [
    ["run"],
    ["run", "x.yaml", "--target", "moon"],
    ["run", "x.yaml", "--format", "xml"],
    ["run", "x.yaml", "--timeout", "0"],
    ["run", "x.yaml", "--target", "uat", "--url", "ws://127.0.0.1:1/"],
])
def test_exit_2_usage(tmp_path, args):
    book = write_playbook(tmp_path, [order("a", RESTING)], name="x")
    assert book.name == "x.yaml"
    done = qfex(args, cwd=tmp_path)
    assert done.returncode == ExitCode.USAGE, done.stderr


def test_exit_2_production_needs_intent(tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    done = qfex(["run", str(book), "--target", "prod", "--refdata",
                 str(REPO / "runner/simulator/data/refdata.json")], cwd=tmp_path,
                env=cli_env({"QFEX_PUBLIC_KEY": "p", "QFEX_SECRET_KEY": "s"}))
    assert done.returncode == ExitCode.USAGE
    assert "--yes" in done.stderr and "real" in done.stderr


def test_exit_3_an_order_missed_its_expectation(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", MARGIN_REJECT), order("b", RESTING)], on_reject="continue")
    done = qfex(["run", str(book), "--url", simulator.url, "--report-dir", "rep"], cwd=tmp_path,
                env=sim_env(simulator))
    assert done.returncode == ExitCode.ORDERS_FAILED, done.stderr
    assert "FAILED_MARGIN_CHECK" in done.stdout
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert [o["outcome"] for o in report["orders"]] == ["failed", "passed"]


def test_exit_4_missing_credentials_names_the_variable(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    done = qfex(["run", str(book), "--url", simulator.url], cwd=tmp_path)
    assert done.returncode == ExitCode.CONNECT_FAILED
    assert "QFEX_PUBLIC_KEY and QFEX_SECRET_KEY" in done.stderr


def test_exit_4_bad_secret(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    env = cli_env({"QFEX_PUBLIC_KEY": simulator.public_key, "QFEX_SECRET_KEY": "qfex_secret_wrong_123"})
    done = qfex(["run", str(book), "--url", simulator.url], cwd=tmp_path, env=env)
    assert done.returncode == ExitCode.CONNECT_FAILED, done.stderr
    assert "authentication refused" in done.stderr
    assert "qfex_secret_wrong_123" not in done.stderr + done.stdout
    assert simulator.call(lambda ex: ex.orders(ex.account_for_key(simulator.public_key).account_id)) == []


def test_exit_4_unreachable_url(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    book = write_playbook(tmp_path, [order("a", RESTING)])
    done = qfex(["run", str(book), "--url", f"ws://127.0.0.1:{port}/", "--refdata",
                 str(REPO / "runner/simulator/data/refdata.json")], cwd=tmp_path,
                env=cli_env({"QFEX_PUBLIC_KEY": "p", "QFEX_SECRET_KEY": "s"}))
    assert done.returncode == ExitCode.CONNECT_FAILED
    assert "cannot connect" in done.stderr


def test_exit_4_plain_ws_to_a_remote_host_is_refused(tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    done = qfex(["run", str(book), "--url", "ws://example.com/", "--refdata",
                 str(REPO / "runner/simulator/data/refdata.json")], cwd=tmp_path,
                env=cli_env({"QFEX_PUBLIC_KEY": "p", "QFEX_SECRET_KEY": "s"}))
    assert done.returncode == ExitCode.CONNECT_FAILED
    assert "refusing unencrypted ws://" in done.stderr


def test_exit_5_on_reject_stop(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", MARGIN_REJECT), order("b", RESTING)], on_reject="stop")
    done = qfex(["run", str(book), "--url", simulator.url, "--report-dir", "rep", "--format", "json"],
                cwd=tmp_path, env=sim_env(simulator))
    assert done.returncode == ExitCode.ABORTED, done.stderr
    summary = json.loads(done.stdout)
    assert summary["exit_code"] == 5 and summary["outcome"] == "aborted"
    assert [o["outcome"] for o in summary["orders"]] == ["failed", "not_sent"]
    assert summary["orders"][0]["reject"]["code"] == "FAILED_MARGIN_CHECK"
    assert Path(tmp_path / summary["files"]["json"]).exists()


def test_exit_130_on_ctrl_c_writes_the_report(tmp_path, simulator):
    # order a rests and waits for a fill that never comes; Ctrl-C arrives during that wait
    book = write_playbook(tmp_path, [order("a", RESTING, wait="fill"), order("b", RESTING)])
    proc = subprocess.Popen([sys.executable, "-m", "runner", "run", str(book), "--url", simulator.url,
                             "--report-dir", "rep", "--progress", "--timeout", "60"],
                            cwd=tmp_path, env=sim_env(simulator), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # await the event: the first order has been answered
            if "[1/2] a: ACK" in line:
                break
        else:
            pytest.fail("the run never reported the first answer")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED, err
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["summary"]["outcome"] == "interrupted" and report["summary"]["exit_code"] == 130
    first, second = report["orders"]
    assert first["order_id"] and first["last_status"] == "ACK"
    assert second["outcome"] == "not_sent"
    assert "interrupted" in out


def test_report_command_re_renders_every_format(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", RESTING), order("b", MARGIN_REJECT)])
    done = qfex(["run", str(book), "--url", simulator.url, "--report-dir", "rep"], cwd=tmp_path,
                env=sim_env(simulator))
    assert done.returncode == ExitCode.ORDERS_FAILED
    rep = tmp_path / "rep"
    assert qfex(["report", str(rep), "--format", "md"], tmp_path).stdout == (rep / "report.md").read_text()
    assert qfex(["report", str(rep), "--format", "junit"], tmp_path).stdout == (rep / "junit.xml").read_text()
    assert qfex(["report", str(rep / "report.json"), "--format", "json"], tmp_path).stdout == \
        (rep / "report.json").read_text()
    text = qfex(["report", str(rep)], tmp_path)
    assert text.returncode == 0 and "FAILED_MARGIN_CHECK" in text.stdout
    missing = qfex(["report", str(tmp_path / "nope")], tmp_path)
    assert missing.returncode == ExitCode.USAGE and "no such report" in missing.stderr


def test_format_json_summary_carries_the_bracket_legs_as_report_json_does(tmp_path, simulator):
    body = "symbol: AAPL-USD\nside: BUY\ntype: MARKET\nquantity: 1\n" \
           "bracket: {take_profit: 260.00, stop_loss: 200.00}"
    book = write_playbook(tmp_path, [order("a", body, wait="fill", expect="filled"), order("b", RESTING)])
    done = qfex(["run", str(book), "--url", simulator.url, "--report-dir", "rep", "--format", "json"],
                cwd=tmp_path, env=sim_env(simulator))
    assert done.returncode == ExitCode.OK, done.stderr
    summary = json.loads(done.stdout)
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert [o["legs"] for o in summary["orders"]] == [o["legs"] for o in saved["orders"]]
    tp, sl = summary["orders"][0]["legs"]
    assert (tp["leg"], tp["mode"], tp["trigger_price"]) == ("take_profit", "attached", 260)
    assert sl["leg"] == "stop_loss"
    assert tp["order_id"] and tp["statuses"]
    assert summary["orders"][1]["legs"] == []
