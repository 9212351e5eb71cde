"""The playbook as the desired book: what differs between it and the exchange, item by item.

Terraform's model: the file is the desired state, the exchange the real one. For every order (its
entry, its after_fill exits, its attached exits once armed) and every step, `desired_changes`
says what a run would do now — `create`, `modify` (field by field, as the exchange shows it →
as the playbook says), `cancel` (`--prune`: an order this playbook placed and no longer declares),
`unchanged`, `done` (filled, ended, a step finished), `pending` (an exit placed once its entry
fills) — or `refused`: a change QFEX cannot make in place, with the reason and what to do.

What QFEX can change in place (qfex-api.md §3.5, §3.8): `modify_order` changes price, quantity,
take_profit and stop_loss of an order that has not traded (a partially filled order answers
CANNOT_MODIFY_PARTIAL_FILL); `modify_stop_order` changes a stop's trigger price (and quantity).
Symbol, side, type, time in force, reduce_only and the bracket's mode never change in place.

Pure: no I/O. The exchange's view comes from a reconciliation (`runner.state.reconcile`), the
journal's from its folded contents. Used by `plan --url` (the diff) and `run --converge/--prune`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from runner.enums import OrderType
from runner.exchange.protocol import wire_decimal
from runner.playbook.ids import Leg
from runner.playbook.model import BracketMode, Order, Playbook
from runner.problems import Location
from runner.state.definitions import order_definition
from runner.state.entries import JournalContents, JournalEntry
from runner.state.reconcile import ExchangeOrderState, Presence

#: the bracket exits as the playbook and the report name them
LEG_NAMES = {Leg.TAKE_PROFIT: "take_profit", Leg.STOP_LOSS: "stop_loss"}
_STOP_TYPES = {"take_profit": OrderType.TAKE_PROFIT.value, "stop_loss": OrderType.STOP_LOSS.value}
#: definition fields no QFEX message changes in place
_FIXED = ("symbol", "side", "type", "time_in_force", "reduce_only", "bracket_mode", "account")


class Action(str, Enum):
    CREATE = "create"
    MODIFY = "modify"
    CANCEL = "cancel"
    UNCHANGED = "unchanged"
    DONE = "done"
    PENDING = "pending"
    REFUSED = "refused"


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Decimal | str | None
    new: Decimal | str | None
    #: how the exchange's number is shown when the playbook has none to match (an exit removed)
    like: Decimal | None = None

    def text(self) -> str:
        """`215.00 → 225.00`: the playbook's value as written, the exchange's in the same decimals."""
        new = format(self.new, "f") if isinstance(self.new, Decimal) else _show(self.new, None)
        return f"{_show(self.old, self.new if self.new is not None else self.like)} → {new}"


@dataclass(frozen=True)
class Change:
    """What a run would do about one order, exit or step (see the module docstring)."""

    action: Action
    label: str
    """`aapl-long`, `aapl-long.stop_loss`, or a step's id."""
    order_key: str
    """The playbook id of the order (or step) it belongs to."""
    reason: str = ""
    fields: tuple[FieldChange, ...] = ()
    client_order_id: str | None = None
    #: what a modify or cancel needs: the exchange's id and the order's fixed fields
    order_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    stop: bool = False
    """A stop order (modify_stop_order / cancel_stop_order) rather than a regular one."""
    #: modify: the values to send (price, quantity, take_profit, stop_loss; None: not sent)
    wanted: Mapping[str, Decimal | None] = field(default_factory=dict)
    location: Location = field(default=Location("<memory>"), compare=False)

    @property
    def is_change(self) -> bool:
        """Would a run send something for it?"""
        return self.action in (Action.CREATE, Action.MODIFY, Action.CANCEL)

    def text(self) -> str:
        """`modify aapl-long.stop_loss: 215.00 → 225.00`, `create aapl-add`, `refused aapl-long: …`."""
        if self.action is Action.MODIFY:  # an exit's label names what changes; an entry's fields are named
            parts = [f.text() if self.stop and "." in self.label else f"{f.field} {f.text()}"
                     for f in self.fields]
            return f"modify {self.label}: {', '.join(parts)}"
        return f"{self.action.value} {self.label}" + (f": {self.reason}" if self.reason else "")


