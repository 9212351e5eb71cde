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
7. the report (report.json, report.md, junit.xml) is written whatever happened after step 4 (to a
   temporary directory if the report dir cannot be written) and the summary is always returned.

Exit codes: 0 all passed; 3 some order failed its expectation; 5 stopped part-way
(`on_reject: stop`, connection lost, no answer, an OS error with the journal intact); 74 the journal
could not be written (sending stops at once) or the report not where asked (`runner.run.report_files`
puts it in a temporary directory and says where); 130 Ctrl-C.

This module is the entry point and the one place the run's parts are put together
(`build_run`): each is built once and handed what it uses, typed, in its constructor:

    ledger  = Ledger(playbook, warnings, on_progress)       records, live orders, legs, progress (ledger)
    sender  = Sender(session, journal, interrupts, ledger)  intent journaled, then sent; re-sends (send)
    pump    = EventPump(session, journal, ledger, sender)   answers applied; timers (events)
    adopter = Adopter(placements, session, ledger)          orders an earlier run placed (adopt)
    legs    = Brackets(playbook, ledger, sender, pump, adopter, timeout)   after_fill exits (brackets)
    flow    = OrderFlow(playbook, plan, ledger, sender, pump, adopter, legs, timeout)   per order (flow)
    submit  = Pipeline(flow, ..., n) if n > 1 else flow     --max-in-flight (pipeline); flow, with a
              warning, when on_reject is stop (every order would be a barrier)
    ends    = EndStates(session, ledger, pump)              end states past the speed bump (endstate)
    finish  = Finish(playbook, ledger, pump, ends, timeout) drain and final verdicts (finish)

`Run` only sequences them: prepare the session -> reconcile -> submit -> drain -> judge. One
`LiveOrder` per client_order_id and one event pump serve every way of waiting, so pipelining
adds a window of unanswered sends without changing how answers are applied. Set-up before the
first send is in `runner.run.setup`, Ctrl-C in `runner.run.interrupts`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import __version__
from runner.errors import (
    JournalError,
    OrdersUnsure,
    PlaybookInvalid,
    RunAborted,
    RunnerError,
    StopRun,
    UsageError,
)
from runner.exchange.session import Session
from runner.exchange.targets import SIM, Target, display_url, resolve_target
from runner.exit_codes import ExitCode
from runner.playbook.model import OnReject, Playbook
from runner.playbook.refdata import RefData
from runner.report import Outcome, Report, RunOutcome, Summary, write_report_files
from runner.run.adopt import Adopter
from runner.run.brackets import Brackets
from runner.run.catch_up import Reconnection
from runner.run.endstate import EndStates
from runner.run.events import EventPump
from runner.run.finish import Finish, placement_summary
from runner.run.flow import OrderFlow, Submission
from runner.run.interrupts import Interrupts
from runner.run.ledger import Ledger
from runner.run.options import RunOptions, RunResult
from runner.run.send import Sender
from runner.run.setup import (
    checked_for_account,
    checked_playbook,
    confirm_live,
    embedded_exchange,
    open_journal,
    read_playbook,
    reference_data,
    report_dir_for,
    report_dir_for_name,
    run_credentials,
    traded_instruments,
)
from runner.state.writer import JournalWriter
from runner.words import counted, os_reason

if TYPE_CHECKING:
    from runner.exchange.marketdata import MarkPriceSource
    from runner.exchange.reconnect import ReconnectingSession
    from runner.exchange.session import RecoveringSession
    from runner.playbook.account import AccountFigures
    from runner.playbook.policy import Policy
    from runner.playbook.refdata import RefData
    from runner.run.converge import Converger
    from runner.run.exits import ExitPlans
    from runner.run.steps.dispatch import StepRunner
    from runner.state.journal import Journal
    from runner.state.placements import Placements

# --- the entry point ------------------------------------------------------------------------------


