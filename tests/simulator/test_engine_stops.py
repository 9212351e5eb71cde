"""Stop orders: attached brackets, standalone TAKE_PROFIT/STOP_LOSS, triggers, OCO, the position cap."""

from __future__ import annotations

import pytest

from tests.simulator.engine_kit import (
    DEMO_ACCOUNT_ID,
    ORDER_RESPONSE_FIELDS,
    D,
    Kit,
    caller,
    fills,
    is_uuid4,
    responses,
    statuses,
    stop_messages,
)

STOP_ORDER_FIELDS = [
    "stop_order_id",
    "user_id",
    "symbol",
    "price",
    "quantity",
    "direction",
    "stop_order_type",
    "client_order_id",
    "update_time",
]


def long_position(kit: Kit, qty: str = "10") -> None:
    out = kit.order(order_type="MARKET", tif="IOC", quantity=qty, price="0")
    assert statuses(out)[-1] == "FILLED"


def short_position(kit: Kit, qty: str = "10") -> None:
    out = kit.order(side="SELL", order_type="MARKET", tif="IOC", quantity=qty, price="0")
    assert statuses(out)[-1] == "FILLED"


def position(kit: Kit) -> object:
    return kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["position"]


def open_types(kit: Kit) -> list[tuple[str, str]]:
    return [(o["type"], o["side"]) for o in kit.ex.orders(DEMO_ACCOUNT_ID)]


# --- attached brackets ----------------------------------------------------------------------------


def test_attached_bracket_is_staged_until_the_entry_fills() -> None:
    kit = Kit(market_maker=False)
    entry = responses(
        kit.order(quantity="2", price="200", take_profit="220", stop_loss="190", client_order_id="entry-1")
    )[0]
    assert open_types(kit) == [("LIMIT", "BUY")]  # no stop orders yet
    out = kit.order(side="SELL", quantity="2", price="200", who=kit.bob)
    created = [r for r in responses(out) if r["type"] in ("TAKE_PROFIT", "STOP_LOSS")]
    assert [(r["status"], r["type"], r["side"], r["price"], r["quantity"]) for r in created] == [
        ("ACK", "TAKE_PROFIT", "SELL", D(220), D(2)),
        ("ACK", "STOP_LOSS", "SELL", D(190), D(2)),
    ]
    for r in created:
        assert list(r) == ORDER_RESPONSE_FIELDS
        assert is_uuid4(r["order_id"]) and r["order_id"] != entry["order_id"]
        assert r["client_order_id"] == "entry-1"  # how a client learns the ids of its attached stops
        assert r["quantity_remaining"] == D(2) and r["take_profit"] == 0 and r["stop_loss"] == 0
    msgs = stop_messages(out)
    assert [list(m) for m in msgs] == [STOP_ORDER_FIELDS, STOP_ORDER_FIELDS]
    assert [
        (m["stop_order_id"], m["direction"], m["stop_order_type"], m["price"], m["quantity"]) for m in msgs
    ] == [
        (created[0]["order_id"], "SELL", "TAKE_PROFIT", D(220), D(2)),
        (created[1]["order_id"], "SELL", "STOP_LOSS", D(190), D(2)),
    ]
    assert msgs[0]["update_time"].endswith("+00:00") and "T" in msgs[0]["update_time"]
    assert {o.channel for o in out if "stop_order_response" in o.message} == {"stop_orders"}
    assert open_types(kit) == [("TAKE_PROFIT", "SELL"), ("STOP_LOSS", "SELL")]


def test_attached_stops_grow_with_partial_fills() -> None:
    kit = Kit(market_maker=False)
    kit.order(quantity="3", price="200", take_profit="220", client_order_id="e")
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    out = kit.order(side="SELL", quantity="2", price="200", who=kit.bob)
    tp = [r for r in responses(out) if r["type"] == "TAKE_PROFIT"]
    assert [(r["status"], r["quantity"]) for r in tp] == [("MODIFIED", D(3))]
    assert [m["quantity"] for m in stop_messages(out)] == [D(3)]
    [stop] = [o for o in kit.ex.orders(DEMO_ACCOUNT_ID) if o["type"] == "TAKE_PROFIT"]
    assert stop["quantity"] == D(3)


