"""Conformance of reply *types* with QFEX's documentation: every field, its JSON type and enum values.

Written for the fidelity audit. `test_conformance_docs.py` checks that each documented reply has the
documented keys; this file pins down what those keys carry — numbers written as JSON numbers in the
f64 style of QFEX's examples (`1.0`, `0.05`), integers where the docs show integers, strings where the
schema says string, nulls only where the schema allows them — so a regression in any one field fails.

Sources (tags as in /work/shared/qfex-api.md): `[AE:asyncapi]` is QFEX's trade AsyncAPI (docs.qfex.com
/websocket/trade.yaml), `[D:<path>]` a page on docs.qfex.com. The raw client parses JSON floats as
`Decimal` and JSON integers as `int`, so `isinstance(x, Decimal)` means "written with a decimal point".
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from runner.simulator.config import DEMO_USER_ID

# [AE:asyncapi] OrderResponse: the status enum, as published.
ORDER_STATUSES = {
    "ACK", "FILLED", "MODIFIED", "CANCELLED", "CANCELLED_STP", "REJECTED", "NO_SUCH_ORDER",
    "INVALID_ORDER_TYPE", "BAD_SYMBOL", "PRICE_LESS_THAN_MIN_PRICE", "PRICE_GREATER_THAN_MAX_PRICE",
    "CANNOT_MODIFY_PARTIAL_FILL",
    "FAILED_MARGIN_CHECK", "INVALID_TICK_SIZE_PRECISION_PRICE", "INVALID_TICK_SIZE_PRECISION_QUANTITY",
    "QUANTITY_LESS_THAN_MIN_QUANTITY", "QUANTITY_GREATER_THAN_MAX_QUANTITY", "INVALID_TIME_IN_FORCE",
    "REJECTED_WOULD_BREACH_MAX_NOTIONAL", "CANNOT_MODIFY_NO_SUCH_ORDER", "REJECTED_MARKET_CLOSED",
    "REJECTED_FAILED_TO_PROCESS", "INVALID_TAKEPROFIT_PRICE", "INVALID_STOPLOSS_PRICE", "RATE_LIMITED",
    "REJECTED_TOO_MANY_OPEN_ORDERS", "REJECTED_OPEN_INTEREST_LIMIT",
}
ORDER_TYPES = {"LIMIT", "MARKET", "ALO", "TAKE_PROFIT", "STOP_LOSS", "STOP_MARKET"}
TIFS = {"GTC", "IOC", "FOK"}
SIDES = {"BUY", "SELL"}
ORDER_NUMBERS = ("quantity", "price", "take_profit", "stop_loss", "quantity_remaining", "update_time")
ORDER_STRINGS = ("order_id", "symbol", "user_id", "client_order_id")


def add_order(**params: Any) -> dict[str, Any]:
    base = {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC",
            "quantity": 1, "price": 200}
    return {"type": "add_order", "params": {**base, **params}}


MARKET_BUY = add_order(order_type="MARKET", order_time_in_force="IOC", price=0)


def check_order_response(body: dict[str, Any]) -> None:
    """[AE:asyncapi] OrderResponse: every field typed as declared; only `trade_id` is nullable."""
    enums = ("status", "side", "type", "time_in_force")
    assert set(body) == {*ORDER_NUMBERS, *ORDER_STRINGS, *enums, "trade_id"}
    for key in ORDER_STRINGS:
        assert isinstance(body[key], str), (key, body)
    for key in ORDER_NUMBERS:
        assert isinstance(body[key], Decimal), (key, body)  # a JSON number in f64 style, never null
    assert body["status"] in ORDER_STATUSES, body
    assert body["side"] in SIDES, body
    assert body["type"] in ORDER_TYPES, body
    assert body["time_in_force"] in TIFS, body
    assert body["trade_id"] is None or isinstance(body["trade_id"], str), body


def order_responses(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f["order_response"] for f in frames if "order_response" in f]


def long_position(client) -> None:
    """Buy 1 AAPL-USD at market and wait for the fill (stops need a position to reduce)."""
    client.send(MARKET_BUY)
    while client.recv_key("order_response")["order_response"]["status"] != "FILLED":
        pass


def test_every_order_response_is_typed_as_the_schema_says(simulator, raw_client):
    """Accepts, fills, rejects, cancels and every not-found answer: no field is null but trade_id
    ([AE:asyncapi] OrderResponse declares only `trade_id` nullable)."""
    client = raw_client(simulator, subscribe=["order_responses"])
    long_position(client)
    ack = client.request(add_order(client_order_id="typed"))["order_response"]
    stop = client.request(add_order(side="SELL", order_type="STOP_LOSS", price=150))["order_response"]
    for request in [
        add_order(symbol="NOPE-USD"),
        {"type": "modify_order", "params": {"order_id": ack["order_id"], "symbol": "AAPL-USD", "side": "BUY",
                                            "order_type": "LIMIT", "price": 201}},
        {"type": "cancel_order", "params": {"symbol": "AAPL-USD", "order_id": ack["order_id"],
                                            "cancel_order_id_type": "order_id"}},
        {"type": "cancel_order", "params": {"symbol": "AAPL-USD", "order_id": ack["order_id"],
                                            "cancel_order_id_type": "order_id"}},
        {"type": "cancel_order", "params": {"symbol": "AAPL-USD", "order_id": "nobody",
                                            "cancel_order_id_type": "client_order_id"}},
        {"type": "modify_order", "params": {"order_id": "missing", "symbol": "AAPL-USD", "side": "SELL",
                                            "order_type": "ALO", "price": 201}},
        {"type": "modify_stop_order", "params": {"stop_order_id": "missing", "symbol": "AAPL-USD", "price": 1,
                                                 "quantity": 1}},
        {"type": "cancel_stop_order", "params": {"stop_order_id": "missing"}},
        {"type": "cancel_stop_order", "params": {"stop_order_id": stop["order_id"]}},
        {"type": "close_position", "params": {"symbol": "TSLA-USD"}},  # no TSLA position
        {"type": "close_position", "params": {"symbol": "AAPL-USD"}},
    ]:
        client.send(request)
    bodies = [ack, stop, *order_responses(client.barrier())]
    statuses = {b["status"] for b in bodies}
    assert {"ACK", "BAD_SYMBOL", "MODIFIED", "CANCELLED", "NO_SUCH_ORDER", "CANNOT_MODIFY_NO_SUCH_ORDER",
            "REJECTED", "FILLED"} <= statuses
    for body in bodies:
        check_order_response(body)


def test_not_found_replies_carry_what_the_request_said(simulator, raw_client):
    """Only trade_id is nullable [AE:asyncapi]: an id we were given is echoed, the other id is ""."""
    client = raw_client(simulator, subscribe=["order_responses"])
    by_coid = client.request({"type": "cancel_order", "params": {"symbol": "AAPL-USD", "order_id": "c-42",
                                                                 "cancel_order_id_type": "client_order_id"}})
    body = by_coid["order_response"]
    assert (body["status"], body["client_order_id"], body["order_id"]) == ("NO_SUCH_ORDER", "c-42", "")
    by_id = client.request({"type": "cancel_order", "params": {"symbol": "AAPL-USD", "order_id": "o-42",
                                                               "cancel_order_id_type": "order_id"}})
    body = by_id["order_response"]
    assert (body["status"], body["order_id"], body["client_order_id"]) == ("NO_SUCH_ORDER", "o-42", "")
    modify = client.request({"type": "modify_order", "params": {
        "order_id": "o-43", "symbol": "AAPL-USD", "side": "SELL", "order_type": "ALO", "price": 1}})
    body = modify["order_response"]
    assert (body["status"], body["order_id"], body["side"], body["type"]) == (
        "CANNOT_MODIFY_NO_SUCH_ORDER", "o-43", "SELL", "ALO")


def test_cancel_order_id_type_is_required(simulator, raw_client):
    """`cancel_order_id_type` is required ✅ [D:/websocket/channels/trade/cancel_order.md] and in the
    AsyncAPI's CancelOrderCommand: leaving it out is an err echoing the request, and cancels nothing."""
    client = raw_client(simulator, subscribe=["order_responses"])
    ack = client.request(add_order())["order_response"]
    request = {"type": "cancel_order", "params": {"symbol": "AAPL-USD", "order_id": ack["order_id"]}}
    err = client.request(request)["err"]
    assert err["error_code"] == "InvalidParameter" and "cancel_order_id_type" in err["message"]
    assert err["incoming_message"] == request
    orders = client.request({"type": "get_user_orders", "params": {}})["all_orders_response"]["orders"]
    assert [o["order_id"] for o in orders] == [ack["order_id"]]


