"""The risk preview's figures against hand-computed cases (pure: no exchange)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from runner.enums import Side
from runner.playbook.account import AccountFigures
from runner.playbook.load import validate_bytes
from runner.playbook.policy import FeeRates
from runner.playbook.refdata import load_refdata_file
from runner.playbook.risk import preview, preview_json, render_text, rewards_at

ROOT = Path(__file__).resolve().parents[2]
REFDATA = load_refdata_file(ROOT / "runner" / "simulator" / "data" / "refdata.json")

BOOK = b"""version: 1
name: preview
orders:
  - {id: long, symbol: AAPL-USD, side: BUY, type: LIMIT, price: 225.00, quantity: {risk: 400},
     bracket: {stop_loss: 215.00, take_profit: 249.80}}
  - {id: short, symbol: TSLA-USD, side: SELL, type: ALO, price: 350.00, quantity: 3,
     bracket: {stop_loss: 360.00, take_profit: 320.00}}
  - {id: naked, symbol: AAPL-USD, side: SELL, type: MARKET, quantity: 2}
  - {id: exit, symbol: AAPL-USD, side: SELL, type: TAKE_PROFIT, quantity: 1, price: 260.00, reduce_only: true}
"""
RATES = FeeRates(D("0.0001"), D("0.0002"), "test rates")


def test_per_order_per_symbol_and_total_figures() -> None:
    account = AccountFigures("snapshot", equity=D(50000), available_balance=D(20000),
                             leverage={"TSLA-USD": D(5)})
    playbook = validate_bytes(BOOK, "preview.yaml", REFDATA).playbook
    assert playbook is not None
    p = preview(playbook, REFDATA, account, RATES)
    long, short, naked = p.orders
    # long: 400 / 10.00 = 40; notional 40 x 225 = 9000; margin at AAPL's default 10x = 900
    assert (long.quantity, long.notional, long.leverage, long.leverage_source, long.margin) == \
        (D(40), D(9000), D(10), "default", D(900))
    assert long.loss_at_stop == D(400)  # 40 x 10.00
    assert [(r.price, r.quantity, r.reward) for r in long.rewards] == [(D("249.80"), D(40), D(992))]
    assert long.r_multiple == D("2.48")
    # fees: entry 9000 x 0.0002 (a LIMIT may take) + exit at the stop 40 x 215 x 0.0002 = 1.80 + 1.72
    assert long.fees == D("3.52")
    # short: an ALO never takes (maker 0.0001); the account's TSLA leverage 5x
    assert (short.notional, short.margin, short.loss_at_stop) == (D(1050), D(210), D(30))  # 3 x 10.00
    assert short.rewards[0].reward == D(90) and short.r_multiple == D(3)  # 3 x (350 - 320)
    assert short.fees == D("0.33")  # 1050 x 0.0001 = 0.105 + 3 x 360 x 0.0002 = 0.216: 0.321, rounded up
    # naked: MARKET at AAPL's reference price 230.00, no stop: unbounded
    assert naked.entry == D("230.00") and naked.priced_by == "reference price" and naked.unbounded
    assert p.unbounded == ("naked",) and p.exits == ("exit",)
    aapl, tsla = p.symbols["AAPL-USD"], p.symbols["TSLA-USD"]
    assert (aapl.gross, aapl.net, aapl.worst_loss, aapl.margin) == (D(9460), D(8540), None, D(946))
    assert (tsla.gross, tsla.net, tsla.worst_loss) == (D(1050), D(-1050), D(30))
    total = p.total
    assert (total.gross, total.net, total.worst_loss, total.margin) == (D(10510), D(7490), None, D(1156))


def test_worst_case_is_the_sum_of_every_stop_when_every_entry_has_one() -> None:
    bounded = BOOK.replace(b"quantity: 2}", b"quantity: 2, bracket: {stop_loss: 240.00}}")
    playbook = validate_bytes(bounded, "preview.yaml", REFDATA).playbook
    assert playbook is not None
    p = preview(playbook, REFDATA, None, RATES)
    assert p.total.worst_loss == D(400) + D(30) + D(20)  # naked: 2 x |230.00 - 240.00|
    data = preview_json(p)
    assert data["total"]["worst_case_loss"] == D(450) and data["total"]["unbounded"] is False
    assert data["account"] is None
    lines = render_text(p)
    assert lines[0].startswith("risk preview (losses before fees and slippage; fees estimated at maker 0.01% "
                               "/ taker 0.02%: test rates)")
    assert "  total: gross 10,510.00, net +7,490.00, worst case -450.00 if every entry fills and stops " \
           "out, margin 1,051.00" in lines  # TSLA at its default 10x here (no account)
    assert any("available balance unknown here" in line for line in lines)


def test_rewards_at_a_ladder_of_levels() -> None:
    """The function a take-profit ladder plugs into: one (price, quantity) per level."""
    levels = [(D("235.00"), D("20.000")), (D("245.00"), D("12.000")), (D("260.00"), D("8.000"))]
    assert [r.reward for r in rewards_at(Side.BUY, D("225.00"), levels)] == [D(200), D(240), D(280)]
    assert [r.reward for r in rewards_at(Side.SELL, D("225.00"), [(D("215.00"), D(3))])] == [D(30)]


def test_a_twap_step_that_can_open_a_position_is_in_the_preview_and_unbounded() -> None:
    twap = BOOK + b"  - {id: scale-in, step: twap, symbol: TSLA-USD, side: BUY, quantity: 2, duration: 2m, " \
                  b"interval: 60s}\n"
    playbook = validate_bytes(twap, "preview.yaml", REFDATA).playbook
    assert playbook is not None
    p = preview(playbook, REFDATA, None, RATES, marks={"TSLA-USD": D("345.00")})
    row = p.orders[-1]
    assert (row.order_id, row.kind, row.entry, row.priced_by, row.notional, row.margin, row.unbounded) == \
        ("scale-in", "twap", D("345.00"), "mark price", D("690.00"), D("69.00"), True)
    assert row.fees == D("0.14")  # 690 x 0.0002 = 0.138, rounded up: every child order takes
    assert p.unbounded == ("naked", "scale-in") and p.symbols["TSLA-USD"].worst_loss is None


def test_a_sized_ladder_is_previewed_at_the_quantities_the_run_sends() -> None:
    """A ladder's levels are floored to the symbol's lot (AAPL-USD: 0.001), as plan and run size them —
    not to the quantity's own digits (12.5 would floor 50 % to 6.2 and shift the rest)."""
    book = b"""version: 1
name: ladder
orders:
  - {id: long, symbol: AAPL-USD, side: BUY, type: LIMIT, price: 225.00, quantity: {risk: 0.5%},
     bracket: {stop_loss: 215.00, take_profit: [{price: 235.00, size: 50%}, {price: 245.00, size: 30%},
                                                {price: 260.00}]}}
"""
    account = AccountFigures("snapshot", equity=D(25000), available_balance=D(25000), leverage={})
    playbook = validate_bytes(book, "ladder.yaml", REFDATA, account=account).playbook
    assert playbook is not None
    (long,) = preview(playbook, REFDATA, account, RATES).orders
    assert long.quantity == D("12.5")  # 0.5 % of 25,000 = 125 / 10.00
    assert [(r.price, r.quantity, r.reward) for r in long.rewards] == [
        (D("235.00"), D("6.25"), D("62.50")), (D("245.00"), D("3.75"), D("75.00")),
        (D("260.00"), D("2.5"), D("87.50"))]
    assert long.r_multiple == D("1.80")  # 225.00 / 125


