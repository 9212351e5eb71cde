"""Quantity by risk or notional: exact to the lot, long and short, never more risk than stated."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.enums import OrderType, Side, TimeInForce
from runner.playbook.account import AccountFigures
from runner.playbook.load import validate_bytes
from runner.playbook.model import Bracket, Order, Sizing
from runner.playbook.refdata import load_refdata_file
from runner.playbook.rules.exact import is_multiple
from runner.playbook.sizing import SizingInputs, floor_to_lot, size_order, split_ladder
from runner.problems import Severity

ROOT = Path(__file__).resolve().parents[2]
REFDATA = load_refdata_file(ROOT / "runner" / "simulator" / "data" / "refdata.json")  # AAPL lot 0.001


def entry(side: Side, sizing: Sizing, *, price: str | None = "225.00", stop: str | None = "215.00",
          order_type: OrderType = OrderType.LIMIT, take_profit: str | None = None) -> Order:
    bracket = Bracket(D(take_profit) if take_profit else None, D(stop) if stop else None) \
        if stop or take_profit else None
    return Order("e", "AAPL-USD", side, order_type, D(0), D(price) if price else None, TimeInForce.GTC,
                 bracket=bracket, sizing=sizing)


def test_risk_amount_long_is_risk_over_the_distance_floored_to_the_lot() -> None:
    sized = size_order(entry(Side.BUY, Sizing("risk", D(200)), stop="215.03"), SizingInputs(REFDATA))
    # 200 / 9.97 = 20.0601... -> 20.060 (lots of 0.001); the loss at the stop is 199.9982 <= 200
    assert sized.quantity == D("20.060")
    assert sized.quantity * D("9.97") == D("199.99820") and sized.quantity * D("9.97") <= 200
    assert sized.explanation == "20.060 = 200 / 9.97 (|entry - stop|), floored to the lot 0.001"


def test_risk_amount_short_measures_the_distance_upwards() -> None:
    short = entry(Side.SELL, Sizing("risk", D(150)), price="230.00", stop="236.70")
    sized = size_order(short, SizingInputs(REFDATA))
    assert sized.quantity == D("22.388")  # 150 / 6.70 = 22.3880597...
    assert sized.quantity * D("6.70") <= 150 < (sized.quantity + D("0.001")) * D("6.70")


def test_risk_percent_of_equity() -> None:
    account = AccountFigures("--equity", equity=D(25000))
    half_percent = entry(Side.BUY, Sizing("risk", D("0.5"), percent=True))
    sized = size_order(half_percent, SizingInputs(REFDATA, account))
    assert sized.quantity == D("12.500")  # 0.5% of 25000 = 125; 125 / 10 = 12.5
    assert "0.5% of equity 25000 (--equity) = 125" in sized.explanation


def test_notional_uses_the_limit_price_and_market_the_reference_price() -> None:
    limit = size_order(entry(Side.BUY, Sizing("notional", D(5000)), stop=None), SizingInputs(REFDATA))
    assert limit.quantity == D("22.222")  # 5000 / 225.00
    market = entry(Side.SELL, Sizing("notional", D(5000)), price=None, stop=None, order_type=OrderType.MARKET)
    sized = size_order(market, SizingInputs(REFDATA))
    assert sized.quantity == D("21.739")  # 5000 / 230.00 (AAPL's underlier_price)
    marked = size_order(market, SizingInputs(REFDATA, marks={"AAPL-USD": D("250")}))
    assert marked.quantity == D("20.000") and "mark price" in marked.explanation


def test_a_market_entry_sized_by_risk_is_valued_at_the_reference_price() -> None:
    market = entry(Side.BUY, Sizing("risk", D(100)), price=None, stop="220.00", order_type=OrderType.MARKET)
    sized = size_order(market, SizingInputs(REFDATA))
    assert sized.quantity == D("10.000")  # 100 / (230.00 - 220.00)
    assert "entry at the reference price 230.00" in sized.explanation


def test_what_cannot_be_sized_says_why() -> None:
    no_stop = size_order(entry(Side.BUY, Sizing("risk", D(200)), stop=None), SizingInputs(REFDATA))
    assert no_stop.quantity is None and no_stop.severity is Severity.ERROR
    assert "needs bracket.stop_loss" in no_stop.problem
    tiny = size_order(entry(Side.BUY, Sizing("risk", D("0.001"))), SizingInputs(REFDATA))
    assert tiny.quantity is None and "less than one lot" in tiny.problem
    later = size_order(entry(Side.BUY, Sizing("risk", D(1), percent=True)), SizingInputs(REFDATA))
    assert later.severity is Severity.WARNING and "at run time from the account's equity" in later.problem
    unknown = size_order(entry(Side.BUY, Sizing("risk", D(200))), SizingInputs(None))
    assert unknown.severity is Severity.WARNING and "lot size of AAPL-USD is unknown" in unknown.problem


@settings(max_examples=300, deadline=None)
@given(risk=st.decimals(min_value=D("0.01"), max_value=D(10_000_000), places=2),
       distance=st.decimals(min_value=D("0.01"), max_value=D(5000), places=2),
       lot=st.sampled_from([D("0.001"), D("0.01"), D(1), D("0.00001")]))
def test_rounding_never_risks_more_than_stated_and_stays_on_the_lot(risk: D, distance: D, lot: D) -> None:
    quantity = floor_to_lot(risk, distance, lot)
    assert is_multiple(quantity, lot)
    assert quantity * distance <= risk  # never more than stated
    assert (quantity + lot) * distance > risk  # and the largest that fits: one lot more would exceed it


@settings(max_examples=200, deadline=None)
@given(lots=st.integers(min_value=1, max_value=10**6),
       first=st.integers(min_value=0, max_value=100), second=st.integers(min_value=0, max_value=100))
def test_a_ladder_splits_the_sized_quantity_exactly_on_the_lot(lots: int, first: int, second: int) -> None:
    lot = D("0.001")
    quantity = lots * lot
    shares = [D(first) / 100, D(min(second, 100 - first)) / 100, None]
    levels = split_ladder(quantity, shares, lot)
    assert sum(levels) == quantity and all(level >= 0 and is_multiple(level, lot) for level in levels)


def test_a_ladder_of_a_risk_sized_short() -> None:
    sized = size_order(entry(Side.SELL, Sizing("risk", D(400)), price="230.00", stop="238.00"),
                       SizingInputs(REFDATA))
    assert sized.quantity == D("50.000")
    assert split_ladder(D("50.000"), [D("0.5"), D("0.3"), None], D("0.001")) == [D("25.000"), D("15.000"),
                                                                                D("10.000")]
    assert split_ladder(D("0.007"), [D("0.5"), D("0.3"), None], D("0.001")) == [D("0.003"), D("0.002"),
                                                                               D("0.002")]


PLAYBOOK = b"""version: 1
name: sized
orders:
  - {id: long, symbol: AAPL-USD, side: BUY, type: LIMIT, price: 225.00, quantity: {risk: 200},
     bracket: {stop_loss: 215.00, take_profit: 245.00}}
  - {id: pct, symbol: AAPL-USD, side: BUY, type: LIMIT, price: 225.00, quantity: {risk: 0.5%},
     bracket: {stop_loss: 215.00}}
  - {id: both, symbol: AAPL-USD, side: BUY, type: LIMIT, price: 225.00, quantity: {risk: 1, notional: 2}}
  - {id: pct-high, symbol: AAPL-USD, side: BUY, type: LIMIT, price: 225.00, quantity: {risk: 101%},
     bracket: {stop_loss: 215.00}}
