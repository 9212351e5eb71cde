"""Every trade-socket request QFEX's own CLI sends gets the reply kind the CLI waits for (live dialect).

QFEX-org/cli (2026-03) sends each command through `TradeWS.Send(ctx, cmd, "<reply key>", match)` and
waits for the first frame whose top-level key is that reply key [CLI:internal/daemon/server.go];
auth waits for `authenticated` and subscriptions are sent one channel each after it
[CLI:internal/daemon/trade_ws.go]. The table below is read from those files, handler by handler,
with the params exactly as the CLI builds them (zero-valued optional fields dropped). In the
default ("live") dialect each request must be answered with that key and never with `err`;
`--dialect docs-pages` is where the docs pages' other shapes live (test_conformance_*).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

AAPL = "AAPL-USD"


def frames_until(client: Any, key: str) -> list[dict[str, Any]]:
    """Frames up to and including the first whose top-level key is `key` (an `err` fails at once)."""
    seen = []
    while True:
        frame = client.recv()
        seen.append(frame)
        assert "err" not in frame, (key, seen)
        if key in frame:
            return seen


@pytest.fixture
def cli(simulator_factory, raw_client):
    """A connection set up as the CLI's daemon does it: auth, then one subscribe per channel."""
    sim = simulator_factory(dialect="live")
    client = raw_client(sim, subscribe=("order_responses", "positions", "balances", "fills"))
    return sim, client


def place(client: Any, **params: Any) -> dict[str, Any]:
    """`handlePlaceOrder`: add_order without zero price/take_profit/stop_loss, empty client id."""
    base = {"symbol": AAPL, "side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC",
            "quantity": Decimal("1"), "price": Decimal("220")}
    merged = {k: v for k, v in {**base, **params}.items() if v is not None}
    request = {"type": "add_order", "params": merged}
    client.send(request)
    return frames_until(client, "order_response")[-1]["order_response"]


def long_one(client: Any) -> None:
    order = place(client, order_type="MARKET", order_time_in_force="IOC", price=None,
                  client_order_id="cli-long")
    assert order["status"] == "ACK"
    frames_until(client, "fill_response")


# (what the CLI does, request builder (client → request), the reply key it waits for, its handler)
CASES: list[tuple[str, Callable[[Any], dict[str, Any]], str, str]] = [
    ("order place (limit)", lambda c: {"type": "add_order", "params": {
        "symbol": AAPL, "side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC",
        "quantity": Decimal("1"), "price": Decimal("219"), "client_order_id": "cli-1"}},
     "order_response", "handlePlaceOrder"),
    ("order place (market, price dropped)", lambda c: {"type": "add_order", "params": {
        "symbol": AAPL, "side": "BUY", "order_type": "MARKET", "order_time_in_force": "IOC",
        "quantity": Decimal("1")}}, "order_response", "handlePlaceOrder"),
    ("order cancel", lambda c: {"type": "cancel_order", "params": {
        "symbol": AAPL, "order_id": place(c, price=Decimal("210"))["order_id"],
        "cancel_order_id_type": "order_id"}}, "order_response", "handleCancelOrder"),
    ("order cancel-all", lambda c: {"type": "cancel_all_orders", "params": {}}, "ack", "handleCancelAll"),
    ("order modify", lambda c: {"type": "modify_order", "params": {
        "symbol": AAPL, "order_id": place(c, price=Decimal("210"))["order_id"], "side": "BUY",
        "order_type": "LIMIT", "price": Decimal("211")}}, "order_response", "handleModifyOrder"),
    ("order get", lambda c: {"type": "get_order", "params": {
        "order_id": place(c, price=Decimal("210"))["order_id"], "symbol": AAPL}},
     "order_response", "handleGetOrder"),
    ("order list", lambda c: {"type": "get_user_orders", "params": {}}, "all_orders_response",
     "handleGetOrders"),
    ("position close", lambda c: (long_one(c), {"type": "close_position", "params": {"symbol": AAPL}})[1],
     "order_response", "handleClosePosition"),
    ("account leverage get", lambda c: {"type": "get_user_leverage", "params": {}},
     "user_leverage_response", "handleGetLeverage"),
    ("account leverage set", lambda c: {"type": "set_user_leverage", "params": {
        "symbol": "TSLA-USD", "leverage": Decimal("5")}}, "ack", "handleSetLeverage"),
    ("account leverage available", lambda c: {"type": "get_available_leverage_levels", "params": {}},
     "available_leverage_levels_response", "handleGetAvailableLeverage"),
    ("twap add", lambda c: {"type": "add_twap", "params": {
        "symbol": AAPL, "side": "BUY", "total_quantity": Decimal("1"), "num_orders": 2,
        "order_interval_secs": 30, "reduce_only": False}}, "twap_response", "handleAddTwap"),
    ("stop cancel", lambda c: (long_one(c), {"type": "cancel_stop_order", "params": {"stop_order_id": place(
        c, side="SELL", order_type="STOP_LOSS", price=Decimal("150"))["order_id"]}})[1],
     "ack", "handleCancelStopOrder"),
    ("stop modify", lambda c: (long_one(c), {"type": "modify_stop_order", "params": {
        "stop_order_id": place(c, side="SELL", order_type="STOP_LOSS", price=Decimal("150"))["order_id"],
        "symbol": AAPL, "price": Decimal("155"), "quantity": Decimal("1")}})[1],
     "ack", "handleModifyStopOrder"),
    ("history trades", lambda c: {"type": "get_user_trades", "params": {}}, "user_trades_response",
     "handleGetUserTrades"),
    ("account cod", lambda c: {"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": True}},
     "ack", "handleCancelOnDisconnect"),
]