def run_playbook(options: RunOptions) -> RunResult:
    """Run one playbook end to end (see the module docstring). Raises RunnerError before sending."""
    if options.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    started_at = time.time()
    env = os.environ if options.env is None else options.env
    target = resolve_target(options.target, options.url, options.mds_url)
    with contextlib.ExitStack() as stack:
        sim = None
        if target.name == SIM:
            sim = stack.enter_context(embedded_exchange(options.sim_config))
            target = target.at(sim.url)
        else:
            from runner.exchange.client import check_url

            check_url(target.url or "")  # refuse plain ws:// to a remote host before any network use
        warnings: list[str] = []
        source = read_playbook(options.playbook)
        refdata = reference_data(options, target, warnings, source)
        try:
            first = checked_playbook(options.playbook, refdata, warnings, final=False, preloaded=source)
            source = None  # the YAML node tree: not held for the rest of the run (memory)
            checked, account = checked_for_account(options, target, sim, env, refdata, first, warnings)
            assert checked.playbook is not None  # checked_playbook raises PlaybookInvalid otherwise
            playbook = checked.playbook
        except PlaybookInvalid as exc:
            if options.write_reports:  # CI reads the report files: the problems are its failed tests
                write_invalid_report(options, target, exc, warnings, started_at, env)
            raise
        confirm_live(target, playbook, options)
        credentials = run_credentials(options, playbook, sim, env)
        journal = stack.enter_context(open_journal(options, playbook, ephemeral=sim is not None,
                                                    warnings=warnings))
        playbook = journal.playbook  # quantities sized by an earlier run are frozen there, not re-sized
        from runner.exchange.client import TradeSession
        from runner.exchange.pacing import Pacer
        from runner.exchange.reconnect import ReconnectingSession, reconnect_policy
        from runner.run.wiretrail import wire_log, wire_log_path

        report_dir = report_dir_for(options, playbook, started_at)
        recorder = stack.enter_context(wire_log(wire_log_path(options, target, report_dir)))

        def connect() -> TradeSession:  # every (re)connection authenticates with a fresh nonce
            return TradeSession.connect(target.url or "", credentials, timeout=min(options.timeout, 10.0),
                                        account_id=credentials.account_id, recorder=recorder)

        session = ReconnectingSession(
            connect(), connect, pacer=Pacer(), timeout=min(options.timeout, 10.0),
            policy=reconnect_policy(options.reconnect_attempts, options.reconnect_max_seconds))
        stack.callback(session.close)
        marks = stack.enter_context(exit_plan_marks(playbook, target, options, warnings))
        run = build_run(playbook, target, session, journal, options, warnings, credentials.account_id,
                        started_at, refdata, marks)
        from runner.run.provenance import provenance_in_background

        provenance = provenance_in_background(options.playbook, env)  # git, while the run goes on
        report, code = run.execute()
        report.provenance = provenance()
        report.instruments = traded_instruments(playbook, refdata)
        report.risk = risk_of_run(playbook, refdata, account, checked.policy, report)
        if not options.write_reports:
            return RunResult(report, code, None)
        from runner.run.report_files import save_report  # the reports' modules: after the run

        saved = save_report(report, report_dir, env)
        if saved.problems:
            code = ExitCode.IO_ERROR
            report.summary.exit_code = int(code)
        return RunResult(report, code, saved.report_dir, saved.files, saved.problems)


@contextlib.contextmanager
def exit_plan_marks(playbook: Playbook, target: Target, options: RunOptions,
                    warnings: list[str]) -> Iterator[MarkPriceSource | None]:
    """The mark prices an exit plan's break-even and trailing need, and the exchange's clock its time
    rules read (each price carries the exchange's time), from the market-data socket; None (the
    positions push stands in) when no plan needs them or the socket cannot be used."""
    moving = [o for o in playbook.orders if o.bracket is not None and o.bracket.manage is not None]
    symbols = sorted({o.symbol for o in moving})
    if not symbols or not target.mds_url:
        yield None
        return
    from runner.exchange.marketdata import MarkPrices

    try:
        feed = MarkPrices(target.mds_url, symbols, timeout=min(options.timeout, 10.0)).start()
    except RunnerError as exc:
        warnings.append(f"no market data ({exc}): exit plans read the mark from the positions push")
        yield None
        return
    try:
        yield feed
    finally:
        feed.close()


def risk_of_run(playbook: Playbook, refdata: RefData | None, account: AccountFigures | None,
                policy: Policy | None, report: Report) -> dict[str, Any]:
    """The report's risk section: the preview with the quantities sent and the account as read."""
    from runner.playbook.policy import DEFAULT_FEES
    from runner.playbook.risk import preview
    from runner.run.risk_report import risk_section

    rates = policy.fees if policy is not None else DEFAULT_FEES
    fills = {o.id: o.average_price for o in report.orders if o.average_price is not None}
    return risk_section(preview(playbook, refdata, account, rates, fills), report.orders)