def _show(value: Decimal | str | None, like: Decimal | str | None) -> str:
    """A number as the trader wrote its counterpart: 215 read from the exchange shows 215.00 next
    to the playbook's 225.00 (same decimal places, when exact)."""
    if value is None:
        return "none"
    if not isinstance(value, Decimal):
        return str(value)
    if isinstance(like, Decimal):
        exponent = like.as_tuple().exponent
        if isinstance(exponent, int) and exponent <= 0:
            quantized = value.quantize(Decimal(1).scaleb(exponent))
            if quantized == value:
                return format(quantized, "f")
    return format(value, "f")


def _num(row: Mapping[str, Any], key: str) -> Decimal | None:
    value = wire_decimal(row.get(key))
    return None if value is None or (value == 0 and key in ("take_profit", "stop_loss")) else value


def _fixed_changes(placed: Mapping[str, Any] | None, now: Mapping[str, Any]) -> list[str]:
    if not placed:
        return []
    return [key for key in _FIXED if key in placed and placed.get(key) != now.get(key)]


def _refused_fixed(order: Order, label: str, keys: list[str]) -> Change:
    what = ", ".join(keys)
    return Change(Action.REFUSED, label, order.id, location=order.location,
                  reason=f"{what} cannot change in place (QFEX modifies only price, quantity, take_profit "
                         f"and stop_loss): revert it, or cancel the order (a cancel step, or --prune after "
                         f"giving the new one a new id) and place it again")


def _entry(playbook: Playbook, order: Order, state: ExchangeOrderState | None,
           entry: JournalEntry | None) -> list[Change]:
    coid = playbook.client_order_id(order)
    placed = (state is not None and state.placed) or (entry is not None and entry.accepted)
    if not placed:
        return [Change(Action.CREATE, order.id, order.id, "not on the exchange: a run places it",
                       client_order_id=coid, location=order.location)]
    now = order_definition(order, playbook.account)
    fixed = _fixed_changes(entry.definition if entry is not None else None, now)
    if state is not None and state.presence is Presence.OPEN and state.open_rows:
        row = state.open_rows[0]
        shown = {"symbol": row.get("symbol"), "side": row.get("side"), "type": row.get("type")}
        fixed += [k for k, v in shown.items() if v is not None and v != now[k] and k not in fixed]
        if fixed:
            return [_refused_fixed(order, order.id, fixed)]
        attached = order.bracket is not None and order.bracket.mode is BracketMode.ATTACHED
        wanted: dict[str, Decimal | None] = {"quantity": order.quantity}
        if order.type is not OrderType.MARKET:
            wanted["price"] = order.price
        if attached and order.bracket is not None:
            wanted["take_profit"] = order.bracket.take_profit
            wanted["stop_loss"] = order.bracket.stop_loss
        fields = tuple(FieldChange(k, _num(row, k), v, order.price) for k, v in wanted.items()
                       if _num(row, k) != v)
        if not fields:
            return [Change(Action.UNCHANGED, order.id, order.id, "open at the exchange as the playbook says",
                           client_order_id=coid, order_id=state.order_id, location=order.location)]
        if state.filled_quantity > 0:
            return [Change(Action.REFUSED, order.id, order.id, fields=fields, location=order.location,
                           reason=f"partly filled ({state.filled_quantity.normalize():f} traded): QFEX "
                                  f"refuses to modify a partially filled order (CANNOT_MODIFY_PARTIAL_FILL); "
                                  f"cancel it (a cancel step) and place the rest as a new order under a new "
                                  f"id, or revert")]
        return [Change(Action.MODIFY, order.id, order.id, fields=fields, client_order_id=coid,
                       order_id=state.order_id, symbol=order.symbol, side=order.side.value,
                       order_type=order.type.value, stop=order.type.is_stop, wanted=wanted,
                       location=order.location)]
    if fixed:
        return [_refused_fixed(order, order.id, fixed)]
    placed_def = entry.definition if entry is not None and entry.definition else {}
    moved = [k for k in ("price", "quantity") if k in placed_def and placed_def.get(k) != now.get(k)]
    if moved:
        return [Change(Action.REFUSED, order.id, order.id, location=order.location,
                       reason=f"{', '.join(moved)} changed, but the order is no longer open (filled or "
                              f"ended): nothing to modify; revert it, or give the playbook a new run_id to "
                              f"place it again")]
    word = entry.state if entry is not None else (state.describe(order.quantity) if state else "placed")
    return [Change(Action.DONE, order.id, order.id, word.replace("_", " "), client_order_id=coid,
                   location=order.location)]


