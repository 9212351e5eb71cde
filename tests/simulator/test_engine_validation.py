"""add_order validation: the fixed check order, every reject status, err-frame cases, decimal exactness."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runner.simulator.config import DEMO_USER_ID, AccountConfig
from runner.simulator.errors import CommandError
from tests.simulator.engine_kit import (
    DEMO_ACCOUNT_ID,
    ORDER_RESPONSE_FIELDS,
    D,
    Kit,
    bob,
    is_uuid4,
    responses,
    statuses,
)


@pytest.fixture
def kit() -> Kit:
    return Kit(market_maker=False)


def test_reject_is_a_single_order_response_with_a_server_order_id(kit: Kit) -> None:
    out = kit.order(symbol="NOPE-USD", quantity="1", price="200", client_order_id="c-1")
    assert len(out) == 1 and out[0].channel == "order_responses" and out[0].to == "account"
    [rej] = responses(out)
    assert list(rej) == ORDER_RESPONSE_FIELDS
    assert rej["status"] == "BAD_SYMBOL" and is_uuid4(rej["order_id"])
    assert (rej["symbol"], rej["client_order_id"], rej["quantity"], rej["price"]) == (
        "NOPE-USD",
        "c-1",
        D(1),
        D(200),
    )
    assert rej["trade_id"] is None and rej["user_id"] == DEMO_USER_ID
    assert kit.ex.orders(DEMO_ACCOUNT_ID) == []


def test_checks_run_in_the_documented_order() -> None:
    """One request breaking every rule; fixing them one by one reveals the next status in order."""
    kit = Kit(market_maker=False, max_open_orders=1)
    kit.order(symbol="TSLA-USD", quantity="1", price="300")  # one open order: the limit is reached
    request = {
        "symbol": "XXX-USD",
        "side": "BUY",
        "order_type": "STOP_MARKET",
        "tif": "FOK",
        "quantity": "0.0005",
        "price": "300.005",
        "take_profit": "270",
    }
    market = kit.ex.market("AAPL-USD")
    fixes = [
        ("BAD_SYMBOL", lambda: request.update(symbol="AAPL-USD")),
        ("INVALID_ORDER_TYPE", lambda: request.update(order_type="ALO")),
        ("INVALID_TIME_IN_FORCE", lambda: request.update(tif="GTC")),
        ("INVALID_TICK_SIZE_PRECISION_PRICE", lambda: request.update(price="300")),
        ("INVALID_TICK_SIZE_PRECISION_QUANTITY", lambda: request.update(quantity="200000")),
        ("QUANTITY_GREATER_THAN_MAX_QUANTITY", lambda: request.update(quantity="40000")),
        (
            "PRICE_GREATER_THAN_MAX_PRICE",
            lambda: (request.update(price="280"), setattr(market, "status", "INACTIVE")),
        ),
        ("REJECTED_MARKET_CLOSED", lambda: setattr(market, "status", "ACTIVE")),
        ("FAILED_MARGIN_CHECK", lambda: request.update(quantity="9000")),  # 9000 x 280 = 2.52M notional
        ("REJECTED_WOULD_BREACH_MAX_NOTIONAL", lambda: request.update(quantity="1")),
        ("REJECTED_TOO_MANY_OPEN_ORDERS", lambda: setattr(kit.ex.config, "max_open_orders", None)),
        ("INVALID_TAKEPROFIT_PRICE", lambda: request.update(take_profit="290")),
    ]
    for expected, fix in fixes:
        r = dict(request)
        out = kit.order(
            symbol=r.pop("symbol"), side=r.pop("side"), order_type=r.pop("order_type"), tif=r.pop("tif"), **r
        )
        assert statuses(out) == [expected]
        fix()
    r = dict(request)
    out = kit.order(
        symbol=r.pop("symbol"), side=r.pop("side"), order_type=r.pop("order_type"), tif=r.pop("tif"), **r
    )
    assert statuses(out) == ["ACK"]


@pytest.mark.parametrize(
    ("order_type", "tif", "status"),
    [
        ("MARKET", "GTC", "INVALID_TIME_IN_FORCE"),
        ("MARKET", "FOK", "INVALID_TIME_IN_FORCE"),
        ("ALO", "IOC", "INVALID_TIME_IN_FORCE"),
        ("ALO", "FOK", "INVALID_TIME_IN_FORCE"),
        ("LIMIT", "GFD", "INVALID_TIME_IN_FORCE"),
        ("STOP_MARKET", "IOC", "INVALID_ORDER_TYPE"),
        ("FOO", "GTC", "INVALID_ORDER_TYPE"),
    ],
)
def test_type_and_time_in_force_table(kit: Kit, order_type: str, tif: str, status: str) -> None:
    assert statuses(kit.order(order_type=order_type, tif=tif, quantity="1", price="200")) == [status]


@pytest.mark.parametrize(
    ("order_type", "tif"),
    [("MARKET", "IOC"), ("LIMIT", "GTC"), ("LIMIT", "IOC"), ("LIMIT", "FOK"), ("ALO", "GTC")],
)
def test_allowed_combinations_are_accepted(kit: Kit, order_type: str, tif: str) -> None:
    assert statuses(kit.order(order_type=order_type, tif=tif, quantity="1", price="200"))[0] == "ACK"


def test_refdata_order_types_restrict_what_a_symbol_accepts() -> None:
    from runner.simulator.config import default_refdata

    refdata = default_refdata()
    refdata[0]["order_types"] = ["LIMIT"]
    kit = Kit(market_maker=False, refdata=refdata)
    assert statuses(kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0")) == [
        "INVALID_ORDER_TYPE"
    ]


@pytest.mark.parametrize(
    ("side", "price", "status"),
    [
        ("BUY", "287.51", "PRICE_GREATER_THAN_MAX_PRICE"),
        ("SELL", "172.49", "PRICE_LESS_THAN_MIN_PRICE"),
        ("BUY", "0", "PRICE_LESS_THAN_MIN_PRICE"),
        ("SELL", "-5", "PRICE_LESS_THAN_MIN_PRICE"),
        ("BUY", "172.49", "ACK"),  # a buy below the band is a passive bid: allowed
        ("SELL", "287.51", "ACK"),
        ("BUY", "287.50", "ACK"),
        ("SELL", "172.50", "ACK"),
    ],
)
def test_price_bands_reject_only_buys_above_and_sells_below(
    kit: Kit, side: str, price: str, status: str
) -> None:
    assert statuses(kit.order(side=side, quantity="1", price=price))[0] == status


@pytest.mark.parametrize(
    ("quantity", "status"),
    [
        ("0.0005", "INVALID_TICK_SIZE_PRECISION_QUANTITY"),
        ("1.0001", "INVALID_TICK_SIZE_PRECISION_QUANTITY"),
        ("0", "QUANTITY_LESS_THAN_MIN_QUANTITY"),
        ("-1", "QUANTITY_LESS_THAN_MIN_QUANTITY"),
        ("100000.001", "QUANTITY_GREATER_THAN_MAX_QUANTITY"),
        ("0.001", "ACK"),
        ("1.000", "ACK"),
    ],
)
def test_lot_and_quantity_limits(kit: Kit, quantity: str, status: str) -> None:
    assert statuses(kit.order(quantity=quantity, price="200"))[0] == status


def test_min_quantity_above_the_lot() -> None:
    from runner.simulator.config import default_refdata

    refdata = default_refdata()
    refdata[0]["min_quantity"] = "0.5"
    kit = Kit(market_maker=False, refdata=refdata)
    assert statuses(kit.order(quantity="0.499", price="200")) == ["QUANTITY_LESS_THAN_MIN_QUANTITY"]
    assert statuses(kit.order(quantity="0.5", price="200")) == ["ACK"]


@pytest.mark.parametrize(
    ("price", "status"),
    [("200.001", "INVALID_TICK_SIZE_PRECISION_PRICE"), ("200.10", "ACK"), ("200.1", "ACK"), ("2E+2", "ACK")],
)
def test_tick_check_is_decimal_exact(kit: Kit, price: str, status: str) -> None:
    assert statuses(kit.order(quantity="1", price=price))[0] == status


def test_fx_tick_of_a_hundred_thousandth() -> None:
    kit = Kit(market_maker=False)
    assert statuses(kit.order(symbol="EUR-USD", quantity="1000", price="1.16001"))[0] == "ACK"
    assert statuses(kit.order(symbol="EUR-USD", quantity="1000", price="1.160005")) == [
        "INVALID_TICK_SIZE_PRECISION_PRICE"
    ]
    assert statuses(kit.order(symbol="EUR-USD", quantity="1000.5", price="1.16")) == [
        "INVALID_TICK_SIZE_PRECISION_QUANTITY"
    ]


def test_market_order_price_is_ignored(kit: Kit) -> None:
    kit.order(side="SELL", quantity="3", price="200", who=kit.bob)
    assert statuses(kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0"))[0] == "ACK"
    assert statuses(kit.order(order_type="MARKET", tif="IOC", quantity="1", price="123.456"))[0] == "ACK"
    assert statuses(kit.order(order_type="MARKET", tif="IOC", quantity="1"))[0] == "ACK"


def test_market_closed_by_status_and_by_market_hours() -> None:
    kit = Kit(market_maker=False)
    kit.ex.market("AAPL-USD").status = "INACTIVE"
    assert statuses(kit.order(quantity="1", price="200")) == ["REJECTED_MARKET_CLOSED"]
    # with hours enforced, a Sunday in New York is outside AAPL's reference hours
    sunday = 1_760_270_400.0  # 2025-10-12T12:00:00Z, a Sunday
    hours = Kit(market_maker=False, enforce_market_hours=True)
    hours.clock.t = sunday
    assert statuses(hours.order(quantity="1", price="200")) == ["REJECTED_MARKET_CLOSED"]
    hours.clock.t = sunday + 86_400  # Monday 08:00 New York
    assert statuses(hours.order(quantity="1", price="200")) == ["ACK"]


def test_failed_margin_check_and_reducing_orders_need_no_margin() -> None:
    small = AccountConfig(
        "qfex_pub_small",
        "qfex_secret_small",
        "5a11e000-0000-4000-8000-000000000001",
        "5a11e000-0000-4000-8000-000000000002",
        [],
        D(1000),
    )
    kit = Kit(market_maker=False, accounts=[small, bob()])
    me = kit.ex.session(small.account_id, small.user_id)
    # 10x leverage: 1000 USD of deposit carries 10,000 USD of open orders
    assert statuses(kit.order(quantity="40", price="200", who=me)) == ["ACK"]  # 800 of margin
    assert statuses(kit.order(quantity="10", price="200", who=me)) == ["ACK"]  # the last 200
    assert statuses(kit.order(quantity="0.001", price="200", who=me)) == ["FAILED_MARGIN_CHECK"]
    assert kit.ex.balance(small.account_id)["order_margin"] == D(1000)
    assert kit.ex.balance(small.account_id)["available_balance"] == 0
    # fill 10 as a long position; a SELL that only reduces it needs no margin
    kit.order(side="SELL", quantity="10", price="200", who=kit.bob)
    assert kit.ex.position(small.account_id, "AAPL-USD")["position"] == D(10)
    assert statuses(kit.order(side="SELL", quantity="10", price="250", who=me)) == ["ACK"]
    assert statuses(kit.order(side="SELL", quantity="0.001", price="250", who=me)) == ["FAILED_MARGIN_CHECK"]


def test_would_breach_max_notional_counts_the_position_and_open_orders(kit: Kit) -> None:
    # equities: 2.5M USD max notional [D:/qfex/risk-limits]
    assert statuses(kit.order(quantity="10000", price="200")) == ["ACK"]  # 2.0M
    assert statuses(kit.order(quantity="2500.001", price="200")) == ["REJECTED_WOULD_BREACH_MAX_NOTIONAL"]
    assert statuses(kit.order(quantity="2500", price="200")) == ["ACK"]  # exactly 2.5M


def test_too_many_open_orders_when_configured() -> None:
    kit = Kit(market_maker=False, max_open_orders=2)
    assert statuses(kit.order(quantity="1", price="200")) == ["ACK"]
    assert statuses(kit.order(quantity="1", price="201")) == ["ACK"]
    assert statuses(kit.order(quantity="1", price="202")) == ["REJECTED_TOO_MANY_OPEN_ORDERS"]


@pytest.mark.parametrize(
    ("side", "tp", "sl", "status"),
    [
        ("BUY", "190", "0", "INVALID_TAKEPROFIT_PRICE"),
        ("BUY", "200", "0", "INVALID_TAKEPROFIT_PRICE"),
        ("BUY", "210.005", "0", "INVALID_TAKEPROFIT_PRICE"),
        ("BUY", "0", "210", "INVALID_STOPLOSS_PRICE"),
        ("BUY", "0", "-1", "INVALID_STOPLOSS_PRICE"),
        ("SELL", "210", "0", "INVALID_TAKEPROFIT_PRICE"),
        ("SELL", "0", "190", "INVALID_STOPLOSS_PRICE"),
        ("BUY", "210", "190", "ACK"),
        ("SELL", "190", "210", "ACK"),
    ],
)
def test_attached_take_profit_and_stop_loss_levels(
    kit: Kit, side: str, tp: str, sl: str, status: str
) -> None:
    out = kit.order(side=side, quantity="1", price="200", take_profit=tp, stop_loss=sl)
    assert statuses(out) == [status]
    if status == "ACK":
        [ack] = responses(out)
        assert ack["take_profit"] == D(tp) and ack["stop_loss"] == D(sl)


def test_market_order_brackets_are_checked_against_the_mark() -> None:
    kit = Kit()
    assert statuses(
        kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0", take_profit="229")
    ) == ["INVALID_TAKEPROFIT_PRICE"]


def test_reduce_only_without_a_position_is_rejected(kit: Kit) -> None:
    assert statuses(kit.order(side="SELL", quantity="1", price="200", reduce_only=True)) == ["REJECTED"]


def test_client_order_ids_are_not_required_to_be_unique(kit: Kit) -> None:
    assert statuses(kit.order(quantity="1", price="200", client_order_id="same")) == ["ACK"]
    assert statuses(kit.order(quantity="1", price="201", client_order_id="same")) == ["ACK"]


def test_client_order_id_length_limit_when_configured() -> None:
    kit = Kit(market_maker=False, max_client_order_id_length=36)
    assert statuses(kit.order(quantity="1", price="200", client_order_id="x" * 36)) == ["ACK"]
    with pytest.raises(CommandError) as err:
        kit.order(quantity="1", price="200", client_order_id="x" * 37)
    assert err.value.error_code == "InvalidParameter" and "36" in err.value.message


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        (
            {"side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC", "quantity": 1, "price": 200},
            "InvalidParameter",
            "symbol",
        ),
        (
            {
                "symbol": "AAPL-USD",
                "side": "LONG",
                "order_type": "LIMIT",
                "order_time_in_force": "GTC",
                "quantity": 1,
                "price": 200,
            },
            "InvalidParameter",
            "side",
        ),
        (
            {"symbol": "AAPL-USD", "side": "BUY", "order_time_in_force": "GTC", "quantity": 1, "price": 200},
            "InvalidParameter",
            "order_type",
        ),
        (
            {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT", "quantity": 1, "price": 200},
            "InvalidParameter",
            "order_time_in_force",
        ),
        (
            {
                "symbol": "AAPL-USD",
                "side": "BUY",
                "order_type": "LIMIT",
                "order_time_in_force": "GTC",
                "price": 200,
            },
            "InvalidParameter",
            "quantity",
        ),
        (
            {
                "symbol": "AAPL-USD",
                "side": "BUY",
                "order_type": "LIMIT",
                "order_time_in_force": "GTC",
                "quantity": "ten",
                "price": 200,
            },
            "InvalidParameter",
            "quantity",
        ),
        (
            {
                "symbol": "AAPL-USD",
                "side": "BUY",
                "order_type": "LIMIT",
                "order_time_in_force": "GTC",
                "quantity": True,
                "price": 200,
            },
            "InvalidParameter",
            "quantity",
        ),
        (
            {
                "symbol": "AAPL-USD",
                "side": "BUY",
                "order_type": "LIMIT",
                "order_time_in_force": "GTC",
                "quantity": 1,
            },
            "InvalidOrder",
            "price",
        ),
        (
            {
                "symbol": "AAPL-USD",
                "side": "BUY",
                "order_type": "TAKE_PROFIT",
                "order_time_in_force": "GTC",
                "quantity": 1,
            },
            "InvalidOrder",
            "trigger",
        ),
        (
            {
                "symbol": "AAPL-USD",
                "side": "BUY",
                "order_type": "LIMIT",
                "order_time_in_force": "GTC",
                "quantity": 1,
                "price": 200,
                "client_order_id": 7,
            },
            "InvalidParameter",
            "client_order_id",
        ),
        (
            {
                "symbol": "AAPL-USD",
                "side": "BUY",
                "order_type": "LIMIT",
                "order_time_in_force": "GTC",
                "quantity": 1,
                "price": 200,
                "reduce_only": "yes",
            },
            "InvalidParameter",
            "reduce_only",
        ),
        (
            {
                "symbol": "AAPL-USD",
                "side": "BUY",
                "order_type": "LIMIT",
                "order_time_in_force": "GTC",
                "quantity": 1,
                "price": "NaN",
            },
            "InvalidParameter",
            "price",
        ),
    ],
)
def test_malformed_orders_raise_command_errors(kit: Kit, params: dict, code: str, words: str) -> None:
    with pytest.raises(CommandError) as err:
        kit.ex.handle(kit.alice, "add_order", params)
    assert err.value.error_code == code
    assert words in err.value.message
    assert kit.ex.orders(DEMO_ACCOUNT_ID) == []


def test_params_must_be_an_object_and_type_known(kit: Kit) -> None:
    with pytest.raises(CommandError) as err:
        kit.ex.handle(kit.alice, "add_order", [1, 2])  # type: ignore[arg-type]
    assert err.value.error_code == "InvalidJSONFormat"
    with pytest.raises(CommandError) as err:
        kit.ex.handle(kit.alice, "add_orders", {})
    assert err.value.error_code == "InvalidJSONFormat"


def test_numbers_as_strings_are_accepted_unless_disabled() -> None:
    params = {
        "symbol": "AAPL-USD",
        "side": "BUY",
        "order_type": "LIMIT",
        "order_time_in_force": "GTC",
        "quantity": "1.5",
        "price": "200.25",
    }
    kit = Kit(market_maker=False)
    [ack] = responses(kit.ex.handle(kit.alice, "add_order", params))
    assert ack["quantity"] == Decimal("1.5") and ack["price"] == Decimal("200.25")
    strict = Kit(market_maker=False, accept_string_numbers=False)
    with pytest.raises(CommandError):
        strict.ex.handle(strict.alice, "add_order", params)


def test_integers_work_as_numbers(kit: Kit) -> None:
    params = {
        "symbol": "AAPL-USD",
        "side": "BUY",
        "order_type": "LIMIT",
        "order_time_in_force": "GTC",
        "quantity": 2,
        "price": 200,
    }
    [ack] = responses(kit.ex.handle(kit.alice, "add_order", params))
    assert ack["quantity"] == 2 and ack["price"] == 200


def test_standalone_stops_enforce_lot_but_not_min_max_quantity_or_bands() -> None:
    kit = Kit(market_maker=False, stop_cap_policy="off")
    assert statuses(
        kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="200000", price="1000")
    ) == ["ACK"]
    assert statuses(
        kit.order(side="SELL", order_type="STOP_LOSS", tif="FOO", quantity="0.0005", price="100")
    ) == ["INVALID_TICK_SIZE_PRECISION_QUANTITY"]
    assert statuses(
        kit.order(side="SELL", order_type="STOP_LOSS", tif="IOC", quantity="1", price="100.001")
    ) == ["INVALID_TICK_SIZE_PRECISION_PRICE"]
    assert statuses(
        kit.order(
            side="SELL", order_type="STOP_LOSS", tif="IOC", quantity="1", price="100", take_profit="120"
        )
    ) == ["INVALID_TAKEPROFIT_PRICE"]
