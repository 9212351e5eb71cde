"""Everything `run` does before its first send: the embedded exchange, reference data,
validation, the production confirmation, credentials, the journal; and where the report goes.

Kept apart from the send loop so the rule "nothing leaves before the whole playbook validates"
reads as one sequence of checks in `runner.run.engine.run_playbook`, each raising a located `RunnerError`.
Heavy modules (simulator, refdata fetch, loader, journal) are imported inside each function, so
importing this module costs nothing for `--help`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import PlaybookInvalid, UsageError
from runner.exchange.credentials import Credentials, load_credentials
from runner.exchange.targets import Target
from runner.playbook.model import Playbook
from runner.problems import Problem, Severity, errors_in, warnings_in

if TYPE_CHECKING:
    from runner.playbook.account import AccountFigures
    from runner.playbook.load import ValidationResult
    from runner.playbook.refdata import RefData
    from runner.playbook.yamlsource import Document
    from runner.report import Instrument
    from runner.run.options import RunOptions
    from runner.simulator import Simulator
    from runner.state.journal import Journal


@contextlib.contextmanager
def embedded_exchange(config: Any) -> Iterator[Simulator]:
    """The embedded exchange of `--target sim`; `config` is the simulator's EngineConfig (or None),
    left untyped here: only this module may name the simulator, and it exports no EngineConfig."""
    from runner.simulator import Simulator

    sim = Simulator(config) if config is not None else Simulator()
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def reference_data(options: RunOptions, target: Target, warnings: list[str],
                   source: Document | None = None) -> RefData | None:
    """`--refdata FILE`, else the target's `/refdata`, with its mark prices unless the playbook read
    (`source`) prices nothing at the market (`runner.playbook.load.prices_at_market`)."""
    from runner.playbook import refdata as rd
    from runner.playbook.load import prices_at_market

    if options.refdata_file:
        return rd.load_refdata_file(options.refdata_file)
    if target.refdata_url:
        marks = source is None or prices_at_market(source)
        return fetch_reference_data(target, options.timeout, warnings, marks=marks)
    warnings.append("exchange rules (tick/lot sizes, quantity limits, price bands) were not pre-checked: "
                    "no reference data for this target; pass --refdata FILE")
    return None


#: longest wait for the market data's first mark prices before a run's checks (they are not blocking)
MARK_WAIT_S = 3.0


def fetch_reference_data(target: Target, timeout: float, warnings: list[str], *,
                         marks: bool = True) -> RefData | None:
    """The target's `/refdata` with its live mark prices; unavailable, a warning and None.

    The market-data socket is dialled as the `/refdata` request leaves (each costs a few round trips
    to QFEX: dialling it afterwards added them up), and its mark prices are kept for the symbols the
    reference data lists (stop-side checks use them: QFEX triggers on the mark). Never fatal and
    never in the way: a socket that cannot be reached is not waited for, and the checks then use
    the reference data's underlier price, as they say ("market price" rather than "mark price")."""
    from runner.exchange.marketdata import MarkPrices, marks_within
    from runner.playbook import refdata as rd

    assert target.refdata_url is not None
    wait = min(timeout, MARK_WAIT_S)
    feed = MarkPrices(target.mds_url, ["*"], timeout=wait).start() if target.mds_url and marks else None
    try:
        fetched = rd.fetch_refdata(target.refdata_url, timeout=min(timeout, 10.0))
        fetched.live = True  # the target's prices now: a stop on the wrong side is an error
        if feed is not None:
            fetched.marks.update(marks_within(feed, list(fetched), wait))
        return fetched
    except Exception as exc:  # any failure only means fewer pre-checks, never a crash
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        warnings.append("exchange rules (tick/lot sizes, quantity limits, price bands) were not "
                        "pre-checked: "
                        f"reference data unavailable from {target.refdata_url} ({reason}); "
                        f"pass --refdata FILE to check them")
        return None
    finally:
        if feed is not None:
            feed.close()


