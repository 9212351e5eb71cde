"""`limits-symbols`: with `limits.symbols`, every order must trade one of the listed symbols.

A guardrail against a copy-paste into the wrong market. Example::

    limits: {symbols: [AAPL-USD]}
    orders: [{id: t, symbol: TSLA-USD, ...}]
    # -> symbol TSLA-USD is not in limits.symbols (AAPL-USD) [limits-symbols]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem

ID = "limits-symbols"


def check(ctx: RuleContext) -> Iterator[Problem]:
    allowed = ctx.limits.symbols if ctx.limits is not None else None
    if allowed is None:
        return
    for index, order in ctx.orders:
        if order.symbol not in allowed:
            yield problem(ctx.at(index, "symbol"), f"symbol {order.symbol} is not in limits.symbols "
                          f"({', '.join(allowed) or 'empty'})", ID)
    for index, step in ctx.steps:
        if step.symbol is not None and step.symbol not in allowed:
            yield problem(ctx.at(index, "symbol"), f"symbol {step.symbol} is not in limits.symbols "
                          f"({', '.join(allowed) or 'empty'})", ID)
