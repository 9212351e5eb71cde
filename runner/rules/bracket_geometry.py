"""`bracket-geometry`: take-profit and stop-loss must sit on the right sides of the entry.

BUY: stop_loss < price < take_profit. SELL: take_profit < price < stop_loss. A MARKET entry has
no price, so only the two exits are compared (BUY: stop_loss < take_profit). A bracket on the
wrong side would trigger at once or never protect anything. Example::

    - {id: e, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200,
       bracket: {take_profit: 190, stop_loss: 180}}
    # -> take_profit 190 must be above the entry price 200 for a BUY [bracket-geometry]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.enums import Side
from runner.problems import Problem
from runner.rules import RuleContext, problem
from runner.rules.exact import show

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
                message = f"stop_loss {show(sl)} must be {sl_side} the entry price {show(price)} for a {side}"
                yield problem(ctx.at(index, "bracket", "stop_loss"), message, ID)
        elif tp is not None and sl is not None and (tp <= sl if buy else tp >= sl):
            message = f"take_profit {show(tp)} must be {tp_side} stop_loss {show(sl)} for a {side}"
            yield problem(ctx.at(index, "bracket", "take_profit"), message, ID)
