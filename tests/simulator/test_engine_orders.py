"""cancel_order, modify_order, cancel_all_orders, close_position and the query commands."""

from __future__ import annotations

import pytest

from runner.simulator.config import DEMO_USER_ID
from runner.simulator.errors import CommandError
from tests.simulator.engine_kit import (
    BOB_ACCOUNT,
    DEMO_ACCOUNT_ID,
    ORDER_RESPONSE_FIELDS,
    D,
    Kit,
    caller,
    fills,
    responses,
    statuses,
)


@pytest.fixture
def kit() -> Kit:
    return Kit(market_maker=False)


@pytest.fixture
def docs_kit() -> Kit:
    """The docs-page dialect (`--dialect docs-pages`): the reply shapes of QFEX's per-command pages."""
    from runner.simulator.config import dialect_fields

    return Kit(market_maker=False, **dialect_fields("docs-pages"))


def cancel(
    kit: Kit, ident: str, id_type: str = "order_id", symbol: str = "AAPL-USD", **extra: object
) -> list:
    return kit.send("cancel_order", symbol=symbol, order_id=ident, cancel_order_id_type=id_type, **extra)


# --- cancel_order ----------------------------------------------------------------------------------


def test_cancel_by_order_id_is_a_single_cancelled_response(kit: Kit) -> None:
    [ack] = responses(kit.order(quantity="2", price="200", client_order_id="c"))
    out = cancel(kit, ack["order_id"])
    [r] = responses(out)
    assert list(r) == ORDER_RESPONSE_FIELDS
    assert (r["order_id"], r["status"], r["quantity_remaining"], r["client_order_id"]) == (
        ack["order_id"],
        "CANCELLED",
        D(2),
        "c",
    )
    assert kit.ex.book("AAPL-USD")["bids"] == []
    assert statuses(cancel(kit, ack["order_id"])) == ["NO_SUCH_ORDER"]


def test_cancel_of_a_partly_filled_order_reports_what_remained(kit: Kit) -> None:
    [ack] = responses(kit.order(quantity="3", price="200"))
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    [r] = responses(cancel(kit, ack["order_id"]))
    assert (r["status"], r["quantity"], r["quantity_remaining"]) == ("CANCELLED", D(3), D(2))


def test_cancel_wrong_symbol_or_other_account_is_no_such_order(kit: Kit) -> None:
    [ack] = responses(kit.order(quantity="1", price="200"))
    [r] = responses(cancel(kit, ack["order_id"], symbol="TSLA-USD"))
    assert (r["status"], r["order_id"], r["symbol"], r["user_id"]) == (
        "NO_SUCH_ORDER",
        ack["order_id"],
        "TSLA-USD",
        DEMO_USER_ID,
    )
    assert statuses(kit.send("cancel_order", kit.bob, symbol="AAPL-USD", order_id=ack["order_id"],
                             cancel_order_id_type="order_id")) == [
        "NO_SUCH_ORDER"
    ]
    assert len(kit.ex.orders(DEMO_ACCOUNT_ID)) == 1


def test_cancel_by_client_order_id_cancels_every_match_on_the_symbol(kit: Kit) -> None:
    a = responses(kit.order(quantity="1", price="200", client_order_id="dup"))[0]
    b = responses(kit.order(quantity="1", price="201", client_order_id="dup"))[0]
    other = responses(kit.order(symbol="TSLA-USD", quantity="1", price="300", client_order_id="dup"))[0]
    out = cancel(kit, "dup", "client_order_id")
    assert [(r["order_id"], r["status"]) for r in responses(out)] == [
        (a["order_id"], "CANCELLED"),
        (b["order_id"], "CANCELLED"),
    ]
    assert [o["order_id"] for o in kit.ex.orders(DEMO_ACCOUNT_ID)] == [other["order_id"]]
    [r] = responses(cancel(kit, "dup", "client_order_id"))
    # only trade_id is nullable in QFEX's OrderResponse: the unknown order_id is "" [AE:asyncapi]
    assert (r["status"], r["client_order_id"], r["order_id"]) == ("NO_SUCH_ORDER", "dup", "")


