"""The plan: exact add_order messages, deterministic ids, after-fill legs described, no I/O."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from runner import jsonnum
from runner.playbook.ids import Leg, client_order_id
from runner.playbook.load import load_playbook, validate_bytes
from runner.playbook.plan import (
    AFTER_FILL_NOTE,
    add_order_message,
    bracket_leg_message,
    build_plan,
    plan_as_json,
    render_plan_text,
)

ROOT = Path(__file__).resolve().parents[2]


def plan_of(orders: str, header: str = ""):
    text = f"version: 1\nname: p\nrun_id: r\n{header}orders:\n{orders}"
    result = validate_bytes(text.encode(), "p.yaml")
    assert result.ok and result.playbook is not None, result.problems
    return build_plan(result.playbook)


def test_add_order_message_exactly_as_documented() -> None:
    message = add_order_message(
        symbol="AAPL-USD",
        side="BUY",
        order_type="LIMIT",
        quantity=Decimal("10"),
        price=Decimal("200.00"),
        time_in_force="GTC",
        client_order_id="cid",
    )
    assert jsonnum.dumps(message) == (
        '{"type": "add_order", "params": {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT", '
        '"order_time_in_force": "GTC", "quantity": 10, "price": 200.00, "client_order_id": "cid"}}'
    )


def test_market_price_zero_and_optional_fields_only_when_set() -> None:
    message = add_order_message(
        symbol="AAPL-USD",
        side="SELL",
        order_type="MARKET",
        quantity=Decimal("0.5"),
        price=None,
        time_in_force="IOC",
        client_order_id="c",
        reduce_only=True,
        take_profit=Decimal("200"),
        stop_loss=Decimal("250"),
    )
    params = message["params"]
    assert params["price"] == 0 and params["reduce_only"] is True
    assert params["take_profit"] == Decimal("200") and params["stop_loss"] == Decimal("250")
    plain = add_order_message(
        symbol="A-USD",
        side="BUY",
        order_type="LIMIT",
        quantity=Decimal(1),
        price=Decimal(1),
        time_in_force="GTC",
        client_order_id="c",
    )
    assert set(plain["params"]) == {
        "symbol",
        "side",
        "order_type",
        "order_time_in_force",
        "quantity",
        "price",
        "client_order_id",
    }


def test_steps_ids_and_attached_bracket() -> None:
    plan = plan_of(
        "  - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 0.30, price: 200.10,\n"
        "     bracket: {take_profit: 210, stop_loss: 190.5}}\n"
        "  - {id: b, symbol: AAPL-USD, side: SELL, type: MARKET, quantity: 1, wait: fill}\n"
    )
    assert [(s.index, s.order.id, s.leg) for s in plan.steps] == [(1, "a", Leg.ENTRY), (2, "b", Leg.ENTRY)]
    first = plan.steps[0]
    assert (
        first.client_order_id == client_order_id("p", "r", "a") == first.message["params"]["client_order_id"]
    )
    wire = jsonnum.dumps(first.message)
    assert '"quantity": 0.30, "price": 200.10' in wire and '"take_profit": 210, "stop_loss": 190.5' in wire
    assert plan.steps[1].message["params"]["order_time_in_force"] == "IOC"
    assert "then wait: fill" in plan.steps[1].note


def test_after_fill_bracket_legs_are_later_steps_without_messages() -> None:
    plan = plan_of(
        "  - {id: e, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 2, price: 200,\n"
        "     bracket: {take_profit: 220, stop_loss: 190, mode: after_fill}}\n"
        "  - {id: f, symbol: AAPL-USD, side: SELL, type: LIMIT, quantity: 1, price: 230,\n"
        "     bracket: {stop_loss: 240, mode: after_fill}}\n"
    )
    legs = [(s.index, s.order.id, s.leg, s.message is None) for s in plan.steps]
    assert legs == [
        (1, "e", Leg.ENTRY, False),
        (2, "e", Leg.TAKE_PROFIT, True),
        (3, "e", Leg.STOP_LOSS, True),
        (4, "f", Leg.ENTRY, False),
        (5, "f", Leg.STOP_LOSS, True),
    ]
    entry = plan.steps[0].message["params"]
    assert "take_profit" not in entry and "stop_loss" not in entry  # not attached
    tp = plan.steps[1]
    assert tp.note.startswith(AFTER_FILL_NOTE) and "SELL TAKE_PROFIT AAPL-USD trigger 220" in tp.note
    assert tp.client_order_id == client_order_id("p", "r", "e", Leg.TAKE_PROFIT)
    assert len({s.client_order_id for s in plan.steps}) == 5


def test_bracket_leg_message_for_the_run() -> None:
    plan = plan_of(
        "  - {id: e, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 2, price: 200,\n"
        "     bracket: {take_profit: 220.00, mode: after_fill}}\n"
    )
    order = plan.steps[0].order
    message = bracket_leg_message(order, Leg.TAKE_PROFIT, Decimal("1.5"), "leg-id")
    assert message["params"] == {
        "symbol": "AAPL-USD",
        "side": "SELL",
        "order_type": "TAKE_PROFIT",
        "order_time_in_force": "IOC",
        "quantity": Decimal("1.5"),
        "price": Decimal("220.00"),
        "client_order_id": "leg-id",
        "reduce_only": True,
    }
    with pytest.raises(ValueError):
        bracket_leg_message(order, Leg.STOP_LOSS, Decimal(1), "x")


def test_json_and_text_renderings() -> None:
    book = load_playbook(ROOT / "playbooks" / "quickstart.yaml")
    plan = build_plan(book)
    data = json.loads(jsonnum.dumps(plan_as_json(plan)))
    assert data["playbook"]["name"] == "quickstart" and data["playbook"]["sha256"] == book.sha256
    assert [s["index"] for s in data["steps"]] == list(range(1, len(plan.steps) + 1))
    text = render_plan_text(plan)
    assert "nothing is sent by `plan`" in text
    assert text.startswith(f"plan for {book.path}: name 'quickstart', run_id 'demo-1', ")
    for step in plan.steps:
        assert step.client_order_id in text
        if step.message is not None:
            assert jsonnum.dumps(step.message) in text


def test_text_plan_without_run_id_says_so_in_words() -> None:
    text = "version: 1\nname: p\norders:\n  - {id: a, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: 1}"
    rendered = render_plan_text(build_plan(validate_bytes(text.encode(), "p.yaml").playbook))
    assert rendered.startswith("plan for p.yaml: name 'p', no run_id, 1 order (1 numbered step below)\n")
    assert "None" not in rendered


def test_plan_is_deterministic_and_depends_on_run_id() -> None:
    orders = "  - {id: a, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: 1}\n"
    one, two = plan_of(orders), plan_of(orders)
    assert plan_as_json(one)["steps"] == plan_as_json(two)["steps"]
    text = "version: 1\nname: p\nrun_id: other\norders:\n" + orders
    other = build_plan(validate_bytes(text.encode(), "p.yaml").playbook)
    assert other.steps[0].client_order_id != one.steps[0].client_order_id