def write_invalid_report(options: RunOptions, target: Target, invalid: PlaybookInvalid, warnings: list[str],
                         started_at: float, env: Mapping[str, str]) -> None:
    """`run` of an invalid playbook still writes report.json/report.md/junit.xml: nothing was sent,
    and every problem is there (a failed testcase each in junit.xml)."""
    import hashlib

    path = Path(options.playbook)
    try:  # a FIFO or device given as the playbook was refused unread: never block on it here
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    except OSError:
        sha256 = ""
    name = path.stem
    summary = Summary(
        playbook_path=options.playbook, playbook_name=name, playbook_sha256=sha256, run_id=None,
        target=target.name, url=display_url(target.url), account_id=None, runner_version=__version__,
        started_at=started_at, ended_at=time.time(), outcome=RunOutcome.FAILED,
        exit_code=int(ExitCode.INVALID_PLAYBOOK), message=f"playbook invalid: {invalid}")
    report = Report(summary, [], list(warnings), problems=list(invalid.problems))
    with contextlib.suppress(OSError):  # the problems are printed either way
        write_report_files(report, report_dir_for_name(options, name, started_at), env=dict(env))


def build_run(playbook: Playbook, target: Target, session: ReconnectingSession, journal: Journal,
              options: RunOptions, warnings: list[str], account_id: str | None, started_at: float,
              refdata: RefData | None = None, marks: MarkPriceSource | None = None) -> Run:
    """The one place the run's parts are built, each once, and handed what it uses."""
    from runner.playbook.plan import build_plan
    from runner.state.placements import Placements  # exactly-once: journal + exchange reconciliation
    from runner.state.reconcile import LOOKUP_TIMEOUT_S

    timeout = options.timeout
    if playbook.steps:  # the step kinds' modules are imported only for a playbook that has steps
        from runner.run.steps.dispatch import missing_kinds

        if missing_kinds(playbook.steps):
            kinds = ", ".join(missing_kinds(playbook.steps))
            raise UsageError(f"this qfex-runner cannot run step kind(s) {kinds} "
                             f"yet; nothing was sent")
    lookup_timeout = min(timeout, LOOKUP_TIMEOUT_S)  # each wait of a reconciliation's queries
    interrupts = Interrupts()
    converging = options.converge or options.prune
    placements = Placements(journal, playbook, replan=options.replan, converge=converging,
                            lookup_timeout=lookup_timeout)
    ledger = Ledger(playbook, warnings, options.on_progress)
    sender = Sender(session, journal, interrupts, ledger)
    pump = EventPump(session, journal, ledger, sender)
    adopter = Adopter(placements, session, ledger)
    legs = Brackets(playbook, ledger, sender, pump, adopter, journal, session, timeout)
    lots = {s: spec.lot_size for s, spec in refdata.items()} if refdata is not None else None
    ticks = {s: spec.tick_size for s, spec in refdata.items()} if refdata is not None else None
    # the exit plans' and the steps' machinery is built (and imported) only for a playbook that has them
    plans: ExitPlans | None = None
    if playbook.has_exit_plans:  # ladders, resized and managed stops (runner.run.exits)
        from runner.run.exits import ExitPlans

        plans = ExitPlans(playbook, ledger, sender, pump, adopter, journal, session, timeout, lots=lots,
                          ticks=ticks, marks=marks)
    steps: StepRunner | None = None
    if playbook.steps:
        from runner.run.steps.context import StepContext
        from runner.run.steps.dispatch import StepRunner

        step_context = StepContext(playbook, session, journal, ledger, pump, interrupts, timeout)
        step_context.exit_plans = plans  # an `exits:` step keeps an exit plan like a bracket's
        steps = StepRunner(step_context)
    flow = OrderFlow(playbook, build_plan(playbook, lots), ledger, sender, pump, adopter, legs, timeout,
                     steps, plans)
    submit: Submission = flow
    if options.max_in_flight > 1:
        from runner.run.pipeline import Pipeline, window_has_no_effect

        if playbook.on_reject is OnReject.STOP:
            # every order is a barrier (a rejection must stop all later ones): the sequential flow
            # is that run without the window's bookkeeping around each order
            warnings.append(window_has_no_effect(options.max_in_flight))
        else:
            submit = Pipeline(flow, ledger, sender, pump, adopter, journal, interrupts, options.max_in_flight)

    def after_event() -> None:  # exits are one-cancels-other, exit plans kept, while connected
        legs.cancel_filled_siblings()
        if plans is not None:
            plans.step_all()

    pump.on_event = after_event
    if plans is not None:
        pump.claim = plans.observe
    finish = Finish(playbook, ledger, pump, EndStates(session, ledger, pump), legs, timeout, plans)
    reconnection = Reconnection(journal, ledger, sender, placements.order_types, lookup_timeout,
                                symbols=placements.symbols)

    def on_reconnect(recovered: RecoveringSession) -> None:  # catch up, then exit plans re-check their stops
        reconnection(recovered)
        if plans is not None:
            plans.after_reconnect()

    session.on_reconnect = on_reconnect
    summary = Summary(
        playbook_path=playbook.path, playbook_name=playbook.name, playbook_sha256=playbook.sha256,
        run_id=playbook.run_id, target=target.name, url=display_url(target.url), account_id=account_id,
        runner_version=__version__, started_at=started_at)
    converger: Converger | None = None
    if converging:
        from runner.run.converge import Converger

        converger = Converger(playbook, session, journal, placements, ledger, pump, interrupts, timeout,
                              prune=options.prune, refdata=refdata, journal_existed=journal.existed)
    return Run(playbook, target, session, journal, placements, ledger, submit, finish, interrupts, summary,
               timeout=timeout, handle_sigint=options.handle_sigint, converger=converger,
               manage=ExitManagement(plans, options.manage, options.until))


