"""`duplicate-id`: order ids must be unique within a playbook.

The id is part of the order's client_order_id; two orders with one id would share it and the
second would look "already placed" on a re-run. Example::

    - {id: a, ...}
    - {id: a, ...}
    # -> duplicate order id 'a' (first used on line 7) [duplicate-id]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem

ID = "duplicate-id"


def check(ctx: RuleContext) -> Iterator[Problem]:
    """Orders and steps share one namespace (a step's id makes its journal key as an order's does)."""
    first: dict[str, int] = {}
    items = sorted([(index, order.id, "order") for index, order in ctx.orders]
                   + [(index, step.id, "step") for index, step in ctx.steps])
    for index, item_id, kind in items:
        seen = first.setdefault(item_id, index)
        if seen != index:
            line = ctx.at(seen, "id").line
            message = f"duplicate {kind} id {item_id!r} (first used on line {line})"
            yield problem(ctx.at(index, "id"), message, ID)
