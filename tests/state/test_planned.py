"""What a playbook may place, derived once for `run` (Placements) and `status`.

The two used to derive it apart and disagreed: `status` looked every entry with any bracket up
"with exits", `run` only entries with an attached bracket. Attached is right: the exchange stages
attached exits under the entry's client_order_id, while an after_fill entry's exits are orders of
their own, with their own client_order_ids, looked up like any other order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from runner.exchange.client import TradeSession
from runner.exchange.credentials import Credentials, Secret
from runner.playbook.load import validate_bytes
from runner.playbook.model import Playbook
from runner.playbook.plan import add_order_message
from runner.state.journal import Journal
from runner.state.placements import Placements, PlannedOrders
from runner.state.reconcile import Presence, reconcile

BOOK = """\
version: 1
name: exits
run_id: r1
orders:
  - {id: att, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200,
     bracket: {take_profit: 240, stop_loss: 190, mode: attached}}
  - {id: aft, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 201,
     bracket: {take_profit: 241, stop_loss: 191, mode: after_fill}}
  - {id: bare, symbol: AAPL-USD, side: SELL, type: LIMIT, quantity: 1, price: 300}
"""


def playbook() -> Playbook:
    result = validate_bytes(BOOK.encode(), "exits.yaml")
    assert result.playbook is not None, result.problems
    return result.playbook


def test_only_attached_entries_are_looked_up_with_exits() -> None:
    book = playbook()
    plan = PlannedOrders(book)
    att, aft, _ = book.orders
    assert [(p.order.id, p.leg) for p in plan] == [
        ("att", "entry"), ("aft", "entry"), ("aft", "tp"), ("aft", "sl"), ("bare", "entry")]
    assert plan.with_exits == {book.client_order_id(att)}
    assert plan.entry_hints == {book.client_order_id(att): ("BUY", Decimal(200))}
    assert plan.order_types[book.client_order_id(aft)] == "LIMIT"
    assert set(plan.order_types.values()) == {"LIMIT", "TAKE_PROFIT", "STOP_LOSS"}


def test_run_and_status_share_the_derivation(tmp_path: Path) -> None:
    book = playbook()
    with Journal.open(tmp_path, book) as journal:
        plan, placements = PlannedOrders(book), Placements(journal, book)
    assert placements.with_exits == plan.with_exits and placements.entry_hints == plan.entry_hints
    assert placements.order_types == plan.order_types and list(placements.planned) == plan.coids


@pytest.fixture
def session(simulator: Any) -> Iterator[TradeSession]:
    credentials = Credentials(simulator.public_key, Secret(simulator.secret_key), None, "test")
    with TradeSession.connect(simulator.url, credentials, timeout=5) as opened:
        opened.subscribe(["order_responses", "fills"])
        yield opened


def fill(session: TradeSession, coid: str) -> str:
    """A MARKET buy that fills at once; its exchange order id."""
    session.send(add_order_message(symbol="AAPL-USD", side="BUY", order_type="MARKET", quantity=Decimal(1),
                                   price=None, time_in_force="IOC", client_order_id=coid))
    while True:
        event = session.next_event(5)
        assert event is not None, "no answer"
        if event.client_order_id == coid and event.reply.body.raw.get("order_id"):
            return str(event.reply.body.raw["order_id"])


def test_an_entry_wanted_with_exits_costs_a_scan_of_the_account_trades(session: TradeSession) -> None:
    # why the difference mattered: an after_fill entry "with exits" made status page through every
    # trade of the account instead of asking for the entry's own trades by its order id
    others = [fill(session, str(uuid.uuid4())) for _ in range(4)]
    entry = str(uuid.uuid4())
    order_id = fill(session, entry)
    assert others
    by_id = reconcile(session, [entry], known_order_ids={entry: order_id}, order_types={entry: "LIMIT"},
                      with_exits=set(), page_size=2)
    scanned = reconcile(session, [entry], known_order_ids={entry: order_id}, order_types={entry: "LIMIT"},
                        with_exits={entry}, page_size=2)
    assert by_id[entry].presence is scanned[entry].presence is Presence.TRADED
    assert by_id[entry].filled_quantity == scanned[entry].filled_quantity == 1
    assert by_id.requests < scanned.requests
