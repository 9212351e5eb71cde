"""`lot-size`: the quantity must be an exact multiple of the symbol's lot size.

Applies to every order type, stop orders included (QFEX answers
INVALID_TICK_SIZE_PRECISION_QUANTITY). Example::

    # AAPL-USD lot_size 0.001
    - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 0.0015, price: 200}
    # -> quantity 0.0015 is not a multiple of AAPL-USD's lot size 0.001 (nearest: 0.001 or 0.002) [lot-size]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import is_multiple, neighbours, show
from runner.problems import Problem

ID = "lot-size"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        spec = ctx.spec(order)
        if spec is not None and order.sized and not is_multiple(order.quantity, spec.lot_size):
            below, above = neighbours(order.quantity, spec.lot_size)
            yield problem(ctx.at(index, "quantity"), f"quantity {show(order.quantity)} is not a multiple of "
                          f"{order.symbol}'s lot size {show(spec.lot_size)} (nearest: {show(below)} or "
                          f"{show(above)})", ID)
