"""Quantity from risk or notional (`quantity: {risk: 200}`, `{risk: 0.5%}`, `{notional: 5000}`).

    risk      quantity = risk / |entry - stop|, floored to the lot   (loss at the stop <= risk)
    risk %    the same with risk = equity x percent / 100
    notional  quantity = notional / price, floored to the lot        (notional <= stated)

Exact arithmetic only: the quotient is floored to a whole number of lots (`floor_to_lot`), so the
resolved quantity never risks (or spends) more than stated. The entry price is the order's limit
price; a MARKET entry is valued at the reference price (the target's mark when known, else the
reference data's `underlier_price`). Pure: no I/O; the caller passes reference data and equity.

`resolve` returns the orders with their quantity filled in, plus located problems: an error when a
sizing can never work (no stop for `risk`, less than one lot), a warning when an input is missing
(no reference data, no equity): the quantity is then resolved at run time, where both are known,
and `plan` refuses to show a plan it cannot size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from runner.enums import OrderType
from runner.playbook.account import AccountFigures
from runner.playbook.model import Order, Sizing
from runner.playbook.refdata import RefData
from runner.playbook.rules.exact import EXACT, multiply, show
from runner.playbook.rules.exposure import reference_price, stop_of
from runner.problems import Location, Problem, Severity

RULE = "sizing"
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class SizingInputs:
    """What sizing may read: reference data (lot, reference price), equity, mark prices."""

    refdata: RefData | None = None
    account: AccountFigures | None = None
    #: symbol -> mark price (run time); preferred over the reference data's underlier_price
    marks: Mapping[str, Decimal] = field(default_factory=dict)


def parse_sizing(raw: Any) -> Sizing | None:
    """`{risk: 200}` / `{risk: "0.5%"}` / `{notional: 5000}` (schema-checked) -> Sizing; a number -> None."""
    if not isinstance(raw, dict) or len(raw) != 1:
        return None
    kind, value = next(iter(raw.items()))
    if isinstance(value, str) and value.endswith("%"):
        return Sizing(str(kind), Decimal(value[:-1]), percent=True)
    return Sizing(str(kind), value if isinstance(value, Decimal) else Decimal(value))


def floor_to_lot(amount: Decimal, per_unit: Decimal, lot: Decimal) -> Decimal:
    """The largest multiple of `lot` whose cost (`x * per_unit`) is at most `amount` (all positive).

    floor(amount / (per_unit x lot)) x lot, computed exactly: the product is rounded nowhere.
    """
    lots = EXACT.divide_int(amount, multiply(per_unit, lot))
    return multiply(lots, lot)


def split_ladder(quantity: Decimal, shares: Sequence[Decimal | None], lot: Decimal) -> list[Decimal]:
    """A take-profit ladder's level quantities: each `share` (a fraction, 0.5 for 50%) of `quantity`
    floored to the lot; a `None` share (the last level, "the rest") takes what is left, so the levels
    add up to exactly `quantity` and none is off the lot."""
    levels: list[Decimal] = []
    left = quantity
    for share in shares:
        if share is None:
            levels.append(left)
            left = Decimal(0)
            continue
        part = min(floor_to_lot(multiply(quantity, share), Decimal(1), lot), left)
        levels.append(part)
        left = EXACT.subtract(left, part)
    return levels


@dataclass(frozen=True)
class Sized:
    """One order's resolution: the quantity (None: not resolvable now) and why, in words."""

    quantity: Decimal | None
    explanation: str
    problem: str = ""
    severity: Severity = Severity.ERROR


def _amount(sizing: Sizing, account: AccountFigures | None) -> tuple[Decimal | None, str]:
    if not sizing.percent:
        return sizing.amount, show(sizing.amount)
    if account is None or account.equity is None:
        return None, ""
    amount = EXACT.scaleb(EXACT.multiply(account.equity, sizing.amount), -2)
    return amount, (f"{show(sizing.amount)}% of equity {show(account.equity)} ({account.source}) = "
                    f"{show(amount)}")


def size_order(order: Order, inputs: SizingInputs) -> Sized:
    """Resolve one order's `sizing` (see the module docstring)."""
    sizing = order.sizing
    if sizing is None:
        return Sized(order.quantity, "as written")
    written = f"quantity {{{sizing.kind}: {show(sizing.amount)}{'%' * sizing.percent}}}"
    if sizing.percent and sizing.amount > HUNDRED:
        return Sized(None, "", f"{written}: a percentage of equity above 100%")
    stop = stop_of(order)
    if sizing.kind == "risk" and stop is None:
        return Sized(None, "", f"{written} needs bracket.stop_loss: the risk is what is lost when the stop "
                     f"is hit")
    spec = inputs.refdata.get(order.symbol) if inputs.refdata is not None else None
    price, priced_by = reference_price(order, inputs.refdata, inputs.marks)
    later = Severity.WARNING
    if price is None:
        return Sized(None, "", f"{written} is sized at run time: no reference price for MARKET "
                     f"{order.symbol} here (pass --refdata FILE or keep a snapshot: qfex-runner refdata "
                     f"pull)", later)
    if spec is None:
        return Sized(None, "", f"{written} is sized at run time: the lot size of {order.symbol} is unknown "
                     f"here (pass --refdata FILE or keep a snapshot: qfex-runner refdata pull)", later)
    amount, amount_text = _amount(sizing, inputs.account)
    if amount is None:
        return Sized(None, "", f"{written} is sized at run time from the account's equity (pass --equity N "
                     f"or --account FILE to size it now)", later)
    per_unit = abs(EXACT.subtract(price, stop)) if sizing.kind == "risk" and stop is not None else price
    if per_unit == 0:
        return Sized(None, "", f"{written}: the stop is at the entry price, the risk per unit is 0")
    quantity = floor_to_lot(amount, per_unit, spec.lot_size)
    per = "|entry - stop|" if sizing.kind == "risk" else priced_by
    formula = (f"{amount_text} / {show(per_unit)} ({per}"
               + (f", entry at the {priced_by} {show(price)}" if sizing.kind == "risk" and
                  order.type is OrderType.MARKET else "")
               + f"), floored to the lot {show(spec.lot_size)}")
    if quantity == 0:
        return Sized(None, "", f"{written} buys less than one lot: {formula} is 0")
    return Sized(quantity, f"{show(quantity)} = {formula}")


def resolve(orders: Iterable[tuple[int, Order]], inputs: SizingInputs,
            at: Callable[[int], Location]) -> tuple[list[tuple[int, Order]], list[Problem]]:
    """Every order with its sized quantity filled in (0 while unresolvable) and the problems found.

    `at(index)` locates `orders[index].quantity` in the playbook.
    """
    resolved: list[tuple[int, Order]] = []
    problems: list[Problem] = []
    for index, order in orders:
        if order.sizing is None:
            resolved.append((index, order))
            continue
        sized = size_order(order, inputs)
        if sized.problem:
            problems.append(Problem(at(index), sized.problem, RULE, sized.severity))
        sizing = replace(order.sizing, explanation=sized.explanation)
        resolved.append((index, replace(order, quantity=sized.quantity or Decimal(0), sizing=sizing)))
    return resolved, problems


def unsized(problems: Iterable[Problem]) -> list[Problem]:
    """The warnings that say a quantity is only known at run time (`plan` makes them errors)."""
    return [p for p in problems if p.rule == RULE and p.severity is Severity.WARNING]
