"""The stale-plan rule end to end, crash windows the exchange cannot see, and the speed bump."""

from __future__ import annotations

import json
import signal
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from runner.errors import PlaybookInvalid
from runner.exit_codes import ExitCode
from runner.jsonnum import loads
from runner.playbook.ids import Leg
from runner.playbook.load import load_playbook
from runner.report import Report, render_text
from runner.state.journal import Journal
from tests.acceptance.exactly_once.test_faults import assert_exactly_once, run_in_process
from tests.acceptance.exactly_once_kit import ORDER_IDS, ORDERS, Harness, coid


@pytest.fixture
def harness(tmp_path: Path, dialect: str) -> Iterator[Harness]:
    h = Harness(tmp_path, dialect=dialect)
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
    assert "with a different definition (price 240 as placed, 241 in the playbook)" \
        in result.report.orders[2].verdict
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


def test_speed_bumped_send_in_flight_at_the_crash_is_found(tmp_path: Path, dialect: str) -> None:
    """With QFEX's 100 ms speed bump an order may be accepted but not yet on the book when the
    runner dies; the re-run, started at once, must still find it (it waits out a recent unanswered send)."""
    harness = Harness(tmp_path, dialect=dialect, speed_bump_ms=100, orders=ORDERS)
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



def _replanned(harness: Harness) -> Any:
    """Order c (resting SELL 0.5 @ 240) placed, then edited to 0.75 @ 241 and accepted with --replan."""
    assert run_in_process(harness).exit_code == ExitCode.OK
    edit(harness, "quantity: 0.5, price: 240.00", "quantity: 0.75, price: 241.00")
    return run_in_process(harness, replan=True)


def test_replan_reports_what_the_exchange_has_not_the_playbook(harness: Harness) -> None:
    """The table, report.json, report.md and junit show c as placed (0.5 @ 240), marked as differing."""
    result = _replanned(harness)
    assert result.exit_code == ExitCode.OK
    c = result.report.orders[2]
    assert (c.quantity, c.price) == (Decimal("0.5"), Decimal("240"))
    assert c.differences == {"quantity": (Decimal("0.5"), Decimal("0.75")),
                             "price": (Decimal("240"), Decimal("241"))}
    assert "with a different definition (quantity 0.5 as placed, 0.75 in the playbook, price 240 as " \
           "placed, 241 in the playbook)" in c.verdict
    text = render_text(result.report)
    [row] = [line for line in text.splitlines() if line.startswith("3 ")]
    assert "0.5 (playbook 0.75)" in row and "240 (playbook 241)" in row
    assert "already_placed (placed with a different definition)" in row
    assert f"  c: {c.verdict}" in text

    saved = loads((result.report_dir / "report.json").read_text())
    jsonschema.validate(saved, json.loads(Path("schemas/report.schema.json").read_text()))
    order_c = saved["orders"][2]
    assert (order_c["quantity"], order_c["price"]) == (Decimal("0.5"), Decimal("240"))
    assert order_c["placed_with_different_definition"] == {
        "quantity": {"placed": Decimal("0.5"), "playbook": Decimal("0.75")},
        "price": {"placed": Decimal("240"), "playbook": Decimal("241")}}
    assert "placed_with_different_definition" not in saved["orders"][0]
    assert Report.from_json(saved).orders[2].differences == c.differences  # `report` re-renders it

    markdown = (result.report_dir / "report.md").read_text()
    assert "| 0.5 (playbook 0.75) | 240 (playbook 241) |" in markdown
    assert "### Placed with a different definition" in markdown and c.verdict in markdown

    case = ET.parse(result.report_dir / "junit.xml").getroot().find("testcase[@name='c']")
    assert case is not None and case.find("failure") is None
    assert case.find("properties/property[@name='placed_with_different_definition']").get("value") \
        == c.verdict
    assert "SELL 0.5 AAPL-USD LIMIT @ 240;" in case.findtext("system-out")


def test_a_later_run_still_reports_the_placed_definition(harness: Harness) -> None:
    """--replan accepted the edit once; the next run (no --replan needed) still tells the truth."""
    assert _replanned(harness).exit_code == ExitCode.OK
    again = run_in_process(harness)
    assert again.exit_code == ExitCode.OK
    c = again.report.orders[2]
    assert (c.quantity, c.price) == (Decimal("0.5"), Decimal("240"))
    assert set(c.differences) == {"quantity", "price"}
    assert "with a different definition" in c.verdict


def test_without_a_journal_the_exchange_gives_the_placed_definition(harness: Harness) -> None:
    assert run_in_process(harness).exit_code == ExitCode.OK
    harness.forget_journal()
    edit(harness, "quantity: 1, price: 220.00", "quantity: 2, price: 220.00")  # order a, resting
    result = run_in_process(harness, replan=True)
    a = result.report.orders[0]
    assert a.quantity == Decimal("1") and a.differences == {"quantity": (Decimal("1"), Decimal("2"))}
    assert "quantity 1 as placed, 2 in the playbook" in a.verdict


def test_a_changed_bracket_is_reported_with_the_triggers_it_was_placed_with(harness: Harness) -> None:
    assert run_in_process(harness).exit_code == ExitCode.OK
    edit(harness, "bracket: {take_profit: 240.00, stop_loss: 210.00}",
         "bracket: {take_profit: 245.00, stop_loss: 210.00}")  # order e
    result = run_in_process(harness, replan=True)
    assert result.exit_code == ExitCode.OK
    e = result.report.orders[4]
    assert e.differences == {"take_profit": (Decimal("240"), Decimal("245"))}
    assert [(x.leg, x.trigger_price) for x in e.legs] == [("take_profit", Decimal("240")),
                                                          ("stop_loss", Decimal("210.00"))]
    assert "take_profit 240 as placed, 245 in the playbook" in e.verdict
    assert "TP 240 " in render_text(result.report)
