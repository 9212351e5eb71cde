"""`tif-allowed`: the order's time in force must be one QFEX allows for its type.

QFEX's table (qfex-api.md §4): LIMIT GTC/IOC/FOK; MARKET IOC; ALO GTC; TAKE_PROFIT/STOP_LOSS IOC.
Anything else is rejected by the exchange with INVALID_TIME_IN_FORCE, so it is refused here.
Only a value written on the order itself can break this: `defaults.time_in_force` applies only
to types that allow it (others fall back to their own default). QFEX's stop-order page shows
`"order_time_in_force": "GTC"` and says the value is not read, while its order-types table allows
only IOC for stops: the table is followed, and the message says the field can simply be left out.
Example::

    - {id: m1, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: 1, time_in_force: GTC}
    # -> time_in_force GTC is not allowed for MARKET orders (allowed: IOC) [tif-allowed]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.enums import ALLOWED_TIME_IN_FORCE, OrderType
from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem

ID = "tif-allowed"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        allowed = ALLOWED_TIME_IN_FORCE[order.type]
        if order.time_in_force not in allowed:
            names = ", ".join(sorted(t.value for t in allowed))
            tif, kind = order.time_in_force.value, order.type.value
            message = f"time_in_force {tif} is not allowed for {kind} orders (allowed: {names})"
            if order.type in (OrderType.TAKE_PROFIT, OrderType.STOP_LOSS):
                message += "; stop orders need none: leave time_in_force out"
            yield problem(ctx.at(index, "time_in_force"), message, ID)
