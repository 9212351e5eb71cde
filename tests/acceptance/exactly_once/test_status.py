"""`qfex-runner status PLAYBOOK`: the playbook against the exchange, read-only."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.playbook.ids import Leg
from runner.playbook.load import load_playbook
from runner.state.journal import Journal
from tests.acceptance.exactly_once_kit import ORDERS, WAITING, Harness, when_accepted

EXTRA = """\
  - {id: x, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200.00, time_in_force: IOC}
  - {id: r, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 90000, price: 220.00}
"""


@pytest.fixture
def harness(tmp_path: Path, dialect: str) -> Iterator[Harness]:
    h = Harness(tmp_path, dialect=dialect, orders=ORDERS + EXTRA)
    yield h
    h.stop()


def status(harness: Harness, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "runner", "status", str(harness.playbook), "--url", harness.sim.url,
               "--state-dir", str(harness.state_dir), *extra]
    return subprocess.run(command, env=harness.env, capture_output=True, text=True, timeout=60)


def states(harness: Harness, *extra: str) -> dict[str, str]:
    done = status(harness, "--format", "json", *extra)
    assert done.returncode in (0, 3), done.stderr
    return {o["id"]: o["state"] for o in json.loads(done.stdout)["orders"]}


def test_status_after_a_crash_shows_what_a_run_would_do(harness: Harness) -> None:
    killed = harness.run_killed_at(3)
    assert killed.returncode == -signal.SIGKILL
    journal_before = harness.journal_lines()
    total_before = harness.total()
    shown = status(harness, "--detailed-exitcode")
    assert shown.returncode == 3, shown.stderr  # a run would place something
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("qfex-runner status · playbook eo (run_id r1) · target url ws://127.0.0.1:")
    assert "3 of 7 placed (2 open, 1 filled, 4 not placed); a run would send 4: d, e, x, r" in shown.stdout
    assert states(harness) == {"a": "open", "b": "filled", "c": "open", "d": "not_placed", "e": "not_placed",
                               "x": "not_placed", "r": "not_placed"}
    assert harness.total() == total_before and harness.journal_lines() == journal_before  # read-only


def test_status_after_a_finished_run_with_and_without_the_journal(harness: Harness) -> None:
    done = harness.run()
    assert done.returncode == 3  # r is rejected (margin), as intended
    assert status(harness, "--detailed-exitcode").returncode == 3  # r would be sent again
    with_journal = states(harness)
    assert with_journal == {"a": "open", "b": "filled", "c": "open", "d": "open", "e": "open",
                            "x": "cancelled", "r": "rejected"}
    report = json.loads(status(harness, "--format", "json").stdout)
    r = next(o for o in report["orders"] if o["id"] == "r")
    assert r["note"] == "FAILED_MARGIN_CHECK" and r["placed"] is False
    # what the exchange alone cannot tell: the IOC that expired unfilled looks never placed
    harness.forget_journal()
    without = states(harness)
    assert without["x"] == "not_placed" and without["r"] == "not_placed"
    assert {k: v for k, v in without.items() if k not in "xr"} == {k: v for k, v in with_journal.items()
                                                                  if k not in "xr"}
    assert "no journal at" in status(harness).stdout


def test_an_unanswered_send_not_on_the_exchange_is_unknown(harness: Harness) -> None:
    playbook = load_playbook(str(harness.playbook))
    with Journal.open(harness.state_dir, playbook) as journal:
        journal.record_intent(playbook.client_order_id(playbook.orders[0]), 0, "a", Leg.ENTRY, None)
    assert states(harness)["a"] == "unknown"


def test_status_reads_while_a_run_holds_the_lock(tmp_path: Path, dialect: str) -> None:
    harness = Harness(tmp_path, dialect=dialect, orders=WAITING)
    try:
        accepted = when_accepted(harness, 1)
        running = harness.spawn()
        assert accepted.wait(20)
        assert states(harness) == {"w": "open"}
        harness.set_mid("222")
        running.communicate(timeout=60)
        assert states(harness) == {"w": "filled"}
    finally:
        harness.stop()


def test_status_warns_about_a_changed_placed_order(harness: Harness) -> None:
    harness.run()
    harness.playbook.write_text(harness.playbook.read_text().replace("price: 240.00", "price: 241.00"))
    shown = status(harness)
    assert shown.returncode == 0
    assert "warning: order 'c' was placed with another definition: price 240 → 241" in shown.stdout
    # --replan accepts the change (nothing is re-sent); status still shows what is really on the book
    assert harness.run("--replan").returncode in (0, 3)
    replanned = json.loads(status(harness, "--format", "json").stdout)
    c = next(o for o in replanned["orders"] if o["id"] == "c")
    assert c["note"] == "differs from the playbook: price 240 on the exchange, 241 in the playbook"
    harness.forget_journal()  # the exchange alone says the same
    forgotten = json.loads(status(harness, "--format", "json").stdout)
    assert next(o for o in forgotten["orders"] if o["id"] == "c")["note"] == c["note"]


def test_status_needs_an_exchange_with_state(tmp_path: Path, dialect: str) -> None:
    harness = Harness(tmp_path, dialect=dialect)
    try:
        done = subprocess.run([sys.executable, "-m", "runner", "status", str(harness.playbook)],
                              env=harness.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert "status needs an exchange that keeps state" in done.stderr
        bad = subprocess.run([sys.executable, "-m", "runner", "status", str(harness.playbook), "--url",
                              harness.sim.url], env={"PATH": "/usr/bin"}, capture_output=True, text=True,
                             timeout=60)
        assert bad.returncode == 4 and "no credentials" in bad.stderr
    finally:
        harness.stop()
