"""Steps besides orders at run time: each runs where it stands in `orders:`, exactly once.

`StepRunner.run_step` is the one path: a step an earlier run finished (journal: `step_done`) is
reported "already done" and nothing is sent; otherwise its kind's runner (`KINDS`) does it through a
`StepContext` (journaled sends, answers, reads of the exchange) and returns the verdict, which is
recorded (`step_done`) when it passed, so a re-run does not do it again. A failed step applies
`on_reject` like an order; a step with no answer stops the run (its state is unknown: a re-run
reads the exchange and does only what is left).

Adding a step kind (CONTRIBUTING.md, "How to add a step"): a module `step_<kind>.py` with
`run(ctx, index, step, result) -> (Outcome, verdict)`, registered in `KINDS` below.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runner.errors import NoAnswer, StopRun
from runner.exit_codes import ExitCode
from runner.playbook.model import OnReject, PlaybookStep, StepKind
from runner.report import Outcome, StepResult
from runner.run.steps.context import StepContext

StepRun = Callable[[StepContext, int, PlaybookStep, StepResult], tuple[Outcome, str]]

# Each kind's module is imported when a step of its kind first runs: a playbook without steps (most)
# does not load them before its first order.


def _set_leverage(ctx: StepContext, index: int, step: PlaybookStep,
                  result: StepResult) -> tuple[Outcome, str]:
    from runner.run.steps import leverage

    return leverage.run(ctx, index, step, result)


def _cancel(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    from runner.run.steps import cancel

    return cancel.run(ctx, index, step, result)


def _close_position(ctx: StepContext, index: int, step: PlaybookStep,
                    result: StepResult) -> tuple[Outcome, str]:
    from runner.run.steps import close

    return close.run(ctx, index, step, result)


def _twap(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    from runner.run.steps import twap

    return twap.run(ctx, index, step, result)


def _cancel_twap(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    from runner.run.steps import twap

    return twap.cancel(ctx, index, step, result)


def _exits(ctx: StepContext, index: int, step: PlaybookStep, result: StepResult) -> tuple[Outcome, str]:
    from runner.run.steps import exits

    return exits.run(ctx, index, step, result)


#: step kind -> its runner; a kind missing here is refused before anything is sent (`missing_kinds`)
KINDS: dict[StepKind, StepRun] = {
    StepKind.SET_LEVERAGE: _set_leverage,
    StepKind.CANCEL: _cancel,
    StepKind.CLOSE_POSITION: _close_position,
    StepKind.TWAP: _twap,
    StepKind.CANCEL_TWAP: _cancel_twap,
    StepKind.EXITS: _exits,
}


def missing_kinds(steps: tuple[PlaybookStep, ...]) -> list[str]:
    """Step kinds this runner cannot run yet (the run refuses them before sending anything)."""
    return sorted({s.kind.value for s in steps if s.kind not in KINDS})


class StepRunner:
    """Runs one step besides orders (see the module docstring)."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run_step(self, index: int, step: PlaybookStep) -> None:
        ctx = self.ctx
        result = ctx.ledger.steps[index]
        key = ctx.playbook.step_key(step)
        done = ctx.journal.step_done(key)
        if done is not None and step.kind is not StepKind.EXITS:  # exits are kept on every run
            result.outcome = Outcome.ALREADY_PLACED
            result.verdict = f"done by an earlier run: {done.get('verdict') or 'passed'}"
            result.actions = [str(a) for a in done.get("actions") or []]
            ctx.ledger.progress("step", -1, step.id, "already done", result.verdict)
            return
        ctx.ledger.progress("step", -1, step.id, step.kind.value, result.description)
        result.sent_at = time.time()
        try:
            outcome, verdict = KINDS[step.kind](ctx, index, step, result)
        except NoAnswer as exc:
            result.answered_at = time.time()
            result.outcome, result.verdict = Outcome.UNKNOWN, f"{exc}: its state is unknown"
            raise StopRun(f"no answer for step {step.id!r} ({exc}): re-running reads the exchange and does "
                          f"only what is left", ExitCode.ABORTED) from exc
        result.answered_at = time.time()
        result.outcome, result.verdict = outcome, verdict
        if outcome is Outcome.PASSED:
            ctx.journal.record_step_done(key, step.id, outcome.value, verdict, result.actions)
        ctx.ledger.progress("step", -1, step.id, outcome.value, verdict)
        if outcome is Outcome.UNKNOWN:
            raise StopRun(f"step {step.id!r}: {verdict}; re-running reads the exchange and does only what is "
                          f"left", ExitCode.ABORTED)
        if outcome is Outcome.FAILED and ctx.playbook.on_reject is OnReject.STOP:
            raise StopRun(f"on_reject: stop — step {step.id!r} failed: {verdict}; later orders and steps "
                          f"were not sent", ExitCode.ABORTED)
