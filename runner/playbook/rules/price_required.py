"""`price-required`: LIMIT, ALO, TAKE_PROFIT and STOP_LOSS need a price; MARKET must not have one.

For LIMIT/ALO the price is the limit; for TAKE_PROFIT/STOP_LOSS it is the trigger. A MARKET
order's price would be ignored by QFEX (the runner sends 0), so writing one is a mistake worth
pointing at. Example::

    - {id: l1, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1}
    # -> LIMIT order needs a price [price-required]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.enums import OrderType
from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem

ID = "price-required"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        if order.type is OrderType.MARKET:
            if order.price is not None:
                message = "MARKET orders take no price (they fill at the market); remove it or use LIMIT"
                yield problem(ctx.at(index, "price"), message, ID)
        elif order.price is None:
            what = "trigger price" if order.type.is_stop else "limit price"
            message = f"{order.type.value} order {order.id!r} needs a price (its {what})"
            yield problem(ctx.at(index), message, ID)