@pytest.mark.parametrize(("what", "build", "key", "handler"), CASES, ids=[c[0] for c in CASES])
def test_each_cli_request_gets_the_reply_kind_the_cli_waits_for(cli, what, build, key, handler):
    """[CLI:internal/daemon/server.go `<handler>`]: `s.d.trade.Send(ctx, cmd, "<key>", ...)`."""
    _, client = cli
    request = build(client)
    client.send(request)
    reply = frames_until(client, key)[-1]
    assert key in reply, (what, handler, reply)


def test_auth_and_subscriptions_are_answered_as_the_cli_reads_them(simulator_factory, raw_client):
    """[CLI:internal/daemon/trade_ws.go]: the auth answer is keyed `authenticated` (true); each
    channel is subscribed on its own and acked `{"subscribed": "<channel>"}`."""
    sim = simulator_factory(dialect="live")
    client = raw_client(sim, auth=False)
    assert client.auth(sim.public_key, sim.secret_key) == {"authenticated": True}
    for channel in ("order_responses", "positions", "balances", "fills"):
        client.send({"type": "subscribe", "params": {"channels": [channel]}})
        assert client.recv() == {"subscribed": channel}


def test_the_live_replies_carry_the_asyncapi_shapes(cli):
    """[AE:asyncapi/qfex-trade-asyncapi.yml]: `user_trades_response` is an array of {trade_id, symbol,
    price, quantity, side, order_id, fee, order_type, tif} (no client_order_id, no timestamp); `ack`
    is `{"incoming_message": <the request>}`; get_order's `order_response` is an OrderResponse."""
    from tests.simulator.test_conformance_audit import check_order_response

    _, client = cli
    long_one(client)
    client.send({"type": "get_user_trades", "params": {}})
    rows = frames_until(client, "user_trades_response")[-1]["user_trades_response"]
    assert rows and all(set(r) == {"trade_id", "symbol", "price", "quantity", "side", "order_id", "fee",
                                   "order_type", "tif"} for r in rows)
    assert all(isinstance(r[k], Decimal) for r in rows for k in ("price", "quantity", "fee"))
    request = {"type": "set_user_leverage", "params": {"symbol": "TSLA-USD", "leverage": 5}}
    client.send(request)
    assert frames_until(client, "ack")[-1] == {"ack": {"incoming_message": request}}
    order_id = rows[0]["order_id"]
    client.send({"type": "get_order", "params": {"order_id": order_id, "symbol": AAPL}})
    got = frames_until(client, "order_response")
    answer = next(f["order_response"] for f in got if f["order_response"]["order_id"] == order_id)
    check_order_response(answer)
    assert answer["status"] == "FILLED" and answer["client_order_id"] == "cli-long"