def _stop_change(order: Order, label: str, leg_name: str, row: Mapping[str, Any], trigger: Decimal | None,
                 coid: str | None) -> Change:
    current = _num(row, "price")
    order_id = str(row.get("order_id") or row.get("stop_order_id") or "") or None
    if trigger is None:
        return Change(Action.REFUSED, label, order.id, location=order.location,
                      reason=f"the {leg_name} exit was removed from the playbook but is live at the "
                             f"exchange: cancel it with a cancel step (orders: [{label}])")
    if current == trigger:
        return Change(Action.UNCHANGED, label, order.id, "live at the exchange as the playbook says",
                      client_order_id=coid, order_id=order_id, location=order.location)
    quantity = wire_decimal(row.get("quantity"))
    return Change(Action.MODIFY, label, order.id, fields=(FieldChange("price", current, trigger),),
                  client_order_id=coid, order_id=order_id, symbol=order.symbol,
                  side=str(row.get("side") or order.side.opposite.value), order_type=_STOP_TYPES[leg_name],
                  stop=True, wanted={"price": trigger, "quantity": quantity}, location=order.location)


def _attached_exits(order: Order, state: ExchangeOrderState | None, entry_open: bool) -> list[Change]:
    """Exits QFEX staged with the entry, once armed (the entry traded): modify_stop_order on them."""
    bracket = order.bracket
    if bracket is None or bracket.mode is not BracketMode.ATTACHED or state is None or entry_open:
        return []
    changes = []
    for row in state.legs:
        kind = row.get("type") or row.get("order_type")
        leg_name = next((name for name, t in _STOP_TYPES.items() if t == kind), None)
        if leg_name is None or "trade_id" in row:  # a trade row, not a live stop
            continue
        changes.append(_stop_change(order, f"{order.id}.{leg_name}", leg_name, row,
                                    getattr(bracket, leg_name), None))
    return changes


def _after_fill_exits(playbook: Playbook, order: Order, found: Mapping[str, ExchangeOrderState],
                      contents: JournalContents | None, entry_filled: bool) -> list[Change]:
    bracket = order.bracket
    if bracket is None or bracket.mode is not BracketMode.AFTER_FILL:
        return []
    changes = []
    for leg, leg_name in LEG_NAMES.items():
        trigger = getattr(bracket, leg_name)
        coid = playbook.client_order_id(order, leg)
        state = found.get(coid)
        entry = contents.entries.get(coid) if contents is not None else None
        label = f"{order.id}.{leg_name}"
        if state is not None and state.presence is Presence.OPEN and state.open_rows:
            changes.append(_stop_change(order, label, leg_name, state.open_rows[0], trigger, coid))
        elif (state is not None and state.placed) or (entry is not None and entry.accepted):
            changes.append(Change(Action.DONE, label, order.id, "triggered or ended", client_order_id=coid,
                                  location=order.location))
        elif trigger is None:
            continue
        elif entry_filled:
            changes.append(Change(Action.CREATE, label, order.id, "the entry filled: a run places this exit",
                                  client_order_id=coid, location=order.location))
        else:
            changes.append(Change(Action.PENDING, label, order.id, "placed once the entry fills",
                                  client_order_id=coid, location=order.location))
    return changes


