"""What `run` would do, step by step, with the exact `add_order` messages (pure: no I/O, no clock).

One step per leg the runner itself sends: the entry of every order, plus, for `after_fill`
brackets, a TAKE_PROFIT and/or STOP_LOSS leg placed once the entry fills and sized to the filled
quantity (so its message is only known at run time: `message` is None). Attached brackets travel
inside the entry's message (`take_profit`/`stop_loss`) and are staged by QFEX: no extra step.

Every step carries its deterministic client_order_id (runner.playbook.ids), so `plan` shows exactly the
ids a run would use and a reviewer can search the exchange for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from runner import jsonnum
from runner.enums import OrderType, Side, TimeInForce
from runner.playbook.ids import Leg
from runner.playbook.model import BracketMode, Order, Playbook, PlaybookStep
from runner.playbook.steps import describe, step_message
from runner.words import counted, printable

_E = TypeVar("_E", bound=Enum)

AFTER_FILL_NOTE = "placed after the entry fills, sized to the filled quantity"


def add_order_message(*, symbol: str, side: Side | str, order_type: OrderType | str, quantity: Decimal,
                      price: Decimal | None, time_in_force: TimeInForce | str, client_order_id: str,
                      reduce_only: bool = False, take_profit: Decimal | None = None,
                      stop_loss: Decimal | None = None) -> dict[str, Any]:
    """QFEX's `add_order` exactly as documented (qfex-api.md §3.3); serialise with runner.jsonnum.

    `price` is always present (0 for MARKET: QFEX's schema wants the key and ignores the value);
    `take_profit`/`stop_loss` only when set; `reduce_only` only when true.
    """
    order_type = _member(OrderType, order_type)
    params: dict[str, Any] = {
        "symbol": symbol,
        "side": _member(Side, side).value,
        "order_type": order_type.value,
        "order_time_in_force": _member(TimeInForce, time_in_force).value,
        "quantity": quantity,
        "price": Decimal(0) if order_type is OrderType.MARKET or price is None else price,
        "client_order_id": client_order_id,
    }
    if take_profit is not None:
        params["take_profit"] = take_profit
    if stop_loss is not None:
        params["stop_loss"] = stop_loss
    if reduce_only:
        params["reduce_only"] = True
    return {"type": "add_order", "params": params}


def _member(kind: type[_E], value: _E | str) -> _E:
    """`kind(value)`, skipped when `value` is a member already (a plan's orders: 0.25 µs each call)."""
    return value if type(value) is kind else kind(value)


def bracket_leg_message(order: Order, leg: Leg, quantity: Decimal, client_order_id: str) -> dict[str, Any]:
    """The standalone exit of an `after_fill` bracket, once `quantity` of the entry has filled.

    Opposite side, TAKE_PROFIT/STOP_LOSS at the bracket's trigger, IOC (the only TIF QFEX allows
    for stop orders) and reduce_only: an exit must never open a position.
    """
    bracket = order.bracket
    if bracket is None or leg is Leg.ENTRY:
        raise ValueError(f"order {order.id!r} has no {Leg(leg).value} bracket leg")
    trigger = bracket.take_profit if leg is Leg.TAKE_PROFIT else bracket.stop_loss
    if trigger is None:
        raise ValueError(f"order {order.id!r} has no {Leg(leg).value} bracket leg")
    return add_order_message(
        symbol=order.symbol, side=order.side.opposite,
        order_type=OrderType.TAKE_PROFIT if leg is Leg.TAKE_PROFIT else OrderType.STOP_LOSS,
        quantity=quantity, price=trigger, time_in_force=TimeInForce.IOC,
        client_order_id=client_order_id, reduce_only=True)


@dataclass(slots=True)
class Step:
    """One message the runner would send (or, with `message` None, send later). Read-only, though
    not frozen: one per order of every plan, and a frozen init costs twice as much."""

    index: int
    order: Order
    leg: Leg
    client_order_id: str
    message: dict[str, Any] | None
    note: str
    #: an exit plan's leg: the message it would be if the whole entry filled (sized at run time)
    preview: dict[str, Any] | None = None
    #: what the runner does afterwards about this leg (an exit plan's management, in order)
    then: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedStep:
    """A step besides orders (`step: cancel`, ...): its key, its message when known before the run."""

    index: int
    step: PlaybookStep
    key: str
    message: dict[str, Any] | None
    note: str


@dataclass(frozen=True)
class Plan:
    playbook: Playbook
    steps: tuple[Step, ...]
    #: the steps besides orders, numbered in the same sequence as `steps`
    actions: tuple[PlannedStep, ...] = ()

    def items(self) -> list[Step | PlannedStep]:
        """Every numbered item, orders' messages and steps, in the order `run` takes them."""
        return sorted([*self.steps, *self.actions], key=lambda item: item.index)


def _entry_step(index: int, playbook: Playbook, order: Order) -> Step:
    bracket = order.bracket
    attached = bracket is not None and bracket.mode is BracketMode.ATTACHED
    client_order_id = playbook.client_order_id(order, Leg.ENTRY)
    message = add_order_message(
        symbol=order.symbol, side=order.side, order_type=order.type, quantity=order.quantity,
        price=order.price, time_in_force=order.time_in_force, client_order_id=client_order_id,
        reduce_only=order.reduce_only,
        take_profit=bracket.take_profit if attached and bracket else None,
        stop_loss=bracket.stop_loss if attached and bracket else None)
    notes = [f"then wait: {order.wait.value}; success means: {order.expect.value}"]
    if order.sizing is not None:  # `quantity: {risk: 200}`: say how the quantity sent was derived
        notes.insert(0, f"quantity sized by {order.sizing.text}: {order.sizing.explanation}")
    if attached and bracket is not None:
        notes.append("take-profit/stop-loss attached: staged by QFEX with the entry")
    return Step(index, order, Leg.ENTRY, client_order_id, message, "; ".join(notes))


def _after_fill_steps(start: int, playbook: Playbook, order: Order) -> list[Step]:
    bracket = order.bracket
    if bracket is None or bracket.mode is not BracketMode.AFTER_FILL:
        return []
    legs = [(Leg.TAKE_PROFIT, "TAKE_PROFIT", bracket.take_profit),
            (Leg.STOP_LOSS, "STOP_LOSS", bracket.stop_loss)]
    steps: list[Step] = []
    for leg, kind, trigger in legs:
        if trigger is None:
            continue
        note = (f"{AFTER_FILL_NOTE}: {order.side.opposite.value} {kind} {order.symbol} trigger "
                f"{format(trigger, 'f')}, IOC, reduce-only")
        steps.append(Step(start + len(steps), order, leg, playbook.client_order_id(order, leg), None, note))
    return steps


def _exit_plan_steps(start: int, playbook: Playbook, order: Order, lot: Decimal | None) -> list[Step]:
    """An exit plan (runner.playbook.exits): one step per ladder level and the stop-loss, each with
    the message it would be for a complete fill; the management that follows under the stop-loss."""
    from runner.playbook.exits import describe_size, exit_legs, level_sizes, management_notes, quantum

    bracket = order.bracket
    if bracket is None or not bracket.exit_plan:
        return []
    sizes = level_sizes(bracket.levels, order.quantity, lot)
    step_size = quantum(order.quantity, lot)
    lot_text = (f"the lot {format(step_size, 'f')}" if lot is not None
                else f"steps of {format(step_size, 'f')} (the lot is unknown without reference data)")
    legs = exit_legs(order)
    steps: list[Step] = []
    for leg in legs:
        coid = playbook.client_order_id(order, leg.leg)
        if leg.level:
            size = sizes[leg.level - 1]
            share = describe_size(bracket.levels[leg.level - 1], leg.level == len(bracket.levels))
            full = format(order.quantity, "f")
            sized = f"{share}, floored to {lot_text}: {format(size, 'f')} if all {full} fill"
            then: tuple[str, ...] = ()
        else:
            size = order.quantity
            sized = f"the filled quantity: {format(size, 'f')} if all fill"
            then = tuple(management_notes(order))
        note = (f"placed after the entry fills: {order.side.opposite.value} {leg.order_type.value} "
                f"{order.symbol} trigger {format(leg.trigger, 'f')}, IOC, reduce-only; size {sized}")
        preview = add_order_message(
            symbol=order.symbol, side=order.side.opposite, order_type=leg.order_type, quantity=size,
            price=leg.trigger, time_in_force=TimeInForce.IOC, client_order_id=coid, reduce_only=True)
        steps.append(Step(start + len(steps), order, leg.leg, coid, None, note, preview if size > 0 else None,
                          then))
    if not any(leg.level == 0 for leg in legs) and legs:  # no stop-loss: the management goes last
        last = steps[-1]
        steps[-1] = Step(last.index, last.order, last.leg, last.client_order_id, None, last.note,
                         last.preview, tuple(management_notes(order)))
    return steps


def _planned_step(index: int, playbook: Playbook, step: PlaybookStep) -> PlannedStep:
    note = describe(step, playbook)
    if step_message(step, playbook) is None:
        note += "; its messages depend on what the exchange holds when it runs"
    return PlannedStep(index, step, playbook.step_key(step), step_message(step, playbook), note)


def build_plan(playbook: Playbook, lots: Mapping[str, Decimal] | None = None) -> Plan:
    """Every step `run` would take, in order, numbered from 1 (`lots`: symbol -> lot size, from
    reference data, to size an exit plan's levels as the run will)."""
    steps: list[Step] = []
    actions: list[PlannedStep] = []
    for _, item in playbook.sequence():
        number = len(steps) + len(actions) + 1
        if isinstance(item, PlaybookStep):
            actions.append(_planned_step(number, playbook, item))
            continue
        steps.append(_entry_step(number, playbook, item))
        if item.bracket is not None and item.bracket.exit_plan:
            lot = lots.get(item.symbol) if lots else None
            steps.extend(_exit_plan_steps(number + 1, playbook, item, lot))
        else:
            steps.extend(_after_fill_steps(number + 1, playbook, item))
    return Plan(playbook, tuple(steps), tuple(actions))


def _step_json(step: Step | PlannedStep) -> dict[str, Any]:
    if isinstance(step, PlannedStep):
        return {"index": step.index, "step_id": step.step.id, "step": step.step.kind.value, "key": step.key,
                "message": step.message, "note": step.note,
                **({"step_note": step.step.note} if step.step.note else {})}
    return {
        "index": step.index,
        "order_id": step.order.id,
        "leg": step.leg.value,
        "client_order_id": step.client_order_id,
        "wait": step.order.wait.value if step.leg is Leg.ENTRY else None,
        "expect": step.order.expect.value if step.leg is Leg.ENTRY else None,
        "message": step.message,
        "note": step.note,
        **({"order_note": step.order.note} if step.order.note and step.leg is Leg.ENTRY else {}),
        **({"if_all_filled": step.preview} if step.preview is not None else {}),
        **({"then": list(step.then)} if step.then else {}),
    }


def plan_as_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data (numbers stay Decimal: serialise with runner.jsonnum.dumps)."""
    book = plan.playbook
    return {
        "playbook": {"path": book.path, "name": book.name, "run_id": book.run_id, "account": book.account,
                     "sha256": book.sha256, "on_reject": book.on_reject.value,
                     "cancel_on_disconnect": book.cancel_on_disconnect},
        "steps": [_step_json(step) for step in plan.items()],
    }


def render_plan_text(plan: Plan) -> str:
    """Human-readable plan: one block per step with the exact JSON that would go on the wire."""
    book = plan.playbook
    orders = len(book.orders)
    run_id = f"run_id {book.run_id!r}" if book.run_id is not None else "no run_id"
    total = len(plan.steps) + len(plan.actions)
    what = counted(orders, "order")
    if plan.actions:  # "steps" besides orders are items of the playbook; the numbered blocks are all it does
        what += f" and {counted(len(plan.actions), 'step')} besides orders"
    lines = [
        f"plan for {book.path}: name {book.name!r}, {run_id}, {what} "
        f"({counted(total, 'numbered step')} below)",
        f"on_reject: {book.on_reject.value}; cancel_on_disconnect: {str(book.cancel_on_disconnect).lower()}"
        + (f"; account: {book.account}" if book.account else ""),
        "nothing is sent by `plan`",
    ]
    for step in plan.items():
        lines.append("")
        if isinstance(step, PlannedStep):
            lines.append(f"step {step.index}: {step.step.kind.value} {step.step.id!r}, key {step.key}")
            if step.message is not None:
                lines.append(f"  send: {jsonnum.dumps(step.message)}")
            lines.append(f"  {step.note}")
            if step.step.note:
                lines.append(f"  note: {printable(step.step.note)}")
            continue
        lines.append(f"step {step.index}: order {step.order.id!r} ({step.leg.value}), "
                     f"client_order_id {step.client_order_id}")
        if step.message is not None:
            lines.append(f"  send: {jsonnum.dumps(step.message)}")
        lines.append(f"  {step.note}")
        if step.preview is not None:
            lines.append(f"  if all filled, send: {jsonnum.dumps(step.preview)}")
        for then in step.then:
            lines.append(f"  then: {then}")
        if step.order.note and step.leg is Leg.ENTRY:
            lines.append(f"  note: {printable(step.order.note)}")
    return "\n".join(lines) + "\n"
