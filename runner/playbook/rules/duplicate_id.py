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
    first: dict[str, int] = {}
    for index, order in ctx.orders:
        seen = first.setdefault(order.id, index)
        if seen != index:
            line = ctx.at(seen, "id").line
            message = f"duplicate order id {order.id!r} (first used on line {line})"
            yield problem(ctx.at(index, "id"), message, ID)
