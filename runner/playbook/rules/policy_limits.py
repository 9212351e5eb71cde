"""`policy-limits`: the repository policy's limits (`qfex-runner.yaml`, `runner.playbook.policy`).

The same checks as a playbook's own `limits:` (`limits-symbols`, `limits-notional`, `risk-limits`),
with the policy's values; each breach is located at the playbook's order and names the policy line
that set the limit, so a pull request's annotation says both. Example::

    # qfex-runner.yaml: limits: {max_loss_per_order: 300}
    orders: [{id: a, ..., quantity: 40, price: 225, bracket: {stop_loss: 215}}]
    # -> loss at the stop 400 (...) is above the policy's max_loss_per_order 300
    #    (set in qfex-runner.yaml:2:3) [policy-limits]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from runner.playbook.rules import limits_notional, limits_symbols, risk_limits
from runner.playbook.rules.context import RuleContext
from runner.problems import Problem

ID = "policy-limits"


def check(ctx: RuleContext) -> Iterator[Problem]:
    policy = ctx.policy
    if policy is None:
        return

    def named(key: str) -> str:
        return f"the policy's {key}"

    def set_in(found: Problem) -> Problem:
        """Name the policy line that set the limit the message is about."""
        key = next((k for k in policy.where if f"the policy's {k}" in found.message), None)
        where = policy.where.get(key) if key is not None else None
        return replace(found, message=f"{found.message} (set in {where or policy.path})", rule=ID)

    policed = replace(ctx, limits=policy.limits)
    for found in (*limits_symbols.check(policed), *limits_notional.check(policed)):
        message = found.message
        for key in policy.where:
            message = message.replace(f"limits.{key}", named(key))
        yield set_in(replace(found, message=message))
    for found in risk_limits.breaches(policed, policy.limits, named, ID):
        yield set_in(found)