def test_legacy_client_order_id_param_behind_a_flag() -> None:
    legacy = Kit(market_maker=False, legacy_cancel_client_order_id=True)
    legacy.order(quantity="1", price="200", client_order_id="old-style")
    out = legacy.send(
        "cancel_order", symbol="AAPL-USD", client_order_id="old-style", cancel_order_id_type="client_order_id"
    )
    assert statuses(out) == ["CANCELLED"]
    current = Kit(market_maker=False)
    current.order(quantity="1", price="200", client_order_id="old-style")
    with pytest.raises(CommandError) as err:
        current.send(
            "cancel_order",
            symbol="AAPL-USD",
            client_order_id="old-style",
            cancel_order_id_type="client_order_id",
        )
    assert err.value.error_code == "InvalidParameter"


def test_cancel_order_parameter_errors(kit: Kit) -> None:
    with pytest.raises(CommandError):
        kit.send("cancel_order", symbol="AAPL-USD", order_id="x", cancel_order_id_type="exchange_id")
    with pytest.raises(CommandError):
        kit.send("cancel_order", order_id="x")
    with pytest.raises(CommandError):
        kit.send("cancel_order", symbol="AAPL-USD", cancel_order_id_type="order_id")


def test_cancel_order_id_type_is_required(kit: Kit) -> None:
    """`cancel_order_id_type` is required [D:/websocket/channels/trade/cancel_order.md], [AE:asyncapi]."""
    [ack] = responses(kit.order(quantity="1", price="200"))
    with pytest.raises(CommandError) as err:
        kit.send("cancel_order", symbol="AAPL-USD", order_id=ack["order_id"])
    assert err.value.error_code == "InvalidParameter" and "cancel_order_id_type" in err.value.message
    assert [o["order_id"] for o in kit.ex.orders(DEMO_ACCOUNT_ID)] == [ack["order_id"]]


# --- modify_order ----------------------------------------------------------------------------------


def modify(kit: Kit, order_id: str, side: str = "BUY", order_type: str = "LIMIT", **changes: object) -> list:
    return kit.send(
        "modify_order", order_id=order_id, symbol="AAPL-USD", side=side, order_type=order_type, **changes
    )


def test_modify_price_quantity_and_brackets(kit: Kit) -> None:
    [ack] = responses(kit.order(quantity="1", price="200", client_order_id="m"))
    kit.clock.t += 1
    out = modify(kit, ack["order_id"], price="199", quantity="3", take_profit="210", stop_loss="190")
    [r] = responses(out)
    assert (r["status"], r["order_id"], r["price"], r["quantity"], r["quantity_remaining"]) == (
        "MODIFIED",
        ack["order_id"],
        D(199),
        D(3),
        D(3),
    )
    assert (r["take_profit"], r["stop_loss"], r["client_order_id"], r["update_time"]) == (
        D(210),
        D(190),
        "m",
        kit.clock.t,
    )
    assert kit.ex.book("AAPL-USD")["bids"] == [(D(199), D(3))]


def test_modify_to_a_crossing_price_trades(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="201", who=kit.bob)
    [ack] = responses(kit.order(quantity="1", price="200"))
    out = modify(kit, ack["order_id"], price="201")
    mine = [r["status"] for r in responses(out) if r["user_id"] == DEMO_USER_ID]
    assert mine == ["MODIFIED", "FILLED"]


def test_modify_unknown_or_wrong_side_or_type(kit: Kit) -> None:
    [ack] = responses(kit.order(quantity="1", price="200"))
    assert statuses(modify(kit, "no-such-id", price="199")) == ["CANNOT_MODIFY_NO_SUCH_ORDER"]
    assert statuses(modify(kit, ack["order_id"], side="SELL", price="199")) == ["CANNOT_MODIFY_NO_SUCH_ORDER"]
    assert statuses(modify(kit, ack["order_id"], order_type="ALO", price="199")) == [
        "CANNOT_MODIFY_NO_SUCH_ORDER"
    ]
    [r] = responses(modify(kit, ack["order_id"], side="SELL", price="199"))
    assert (r["order_id"], r["side"], r["type"]) == (ack["order_id"], "SELL", "LIMIT")


