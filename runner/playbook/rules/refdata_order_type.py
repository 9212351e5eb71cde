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

from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem

ID = "refdata-order-type"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        spec = ctx.spec(order)
        if spec is None or order.type.is_stop:
            continue
        if spec.order_types and order.type.value not in spec.order_types:
            yield problem(ctx.at(index, "type"), f"{order.symbol} does not accept {order.type.value} orders "
                          f"(reference data lists {', '.join(spec.order_types)})", ID)
        elif spec.time_in_force and order.time_in_force.value not in spec.time_in_force:
            listed = ", ".join(spec.time_in_force)
            message = (f"{order.symbol} does not accept time_in_force {order.time_in_force.value} "
                       f"(reference data lists {listed})")
            yield problem(ctx.at(index, "time_in_force"), message, ID)