def test_user_trades_timestamp_is_integer_seconds(simulator_factory, raw_client):
    """Docs-page dialect. [D:/websocket/channels/trade/get_user_trades]: `"timestamp": 1746908400` — an
    integer where the page writes every float as 200.0 — and start_ts/end_ts filter on those
    inclusive seconds."""
    client = raw_client(simulator_factory(dialect="docs-pages"), subscribe=["order_responses"])
    long_position(client)
    reply = client.request({"type": "get_user_trades", "params": {}})
    assert set(reply) == {"user_trades", "count"} and reply["count"] == 1
    [trade] = reply["user_trades"]
    assert set(trade) == {"trade_id", "symbol", "price", "quantity", "aggressor_side", "order_id",
                          "client_order_id", "fee", "timestamp"}
    assert type(trade["timestamp"]) is int and abs(trade["timestamp"] - time.time()) < 60
    for key in ("price", "quantity", "fee"):
        assert isinstance(trade[key], Decimal), key
    ts = trade["timestamp"]
    windows = [({"start_ts": ts, "end_ts": ts}, 1), ({"start_ts": ts + 1}, 0), ({"end_ts": ts - 1}, 0)]
    for window, found in windows:
        rows = client.request({"type": "get_user_trades", "params": window})["user_trades"]
        assert len(rows) == found, window


