"""`tick-size`: every price must be an exact multiple of the symbol's tick size.

Checked for the limit price, stop-order trigger prices and bracket take_profit/stop_loss, in
exact decimal arithmetic (QFEX answers INVALID_TICK_SIZE_PRECISION_PRICE). Example::

    # AAPL-USD tick_size 0.01
    - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200.005}
    # -> price 200.005 is not a multiple of AAPL-USD's tick size 0.01 (nearest: 200.00 or 200.01) [tick-size]
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import is_multiple, neighbours, show
from runner.problems import Problem

ID = "tick-size"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        spec = ctx.spec(order)
        if spec is None:
            continue
        prices: list[tuple[tuple[str, ...], Decimal | None]] = [(("price",), order.price)]
        if order.bracket is not None:
            prices += [(("bracket", "take_profit"), order.bracket.take_profit),
                       (("bracket", "stop_loss"), order.bracket.stop_loss)]
        for fields, value in prices:
            if value is not None and not is_multiple(value, spec.tick_size):
                below, above = neighbours(value, spec.tick_size)
                yield problem(ctx.at(index, *fields), f"{fields[-1]} {show(value)} is not a multiple of "
                              f"{order.symbol}'s tick size {show(spec.tick_size)} (nearest: {show(below)} or "
                              f"{show(above)})", ID)