def test_take_profit_triggers_on_the_mark_executes_at_market_and_cancels_the_stop_loss() -> None:
    kit = Kit()
    kit.order(
        order_type="MARKET",
        tif="IOC",
        quantity="10",
        price="0",
        take_profit="240",
        stop_loss="220",
        client_order_id="bracket",
    )
    tp_id, sl_id = (o["order_id"] for o in kit.ex.orders(DEMO_ACCOUNT_ID))
    kit.ex.set_mid("AAPL-USD", "239.90")
    assert [o["order_id"] for o in kit.ex.orders(DEMO_ACCOUNT_ID)] == [tp_id, sl_id]  # 239.85 < 240
    kit.ex.set_mid("AAPL-USD", "241.00")
    out = kit.ex.on_time()
    rs = responses(out)
    assert [(r["order_id"], r["status"], r["type"]) for r in rs] == [
        (tp_id, "FILLED", "TAKE_PROFIT"),
        (sl_id, "CANCELLED", "STOP_LOSS"),
    ]
    assert rs[0]["time_in_force"] == "IOC" and rs[0]["side"] == "SELL" and rs[0]["quantity_remaining"] == 0
    assert rs[1]["quantity"] == 0
    [fill] = fills(out)
    assert fill["order_id"] == tp_id and fill["order_type"] == "TAKE_PROFIT" and fill["price"] == D("240.95")
    assert fill["realised_pnl"] == (D("240.95") - D("230.05")) * 10
    assert position(kit) == 0
    assert kit.ex.orders(DEMO_ACCOUNT_ID) == []
    assert [(m["stop_order_id"], m["quantity"]) for m in stop_messages(out)] == [(tp_id, 0), (sl_id, 0)]


def test_stop_loss_triggers_and_cancels_the_take_profit() -> None:
    kit = Kit()
    kit.order(order_type="MARKET", tif="IOC", quantity="10", price="0", take_profit="240", stop_loss="220")
    tp_id, sl_id = (o["order_id"] for o in kit.ex.orders(DEMO_ACCOUNT_ID))
    kit.ex.set_mid("AAPL-USD", "219")
    rs = responses(kit.ex.on_time())
    assert [(r["order_id"], r["status"]) for r in rs] == [(sl_id, "FILLED"), (tp_id, "CANCELLED")]
    assert position(kit) == 0


@pytest.mark.parametrize(
    ("stop_type", "side", "no_trigger", "trigger"),
    [
        ("TAKE_PROFIT", "SELL", "239.99", "240"),  # long: TP when mark >= trigger
        ("STOP_LOSS", "SELL", "240.01", "240"),  # long: SL when mark <= trigger
        ("TAKE_PROFIT", "BUY", "240.01", "240"),  # short: TP when mark <= trigger
        ("STOP_LOSS", "BUY", "239.99", "240"),  # short: SL when mark >= trigger
    ],
)
def test_trigger_directions(stop_type: str, side: str, no_trigger: str, trigger: str) -> None:
    kit = Kit()
    (long_position if side == "SELL" else short_position)(kit)
    kit.ex.set_mark("AAPL-USD", no_trigger)
    out = kit.order(side=side, order_type=stop_type, tif="GTC", quantity="10", price="240")
    assert statuses(out) == ["ACK"]
    kit.ex.set_mark("AAPL-USD", trigger)
    rs = responses(kit.ex.on_time())
    assert [(r["type"], r["status"]) for r in rs] == [(stop_type, "FILLED")]
    assert position(kit) == 0


def test_a_stop_already_in_the_money_fires_at_once() -> None:
    kit = Kit()
    long_position(kit)
    out = kit.order(side="SELL", order_type="STOP_LOSS", tif="IOC", quantity="10", price="231")
    assert statuses(out) == ["ACK", "FILLED"]