def test_modify_requires_side_and_order_type(kit: Kit) -> None:
    [ack] = responses(kit.order(quantity="1", price="200"))
    with pytest.raises(CommandError) as err:
        kit.send("modify_order", order_id=ack["order_id"], symbol="AAPL-USD", side="BUY", price="199")
    assert "order_type" in err.value.message


def test_modify_after_a_partial_fill_is_refused(kit: Kit) -> None:
    [ack] = responses(kit.order(quantity="2", price="200"))
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    [r] = responses(modify(kit, ack["order_id"], price="199"))
    assert (r["status"], r["price"], r["quantity_remaining"]) == ("CANNOT_MODIFY_PARTIAL_FILL", D(200), D(1))


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"price": "199.999"}, "INVALID_TICK_SIZE_PRECISION_PRICE"),
        ({"quantity": "1.0001"}, "INVALID_TICK_SIZE_PRECISION_QUANTITY"),
        ({"quantity": "0"}, "QUANTITY_LESS_THAN_MIN_QUANTITY"),
        ({"quantity": "100001"}, "QUANTITY_GREATER_THAN_MAX_QUANTITY"),
        ({"price": "300"}, "PRICE_GREATER_THAN_MAX_PRICE"),
        ({"take_profit": "150"}, "INVALID_TAKEPROFIT_PRICE"),
        ({"stop_loss": "250"}, "INVALID_STOPLOSS_PRICE"),
        ({"quantity": "20000"}, "REJECTED_WOULD_BREACH_MAX_NOTIONAL"),
    ],
)
def test_modify_is_revalidated(kit: Kit, changes: dict, status: str) -> None:
    [ack] = responses(kit.order(quantity="1", price="200"))
    [r] = responses(modify(kit, ack["order_id"], **changes))
    assert r["status"] == status
    assert kit.ex.orders(DEMO_ACCOUNT_ID)[0]["price"] == D(200)  # unchanged


def test_modified_limit_order_passes_the_speed_bump_again() -> None:
    kit = Kit(market_maker=False, speed_bump_ms=100)
    [ack] = responses(kit.order(quantity="1", price="200"))
    kit.advance(0.1)
    assert kit.ex.book("AAPL-USD")["bids"] == [(D(200), D(1))]
    assert statuses(modify(kit, ack["order_id"], price="201")) == ["MODIFIED"]
    assert kit.ex.book("AAPL-USD")["bids"] == []
    kit.advance(0.1)
    assert kit.ex.book("AAPL-USD")["bids"] == [(D(201), D(1))]


def test_modify_loses_time_priority(kit: Kit) -> None:
    first = responses(kit.order(quantity="1", price="200", client_order_id="first"))[0]
    kit.order(quantity="1", price="200", client_order_id="second")
    modify(kit, first["order_id"], quantity="2")
    out = kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    [mine] = [f for f in fills(out) if f["user_id"] == DEMO_USER_ID]
    assert mine["client_order_id"] == "second"


# --- cancel_all_orders -----------------------------------------------------------------------------


def test_cancel_all_orders_cancels_every_symbol_then_acks(kit: Kit) -> None:
    kit.order(quantity="1", price="200")
    kit.order(symbol="TSLA-USD", quantity="1", price="300")
    kit.order(side="SELL", quantity="1", price="250", who=kit.bob)
    out = kit.send("cancel_all_orders")
    assert statuses(out) == ["CANCELLED", "CANCELLED"]
    assert caller(out) == [{"ack": {"incoming_message": {"type": "cancel_all_orders", "params": {}}}}]
    assert out[-1].to == "caller"
    assert kit.ex.orders(DEMO_ACCOUNT_ID) == []
    assert len(kit.ex.orders(BOB_ACCOUNT)) == 1  # other accounts untouched


