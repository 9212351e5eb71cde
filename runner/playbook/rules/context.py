"""What every rule reads (`RuleContext`) and how it says what it found (`problem`).

Its own module so the rules import it without importing the package that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.playbook.account import AccountFigures
from runner.playbook.model import Limits, Order, PlaybookStep
from runner.playbook.policy import Policy
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
    #: (index in `orders:`, step) for every step besides orders that passed the schema
    steps: tuple[tuple[int, PlaybookStep], ...] = ()
    #: the repository's policy file (`qfex-runner.yaml`) found above the playbook, if any
    policy: Policy | None = None
    #: equity, balance and leverage (the exchange at run time; --equity / --account offline)
    account: AccountFigures | None = None

    def at(self, index: int, *fields: str, key: bool = False) -> Location:
        """Location of `orders[index].<fields...>` (of its key with `key=True`)."""
        return self.document.locate(("orders", index, *fields), key=key)

    def spec(self, order: Order) -> SymbolSpec | None:
        """The order's reference data, when reference data was given and knows the symbol."""
        return self.refdata.get(order.symbol) if self.refdata is not None else None


def problem(location: Location, message: str, rule: str, severity: Severity = Severity.ERROR) -> Problem:
    return Problem(location, message, rule, severity)
