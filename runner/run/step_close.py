"""`step: close_position`: QFEX close_position for a symbol (or every symbol holding a position), then
wait until flat.

QFEX positions belong to the account, not to a playbook: this closes the account's whole position
(a reduce-only LIMIT IOC on the opposite side priced near the mark, close_position page). Its
`client_order_id` is the step's key (per symbol with `all: true`), journaled before it leaves.
Reconciled by reading: the step's intent is "flat", so a re-run sends a close only for a symbol
that still holds a position (a close that traded left none; one that did not may be sent again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from runner.playbook.ids import step_key
from runner.playbook.model import PlaybookStep
from runner.playbook.steps import close_position_message
from runner.report import Outcome, StatusSeen, StepResult
from runner.run.step_context import StepContext, Watch
from runner.words import number_text


def close_key(ctx: StepContext, step: PlaybookStep, symbol: str) -> str:
    """The close's client_order_id: the step's key, or one per symbol for `all: true`."""
    if step.symbol is not None:
        return ctx.playbook.step_key(step)
    return step_key(ctx.playbook.name, ctx.playbook.run_id, f"{step.id}/{symbol}")


def _held(quantity: Decimal) -> str:
    return f"{number_text(abs(quantity))} {'long' if quantity > 0 else 'short'}"


def _ended(watch: Watch, coid: str) -> Callable[[], bool]:
    """The close answered with more than its ACK (a fill, a cancel of the rest, or a rejection)."""
    return lambda: any(u.status != "ACK" for u in watch.by_client_id.get(coid, []))


def run(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    positions = ctx.positions()
    symbols = [step.symbol] if step.symbol else sorted(s for s, q in positions.items() if q != 0)
    closing = {s: positions.get(s, Decimal(0)) for s in symbols}
    for symbol, quantity in closing.items():
        if quantity == 0:
            result.actions.append(f"{symbol}: no position, nothing to close")
            continue
        coid = close_key(ctx, step, symbol)
        watch = ctx.watch(client_ids=[coid])
        ctx.send(ctx.playbook.step_key(step), index, step, close_position_message(symbol, coid))
        ctx.pump.pump(_ended(watch, coid), ctx.timeout)
        ctx.unwatch(watch)
        updates = watch.by_client_id.get(coid, [])
        for update in updates:
            result.statuses.append(StatusSeen(update.status, time.time(), update.quantity_remaining))
        ctx.journal.record_answer(ctx.playbook.step_key(step), {"close_position": symbol,
                                                               "statuses": [u.status for u in updates]})
        rejected = next((u for u in updates if u.is_reject), None)
        if rejected is not None:
            return Outcome.FAILED, (f"QFEX refused close_position {symbol}: {rejected.status} "
                                    f"({rejected.meaning}); the position of {_held(quantity)} is still open")
        result.actions.append(f"{symbol}: close_position sent for {_held(quantity)} "
                              f"(client_order_id {coid})")
    if not any(closing.values()):
        what = step.symbol or "any symbol"
        return Outcome.PASSED, f"no position on {what}: nothing to close"
    still = ctx.wait_flat([s for s, q in closing.items() if q != 0])
    if still:
        left = ", ".join(f"{s} {_held(q)}" for s, q in sorted(still.items()))
        return Outcome.FAILED, (f"still holding {left} after close_position (QFEX's close is an IOC near the "
                                f"mark: thin liquidity can leave a rest); run the step again or flatten")
    closed = ", ".join(f"{s} ({_held(q)})" for s, q in closing.items() if q != 0)
    return Outcome.PASSED, f"closed the account's whole position on {closed}: flat"
