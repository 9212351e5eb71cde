"""Client-side protocol: builders produce QFEX's documented shapes; the classifier accepts every variant."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runner.enums import OrderStatus
from runner.exchange.protocol import (
    ReplyKind,
    all_orders,
    auth_message,
    cancel_on_disconnect_message,
    cancel_order_message,
    classify,
    error_meaning,
    get_user_orders_message,
    get_user_trades_message,
    parse_frame,
    subscribe_message,
    user_trades,
)


def test_builders_match_the_documented_shapes():
    fields = {"public_key": "qfex_pub_x", "nonce": "ab" * 16, "unix_ts": 1760545414, "signature": "5f" * 32}
    assert auth_message(fields) == {"type": "auth", "params": {"hmac": fields}}
    assert auth_message(fields, "11111111-1111-1111-1111-111111111111")["params"]["account_id"] == \
        "11111111-1111-1111-1111-111111111111"
    assert subscribe_message(["order_responses", "fills"]) == \
        {"type": "subscribe", "params": {"channels": ["order_responses", "fills"]}}
    assert cancel_on_disconnect_message(True) == \
        {"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": True}}
    assert get_user_orders_message() == {"type": "get_user_orders", "params": {"limit": 1000, "offset": 0}}
    assert get_user_orders_message(50, 100, "AAPL-USD")["params"] == \
        {"limit": 50, "offset": 100, "symbol": "AAPL-USD"}
    assert get_user_trades_message(10, 0, order_id="o1", start_ts=1, end_ts=2)["params"] == \
        {"limit": 10, "offset": 0, "order_id": "o1", "start_ts": 1, "end_ts": 2}
    assert cancel_order_message("AAPL-USD", "c1", "client_order_id") == {
        "type": "cancel_order",
        "params": {"symbol": "AAPL-USD", "order_id": "c1", "cancel_order_id_type": "client_order_id"}}
    with pytest.raises(ValueError):
        cancel_order_message("AAPL-USD", "x", "bogus")
    with pytest.raises(ValueError):
        subscribe_message(["not_a_channel"])


@pytest.mark.parametrize("frame, ok", [
    ({"authenticated": True}, True),
    ({"authenticated": False}, False),
    ({"type": "auth", "result": "success"}, True),
    ({"type": "auth", "result": "failure"}, False),
])
def test_both_auth_shapes(frame, ok):
    reply = classify(frame)
    assert reply.kind is ReplyKind.AUTH and reply.auth_ok is ok


def test_order_response_is_typed_with_exact_decimals():
    text = ('{"order_response":{"order_id":"5b30","symbol":"AAPL-USD","status":"FILLED","quantity":1.0,'
            '"price":200.10,"take_profit":0.0,"stop_loss":0.0,"side":"BUY","type":"LIMIT","time_in_force":"GTC",'
            '"user_id":"u","client_order_id":"c1","quantity_remaining":0.3,"update_time":1758208770.5512846,'
            '"trade_id":"t1"}}')
    reply = classify(parse_frame(text))
    assert reply.kind is ReplyKind.ORDER
    u = reply.body
    assert (u.status, u.order_id, u.client_order_id, u.order_type, u.time_in_force) == \
        ("FILLED", "5b30", "c1", "LIMIT", "GTC")
    assert u.price == Decimal("200.10") and u.quantity_remaining == Decimal("0.3")
    assert u.update_time == Decimal("1758208770.5512846")
    assert not u.is_reject and not u.is_stop_leg


@pytest.mark.parametrize("status, reject", [
    ("ACK", False), ("FILLED", False), ("CANCELLED", False), ("CANCELLED_STP", False), ("MODIFIED", False),
    ("FAILED_MARGIN_CHECK", True), ("INVALID_TICK_SIZE_PRECISION_PRICE", True), ("REJECTED", True),
    ("SOME_NEW_STATUS", True),
])
def test_reject_classification(status, reject):
    u = classify({"order_response": {"status": status, "client_order_id": ""}}).body
    assert u.is_reject is reject
    assert u.client_order_id is None  # an empty id is no id


def test_status_meanings_come_from_the_enum():
    u = classify({"order_response": {"status": "FAILED_MARGIN_CHECK"}}).body
    assert u.meaning == OrderStatus.FAILED_MARGIN_CHECK.meaning
    assert "not in QFEX's published list" in classify({"order_response": {"status": "XYZ"}}).body.meaning


def test_fill_with_and_without_remaining_quantity():
    full = classify({"fill_response": {"trade_id": "t", "order_id": "o", "client_order_id": "c",
                                       "price": 25242.0, "quantity": 0.004, "remaining_quantity": 0.0,
                                       "fee": 0.00045, "order_type": "MARKET",
                                       "timestamp": 1769439642.8484282}}).body
    assert full.quantity == Decimal("0.004") and full.remaining_quantity == Decimal("0.0")
    assert full.fee == Decimal("0.00045")
    bare = classify({"fill_response": {"trade_id": "t", "quantity": "2"}}).body
    assert bare.remaining_quantity is None and bare.quantity == Decimal("2")


@pytest.mark.parametrize("frame", [
    {"err": {"error_code": "InvalidOrder", "message": "bad",
             "incoming_message": {"type": "add_order", "params": {"client_order_id": "c"}}}},
    {"type": "error", "error_code": "InvalidOrder", "message": "bad",
     "incoming_message": {"type": "add_order", "params": {"client_order_id": "c"}}},
    {"error_code": "InvalidOrder", "message": "bad",
     "incoming_message": '{"type":"add_order","params":{"client_order_id":"c"}}'},
])
def test_every_error_shape(frame):
    reply = classify(frame)
    assert reply.kind is ReplyKind.ERROR
    err = reply.body
    assert err.error_code == "InvalidOrder" and err.message == "bad"
    assert err.echoed_type == "add_order" and err.echoed_params == {"client_order_id": "c"}


def test_error_without_echo():
    err = classify({"err": {"error_code": "ServerError", "message": None, "incoming_message": None}}).body
    assert err.incoming_message is None and err.echoed_params == {} and err.echoed_type is None
    assert "retry" in error_meaning("ServerError")
    assert "not in QFEX's published list" in error_meaning("Whatever")


@pytest.mark.parametrize("frame, kind", [
    ({"ack": {"incoming_message": {}}}, ReplyKind.ACK),
    ({"ack_response": True}, ReplyKind.ACK),
    ({"subscribed": "fills"}, ReplyKind.SUBSCRIBED),
    ({"unsubscribed": "fills"}, ReplyKind.UNSUBSCRIBED),
    ({"user_trades": [], "count": 0}, ReplyKind.USER_TRADES),
    ({"user_trades_response": []}, ReplyKind.USER_TRADES),
    ({"all_orders_response": {"orders": []}}, ReplyKind.ALL_ORDERS),
    ({"position_response": {}}, ReplyKind.POSITION),
    ({"balance_response": {}}, ReplyKind.BALANCE),
    ({"type": "subscribed", "connection_id": "c", "message_id": 1, "channel": "v4_balances", "contents": []},
     ReplyKind.ENVELOPE),
    ({"something": "new"}, ReplyKind.OTHER),
])
def test_reply_kinds(frame, kind):
    assert classify(frame).kind is kind


def test_stop_order_response():
    payload = {"stop_order_id": "s1", "symbol": "AAPL-USD", "price": 240.0, "quantity": 1,
               "direction": "SELL", "stop_order_type": "TAKE_PROFIT", "client_order_id": "c",
               "update_time": "2026-01-01T00:00:00Z"}
    s = classify({"stop_order_response": payload}).body
    assert (s.stop_order_id, s.stop_order_type, s.side) == ("s1", "TAKE_PROFIT", "SELL")
    assert s.client_order_id == "c"
    assert s.price == Decimal("240.0")


def test_list_extractors_accept_both_shapes():
    assert all_orders({"orders": [{"a": 1}], "stop_orders": [{"b": 2}], "twaps": []}) == [{"a": 1}, {"b": 2}]
    assert all_orders([{"a": 1}]) == [{"a": 1}]
    assert user_trades([{"t": 1}]) == [{"t": 1}]
    assert user_trades({"trades": [{"t": 1}]}) == [{"t": 1}]


def test_non_object_frames_do_not_crash():
    assert classify(parse_frame("[1, 2]")).kind is ReplyKind.OTHER
    with pytest.raises(ValueError):
        parse_frame("not json")
