"""`bracket-type`: brackets belong on entries (LIMIT, MARKET, ALO), not on stop orders.

QFEX attaches take-profit/stop-loss to LIMIT/MARKET/ALO add_orders only; a TAKE_PROFIT or
STOP_LOSS order is itself an exit. Example::

    - {id: tp, symbol: AAPL-USD, side: SELL, type: TAKE_PROFIT, quantity: 1, price: 250,
       bracket: {stop_loss: 200}}
    # -> a bracket is only allowed on LIMIT, MARKET or ALO orders, not TAKE_PROFIT [bracket-type]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem

ID = "bracket-type"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        if order.bracket is not None and order.type.is_stop:
            message = f"a bracket is only allowed on LIMIT, MARKET or ALO orders, not {order.type.value}"
            yield problem(ctx.at(index, "bracket", key=True), message, ID)
