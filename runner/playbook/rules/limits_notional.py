"""`limits-notional`: order and total notional (quantity x price) within `limits`.

- `max_order_notional` applies to every order (stop orders at their trigger price).
- `max_total_notional` applies to the running sum over orders that can open exposure: all
  except reduce_only orders and standalone TAKE_PROFIT/STOP_LOSS (exits only reduce a position).
  Bracket exits are not counted either.
- A `twap` step is one order to these limits: its whole quantity, valued like a MARKET order (its
  children are), counts against `max_order_notional` and (unless reduce_only) the running total.
- A MARKET order has no price: it is valued at the reference data's underlier_price. Without
  reference data (or without that field) the limit cannot be checked, which is an error: a
  guardrail that silently does nothing is worse than none. Pass `--refdata FILE`.

Example::

    limits: {max_order_notional: 1000}
    orders: [{id: big, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 10, price: 200}]
    # -> notional 2000 (10 x 200) is above limits.max_order_notional 1000 [limits-notional]
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from runner.enums import OrderType, TimeInForce
from runner.playbook.model import Order, PlaybookStep, StepKind
from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import add, multiply, show
from runner.problems import Problem

ID = "limits-notional"


def _price(ctx: RuleContext, order: Order) -> tuple[Decimal | None, str]:
    if order.type is not OrderType.MARKET:
        return order.price, ""
    spec = ctx.spec(order)
    if spec is not None and spec.underlier_price is not None:
        return spec.underlier_price, " at the underlier price"
    return None, ""


def _twap(step: PlaybookStep) -> Order | None:
    """A twap step as the MARKET order its children add up to (for these limits only)."""
    if step.kind is not StepKind.TWAP or step.symbol is None or step.side is None or step.quantity is None:
        return None
    return Order(id=step.id, symbol=step.symbol, side=step.side, type=OrderType.MARKET,
                 quantity=step.quantity, price=None, time_in_force=TimeInForce.IOC,
                 reduce_only=step.reduce_only, location=step.location)


def check(ctx: RuleContext) -> Iterator[Problem]:
    limits = ctx.limits
    if limits is None or (limits.max_order_notional is None and limits.max_total_notional is None):
        return
    total, breached = Decimal(0), False
    twaps = [(index, twap) for index, step in ctx.steps if (twap := _twap(step)) is not None]
    twap_indexes = {index for index, _ in twaps}
    for index, order in sorted([*ctx.orders, *twaps], key=lambda item: item[0]):
        if not order.sized:  # `{risk: 0.5%}` without equity here: sized, and checked, at run time
            continue
        counts = not (order.reduce_only or order.type.is_stop)
        price, how = _price(ctx, order)
        if price is None:
            needed = limits.max_order_notional is not None or (
                counts and limits.max_total_notional is not None)
            if order.type is OrderType.MARKET and needed:
                source = "reference data has no underlier_price for it" if ctx.spec(order) else \
                    "no reference data for its symbol (pass --refdata FILE)"
                what = "twap step" if index in twap_indexes else "MARKET order"
                yield problem(ctx.at(index, "quantity"), f"cannot check notional limits for {what} "
                              f"{order.id!r}: {source}", ID)
            continue  # a missing LIMIT price is price-required's problem
        notional = multiply(order.quantity, price)
        what = f"{show(notional.normalize())} ({show(order.quantity)} x {show(price)}{how})"
        if limits.max_order_notional is not None and notional > limits.max_order_notional:
            yield problem(ctx.at(index, "quantity"), f"notional {what} is above limits.max_order_notional "
                          f"{show(limits.max_order_notional)}", ID)
        if not counts:
            continue
        total = add(total, notional)
        if limits.max_total_notional is not None and total > limits.max_total_notional and not breached:
            breached = True  # reported once, at the order that crosses the limit
            message = (f"total notional reaches {show(total.normalize())} with this order, above "
                       f"limits.max_total_notional {show(limits.max_total_notional)}")
            yield problem(ctx.at(index, "quantity"), message, ID)
