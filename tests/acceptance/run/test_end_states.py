"""Issue 12: every order is judged on its end state (past QFEX's 100 ms speed bump), `expect` means
what the README says on end states, a re-run judges an already placed order again, and after_fill
exits are one-cancels-other. A standalone local exchange with the speed bump on, reached by URL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.exit_codes import ExitCode
from runner.report import Outcome
from runner.run.brackets import cancel_key
from tests.acceptance.exactly_once_kit import Harness, run_in_process_at

#: the demo market rests around 229.95 / 230.05
BELOW, ABOVE = "200.00", "240.00"


def run_here(harness: Harness, **options: Any) -> Any:
    options.setdefault("timeout", 2.0)
    return run_in_process_at(harness, **options)


@pytest.fixture
def make(tmp_path: Path, dialect: str) -> Iterator[Any]:
    made: list[Harness] = []

    def factory(orders: str, *, on_reject: str = "continue") -> Harness:
        harness = Harness(tmp_path, dialect=dialect, speed_bump_ms=100, orders=orders)
        harness.playbook.write_text(harness.playbook.read_text().replace("on_reject: stop",
                                                                         f"on_reject: {on_reject}"))
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.stop()


def order(id_: str, **fields: Any) -> str:
    body = {"symbol": "AAPL-USD", "side": "BUY", "quantity": 1, **fields}
    return "  - {id: " + id_ + ", " + ", ".join(f"{k}: {v}" for k, v in body.items()) + "}\n"


# --- the end state, first run -----------------------------------------------------------------------


def test_ioc_miss_fok_kill_and_crossing_alo_are_judged_after_the_speed_bump(make: Any) -> None:
    harness = make(
        order("ioc", type="LIMIT", time_in_force="IOC", price=BELOW)
        + order("ioc-hedge", type="LIMIT", time_in_force="IOC", price=BELOW, expect="filled")
        + order("fok", type="LIMIT", time_in_force="FOK", price=BELOW)
        + order("alo", type="ALO", price=ABOVE)
        + order("rest", type="LIMIT", price=BELOW))
    result = run_here(harness)
    assert result.exit_code == ExitCode.ORDERS_FAILED
    by_id = {o.id: o for o in result.report.orders}
    assert by_id["ioc"].outcome is Outcome.PASSED  # accepted = processed, for an IOC
    assert by_id["ioc"].end_state == "IOC: nothing filled, cancelled"
    assert [s.status for s in by_id["ioc"].statuses] == ["ACK", "CANCELLED"]
    assert by_id["ioc-hedge"].outcome is Outcome.FAILED and "not filled" in by_id["ioc-hedge"].verdict
    assert by_id["fok"].end_state.startswith("FOK: killed")
    assert by_id["alo"].outcome is Outcome.FAILED
    assert by_id["alo"].end_state == "ALO would have crossed: cancelled"
    assert by_id["rest"].outcome is Outcome.PASSED and by_id["rest"].end_state == "resting, live at run end"
    from runner.jsonnum import dumps

    assert "accepted / resting" not in dumps(result.report.to_json())  # never for an IOC/FOK/ALO


def test_a_partial_ioc_is_never_shown_as_plain_filled(make: Any) -> None:
    from runner.report import _cells

    harness = make(order("big", type="LIMIT", time_in_force="IOC", price="230.06", quantity=5000))
    result = run_here(harness)
    big = result.report.orders[0]
    assert 0 < big.filled_quantity < 5000
    assert "FILLED (partially)" in _cells.status(big) and big.end_state.startswith("IOC: rest cancelled, ")
    assert result.exit_code == ExitCode.OK  # accepted = processed


def test_expect_rejected_may_name_the_status(make: Any) -> None:
    harness = make(
        order("named", type="LIMIT", price="220.00", quantity=90000, expect="{rejected: FAILED_MARGIN_CHECK}")
        + order("listed", type="LIMIT", price="220.00", quantity=90000,
                expect="{rejected: [BAD_SYMBOL, FAILED_MARGIN_CHECK]}")
        + order("other", type="LIMIT", price="220.00", quantity=90000, expect="{rejected: BAD_SYMBOL}")
        + order("plain", type="LIMIT", price="220.00", quantity=90000))
    result = run_here(harness)
    assert [o.outcome.value for o in result.report.orders] == ["passed", "passed", "failed", "failed"]
    other, plain = result.report.orders[2], result.report.orders[3]
    assert "expected a rejection with BAD_SYMBOL" in other.verdict
    # QFEX's words: status, meaning, and what to change
    assert plain.verdict.startswith("rejected: FAILED_MARGIN_CHECK — insufficient available balance")
    assert "lower the quantity" in plain.verdict
    assert result.report.to_json()["orders"][0]["expect_statuses"] == ["FAILED_MARGIN_CHECK"]


def test_on_reject_stop_waits_for_an_alo_s_end_state_before_sending_the_next(make: Any) -> None:
    harness = make(order("alo", type="ALO", price=ABOVE) + order("next", type="LIMIT", price=BELOW),
                   on_reject="stop")
    result = run_here(harness)
    assert result.exit_code == ExitCode.ABORTED
    assert [o.outcome.value for o in result.report.orders] == ["failed", "not_sent"]
    assert result.report.orders[0].verdict.startswith("ALO would have crossed: cancelled after its ACK")
    assert harness.total() == 1  # `next` never left


# --- re-runs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_journal", [True, False], ids=["journal", "no-journal"])
def test_a_failed_hedge_stays_failed_on_a_rerun(make: Any, keep_journal: bool) -> None:
    harness = make(order("hedge", type="LIMIT", time_in_force="IOC", price=BELOW, expect="filled")
                   + order("rest", type="LIMIT", price=BELOW))
    assert run_here(harness).exit_code == ExitCode.ORDERS_FAILED
    if not keep_journal:
        harness.forget_journal()
    again = run_here(harness)
    assert again.exit_code == ExitCode.ORDERS_FAILED
    hedge, rest = again.report.orders
    assert hedge.outcome is Outcome.FAILED and "not filled" in hedge.verdict
    assert rest.outcome is Outcome.ALREADY_PLACED
    assert rest.verdict.startswith("already placed (verdict from the exchange now): accepted")


def test_an_order_that_filled_since_passes_on_a_rerun(make: Any) -> None:
    harness = make(order("bid", type="LIMIT", price="229.00", expect="filled"))
    assert run_here(harness, timeout=0.5).exit_code == ExitCode.ORDERS_FAILED  # not filled yet
    harness.set_mid("228")  # the market comes down to the bid
    again = run_here(harness)
    bid = again.report.orders[0]
    assert again.exit_code == ExitCode.OK, bid.verdict
    assert bid.outcome is Outcome.ALREADY_PLACED and "verdict from the exchange now): filled" in bid.verdict


def test_a_resting_order_cancelled_since_fails_on_a_rerun(make: Any) -> None:
    harness = make(order("bid", type="LIMIT", price=BELOW))
    first = run_here(harness)
    assert first.exit_code == ExitCode.OK
    order_id = first.report.orders[0].order_id
    _cancel_from_outside(harness, order_id)
    again = run_here(harness)
    assert again.exit_code == ExitCode.ORDERS_FAILED
    assert "cancelled" in again.report.orders[0].verdict


def _cancel_from_outside(harness: Harness, order_id: str | None) -> None:
    from runner.exchange.client import TradeSession
    from runner.exchange.credentials import Credentials, Secret
    from runner.exchange.protocol import ReplyKind, cancel_order_message

    keys = Credentials(harness.sim.public_key, Secret(harness.sim.secret_key))
    session = TradeSession.connect(harness.sim.url, keys, timeout=5.0)
    try:
        session.send(cancel_order_message("AAPL-USD", order_id or ""))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            event = session.next_event(0.5)
            if event is not None and event.reply.kind is ReplyKind.ORDER:
                break
    finally:
        session.close()


# --- after_fill exits: one-cancels-other --------------------------------------------------------------

LONG = ("  - {id: long, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: 1, expect: filled,\n"
        "     bracket: {mode: after_fill, take_profit: 240.00, stop_loss: 225.00}}\n")


def test_when_the_stop_fires_between_runs_the_rerun_cancels_the_take_profit(make: Any) -> None:
    harness = make(LONG)
    first = run_here(harness)
    assert first.exit_code == ExitCode.OK
    assert [leg.last_status for leg in first.report.orders[0].legs] == ["ACK", "ACK"]
    harness.set_mid("220")  # the stop-loss fires
    again = run_here(harness)
    legs = {leg.leg: leg for leg in again.report.orders[0].legs}
    assert legs["stop_loss"].last_status == "FILLED"
    assert legs["take_profit"].last_status == "CANCELLED"
    assert "one-cancels-other" in legs["take_profit"].note
    assert not any("still open" in w for w in again.report.warnings)
    tp_coid = legs["take_profit"].client_order_id
    intents = [x for x in harness.journal_lines() if x.get("kind") == "cancel"]
    assert [x["key"] for x in intents] == [cancel_key(tp_coid or "")]
    open_now = harness.sim.call(lambda ex: [o["client_order_id"] for o in ex.orders(
        ex.account_for_key(harness.sim.public_key).account_id)])
    assert tp_coid not in open_now
    third = run_here(harness)  # nothing more to cancel, nothing re-sent
    assert [x for x in harness.journal_lines() if x.get("kind") == "cancel"] == intents
    assert third.exit_code == ExitCode.OK


def test_when_the_stop_fires_during_the_run_the_take_profit_is_cancelled_at_once(make: Any) -> None:
    # a bid that fills once the market falls keeps the run connected while the stop fires
    harness = make(LONG + order("later", type="LIMIT", price="221.00", wait="fill", expect="filled"))
    legs_placed = threading.Event()

    def drop_market() -> None:
        harness.wait_for_journal(lambda x: x.get("kind") == "intent" and x.get("order") == "later")
        legs_placed.set()
        harness.set_mid("220")

    mover = threading.Thread(target=drop_market)
    mover.start()
    result = run_here(harness, timeout=5.0)
    mover.join()
    legs = {leg.leg: leg for leg in result.report.orders[0].legs}
    assert legs_placed.is_set()
    assert legs["stop_loss"].last_status == "FILLED"
    assert legs["take_profit"].last_status == "CANCELLED", legs["take_profit"]
    assert any(x.get("kind") == "cancel" for x in harness.journal_lines())


# --- stops on the wrong side of the market --------------------------------------------------------------


def test_a_stop_on_the_wrong_side_of_the_live_market_is_an_error_before_sending(make: Any) -> None:
    harness = make(order("long", type="MARKET")
                   + order("sl", side="SELL", type="STOP_LOSS", price="240.00"))
    completed = harness.run()
    assert completed.returncode == ExitCode.INVALID_PLAYBOOK, completed.stdout + completed.stderr
    said = completed.stderr + completed.stdout
    assert "STOP_LOSS 240.00 for a SELL must be below AAPL-USD's mark price" in said  # from /mds
    assert harness.total() == 0  # nothing sent


def test_run_of_an_invalid_playbook_still_writes_the_reports_with_its_problems(make: Any) -> None:
    import xml.etree.ElementTree as ET

    from tests.acceptance.run.test_reports import validate_report

    harness = make(order("sl", side="SELL", type="STOP_LOSS", price="240.00")
                   + order("typo", type="LIMIT", price="220.00", expect="fill"))
    completed = harness.run()
    assert completed.returncode == ExitCode.INVALID_PLAYBOOK
    report_dir = harness.directory / f"report-{harness.runs}"
    data = validate_report(report_dir / "report.json")
    assert data["summary"]["exit_code"] == 1 and data["orders"] == []
    assert {p["rule"] for p in data["problems"]} == {"stop-side", "schema"}
    suite = ET.parse(report_dir / "junit.xml").getroot()
    failures = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert len(failures) == 2 and suite.get("failures") == "2"
    assert "Playbook problems (nothing was sent)" in (report_dir / "report.md").read_text()
    assert harness.total() == 0
