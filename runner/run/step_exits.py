"""`step: exits`: protect a position the account already holds with an exit plan — QFEX's stop-order
page ("TAKE_PROFIT and STOP_LOSS orders cannot exceed your current position") made declarative.

The position is read from the exchange when the step first runs: its side must match the exits'
geometry (take-profits above the stop protect a long), the quantity protected is at most the
position (`quantity: position` takes all of it). That basis — side, quantity, the position's average
price — is journaled under the step's key, so every later run keeps the same plan (sizes of the
levels, break-even price) even after exits have traded. From there the exit plan is the bracket's
(runner.run.exits): standalone reduce-only exits under deterministic client ids, the stop resized
after each take-profit fill, the take-profits cancelled when the stop fills, `manage:` rules, all
kept after every event, by `run --manage` and by every re-run (the step is never "already done").
"""

from __future__ import annotations

import time
from decimal import Decimal

from runner.exchange.protocol import wire_decimal
from runner.playbook.exits import step_is_long, step_order
from runner.playbook.model import PlaybookStep
from runner.report import FillRecord, OrderResult, Outcome, StepResult
from runner.run.exits import action_key
from runner.run.step_context import StepContext
from runner.run.verdict import LiveOrder
from runner.words import number_text

Basis = tuple[bool, Decimal, Decimal | None]


def _basis(ctx: StepContext, step: PlaybookStep, result: StepResult) -> Basis | str:
    """(long, quantity, average price) of the position protected: journaled on the first run, read
    back on later ones; or why nothing may be placed."""
    key = action_key(ctx.playbook.step_key(step), "basis")
    known = ctx.journal.managed(key)
    if known is not None:
        message = known.get("message") or {}
        quantity = wire_decimal(message.get("quantity"))
        if quantity is not None:
            return bool(message.get("long")), quantity, wire_decimal(message.get("average"))
    symbol = step.symbol or ""
    held = ctx.positions().get(symbol, Decimal(0))
    if held == 0:
        return f"no {symbol} position to protect: nothing sent"
    long = held > 0
    bracket = step.exits
    assert bracket is not None
    geometry = step_is_long(bracket)
    side = "long" if long else "short"
    if geometry is not None and geometry != long:
        return (f"the exits protect a {'long' if geometry else 'short'}, but the account's {symbol} position "
                f"is {number_text(abs(held))} {side}: nothing sent")
    quantity = step.quantity if step.quantity is not None else abs(held)
    if quantity > abs(held):
        return (f"quantity {number_text(quantity)} is more than the {symbol} position "
                f"({number_text(abs(held))} {side}): QFEX's stops cannot exceed the position; nothing sent")
    row = ctx.pump.position_rows.get(symbol) or {}
    average = wire_decimal(row.get("average_price"))
    ctx.journal.record_manage(key, ctx.playbook.step_key(step), "", "basis",
                              f"protects {number_text(quantity)} of a {side} {symbol} position",
                              {"long": long, "quantity": quantity, "average": average})
    result.actions.append(f"protects {number_text(quantity)} of the {number_text(abs(held))} {side} {symbol} "
                          f"position" + (f" (average price {number_text(average)})" if average else ""))
    return long, quantity, average


def run(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    plans = ctx.exit_plans
    bracket = step.exits
    if plans is None or bracket is None:
        return Outcome.FAILED, "internal: no exit plans in this run"
    basis = _basis(ctx, step, result)
    if isinstance(basis, str):
        return Outcome.FAILED, basis
    long, quantity, average = basis
    symbol = step.symbol or ""
    order = step_order(step.id, symbol, long, quantity, bracket, average)
    key = ctx.playbook.step_key(step)
    entry = OrderResult(index=-1, id=step.id, symbol=symbol, side=order.side.value, type="POSITION",
                        quantity=quantity, price=average, time_in_force="-", reduce_only=False, wait="-",
                        expect="-", client_order_id=key, outcome=Outcome.PASSED,
                        verdict="the position protected", filled_reported=quantity,
                        fills=[FillRecord("position", average, quantity, None, time.time())])
    live = LiveOrder(key, entry, quantity, immediate=True)
    live.answered = True
    live.remaining = Decimal(0)
    live.terminal = True
    live.mark_done()
    entry.legs = result.legs  # one list: the report shows the exits as the plan keeps them
    plans.place(-1, order, entry, live)
    result.position = entry.position
    rejected = [x for x in result.legs if x.reject is not None]
    if rejected:
        names = ", ".join(f"{x.leg} ({x.reject.code})" for x in rejected if x.reject is not None)
        return Outcome.FAILED, f"the exchange refused {names}"
    live_legs = [x for x in result.legs if x.last_status in ("ACK", "MODIFIED")]
    return Outcome.PASSED, (f"{len(live_legs)} exit(s) live protecting {number_text(quantity)} "
                            f"{'long' if long else 'short'} {symbol}")
