"""`quantity-range`: the quantity must be within the symbol's min_quantity .. max_quantity.

Not checked for TAKE_PROFIT/STOP_LOSS orders: QFEX's stop-order page says their quantity is
exempt from min/max (only the lot size applies). Example::

    # AAPL-USD min_quantity 0.001, max_quantity 100000
    - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 200000, price: 200}
    # -> quantity 200000 is above AAPL-USD's max_quantity 100000 [quantity-range]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import show
from runner.problems import Problem

ID = "quantity-range"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        spec = ctx.spec(order)
        if spec is None or order.type.is_stop or not order.sized:  # sized at run time: checked then
            continue
        if order.quantity < spec.min_quantity:
            message = (f"quantity {show(order.quantity)} is below "
                       f"{order.symbol}'s min_quantity {show(spec.min_quantity)}")
            yield problem(ctx.at(index, "quantity"), message, ID)
        elif order.quantity > spec.max_quantity:
            message = (f"quantity {show(order.quantity)} is above "
                       f"{order.symbol}'s max_quantity {show(spec.max_quantity)}")
            yield problem(ctx.at(index, "quantity"), message, ID)
