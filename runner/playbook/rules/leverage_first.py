"""`leverage-first`: a `set_leverage` step comes before every order of its symbol.

QFEX refuses to change a symbol's leverage while it has open orders or a position
(set_leverage page), so a set_leverage after an order of the same symbol would fail at run
time, after that order was placed. Example::

    - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200}
    - {id: lev, step: set_leverage, symbol: AAPL-USD, leverage: 5}
    # -> set_leverage AAPL-USD comes after order 'a' of the same symbol: QFEX refuses to change
    #    leverage while the symbol has open orders or a position; move it before 'a' [leverage-first]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.playbook.model import StepKind
from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem

ID = "leverage-first"


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, step in ctx.steps:
        if step.kind is not StepKind.SET_LEVERAGE:
            continue
        earlier = next((order for i, order in ctx.orders if i < index and order.symbol == step.symbol), None)
        twap = next((s for i, s in ctx.steps
                     if i < index and s.kind is StepKind.TWAP and s.symbol == step.symbol), None)
        first = earlier.id if earlier is not None else twap.id if twap is not None else None
        if first is not None:
            yield problem(ctx.at(index, "step"), f"set_leverage {step.symbol} comes after {first!r} of the "
                          f"same "
                          f"symbol: QFEX refuses to change leverage while the symbol has open orders or a "
                          f"position; move it before {first!r}", ID)