# --- the run --------------------------------------------------------------------------------------


class ExitManagement:
    """`run --manage [--until]`, or a one-shot run of exit plans: what the run does after submitting
    (keep managing, or not) and what it says is left at the exchange."""

    def __init__(self, plans: ExitPlans | None, manage: bool, until: float | None) -> None:
        self.plans = plans  # None: the playbook has no exit plan
        self.manage = manage
        self.until = until

    def run(self) -> None:
        if self.manage and self.plans is not None:
            self.plans.manage(self.until)

    def tell(self, warnings: list[str]) -> None:
        if self.plans is None:
            return
        left = self.plans.left_live()
        if not left:
            return
        if self.manage and self.plans.deadline_reached:
            why = "--until reached: the exits stay at the exchange as sized"
        elif self.manage:
            why = "the run ended before these were done"
        else:
            why = ("a one-shot run places the exits and does what is due now; run it again (or with "
                   "--manage) to resize and move them as the trade goes")
        warnings.extend(f"{line} — {why}" for line in left)


class Run:
    """One run's top level: prepare the session, reconcile, submit, drain, judge; nothing else.

    Its parts are built by `build_run` (see the module docstring); this only puts them in order
    and turns how the run ended (all sent, on_reject stop, Ctrl-C, connection lost) into the
    summary and exit code.
    """

    def __init__(self, playbook: Playbook, target: Target, session: Session, journal: JournalWriter,
                 placements: Placements, ledger: Ledger, submit: Submission, finish: Finish,
                 interrupts: Interrupts, summary: Summary, *, timeout: float, handle_sigint: bool,
                 converger: Converger | None = None, manage: ExitManagement | None = None) -> None:
        self.playbook = playbook
        self.target = target
        self.session = session
        self.journal = journal
        self.placements = placements
        self.ledger = ledger
        self.submission = submit
        self.finish = finish
        self.interrupts = interrupts
        self.summary = summary
        self.timeout = timeout
        self.handle_sigint = handle_sigint
        self.converger = converger
        self.manage = manage

    def execute(self) -> tuple[Report, ExitCode]:
        code, message, outcome = ExitCode.OK, "", RunOutcome.PASSED
        lost = stopped = False  # stopped: by the machine or the link, what was placed is told
        if self.handle_sigint:
            self.interrupts.install()
        try:
            try:
                self._prepare_session()
                try:
                    self.placements.reconcile(self.session)  # before anything is sent
                except OrdersUnsure:
                    self._show_unproven()
                    raise
                self.ledger.warnings.extend(self.placements.warnings)
                if self.playbook.has_after_fill_exits:  # only an after_fill stop can be past its entry
                    from runner.run.converge import refuse_break_even_unplaced

                    refuse_break_even_unplaced(self.playbook, self.placements)
                if self.converger is not None:  # --converge / --prune: in place, before anything new
                    self.converger.converge()
                self.submission.submit()
                if self.manage is not None:
                    self.manage.run()
                self.finish.drain()
            except StopRun as stop:
                code, message, outcome = stop.exit_code, str(stop), RunOutcome.ABORTED
                self.finish.drain(quick=True)
            except KeyboardInterrupt:
                code, outcome = ExitCode.INTERRUPTED, RunOutcome.INTERRUPTED
                message = "interrupted by the user: sending stopped; later orders were not sent"
            except RunAborted as exc:  # connection lost, no answer to a query
                code, message, outcome, lost = ExitCode.ABORTED, str(exc), RunOutcome.ABORTED, True
            except JournalError as exc:  # disk full, state dir gone: nothing may be sent without it
                code, message, outcome, stopped = ExitCode.IO_ERROR, str(exc), RunOutcome.ABORTED, True
            except OSError as exc:  # the machine's (a full disk under stderr): the journal is intact
                code, outcome, stopped = ExitCode.ABORTED, RunOutcome.ABORTED, True
                message = f"stopped: {os_reason(exc)}; sending stopped"
        finally:
            self.interrupts.uninstall()
        self.finish.final_judgement(connection_lost=lost)
        if self.manage is not None:
            self.manage.tell(self.ledger.warnings)
        if lost or stopped:
            message = f"{message} — {placement_summary(self.ledger.results)}"
        failed = sum(1 for r in self.ledger.results if r.outcome in (Outcome.FAILED, Outcome.UNKNOWN))
        failed_steps = sum(1 for x in self.ledger.steps if x.outcome in (Outcome.FAILED, Outcome.UNKNOWN))
        if code == ExitCode.OK and failed:
            code, outcome = ExitCode.ORDERS_FAILED, RunOutcome.FAILED
            message = f"{counted(failed, 'order')} rejected or missed {'its' if failed == 1 else 'their'} " \
                      f"expectation"
        if code == ExitCode.OK and failed_steps:
            code, outcome = ExitCode.ORDERS_FAILED, RunOutcome.FAILED
            message = f"{counted(failed_steps, 'step')} failed"
        elif code == ExitCode.ORDERS_FAILED and failed_steps:
            message += f"; {counted(failed_steps, 'step')} failed"
        self.summary.ended_at = time.time()
        self.summary.outcome = outcome
        self.summary.exit_code = int(code)
        self.summary.message = message
        with contextlib.suppress(Exception):
            self.journal.note("run_end", exit_code=int(code), outcome=outcome.value)
        with contextlib.suppress(OSError):  # stderr on a full disk must not cost the report
            self.ledger.progress("done", -1, status=outcome.value, detail=message)
        converged = list(self.converger.done) if self.converger is not None else []
        return Report(self.summary, self.ledger.results, self.ledger.warnings, steps=self.ledger.steps,
                      converged=converged), code

    def _show_unproven(self) -> None:
        """Orders a damaged journal cannot prove unplaced show as unknown, not as "not sent"."""
        by_id = {r.id: r for r in self.ledger.results}
        for planned in self.placements.unproven():
            result = by_id.get(planned.order.id)
            if result is not None and result.outcome is Outcome.NOT_SENT:
                result.outcome = Outcome.UNKNOWN
                result.verdict = ("may have been placed by an earlier run (a damaged journal line concerns "
                                  "it) and the exchange does not show it: not sent again")

    def _prepare_session(self) -> None:
        from runner.enums import Channel

        self.session.subscribe([Channel.ORDER_RESPONSES, Channel.FILLS], timeout=min(self.timeout, 10.0))
        try:
            self.session.subscribe([Channel.STOP_ORDERS], timeout=min(self.timeout, 5.0))
        except RunnerError as exc:  # optional: only enriches bracket reporting
            self.ledger.warnings.append(f"could not subscribe to stop_orders ({exc}); bracket legs are "
                                        f"reported from order_responses only")
        if self.playbook.cancel_on_disconnect:
            self.session.cancel_on_disconnect(True, timeout=min(self.timeout, 10.0))
        self.ledger.progress("connected", -1, detail=display_url(self.target.url))

