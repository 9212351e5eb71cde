"""Conformance with QFEX's documented examples, reply by reply and field by field.

Each test quotes the page it checks (see ../../shared/qfex-api.md for the source tags). Values the
docs show only as placeholders (ids, timestamps) are checked for type and form; every key the docs
show must be present, and no undocumented key may appear in a documented reply.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from decimal import Decimal
from typing import Any

import pytest

from runner.simulator.config import DEMO_ACCOUNT_ID, DEMO_USER_ID

# [D:/websocket/channels/trade/order]: the order_response example's keys, plus update_time (AsyncAPI
# OrderResponse; checklist item 15).
ORDER_RESPONSE_KEYS = {"order_id", "symbol", "status", "quantity", "price", "take_profit", "stop_loss",
                       "side", "type", "time_in_force", "user_id", "client_order_id", "quantity_remaining",
                       "update_time", "trade_id"}
# [D:/websocket/channels/trade/positions]
POSITION_KEYS = {"id", "symbol", "position", "margin_alloc", "realised_pnl", "unrealised_pnl", "net_funding",
                 "open_orders", "open_quantity", "leverage", "initial_margin", "maintenance_margin",
                 "average_price"}
# [DOCSREPO:…/balance.mdx] + newer schema fields `fees`, `referral_rewards` [AE:asyncapi] (BalancePayload)
BALANCE_KEYS = {"id", "user_id", "deposit", "realised_pnl", "order_margin", "position_margin",
                "unrealised_pnl", "net_funding", "available_balance", "fees", "referral_rewards"}
# [D:/websocket/channels/trade/fills]
FILL_KEYS = {"trade_id", "user_id", "symbol", "price", "quantity", "side", "aggressor_side", "order_id",
             "fee", "order_type", "tif", "order_price", "client_order_id", "remaining_quantity",
             "take_profit", "stop_loss", "execution_type", "timestamp", "realised_pnl"}
# RefdataSymbol [AE:openapi] — all required, numbers as strings
REFDATA_KEYS = {"clobPairId", "symbol", "status", "product_category", "underlier_price", "price_change_24h",
                "default_max_leverage", "tick_size", "lot_size", "min_price", "max_price", "min_quantity",
                "max_quantity", "base_asset", "quote_asset", "margin_asset", "order_time_in_force",
                "order_types", "market_hours"}


def add_order(**params: Any) -> dict[str, Any]:
    """The documented add_order example [D:/websocket/channels/trade/add_order], overridable."""
    base = {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC",
            "quantity": 1, "price": 200}
    return {"type": "add_order", "params": {**base, **params}}


def is_uuid4(value: Any) -> bool:
    try:
        return uuid.UUID(value).version == 4
    except (TypeError, ValueError, AttributeError):
        return False


def test_authenticate_example_response(simulator, raw_client, auth_message):
    """[D:/websocket/channels/trade/authenticate]: success is exactly {"authenticated": true}."""
    client = raw_client(simulator, auth=False)
    client.send(auth_message(simulator.public_key, simulator.secret_key))
    assert client.ws.recv(timeout=5) == '{"authenticated":true}'


def test_subscribe_and_unsubscribe_acks_one_per_channel(simulator, raw_client):
    """[D:/websocket/channels/trade/order], [D:/websocket/channels/trade/fills]: {"subscribed": "<ch>"}."""
    client = raw_client(simulator)
    client.send({"type": "subscribe", "params": {"channels": ["order_responses", "positions", "balances",
                                                              "fills", "stop_orders"]}})
    assert [client.recv() for _ in range(5)] == [{"subscribed": c} for c in
                                                 ("order_responses", "positions", "balances", "fills",
                                                  "stop_orders")]
    # the documented unsubscribe example [AE:asyncapi]
    client.send({"type": "unsubscribe", "params": {"channels": ["order_responses", "positions"]}})
    assert [client.recv(), client.recv()] == [{"unsubscribed": "order_responses"},
                                              {"unsubscribed": "positions"}]


def test_add_order_ack_matches_the_documented_order_response(simulator, raw_client):
    client = raw_client(simulator, subscribe=["order_responses"])
    client.send(add_order(client_order_id="my-order-123"))
    text = client.ws.recv(timeout=5)
    reply = json.loads(text, parse_float=Decimal)
    assert list(reply) == ["order_response"]
    body = reply["order_response"]
    assert set(body) == ORDER_RESPONSE_KEYS
    assert is_uuid4(body["order_id"])
    assert body["symbol"] == "AAPL-USD"
    assert body["status"] == "ACK"
    assert body["quantity"] == 1 and body["quantity_remaining"] == 1
    assert body["price"] == 200
    assert body["take_profit"] == 0 and body["stop_loss"] == 0
    assert body["side"] == "BUY" and body["type"] == "LIMIT" and body["time_in_force"] == "GTC"
    assert body["user_id"] == DEMO_USER_ID
    assert body["client_order_id"] == "my-order-123"
    assert body["trade_id"] is None
    assert abs(float(body["update_time"]) - time.time()) < 60
    # numbers look like QFEX's (f64 JSON: 1.0, 200.0, 0.0), not strings
    for fragment in ('"quantity":1.0', '"price":200.0', '"take_profit":0.0', '"stop_loss":0.0',
                     '"quantity_remaining":1.0', '"trade_id":null'):
        assert fragment in text


def test_add_order_without_client_order_id_gets_one_generated(simulator, raw_client):
    """"client_order_id … If empty, one is generated." [D:/docs/websocket/channels/trade/add_order]"""
    client = raw_client(simulator, subscribe=["order_responses"])
    body = client.request(add_order())["order_response"]
    assert body["status"] == "ACK"
    assert isinstance(body["client_order_id"], str) and body["client_order_id"]


def test_rejected_order_is_one_order_response_with_the_reject_status_and_no_ack(simulator, raw_client):
    """[CLI:README.md] "A rejection arrives as the first and only order_response"."""
    client = raw_client(simulator, subscribe=["order_responses"])
    client.send(add_order(symbol="NOPE-USD"))
    reply = client.recv()["order_response"]
    assert set(reply) == ORDER_RESPONSE_KEYS
    assert reply["status"] == "BAD_SYMBOL"
    assert is_uuid4(reply["order_id"])
    assert client.barrier() == []
    for params, status in [({"price": Decimal("200.001")}, "INVALID_TICK_SIZE_PRECISION_PRICE"),
                           ({"quantity": Decimal("0.0001")}, "INVALID_TICK_SIZE_PRECISION_QUANTITY"),
                           ({"order_type": "MARKET", "order_time_in_force": "GTC", "price": 0},
                            "INVALID_TIME_IN_FORCE"),
                           ({"price": 300}, "PRICE_GREATER_THAN_MAX_PRICE")]:
        client.send(add_order(**params))
        assert client.recv()["order_response"]["status"] == status
    assert client.barrier() == []


def test_cancel_order_by_order_id_is_a_single_cancelled_response(simulator, raw_client):
    """[D:/websocket/channels/trade/cancel_order.md] "Cancel by order id (single order)"; no ACK phase."""
    client = raw_client(simulator, subscribe=["order_responses"])
    ack = client.request(add_order(client_order_id="c-1"))["order_response"]
    cancel = {"type": "cancel_order", "params": {"order_id": ack["order_id"], "symbol": "AAPL-USD",
                                                 "cancel_order_id_type": "order_id"}}
    reply = client.request(cancel)["order_response"]
    assert set(reply) == ORDER_RESPONSE_KEYS
    assert reply["status"] == "CANCELLED"
    assert reply["order_id"] == ack["order_id"]
    assert reply["client_order_id"] == "c-1"
    assert reply["quantity"] == 1 and reply["price"] == 200
    assert client.barrier() == []
    # again: the order is gone
    assert client.request(cancel)["order_response"]["status"] == "NO_SUCH_ORDER"


def test_cancel_by_client_order_id_cancels_every_order_on_the_symbol_sharing_it(simulator, raw_client):
    """[D:/websocket/channels/trade/cancel_order.md] "Cancel by client order id (may cancel multiple)"."""
    client = raw_client(simulator, subscribe=["order_responses"])
    first = client.request(add_order(client_order_id="shared"))["order_response"]["order_id"]
    second = client.request(add_order(client_order_id="shared", price=199))["order_response"]["order_id"]
    other = client.request(add_order(symbol="TSLA-USD", price=300, client_order_id="shared"))
    client.send({"type": "cancel_order", "params": {"order_id": "shared", "symbol": "AAPL-USD",
                                                    "cancel_order_id_type": "client_order_id"}})
    cancelled = [client.recv()["order_response"], client.recv()["order_response"]]
    assert {(r["order_id"], r["status"]) for r in cancelled} == {(first, "CANCELLED"), (second, "CANCELLED")}
    assert client.barrier() == []
    open_ids = [o["order_id"] for o in simulator.call(lambda ex: ex.orders(DEMO_ACCOUNT_ID))]
    assert open_ids == [other["order_response"]["order_id"]]


def test_legacy_cancel_by_client_order_id_param_behind_compat(simulator_factory, raw_client):
    """Mid-2025 docs put the id in params.client_order_id [DOCSREPO:…/cancel_order.mdx]."""
    sim = simulator_factory(engine={"legacy_cancel_client_order_id": True})
    client = raw_client(sim, subscribe=["order_responses"])
    client.request(add_order(client_order_id="old-style"))
    reply = client.request({"type": "cancel_order", "params": {"client_order_id": "old-style",
                                                               "symbol": "AAPL-USD",
                                                               "cancel_order_id_type": "client_order_id"}})
    assert reply["order_response"]["status"] == "CANCELLED"


def test_market_order_ack_fill_and_fill_response(simulator, raw_client):
    """[D:/websocket/channels/trade/fills] fill_response keys; FILLED order_response carries trade_id."""
    client = raw_client(simulator, subscribe=["order_responses", "fills"])
    client.send(add_order(order_type="MARKET", order_time_in_force="IOC", price=0, quantity=Decimal("0.5")))
    frames = [client.recv() for _ in range(3)]
    ack, filled, fill = frames[0]["order_response"], frames[1]["order_response"], frames[2]["fill_response"]
    assert ack["status"] == "ACK"
    assert filled["status"] == "FILLED" and filled["quantity_remaining"] == 0
    assert filled["trade_id"] == fill["trade_id"] and fill["trade_id"]
    assert set(fill) == FILL_KEYS
    assert fill["order_id"] == ack["order_id"]
    assert fill["side"] == fill["aggressor_side"] == "BUY"
    assert fill["order_type"] == "MARKET" and fill["tif"] == "IOC"
    assert fill["quantity"] == Decimal("0.5") and fill["remaining_quantity"] == 0
    assert fill["user_id"] == DEMO_USER_ID


def test_positions_and_balances_pushes_have_the_documented_fields(simulator_factory, raw_client):
    """[D:/websocket/channels/trade/positions] pulsed every second, zero rows included; balances likewise."""
    from runner.simulator import ServerConfig

    sim = simulator_factory(server_config=ServerConfig(pulse_interval_s=0.05))
    client = raw_client(sim, subscribe=["positions", "balances"])
    symbols = {row["symbol"] for row in sim.call(lambda ex: ex.refdata_body())["data"]}
    positions: dict[str, dict] = {}
    balance = None
    while len(positions) < len(symbols) or balance is None:
        frame = client.recv()
        if "position_response" in frame:
            positions[frame["position_response"]["symbol"]] = frame["position_response"]
        else:
            balance = frame["balance_response"]
    aapl = positions["AAPL-USD"]
    assert set(aapl) == POSITION_KEYS
    assert aapl["position"] == 0 and aapl["average_price"] == 0
    assert set(balance) == BALANCE_KEYS
    assert balance["user_id"] == DEMO_USER_ID
    assert balance["deposit"] == Decimal("1000000")


def test_get_user_orders_lists_open_orders(simulator, raw_client):
    """[D:/websocket/channels/trade/get_user_orders] → all_orders_response {orders, twaps}."""
    client = raw_client(simulator, subscribe=["order_responses"])
    ack = client.request(add_order())["order_response"]
    reply = client.request({"type": "get_user_orders", "params": {"limit": 10, "offset": 0,
                                                                  "symbol": "AAPL-USD"}})
    assert list(reply) == ["all_orders_response"]
    orders = reply["all_orders_response"]["orders"]
    assert [o["order_id"] for o in orders] == [ack["order_id"]]
    assert set(orders[0]) == ORDER_RESPONSE_KEYS
    assert reply["all_orders_response"]["twaps"] == []


def test_cancel_stop_order_example_response(simulator, raw_client):
    """[D:/websocket/channels/trade/stop_cancel_order]: order_response, order_id = stop id, quantity 0."""
    client = raw_client(simulator, subscribe=["order_responses"])
    # a long position to protect, then a standalone TAKE_PROFIT [D:/websocket/channels/trade/stop_add_order]
    client.send(add_order(order_type="MARKET", order_time_in_force="IOC", price=0))
    client.recv_key("order_response")
    while client.recv()["order_response"]["status"] != "FILLED":
        pass
    stop = client.request(add_order(side="SELL", order_type="TAKE_PROFIT", price=250))["order_response"]
    assert stop["type"] == "TAKE_PROFIT"
    reply = client.request({"type": "cancel_stop_order", "params": {"stop_order_id": stop["order_id"]}})
    body = reply["order_response"]
    assert body["order_id"] == stop["order_id"]
    assert body["status"] == "CANCELLED"
    assert body["type"] == "TAKE_PROFIT"
    assert body["quantity"] == 0 and body["quantity_remaining"] == 0


def test_get_user_leverage_reports_leverage_as_a_string(simulator, raw_client):
    """[D:/websocket/channels/trade/get_leverage]: {"user_leverage_response": [{…, "leverage": "20"}]}."""
    client = raw_client(simulator)
    reply = client.request({"type": "get_user_leverage", "params": {"limit": 10, "offset": 0}})
    rows = reply["user_leverage_response"]
    assert rows and all(isinstance(r["leverage"], str) for r in rows)
    documented = {"id", "symbol", "initial_margin", "maintenance_margin", "max_notional", "leverage"}
    assert documented <= set(rows[0])


def test_cancel_on_disconnect_example(simulator, raw_client):
    """[D:/websocket/channels/trade/cancel_on_disconnect]: each open order → order_response CANCELLED,
    for every open order of the account (not only the dropped connection's)."""
    watcher = raw_client(simulator, subscribe=["order_responses"])
    placed_by_watcher = watcher.request(add_order(client_order_id="w"))["order_response"]["order_id"]
    flagged = raw_client(simulator, subscribe=["order_responses"])
    request = {"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": True}}
    assert flagged.request(request) == {"ack": {"incoming_message": request}}
    placed_by_flagged = flagged.request(add_order(price=199))["order_response"]["order_id"]
    assert watcher.recv()["order_response"]["order_id"] == placed_by_flagged  # the ACK fan-out
    flagged.abort()
    cancelled = [watcher.recv()["order_response"], watcher.recv()["order_response"]]
    assert {(c["order_id"], c["status"]) for c in cancelled} == {(placed_by_watcher, "CANCELLED"),
                                                                 (placed_by_flagged, "CANCELLED")}
    for body in cancelled:
        assert set(body) == ORDER_RESPONSE_KEYS
        assert body["type"] == "LIMIT" and body["time_in_force"] == "GTC"
    assert simulator.call(lambda ex: ex.orders(DEMO_ACCOUNT_ID)) == []