def test_cancel_all_orders_ack_shapes() -> None:
    assert caller(Kit(market_maker=False, cancel_all_ack_shape="ack_response").send("cancel_all_orders")) == [
        {"ack_response": True}
    ]
    assert caller(Kit(market_maker=False, cancel_all_ack_shape="none").send("cancel_all_orders")) == []


# --- close_position --------------------------------------------------------------------------------


def test_close_position_is_a_reduce_only_limit_ioc_near_the_mark() -> None:
    kit = Kit()
    kit.order(order_type="MARKET", tif="IOC", quantity="10", price="0")
    out = kit.send("close_position", symbol="AAPL-USD", client_order_id="my-close-order-1")
    rs = responses(out)
    ack = rs[0]
    assert (ack["status"], ack["type"], ack["time_in_force"], ack["side"], ack["quantity"]) == (
        "ACK",
        "LIMIT",
        "IOC",
        "SELL",
        D(10),
    )
    assert ack["client_order_id"] == "my-close-order-1"
    mark = kit.ex.market("AAPL-USD")
    assert ack["price"] < mark.mark() and ack["price"] % mark.tick == 0
    assert rs[-1]["status"] == "FILLED" and rs[-1]["quantity_remaining"] == 0
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["position"] == 0


def test_close_position_of_a_short_buys() -> None:
    kit = Kit()
    kit.order(side="SELL", order_type="MARKET", tif="IOC", quantity="3", price="0")
    rs = responses(kit.send("close_position", symbol="AAPL-USD"))
    assert rs[0]["side"] == "BUY" and rs[-1]["status"] == "FILLED"
    assert rs[0]["client_order_id"] == ""  # as in QFEX's close_position example
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["position"] == 0


def test_close_position_without_a_position_or_symbol() -> None:
    kit = Kit()
    [r] = responses(kit.send("close_position", symbol="AAPL-USD"))
    assert r["status"] == "REJECTED" and r["quantity"] == 0
    [r] = responses(kit.send("close_position", symbol="NOPE-USD"))
    assert r["status"] == "BAD_SYMBOL"


# --- get_order / get_user_orders -------------------------------------------------------------------


def test_get_order_returns_open_orders_only(docs_kit: Kit) -> None:
    """Docs-page dialect: [D:/websocket/channels/trade/get_order] lists open orders only."""
    kit = docs_kit
    [ack] = responses(kit.order(quantity="2", price="200", client_order_id="q"))
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    out = kit.send("get_order", symbol="AAPL-USD", order_id=ack["order_id"])
    assert [o.to for o in out] == ["caller"]
    [reply] = caller(out)
    assert list(reply) == ["all_orders_response"]
    assert reply["all_orders_response"]["stop_orders"] == []
    [row] = reply["all_orders_response"]["orders"]
    assert list(row) == ORDER_RESPONSE_FIELDS
    assert (row["order_id"], row["status"], row["quantity_remaining"]) == (ack["order_id"], "FILLED", D(1))
    cancel(kit, ack["order_id"])
    [reply] = caller(kit.send("get_order", symbol="AAPL-USD", order_id=ack["order_id"]))
    assert reply == {"all_orders_response": {"orders": [], "stop_orders": []}}


def test_get_order_as_order_response_compat() -> None:
    kit = Kit(market_maker=False, get_order_reply="order_response")
    [ack] = responses(kit.order(quantity="1", price="200"))
    [reply] = caller(kit.send("get_order", symbol="AAPL-USD", order_id=ack["order_id"]))
    assert (
        reply["order_response"]["order_id"] == ack["order_id"] and reply["order_response"]["status"] == "ACK"
    )
    [reply] = caller(kit.send("get_order", symbol="AAPL-USD", order_id="nope"))
    assert reply["order_response"]["status"] == "NO_SUCH_ORDER"