def test_stop_execution_is_reduce_only() -> None:
    kit = Kit(stop_cap_policy="off")
    long_position(kit, "4")
    kit.order(side="SELL", order_type="STOP_LOSS", tif="IOC", quantity="10", price="220")
    kit.ex.set_mid("AAPL-USD", "219")
    rs = responses(kit.ex.on_time())
    assert [(r["status"], r["quantity"], r["quantity_remaining"]) for r in rs] == [("FILLED", D(4), D(0))]
    assert position(kit) == 0


def test_stop_with_nothing_to_reduce_is_cancelled_when_triggered() -> None:
    kit = Kit(stop_cap_policy="off")
    kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="1", price="240")
    kit.ex.set_mid("AAPL-USD", "241")
    assert statuses(kit.ex.on_time()) == ["CANCELLED"]
    assert position(kit) == 0


def test_triggered_stop_without_liquidity_is_cancelled() -> None:
    kit = Kit(market_maker=False)
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    kit.order(quantity="1", price="200")
    kit.order(side="SELL", order_type="STOP_LOSS", tif="IOC", quantity="1", price="190")
    kit.ex.set_mark("AAPL-USD", "189")
    assert statuses(kit.ex.on_time()) == ["CANCELLED"]
    assert position(kit) == 1


# --- standalone stops and the position cap ---------------------------------------------------------


def test_standalone_stop_ack_shape_and_listing() -> None:
    kit = Kit()
    long_position(kit)
    out = kit.order(
        side="SELL",
        order_type="TAKE_PROFIT",
        tif="GTC",
        quantity="4",
        price="250",
        client_order_id="tp-1",
        reduce_only=True,
    )
    [ack] = responses(out)
    assert (ack["status"], ack["type"], ack["side"], ack["price"], ack["quantity"]) == (
        "ACK",
        "TAKE_PROFIT",
        "SELL",
        D(250),
        D(4),
    )
    assert ack["client_order_id"] == "tp-1" and ack["time_in_force"] == "GTC"
    [msg] = stop_messages(out)
    assert msg["stop_order_id"] == ack["order_id"] and msg["stop_order_type"] == "TAKE_PROFIT"
    [listed] = caller(kit.send("get_user_orders"))[0]["all_orders_response"]["orders"]
    assert listed["order_id"] == ack["order_id"] and listed["type"] == "TAKE_PROFIT"


def test_stop_without_a_position_is_rejected_by_the_cap() -> None:
    kit = Kit()
    assert statuses(
        kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="1", price="240")
    ) == ["REJECTED"]
    long_position(kit)
    # a BUY stop would reduce a short, and there is none
    assert statuses(kit.order(side="BUY", order_type="STOP_LOSS", tif="GTC", quantity="1", price="240")) == [
        "REJECTED"
    ]


def test_cap_is_per_stop_type() -> None:
    kit = Kit()
    long_position(kit)
    assert statuses(
        kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="6", price="240")
    ) == ["ACK"]
    assert statuses(
        kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="4", price="245")
    ) == ["ACK"]
    assert statuses(
        kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="0.001", price="250")
    ) == ["REJECTED"]
    # stop-losses are counted separately: each may cover the whole position
    assert statuses(
        kit.order(side="SELL", order_type="STOP_LOSS", tif="GTC", quantity="10", price="220")
    ) == ["ACK"]


def test_cap_policy_cancel_others_cancels_the_oldest() -> None:
    kit = Kit(stop_cap_policy="cancel_others")
    long_position(kit)
    first = responses(kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="6", price="240"))[
        0
    ]
    second = responses(
        kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="4", price="245")
    )[0]
    out = kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="5", price="250")
    rs = responses(out)
    assert [(r["order_id"], r["status"]) for r in rs[:1]] == [(first["order_id"], "CANCELLED")]
    assert rs[-1]["status"] == "ACK"
    assert [o["order_id"] for o in kit.ex.orders(DEMO_ACCOUNT_ID)] == [second["order_id"], rs[-1]["order_id"]]
    # larger than the whole position: rejected even under cancel_others
    assert statuses(
        kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="11", price="250")
    ) == ["REJECTED"]


