"""`step-target`: what a step besides orders acts on exists, is named once, and comes before it.

A `cancel` names this playbook's orders placed before it (a bracket leg as `<id>.take_profit` /
`<id>.stop_loss`, only where the order has that exit), or a `symbol:`, or `all: true` — exactly one
of them; `scope: account` only widens a symbol/all cancel. A `close_position` names a `symbol:` or
`all: true`. A `cancel_twap` names a twap step placed before it. Example::

    - {id: kill, step: cancel, orders: [aapl-lng]}
    # -> cancel names 'aapl-lng', which is no order of this playbook placed before it
    #    (did you mean 'aapl-long'?) [step-target]
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from runner.playbook.model import PlaybookStep, Scope, StepKind
from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem

ID = "step-target"

#: the exits of a bracket as a cancel names them (`aapl-long.stop_loss`)
LEG_NAMES = ("take_profit", "stop_loss")


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, step in ctx.steps:
        if step.kind is StepKind.CANCEL:
            yield from _cancel(ctx, index, step)
        elif step.kind is StepKind.CLOSE_POSITION:
            if (step.symbol is None) == (not step.all):
                yield problem(ctx.at(index, "step"),
                              "close_position needs exactly one of symbol: or all: true", ID)
        elif step.kind is StepKind.CANCEL_TWAP:
            before = {s.id for i, s in ctx.steps if i < index and s.kind is StepKind.TWAP}
            if step.twap not in before:
                yield problem(ctx.at(index, "twap"), f"cancel_twap names {step.twap!r}, which is no twap "
                              f"step "
                              f"placed before it{_suggest(step.twap or '', sorted(before))}", ID)


def _cancel(ctx: RuleContext, index: int, step: PlaybookStep) -> Iterator[Problem]:
    chosen = [name for name, given in (("orders:", bool(step.orders)), ("symbol:", step.symbol is not None),
                                       ("all: true", step.all)) if given]
    if len(chosen) != 1:
        what = "none" if not chosen else " and ".join(chosen)
        yield problem(ctx.at(index, "step"), f"cancel needs exactly one of orders:, symbol: or all: true "
                      f"(got {what})", ID)
        return
    if step.orders and step.scope is Scope.ACCOUNT:
        yield problem(ctx.at(index, "scope"), "scope: account widens a symbol: or all: true cancel; "
                      "orders: names this playbook's own orders", ID)
    before = {order.id: order for i, order in ctx.orders if i < index}
    for position, name in enumerate(step.orders):
        where = ctx.document.locate(("orders", index, "orders", position))
        order_id, _, leg = name.rpartition(".") if name.rpartition(".")[2] in LEG_NAMES else (name, "", "")
        order = before.get(order_id)
        if order is None:
            yield problem(where, f"cancel names {order_id!r}, which is no order of this playbook placed "
                          f"before "
                          f"it{_suggest(order_id, sorted(before))}", ID)
        elif leg and (order.bracket is None or getattr(order.bracket, leg) is None):
            yield problem(where, f"cancel names {name!r}, but order {order_id!r} has no {leg} exit", ID)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