def test_cancel_on_disconnect_is_per_connection_and_not_inherited(simulator, raw_client):
    """"The flag is scoped to a single connection, so you need to opt in again whenever you reconnect.\""""
    first = raw_client(simulator, subscribe=["order_responses"])
    first.request({"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": True}})
    first.close()  # a deliberate close (code 1000) is not a drop
    second = raw_client(simulator, subscribe=["order_responses"])
    second.request(add_order())
    watcher = raw_client(simulator, subscribe=["order_responses"])
    second.abort()  # unflagged connection drops
    assert watcher.barrier() == []
    assert len(simulator.call(lambda ex: ex.orders(DEMO_ACCOUNT_ID))) == 1


def test_error_envelope_example(simulator_factory, raw_client):
    """[D:/websocket/errors]: {"err": {"error_code", "message", "incoming_message": <echo>}}; the
    documented example is RateLimited on an add_order."""
    from runner.simulator import RateLimitConfig, ServerConfig

    sim = simulator_factory(server_config=ServerConfig(rate_limit=RateLimitConfig(limit_units=2)))
    client = raw_client(sim, subscribe=["order_responses"])
    documented = add_order(symbol="AAPL-USD", quantity=Decimal("10.0"), price=Decimal("200.0"),
                           client_order_id="my-order-001")
    client.request(documented)
    client.request(documented)
    reply = client.request(documented)
    assert list(reply) == ["err"]
    err = reply["err"]
    assert err["error_code"] == "RateLimited"
    assert err["message"].startswith("You have exceeded the allowed message rate.".rstrip("."))
    assert err["incoming_message"] == documented
    # exactly the documented fields; the retry-after hint rides in `message` [D:/websocket/rate.md]
    assert set(err) == {"error_code", "message", "incoming_message"}
    assert "retry after" in err["message"]


