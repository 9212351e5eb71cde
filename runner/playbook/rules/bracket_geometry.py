"""`bracket-geometry`: take-profit and stop-loss must sit on the right sides of the entry.

BUY: stop_loss < price < take_profit. SELL: take_profit < price < stop_loss. A MARKET entry has
no price, so only the two exits are compared (BUY: stop_loss < take_profit); with reference data,
exits on the wrong side of the underlier price are a warning (QFEX judges them against the mark
at entry time, which may have moved by then). A bracket on the wrong side would trigger at once or
never protect anything. Example::

    - {id: e, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200,
       bracket: {take_profit: 190, stop_loss: 180}}
    # -> take_profit 190 must be above the entry price 200 for a BUY [bracket-geometry]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.enums import Side
from runner.playbook.model import BracketMode, Order
from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import show
from runner.problems import Problem, Severity

ID = "bracket-geometry"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        bracket = order.bracket
        if bracket is None or order.type.is_stop:
            continue
        buy, side = order.side is Side.BUY, order.side.value
        tp, sl, price = bracket.take_profit, bracket.stop_loss, order.price
        tp_side, sl_side = ("above", "below") if buy else ("below", "above")
        if price is not None:
            if tp is not None and (tp <= price if buy else tp >= price):
                message = (f"take_profit {show(tp)} must be {tp_side} "
                           f"the entry price {show(price)} for a {side}")
                yield problem(ctx.at(index, "bracket", "take_profit"), message, ID)
            if sl is not None and (sl >= price if buy else sl <= price):
                if bracket.mode is BracketMode.AFTER_FILL:  # moved after the fill (break-even)
                    message = (f"stop_loss {show(sl)} is not {sl_side} the entry price {show(price)}: "
                               f"valid only for an entry that already filled (break-even), where run "
                               f"--converge checks it against the market; a run refuses it for an entry "
                               f"not placed yet")
                    yield problem(ctx.at(index, "bracket", "stop_loss"), message, ID, Severity.WARNING)
                    continue
                message = f"stop_loss {show(sl)} must be {sl_side} the entry price {show(price)} for a {side}"
                yield problem(ctx.at(index, "bracket", "stop_loss"), message, ID)
        elif tp is not None and sl is not None and (tp <= sl if buy else tp >= sl):
            message = f"take_profit {show(tp)} must be {tp_side} stop_loss {show(sl)} for a {side}"
            yield problem(ctx.at(index, "bracket", "take_profit"), message, ID)
        else:
            yield from _against_underlier(ctx, index, order, buy)


def _against_underlier(ctx: RuleContext, index: int, order: Order, buy: bool) -> Iterator[Problem]:
    """MARKET entry: QFEX compares the exits with the mark when the order arrives (warning only)."""
    spec = ctx.spec(order)
    bracket = order.bracket
    if spec is None or spec.underlier_price is None or bracket is None:
        return
    mark = spec.underlier_price
    checks = (("take_profit", bracket.take_profit, "above" if buy else "below"),
              ("stop_loss", bracket.stop_loss, "below" if buy else "above"))
    for field, value, side in checks:
        if value is not None and (value <= mark if (side == "above") else value >= mark):
            message = (f"{field} {show(value)} is not {side} {order.symbol}'s underlier price {show(mark)}; "
                       "QFEX rejects exits on the wrong side of the market")
            yield problem(ctx.at(index, "bracket", field), message, ID, Severity.WARNING)
