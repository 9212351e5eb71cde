"""The risk preview: what a playbook can lose and gain, per order, per symbol and in total (pure).

Shown by `plan` (text and JSON) and carried into the run's report. Per opening order (not
reduce_only, not a standalone TAKE_PROFIT/STOP_LOSS): notional at the entry (MARKET: the reference
price), initial margin at the symbol's leverage (notional / leverage: the account's setting when
known, else the reference data's `default_max_leverage`, QFEX's risk-limits page caps it per asset
class), loss at the stop, reward at each take-profit level, the R multiple (reward / loss), and a
fee estimate (entry and the exit at the stop, at the configured rates: QFEX publishes none). Per
symbol and in total: gross and net notional, the worst-case loss if every entry fills and stops out
(unbounded when one has no stop), margin needed vs the available balance when known.

Money figures are exact (quantity x price); margin is rounded up to the cent and R to 0.01, both
for display only. Take-profit levels go through `rewards_at(side, entry, levels)`, so a ladder of
levels (price, quantity) slots in where today a bracket has one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from runner.enums import OrderType, Side
from runner.playbook.account import AccountFigures
from runner.playbook.model import Order, Playbook, PlaybookStep
from runner.playbook.policy import DEFAULT_FEES, FeeRates
from runner.playbook.refdata import RefData
from runner.playbook.rules.exact import EXACT, add, multiply
from runner.playbook.rules.exposure import (
    loss_at_stop,
    opening_twaps,
    opens_exposure,
    reference_price,
    stop_of,
)
from runner.words import money_text

CENT = Decimal("0.01")
_ROUNDING = Context(prec=60)


@dataclass(frozen=True)
class RewardLevel:
    price: Decimal
    quantity: Decimal
    reward: Decimal


@dataclass  # not frozen: a frozen dataclass's __init__ costs ~1.5 µs more per order of a run's report
class OrderRisk:
    order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    #: `risk 200`, `risk 0.5%`, `notional 5000` (None: written as a number)
    sizing: str | None
    entry: Decimal | None
    priced_by: str
    notional: Decimal | None
    leverage: Decimal | None
    leverage_source: str
    margin: Decimal | None
    stop: Decimal | None
    #: None: no stop (unbounded), or no entry price
    loss_at_stop: Decimal | None
    rewards: tuple[RewardLevel, ...]
    r_multiple: Decimal | None
    fees: Decimal | None
    #: "order", or "twap" (a TWAP step: market orders over time, never a stop)
    kind: str = "order"

    @property
    def unbounded(self) -> bool:
        return self.stop is None


@dataclass(frozen=True)
class Totals:
    gross: Decimal
    net: Decimal
    #: None: unbounded (an entry without a stop) or unknown (an entry without a price)
    worst_loss: Decimal | None
    margin: Decimal | None
    fees: Decimal | None


@dataclass(frozen=True)
class RiskPreview:
    orders: tuple[OrderRisk, ...]
    symbols: dict[str, Totals]
    total: Totals
    fee_rates: FeeRates = DEFAULT_FEES
    account: AccountFigures | None = None
    #: ids of orders that only exit (reduce_only, standalone stops): no risk of their own
    exits: tuple[str, ...] = field(default=())

    @property
    def unbounded(self) -> tuple[str, ...]:
        return tuple(o.order_id for o in self.orders if o.unbounded)


def rewards_at(side: Side, entry: Decimal,
               levels: Sequence[tuple[Decimal, Decimal]]) -> tuple[RewardLevel, ...]:
    """The gain at each take-profit level `(price, quantity)` of an entry filled at `entry`."""
    out = []
    for price, quantity in levels:
        move = EXACT.subtract(price, entry) if side is Side.BUY else EXACT.subtract(entry, price)
        out.append(RewardLevel(price, quantity, multiply(quantity, move)))
    return tuple(out)


def take_profit_levels(order: Order, lot: Decimal | None = None) -> list[tuple[Decimal, Decimal]]:
    """(price, quantity) of each take-profit level: the bracket's one for the whole quantity, or an
    exit plan's ladder sized as the run sizes it for a complete fill (runner.playbook.exits), floored
    to the symbol's `lot` as the run floors it (without one, to the quantity's own finest digit)."""
    bracket = order.bracket
    if bracket is not None and bracket.levels:
        from runner.playbook.exits import level_sizes

        sizes = level_sizes(bracket.levels, order.quantity, lot)
        return [(level.price, size) for level, size in zip(bracket.levels, sizes, strict=True) if size > 0]
    if bracket is None or bracket.take_profit is None:
        return []
    return [(bracket.take_profit, order.quantity)]


def _leverage(symbol: str, refdata: RefData | None,
              account: AccountFigures | None) -> tuple[Decimal | None, str]:
    if account is not None and symbol in account.leverage:
        return account.leverage[symbol], "account"
    spec = refdata.get(symbol) if refdata is not None else None
    if spec is not None and spec.default_max_leverage is not None:
        return spec.default_max_leverage, "default"
    return None, ""


def _margin(notional: Decimal, leverage: Decimal | None) -> Decimal | None:
    if leverage is None or leverage <= 0:
        return None
    return _ROUNDING.divide(notional, leverage).quantize(CENT, rounding=ROUND_CEILING)


def _fees(order: Order, entry: Decimal, rates: FeeRates) -> Decimal:
    """Entry (maker only for ALO, which never takes) and the stop's market exit (taker), rounded up to
    the cent: an estimate."""
    entry_rate = rates.maker if order.type is OrderType.ALO else rates.taker
    fees = multiply(multiply(order.quantity, entry), entry_rate)
    stop = stop_of(order)
    if stop is not None:
        fees = add(fees, multiply(multiply(order.quantity, stop), rates.taker))
    return fees.quantize(CENT, rounding=ROUND_CEILING)


def order_risk(order: Order, refdata: RefData | None, account: AccountFigures | None,
               rates: FeeRates = DEFAULT_FEES, filled_at: Decimal | None = None,
               marks: Mapping[str, Decimal] | None = None) -> OrderRisk:
    """One order's figures; `filled_at`: a MARKET entry's average fill, its entry once known;
    `marks`: mark prices a MARKET entry is valued at before (as it was sized)."""
    entry, priced_by = reference_price(order, refdata, marks)
    if order.type is OrderType.MARKET and filled_at is not None:
        entry, priced_by = filled_at, "average fill"
    leverage, leverage_source = _leverage(order.symbol, refdata, account)
    notional = multiply(order.quantity, entry) if entry is not None else None
    loss = loss_at_stop(order, entry)
    spec = refdata.get(order.symbol) if refdata is not None else None
    levels = take_profit_levels(order, spec.lot_size if spec is not None else None)
    rewards = rewards_at(order.side, entry, levels) if entry is not None else ()
    r_multiple = None
    if rewards and loss:  # (the sum only then: most orders of a large run have no take-profit)
        gain = sum((r.reward for r in rewards), Decimal(0))
        r_multiple = _ROUNDING.divide(gain, loss).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return OrderRisk(
        order_id=order.id, symbol=order.symbol, side=order.side, quantity=order.quantity,
        sizing=order.sizing.text if order.sizing is not None else None, entry=entry, priced_by=priced_by,
        notional=notional, leverage=leverage, leverage_source=leverage_source,
        margin=_margin(notional, leverage) if notional is not None else None, stop=stop_of(order),
        loss_at_stop=loss, rewards=rewards, r_multiple=r_multiple,
        fees=_fees(order, entry, rates) if entry is not None else None)


def twap_risk(step: PlaybookStep, refdata: RefData | None, account: AccountFigures | None,
              rates: FeeRates, marks: Mapping[str, Decimal] | None) -> OrderRisk:
    """A TWAP step that can open a position: its whole quantity at the mark (or reference) price,
    every child order a taker; no stop, so its loss is unbounded."""
    symbol, quantity, side = step.symbol or "", step.quantity or Decimal(0), step.side or Side.BUY
    spec = refdata.get(symbol) if refdata is not None else None
    entry, priced_by = ((marks[symbol], "mark price") if marks and symbol in marks else
                        (spec.underlier_price, "reference price") if spec is not None else (None, ""))
    leverage, leverage_source = _leverage(symbol, refdata, account)
    notional = multiply(quantity, entry) if entry is not None else None
    return OrderRisk(
        order_id=step.id, symbol=symbol, side=side, quantity=quantity, sizing=None, entry=entry,
        priced_by=priced_by, notional=notional, leverage=leverage, leverage_source=leverage_source,
        margin=_margin(notional, leverage) if notional is not None else None, stop=None, loss_at_stop=None,
        rewards=(), r_multiple=None,
        fees=multiply(notional, rates.taker).quantize(CENT, rounding=ROUND_CEILING) if notional is not None
        else None, kind="twap")


def _totals(rows: Sequence[OrderRisk]) -> Totals:
    gross = net = Decimal(0)
    worst: Decimal | None = Decimal(0)
    margin: Decimal | None = Decimal(0)
    fees: Decimal | None = Decimal(0)
    for row in rows:
        if row.notional is not None:
            gross = add(gross, row.notional)
            net = add(net, row.notional if row.side is Side.BUY else -row.notional)
        worst = add(worst, row.loss_at_stop) if worst is not None and row.loss_at_stop is not None else None
        margin = add(margin, row.margin) if margin is not None and row.margin is not None else None
        fees = add(fees, row.fees) if fees is not None and row.fees is not None else None
    return Totals(gross, net, worst, margin, fees)


def preview(playbook: Playbook, refdata: RefData | None, account: AccountFigures | None = None,
            rates: FeeRates = DEFAULT_FEES, fills: Mapping[str, Decimal] | None = None,
            marks: Mapping[str, Decimal] | None = None) -> RiskPreview:
    """The risk preview of a validated playbook (see the module docstring). `fills`: order id ->
    average fill price, so a filled MARKET entry is measured from where it filled (in a run's report;
    a re-run no longer knows the reference price it was sized at)."""
    fills = fills or {}
    opening: list[Order] = []
    closing: list[str] = []
    for order in playbook.orders:
        if opens_exposure(order):
            opening.append(order)
        else:
            closing.append(order.id)
    rows = tuple(order_risk(o, refdata, account, rates, fills.get(o.id), marks) for o in opening)
    rows += tuple(twap_risk(step, refdata, account, rates, marks)
                  for _, step in opening_twaps(enumerate(playbook.steps)))
    by_symbol: dict[str, list[OrderRisk]] = {}
    for row in rows:
        by_symbol.setdefault(row.symbol, []).append(row)
    symbols = {symbol: _totals(by_symbol[symbol]) for symbol in sorted(by_symbol)}
    # one symbol (the usual playbook): its totals are the total, not summed over every row again
    total = next(iter(symbols.values())) if len(symbols) == 1 else _totals(rows)
    return RiskPreview(rows, symbols, total, rates, account, tuple(closing))


# --- as data and as text -------------------------------------------------------------------------


def _totals_json(t: Totals) -> dict[str, Any]:
    return {"gross_notional": t.gross, "net_notional": t.net, "worst_case_loss": t.worst_loss,
            "unbounded": t.worst_loss is None, "margin": t.margin, "fees_estimate": t.fees}


def preview_json(p: RiskPreview) -> dict[str, Any]:
    """JSON-ready (Decimals stay Decimal: serialise with runner.jsonnum)."""
    account = p.account
    return {
        "orders": [{
            "order_id": r.order_id, "kind": r.kind, "symbol": r.symbol, "side": r.side.value,
            "quantity": r.quantity,
            "sizing": r.sizing, "entry": r.entry, "priced_by": r.priced_by or None, "notional": r.notional,
            "leverage": r.leverage, "leverage_source": r.leverage_source or None, "margin": r.margin,
            "stop": r.stop, "loss_at_stop": r.loss_at_stop, "unbounded_loss": r.unbounded,
            "rewards": [{"price": lv.price, "quantity": lv.quantity, "reward": lv.reward}
                        for lv in r.rewards],
            "r_multiple": r.r_multiple, "fees_estimate": r.fees} for r in p.orders],
        "symbols": {symbol: _totals_json(t) for symbol, t in p.symbols.items()},
        "total": _totals_json(p.total),
        "unbounded": list(p.unbounded),
        "exits": list(p.exits),
        "fee_rates": {"maker": p.fee_rates.maker, "taker": p.fee_rates.taker, "source": p.fee_rates.source},
        "account": None if account is None else {
            "source": account.source, "equity": account.equity,
            "available_balance": account.available_balance},
    }


def money(value: Decimal | None, *, signed: bool = False, unknown: str = "-") -> str:
    """`runner.words.money_text`, or `unknown` for None."""
    return unknown if value is None else money_text(value, signed=signed)


def _plain(value: Decimal | None) -> str:
    """A quantity or ratio in plain digits (20.000 -> 20)."""
    return "-" if value is None else format(value.normalize(), "f")


def _price(value: Decimal | None) -> str:
    """A price as written (225.00 stays 225.00)."""
    return "-" if value is None else format(value, "f")


def _percent(rate: Decimal) -> str:
    return format((rate * 100).normalize(), "f") + "%"


def _reward_text(r: OrderRisk) -> str:
    if not r.rewards:
        return "-"
    levels = ", ".join(f"{_price(lv.price)}: {money(lv.reward, signed=True)}" for lv in r.rewards)
    return levels + (f" ({format(r.r_multiple, 'f')}R)" if r.r_multiple is not None else "")


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def render_text(p: RiskPreview) -> list[str]:
    """The preview as the lines `plan` prints (and the console shows before a run)."""
    rates = p.fee_rates
    lines = [f"risk preview (losses before fees and slippage; fees estimated at maker "
             f"{_percent(rates.maker)} / taker {_percent(rates.taker)}: {rates.source})"]
    if not p.orders:
        return [*lines, "  no order opens a position"]
    header = ["order", "symbol", "side", "qty", "sized by", "entry", "notional", "lev", "margin", "stop",
              "loss at stop", "reward at take-profit", "fees est."]
    rows = [header]
    for r in p.orders:
        lev = f"{_plain(r.leverage)}x" if r.leverage is not None else "?"
        loss = "UNBOUNDED" if r.unbounded else ("-" if r.loss_at_stop is None else money(-r.loss_at_stop))
        entry = _price(r.entry) + ("" if r.priced_by in ("limit price", "") else f" ({r.priced_by})")
        sized_by = r.sizing or ("twap" if r.kind == "twap" else "-")
        rows.append([r.order_id, r.symbol, r.side.value, _plain(r.quantity), sized_by, entry,
                     money(r.notional), lev, money(r.margin, unknown="?"), _price(r.stop), loss,
                     _reward_text(r), money(r.fees)])
    lines += ["  " + line for line in _table(rows)]
    for symbol, t in p.symbols.items():
        lines.append(f"  {symbol}: {_totals_text(t)}")
    lines.append(f"  total: {_totals_text(p.total)}")
    lines.append(f"  margin needed {money(p.total.margin, unknown='unknown (no leverage known)')} "
                 f"{_available_text(p)}")
    if p.unbounded:
        lines.append(f"  unbounded loss (no stop-loss): {', '.join(p.unbounded)}")
    if p.exits:
        lines.append(f"  exits only, no risk of their own: {', '.join(p.exits)}")
    return lines


def _totals_text(t: Totals) -> str:
    worst = "UNBOUNDED" if t.worst_loss is None else money(-t.worst_loss)
    return (f"gross {money(t.gross)}, net {money(t.net, signed=True)}, worst case {worst} if every entry "
            f"fills and stops out, margin {money(t.margin, unknown='?')}")


def _available_text(p: RiskPreview) -> str:
    account = p.account
    if account is None or account.available_balance is None:
        return "(available balance unknown here: read from the exchange at run time, or --account FILE)"
    verdict = "OK" if p.total.margin is not None and p.total.margin <= account.available_balance else \
        "MORE THAN AVAILABLE: the exchange would refuse with FAILED_MARGIN_CHECK"
    return f"vs available {money(account.available_balance)} ({account.source}): {verdict}"
