"""`twap-limits`: a `twap` step within QFEX's add_twap limits.

QFEX (add_twap page): at least 2 child orders (`num_orders`), at least 30 s apart
(`order_interval_secs`); with reference data the total is a multiple of the lot size and the
average child at least the minimum quantity. `duration` must be a whole number of `interval`s.
Example::

    - {id: t, step: twap, symbol: AAPL-USD, side: BUY, quantity: 10, duration: 60s, interval: 20s}
    # -> interval 20s is shorter than QFEX's minimum of 30s between child orders [twap-limits]
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from runner.playbook.model import StepKind
from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import is_multiple, show
from runner.problems import Problem

ID = "twap-limits"
MIN_INTERVAL_S = 30
MIN_CHILD_ORDERS = 2


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, step in ctx.steps:
        if step.kind is not StepKind.TWAP or step.duration_s is None or step.interval_s is None:
            continue
        if step.interval_s < MIN_INTERVAL_S:
            yield problem(ctx.at(index, "interval"), f"interval {step.interval_s}s is shorter than QFEX's "
                          f"minimum of {MIN_INTERVAL_S}s between child orders", ID)
        if step.duration_s % step.interval_s:
            yield problem(ctx.at(index, "duration"), f"duration {step.duration_s}s is not a whole number of "
                          f"intervals ({step.interval_s}s): QFEX takes a number of child orders", ID)
        elif step.duration_s // step.interval_s < MIN_CHILD_ORDERS:
            yield problem(ctx.at(index, "duration"), f"duration / interval gives "
                          f"{step.duration_s // step.interval_s} child order; QFEX needs at least "
                          f"{MIN_CHILD_ORDERS}", ID)
        spec = ctx.refdata.get(step.symbol) if ctx.refdata is not None and step.symbol else None
        if spec is None or step.quantity is None:
            continue
        if not is_multiple(step.quantity, spec.lot_size):
            yield problem(ctx.at(index, "quantity"), f"quantity {show(step.quantity)} is not a multiple of "
                          f"{step.symbol}'s lot size {show(spec.lot_size)}", ID)
        children = step.num_orders
        if children and spec.min_quantity is not None \
                and step.quantity / Decimal(children) < spec.min_quantity:
            yield problem(ctx.at(index, "quantity"), f"each of the {children} child orders would be "
                          f"{show(step.quantity / Decimal(children))}, below {step.symbol}'s minimum "
                          f"quantity "
                          f"{show(spec.min_quantity)}", ID)