@pytest.mark.parametrize("dialect", ["live", "docs-pages"])
def test_leverage_rows_match_the_documented_example(simulator_factory, raw_client, dialect):
    """[D:/websocket/channels/trade/get_leverage]: at 20x `"initial_margin": 0.05,
    "maintenance_margin": 0.03333333333333333, "leverage": "20"` (f64 fractions, leverage a string).
    set_user_leverage answers the AsyncAPI `ack` echoing the request (live; QFEX's CLI waits for `ack`
    [CLI:internal/daemon/server.go handleSetLeverage]) or `{"ack_response": true}` (the set_leverage page)."""
    client = raw_client(simulator_factory(dialect=dialect))
    request = {"type": "set_user_leverage", "params": {"symbol": "US100-USD", "leverage": 20}}
    expected = {"ack": {"incoming_message": request}} if dialect == "live" else {"ack_response": True}
    assert client.request(request) == expected
    client.send({"type": "get_user_leverage", "params": {}})
    text = client.ws.recv(timeout=5)
    rows = {r["symbol"]: r for r in json.loads(text, parse_float=Decimal)["user_leverage_response"]}
    row = rows["US100-USD"]
    assert set(row) == {"id", "symbol", "initial_margin", "maintenance_margin", "max_notional", "leverage"}
    assert row["leverage"] == "20"
    assert row["initial_margin"] == Decimal("0.05")
    assert '"maintenance_margin":0.03333333333333333,' in text  # digit for digit as documented
    assert isinstance(row["max_notional"], Decimal) and isinstance(row["id"], str)


def test_position_and_balance_pushes_are_f64_numbers(simulator_factory, raw_client):
    """[D:/websocket/channels/trade/positions]: every position number is written like `0.0` (including
    `open_orders`); [D:/websocket/channels/trade/balance]: the primary account's balance `id` equals
    its `user_id` (QFEX's primary account id is the user id)."""
    from runner.simulator import ServerConfig

    sim = simulator_factory(server_config=ServerConfig(pulse_interval_s=0.05))
    client = raw_client(sim, subscribe=["order_responses"])
    client.request(add_order(client_order_id="resting"))  # one open order on AAPL-USD
    client.subscribe("positions", "balances")
    position = balance = None
    while position is None or balance is None:
        frame = client.recv()
        if frame.get("position_response", {}).get("symbol") == "AAPL-USD":
            position = frame["position_response"]
        balance = frame.get("balance_response", balance)
    for key, value in position.items():
        if key not in ("id", "symbol"):
            assert isinstance(value, Decimal), (key, value)
    assert position["open_orders"] == 1
    assert position["maintenance_margin"] == Decimal("0.06666666666666667")  # 10x, 16 significant digits
    assert balance["id"] == balance["user_id"] == DEMO_USER_ID
    for key, value in balance.items():
        if key not in ("id", "user_id"):
            assert isinstance(value, Decimal), (key, value)


