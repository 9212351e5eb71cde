"""Reply attribution (QFEX has no request ids): by client_order_id or learned order_id; err by its echo."""

from __future__ import annotations

from runner.exchange.client import TradeSession
from runner.exchange.protocol import classify


class _NoSocket:
    def send(self, text: str) -> None:
        self.last = text

    def send_texts(self, texts: list[str]) -> None:
        self.last = texts[-1]


def session() -> TradeSession:
    return TradeSession(_NoSocket(), "ws://127.0.0.1:1/", None)  # type: ignore[arg-type]


def add(coid: str, price: int = 220) -> dict:
    return {"type": "add_order", "params": {"symbol": "AAPL-USD", "client_order_id": coid, "price": price}}


def test_order_and_fill_by_coid_then_by_learned_order_id():
    s = session()
    s.send(add("c1"))
    assert s._attribute(classify({"order_response": {"status": "ACK", "client_order_id": "c1",
                                                     "order_id": "o1"}})) == "c1"
    # a later update without client_order_id still belongs to c1
    assert s._attribute(classify({"fill_response": {"order_id": "o1", "quantity": 1}})) == "c1"
    assert s._attribute(classify({"order_response": {"status": "ACK", "order_id": "other"}})) is None


def test_err_by_echoed_client_order_id():
    s = session()
    s.send(add("c1"))
    s.send(add("c2"))
    err = {"err": {"error_code": "InvalidOrder", "message": "x", "incoming_message": add("c2")}}
    assert s._attribute(classify(err)) == "c2"


def test_err_by_echoed_message_when_it_has_no_client_order_id():
    s = session()
    s.send({"type": "add_order", "params": {"symbol": "AAPL-USD", "price": 1}})
    s.send(add("c2"))
    err = {"err": {"error_code": "InvalidOrder", "message": "x",
                   "incoming_message": {"type": "add_order", "params": {"symbol": "AAPL-USD", "price": 1}}}}
    assert s._attribute(classify(err)) is None  # a request without coid: not an order of ours
    assert list(s._awaiting) == ["c2"]


def test_err_without_echo_is_pinned_on_no_order():
    """Issue 13: a bare `err` pinned on the oldest awaiting order had it judged rejected and re-sent
    on the next run while its real ACK was still on the way (placed twice)."""
    s = session()
    s.send(add("c1"))
    s.send(add("c2"))
    s._attribute(classify({"order_response": {"status": "ACK", "client_order_id": "c1", "order_id": "o1"}}))
    assert s._attribute(classify({"err": {"error_code": "InvalidOrder", "incoming_message": None}})) is None
    assert s._attribute(classify({"err": {"error_code": "ServerError"}})) is None
    assert list(s._awaiting) == ["c2"]  # still waiting for its own answer
    assert s._attribute(classify({"order_response": {"status": "ACK", "client_order_id": "c2",
                                                     "order_id": "o2"}})) == "c2"


def test_err_without_echo_answers_a_query_only_while_no_order_awaits():
    s = session()
    s.send({"type": "get_user_orders", "params": {}})
    s.send(add("c1"))
    assert s._error_owner(classify({"err": {"error_code": "ServerError"}}).body) is None
    s._attribute(classify({"order_response": {"status": "ACK", "client_order_id": "c1", "order_id": "o1"}}))
    assert s._error_owner(classify({"err": {"error_code": "ServerError"}}).body) == "#1:get_user_orders"


def test_err_echoing_only_the_type_of_an_order_request_is_pinned_on_no_order():
    s = session()
    s.send(add("c1"))
    err = {"err": {"error_code": "InvalidOrder", "incoming_message": {"type": "add_order", "params": {}}}}
    assert s._attribute(classify(err)) is None
    assert list(s._awaiting) == ["c1"]


def test_err_for_another_request_type_is_not_pinned_on_an_order():
    s = session()
    s.send(add("c1"))
    err = {"err": {"error_code": "InvalidParameter", "incoming_message": {"type": "subscribe", "params": {}}}}
    assert s._attribute(classify(err)) is None
    assert list(s._awaiting) == ["c1"]
