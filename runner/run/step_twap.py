"""`step: twap` and `step: cancel_twap`: QFEX add_twap with the step's key as `client_twap_id`, and
cancel_order by `client_twap_id`.

Exactly once: the add_twap intent is journaled before it leaves; a re-run of an unfinished step
first looks for a running TWAP with that client_twap_id (get_user_orders lists them under
`twaps`) and adopts it. A TWAP that was answered (journal) but no longer runs is over: nothing is
sent again. One whose add_twap was never answered and that the exchange does not list cannot be
proven unplaced (a completed TWAP leaves no row, and QFEX does not document its children's ids):
it is never sent again — the step's outcome is unknown and says what to check.

`wait: done` follows the TWAP until it no longer runs (get_user_orders, every `POLL_S`), the
report showing its progress: filled quantity, average fill price, child orders, status.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from runner.exchange.protocol import ReplyKind, wire_decimal
from runner.playbook.model import PlaybookStep
from runner.playbook.steps import add_twap_message, cancel_twap_message, twap_step
from runner.report import Outcome, StatusSeen, StepResult
from runner.run.step_context import StepContext
from runner.words import number_text

#: how often a `wait: done` TWAP is looked up
POLL_S = 0.5
#: the TWAP figures a report shows, as QFEX's twap_response names them
PROGRESS_FIELDS = ("twap_id", "status", "total_quantity", "filled_quantity", "average_fill_price",
                   "total_num_orders", "order_interval_secs")


def _progress(result: StepResult, row: dict[str, Any]) -> None:
    for name in PROGRESS_FIELDS:
        if name in row:
            value = row[name]
            number = wire_decimal(value) if not isinstance(value, str) or name.endswith("quantity") else None
            result.details[name] = number if number is not None else value


def _find(ctx: StepContext, step: PlaybookStep, key: str) -> dict[str, Any] | None:
    return next((row for row in ctx.twaps(step.symbol) if row.get("client_twap_id") == key), None)


def run(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    key = ctx.playbook.step_key(step)
    entry = ctx.journal.entry(key)
    result.details["client_twap_id"] = key
    if entry is not None and entry.sent:  # an earlier run sent it and did not finish the step
        running = _find(ctx, step, key)
        if running is not None:
            _progress(result, running)
            result.actions.append(f"TWAP {running.get('twap_id')} placed by an earlier run is running: "
                                  f"adopted")
        elif entry.answered:
            result.actions.append("placed by an earlier run and no longer running: not sent again")
            return Outcome.PASSED, "placed by an earlier run; it no longer runs (completed or cancelled)"
        else:
            return Outcome.UNKNOWN, (f"add_twap was sent by an earlier run without an answer, and the "
                                     f"exchange lists no running TWAP {key}: it may have run and completed; "
                                     f"not sent again. Check the account's TWAP history (qfex history "
                                     f"twaps); "
                                     f"to place it anyway, give the playbook a new run_id")
    else:
        reply = ctx.request(key, index, step, add_twap_message(step, key), [ReplyKind.TWAP], result)
        if reply.kind is ReplyKind.ERROR:
            return Outcome.FAILED, (f"QFEX refused add_twap: {reply.body.error_code}: "
                                    f"{reply.body.message or 'no message'}")
        row = reply.body if isinstance(reply.body, dict) else {}
        _progress(result, row)
        result.actions.append(f"TWAP {row.get('twap_id')} started: {step.num_orders} child orders "
                              f"{step.interval_s}s apart")
    if step.wait != "done":
        status = result.details.get("status", "ACK")
        return Outcome.PASSED, f"TWAP accepted ({status}); not waited for (wait: ack)"
    return _wait_done(ctx, step, key, result)


def _wait_done(ctx: StepContext, step: PlaybookStep, key: str, result: StepResult) -> tuple[Outcome, str]:
    interval = step.interval_s or 0
    patience = ctx.timeout + interval * (step.num_orders or 0)  # the TWAP's own length, plus --timeout
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        row = _find(ctx, step, key)
        if row is None:
            break
        _progress(result, row)
        ctx.pump.pump(lambda: False, POLL_S)
    else:
        return Outcome.UNKNOWN, f"the TWAP was still running after {patience:g}s (wait: done)"
    result.statuses.append(StatusSeen("COMPLETED", time.time(), None, "exchange"))
    result.details["status"] = "no longer running (completed)"
    filled = result.details.get("filled_quantity")
    shown = number_text(filled) if isinstance(filled, Decimal) else "?"
    return Outcome.PASSED, (f"TWAP done: no longer running at the exchange; last seen filled {shown} of "
                            f"{number_text(step.quantity or Decimal(0))}")


def cancel(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    twap = twap_step(ctx.playbook, step.twap)
    if twap is None or twap.symbol is None:
        raise ValueError(f"cancel_twap step {step.id!r} names no twap step")
    twap_key = ctx.playbook.step_key(twap)
    if _find(ctx, twap, twap_key) is None:
        result.actions.append(f"TWAP of step {twap.id!r} is not running: nothing to cancel")
        return Outcome.PASSED, (f"the TWAP of step {twap.id!r} is not running (completed, cancelled or never "
                                f"started)")
    watch = ctx.watch(client_ids=[twap_key])
    ctx.send(ctx.playbook.step_key(step), index, step, cancel_twap_message(twap.symbol, twap_key))
    ctx.pump.pump(lambda: twap_key in watch.twaps or bool(watch.by_client_id.get(twap_key)), ctx.timeout)
    ctx.unwatch(watch)
    answer = watch.twaps.get(twap_key)
    if answer is not None:
        _progress(result, answer)
        ctx.journal.record_answer(ctx.playbook.step_key(step), {"twap_response": answer})
        result.statuses.append(StatusSeen(str(answer.get("status")), time.time(), None, "exchange"))
        result.actions.append(f"TWAP {answer.get('twap_id')} cancelled: {answer.get('status')}")
        return Outcome.PASSED, f"TWAP of step {twap.id!r} cancelled ({answer.get('status')})"
    updates = watch.by_client_id.get(twap_key, [])
    if updates:
        result.statuses.append(StatusSeen(updates[-1].status, time.time(), None))
        if updates[-1].status == "NO_SUCH_ORDER":
            return Outcome.PASSED, f"the TWAP of step {twap.id!r} had already stopped (NO_SUCH_ORDER)"
        return Outcome.FAILED, f"QFEX answered {updates[-1].status} to the cancel"
    return Outcome.UNKNOWN, f"no answer within {ctx.timeout:g}s to the cancel of the TWAP of step {twap.id!r}"