def test_standalone_stop_reports_gtc_and_no_generated_client_order_id(simulator, raw_client):
    """[D:/websocket/channels/trade/stop_add_order]: the time in force is "required for legacy reasons,
    the value will not be read" and no client_order_id is listed; the cancel example
    [D:/websocket/channels/trade/stop_cancel_order] shows `"time_in_force": "GTC"` and
    `"client_order_id": ""`."""
    client = raw_client(simulator, subscribe=["order_responses"])
    long_position(client)
    stop = client.request(add_order(side="SELL", order_type="TAKE_PROFIT", order_time_in_force="IOC",
                                    price=250))["order_response"]
    check_order_response(stop)
    assert (stop["status"], stop["type"], stop["time_in_force"], stop["client_order_id"]) == (
        "ACK", "TAKE_PROFIT", "GTC", "")
    cancelled = client.request({"type": "cancel_stop_order", "params": {"stop_order_id": stop["order_id"]}})
    body = cancelled["order_response"]
    assert client.recv() == {"ack": {"incoming_message": {"type": "cancel_stop_order",
                                                          "params": {"stop_order_id": stop["order_id"]}}}}
    fields = ("order_id", "status", "type", "time_in_force", "client_order_id")
    assert tuple(body[k] for k in fields) == (stop["order_id"], "CANCELLED", "TAKE_PROFIT", "GTC", "")
    assert body["quantity"] == 0 and body["quantity_remaining"] == 0 and body["price"] == 250
    named = client.request(add_order(side="SELL", order_type="STOP_LOSS", price=150, client_order_id="sl-1"))
    assert named["order_response"]["client_order_id"] == "sl-1"  # one the client gives is kept


def test_stop_order_response_matches_the_asyncapi_stop_order(simulator, raw_client):
    """[AE:asyncapi] StopOrder: stop_order_id, user_id, symbol, price, quantity (numbers), direction,
    stop_order_type (enums), client_order_id, update_time (a date-time string)."""
    client = raw_client(simulator, subscribe=["order_responses", "stop_orders"])
    long_position(client)
    client.send(add_order(side="SELL", order_type="STOP_LOSS", price=150, client_order_id="sl"))
    push = client.recv_key("stop_order_response")["stop_order_response"]
    assert set(push) == {"stop_order_id", "user_id", "symbol", "price", "quantity", "direction",
                         "stop_order_type", "client_order_id", "update_time"}
    assert push["direction"] == "SELL" and push["stop_order_type"] == "STOP_LOSS"
    assert push["price"] == 150 and isinstance(push["price"], Decimal)
    assert isinstance(push["quantity"], Decimal)
    assert push["user_id"] == DEMO_USER_ID and push["client_order_id"] == "sl"
    assert datetime.fromisoformat(push["update_time"]).tzinfo is not None


def test_twap_response_types(simulator, raw_client):
    """[AE:asyncapi] TwapResponse: counts are integers, reduce_only a boolean, quantities and the
    created_at/updated_at seconds numbers, client_twap_id a nullable string."""
    client = raw_client(simulator)
    twap = client.request({"type": "add_twap", "params": {
        "symbol": "AAPL-USD", "side": "BUY", "total_quantity": 1, "num_orders": 2, "order_interval_secs": 30,
        "reduce_only": False}})["twap_response"]
    assert type(twap["total_num_orders"]) is int and type(twap["order_interval_secs"]) is int
    assert twap["reduce_only"] is False and twap["client_twap_id"] is None
    for key in ("total_quantity", "filled_quantity", "average_fill_price", "created_at", "updated_at"):
        assert isinstance(twap[key], Decimal), key
    assert twap["side"] == "BUY" and isinstance(twap["status"], str) and isinstance(twap["twap_id"], str)


