"""`step: cancel`: cancel this playbook's orders by id (a bracket exit as `<id>.stop_loss`), every
order and exit it placed on a symbol or anywhere, or (`scope: account`) every open order of the
account there.

Idempotent by nature, and reconciled by reading: the open orders are read first and only what is
still open is cancelled (a re-run after a crash cancels what is left). Which orders are this
playbook's is known from its deterministic client ids, the ids this run saw and the journal (exits
carry no client id of ours: their order ids are journaled when the exchange announces them).
A playbook order cancelled here is judged "cancelled by step …" (the playbook's intent), not
"ended by the exchange".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from runner.exchange.protocol import cancel_order_message, cancel_stop_order_message
from runner.playbook.ids import Leg
from runner.playbook.model import Order, PlaybookStep, Scope, StepKind
from runner.playbook.steps import cancel_all_orders_message, cancel_target
from runner.report import OrderResult, Outcome, StatusSeen, StepResult
from runner.run.step_context import StepContext
from runner.run.verdict import step_cancel_reason

_STOP_TYPES = ("TAKE_PROFIT", "STOP_LOSS")
#: how runner.run.brackets notes an after_fill exit not placed because its entry rests unfilled
_RESTING = "not placed: the entry is still open and unfilled"
_LEGS = {"take_profit": Leg.TAKE_PROFIT, "stop_loss": Leg.STOP_LOSS}


@dataclass(frozen=True)
class Target:
    """One open order to cancel: how the report names it, its exchange id, and whether it is a stop."""

    label: str
    order_id: str
    symbol: str
    is_stop: bool
    client_order_id: str | None = None


def ours(ctx: StepContext) -> tuple[dict[str, str], dict[str, str]]:
    """This playbook's orders as the exchange may show them: {client_order_id: label} and
    {order_id: label} (exits, whose rows carry no client id of ours, and every id seen or journaled)."""
    book = ctx.playbook
    by_coid: dict[str, str] = {}
    by_id: dict[str, str] = {}
    for order in book.orders:
        by_coid[book.client_order_id(order)] = order.id
        for leg_name, leg in _LEGS.items():
            by_coid[book.client_order_id(order, leg)] = f"{order.id}.{leg_name}"
    for coid, label in list(by_coid.items()):
        entry = ctx.journal.entry(coid)
        if entry is not None and entry.order_id:
            by_id[entry.order_id] = label
        for leg_name, exit_id in (entry.exit_order_ids.items() if entry is not None else ()):
            by_id[exit_id] = f"{label}.{leg_name}"
        live = ctx.ledger.live.get(coid)
        if live is not None and live.record.order_id:
            by_id[live.record.order_id] = label
    for result in ctx.ledger.results:
        for leg_result in result.legs:
            if leg_result.order_id:
                by_id[leg_result.order_id] = f"{result.id}.{leg_result.leg}"
    return by_coid, by_id


def _row_target(row: dict[str, Any], label: str) -> Target | None:
    order_id = row.get("order_id") or row.get("stop_order_id")
    if not order_id:
        return None
    kind = row.get("type") or row.get("order_type") or row.get("stop_order_type")
    return Target(label, str(order_id), str(row.get("symbol") or ""), kind in _STOP_TYPES,
                  str(row["client_order_id"]) if row.get("client_order_id") else None)


def _named(ctx: StepContext, step: PlaybookStep,
           rows: list[dict[str, Any]]) -> tuple[list[Target], list[str]]:
    """`orders: [...]`: the named orders and exits still open, and a line for each that is not."""
    by_coid, by_id = ours(ctx)
    open_by_label: dict[str, dict[str, Any]] = {}
    for row in rows:
        found = by_coid.get(str(row.get("client_order_id") or "")) if _regular(row) else None
        label = found or by_id.get(str(row.get("order_id") or row.get("stop_order_id") or ""))
        if label:
            open_by_label.setdefault(label, row)
    targets: list[Target] = []
    notes: list[str] = []
    for name in step.orders:
        order_id, leg = cancel_target(name)
        label = f"{order_id}.{leg}" if leg else order_id
        open_row = open_by_label.get(label)
        if open_row is None:
            notes.append(f"{label}: not open at the exchange (never placed, filled or already cancelled): "
                         f"nothing to cancel")
            continue
        target = _row_target(open_row, label)
        if target is not None:
            targets.append(target)
    return targets, notes


def _regular(row: dict[str, Any]) -> bool:
    return (row.get("type") or row.get("order_type")) not in _STOP_TYPES


def _scoped(ctx: StepContext, step: PlaybookStep, rows: list[dict[str, Any]]) -> list[Target]:
    """`symbol:` / `all: true`: this playbook's open orders and exits there (with scope: account, every
    open order there)."""
    by_coid, by_id = ours(ctx)
    targets = []
    for row in rows:
        if step.symbol is not None and row.get("symbol") != step.symbol:
            continue
        label: str | None
        if step.scope is Scope.ACCOUNT:
            label = by_coid.get(str(row.get("client_order_id") or "")) or \
                by_id.get(str(row.get("order_id") or "")) or "order of the account"
        else:
            label = (by_coid.get(str(row.get("client_order_id") or "")) if _regular(row) else None) \
                or by_id.get(str(row.get("order_id") or row.get("stop_order_id") or ""))
        if label:
            target = _row_target(row, label)
            if target is not None:
                targets.append(target)
    return targets


def mark_intended(ctx: StepContext, targets: list[Target], step_id: str) -> None:
    """A playbook order cancelled on purpose is judged as the playbook's intent (runner.run.verdict);
    its after_fill exits, not placed while it rested unfilled, never will be: say why, not "re-run"."""
    ids = {t.order_id for t in targets}
    for live in ctx.ledger.live.values():
        if live.record.order_id not in ids:
            continue
        live.cancelled_by = step_id
        record = live.record
        if not isinstance(record, OrderResult):
            continue
        unplaced = [leg for leg in record.legs if leg.order_id is None and leg.note.startswith(_RESTING)]
        for leg in unplaced:
            leg.note = f"not placed: the entry was cancelled by step {step_id!r} before it filled"
        if unplaced:  # the warning that a later fill would be unprotected no longer holds
            stale = f"order {record.id!r} is resting unfilled"
            ctx.ledger.warnings[:] = [w for w in ctx.ledger.warnings if not w.startswith(stale)]


def cancel_targets(ctx: StepContext, index: int, step: PlaybookStep, targets: list[Target],
                   result: StepResult) -> list[Target]:
    """Journal and send one cancel per target, then wait for every answer; the targets not answered."""
    key = ctx.playbook.step_key(step)
    mark_intended(ctx, targets, step.id)
    by_coid, _ = ours(ctx)
    watch = ctx.watch(order_ids=[t.order_id for t in targets])
    for target in targets:
        message = cancel_stop_order_message(target.order_id) if target.is_stop \
            else cancel_order_message(target.symbol, target.order_id)
        if target.client_order_id in by_coid:  # one of ours: a re-run judges its CANCELLED as intended
            ctx.journal.record_cancel(key, target.client_order_id, target.order_id,
                                      step_cancel_reason(step.id), message)
        ctx.send(key, index, step, message)
    ctx.await_answers(watch, [t.order_id for t in targets])
    unanswered = []
    for target in targets:
        answer = watch.answered(target.order_id)
        if answer is None:
            unanswered.append(target)
            continue
        ctx.journal.record_answer(key, answer.raw)
        result.statuses.append(StatusSeen(answer.status, time.time(), answer.quantity_remaining))
        what = "cancelled" if answer.status.startswith("CANCELLED") else \
            "was no longer open (NO_SUCH_ORDER)" if answer.status == "NO_SUCH_ORDER" else answer.status
        result.actions.append(f"{target.label} ({target.symbol}, order_id {target.order_id}): {what}")
    return unanswered


def stop_twaps(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> list[str]:
    """`symbol:` / `all: true`: running TWAPs would place new orders after the cancel: stop them too
    (this playbook's, by their client_twap_id; with scope: account every one there). Unanswered ids."""
    mine = {ctx.playbook.step_key(s): s.id for s in ctx.playbook.steps if s.kind is StepKind.TWAP}
    rows = [row for row in ctx.twaps(step.symbol)
            if step.scope is Scope.ACCOUNT or row.get("client_twap_id") in mine]
    running = [(str(row["twap_id"]), str(row.get("symbol") or ""), row) for row in rows if row.get("twap_id")]
    if not running:
        return []
    watch = ctx.watch(order_ids=[twap_id for twap_id, _, _ in running])
    for twap_id, symbol, _ in running:
        ctx.send(ctx.playbook.step_key(step), index, step, cancel_order_message(symbol, twap_id, "twap_id"))
    ctx.pump.pump(lambda: all(t in watch.twaps or watch.answered(t) for t, _, _ in running), ctx.timeout)
    ctx.unwatch(watch)
    for twap_id, symbol, row in running:
        answer = watch.twaps.get(twap_id)
        label = mine.get(str(row.get("client_twap_id")), "of the account")
        if answer is not None:
            result.actions.append(f"TWAP {label} ({symbol}, twap_id {twap_id}): {answer.get('status')}")
    return [t for t, _, _ in running if t not in watch.twaps and watch.answered(t) is None]


def run(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    _wait_for_named_answers(ctx, step)
    if not step.orders and stop_twaps(ctx, index, step, result):
        return Outcome.UNKNOWN, f"no answer within {ctx.timeout:g}s to the cancel of a running TWAP"
    if step.all and step.scope is Scope.ACCOUNT:
        return _cancel_all(ctx, index, step, result)
    rows = ctx.open_orders(step.symbol)
    if step.orders:
        targets, notes = _named(ctx, step, rows)
        result.actions.extend(notes)
    else:
        targets = _scoped(ctx, step, rows)
    if not targets:
        return Outcome.PASSED, "nothing was open to cancel"
    unanswered = cancel_targets(ctx, index, step, targets, result)
    if unanswered:
        names = ", ".join(t.label for t in unanswered)
        return Outcome.UNKNOWN, f"no answer within {ctx.timeout:g}s to the cancel of {names}"
    left = {str(r.get("order_id") or r.get("stop_order_id")) for r in ctx.open_orders(step.symbol)}
    still = [t for t in targets if t.order_id in left]
    if still:
        return Outcome.FAILED, f"still open after the cancel: {', '.join(t.label for t in still)}"
    return Outcome.PASSED, f"cancelled {len(targets)} order{'s' * (len(targets) != 1)}; none left open"


def _cancel_all(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    """scope: account, all: true: QFEX cancel_all_orders (every open order, every symbol), then a check."""
    from runner.exchange.protocol import ReplyKind

    before = ctx.open_orders()
    if not before:
        return Outcome.PASSED, "nothing was open to cancel"
    targets = [t for row in before if (t := _row_target(row, "order of the account")) is not None]
    mark_intended(ctx, targets, step.id)
    reply = ctx.request(ctx.playbook.step_key(step), index, step, cancel_all_orders_message(),
                        [ReplyKind.ACK], result)
    if reply.kind is ReplyKind.ERROR:
        return Outcome.FAILED, (f"QFEX refused cancel_all_orders: {reply.body.error_code}: "
                                f"{reply.body.message}")
    left = ctx.open_orders()
    if left:
        # stops may outlive cancel_all_orders (QFEX does not say): cancel what is left one by one
        rest = [t for row in left if (t := _row_target(row, "order of the account")) is not None]
        cancel_targets(ctx, index, step, rest, result)
        left = ctx.open_orders()
    result.actions.append(f"cancel_all_orders: {len(before)} open order(s) before, {len(left)} after")
    if left:
        return Outcome.FAILED, f"{len(left)} order(s) still open after cancel_all_orders"
    return Outcome.PASSED, f"cancelled every open order of the account ({len(before)})"


def _wait_for_named_answers(ctx: StepContext, step: PlaybookStep) -> None:
    """Orders sent with `wait: none` just before: their first answer (and order id) first."""
    pending = []
    for name in step.orders:
        order_id, _ = cancel_target(name)
        order = next((o for o in ctx.playbook.orders if o.id == order_id), None)
        live = ctx.ledger.live.get(ctx.playbook.client_order_id(order)) if isinstance(order, Order) else None
        if live is not None and not live.answered:
            pending.append(live)
    if pending:
        ctx.pump.pump(lambda: all(x.answered for x in pending), ctx.timeout)