ONE_SYMBOL = b"""version: 1
name: one-symbol
orders:
  - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, price: 225.00, quantity: 2,
     bracket: {stop_loss: 215.00, take_profit: 249.80}}
  - {id: exit, symbol: AAPL-USD, side: SELL, type: TAKE_PROFIT, quantity: 1, price: 260.00, reduce_only: true}
  - {id: b, symbol: AAPL-USD, side: SELL, type: LIMIT, price: 240.00, quantity: 3,
     bracket: {stop_loss: 250.00}}
  - {id: c, symbol: AAPL-USD, side: BUY, type: ALO, price: 220.10, quantity: 0.5}
"""


def test_the_total_of_a_one_symbol_playbook_is_the_sum_over_every_row() -> None:
    """The preview takes a single symbol's totals as the total (not summed again): they must be what
    summing every row gives, figure by figure, unbounded included; exits stay out of both."""
    playbook = validate_bytes(ONE_SYMBOL, "one.yaml", REFDATA).playbook
    assert playbook is not None
    p = preview(playbook, REFDATA, None, RATES)
    assert [r.order_id for r in p.orders] == ["a", "b", "c"] and p.exits == ("exit",)
    assert list(p.symbols) == ["AAPL-USD"]
    gross = sum((r.notional for r in p.orders if r.notional is not None), D(0))
    net = sum((r.notional if r.side is Side.BUY else -r.notional for r in p.orders if r.notional is not None),
              D(0))
    assert (p.total.gross, p.total.net) == (gross, net) == (D("1280.05"), D("-159.95"))
    assert (str(p.total.gross), str(p.total.net)) == (str(gross), str(net))  # written the same
    assert p.total.worst_loss is None  # c has no stop
    assert p.total.margin == sum((r.margin for r in p.orders if r.margin is not None), D(0))
    assert p.total.fees == sum((r.fees for r in p.orders if r.fees is not None), D(0))
    assert p.symbols["AAPL-USD"] == p.total
    assert preview_json(p)["total"] == preview_json(p)["symbols"]["AAPL-USD"]