def test_get_order_live_shows_an_ended_order_in_its_last_state(kit: Kit) -> None:
    """Live dialect: get_order is "order details by order_id" [AE:asyncapi] and QFEX's CLI shows a
    filled order with `order get` [CLI:internal/daemon/server.go handleGetOrder]: an order that
    filled, or was cancelled, is still answered (with its client_order_id), not NO_SUCH_ORDER."""
    [ack] = responses(kit.order(quantity="1", price="200", client_order_id="ended"))
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    [reply] = caller(kit.send("get_order", symbol="AAPL-USD", order_id=ack["order_id"]))
    row = reply["order_response"]
    assert (row["status"], row["client_order_id"], row["quantity_remaining"]) == ("FILLED", "ended", D(0))
    [ack2] = responses(kit.order(quantity="1", price="190", client_order_id="gone"))
    cancel(kit, ack2["order_id"])
    [reply] = caller(kit.send("get_order", symbol="AAPL-USD", order_id=ack2["order_id"]))
    assert reply["order_response"]["status"] == "CANCELLED"
    [reply] = caller(kit.send("get_order", symbol="TSLA-USD", order_id=ack["order_id"]))
    assert reply["order_response"]["status"] == "NO_SUCH_ORDER"  # the symbol must match


def test_get_user_orders_paging_and_symbol_filter(kit: Kit) -> None:
    ids = [responses(kit.order(quantity="1", price=str(200 + i)))[0]["order_id"] for i in range(5)]
    tsla = responses(kit.order(symbol="TSLA-USD", quantity="1", price="300"))[0]["order_id"]

    def listed(**params: object) -> list[str]:
        [reply] = caller(kit.send("get_user_orders", **params))
        assert set(reply["all_orders_response"]) == {"orders", "twaps"}
        return [o["order_id"] for o in reply["all_orders_response"]["orders"]]

    assert listed() == [*ids, tsla]
    assert listed(symbol="AAPL-USD") == ids
    assert listed(limit=2) == ids[:2]
    assert listed(limit=2, offset=4) == [ids[4], tsla]
    assert listed(offset=10) == []
    assert listed(symbol="TSLA-USD", limit=10, offset=0) == [tsla]
    with pytest.raises(CommandError):
        kit.send("get_user_orders", limit=-1)
    with pytest.raises(CommandError):
        kit.send("get_user_orders", offset="1")


# --- get_user_trades -------------------------------------------------------------------------------


def trade_setup(kit: Kit) -> tuple[str, str]:
    kit.order(side="SELL", quantity="5", price="200", who=kit.bob)
    first = responses(kit.order(quantity="1", price="200", client_order_id="t1"))[0]["order_id"]
    kit.clock.t += 10
    second = responses(kit.order(quantity="2", price="200", client_order_id="t2"))[0]["order_id"]
    return first, second


def test_get_user_trades_current_shape_newest_first(docs_kit: Kit) -> None:
    """Docs-page dialect: [D:/websocket/channels/trade/get_user_trades] `{"user_trades", "count"}`."""
    kit = docs_kit
    first, second = trade_setup(kit)
    [reply] = caller(kit.send("get_user_trades"))
    assert set(reply) == {"user_trades", "count"} and reply["count"] == 2
    rows = reply["user_trades"]
    assert [list(r) for r in rows] == [
        [
            "trade_id",
            "symbol",
            "price",
            "quantity",
            "aggressor_side",
            "order_id",
            "client_order_id",
            "fee",
            "timestamp",
        ]
    ] * 2
    assert [(r["order_id"], r["quantity"], r["client_order_id"]) for r in rows] == [
        (second, D(2), "t2"),
        (first, D(1), "t1"),
    ]
    assert rows[0]["aggressor_side"] == "BUY" and rows[0]["fee"] == D(400) * D("0.0002")


