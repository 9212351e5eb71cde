"""`refdata-order-type`: with reference data, the symbol must list the order type and time in force.

RefdataSymbol carries `order_types` (e.g. LIMIT, MARKET, ALO) and `order_time_in_force`. Stop
orders (TAKE_PROFIT, STOP_LOSS) are never listed there, so they are not checked; an empty list
means "not published" and is not checked either. Example::

    # refdata: {"symbol": "GOLD-USD", "order_types": ["LIMIT", "MARKET"], ...}
    - {id: g, symbol: GOLD-USD, side: BUY, type: ALO, quantity: 1, price: 2000}
    # -> GOLD-USD does not accept ALO orders (reference data lists LIMIT, MARKET) [refdata-order-type]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.enums import OrderType, TimeInForce
from runner.playbook.model import Order
from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem

ID = "refdata-order-type"


def check(ctx: RuleContext) -> Iterator[Problem]:
    # the verdict depends only on (symbol, type, time in force): found once per combination, not per
    # order (a 1,500-order playbook has a handful; ~0.7 -> ~0.2 µs per order)
    verdicts: dict[tuple[str, OrderType, TimeInForce], tuple[str, str] | None] = {}
    for index, order in ctx.orders:
        combination = (order.symbol, order.type, order.time_in_force)
        if combination not in verdicts:
            verdicts[combination] = _refused(ctx, order)
        refused = verdicts[combination]
        if refused is not None:
            field, message = refused
            yield problem(ctx.at(index, field), message, ID)


def _refused(ctx: RuleContext, order: Order) -> tuple[str, str] | None:
    """(the field to point at, why) when the reference data refuses the order's type or time in force."""
    spec = ctx.spec(order)
    if spec is None or order.type.is_stop:
        return None
    if spec.order_types and order.type.value not in spec.order_types:
        return "type", (f"{order.symbol} does not accept {order.type.value} orders "
                        f"(reference data lists {', '.join(spec.order_types)})")
    if spec.time_in_force and order.time_in_force.value not in spec.time_in_force:
        listed = ", ".join(spec.time_in_force)
        return "time_in_force", (f"{order.symbol} does not accept time_in_force {order.time_in_force.value} "
                                 f"(reference data lists {listed})")
    return None
