"""The stale-plan rule end to end, crash windows the exchange cannot see, and the speed bump."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.errors import PlaybookInvalid
from runner.exit_codes import ExitCode
from runner.ids import Leg
from runner.journal import Journal
from runner.load import load_playbook
from tests.acceptance._exactly_once_kit import ORDER_IDS, ORDERS, Harness, coid
from tests.acceptance.test_exactly_once_faults import assert_exactly_once, run_in_process


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.stop()


def edit(harness: Harness, old: str, new: str) -> None:
    text = harness.playbook.read_text()
    assert old in text
    harness.playbook.write_text(text.replace(old, new))


def test_a_changed_placed_order_is_refused_with_its_location(harness: Harness) -> None:
    assert run_in_process(harness).exit_code == ExitCode.OK
    edit(harness, "quantity: 0.5, price: 240.00", "quantity: 0.5, price: 241.00")  # order c
    refused = harness.run()
    assert refused.returncode == ExitCode.INVALID_PLAYBOOK
    line = next(n for n, text in enumerate(harness.playbook.read_text().splitlines(), 1) if "id: c" in text)
    assert f"{harness.playbook}:{line}:" in refused.stderr
    assert "order 'c' was already placed under this name/run_id and has changed since: price 240 → 241" \
        in refused.stderr
    assert "[changed-since-placed]" in refused.stderr and "--replan" in refused.stderr
    assert harness.total() == len(ORDER_IDS)  # nothing was sent


def test_replan_places_new_orders_only_and_reports_the_changed_ones(harness: Harness) -> None:
    assert run_in_process(harness).exit_code == ExitCode.OK
    edit(harness, "quantity: 0.5, price: 240.00", "quantity: 0.5, price: 241.00")
    with harness.playbook.open("a") as f:
        f.write("  - {id: f, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 218.00}\n")
    result = run_in_process(harness, replan=True)
    assert result.exit_code == ExitCode.OK
    outcomes = {o.id: o.outcome.value for o in result.report.orders}
    assert outcomes == {"a": "already_placed", "b": "already_placed", "c": "already_placed",
                        "d": "already_placed", "e": "already_placed", "f": "passed"}
    assert any("'c'" in w and "price 240 → 241" in w for w in result.warnings)
    assert "placed with another definition (price 240 → 241)" in result.report.orders[2].verdict
    assert_exactly_once(harness, (*ORDER_IDS, "f"))
    rows = harness.sim.call(lambda ex: ex.orders(_account()))
    open_c = [o for o in rows if o["client_order_id"] == coid("c")]
    assert [str(o["price"]) for o in open_c] == ["240.00"]  # placed orders are never modified
    assert run_in_process(harness).exit_code == ExitCode.OK  # accepted once: no refusal next time


def test_without_a_journal_the_exchange_shows_a_changed_open_order(harness: Harness) -> None:
    assert run_in_process(harness).exit_code == ExitCode.OK
    harness.forget_journal()
    edit(harness, "quantity: 1, price: 220.00", "quantity: 2, price: 220.00")  # order a, resting
    with pytest.raises(PlaybookInvalid) as refused:
        run_in_process(harness)
    [problem] = refused.value.problems
    assert "order 'a'" in problem.message and "quantity 1 → 2" in problem.message
    assert "as the exchange shows the open order" in problem.message
    result = run_in_process(harness, replan=True)
    assert result.exit_code == ExitCode.OK
    assert_exactly_once(harness)


def test_intent_recorded_but_never_sent_is_sent_once(harness: Harness) -> None:
    """kill -9 between the fsync of the intent and the send: the exchange never saw the order."""
    playbook = load_playbook(str(harness.playbook))
    order = playbook.orders[0]
    with Journal.open(harness.state_dir, playbook) as journal:
        journal.record_intent(coid("a"), 0, "a", Leg.ENTRY, {"type": "add_order", "params": {}})
    result = run_in_process(harness)
    assert result.exit_code == ExitCode.OK
    assert result.report.orders[0].id == order.id and result.report.orders[0].outcome.value == "passed"
    assert_exactly_once(harness)


def test_speed_bumped_send_in_flight_at_the_crash_is_found(tmp_path: Path) -> None:
    """With QFEX's 100 ms speed bump an order may be accepted but not yet on the book when the
    runner dies; the re-run, started at once, must still find it (it waits out a recent unanswered send)."""
    harness = Harness(tmp_path, speed_bump_ms=100, orders=ORDERS)
    try:
        killed = harness.run_killed_at(1)
        assert killed.returncode == -signal.SIGKILL
        rerun = harness.run()
        assert rerun.returncode == 0, rerun.stderr
        assert_exactly_once(harness)
    finally:
        harness.stop()


def _account() -> str:
    from runner.simulator.config import DEMO_ACCOUNT_ID

    return DEMO_ACCOUNT_ID


def test_the_report_of_a_resumed_run_says_already_placed(harness: Harness) -> None:
    harness.run_killed_at(3)
    result = run_in_process(harness)
    placed = [o for o in result.report.orders if o.outcome.value == "already_placed"]
    assert [o.id for o in placed] == ["a", "b", "c"]
    assert all(o.order_id for o in placed)
    assert placed[1].filled_quantity == placed[1].quantity  # b filled in the killed run: known from trades
    assert_exactly_once(harness)