# --- cancel / modify stop orders -------------------------------------------------------------------


def test_cancel_stop_order() -> None:
    kit = Kit(stop_ops_ack=False)  # the docs pages' reply: the order_response only
    long_position(kit)
    [ack] = responses(kit.order(side="SELL", order_type="STOP_LOSS", tif="GTC", quantity="10", price="220"))
    out = kit.send("cancel_stop_order", stop_order_id=ack["order_id"])
    [r] = responses(out)
    assert (r["order_id"], r["status"], r["type"], r["quantity"], r["quantity_remaining"], r["price"]) == (
        ack["order_id"],
        "CANCELLED",
        "STOP_LOSS",
        0,
        0,
        D(220),
    )
    assert [m["quantity"] for m in stop_messages(out)] == [0]
    assert kit.ex.orders(DEMO_ACCOUNT_ID) == []
    assert caller(out) == []  # no ack in the docs-page dialect
    assert statuses(kit.send("cancel_stop_order", stop_order_id=ack["order_id"])) == ["NO_SUCH_ORDER"]


def test_cancel_stop_order_can_also_ack() -> None:
    kit = Kit(stop_ops_ack=True)
    long_position(kit)
    [ack] = responses(kit.order(side="SELL", order_type="STOP_LOSS", tif="GTC", quantity="10", price="220"))
    out = kit.send("cancel_stop_order", stop_order_id=ack["order_id"])
    assert caller(out) == [
        {
            "ack": {
                "incoming_message": {
                    "type": "cancel_stop_order",
                    "params": {"stop_order_id": ack["order_id"]},
                }
            }
        }
    ]


def test_modify_stop_order_four_field_variant() -> None:
    kit = Kit()
    long_position(kit)
    [ack] = responses(kit.order(side="SELL", order_type="STOP_LOSS", tif="GTC", quantity="10", price="220"))
    out = kit.send(
        "modify_stop_order", stop_order_id=ack["order_id"], symbol="AAPL-USD", price="225", quantity="5"
    )
    [r] = responses(out)
    assert (r["status"], r["price"], r["quantity"], r["type"]) == ("MODIFIED", D(225), D(5), "STOP_LOSS")
    [msg] = stop_messages(out)
    assert (msg["price"], msg["quantity"]) == (D(225), D(5))
    kit.ex.set_mid("AAPL-USD", "224")
    rs = responses(kit.ex.on_time())
    assert [(r["status"], r["quantity"]) for r in rs] == [("FILLED", D(5))]
    assert position(kit) == 5


def test_modify_stop_order_side_and_type_variant() -> None:
    kit = Kit()
    long_position(kit)
    [ack] = responses(kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="10", price="240"))
    base = {"stop_order_id": ack["order_id"], "symbol": "AAPL-USD"}
    assert statuses(
        kit.send("modify_stop_order", **base, side="SELL", order_type="TAKE_PROFIT", price="245")
    ) == ["MODIFIED"]
    assert statuses(
        kit.send("modify_stop_order", **base, side="BUY", order_type="TAKE_PROFIT", price="245")
    ) == ["CANNOT_MODIFY_NO_SUCH_ORDER"]
    assert statuses(
        kit.send("modify_stop_order", **base, side="SELL", order_type="STOP_LOSS", price="245")
    ) == ["CANNOT_MODIFY_NO_SUCH_ORDER"]
    assert statuses(kit.send("modify_stop_order", **base, price="245.001")) == [
        "INVALID_TICK_SIZE_PRECISION_PRICE"
    ]
    assert statuses(kit.send("modify_stop_order", **base, quantity="10.0001")) == [
        "INVALID_TICK_SIZE_PRECISION_QUANTITY"
    ]
    assert statuses(kit.send("modify_stop_order", **base, quantity="11")) == ["REJECTED"]  # the position cap
    assert statuses(kit.send("modify_stop_order", **base, price="1000")) == ["MODIFIED"]  # no price bands
    assert statuses(kit.send("modify_stop_order", stop_order_id="nope", symbol="AAPL-USD", price="1")) == [
        "CANNOT_MODIFY_NO_SUCH_ORDER"
    ]