@pytest.mark.parametrize("dialect", ["live", "docs-pages"])
def test_query_reply_containers(simulator_factory, raw_client, dialect):
    """get_order → `order_response` (live: QFEX's CLI waits for it [CLI:internal/daemon/server.go
    handleGetOrder]) or {"orders", "stop_orders"} [D:/websocket/channels/trade/get_order]; get_user_orders
    → {"orders", "twaps"} [D:/websocket/channels/trade/get_user_orders]; cancel_all_orders ends with the
    AsyncAPI ack echoing the request."""
    client = raw_client(simulator_factory(dialect=dialect), subscribe=["order_responses"])
    ack = client.request(add_order())["order_response"]
    got = client.request({"type": "get_order", "params": {"symbol": "AAPL-USD", "order_id": ack["order_id"]}})
    if dialect == "live":
        order = got["order_response"]
    else:
        assert set(got["all_orders_response"]) == {"orders", "stop_orders"}
        [order] = got["all_orders_response"]["orders"]
    check_order_response(order)
    listed = client.request({"type": "get_user_orders", "params": {}})
    assert set(listed["all_orders_response"]) == {"orders", "twaps"}
    request = {"type": "cancel_all_orders", "params": {}}
    client.send(request)
    assert client.recv()["order_response"]["status"] == "CANCELLED"
    assert client.recv() == {"ack": {"incoming_message": request}}


def test_crossing_alo_is_cancelled_and_rejected_behind_compat(simulator_factory, raw_client):
    """A crossing ALO "is cancelled instead" [D:/qfex/order-types.md]; the older enums page said
    "rejected" [D:/docs/api-reference/enums] — reachable with `--compat alo-rejected`."""
    from runner.simulator.server_config import split_compat

    _, engine = split_compat(["alo-rejected"])
    assert engine["alo_cross_status"] == "REJECTED"
    engine = {"alo_cross_status": "REJECTED"}
    for options, final in [({}, "CANCELLED"), (engine, "REJECTED")]:
        client = raw_client(simulator_factory(engine=options), subscribe=["order_responses"])
        client.send(add_order(order_type="ALO", price=280))  # far through the ask
        assert client.recv()["order_response"]["status"] == "ACK"
        assert client.recv()["order_response"]["status"] == final


def test_incoming_message_of_a_non_object_frame(simulator_factory, raw_client):
    """The AsyncAPI's ErrResponse allows "oneOf object, string" — the raw text (live dialect, the
    default); [D:/websocket/errors.md] says "object/null": null when the frame is not a JSON object
    (`--dialect docs-pages`; `--compat incoming-message-text` brings the text back there)."""
    from runner.simulator import ServerConfig
    from runner.simulator.server_config import CompatOptions

    cases = [("live", (), "not json"), ("docs-pages", (), None),
             ("docs-pages", ("incoming-message-text",), "not json")]
    for dialect, compat, echo in cases:
        config = ServerConfig(compat=CompatOptions.from_names(list(compat), dialect))
        client = raw_client(simulator_factory(server_config=config))
        err = client.request("not json")["err"]
        assert set(err) == {"error_code", "message", "incoming_message"}
        assert (err["error_code"], err["incoming_message"]) == ("InvalidJSONFormat", echo)
        assert client.request("[1, 2]")["err"]["incoming_message"] == (echo and "[1, 2]")


def test_the_simulator_shares_no_wire_code_with_the_runner():
    """Product standard: the simulator must not import the runner's client or message parsing (a
    misreading of the docs must not hide on both sides), and only server.py imports websockets."""
    import ast
    from pathlib import Path

    import runner.simulator

    forbidden = {"runner.exchange", "runner.jsonnum", "runner.state", "runner.run", "websocket"}
    package = Path(runner.simulator.__file__).parent
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = list(ast.walk(tree))
        names = {alias.name for node in nodes if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in nodes if isinstance(node, ast.ImportFrom)}
        for name in names:
            assert not any(name == f or name.startswith(f + ".") for f in forbidden), (path.name, name)
            if name.split(".")[0] == "websockets":
                assert path.name == "server.py", (path.name, name)