def test_refdata_over_http_matches_the_rest_shape(simulator):
    """[AE:openapi] GET /refdata → {"type": …, "data": [RefdataSymbol…]} with string numbers."""
    with urllib.request.urlopen(simulator.http_url + "/refdata", timeout=5) as response:
        assert response.headers["Content-Type"] == "application/json"
        body = json.loads(response.read())
    assert body["type"] == "refdata"
    for row in body["data"]:
        assert set(row) >= REFDATA_KEYS
        for key in ("underlier_price", "tick_size", "lot_size", "min_price", "max_price", "min_quantity",
                    "max_quantity"):
            assert isinstance(row[key], str)
            Decimal(row[key])
    with urllib.request.urlopen(simulator.http_url + "/refdata?ticker=AAPL-USD", timeout=5) as response:
        assert [row["symbol"] for row in json.loads(response.read())["data"]] == ["AAPL-USD"]


@pytest.mark.parametrize("frame", ['{"type":"add_order"}', "not json"])
def test_invalid_json_example(simulator, raw_client, frame):
    """InvalidJSONFormat: "Message is not valid JSON or doesn't match the expected schema"."""
    reply = raw_client(simulator).request(frame)
    assert reply["err"]["error_code"] == "InvalidJSONFormat"


TWAP = {"symbol": "AAPL-USD", "side": "BUY", "total_quantity": 1, "num_orders": 2, "order_interval_secs": 30,
        "reduce_only": False, "client_twap_id": "rebalance-aapl-001"}