"""


def test_the_loader_sizes_what_it_can_and_locates_the_rest() -> None:
    result = validate_bytes(PLAYBOOK, "sized.yaml", REFDATA)
    shown = [f"{p} ({p.severity.value})" for p in result.problems]
    assert shown == [
        "sized.yaml:6:82: quantity {risk: 0.5%} is sized at run time from the account's equity "
        "(pass --equity N or --account FILE to size it now) [sizing] (warning)",
        "sized.yaml:8:83: quantity: size by one of {risk: 200}, {risk: 0.5%} or {notional: 5000}, "
        "not several or none [schema] (error)",
        "sized.yaml:9:87: quantity {risk: 101%}: a percentage of equity above 100% [sizing] (error)",
    ]


@pytest.mark.parametrize("quantity", ["{risk: 0%}", "{risk: -5}", "{notional: 0.5%}", "{risk: lots}", "{}"])
def test_malformed_sizings_are_schema_errors(quantity: str) -> None:
    text = PLAYBOOK.split(b"  - {id: pct,")[0] + (
        f"  - {{id: x, symbol: AAPL-USD, side: BUY, type: LIMIT, price: 1, quantity: {quantity}}}\n").encode()
    result = validate_bytes(text, "bad.yaml", REFDATA)
    assert any(p.rule == "schema" and p.location.line == 6 for p in result.errors), result.problems
