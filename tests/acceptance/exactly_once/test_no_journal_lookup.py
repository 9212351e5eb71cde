"""Issue 14's exactly-once hole, closed: a filled MARKET order, a fresh CI machine (no journal).

In QFEX's AsyncAPI / CLI shape ("live" dialect) trade rows carry no client_order_id, so a filled
MARKET/IOC order — no open row left — cannot be found by its client id. The re-run ties the
account's recent trades to client ids (trades → order ids → get_order → client_order_id) and
places nothing twice; where that lookup cannot complete, the order is unsure and nothing is sent
(exit 5, with how to resolve). Both dialects (tests/acceptance/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.exactly_once_kit import Harness, coid, outcome_of

MARKET = """\
  - {id: m1, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: 1, time_in_force: IOC, expect: filled}
  - {id: m2, symbol: AAPL-USD, side: SELL, type: MARKET, quantity: 0.5, time_in_force: IOC, expect: filled}
  - {id: l1, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200.00}
"""


@pytest.fixture
def harness(tmp_path: Path, dialect: str) -> Iterator[Harness]:
    made = Harness(tmp_path, dialect=dialect, orders=MARKET)
    yield made
    made.stop()


def test_a_rerun_without_the_journal_places_no_filled_market_order_again(harness: Harness,
                                                                           dialect: str) -> None:
    first = harness.run()
    assert first.returncode == 0, first.stderr
    assert harness.total() == 3
    harness.forget_journal()  # a fresh CI machine: the exchange is the only source of truth
    again = harness.run()
    assert again.returncode == 0, again.stderr
    assert harness.duplicates() == {} and harness.total() == 3  # nothing placed twice
    summary = outcome_of(again)
    assert {o["id"]: o["outcome"] for o in summary["orders"]} == {
        "m1": "already_placed", "m2": "already_placed", "l1": "already_placed"}
    report = json.loads((harness.directory / f"report-{harness.runs}" / "report.json").read_text())
    lookups = [w for w in report["warnings"] if w.startswith("exactly-once lookup:")]
    if dialect == "live":  # reported in the run: what was searched, how far back, how many queries
        [line] = lookups
        assert "trade rows carry no client_order_id" in line and "AAPL-USD" in line
        assert "look-back 7 days" in line and "2 get_order queries (2 ours)" in line
    else:
        assert lookups == []  # docs-page rows carry client_order_id: nothing to tie


def test_an_incomplete_lookup_sends_nothing_and_says_how_to_resolve(tmp_path: Path) -> None:
    """Trade rows without client ids and a get_order that shows open orders only (the docs page's
    reading): the filled orders' ids cannot be read — unsure, so nothing is sent (exit 5)."""
    from runner.simulator.config import EngineConfig

    harness = Harness(tmp_path, orders=MARKET)
    try:
        harness.run()
        assert harness.total() == 3
        harness.sim.call(lambda ex: setattr(ex, "config", _docs_get_order(ex.config, EngineConfig)))
        harness.forget_journal()
        again = harness.run()
        assert again.returncode == 5, (again.stdout, again.stderr)
        assert harness.total() == 3  # nothing sent
        said = again.stdout + again.stderr  # the report's summary (JSON on stdout) and any stderr line
        assert "whether 'm1', 'm2' were already placed is unknown" in said
        assert "get_order does not show order" in said
        assert "Resolve:" in said and "change run_id" in said
    finally:
        harness.stop()


def _docs_get_order(config: object, cls: type) -> object:
    import dataclasses

    assert isinstance(config, cls)
    return dataclasses.replace(config, get_order_reply="all_orders_response")  # type: ignore[type-var]


def test_other_orders_on_the_symbol_are_not_taken_for_ours(harness: Harness, dialect: str) -> None:
    """Fills of orders that are not this playbook's (another tool on the same account and symbol)
    are looked up but not adopted: the playbook's orders are still placed, once."""
    from decimal import Decimal

    from runner.simulator.config import DEMO_ACCOUNT_ID, DEMO_USER_ID

    def foreign(ex: object) -> None:
        session = ex.session(DEMO_ACCOUNT_ID, DEMO_USER_ID)  # type: ignore[attr-defined]
        ex.handle(session, "add_order", {  # type: ignore[attr-defined]
            "symbol": "AAPL-USD", "side": "BUY", "order_type": "MARKET", "order_time_in_force": "IOC",
            "quantity": Decimal("2"), "price": Decimal(0), "client_order_id": "someone-else"})

    harness.sim.call(foreign)
    first = harness.run()
    assert first.returncode == 0, first.stderr
    assert {c: n for c, n in harness.counts().items() if c != "someone-else"} == {
        coid("m1"): 1, coid("m2"): 1, coid("l1"): 1}
