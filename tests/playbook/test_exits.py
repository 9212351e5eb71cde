"""Exit plans offline: ladder sizes exact and floored to the lot, the remainder to the last level,
what `plan` shows, and the break-even / trailing prices on the tick."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from runner import jsonnum
from runner.enums import Side
from runner.playbook.exits import break_even_price, level_sizes, time_limit, trail_price
from runner.playbook.ids import Leg, client_order_id
from runner.playbook.load import load_playbook
from runner.playbook.model import TakeProfitLevel, Trail
from runner.playbook.plan import build_plan, plan_as_json, render_plan_text

EXAMPLE = Path(__file__).parents[1] / "playbooks" / "valid" / "exit-plans.yaml"
LADDER = (TakeProfitLevel(D("235"), percent=D(50)), TakeProfitLevel(D("245"), percent=D(30)),
          TakeProfitLevel(D("260")))


def test_ladder_sizes_of_a_complete_fill() -> None:
    assert level_sizes(LADDER, D(10), D("0.001")) == [D(5), D(3), D(2)]


def test_flooring_leaves_the_remainder_to_the_last_level() -> None:
    thirds = (TakeProfitLevel(D(1), percent=D("33.3")), TakeProfitLevel(D(2), percent=D("33.3")),
              TakeProfitLevel(D(3), percent=D("33.4")))
    assert level_sizes(thirds, D("0.007"), D("0.001")) == [D("0.002"), D("0.002"), D("0.003")]


def test_partial_fill_sizes_each_level_from_what_filled() -> None:
    assert level_sizes(LADDER, D("3.3"), D("0.1")) == [D("1.6"), D("0.9"), D("0.8")]
    assert level_sizes(LADDER, D("0.1"), D("0.1")) == [D(0), D(0), D("0.1")]  # small fill: all to the last


def test_absolute_sizes_never_exceed_the_fill() -> None:
    levels = (TakeProfitLevel(D(1), quantity=D(2)), TakeProfitLevel(D(2), quantity=D(5)))
    assert level_sizes(levels, D(3), D(1)) == [D(2), D(1)]


def test_a_ladder_that_does_not_cover_everything_leaves_the_rest_to_the_stop() -> None:
    levels = (TakeProfitLevel(D(1), percent=D(25)), TakeProfitLevel(D(2), percent=D(25)))
    assert level_sizes(levels, D(10), D(1)) == [D(2), D(2)]


@given(st.integers(1, 10**6), st.sampled_from([D("0.001"), D("0.01"), D(1)]),
       st.lists(st.integers(1, 60), min_size=1, max_size=5))
def test_sizes_are_lot_multiples_and_never_exceed_the_fill(units: int, lot: D, shares: list[int]) -> None:
    filled = lot * units
    percents = [D(x) for x in shares]
    if sum(percents) > 100:
        return
    levels = (*(TakeProfitLevel(D(n + 1), percent=p) for n, p in enumerate(percents)), TakeProfitLevel(D(99)))
    sizes = level_sizes(levels, filled, lot)
    assert all(s >= 0 and s % lot == 0 for s in sizes)
    assert sum(sizes) == filled  # the last level takes the rest: exactly the fill, never more


@given(st.integers(1, 10**6), st.sampled_from([D("0.001"), D("0.01"), D(1)]),
       st.lists(st.integers(1, 60), min_size=1, max_size=5))
def test_a_ladder_of_shares_splits_as_risk_sizing_splits_it(units: int, lot: D, shares: list[int]) -> None:
    """One rule for splitting a ladder: exit plans agree with issue 16's sizing.split_ladder."""
    from runner.playbook.sizing import split_ladder

    if sum(shares) > 100:
        return
    rest = TakeProfitLevel(D(99))
    levels = (*(TakeProfitLevel(D(n + 1), percent=D(p)) for n, p in enumerate(shares)), rest)
    quantity = lot * units
    fractions = [D(p) / 100 for p in shares] + [None]
    assert level_sizes(levels, quantity, lot) == split_ladder(quantity, fractions, lot)


def test_break_even_and_trail_prices_are_on_the_tick_and_on_the_safe_side() -> None:
    assert break_even_price(Side.BUY, D("225.004"), D(0), D("0.01")) == D("225.00")
    assert break_even_price(Side.SELL, D("225.004"), D(0), D("0.01")) == D("225.01")
    assert break_even_price(Side.BUY, D("225"), D("0.10"), D("0.01")) == D("225.10")
    assert trail_price(Side.BUY, D("250.00"), Trail(distance=D("2.50")), D("0.01")) == D("247.50")
    assert trail_price(Side.SELL, D("250.00"), Trail(percent=D(1)), D("0.01")) == D("252.50")
    assert trail_price(Side.BUY, D("250.01"), Trail(percent=D(1)), D("0.01")) == D("247.50")  # 247.5099


def test_time_limits() -> None:
    assert time_limit("2h").seconds == 7200
    assert time_limit("1.5m").seconds == 90
    assert time_limit("3d").seconds == 259200
    assert time_limit("2026-12-05T15:30:00Z").at == 1796484600


def test_ladder_legs_have_their_own_deterministic_ids_and_level_one_is_the_plain_take_profit() -> None:
    first = client_order_id("n", "r", "o", Leg.take_profit_level(1))
    assert first == client_order_id("n", "r", "o", Leg.TAKE_PROFIT)
    ids = {client_order_id("n", "r", "o", Leg.take_profit_level(k)) for k in range(1, 11)}
    assert len(ids) == 10 and client_order_id("n", "r", "o", Leg.STOP_LOSS) not in ids


def test_plan_shows_every_level_sized_and_the_management() -> None:
    book = load_playbook(EXAMPLE)
    plan = build_plan(book, {"AAPL-USD": D("0.001")})
    steps = [s for s in plan.steps if s.order.id == "aapl-long"]
    assert [s.leg.value for s in steps] == ["entry", "tp", "tp2", "tp3", "sl"]
    previews = [s.preview["params"] for s in steps[1:] if s.preview]
    assert [(p["order_type"], p["quantity"], p["price"]) for p in previews] == [
        ("TAKE_PROFIT", D(5), D("235.00")), ("TAKE_PROFIT", D(3), D("245.00")),
        ("TAKE_PROFIT", D(2), D("260.00")), ("STOP_LOSS", D(10), D("215.00"))]
    assert all(p["reduce_only"] is True and p["side"] == "SELL" for p in previews)
    text = render_plan_text(plan)
    assert "50% of the filled quantity, floored to the lot 0.001: 5 if all 10 fill" in text
    assert "then: after each take-profit fill: modify_stop_order resizes the stop-loss" in text
    assert "then: after take-profit 1 fills: modify_stop_order moves the stop to the entry's average" in text
    assert "then: trailing after take-profit 2 fills: the stop follows the mark price at 2.50" in text
    data = jsonnum.loads(jsonnum.dumps(plan_as_json(plan)))
    sl = next(s for s in data["steps"] if s["order_id"] == "aapl-long" and s["leg"] == "sl")
    assert sl["message"] is None and sl["if_all_filled"]["params"]["quantity"] == 10
    assert any("when the stop-loss fills" in x for x in sl["then"])


def test_a_single_take_profit_with_manage_is_a_ladder_of_one() -> None:
    book = load_playbook(EXAMPLE)
    order = next(o for o in book.orders if o.id == "aapl-single-managed")
    assert order.bracket is not None and order.bracket.exit_plan and order.bracket.take_profit is None
    assert [x.price for x in order.bracket.levels] == [D("260.00")]
