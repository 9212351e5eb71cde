"""`duplicate-id`: order ids must be unique within a playbook.

The id is part of the order's client_order_id; two orders with one id would share it and the
second would look "already placed" on a re-run. Example::

    - {id: a, ...}
    - {id: a, ...}
    # -> duplicate order id 'a' (first used on line 7) [duplicate-id]
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.problems import Location, Problem
from runner.rules import RuleContext, problem

ID = "duplicate-id"


def check(ctx: RuleContext) -> Iterator[Problem]:
    first: dict[str, Location] = {}
    for index, order in ctx.orders:
        here = ctx.at(index, "id")
        seen = first.setdefault(order.id, here)
        if seen is not here:
            yield problem(here, f"duplicate order id {order.id!r} (first used on line {seen.line})", ID)
