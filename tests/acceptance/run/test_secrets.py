"""The secret key never shows: every stream and file of run, status, report and failing runs is searched."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

from runner.simulator.config import AccountConfig
from runner.simulator.server_config import FaultConfig
from tests.acceptance.run.test_cli import cli_env
from tests.acceptance.run_kit import MARGIN_REJECT, MARKET, RESTING, order, write_playbook

SECRET = "qfex_secret_NEVER-SHOWN-4f1e9d"
PUBLIC = "qfex_pub_never_shown_test"


def test_no_output_of_any_command_contains_the_secret(tmp_path, simulator_factory):
    account = AccountConfig(PUBLIC, SECRET, "9b2f0a53-3c1e-4f5a-9d7e-1b2c3d4e5f61",
                            "4e3d2c1b-0a9f-4e8d-8c7b-6a5f4e3d2c1c", [], Decimal("1000000"))
    # the connection drops once mid-run: the reconnection signs in again (a fresh signature)
    sim = simulator_factory(engine={"accounts": [account]}, faults=FaultConfig(drop_after_messages=9))
    bracket = "bracket: {take_profit: 260.00, stop_loss: 200.00}"
    book = write_playbook(tmp_path, [order("rest", RESTING + "\n" + bracket),
                                     order("buy", MARKET, wait="fill"), order("miss", MARGIN_REJECT)],
                          name="secrets")
    env = cli_env({"QFEX_PUBLIC_KEY": PUBLIC, "QFEX_SECRET_KEY": SECRET})
    wrong = cli_env({"QFEX_PUBLIC_KEY": PUBLIC, "QFEX_SECRET_KEY": SECRET + "-wrong"})
    commands = [
        (["run", str(book), "--url", sim.url, "--report-dir", "r1", "--state-dir", "s", "--progress"], env),
        (["run", str(book), "--url", sim.url, "--report-dir", "r2", "--state-dir", "s", "--format", "json"],
         env),
        (["status", str(book), "--url", sim.url, "--state-dir", "s"], env),
        (["status", str(book), "--url", sim.url, "--state-dir", "s", "--format", "json"], env),
        *[(["report", "r1", "--format", fmt], env) for fmt in ("text", "md", "json", "junit")],
        (["--debug", "run", str(book), "--url", sim.url, "--report-dir", "r3", "--state-dir", "s3"], wrong),
        (["run", str(book), "--url", "ws://127.0.0.1:1/", "--refdata", "nope.json"], env),
    ]
    streams: list[str] = []
    for args, command_env in commands:
        done = subprocess.run([sys.executable, "-m", "runner", *args], cwd=tmp_path, env=command_env,
                              capture_output=True, text=True, timeout=120)
        streams += [done.stdout, done.stderr]
        assert done.returncode in (0, 2, 3, 4), (args, done.stderr)
    assert "reconnected and reconciled" in streams[0]  # the first run signed in twice
    assert "authentication refused" in streams[-3]  # the wrong secret was tried, and not quoted
    assert any("already_placed" in s for s in streams) and any("filled" in s for s in streams), streams[:4]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".journal.jsonl") for p in files) and any(p.name == "junit.xml" for p in files)
    for text in streams + [p.read_text(errors="replace") for p in files]:
        assert SECRET not in text