def read_playbook(path: str) -> Document | None:
    """The playbook's YAML, read once for the run (None: validation reads it again and says why not)."""
    from runner.errors import SourceError
    from runner.playbook.yamlsource import load_file

    try:
        return load_file(path)
    except (SourceError, OSError):
        return None


def validated_playbook(path: str, refdata: RefData | None, warnings: list[str]) -> Playbook:
    result = checked_playbook(path, refdata, warnings)
    assert result.playbook is not None  # checked_playbook raises otherwise
    return result.playbook


def checked_playbook(path: str, refdata: RefData | None, warnings: list[str], *,
                     account: AccountFigures | None = None, final: bool = True,
                     marks: Mapping[str, Decimal] | None = None,
                     preloaded: Document | None = None) -> ValidationResult:
    """Validate for a run (raises PlaybookInvalid). `final`: a quantity still unsized (or a limit
    still unchecked for want of the account's equity) is an error; otherwise (before the account is
    read) those are left for the second, final validation and not told as warnings."""
    from runner.playbook.load import validate_file

    result = validate_file(path, refdata, account=account, marks=marks, preloaded=preloaded)
    pending = _pending(result)
    if final:
        finalized(result)
    elif errors_in(result.problems) or result.playbook is None:
        raise PlaybookInvalid(result.problems)
    warnings.extend(str(p) for p in warnings_in(result.problems) if p not in pending)
    return result


def _pending(result: ValidationResult) -> set[Problem]:
    """Problems only the account (or a mark price) can settle: an unsized quantity, a limit unchecked
    for want of the equity."""
    from runner.playbook.sizing import unsized

    return set(unsized(result.problems)) | {p for p in warnings_in(result.problems) if p.rule in
                                            ("risk-limits", "policy-limits") and "equity" in p.message}


def finalized(result: ValidationResult) -> ValidationResult:
    """`result` as the final validation: what is still pending is an error (raises PlaybookInvalid)."""
    pending = _pending(result)
    result.problems = sorted(replace(p, severity=Severity.ERROR) if p in pending else p
                             for p in result.problems)
    if errors_in(result.problems) or result.playbook is None:
        raise PlaybookInvalid(result.problems)
    return result


def confirm_live(target: Target, playbook: Playbook, options: RunOptions) -> None:
    if not target.live or options.yes:
        return
    if options.confirm is None:
        raise UsageError(f"--target {target.name} places real orders with real money; pass --yes to confirm "
                         f"(or run in a terminal and type the playbook name)")
    if not options.confirm(playbook.name):
        raise UsageError("not confirmed: nothing was sent")


def run_credentials(options: RunOptions, playbook: Playbook, sim: Simulator | None,
                 env: Mapping[str, str]) -> Credentials:
    if sim is not None and not options.credentials_file:
        from runner.exchange.credentials import Secret

        credentials = Credentials(sim.public_key, Secret(sim.secret_key), None,
                                  "embedded exchange demo account")
    else:
        credentials = load_credentials(options.credentials_file, env)
    if playbook.account and credentials.account_id and playbook.account != credentials.account_id:
        raise UsageError(f"the playbook trades in account {playbook.account} but the credentials select "
                         f"{credentials.account_id} ({credentials.source}); make them agree")
    return credentials.with_account(playbook.account or credentials.account_id)


@contextlib.contextmanager
def open_journal(options: RunOptions, playbook: Playbook, *, ephemeral: bool,
                  warnings: list[str]) -> Iterator[Journal]:
    """The run journal (exactly-once). Kept in one function so its policy lives in one place.

    The embedded exchange starts empty on every run, so its journal lives only as long as it does:
    a journal kept across runs would "adopt" orders that exist on no exchange.
    """
    from runner.state.journal import Journal, default_state_dir

    with contextlib.ExitStack() as stack:
        if ephemeral:
            if options.state_dir:
                warnings.append("--state-dir is ignored with --target sim: the embedded exchange starts "
                                "empty "
                                "on every run, so there is nothing to resume")
            import tempfile  # the embedded exchange's throwaway journal only

            state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qfex-runner-sim-")))
        elif options.state_dir:
            state_dir = Path(options.state_dir)
        else:
            state_dir = default_state_dir(playbook, options.runs_base)
        journal = Journal.open(state_dir, playbook, replan=options.replan,
                               converge=options.converge or options.prune)
        try:
            yield journal
        finally:
            journal.close()


