"""What an order risks, in one place for the risk rules, sizing and the risk preview (not a rule).

- `opens_exposure`: an order that can open or grow a position (not reduce_only, not a standalone
  TAKE_PROFIT/STOP_LOSS, which only exit);
- `reference_price`: the price an order is valued at (its limit price; MARKET: the mark price when
  known, else the reference data's underlier_price);
- `loss_at_stop`: quantity x |entry - stop| when the order has a bracket stop (None: unbounded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from runner.enums import OrderType
from runner.playbook.model import Order, PlaybookStep, StepKind
from runner.playbook.refdata import RefData
from runner.playbook.rules.exact import EXACT, multiply


def opens_exposure(order: Order) -> bool:
    return not (order.reduce_only or order.type.is_stop)


def opening_twaps(steps: Iterable[tuple[int, PlaybookStep]]) -> list[tuple[int, PlaybookStep]]:
    """TWAP steps that can open a position (not reduce_only): market orders over time, no stop."""
    return [(i, s) for i, s in steps
            if s.kind is StepKind.TWAP and not s.reduce_only and s.symbol and s.quantity]


def reference_price(order: Order, refdata: RefData | None,
                    marks: Mapping[str, Decimal] | None = None) -> tuple[Decimal | None, str]:
    """(price, how it was chosen: "limit price", "trigger price", "mark price", "reference price")."""
    if order.type is not OrderType.MARKET:
        return order.price, "trigger price" if order.type.is_stop else "limit price"
    if marks and order.symbol in marks:
        return marks[order.symbol], "mark price"
    spec = refdata.get(order.symbol) if refdata is not None else None
    if spec is not None and spec.underlier_price is not None:
        return spec.underlier_price, "reference price"
    return None, ""


def stop_of(order: Order) -> Decimal | None:
    return order.bracket.stop_loss if order.bracket is not None else None


def loss_at_stop(order: Order, entry: Decimal | None) -> Decimal | None:
    """Quote currency lost if the whole quantity fills at `entry` and the bracket stop is hit
    (before fees and slippage); None without a stop or an entry price."""
    stop = stop_of(order)
    if stop is None or entry is None:
        return None
    return multiply(order.quantity, abs(EXACT.subtract(entry, stop)))
