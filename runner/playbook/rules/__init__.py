"""Trading rules: one module per rule, each with an `ID`, a docstring with an example, and `check`.

A rule reads the (possibly partial) playbook model through a `RuleContext` (`rules.context`) and
yields located `Problem`s; it never raises for bad input. Orders that failed the schema are left out
of the context, so a rule can trust every field type. All arithmetic is exact
(`runner.playbook.rules.exact`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import ModuleType

from runner.playbook.rules import (
    bracket_geometry,
    bracket_type,
    duplicate_id,
    exit_plan,
    leverage_first,
    limits_notional,
    limits_symbols,
    lot_size,
    policy_limits,
    price_band,
    price_required,
    quantity_range,
    refdata_order_type,
    refdata_symbol,
    risk_limits,
    step_target,
    stop_side,
    tick_size,
    tif_allowed,
    twap_limits,
)
from runner.playbook.rules.context import RuleContext
from runner.problems import Problem

#: every rule, in the order they run
RULES: list[ModuleType] = [tif_allowed, price_required, duplicate_id, bracket_type, bracket_geometry,
                           exit_plan,
                           limits_symbols, limits_notional, refdata_symbol, refdata_order_type, tick_size,
                           lot_size, quantity_range, price_band, stop_side, step_target, leverage_first,
                           twap_limits, risk_limits, policy_limits]
#: rule id -> check function, in the order they run
CHECKS: dict[str, Callable[[RuleContext], Iterable[Problem]]] = {m.ID: m.check for m in RULES}


def run_rules(context: RuleContext) -> Iterator[Problem]:
    """Every problem every rule finds (the caller sorts them by location)."""
    for check in CHECKS.values():
        yield from check(context)