TWAP_KEYS = {"twap_id", "client_twap_id", "user_id", "status", "symbol", "total_quantity", "filled_quantity",
             "average_fill_price", "total_num_orders", "order_interval_secs", "reduce_only", "side",
             "created_at", "updated_at"}


@pytest.mark.parametrize("id_type", ["twap_id", "client_twap_id"])
def test_add_twap_and_cancel_it_by_either_twap_id(simulator, raw_client, id_type):
    """[D:/websocket/channels/trade/add_twap] → twap_response; cancel_order with twap_id / client_twap_id
    [D:/websocket/channels/trade/cancel_order.md]."""
    client = raw_client(simulator)
    reply = client.request({"type": "add_twap", "params": TWAP})
    twap = reply["twap_response"]
    assert set(twap) == TWAP_KEYS
    assert twap["client_twap_id"] == "rebalance-aapl-001"
    assert twap["total_num_orders"] == 2 and twap["order_interval_secs"] == 30
    ident = twap["twap_id"] if id_type == "twap_id" else "rebalance-aapl-001"
    cancelled = client.request({"type": "cancel_order", "params": {"order_id": ident, "symbol": "AAPL-USD",
                                                                   "cancel_order_id_type": id_type}})
    assert cancelled["twap_response"]["twap_id"] == twap["twap_id"]
    assert cancelled["twap_response"]["status"] == "CANCELLED"


