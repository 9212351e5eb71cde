"""`run`: validate, connect, place every order in playbook order, wait, judge, report.

The core of `qfex-runner run`, as a library function: `run_playbook(RunOptions) -> RunResult`.
The CLI only renders what it returns.

Order of business (nothing leaves before the whole playbook validates):
1. target (+ the embedded exchange for `sim`), reference data (`--refdata FILE`, else the
   target's REST `/refdata`; without it a warning says exchange rules were not pre-checked);
2. validation (schema + trading rules with that reference data) -> `PlaybookInvalid` (exit 1);
3. production needs intent (`--yes` or the typed playbook name);
4. credentials (exit 4 if missing), the journal (lock + stale-plan rule), connect + auth (exit 4);
5. for each order: `already_placed`? adopt : journal intent -> send -> wait (`ack` | `fill` |
   `none`) -> judge against `expect` -> `on_reject` (stop: exit 5 if orders remain unsent);
   `after_fill` brackets then place TAKE_PROFIT/STOP_LOSS sized to the filled quantity;
6. drain: answers still owed (wait `none`, deferred expectations) are awaited up to `--timeout`;
7. the report (report.json, report.md, junit.xml) is written whatever happened after step 4.

Exit codes: 0 all passed; 3 some order failed its expectation; 5 stopped part-way
(`on_reject: stop`, connection lost, no answer); 130 Ctrl-C. The send/wait loop keeps one
`LiveOrder` record per client_order_id and one event pump (`_pump`), so pipelining (issue 6:
`--max-in-flight`) adds a window of unanswered sends without changing how answers are applied.

Where the parts live: set-up before the first send in `runner.run.setup`, Ctrl-C in
`runner.run.interrupts`, and `_Run`'s mixins (see its docstring); this module keeps the entry point,
the options/result types and the per-order flow (send, wait, judge, on_reject).
"""

from __future__ import annotations

import contextlib
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner import __version__
from runner.errors import RunAborted, RunnerError, UsageError
from runner.exchange.targets import SIM, Target, resolve_target
from runner.exit_codes import ExitCode
from runner.playbook.ids import Leg
from runner.playbook.model import BracketMode, OnReject, Order, Playbook, Wait
from runner.report import (
    LegResult,
    OrderResult,
    Outcome,
    Report,
    RunOutcome,
    Summary,
    write_report_files,
)
from runner.run.adopt import _Adoption
from runner.run.brackets import _Brackets
from runner.run.events import _EventPump
from runner.run.finish import _RunEnd
from runner.run.interrupts import _Interrupts
from runner.run.options import Progress, RunOptions, RunResult
from runner.run.setup import (
    _confirm_live,
    _credentials,
    _embedded_exchange,
    _open_journal,
    _reference_data,
    _report_dir,
    _validate,
)
from runner.run.verdict import LiveOrder, is_immediate, judge
from runner.words import counted

# --- options, result, progress -------------------------------------------------------------------


