"""Attached exits told apart from what the exchange shows (open stop rows, trade rows)."""

from __future__ import annotations

from decimal import Decimal as D

from runner.state.legstate import attached_leg_states, visible_with

BOTH = {"take_profit": D("240"), "stop_loss": D("210")}


def trade(order_id: str, price: str, qty: str = "1", **extra: str) -> dict:
    return {"trade_id": f"t-{order_id}-{price}", "order_id": order_id, "price": D(price), "quantity": D(qty),
            **extra}


def stop_row(order_id: str, kind: str, qty: str = "1") -> dict:
    return {"order_id": order_id, "type": kind, "status": "ACK", "quantity": D(qty),
            "quantity_remaining": D(qty), "trade_id": None}


def test_open_rows_name_their_leg():
    legs = attached_leg_states([stop_row("s1", "STOP_LOSS", "2"), stop_row("t1", "TAKE_PROFIT", "2")], BOTH,
                               D("2"))
    assert (legs["take_profit"].status, legs["take_profit"].order_id, legs["take_profit"].quantity) == \
        ("ACK", "t1", D("2"))
    assert (legs["stop_loss"].status, legs["stop_loss"].order_id) == ("ACK", "s1")
    assert not legs["take_profit"].note


def test_an_untyped_trade_is_the_leg_nearer_its_price_and_the_other_was_cancelled():
    legs = attached_leg_states([trade("x", "240.95")], BOTH, D("1"))
    tp, sl = legs["take_profit"], legs["stop_loss"]
    assert (tp.status, tp.filled, tp.order_id) == ("FILLED", D("1"), "x")
    assert "identified by its trade price" in tp.note
    assert sl.status == "CANCELLED" and "cancelled when the take-profit filled" in sl.note
    legs = attached_leg_states([trade("y", "209.10")], BOTH, D("1"))
    assert legs["stop_loss"].status == "FILLED" and legs["take_profit"].status == "CANCELLED"
    assert "cancelled when the stop-loss filled" in legs["take_profit"].note


def test_a_short_entry_and_typed_trades():
    short = {"take_profit": D("200"), "stop_loss": D("250")}
    legs = attached_leg_states([trade("z", "199.50")], short, D("1"))
    assert legs["take_profit"].status == "FILLED" and legs["stop_loss"].status == "CANCELLED"
    typed = attached_leg_states([trade("z", "230", order_type="STOP_LOSS")], BOTH, D("1"))
    assert typed["stop_loss"].status == "FILLED" and not typed["stop_loss"].note  # no guessing needed


def test_one_leg_only_and_nothing_armed_yet():
    only = attached_leg_states([trade("a", "215")], {"take_profit": D("240"), "stop_loss": None}, D("1"))
    assert list(only) == ["take_profit"] and only["take_profit"].status == "FILLED"
    unfilled = attached_leg_states([], BOTH, D("0"))
    assert unfilled["take_profit"].status is None and unfilled["stop_loss"].status is None
    gone = attached_leg_states([], BOTH, D("1"))  # filled entry, no exits anywhere
    assert gone["take_profit"].status == "CANCELLED" and "by hand, or when the position closed" in \
        gone["take_profit"].note


def test_a_partly_triggered_leg_keeps_its_open_row_status_and_its_fills():
    legs = attached_leg_states([stop_row("t1", "TAKE_PROFIT", "2"), trade("t1", "241", "1")], BOTH, D("3"))
    tp = legs["take_profit"]
    assert tp.status == "ACK" and tp.filled == D("1") and tp.order_ids == ["t1"]


def test_without_visible_trades_a_closed_leg_is_unknown():
    legs = attached_leg_states([stop_row("s1", "STOP_LOSS")], BOTH, D("1"), trades_visible=False)
    assert legs["stop_loss"].status == "ACK"  # open rows still say what they are
    assert legs["take_profit"].status is None and legs["take_profit"].note.startswith("unknown:")


def test_a_known_exit_id_names_its_trades_without_a_guess_by_price():
    # a stop-loss gapped through to a price nearer the take-profit's trigger: price would guess wrong
    known = {"take_profit": "tp-1", "stop_loss": "sl-1"}
    legs = attached_leg_states([trade("sl-1", "239")], BOTH, D("1"), known_ids=known)
    assert (legs["stop_loss"].status, legs["stop_loss"].order_id) == ("FILLED", "sl-1")
    assert "identified by its trade price" not in legs["stop_loss"].note
    assert (legs["take_profit"].status, legs["take_profit"].order_ids) == ("CANCELLED", ["tp-1"])
    guessed = attached_leg_states([trade("sl-1", "239")], BOTH, D("1"))
    assert guessed["take_profit"].status == "FILLED"  # what the guess alone would have said


def test_exit_trades_are_visible_when_rows_carry_client_ids_or_every_exit_id_is_known():
    assert visible_with(True, None, BOTH)
    assert not visible_with(False, None, BOTH)
    assert not visible_with(False, {"take_profit": "tp-1"}, BOTH)  # the stop-loss's trades cannot be found
    assert visible_with(False, {"take_profit": "tp-1", "stop_loss": "sl-1"}, BOTH)
    assert visible_with(False, {"take_profit": "tp-1"}, {"take_profit": D("240"), "stop_loss": None})