@pytest.mark.parametrize(("change", "words"), [({"order_interval_secs": 29}, "order_interval_secs"),
                                              ({"num_orders": 1}, "num_orders")])
def test_add_twap_validation_is_invalid_parameter(simulator, raw_client, change, words):
    """Documented rules: order_interval_secs ≥ 30, num_orders ≥ 2."""
    request = {"type": "add_twap", "params": {**TWAP, **change}}
    err = raw_client(simulator).request(request)["err"]
    assert err["error_code"] == "InvalidParameter" and words in err["message"]
    assert err["incoming_message"] == request


def test_set_user_leverage_example_and_its_refusal(simulator_factory, raw_client):
    """Docs-page dialect. [D:/websocket/channels/trade/set_leverage]: {"ack_response": true}; not while
    orders are open."""
    client = raw_client(simulator_factory(dialect="docs-pages"), subscribe=["order_responses"])
    request = {"type": "set_user_leverage", "params": {"symbol": "AAPL-USD", "leverage": 5}}
    assert client.request(request) == {"ack_response": True}
    rows = client.request({"type": "get_user_leverage", "params": {}})["user_leverage_response"]
    assert {r["symbol"]: r["leverage"] for r in rows}["AAPL-USD"] == "5"
    client.request(add_order())
    err = client.request(request)["err"]
    assert err["error_code"] == "InvalidParameter" and "open orders" in err["message"]