class _StopRun(Exception):
    """Internal: leave the send loop (on_reject stop) and write the report."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- the entry point ------------------------------------------------------------------------------


def run_playbook(options: RunOptions) -> RunResult:
    """Run one playbook end to end (see the module docstring). Raises RunnerError before sending."""
    if options.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    started_at = time.time()
    env = os.environ if options.env is None else options.env
    target = resolve_target(options.target, options.url)
    with contextlib.ExitStack() as stack:
        sim = None
        if target.name == SIM:
            sim = stack.enter_context(_embedded_exchange(options.sim_config))
            target = target.at(sim.url)
        else:
            from runner.exchange.client import check_url

            check_url(target.url or "")  # refuse plain ws:// to a remote host before any network use
        warnings: list[str] = []
        refdata = _reference_data(options, target, warnings)
        playbook = _validate(options.playbook, refdata, warnings)
        _confirm_live(target, playbook, options)
        credentials = _credentials(options, playbook, sim, env)
        journal = stack.enter_context(_open_journal(options, playbook, ephemeral=sim is not None,
                                                    warnings=warnings))
        from runner.exchange.client import TradeSession
        from runner.exchange.pacing import Pacer
        from runner.exchange.reconnect import ReconnectingSession, reconnect_policy

        def connect() -> TradeSession:  # every (re)connection authenticates with a fresh nonce
            return TradeSession.connect(target.url or "", credentials, timeout=min(options.timeout, 10.0),
                                        account_id=credentials.account_id)

        session = ReconnectingSession(
            connect(), connect, pacer=Pacer(),
            policy=reconnect_policy(options.reconnect_attempts, options.reconnect_max_seconds))
        stack.callback(session.close)
        run = _Run(playbook, target, session, journal, options, warnings, credentials.account_id, started_at)
        report, code = run.execute()
        report_dir = None
        files: dict[str, Path] = {}
        if options.write_reports:
            report_dir = _report_dir(options, playbook, run.started_at)
            files = write_report_files(report, report_dir, env=dict(env))
        return RunResult(report, code, report_dir, files)


# --- the run --------------------------------------------------------------------------------------


class _Run(_Adoption, _Brackets, _EventPump, _RunEnd):
    """One run's state and its top-level flow: prepare, submit in order, drain, judge, report.

    The state lives here (set in `__init__`); mixins hold the parts that act on it, each naming the
    state it uses: adopting orders an earlier run placed (runner.run.adopt), bracket exits
    (runner.run.brackets), the event pump and retries (runner.run.events), the drain and final verdicts
    (runner.run.finish).
    """

    def __init__(self, playbook: Playbook, target: Target, session: Any, journal: Any, options: RunOptions,
                 warnings: list[str], account_id: str | None, started_at: float) -> None:
        from runner.playbook.plan import build_plan

        self.playbook = playbook
        self.target = target
        self.session = session
        self.journal = journal
        self.options = options
        self.timeout = options.timeout
        self.plan = build_plan(playbook)
        self.started_at = started_at
        self.total = len(playbook.orders)
        self.live: dict[str, LiveOrder] = {}
        self.results: list[OrderResult] = [self._blank_result(i, o) for i, o in enumerate(playbook.orders)]
        self._entry_steps = {s.order.id: s for s in self.plan.steps if s.leg is Leg.ENTRY}
        self._legs_by_order_id: dict[str, LegResult] = {}
        self._judged: set[int] = set()
        self._judged_below = 0  # every order before this index is judged or adopted
        self._timers: list[tuple[float, str]] = []
        self._retrying: dict[str, LiveOrder] = {}
        self.warnings = warnings
        self.summary = Summary(
            playbook_path=playbook.path, playbook_name=playbook.name, playbook_sha256=playbook.sha256,
            run_id=playbook.run_id, target=target.name, url=_display_url(target.url), account_id=account_id,
            runner_version=__version__, started_at=self.started_at)
        self.interrupts = _Interrupts()
        from runner.state.placements import Placements  # exactly-once: journal + exchange reconciliation

        self.placements = Placements(journal, playbook, replan=options.replan)
        if hasattr(session, "on_reconnect"):
            session.on_reconnect = self._on_reconnect

    # --- top level ---

    def execute(self) -> tuple[Report, ExitCode]:
        code, message, outcome = ExitCode.OK, "", RunOutcome.PASSED
        lost = False
        if self.options.handle_sigint:
            self.interrupts.install()
        try:
            try:
                self._prepare_session()
                self.placements.reconcile(self.session)  # before anything is sent
                self.warnings.extend(self.placements.warnings)
                self._submit()
                self._drain()
            except _StopRun as stop:
                code, message, outcome = stop.exit_code, str(stop), RunOutcome.ABORTED
                self._drain(quick=True)
            except KeyboardInterrupt:
                code, outcome = ExitCode.INTERRUPTED, RunOutcome.INTERRUPTED
                message = "interrupted by the user: sending stopped; later orders were not sent"
            except RunAborted as exc:  # connection lost, no answer to a query
                code, message, outcome, lost = ExitCode.ABORTED, str(exc), RunOutcome.ABORTED, True
        finally:
            self.interrupts.uninstall()
        self._final_judgement(connection_lost=lost)
        if lost:
            from runner.run.finish import placement_summary

            message = f"{message} — {placement_summary(self.results)}"
        failed = sum(1 for r in self.results if r.outcome in (Outcome.FAILED, Outcome.UNKNOWN))
        if code == ExitCode.OK and failed:
            code, outcome = ExitCode.ORDERS_FAILED, RunOutcome.FAILED
            message = f"{counted(failed, 'order')} rejected or missed {'its' if failed == 1 else 'their'} " \
                      f"expectation"
        self.summary.ended_at = time.time()
        self.summary.outcome = outcome
        self.summary.exit_code = int(code)
        self.summary.message = message
        with contextlib.suppress(Exception):
            self.journal.note("run_end", exit_code=int(code), outcome=outcome.value)
        self._progress("done", -1, status=outcome.value, detail=message)
        return Report(self.summary, self.results, self.warnings), code

    def _prepare_session(self) -> None:
        from runner.enums import Channel

        self.session.subscribe([Channel.ORDER_RESPONSES, Channel.FILLS], timeout=min(self.timeout, 10.0))
        try:
            self.session.subscribe([Channel.STOP_ORDERS], timeout=min(self.timeout, 5.0))
        except RunnerError as exc:  # optional: only enriches bracket reporting
            self.warnings.append(f"could not subscribe to stop_orders ({exc}); bracket legs are reported "
                                 f"from order_responses only")
        if self.playbook.cancel_on_disconnect:
            self.session.cancel_on_disconnect(True, timeout=min(self.timeout, 10.0))
        self._progress("connected", -1, detail=_display_url(self.target.url))

    def _submit(self) -> None:
        """Every order in playbook order: one at a time, or pipelined (`--max-in-flight`, run.pipeline)."""
        if self.options.max_in_flight > 1:
            from runner.run.pipeline import submit_pipelined

            submit_pipelined(self, self.options.max_in_flight)
            return
        for index, order in enumerate(self.playbook.orders):
            self._run_order(index, order)

    # --- one playbook order ---

    def _run_order(self, index: int, order: Order) -> None:
        result = self.results[index]
        step = self._entry_steps[order.id]
        after_fill = order.bracket is not None and order.bracket.mode is BracketMode.AFTER_FILL
        placed = self.already_placed(step.client_order_id)
        if placed is not None:
            live = self._adopt(result, placed)
            if after_fill:
                self._place_after_fill_legs(index, order, result, live)
            return
        live = self._send(step.client_order_id, result, step.message, index, order.id, Leg.ENTRY,
                          order.quantity, is_immediate(order))
        if order.wait is Wait.FILL or after_fill:
            self._pump(lambda: live.settled(time.monotonic()), self.timeout)
        elif order.wait is Wait.ACK:
            if not self._pump(lambda: live.answered, self.timeout):
                result.outcome, result.verdict = Outcome.UNKNOWN, f"no answer within {self.timeout:g}s"
                raise _StopRun(f"no answer for order {order.id!r} within {self.timeout:g}s: its state is "
                               f"unknown "
                               f"(re-running reconciles it with the exchange before sending anything)",
                               ExitCode.ABORTED)
        else:
            self._pump(lambda: False, 0)  # take whatever already arrived, never block
        if after_fill:
            self._place_after_fill_legs(index, order, result, live)
        self._judge_sent(upto=index, waited_for_fill=order.wait is Wait.FILL or after_fill)

    def _judge_sent(self, upto: int, waited_for_fill: bool = False) -> None:
        """Judge every sent order whose outcome is now known; apply `on_reject` to the failures.

        Called after each order's wait, so a rejection that arrives while a later order is awaited
        (e.g. after `wait: none`) still stops the run before anything else is sent.
        """
        while self._judged_below <= upto and (  # skip what is settled: O(n) per run, not O(n^2)
                self._judged_below in self._judged
                or self.results[self._judged_below].outcome is Outcome.ALREADY_PLACED):
            self._judged_below += 1
        for index in range(self._judged_below, upto + 1):
            result = self.results[index]
            live = self.live.get(result.client_order_id)
            if live is None or index in self._judged or result.outcome is Outcome.ALREADY_PLACED:
                continue
            order = self.playbook.orders[index]
            final = waited_for_fill and index == upto  # its wait is over: "not filled yet" is the answer
            verdict = judge(order, result, live, final=final, timeout=self.timeout)
            if verdict is None:
                continue
            self._judged.add(index)
            result.outcome, result.verdict = verdict
            self._progress("judged", index, order.id, result.outcome.value, result.verdict)
            stop = self.playbook.on_reject is OnReject.STOP and upto < self.total - 1
            if result.outcome is Outcome.FAILED and stop:
                raise _StopRun(f"on_reject: stop — order {order.id!r} {result.verdict}; "
                               f"later orders were not sent", ExitCode.ABORTED)

    def _on_reconnect(self, session: Any) -> None:
        """The connection came back (runner.state.placements): learn what became of every unfinished order;
        replay what was missed; send again what never reached the exchange."""
        from runner.run.catch_up import catch_up

        for coid in catch_up(session, self.live, self.journal, self.placements.order_types):
            live = self.live[coid]
            live.retry_at = time.monotonic()
            self._retrying[coid] = live
        self.warnings.append(f"connection lost ({session.losses[-1]}); reconnected and reconciled")

    def _send(self, coid: str, record: OrderResult | LegResult, message: dict | None, index: int,
              order_key: str, leg: Leg, quantity: Decimal, immediate: bool,
              journaled: bool = False) -> LiveOrder:
        """Journal the intent (unless the caller already did, in a batch) and send; never split by Ctrl-C."""
        if message is None:
            raise RunnerError(f"internal: no message for {order_key} {leg.value}")
        live = LiveOrder(coid, record, quantity, immediate)
        live.resend = (message, index, order_key, leg)
        self.live[coid] = live
        with self.interrupts.critical():
            if not journaled:
                self.journal.record_intent(coid, index, order_key, leg, message)
            if isinstance(record, OrderResult):
                record.sent_at = time.time()
                record.outcome, record.verdict = Outcome.UNKNOWN, "sent; no answer yet"
            self.session.send(message)
        self._progress("sent", index, order_key, "", leg.value)
        return live

    def _blank_result(self, index: int, order: Order) -> OrderResult:
        result = OrderResult(
            index=index, id=order.id, symbol=order.symbol, side=order.side.value, type=order.type.value,
            quantity=order.quantity, price=order.price, time_in_force=order.time_in_force.value,
            reduce_only=order.reduce_only, wait=order.wait.value, expect=order.expect.value,
            client_order_id=self.playbook.client_order_id(order, Leg.ENTRY))
        bracket = order.bracket
        if bracket is not None and bracket.mode is BracketMode.ATTACHED:
            for name, trigger in (("take_profit", bracket.take_profit), ("stop_loss", bracket.stop_loss)):
                if trigger is not None:
                    result.legs.append(LegResult(name, BracketMode.ATTACHED.value, trigger,
                                                 order.side.opposite.value))
        return result

    def _progress(self, kind: str, index: int, order_id: str = "", status: str = "",
                  detail: str = "") -> None:
        if self.options.on_progress is not None:
            self.options.on_progress(Progress(kind, index, self.total, order_id, status, detail))


def _display_url(url: str | None) -> str:
    """A URL as shown in reports: without query strings (never credentials)."""
    if not url:
        return ""
    return url.split("?", 1)[0]