def desired_changes(playbook: Playbook, contents: JournalContents | None,
                    found: Mapping[str, ExchangeOrderState],
                    pruned: Mapping[str, ExchangeOrderState] | None = None) -> list[Change]:
    """Every order, exit and step of the playbook against the exchange, in playbook order; then, with
    `pruned` (the states of the journal's orders the playbook no longer declares), their cancels."""
    changes: list[Change] = []
    for _, item in playbook.sequence():
        if isinstance(item, Order):
            coid = playbook.client_order_id(item)
            state = found.get(coid)
            entry = contents.entries.get(coid) if contents is not None else None
            entry_changes = _entry(playbook, item, state, entry)
            changes += entry_changes
            entry_open = state is not None and state.presence is Presence.OPEN
            filled = (state.filled_quantity if state is not None else Decimal(0)) > 0 or \
                (entry is not None and entry.filled_quantity > 0)
            changes += _attached_exits(item, state, entry_open)
            changes += _after_fill_exits(playbook, item, found, contents, filled)
            continue
        key = playbook.step_key(item)
        done = contents.steps_done.get(key) if contents is not None else None
        if done is not None:
            changes.append(Change(Action.DONE, item.id, item.id,
                                  f"done by an earlier run: {done.get('verdict')}", location=item.location))
        else:
            changes.append(Change(Action.CREATE, item.id, item.id, f"a run does it: {item.kind.value}",
                                  location=item.location))
    changes += prune_changes(playbook, contents, pruned or {})
    return changes


def undeclared(playbook: Playbook, contents: JournalContents) -> dict[str, JournalEntry]:
    """The journal's orders (entries and exits) whose playbook order is no longer declared: what
    `--prune` may cancel (client ids are hashes: the exchange cannot tell us which are ours)."""
    declared = {order.id for order in playbook.orders} | {step.id for step in playbook.steps}
    legs = (Leg.ENTRY.value, Leg.TAKE_PROFIT.value, Leg.STOP_LOSS.value)
    return {coid: e for coid, e in contents.entries.items()
            if e.order_key and e.order_key not in declared and e.leg in legs and (e.accepted or e.unsure)}


def prune_changes(playbook: Playbook, contents: JournalContents | None,
                  pruned: Mapping[str, ExchangeOrderState]) -> list[Change]:
    if contents is None or not pruned:
        return []
    changes = []
    for coid, entry in undeclared(playbook, contents).items():
        state = pruned.get(coid)
        leg = entry.leg or Leg.ENTRY.value
        label = entry.order_key or coid
        if leg in ("tp", "sl"):
            label += ".take_profit" if leg == "tp" else ".stop_loss"
        rows = list(state.open_rows) + [r for r in state.legs if "trade_id" not in r] if state is not None \
            else []
        if state is None or (state.presence is not Presence.OPEN and not rows):
            continue
        for row in rows:
            kind = str(row.get("type") or row.get("order_type") or "")
            order_id = str(row.get("order_id") or row.get("stop_order_id") or "") or None
            stop = kind in _STOP_TYPES.values()
            exit_name = "take_profit" if kind == OrderType.TAKE_PROFIT.value else "stop_loss"
            name = label if row in state.open_rows else f"{label}.{exit_name}"
            changes.append(Change(Action.CANCEL, name, entry.order_key or "",
                                  "no longer in the playbook (--prune)", client_order_id=coid,
                                  order_id=order_id, symbol=str(row.get("symbol") or ""), stop=stop,
                                  location=Location(playbook.path)))
    return changes