def test_modify_stop_order_needs_something_to_change() -> None:
    from runner.simulator.errors import CommandError

    kit = Kit()
    with pytest.raises(CommandError):
        kit.send("modify_stop_order", stop_order_id="x", symbol="AAPL-USD")


def test_cancel_order_by_id_cancels_a_stop_but_by_client_id_leaves_stops() -> None:
    kit = Kit()
    long_position(kit)
    [sl] = responses(
        kit.order(
            side="SELL",
            order_type="STOP_LOSS",
            tif="GTC",
            quantity="10",
            price="220",
            client_order_id="shared",
        )
    )
    kit.order(side="SELL", quantity="1", price="260", client_order_id="shared")
    out = kit.send(
        "cancel_order", symbol="AAPL-USD", order_id="shared", cancel_order_id_type="client_order_id"
    )
    assert [r["type"] for r in responses(out)] == ["LIMIT"]
    assert [o["order_id"] for o in kit.ex.orders(DEMO_ACCOUNT_ID)] == [sl["order_id"]]
    out = kit.send(
        "cancel_order", symbol="AAPL-USD", order_id=sl["order_id"], cancel_order_id_type="order_id"
    )
    assert statuses(out) == ["CANCELLED"]


def test_cancel_all_orders_includes_stops_unless_configured() -> None:
    for include, left in ((True, []), (False, ["STOP_LOSS"])):
        kit = Kit(cancel_all_includes_stops=include)
        long_position(kit)
        kit.order(side="SELL", order_type="STOP_LOSS", tif="GTC", quantity="10", price="220")
        kit.order(side="SELL", quantity="1", price="260")
        kit.send("cancel_all_orders")
        assert [o["type"] for o in kit.ex.orders(DEMO_ACCOUNT_ID)] == left


def test_bracket_stop_legs_are_listed_by_get_order() -> None:
    kit = Kit()
    kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0", take_profit="240")
    [tp] = kit.ex.orders(DEMO_ACCOUNT_ID)
    [reply] = caller(kit.send("get_order", symbol="AAPL-USD", order_id=tp["order_id"]))
    assert reply["order_response"]["type"] == "TAKE_PROFIT"  # live dialect
    docs = Kit(get_order_reply="all_orders_response")
    docs.order(order_type="MARKET", tif="IOC", quantity="1", price="0", take_profit="240")
    [tp] = docs.ex.orders(DEMO_ACCOUNT_ID)
    [reply] = caller(docs.send("get_order", symbol="AAPL-USD", order_id=tp["order_id"]))
    assert reply["all_orders_response"]["orders"][0]["type"] == "TAKE_PROFIT"  # docs-page dialect


def test_a_new_best_bid_moves_the_mark_and_can_trigger_a_stop() -> None:
    kit = Kit(market_maker=False, stop_cap_policy="off")
    kit.order(side="SELL", quantity="1", price="200", who=kit.bob)
    kit.order(quantity="1", price="200")  # long 1, last trade 200
    kit.order(side="SELL", quantity="5", price="230", who=kit.bob)
    kit.order(quantity="5", price="100", who=kit.bob)
    kit.order(side="SELL", order_type="TAKE_PROFIT", tif="GTC", quantity="1", price="210")
    assert kit.ex.mark("AAPL-USD") == D(200)  # median(100, 230, 200)
    out = kit.order(quantity="1", price="215", who=kit.bob)  # bob's better bid: median(215, 230, 200) = 215
    assert [(r["type"], r["status"]) for r in responses(out) if r["user_id"] != kit.bob.user_id] == [
        ("TAKE_PROFIT", "FILLED")
    ]
    assert position(kit) == 0
