"""`step: set_leverage`: QFEX set_user_leverage for one symbol, checked against get_user_leverage.

Idempotent by nature, and reconciled by reading: a symbol already at the wanted leverage sends
nothing (a re-run after a crash between the send and its answer finds it set). QFEX refuses the
change while the symbol has open orders or a position (set_leverage page): the verdict says so and
what to do.
"""

from __future__ import annotations

from runner.exchange.protocol import ErrorReply, ReplyKind
from runner.playbook.model import PlaybookStep
from runner.playbook.steps import set_leverage_message
from runner.report import Outcome, StepResult
from runner.run.step_context import StepContext
from runner.words import number_text


def run(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    symbol, wanted = step.symbol or "", step.leverage
    if wanted is None:
        raise ValueError(f"set_leverage step {step.id!r} has no leverage")
    before = ctx.leverage().get(symbol)
    if before == wanted:
        result.actions.append(f"{symbol} leverage already {number_text(wanted)}x: nothing sent")
        return Outcome.PASSED, f"{symbol} leverage is {number_text(wanted)}x (it already was: nothing sent)"
    reply = ctx.request(ctx.playbook.step_key(step), index, step, set_leverage_message(symbol, wanted),
                        [ReplyKind.ACK], result)
    if reply.kind is ReplyKind.ERROR:
        err: ErrorReply = reply.body
        said = err.message or "no message"
        return Outcome.FAILED, (f"QFEX refused set_user_leverage: {err.error_code}: {said}; QFEX does not "
                                f"change leverage while {symbol} has open orders or a position: cancel them "
                                f"first (a cancel step, or qfex-runner flatten --symbol {symbol}), "
                                f"or set leverage before any order of {symbol}")
    after = ctx.leverage().get(symbol)
    was = f"{number_text(before)}x" if before is not None else "unknown"
    if after != wanted:
        shown = f"{number_text(after)}x" if after is not None else "nothing"
        return Outcome.FAILED, (f"QFEX acknowledged set_user_leverage {number_text(wanted)}x, but "
                                f"get_user_leverage shows {shown} for {symbol}")
    result.actions.append(f"{symbol} leverage {was} → {number_text(wanted)}x")
    return Outcome.PASSED, f"{symbol} leverage set to {number_text(wanted)}x (was {was})"
