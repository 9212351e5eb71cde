"""Issue 17 in the journal: an exit plan's management records (`manage`, by their deterministic key)
read back; a stop's cancel reply (quantity 0, quantity_remaining 0, QFEX's cancel page) is no fill."""

from __future__ import annotations

from decimal import Decimal

from runner.state.entries import JournalContents

COID = "6f1c2a4e-0000-5000-8000-000000000017"


def _answer(**payload: object) -> dict[str, object]:
    return {"kind": "answer", "coid": COID, "answer": {"order_response": {"order_id": "s-1", **payload}}}


TWO, NONE = Decimal(2), Decimal(0)


def test_a_cancelled_stop_did_not_fill_a_filled_one_did() -> None:
    cancelled = JournalContents()
    cancelled.apply({"kind": "intent", "coid": COID, "step": 0, "order": "o", "leg": "tp3", "message": None})
    cancelled.apply(_answer(status="ACK", quantity=TWO, quantity_remaining=TWO, type="TAKE_PROFIT"))
    cancelled.apply(_answer(status="CANCELLED", quantity=NONE, quantity_remaining=NONE, type="TAKE_PROFIT"))
    assert cancelled.entries[COID].filled_quantity == 0
    filled = JournalContents()
    filled.apply(_answer(status="ACK", quantity=TWO, quantity_remaining=TWO, type="TAKE_PROFIT"))
    filled.apply(_answer(status="FILLED", quantity=TWO, quantity_remaining=NONE, type="TAKE_PROFIT"))
    assert filled.entries[COID].filled_quantity == TWO


def test_management_records_are_found_by_their_key() -> None:
    contents = JournalContents()
    contents.apply({"kind": "manage", "key": "k-1", "coid": COID, "order_id": "s-1", "action": "resized",
                    "reason": "5 of the position is open", "message": {"type": "modify_stop_order"}})
    contents.apply({"kind": "cancel", "key": "k-2", "coid": COID, "order_id": "s-1",
                    "reason": "the position is flat", "message": {"type": "cancel_stop_order"}})
    assert contents.managed["k-1"]["action"] == "resized"
    assert contents.managed["k-2"]["reason"] == "the position is flat"
    assert "k-3" not in contents.managed
