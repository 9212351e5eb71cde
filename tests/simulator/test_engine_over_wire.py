"""The engine behind the real server: events caused by test hooks and timers reach subscribed clients."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def order(**params: Any) -> dict[str, Any]:
    base = {
        "symbol": "AAPL-USD",
        "side": "BUY",
        "order_type": "MARKET",
        "order_time_in_force": "IOC",
        "quantity": Decimal("0.3"),
        "price": 0,
    }
    return {"type": "add_order", "params": {**base, **params}}


def test_set_mid_triggers_a_bracket_and_clients_receive_every_event(simulator: Any, raw_client: Any) -> None:
    client = raw_client(simulator, subscribe=("order_responses", "fills", "stop_orders"))
    client.send(order(take_profit=Decimal("240.00"), stop_loss=Decimal("220.00"), client_order_id="wire-1"))
    ack = client.recv_key("order_response")["order_response"]
    assert (ack["status"], ack["quantity"], ack["client_order_id"]) == ("ACK", Decimal("0.3"), "wire-1")
    frames = client.barrier()
    kinds = [next(iter(f)) for f in frames]
    assert kinds.count("fill_response") == 1 and kinds.count("stop_order_response") == 2
    legs = [
        f["order_response"]
        for f in frames
        if "order_response" in f and f["order_response"]["status"] == "ACK"
    ]
    assert sorted(leg["type"] for leg in legs) == ["STOP_LOSS", "TAKE_PROFIT"]
    tp_id = next(leg["order_id"] for leg in legs if leg["type"] == "TAKE_PROFIT")

    simulator.call(lambda ex: ex.set_mid("AAPL-USD", "241"))
    filled = client.recv_key("order_response")["order_response"]
    assert (filled["order_id"], filled["status"], filled["type"]) == (tp_id, "FILLED", "TAKE_PROFIT")
    assert filled["quantity_remaining"] == 0
    rest = client.barrier()
    statuses = [
        (f["order_response"]["type"], f["order_response"]["status"]) for f in rest if "order_response" in f
    ]
    assert statuses == [("STOP_LOSS", "CANCELLED")]
    assert [f["fill_response"]["order_id"] for f in rest if "fill_response" in f] == [tp_id]
    assert simulator.call(lambda ex: ex.position(_account(ex), "AAPL-USD"))["position"] == 0


def _account(exchange: Any) -> str:
    from runner.simulator.config import DEMO_PUBLIC_KEY

    return exchange.account_for_key(DEMO_PUBLIC_KEY).account_id
