"""Exactly once, end to end: SIGKILL the runner at many points, re-run with and without its journal,
and count, at the exchange, how many orders carry each client_order_id. Every count must be 1."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.exactly_once_kit import (
    ORDER_IDS,
    WAITING,
    Harness,
    coid,
    outcome_of,
    when_accepted,
)


@pytest.fixture
def harness(tmp_path: Path, dialect: str) -> Iterator[Harness]:
    h = Harness(tmp_path, dialect=dialect)
    yield h
    h.stop()


def assert_exactly_once(harness: Harness, order_ids=ORDER_IDS) -> None:
    counts = harness.counts()
    assert harness.duplicates() == {}, f"placed more than once: {harness.duplicates()}"
    missing = [o for o in order_ids if counts.get(coid(o), 0) != 1]
    assert not missing, f"not placed: {missing} (counts {counts})"


@pytest.mark.parametrize("keep_journal", [True, False], ids=["journal", "no-journal"])
@pytest.mark.parametrize("crash_at", [1, 2, 3, 4, 5])
def test_sigkill_after_the_kth_send_then_rerun(harness: Harness, crash_at: int, keep_journal: bool) -> None:
    killed = harness.run_killed_at(crash_at)
    assert killed.returncode == -signal.SIGKILL
    assert harness.total() == crash_at  # the crash point: order `crash_at` reached the exchange, unanswered
    if not keep_journal:
        harness.forget_journal()  # a fresh CI machine: the exchange is the only source of truth
    rerun = harness.run()
    assert rerun.returncode == 0, rerun.stderr
    assert_exactly_once(harness)
    summary = outcome_of(rerun)
    adopted = [o["id"] for o in summary["orders"] if o["outcome"] == "already_placed"]
    assert adopted == list(ORDER_IDS[:crash_at])  # everything placed before the crash, and only that

    again = harness.run()  # a finished playbook: nothing is placed, exit 0
    assert again.returncode == 0, again.stderr
    assert harness.total() == len(ORDER_IDS)
    assert {o["outcome"] for o in outcome_of(again)["orders"]} == {"already_placed"}


@pytest.mark.parametrize("keep_journal", [True, False], ids=["journal", "no-journal"])
def test_sigkill_mid_wait_then_the_order_fills_unwatched(tmp_path: Path, keep_journal: bool,
                                                         dialect: str) -> None:
    harness = Harness(tmp_path, dialect=dialect,
                      orders=WAITING + "  - {id: z, symbol: AAPL-USD, side: BUY, type: LIMIT, "
                                       "quantity: 1, price: 221.00}\n")
    try:
        accepted = when_accepted(harness, 1)
        proc = harness.spawn()
        assert accepted.wait(20)
        waiting = coid("w")
        harness.wait_for_journal(lambda line: line.get("kind") == "answer" and line.get("coid") == waiting)
        os.kill(proc.pid, signal.SIGKILL)  # the runner is now waiting for w's fill
        proc.communicate(timeout=30)
        harness.set_mid("222")  # the market comes down through 225: w fills while the runner is dead
        if not keep_journal:
            harness.forget_journal()
        rerun = harness.run()
        assert rerun.returncode == 0, rerun.stderr
        assert_exactly_once(harness, ("w", "z"))
        orders = {o["id"]: o for o in outcome_of(rerun)["orders"]}
        assert orders["w"]["outcome"] == "already_placed"
        assert orders["z"]["outcome"] == "passed"
    finally:
        harness.stop()


def test_a_second_concurrent_run_is_refused(tmp_path: Path, dialect: str) -> None:
    harness = Harness(tmp_path, dialect=dialect, orders=WAITING)
    try:
        accepted = when_accepted(harness, 1)
        first = harness.spawn()
        assert accepted.wait(20)  # the first run holds the lock and waits for w's fill
        second = harness.run()
        assert second.returncode == 75, second.stderr
        assert "another run of 'eo' (run_id 'r1') is in progress" in second.stderr
        assert f"pid {first.pid}" in second.stderr and "nothing was sent" in second.stderr
        harness.set_mid("222")  # w fills: the first run finishes normally
        first.communicate(timeout=60)
        assert first.returncode == 0
        assert_exactly_once(harness, ("w",))
    finally:
        harness.stop()


def test_a_killed_runs_lock_is_taken_over(harness: Harness) -> None:
    harness.run_killed_at(2)
    rerun = harness.run()
    assert rerun.returncode == 0, rerun.stderr
    assert_exactly_once(harness)