def report_dir_for(options: RunOptions, playbook: Playbook, started_at: float) -> Path:
    return report_dir_for_name(options, playbook.name, started_at)


def report_dir_for_name(options: RunOptions, name: str, started_at: float) -> Path:
    """`--report-dir`, else `runs/<name>/<UTC timestamp>/` (a new directory per run)."""
    if options.report_dir:
        return Path(options.report_dir)
    stamp = datetime.fromtimestamp(started_at, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = Path(options.runs_base) / _safe_name(name)
    candidate, n = base / stamp, 1
    while candidate.exists():
        n += 1
        candidate = base / f"{stamp}-{n}"
    return candidate


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "_"


def traded_instruments(playbook: Playbook, refdata: RefData | None) -> dict[str, Instrument]:
    """Tick and lot of every symbol the playbook trades that the reference data knows: the report
    shows prices with the tick's decimals (none known: numbers as written)."""
    from runner.report import Instrument

    if refdata is None:
        return {}
    return {symbol: Instrument(refdata[symbol].tick_size, refdata[symbol].lot_size)
            for symbol in sorted({order.symbol for order in playbook.orders}) if symbol in refdata}


def checked_for_account(options: RunOptions, target: Target, sim: Simulator | None, env: Mapping[str, str],
                        refdata: RefData | None, first: ValidationResult,
                        warnings: list[str]) -> tuple[ValidationResult, AccountFigures | None]:
    """The playbook as the run sends it: when it needs the account's equity (`{risk: N%}`,
    `max_leverage`) the account is read from the exchange (nothing sent) and the playbook validated
    again with it, sized; otherwise the first validation is final (an unsized quantity: exit 1)."""
    from runner.run.risk_inputs import needs_account, read_from_exchange

    assert first.playbook is not None
    marks = sizing_marks(target, first.playbook, min(options.timeout, 5.0), warnings)
    if not needs_account(first.playbook, first.policy):
        if not marks:  # the same inputs as the first validation: its result is the final one
            return finalized(first), None  # (validating again cost a second pass per order)
        return checked_playbook(options.playbook, refdata, [], final=True, marks=marks), None
    from runner.exchange.client import TradeSession

    credentials = run_credentials(options, first.playbook, sim, env)
    timeout = min(options.timeout, 10.0)
    account = read_from_exchange(
        lambda: TradeSession.connect(target.url or "", credentials, timeout=timeout,
                                     account_id=credentials.account_id), timeout, target.name)
    return checked_playbook(options.playbook, refdata, [], account=account, final=True, marks=marks), account


def sizing_marks(target: Target, playbook: Playbook, timeout: float,
                 warnings: list[str]) -> dict[str, Decimal]:
    """The mark price of every symbol a sized MARKET order trades (its entry for sizing), read from
    the target's market-data feed; a symbol without a mark in `timeout` is sized at the reference
    data's price, with a warning. Nothing is read when no MARKET order is sized."""
    from runner.enums import OrderType

    symbols = sorted({o.symbol for o in playbook.orders
                      if o.sizing is not None and o.type is OrderType.MARKET})
    if not symbols:
        return {}
    if target.mds_url is None:
        warnings.append(f"no market-data feed for this target: MARKET orders sized at the reference price "
                        f"({', '.join(symbols)}); pass --mds-url to size them at the mark")
        return {}
    from runner.exchange.marketdata import MarkPrices

    marks: dict[str, Decimal] = {}
    with MarkPrices(target.mds_url, symbols, timeout=timeout) as feed:
        for symbol in symbols:
            mark = feed.wait_for(symbol, timeout)
            if mark is None:
                why = f" ({feed.problem})" if feed.problem else ""
                warnings.append(f"no mark price for {symbol} within {timeout:g}s{why}: its sized MARKET "
                                f"orders use the reference price")
            else:
                marks[symbol] = mark
    return marks
