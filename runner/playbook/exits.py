"""Exit plans, offline: a bracket's take-profit ladder and `manage:` read into the model, each
level sized from a fill exactly, and what `plan` says the runner will send and when.

An exit plan is an `after_fill` bracket the runner keeps managing (runner.run.exits): one
standalone TAKE_PROFIT per ladder level and one STOP_LOSS, all sized from the entry's fill. QFEX
says a stop "cannot exceed your current position" (its stop-order page), so after every
take-profit fill the stop-loss is resized to what remains, and when the stop-loss fills the
take-profits still open are cancelled. Sizes are exact: a level's share of the fill is floored
to the lot, and what flooring leaves goes to the last level (when the ladder covers the whole
fill), so the exits never add up to more than the position.

Pure: no I/O, no clock (an absolute `TimeLimit` is parsed into epoch seconds here, compared with
the exchange's clock by the run).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from runner.enums import OrderType, Side, TimeInForce
from runner.playbook.ids import Leg
from runner.playbook.model import (
    Bracket,
    BracketMode,
    Manage,
    Order,
    TakeProfitLevel,
    TimeLimit,
    Trail,
)

#: QFEX's legs are ours to name; ten levels is more than any ladder a trader described to us
MAX_LEVELS = 10
HUNDRED = Decimal(100)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([smhd])$")


# --- reading the playbook (data that passed the schema) ------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(value)


def percent_of(text: Any) -> Decimal | None:
    """`"50%"` -> Decimal(50); anything else -> None."""
    if isinstance(text, str) and text.endswith("%"):
        return Decimal(text[:-1])
    return None


def time_limit(text: str) -> TimeLimit:
    """`2h` -> 7200 seconds; `2026-12-05T15:30:00Z` -> that moment in epoch seconds (schema-checked)."""
    match = _DURATION.match(text)
    if match:
        return TimeLimit(text, seconds=Decimal(match.group(1)) * _UNITS[match.group(2)])
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return TimeLimit(text, at=Decimal(int(moment.timestamp())))


def _level(raw: Mapping[str, Any]) -> TakeProfitLevel:
    size = raw.get("size")
    percent = percent_of(size)
    return TakeProfitLevel(Decimal(raw["price"]), percent=percent,
                           quantity=None if size is None or percent is not None else Decimal(size))


def _manage(raw: Mapping[str, Any]) -> Manage:
    raw_trail = raw.get("trail")
    trail = None
    if isinstance(raw_trail, dict):
        trail = Trail(_decimal(raw_trail.get("distance")), percent_of(raw_trail.get("percent")),
                      _decimal(raw_trail.get("activation")), raw_trail.get("after"))
    return Manage(
        break_even_after=raw.get("break_even_after"),
        break_even_offset=_decimal(raw.get("break_even_offset")) or Decimal(0),
        trail=trail,
        cancel_entry_after=time_limit(raw["cancel_entry_after"]) if "cancel_entry_after" in raw else None,
        close_after=time_limit(raw["close_after"]) if "close_after" in raw else None)


def bracket_from(raw: Mapping[str, Any]) -> Bracket:
    """A schema-checked `bracket:` mapping -> Bracket. A ladder (or `manage:`) is an exit plan:
    its mode defaults to after_fill (a written `mode: attached` is kept for the rule to report)."""
    take_profit = raw.get("take_profit")
    manage = _manage(raw["manage"]) if isinstance(raw.get("manage"), dict) else None
    stop_loss = _decimal(raw.get("stop_loss"))
    if not isinstance(take_profit, list) and manage is None:
        return Bracket(_decimal(take_profit), stop_loss,
                       BracketMode(raw.get("mode", BracketMode.ATTACHED.value)))
    if isinstance(take_profit, list):
        levels = tuple(_level(x) for x in take_profit if isinstance(x, dict))
    else:
        levels = (TakeProfitLevel(Decimal(take_profit)),) if take_profit is not None else ()
    return Bracket(None, stop_loss, BracketMode(raw.get("mode", BracketMode.AFTER_FILL.value)),
                   levels=levels, manage=manage)


def exits_step_bracket(raw: Mapping[str, Any]) -> Bracket:
    """An `exits:` step's take_profit / stop_loss / manage as the exit plan it is (always after_fill:
    standalone exits sized from the quantity protected)."""
    take_profit = raw.get("take_profit")
    levels = take_profit if isinstance(take_profit, list) or take_profit is None else [{"price": take_profit}]
    fields: dict[str, Any] = {"mode": BracketMode.AFTER_FILL.value, "take_profit": levels,
                              "stop_loss": raw.get("stop_loss"), "manage": raw.get("manage") or {}}
    return bracket_from(fields)  # manage: {} at least: always an exit plan


def step_order(step_id: str, symbol: str, long: bool, quantity: Decimal, bracket: Bracket,
               average: Decimal | None = None) -> Order:
    """The position an `exits:` step protects, as the filled entry its exit plan is sized from: a
    long is a BUY entry (exits SELL), a short a SELL one."""
    return Order(id=step_id, symbol=symbol, side=Side.BUY if long else Side.SELL, type=OrderType.MARKET,
                 quantity=quantity, price=average, time_in_force=TimeInForce.IOC, bracket=bracket)


def step_is_long(bracket: Bracket) -> bool | None:
    """The side of the position an `exits:` step's geometry protects: take-profits above the stop
    (or ascending) protect a long; None when nothing tells (a lone stop or a lone level)."""
    prices = [x.price for x in bracket.levels]
    if bracket.stop_loss is not None and prices:
        return prices[0] > bracket.stop_loss
    if len(prices) > 1:
        return prices[1] > prices[0]
    return None


# --- sizing --------------------------------------------------------------------------------------


def quantum(filled: Decimal, lot: Decimal | None) -> Decimal:
    """The step sizes are floored to: the symbol's lot, else the finest digit of the fill itself."""
    if lot is not None and lot > 0:
        return lot
    exponent = filled.normalize().as_tuple().exponent
    return Decimal(1).scaleb(min(0, exponent if isinstance(exponent, int) else 0))


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of `step` not above `value` (exact)."""
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def _plain(value: Decimal) -> Decimal:
    """5.000 -> 5, 1E+1 -> 10: the same number in its plainest digits (messages, reports)."""
    return Decimal(format(value.normalize(), "f"))


def covers_all(levels: Sequence[TakeProfitLevel]) -> bool:
    """Does the ladder close the whole fill (last level "the rest", or percentages summing to 100)?"""
    if not levels:
        return False
    last = levels[-1]
    if last.percent is None and last.quantity is None:
        return True
    return all(x.percent is not None for x in levels) and sum((x.percent or Decimal(0) for x in levels),
                                                               Decimal(0)) == HUNDRED


def level_sizes(levels: Sequence[TakeProfitLevel], filled: Decimal, lot: Decimal | None) -> list[Decimal]:
    """What each level closes when `filled` of the entry has filled: shares floored to the lot, never
    more than what is left; the flooring's remainder goes to the last level when the ladder covers
    the whole fill. A level may come out 0 (a small partial fill): the run skips it.

    For a ladder of shares only this is issue 16's `sizing.split_ladder` (a test keeps the two equal);
    it is not called from here because the rules import this module and sizing imports the rules
    (the package's no-cycle contract)."""
    step = quantum(filled, lot)
    whole = covers_all(levels)
    left = filled
    sizes: list[Decimal] = []
    for number, level in enumerate(levels, start=1):
        if number == len(levels) and whole:
            size = floor_to(left, step)
        elif level.percent is not None:
            size = floor_to(filled * level.percent / HUNDRED, step)
        elif level.quantity is not None:
            size = floor_to(level.quantity, step)
        else:  # "the rest" anywhere but last is refused by validation
            size = floor_to(left, step)
        size = min(size, floor_to(left, step))
        sizes.append(_plain(size))
        left -= size
    return sizes


# --- the legs of an exit plan ------------------------------------------------------------------


@dataclass(frozen=True)
class ExitLeg:
    """One standalone exit the runner may place for an exit plan."""

    leg: Leg
    #: the report's name: take_profit, take_profit_2, ..., stop_loss
    name: str
    order_type: OrderType
    trigger: Decimal
    #: 1-based ladder level (0 for the stop-loss)
    level: int


def exit_legs(order: Order) -> list[ExitLeg]:
    """The take-profit levels in ladder order, then the stop-loss."""
    bracket = order.bracket
    if bracket is None or not bracket.exit_plan:
        return []
    legs = [ExitLeg(Leg.take_profit_level(n), "take_profit" if n == 1 else f"take_profit_{n}",
                    OrderType.TAKE_PROFIT, level.price, n)
            for n, level in enumerate(bracket.levels[:MAX_LEVELS], start=1)]
    if bracket.stop_loss is not None:
        legs.append(ExitLeg(Leg.STOP_LOSS, "stop_loss", OrderType.STOP_LOSS, bracket.stop_loss, 0))
    return legs


def break_even_price(side: Side, average_entry: Decimal, offset: Decimal, tick: Decimal | None) -> Decimal:
    """The stop's break-even trigger: the average entry plus the offset in the position's favour,
    rounded to the tick toward the entry's side (a long's stop never above entry + offset)."""
    price = average_entry + offset if side is Side.BUY else average_entry - offset
    if tick is None or tick <= 0:
        return price
    floored = floor_to(price, tick)
    if side is Side.BUY or floored == price:
        return floored
    return floored + tick  # a short's stop rounds up, never below entry - offset


def trail_price(side: Side, mark: Decimal, trail: Trail, tick: Decimal | None) -> Decimal:
    """Where a trailing stop sits for `mark`: `distance` (or `percent` of the mark) behind it,
    rounded to the tick away from the mark (never closer than asked)."""
    distance = trail.distance if trail.distance is not None else mark * (trail.percent or 0) / HUNDRED
    price = mark - distance if side is Side.BUY else mark + distance
    if tick is None or tick <= 0:
        return price
    floored = floor_to(price, tick)
    if side is Side.BUY or floored == price:
        return floored
    return floored + tick


def describe_size(level: TakeProfitLevel, last: bool) -> str:
    if level.percent is not None:
        return f"{format(level.percent, 'f')}% of the filled quantity"
    if level.quantity is not None:
        return f"{format(level.quantity, 'f')} (of the filled quantity, at most)"
    return "the rest of the filled quantity" if last else "?"


def management_notes(order: Order) -> list[str]:
    """What the runner does after placing the exits, in the order a trader would ask (for `plan`)."""
    bracket = order.bracket
    if bracket is None or not bracket.exit_plan:
        return []
    notes: list[str] = []
    levels = len(bracket.levels)
    if bracket.stop_loss is not None and levels:
        notes.append("after each take-profit fill: modify_stop_order resizes the stop-loss to the quantity "
                     "still open (QFEX: a stop cannot exceed the position)")
        notes.append("when the stop-loss fills: cancel_stop_order for every take-profit still open")
        notes.append("when the last take-profit fills (flat): cancel_stop_order for the stop-loss")
    manage = bracket.manage
    if manage is None:
        return notes
    if manage.break_even_after is not None:
        offset = f" plus {format(manage.break_even_offset, 'f')}" if manage.break_even_offset else ""
        entry = format(order.price, "f") if order.price is not None else "the fill price"
        notes.append(f"after take-profit {manage.break_even_after} fills: modify_stop_order moves the stop "
                     f"to the entry's average fill price{offset} ({entry} if filled at the limit), if "
                     f"the market is still beyond it")
    if manage.trail is not None:
        trail = manage.trail
        gap = (format(trail.distance, "f") if trail.distance is not None
               else f"{format(trail.percent or 0, 'f')}% of the mark")
        when = []
        if trail.after is not None:
            when.append(f"after take-profit {trail.after} fills")
        if trail.activation is not None:
            when.append(f"once the mark reaches {format(trail.activation, 'f')}")
        start = " and ".join(when) if when else "from the entry's fill"
        notes.append(f"trailing {start}: the stop follows the mark price at {gap}, only in the position's "
                     f"favour, at most once per tick of movement (modify_stop_order; run --manage follows "
                     f"every move, a one-shot run or re-run moves it once to where the mark is then)")
    if manage.cancel_entry_after is not None:
        notes.append(f"cancel_entry_after {manage.cancel_entry_after.text}: cancel_order for the entry if "
                     f"not completely filled by then (exchange clock)")
    if manage.close_after is not None:
        notes.append(f"close_after {manage.close_after.text}: a reduce-only MARKET order for this plan's "
                     f"remaining quantity (not close_position), then its exits are cancelled")
    return notes
