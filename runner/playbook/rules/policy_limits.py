"""`policy-limits`: the repository policy's limits (`qfex-runner.yaml`, `runner.playbook.policy`).

The same checks as a playbook's own `limits:` (`limits-symbols`, `limits-notional`, `risk-limits`),
with the policy's values; each breach is located at the playbook's order and names the policy line
that set the limit, so a pull request's annotation says both. Example::

    # qfex-runner.yaml: limits: {max_loss_per_order: 300}
    orders: [{id: a, ..., quantity: 40, price: 225, bracket: {stop_loss: 215}}]
    # -> loss at the stop 400 (...) is above max_loss_per_order 300 of the repository policy
    #    (qfex-runner.yaml:2:3) [policy-limits]
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
        where = policy.where.get(key)
        return f"{key} of the repository policy ({where or policy.path})"

    policed = replace(ctx, limits=policy.limits)
    for found in (*limits_symbols.check(policed), *limits_notional.check(policed)):
        message = found.message
        for key in policy.where:
            message = message.replace(f"limits.{key}", named(key))
        yield replace(found, message=message, rule=ID)
    yield from risk_limits.breaches(policed, policy.limits, named, ID)
