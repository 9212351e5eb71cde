"""`price-band`: a LIMIT/ALO BUY above max_price or SELL below min_price is rejected by QFEX.

This is exactly QFEX's pre-trade band check (qfex-api.md §6): a BUY below min_price or a SELL
above max_price is accepted (it just rests far from the market), so it is not reported. Stop
trigger prices (standalone and bracket) are exempt from bands, as on QFEX. Bands move with the
market: check against fresh reference data. Example::

    # AAPL-USD band 172.50 .. 287.50
    - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 300}
    # -> BUY price 300 is above AAPL-USD's max_price 287.50 (the price band) [price-band]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.enums import OrderType, Side
from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import show
from runner.problems import Problem

ID = "price-band"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        spec = ctx.spec(order)
        if spec is None or order.price is None or order.type not in (OrderType.LIMIT, OrderType.ALO):
            continue
        if order.side is Side.BUY and order.price > spec.max_price:
            yield problem(ctx.at(index, "price"), f"BUY price {show(order.price)} is above {order.symbol}'s "
                          f"max_price {show(spec.max_price)} (the price band)", ID)
        elif order.side is Side.SELL and order.price < spec.min_price:
            yield problem(ctx.at(index, "price"), f"SELL price {show(order.price)} is below {order.symbol}'s "
                          f"min_price {show(spec.min_price)} (the price band)", ID)
