"""runner.state.desired, pure: what a run --converge would do for each state the exchange can show
(partial fills, filled entries whose price changed, exits removed), without a socket."""

from __future__ import annotations

from decimal import Decimal

from runner.playbook.load import validate_bytes
from runner.state.desired import Action, desired_changes
from runner.state.entries import JournalContents
from runner.state.reconcile import ExchangeOrderState, Presence

BOOK = b"""\
version: 1
name: d
orders:
  - id: a
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: 10
    price: 225.00
    bracket: {mode: after_fill, stop_loss: 215.00}
"""


def playbook(text: bytes = BOOK):
    result = validate_bytes(text, "d.yaml")
    assert result.playbook is not None, result.problems
    return result.playbook


def open_row(**fields):
    row = {"order_id": "o-1", "symbol": "AAPL-USD", "side": "BUY", "type": "LIMIT", "quantity": Decimal(10),
           "price": Decimal(225), "take_profit": Decimal(0), "stop_loss": Decimal(0)}
    row.update(fields)
    return row


def state(coid, row, filled=Decimal(0)):
    return ExchangeOrderState(coid, Presence.OPEN, ("o-1",), (row,), (), filled, None, row["quantity"])


def test_a_partially_filled_entry_is_refused_with_what_to_do():
    book = playbook(BOOK.replace(b"price: 225.00", b"price: 224.00"))
    coid = book.client_order_id(book.orders[0])
    changes = desired_changes(book, JournalContents(), {coid: state(coid, open_row(), Decimal(3))})
    refused = changes[0]
    assert refused.action is Action.REFUSED
    assert "partly filled (3 traded): QFEX refuses to modify a partially filled order" in refused.reason
    assert "cancel it (a cancel step) and place the rest as a new order under a new id" in refused.reason


def test_an_unfilled_entry_whose_price_changed_is_modified_field_by_field():
    book = playbook(BOOK.replace(b"price: 225.00", b"price: 224.00"))
    coid = book.client_order_id(book.orders[0])
    change = desired_changes(book, JournalContents(), {coid: state(coid, open_row())})[0]
    assert change.action is Action.MODIFY and not change.stop
    assert change.text() == "modify a: price 225.00 → 224.00"
    assert dict(change.wanted) == {"quantity": Decimal(10), "price": Decimal("224.00")}


def test_a_filled_entry_whose_price_changed_cannot_be_modified():
    contents = JournalContents()
    book = playbook()
    coid = book.client_order_id(book.orders[0])
    contents.apply({"kind": "intent", "coid": coid, "order": "a", "leg": "entry",
                    "definition": {"price": "226", "quantity": "10"}, "message": None})
    contents.apply({"kind": "answer", "coid": coid, "answer": {"order_response": {
        "status": "FILLED", "order_id": "o-1", "quantity": Decimal(10), "quantity_remaining": Decimal(0)}}})
    change = desired_changes(book, contents, {})[0]
    assert change.action is Action.REFUSED
    assert change.reason.startswith("price changed, but the order is no longer open (filled or ended)")


def test_an_exit_removed_from_the_playbook_but_live_is_refused_with_the_cancel_to_write():
    book = playbook(BOOK.replace(b"bracket: {mode: after_fill, stop_loss: 215.00}",
                                 b"bracket: {mode: after_fill, take_profit: 245.00}"))
    from runner.playbook.ids import Leg

    sl = book.client_order_id(book.orders[0], Leg.STOP_LOSS)
    entry = book.client_order_id(book.orders[0])
    contents = JournalContents()
    contents.apply({"kind": "reconciled", "coid": entry, "presence": "traded", "order_id": "o-1",
                    "filled_quantity": Decimal(10), "quantity": Decimal(10)})
    row = open_row(order_id="s-1", type="STOP_LOSS", side="SELL", price=Decimal(215))
    changes = desired_changes(book, contents, {sl: state(sl, row)})
    leg = next(c for c in changes if c.label == "a.stop_loss")
    assert leg.action is Action.REFUSED
    assert leg.reason.endswith("cancel it with a cancel step (orders: [a.stop_loss])")
