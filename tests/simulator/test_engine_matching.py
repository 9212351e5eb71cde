"""Matching: price-time priority, partial fills, MARKET/IOC/FOK/GTC/ALO, STP, speed bump, messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runner.simulator.marketmaker import MM_ACCOUNT_ID
from tests.simulator.engine_kit import (
    BOB_ACCOUNT,
    DEMO_ACCOUNT_ID,
    FILL_RESPONSE_FIELDS,
    ORDER_RESPONSE_FIELDS,
    D,
    Kit,
    fills,
    is_uuid4,
    responses,
    statuses,
)


@pytest.fixture
def kit() -> Kit:
    return Kit(market_maker=False)


def test_gtc_limit_is_acked_with_the_documented_fields_and_rests(kit: Kit) -> None:
    out = kit.order(quantity="1", price="200", client_order_id="my-order-123")
    [ack] = responses(out)
    assert list(ack) == ORDER_RESPONSE_FIELDS
    assert ack["status"] == "ACK"
    assert is_uuid4(ack["order_id"])
    assert (ack["symbol"], ack["side"], ack["type"]) == ("AAPL-USD", "BUY", "LIMIT")
    assert ack["time_in_force"] == "GTC"
    assert ack["quantity"] == D(1) and ack["price"] == D(200) and ack["quantity_remaining"] == D(1)
    assert ack["take_profit"] == 0 and ack["stop_loss"] == 0
    assert ack["client_order_id"] == "my-order-123"
    assert ack["user_id"] == kit.alice.user_id
    assert ack["update_time"] == kit.clock.t and isinstance(ack["update_time"], float)
    assert ack["trade_id"] is None
    assert [o.channel for o in out] == ["order_responses"] and out[0].to == "account"
    assert out[0].account_id == DEMO_ACCOUNT_ID
    assert kit.ex.book("AAPL-USD")["bids"] == [(D(200), D(1))]


def test_empty_client_order_id_gets_a_generated_one(kit: Kit) -> None:
    [ack] = responses(kit.order(price="200"))
    assert is_uuid4(ack["client_order_id"])


def test_partial_fills_one_filled_response_and_fill_per_execution(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    kit.order(side="SELL", quantity="2", price="201", who=kit.bob)
    out = kit.order(side="BUY", quantity="5", price="201", client_order_id="taker")
    taker = [r for r in responses(out) if r["client_order_id"] == "taker"]
    assert [r["status"] for r in taker] == ["ACK", "FILLED", "FILLED"]
    assert [r["quantity_remaining"] for r in taker] == [D(5), D(4), D(2)]
    trade_ids = [r["trade_id"] for r in taker[1:]]
    assert len(set(trade_ids)) == 2 and all(is_uuid4(t) for t in trade_ids)
    taker_fills = [f for f in fills(out) if f["client_order_id"] == "taker"]
    assert [(f["price"], f["quantity"], f["remaining_quantity"]) for f in taker_fills] == [
        (D(200), D(1), D(4)),
        (D(201), D(2), D(2)),
    ]
    assert [f["trade_id"] for f in taker_fills] == trade_ids
    # the remaining 2 rest as a GTC bid at 201
    assert kit.ex.book("AAPL-USD") == {"bids": [(D(201), D(2))], "asks": []}


def test_fill_response_has_every_documented_field(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    out = kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0", client_order_id="mkt")
    [mine] = [f for f in fills(out) if f["user_id"] == kit.alice.user_id]
    assert list(mine) == FILL_RESPONSE_FIELDS
    assert mine["side"] == "BUY" and mine["aggressor_side"] == "BUY"
    assert mine["order_type"] == "MARKET" and mine["tif"] == "IOC" and mine["order_price"] == 0
    assert mine["fee"] == D("200") * D("0.0002")  # taker fee rate
    assert mine["remaining_quantity"] == 0 and mine["realised_pnl"] == 0
    assert mine["execution_type"] == "NEW" and mine["timestamp"] == kit.clock.t
    [theirs] = [f for f in fills(out) if f["user_id"] != kit.alice.user_id]
    assert theirs["side"] == "SELL" and theirs["aggressor_side"] == "BUY"
    assert theirs["fee"] == D("200") * D("0.0001")  # maker fee rate
    assert theirs["trade_id"] == mine["trade_id"]
    assert {o.channel for o in out if "fill_response" in o.message} == {"fills"}


def test_price_time_priority(kit: Kit) -> None:
    first = responses(kit.order(side="SELL", quantity="1", price="201", who=kit.bob, client_order_id="a"))[0]
    second = responses(kit.order(side="SELL", quantity="1", price="201", who=kit.bob, client_order_id="b"))[0]
    better = responses(kit.order(side="SELL", quantity="1", price="200", who=kit.bob, client_order_id="c"))[0]
    out = kit.order(side="BUY", quantity="2", price="201")
    maker_fills = [f["order_id"] for f in fills(out) if f["user_id"] != kit.alice.user_id]
    assert maker_fills == [better["order_id"], first["order_id"]]
    assert [o["order_id"] for o in kit.ex.orders(BOB_ACCOUNT)] == [second["order_id"]]


def test_ioc_partial_fill_is_filled_with_remaining_and_nothing_rests(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    out = kit.order(tif="IOC", quantity="3", price="200")
    mine = [r for r in responses(out) if r["user_id"] == kit.alice.user_id]
    assert [r["status"] for r in mine] == ["ACK", "FILLED"]
    assert mine[-1]["quantity_remaining"] == D(2)
    assert kit.ex.orders(DEMO_ACCOUNT_ID) == []
    assert kit.ex.book("AAPL-USD") == {"bids": [], "asks": []}


def test_ioc_with_nothing_to_trade_is_cancelled(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="205", who=kit.bob)
    assert statuses(kit.order(tif="IOC", quantity="1", price="200")) == ["ACK", "CANCELLED"]
    assert kit.ex.orders(DEMO_ACCOUNT_ID) == []


def test_market_order_walks_the_book(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    kit.order(side="SELL", quantity="1", price="210", who=kit.bob)
    out = kit.order(order_type="MARKET", tif="IOC", quantity="2", price="0")
    mine = [f for f in fills(out) if f["user_id"] == kit.alice.user_id]
    assert [f["price"] for f in mine] == [D(200), D(210)]
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["average_price"] == D(205)


def test_market_order_with_empty_book_is_cancelled(kit: Kit) -> None:
    out = kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0")
    assert statuses(out) == ["ACK", "CANCELLED"]


def test_market_order_does_not_trade_beyond_the_price_band(kit: Kit) -> None:
    kit.ex.market("AAPL-USD").max_price = D(205)  # band moved down while an ask rests above it
    kit.order(side="SELL", quantity="1", price="204", who=kit.bob)
    kit.order(side="SELL", quantity="1", price="206", who=kit.bob)
    out = kit.order(order_type="MARKET", tif="IOC", quantity="2", price="0")
    mine = [r for r in responses(out) if r["user_id"] == kit.alice.user_id]
    assert [r["status"] for r in mine] == ["ACK", "FILLED"] and mine[-1]["quantity_remaining"] == D(1)


def test_fok_is_all_or_nothing(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    kit.order(side="SELL", quantity="1", price="201", who=kit.bob)
    assert statuses(kit.order(tif="FOK", quantity="3", price="201")) == ["ACK", "CANCELLED"]
    assert len(kit.ex.orders(BOB_ACCOUNT)) == 2  # nothing traded
    out = kit.order(tif="FOK", quantity="2", price="201")
    mine = [r for r in responses(out) if r["user_id"] == kit.alice.user_id]
    assert [r["status"] for r in mine] == ["ACK", "FILLED", "FILLED"] and mine[-1]["quantity_remaining"] == 0


def test_fok_limit_price_respected(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    kit.order(side="SELL", quantity="1", price="202", who=kit.bob)
    assert statuses(kit.order(tif="FOK", quantity="2", price="201")) == ["ACK", "CANCELLED"]


def test_alo_resting_and_crossing(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="201", who=kit.bob)
    assert statuses(kit.order(order_type="ALO", quantity="1", price="200")) == ["ACK"]
    out = kit.order(order_type="ALO", quantity="1", price="201")
    assert statuses(out) == ["ACK", "CANCELLED"]  # "cancelled instead" [D:/qfex/order-types.md]
    assert fills(out) == []


def test_alo_cross_status_is_configurable() -> None:
    kit = Kit(market_maker=False, alo_cross_status="REJECTED")  # the older enums page's reading
    kit.order(side="SELL", quantity="1", price="201", who=kit.bob)
    assert statuses(kit.order(order_type="ALO", quantity="1", price="202")) == ["ACK", "REJECTED"]


def test_self_trade_prevention_cancels_the_resting_order(kit: Kit) -> None:
    resting = responses(kit.order(side="SELL", quantity="1", price="200", client_order_id="mine"))[0]
    kit.order(side="SELL", quantity="1", price="201", who=kit.bob)
    out = kit.order(side="BUY", quantity="1", price="201", client_order_id="taker")
    rs = responses(out)
    stp = [r for r in rs if r["order_id"] == resting["order_id"]]
    assert [r["status"] for r in stp] == ["CANCELLED_STP"]
    taker = [r for r in rs if r["client_order_id"] == "taker"]
    assert [r["status"] for r in taker] == ["ACK", "FILLED"]
    assert [f["price"] for f in fills(out) if f["user_id"] == kit.alice.user_id] == [D(201)]


def test_subaccounts_are_separate_for_stp() -> None:
    from tests.simulator.engine_kit import BOB_SUB, BOB_USER

    kit = Kit(market_maker=False)
    sub = kit.ex.session(BOB_SUB, BOB_USER)
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    out = kit.order(side="BUY", quantity="1", price="200", who=sub)
    assert "FILLED" in statuses(out)
    assert kit.ex.position(BOB_SUB, "AAPL-USD")["position"] == 1
    assert kit.ex.position(BOB_ACCOUNT, "AAPL-USD")["position"] == -1


def test_speed_bump_holds_limit_orders_but_not_market_orders() -> None:
    kit = Kit(market_maker=False, speed_bump_ms=100)
    out = kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    assert statuses(out) == ["ACK"]
    assert kit.ex.book("AAPL-USD")["asks"] == []  # acknowledged, not yet on the book
    assert kit.ex.next_deadline() == pytest.approx(kit.clock.t + 0.1)
    assert kit.advance(0.05) == []
    kit.advance(0.05)
    assert kit.ex.book("AAPL-USD")["asks"] == [(D(200), D(1))]
    out = kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0")
    assert statuses(out) == ["ACK", "FILLED", "FILLED"]  # immediate, no bump


def test_speed_bumped_order_is_listed_and_cancellable() -> None:
    kit = Kit(market_maker=False, speed_bump_ms=100)
    [ack] = responses(kit.order(price="200"))
    assert [o["order_id"] for o in kit.ex.orders(DEMO_ACCOUNT_ID)] == [ack["order_id"]]
    out = kit.send(
        "cancel_order", symbol="AAPL-USD", order_id=ack["order_id"], cancel_order_id_type="order_id"
    )
    assert statuses(out) == ["CANCELLED"]
    assert kit.advance(1) == []
    assert kit.ex.book("AAPL-USD")["bids"] == []


def test_ioc_limit_after_speed_bump_reports_its_fill_on_release() -> None:
    kit = Kit(market_maker=False, speed_bump_ms=100)
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    kit.advance(0.1)
    assert statuses(kit.order(tif="IOC", quantity="1", price="200")) == ["ACK"]
    released = kit.advance(0.1)
    assert [r["status"] for r in responses(released) if r["user_id"] == kit.alice.user_id] == ["FILLED"]


def test_positions_and_realised_pnl(kit: Kit) -> None:
    kit.order(side="SELL", quantity="2", price="200", who=kit.bob)
    kit.order(quantity="2", price="200")
    kit.order(side="BUY", quantity="1", price="210", who=kit.bob)
    out = kit.order(side="SELL", quantity="1", price="210")
    [mine] = [f for f in fills(out) if f["user_id"] == kit.alice.user_id]
    assert mine["realised_pnl"] == D(10)
    pos = kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")
    assert pos["position"] == D(1) and pos["average_price"] == D(200) and pos["realised_pnl"] == D(10)
    bob_pos = kit.ex.position(BOB_ACCOUNT, "AAPL-USD")
    assert bob_pos["position"] == D(-1) and bob_pos["realised_pnl"] == D(-10)


def test_position_flip_opens_remainder_at_fill_price(kit: Kit) -> None:
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    kit.order(quantity="1", price="200")
    kit.order(side="BUY", quantity="3", price="190", who=kit.bob)
    kit.order(side="SELL", quantity="3", price="190")
    pos = kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")
    assert pos["position"] == D(-2) and pos["average_price"] == D(190) and pos["realised_pnl"] == D(-10)


def test_decimal_exact_lot_arithmetic(kit: Kit) -> None:
    kit.order(side="SELL", quantity="0.1", price="200", who=kit.bob)
    kit.order(side="SELL", quantity="0.2", price="200", who=kit.bob)
    out = kit.order(quantity="0.3", price="200")
    mine = [r for r in responses(out) if r["user_id"] == kit.alice.user_id]
    assert mine[-1]["quantity_remaining"] == 0 and str(mine[-1]["quantity_remaining"]) in ("0.0", "0")
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["position"] == Decimal("0.3")


# --- synthetic liquidity --------------------------------------------------------------------------


def test_market_maker_quotes_a_two_sided_ladder_around_the_underlier() -> None:
    kit = Kit()
    book = kit.ex.book("AAPL-USD")
    assert len(book["bids"]) == 5 and len(book["asks"]) == 5
    assert book["bids"][0][0] < D(230) < book["asks"][0][0]
    assert book["asks"][0][0] - book["bids"][0][0] <= D("0.2")
    assert book["asks"][0][1] < book["asks"][-1][1]  # deeper levels are larger
    assert kit.ex.mark("AAPL-USD") == (book["bids"][0][0] + book["asks"][0][0]) / 2
    for symbol in ("EUR-USD", "US100-USD", "SILVER-USD"):
        assert kit.ex.book(symbol)["bids"] and kit.ex.book(symbol)["asks"]


def test_market_maker_is_identical_for_a_seed_and_differs_across_seeds() -> None:
    assert Kit(seed=1).ex.book("AAPL-USD") == Kit(seed=1).ex.book("AAPL-USD")
    assert Kit(seed=1).ex.book("AAPL-USD") != Kit(seed=2).ex.book("AAPL-USD")


def test_large_market_order_partially_fills_and_large_fok_is_cancelled() -> None:
    kit = Kit()
    depth = sum(q for _, q in kit.ex.book("AAPL-USD")["asks"])
    assert statuses(kit.order(tif="FOK", quantity=str(depth + 1), price="287.50")) == ["ACK", "CANCELLED"]
    out = kit.order(order_type="MARKET", tif="IOC", quantity=str(depth + 1), price="0")
    mine = responses(out)
    assert mine[0]["status"] == "ACK" and all(r["status"] == "FILLED" for r in mine[1:])
    assert mine[-1]["quantity_remaining"] == D(1)
    assert len(mine) == 1 + 5  # one FILLED per level
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["position"] == depth
    assert kit.ex.book("AAPL-USD")["asks"] == []


def test_market_maker_replenishes_after_it_trades() -> None:
    kit = Kit(mm_replenish_ms=100)
    before = kit.ex.book("AAPL-USD")
    kit.order(order_type="MARKET", tif="IOC", quantity="10", price="0")
    assert kit.ex.book("AAPL-USD")["asks"][0][1] < before["asks"][0][1]
    assert kit.ex.next_deadline() == pytest.approx(kit.clock.t + 0.1)
    kit.advance(0.1)
    after = kit.ex.book("AAPL-USD")
    assert len(after["asks"]) == 5 and [p for p, _ in after["asks"]] == [p for p, _ in before["asks"]]


def test_market_maker_orders_are_not_the_users() -> None:
    kit = Kit()
    assert kit.ex.orders(DEMO_ACCOUNT_ID) == []
    assert all(o["user_id"] != kit.alice.user_id for o in kit.ex.orders(MM_ACCOUNT_ID))
    # a user trading against the maker is not self-trade prevented
    assert "FILLED" in statuses(kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0"))


def test_moving_the_mid_fills_resting_orders_the_market_crosses() -> None:
    kit = Kit()
    [ack] = responses(kit.order(quantity="1", price="220.00", client_order_id="dip"))
    kit.ex.set_mid("AAPL-USD", "219.50")
    out = kit.ex.on_time()
    mine = responses(out)
    assert [(r["status"], r["order_id"]) for r in mine] == [("FILLED", ack["order_id"])]
    [fill] = fills(out)
    assert fill["price"] == D("220.00") and fill["aggressor_side"] == "SELL"  # filled at our price, as maker
    assert fill["fee"] == D("220.00") * D("0.0001")


def test_ids_are_deterministic_for_a_seed() -> None:
    def ids(seed: int) -> list[str]:
        kit = Kit(seed=seed)
        out = kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0")
        return [r["order_id"] for r in responses(out)] + [f["trade_id"] for f in fills(out)]

    assert ids(3) == ids(3)
    assert ids(3) != ids(4)
