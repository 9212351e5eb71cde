"""Trading rules: one module per rule, each with an `ID`, a docstring with an example, and `check`.

A rule reads the (possibly partial) playbook model through a `RuleContext` and yields located
`Problem`s; it never raises for bad input. Orders that failed the schema are left out of the
context, so a rule can trust every field type. All arithmetic is exact (`runner.playbook.rules.exact`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType

from runner.playbook.model import Limits, Order
from runner.playbook.refdata import RefData, SymbolSpec
from runner.playbook.yamlsource import Document
from runner.problems import Location, Problem, Severity


@dataclass(frozen=True)
class RuleContext:
    """What a rule may look at: well-formed orders with their index in the file, limits, refdata."""

    document: Document
    #: (index in `orders:`, order) for every order that passed the schema
    orders: tuple[tuple[int, Order], ...]
    #: None when the `limits` block itself failed the schema
    limits: Limits | None
    refdata: RefData | None

    def at(self, index: int, *fields: str, key: bool = False) -> Location:
        """Location of `orders[index].<fields...>` (of its key with `key=True`)."""
        return self.document.locate(("orders", index, *fields), key=key)

    def spec(self, order: Order) -> SymbolSpec | None:
        """The order's reference data, when reference data was given and knows the symbol."""
        return self.refdata.get(order.symbol) if self.refdata is not None else None


def problem(location: Location, message: str, rule: str, severity: Severity = Severity.ERROR) -> Problem:
    return Problem(location, message, rule, severity)


def _modules() -> list[ModuleType]:
    from runner.playbook.rules import (
        bracket_geometry,
        bracket_type,
        duplicate_id,
        limits_notional,
        limits_symbols,
        lot_size,
        price_band,
        price_required,
        quantity_range,
        refdata_order_type,
        refdata_symbol,
        tick_size,
        tif_allowed,
    )

    return [tif_allowed, price_required, duplicate_id, bracket_type, bracket_geometry, limits_symbols,
            limits_notional, refdata_symbol, refdata_order_type, tick_size, lot_size, quantity_range,
            price_band]


RULES: list[ModuleType] = _modules()
#: rule id -> check function, in the order they run
CHECKS: dict[str, Callable[[RuleContext], Iterable[Problem]]] = {m.ID: m.check for m in RULES}


def run_rules(context: RuleContext) -> Iterator[Problem]:
    """Every problem every rule finds (the caller sorts them by location)."""
    for check in CHECKS.values():
        yield from check(context)