def test_get_user_trades_filters_and_paging(docs_kit: Kit) -> None:
    kit = docs_kit
    first, second = trade_setup(kit)
    t0 = kit.clock.t - 10

    def trades(**params: object) -> tuple[list[str], int]:
        [reply] = caller(kit.send("get_user_trades", **params))
        return [r["order_id"] for r in reply["user_trades"]], reply["count"]

    assert trades(order_id=first) == ([first], 1)
    assert trades(start_ts=int(t0) + 1) == ([second], 1)
    assert trades(end_ts=int(t0)) == ([first], 1)  # end is inclusive of the whole second
    assert trades(start_ts=int(t0), end_ts=int(t0) + 10) == ([second, first], 2)
    assert trades(limit=1) == ([second], 2)  # count: all matches, before paging
    assert trades(limit=1, offset=1) == ([first], 2)
    assert trades(order_id="nope") == ([], 0)
    # the counterparty sees its own fills
    [reply] = caller(kit.send("get_user_trades", kit.bob))
    assert reply["count"] == 2


def test_get_user_trades_compat_shape() -> None:
    kit = Kit(market_maker=False, user_trades_shape="user_trades_response")
    trade_setup(kit)
    [reply] = caller(kit.send("get_user_trades"))
    rows = reply["user_trades_response"]
    assert list(rows[0]) == [
        "trade_id",
        "symbol",
        "price",
        "quantity",
        "side",
        "order_id",
        "fee",
        "order_type",
        "tif",
    ]
    assert (rows[0]["side"], rows[0]["order_type"], rows[0]["tif"]) == ("BUY", "LIMIT", "GTC")


# --- pulses and refdata ----------------------------------------------------------------------------


def test_pulse_positions_for_every_symbol_and_one_balance() -> None:
    kit = Kit()
    kit.order(order_type="MARKET", tif="IOC", quantity="10", price="0")
    out = kit.ex.pulse(DEMO_ACCOUNT_ID)
    positions = [o for o in out if o.channel == "positions"]
    assert len(positions) == len(kit.ex.config.refdata)  # zero rows included
    assert all(o.to == "account" and o.account_id == DEMO_ACCOUNT_ID for o in out)
    [aapl] = [
        o.message["position_response"]
        for o in positions
        if o.message["position_response"]["symbol"] == "AAPL-USD"
    ]
    assert list(aapl) == [
        "id",
        "symbol",
        "position",
        "margin_alloc",
        "realised_pnl",
        "unrealised_pnl",
        "net_funding",
        "open_orders",
        "open_quantity",
        "leverage",
        "initial_margin",
        "maintenance_margin",
        "average_price",
    ]
    mark = kit.ex.mark("AAPL-USD")
    assert aapl["position"] == 10 and aapl["average_price"] == D("230.05")
    assert aapl["unrealised_pnl"] == (mark - D("230.05")) * 10
    assert aapl["margin_alloc"] == mark * 10 / 10
    assert aapl["leverage"] == 10 and aapl["initial_margin"] == D("0.1")
    [balance] = [o.message["balance_response"] for o in out if o.channel == "balances"]
    assert list(balance) == [
        "id",
        "user_id",
        "deposit",
        "realised_pnl",
        "order_margin",
        "position_margin",
        "unrealised_pnl",
        "net_funding",
        "available_balance",
        "fees",
        "referral_rewards",
    ]
    assert balance["deposit"] == D(1_000_000) and balance["fees"] == D("230.05") * 10 * D("0.0002")
    assert balance["available_balance"] == (
        balance["deposit"]
        + balance["realised_pnl"]
        - balance["fees"]
        + balance["unrealised_pnl"]
        - balance["position_margin"]
        - balance["order_margin"]
    )


def test_refdata_body_shape_and_ticker_filter() -> None:
    kit = Kit()
    body = kit.ex.refdata_body()
    assert body["type"] == "refdata" and len(body["data"]) == len(kit.ex.config.refdata)
    assert kit.ex.refdata_body("AAPL-USD")["data"][0]["symbol"] == "AAPL-USD"
    assert kit.ex.refdata_body("NOPE")["data"] == []
    kit.ex.set_mid("AAPL-USD", "241.5")
    assert kit.ex.refdata_body("AAPL-USD")["data"][0]["underlier_price"] == "241.50"
