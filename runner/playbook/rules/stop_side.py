"""`stop-side`: a standalone stop order's trigger must be on the side of the market it waits for.

QFEX turns a TAKE_PROFIT/STOP_LOSS into a market order when the mark price reaches the trigger. A
SELL STOP_LOSS (exit of a long) waits for the market to fall, so its trigger must be below the
market; a SELL TAKE_PROFIT waits for a rise, so above; BUY mirrored. On the wrong side it fires the
moment it arrives: not a stop, a market order. Checked against the mark price read from the
target's market-data socket as `run` starts (what QFEX triggers on), else the reference data's
underlier price: an error when that is the target's live data (`run`), a warning with
`--refdata FILE` (a file's price may be stale). Example::

    - {id: sl, symbol: AAPL-USD, side: SELL, type: STOP_LOSS, quantity: 1, price: 240}
    # market 230 -> STOP_LOSS 240 for a SELL must be below AAPL-USD's market price 230
    #    (it would trigger at once) [stop-side]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.enums import OrderType, Side
from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import show
from runner.problems import Problem, Severity

ID = "stop-side"


def check(ctx: RuleContext) -> Iterator[Problem]:
    live = ctx.refdata is not None and ctx.refdata.live
    for index, order in ctx.orders:
        spec = ctx.spec(order)
        mark = ctx.refdata.marks.get(order.symbol) if ctx.refdata is not None else None
        if not order.type.is_stop or order.price is None or spec is None \
                or (mark is None and spec.underlier_price is None):
            continue
        market = mark if mark is not None else spec.underlier_price
        assert market is not None
        trigger = order.price
        # a SELL stop-loss and a BUY take-profit wait for the market to fall to the trigger
        waits_for_fall = (order.type is OrderType.STOP_LOSS) == (order.side is Side.SELL)
        wrong = trigger >= market if waits_for_fall else trigger <= market
        if not wrong:
            continue
        where = "below" if waits_for_fall else "above"
        source = "" if live or ctx.refdata is None else f" (from {ctx.refdata.source})"
        kind = "mark price" if mark is not None else "market price"
        message = (f"{order.type.value} {show(trigger)} for a {order.side.value} must be {where} "
                   f"{order.symbol}'s {kind} {show(market)}{source}: it would trigger at once")
        yield problem(ctx.at(index, "price"), message, ID, Severity.ERROR if live else Severity.WARNING)
