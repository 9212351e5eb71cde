"""An order's definition, and the stale-plan rule (terraform's): a placed order may not change silently.

Each intent records the order's definition as sent (`order_definition`); if the playbook now
defines a placed order differently, or no longer has it, `changed_orders` lists it and
`Journal.open` refuses (`PlanChanged`, exit 1) unless `--replan`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from runner.jsonnum import dumps
from runner.playbook.model import Order, Playbook
from runner.problems import Location, Problem
from runner.state.entries import JournalContents
from runner.words import number_text, shown


def _text_or_none(value: Decimal | None) -> str | None:
    """10, 10.0 and 1E+1 are the same order."""
    return None if value is None else number_text(value)


def order_definition(order: Order, account: str | None = None) -> dict[str, Any]:
    """What makes an order the order it is at the exchange (not wait/expect, comments or layout)."""
    bracket = order.bracket
    return {
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "quantity": _text_or_none(order.quantity),
        "price": _text_or_none(order.price),
        "time_in_force": order.time_in_force.value,
        "reduce_only": bool(order.reduce_only),
        "take_profit": _text_or_none(bracket.take_profit) if bracket else None,
        "stop_loss": _text_or_none(bracket.stop_loss) if bracket else None,
        "bracket_mode": bracket.mode.value if bracket else None,
        "account": account,
        # only for `quantity: {risk: ...}`: older definitions (and every other order's) keep their fingerprint
        **({"sizing": order.sizing.text} if order.sizing is not None else {}),
    }


def frozen_quantities(contents: JournalContents, playbook: Playbook) -> Playbook:
    """The playbook with each placed, sized order's quantity as it was placed (the journal's accepted
    definition), not sized again: equity moving between runs is not a change of the playbook. An
    order whose sizing itself changed (`{risk: 200}` -> `{risk: 300}`) keeps today's quantity, so the
    stale-plan rule reports the change."""
    orders = []
    for order in playbook.orders:
        accepted = contents.accepted_definitions.get(order.id)
        placed = accepted.get("quantity") if accepted is not None else None
        if (order.sizing is not None and placed is not None and accepted is not None
                and accepted.get("sizing") == order.sizing.text):
            note = f"{placed} as placed by an earlier run (frozen in the journal, not sized again)"
            order = replace(order, quantity=Decimal(placed), sizing=replace(order.sizing, explanation=note))
        orders.append(order)
    return replace(playbook, orders=tuple(orders))


def fingerprint(definition: Mapping[str, Any]) -> str:
    canonical = dumps(dict(definition), sort_keys=True)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def definition_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """`price 200 → 201, quantity 10 → 12` (what a reviewer needs to see)."""
    parts = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            parts.append(f"{key} {shown(old.get(key))} → {shown(new.get(key))}")
    return ", ".join(parts) or "definition changed"


@dataclass(frozen=True)
class ChangedOrder:
    """A placed order whose definition in the playbook is not the one it was placed with."""

    order_key: str
    change: str
    """What changed, e.g. `price 200 → 201`, or `removed from the playbook`."""
    location: Location
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    def problem(self) -> Problem:
        return Problem(self.location, f"order {self.order_key!r} was already placed under this name/run_id "
                       f"and has changed since: {self.change}", "changed-since-placed")


def changed_orders(contents: JournalContents, playbook: Playbook) -> list[ChangedOrder]:
    """Placed orders whose current definition differs from the accepted one, plus removed ones."""
    current = {o.id: o for o in playbook.orders}
    changed: list[ChangedOrder] = []
    for key in sorted(contents.placed_order_keys()):
        accepted = contents.accepted_definitions.get(key)
        order = current.get(key)
        if order is None:
            if key in contents.accepted_definitions:
                removed = "removed from the playbook (it stays as it is on the exchange)"
                changed.append(ChangedOrder(key, removed, Location(playbook.path), accepted, None))
            continue
        now = order_definition(order, playbook.account)
        if accepted is not None and fingerprint(accepted) != fingerprint(now):
            changed.append(ChangedOrder(key, definition_diff(accepted, now), order.location, accepted, now))
    return changed
