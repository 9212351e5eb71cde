"""`doctor`: a read-only preflight of the path from this machine to an exchange, and of a playbook on it.

One check per question a trader asks before a run — does the name resolve, does the port answer,
is the certificate trusted and not about to expire, is my clock close enough for HMAC auth, is my
key accepted, are my symbols listed and ACTIVE, is there enough margin, are old orders still
resting, would a run send anything at all — each answered ok / warn / fail with what to do.

It places, changes and cancels nothing: besides `auth` it sends only `subscribe` (balances and
positions are pushed, never queried), `get_user_orders`, `get_user_trades` and `get_user_leverage`.

Exit codes: 0 when nothing failed (warnings allowed); 4 when the exchange cannot be used (no route,
TLS, clock, credentials, auth); 3 when a check failed that would make the run fail.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.enums import OrderType
from runner.errors import ConnectError, RefDataError, RunAborted
from runner.exchange.credentials import Credentials
from runner.exchange.probe import Endpoint
from runner.exchange.targets import PROD, SIM, UAT, Target, display_url, resolve_target
from runner.exit_codes import ExitCode
from runner.playbook.model import Playbook
from runner.playbook.refdata import RefData
from runner.words import number_text

if TYPE_CHECKING:
    from runner.exchange.account import AccountView
    from runner.exchange.client import TradeSession

#: QFEX's REST docs give "typically ±5 minutes" for the HMAC timestamp; no WS tolerance is documented
HMAC_WINDOW_SECONDS = 300.0
#: warn well before that: a tenth of the window
SKEW_WARN_SECONDS = 30.0
CERT_WARN_DAYS = 14.0
#: share of the available balance above which the margin estimate warns
MARGIN_WARN_FRACTION = Decimal("0.8")


class Outcome(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


class Impact(str, Enum):
    """What a failed check means for a run (picks the exit code)."""

    NONE = "none"
    RUN_FAILS = "run_fails"  # exit 3
    UNUSABLE = "unusable"  # exit 4


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    message: str
    action: str = ""
    impact: Impact = Impact.NONE


@dataclass
class DoctorReport:
    target: str
    url: str
    playbook: str | None
    checks: list[Check] = field(default_factory=list)

    def ok(self, name: str, message: str) -> None:
        self.checks.append(Check(name, Outcome.OK, message))

    def warn(self, name: str, message: str, action: str = "") -> None:
        self.checks.append(Check(name, Outcome.WARN, message, action))

    def fail(self, name: str, message: str, action: str, impact: Impact = Impact.RUN_FAILS) -> None:
        self.checks.append(Check(name, Outcome.FAIL, message, action, impact))

    @property
    def unusable(self) -> bool:
        return any(c.outcome is Outcome.FAIL and c.impact is Impact.UNUSABLE for c in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        if self.unusable:
            return ExitCode.CONNECT_FAILED
        if any(c.outcome is Outcome.FAIL for c in self.checks):
            return ExitCode.ORDERS_FAILED
        return ExitCode.OK


@dataclass
class DoctorOptions:
    playbook: str | None = None
    target: str | None = None
    url: str | None = None
    mds_url: str | None = None
    credentials_file: str | None = None
    state_dir: str | None = None
    runs_base: str = "runs"
    timeout: float = 10.0
    env: Mapping[str, str] | None = None
    #: seconds to wait for the first balances/positions push (QFEX pulses every 1 s)
    pulse_wait: float = 3.0


class _Stop(Exception):
    """A check failed that later checks depend on: report what we have."""


def diagnose(options: DoctorOptions) -> DoctorReport:
    """Run every check that can run; never raises for what it finds (only for a bad command line)."""
    target = resolve_target(options.target, options.url, options.mds_url)
    report = DoctorReport(target.name, display_url(target.url), options.playbook)
    with contextlib.ExitStack() as stack:
        try:
            playbook = _playbook(report, options)
            if target.name == SIM:
                from runner.run.setup import embedded_exchange

                sim = stack.enter_context(embedded_exchange(None))
                target = target.at(sim.url)
                report.url = display_url(sim.url)
                demo = _demo_credentials(sim.public_key, sim.secret_key)
            else:
                demo = None
            _route(report, target, options.timeout)
            refdata = _refdata_and_clock(report, target, options.timeout)
            _market_data(report, target, playbook, refdata, options.timeout)
            credentials = _credentials(report, options, playbook, demo)
            session = stack.enter_context(_authenticated(report, target, credentials, options.timeout))
            _exchange_checks(report, session, playbook, refdata, options)
        except _Stop:
            pass
    return report


# --- the playbook -------------------------------------------------------------------------------------

def _playbook(report: DoctorReport, options: DoctorOptions) -> Playbook | None:
    if options.playbook is None:
        return None
    from runner.playbook.load import validate_file
    from runner.problems import errors_in

    result = validate_file(options.playbook)
    errors = errors_in(result.problems)
    if errors or result.playbook is None:
        first = "; ".join(str(p) for p in errors[:3])
        report.fail("playbook", f"{options.playbook} is invalid: {first}",
                    f"run `qfex-runner validate {options.playbook}` and fix every problem")
        return None
    playbook = result.playbook
    ident = playbook.name + (f" (run_id {playbook.run_id})" if playbook.run_id else "")
    report.ok("playbook", f"{ident}: {len(playbook.orders)} order(s) on {', '.join(_symbols(playbook))}")
    return playbook


def _symbols(playbook: Playbook) -> list[str]:
    return sorted({o.symbol for o in playbook.orders})


# --- route: URL, DNS, TCP, TLS --------------------------------------------------------------------------

def _route(report: DoctorReport, target: Target, timeout: float) -> None:
    from runner.exchange import probe
    from runner.exchange.client import check_url

    url = target.url or ""
    try:
        check_url(url)
    except ConnectError as exc:
        report.fail("url", str(exc), "give a wss:// URL (ws:// only to a local exchange)", Impact.UNUSABLE)
        raise _Stop from None
    endpoint = probe.endpoint_of(url)
    dns, _ = probe.resolve(endpoint, timeout)
    if not dns.ok:
        report.fail("dns", dns.detail, "check the host name, the network and the DNS resolver",
                    Impact.UNUSABLE)
        raise _Stop
    report.ok("dns", dns.detail)
    tcp = probe.tcp_connect(endpoint, timeout)
    if not tcp.ok:
        report.fail("tcp", tcp.detail, "check that the exchange is up (status.qfex.com for QFEX) and that no "
                    "firewall or proxy blocks the port", Impact.UNUSABLE)
        raise _Stop
    report.ok("tcp", tcp.detail)
    _tls(report, endpoint, timeout)


def _tls(report: DoctorReport, endpoint: Endpoint, timeout: float) -> None:
    from runner.exchange import probe

    if not endpoint.tls:
        report.ok("tls", "not used: plain ws:// to a local exchange on the loopback")
        return
    result, cert = probe.tls_handshake(endpoint, timeout)
    if not result.ok or cert is None:
        report.fail("tls", result.detail, "the runner never skips certificate checks: fix the server's "
                    "certificate, or the system's CA store if a proxy re-signs TLS", Impact.UNUSABLE)
        raise _Stop
    days = cert.days_left(datetime.now(timezone.utc))
    expiry = f"expires {cert.not_after:%Y-%m-%d} ({days:.0f} days)"
    if days < CERT_WARN_DAYS:
        report.warn("tls", f"{result.detail}; {expiry}", "the certificate expires soon: runs will fail to "
                    "connect once it has; tell the exchange's operator")
    else:
        report.ok("tls", f"{result.detail}; {expiry}")


# --- market data ----------------------------------------------------------------------------------------

def _market_data(report: DoctorReport, target: Target, playbook: Playbook | None, refdata: RefData | None,
                 timeout: float) -> None:
    """A mark price per traded symbol from the market-data socket (QFEX's MDS); a warning only: a
    run does not need it yet, but checks at run time read the mark from it."""
    from runner.exchange.marketdata import MarkPrices

    if not target.mds_url:
        report.warn("market data", "no market-data URL for this target",
                    "give --mds-url wss://… (QFEX: wss://mds.qfex.com/, UAT wss://mds.qfex.io/)")
        return
    symbols = _symbols(playbook) if playbook is not None else sorted(refdata or {})[:1]
    if not symbols:
        report.ok("market data", f"{display_url(target.mds_url)} (no symbol to ask a mark price for)")
        return
    with MarkPrices(target.mds_url, symbols, timeout=timeout) as marks:
        end = time.monotonic() + timeout
        prices = {s: marks.wait_for(s, max(0.0, end - time.monotonic())) for s in symbols}
        problem = marks.problem
    missing = [s for s, p in prices.items() if p is None]
    if missing:
        why = f": {problem}" if problem else f" within {timeout:g}s"
        report.warn("market data", f"no mark price for {', '.join(missing)} from "
                    f"{display_url(target.mds_url)}{why}",
                    "check --mds-url and the network; checks against the mark price cannot run")
        return
    shown = ", ".join(f"{s} {number_text(p)}" for s, p in prices.items() if p is not None)
    report.ok("market data", f"mark {shown} from {display_url(target.mds_url)}")


# --- reference data and the clock ---------------------------------------------------------------------------

def _refdata_and_clock(report: DoctorReport, target: Target, timeout: float) -> RefData | None:
    from runner.exchange import probe
    from runner.playbook.refdata import parse_refdata

    if not target.refdata_url:
        report.warn("refdata", "this target has no /refdata",
                    "pass --refdata FILE to run for the tick/lot checks")
        report.warn("clock", "cannot measure clock skew without the exchange's HTTP Date header",
                    "keep the clock synchronised (NTP): HMAC auth fails beyond about ±5 minutes")
        return None
    fetched = probe.fetch_refdata_with_clock(target.refdata_url, timeout)
    judge_clock(report, fetched.skew_seconds)
    if fetched.error is not None:
        report.warn("refdata", f"{target.refdata_url}: {fetched.error}",
                    "a run then cannot pre-check tick and lot sizes; pass --refdata FILE to run")
        return None
    try:
        refdata = parse_refdata(fetched.body, source=target.refdata_url)
    except RefDataError as exc:
        report.warn("refdata", f"{target.refdata_url}: {exc}", "pass --refdata FILE to run")
        return None
    report.ok("refdata", f"{len(refdata)} symbols from {target.refdata_url}")
    return refdata


def judge_clock(report: DoctorReport, skew: float | None) -> None:
    """ok within 30 s; warn from 30 s; fail (exchange unusable) from QFEX's documented ±5 minutes."""
    if skew is None:
        report.warn("clock", "the exchange sent no usable Date header: clock skew not measured",
                    "keep the clock synchronised (NTP): HMAC auth fails beyond about ±5 minutes")
        return
    side = "ahead of" if skew < 0 else "behind"
    text = f"local clock {abs(skew):.1f}s {side} the exchange (±1 s: the Date header has whole seconds)"
    if abs(skew) >= HMAC_WINDOW_SECONDS:
        report.fail("clock", text, "synchronise the clock (NTP): the HMAC timestamp is outside QFEX's "
                    "documented ±5 minute window and authentication will be refused", Impact.UNUSABLE)
    elif abs(skew) >= SKEW_WARN_SECONDS:
        report.warn("clock", text,
                    "synchronise the clock (NTP) before it drifts past the ±5 minute HMAC window")
    else:
        report.ok("clock", text)


# --- credentials and authentication -------------------------------------------------------------------------

def _demo_credentials(public_key: str, secret_key: str) -> Credentials:
    from runner.exchange.credentials import Secret

    return Credentials(public_key, Secret(secret_key), None, "embedded exchange demo account")


def _credentials(report: DoctorReport, options: DoctorOptions, playbook: Playbook | None,
                 demo: Credentials | None) -> Credentials:
    from runner.errors import CredentialsError
    from runner.exchange.credentials import load_credentials

    if demo is not None and not options.credentials_file:
        credentials = demo
    else:
        try:
            credentials = load_credentials(options.credentials_file,
                                           os.environ if options.env is None else options.env)
        except CredentialsError as exc:
            report.fail("credentials", str(exc),
                        "set QFEX_PUBLIC_KEY and QFEX_SECRET_KEY, or pass --credentials", Impact.UNUSABLE)
            raise _Stop from None
    account = (playbook.account if playbook else None) or credentials.account_id
    selected = credentials.account_id
    if playbook and playbook.account and selected and playbook.account != selected:
        report.fail("credentials", f"the playbook trades in account {playbook.account} but the credentials "
                    f"select {credentials.account_id}", "make them agree", Impact.UNUSABLE)
        raise _Stop
    report.ok("credentials", f"public key {credentials.public_key} from {credentials.source}"
              + (f", account {account}" if account else ""))
    return credentials.with_account(account)


@contextlib.contextmanager
def _authenticated(report: DoctorReport, target: Target, credentials: Credentials,
                   timeout: float) -> Iterator[TradeSession]:
    from runner.exchange.client import TradeSession

    try:
        session = TradeSession.connect(target.url or "", credentials, timeout=timeout,
                                       account_id=credentials.account_id)
    except ConnectError as exc:
        report.fail("auth", str(exc), _refused_hint(target, credentials, report), Impact.UNUSABLE)
        raise _Stop from None
    report.ok("auth", f"authenticated as {credentials.public_key}")
    try:
        yield session
    finally:
        session.close()


def _refused_hint(target: Target, credentials: Credentials, report: DoctorReport) -> str:
    """Which environment a refused key is probably for. QFEX documents no marker that tells a UAT key
    from a production one (both look like `qfex_pub_…`), so this reasons from what it can see."""
    hints: list[str] = []
    if not credentials.public_key.startswith("qfex_pub_"):
        hints.append("the public key does not look like a QFEX key (QFEX's keys start with qfex_pub_)")
    if target.name in (UAT, PROD):
        other = "UAT (qfex.io)" if target.name == PROD else "production (qfex.com)"
        here = "production (qfex.com)" if target.name == PROD else "UAT (qfex.io)"
        hints.append(f"keys are issued per environment and QFEX's keys carry no marker of which one: is this "
                     f"a {other} key sent to {here}? Create the key on {here}'s site")
    else:
        hints.append("is the key for this exchange (a uat or prod key sent to a local exchange, or the "
                     "other way round)?")
    if credentials.account_id:
        hints.append(f"does the key own subaccount {credentials.account_id}?")
    if any(c.name == "clock" and c.outcome is not Outcome.OK for c in report.checks):
        hints.append("the clock check above also failed or warned: the signed timestamp may be rejected")
    return "; ".join(hints)


# --- what the exchange holds ---------------------------------------------------------------------------

def _exchange_checks(report: DoctorReport, session: TradeSession, playbook: Playbook | None,
                     refdata: RefData | None, options: DoctorOptions) -> None:
    from runner.exchange.account import read_account

    symbols = _symbols(playbook) if playbook else []
    if playbook is not None:
        _symbol_checks(report, playbook, refdata)
    try:
        account = read_account(session, options.timeout, options.pulse_wait)
        open_orders = session.get_user_orders(timeout=options.timeout)
    except (ConnectError, RunAborted) as exc:
        report.fail("account", f"reading the account failed: {exc}", "retry; if it persists, check the "
                    "exchange's status", Impact.UNUSABLE)
        return
    for gap in account.gaps:
        report.warn("account", gap, "the margin estimate below is incomplete")
    _positions(report, account, symbols)
    _leverage(report, account, symbols)
    to_send = _exactly_once(report, session, playbook, options) if playbook else None
    _open_orders(report, open_orders, playbook, symbols)
    _margin(report, account, playbook, refdata, to_send)
    _rate_budget(report, playbook, to_send)


def _symbol_checks(report: DoctorReport, playbook: Playbook, refdata: RefData | None) -> None:
    if refdata is None:
        report.warn("symbols", "no reference data: the playbook's symbols are not checked",
                    "fetchable refdata lets run check tick and lot sizes too")
        return
    missing = [s for s in _symbols(playbook) if s not in refdata]
    inactive = [f"{s} ({refdata[s].status})" for s in _symbols(playbook)
                if s in refdata and refdata[s].status != "ACTIVE"]
    if missing or inactive:
        parts = ([f"not listed: {', '.join(missing)}"] if missing else []) + \
                ([f"not ACTIVE: {', '.join(inactive)}"] if inactive else [])
        report.fail("symbols", "; ".join(parts), "fix the symbol names, or wait until the symbol is ACTIVE "
                    "(orders on it would be rejected)")
    else:
        report.ok("symbols", f"{', '.join(_symbols(playbook))} listed and ACTIVE")
    from runner.playbook.load import validate_file
    from runner.problems import errors_in

    errors = errors_in(validate_file(playbook.path, refdata).problems)
    if errors:
        report.fail("rules", f"{len(errors)} problem(s) against the exchange's reference data: "
                    + "; ".join(str(p) for p in errors[:3]),
                    "run `qfex-runner validate --refdata` and fix them (a run would refuse, exit 1)")
    else:
        report.ok("rules", "tick, lot and price-band rules pass against the exchange's reference data")


def _positions(report: DoctorReport, account: AccountView, symbols: list[str]) -> None:
    if account.available_balance is not None:
        report.ok("balance", f"available {number_text(account.available_balance)}"
                  + (f" (deposit {number_text(account.deposit)})" if account.deposit is not None else ""))
    held = {s: p for s, p in account.positions.items() if p.quantity != 0}
    if not symbols:
        report.ok("positions", ", ".join(f"{s} {number_text(p.quantity)}" for s, p in sorted(held.items()))
                  or "flat in every symbol")
        return
    mine = {s: held[s] for s in symbols if s in held}
    if mine:
        report.warn("positions", "open position: " + ", ".join(f"{s} {number_text(p.quantity)}"
                                                               for s, p in sorted(mine.items())),
                    "reduce_only orders and take-profit/stop-loss act on this position; make sure the "
                    "playbook means to trade on top of it")
    else:
        report.ok("positions", f"flat in {', '.join(symbols)}")


def _leverage(report: DoctorReport, account: AccountView, symbols: list[str]) -> None:
    if not symbols:
        return
    levels = {s: t.leverage for s, t in account.leverage.items() if t.leverage is not None}
    known = [f"{s} {number_text(levels[s])}x" for s in symbols if s in levels]
    unknown = [s for s in symbols if s not in levels]
    if unknown:
        report.warn("leverage", f"unknown for {', '.join(unknown)}"
                    + (f"; {', '.join(known)}" if known else ""),
                    "the margin estimate assumes 1x for these symbols")
    else:
        report.ok("leverage", ", ".join(known))


def _exactly_once(report: DoctorReport, session: TradeSession, playbook: Playbook,
                  options: DoctorOptions) -> set[str]:
    """Order ids a run would send now (the same lookup `status` and `run` make)."""
    from runner.state.entries import load_contents
    from runner.state.journal import default_state_dir, journal_path
    from runner.state.status import build_status, reconcile_playbook

    state_dir = Path(options.state_dir) if options.state_dir else \
        default_state_dir(playbook, options.runs_base)
    path = journal_path(state_dir, playbook)
    contents = load_contents(path) if report.target != SIM and path.exists() else None
    found = reconcile_playbook(session, playbook, contents, options.timeout)
    lines, warnings = build_status(playbook, found, contents)
    unproven = [x.order_id for x in lines if x.state == "unproven"]
    to_place = [] if unproven else [x for x in lines if not x.placed]
    if unproven:
        report.fail("exactly-once", f"unproven: {', '.join(unproven)} (a damaged journal line may be about "
                    f"them)", "see `qfex-runner status`; resolve them on the exchange (a run stops, exit 5)")
    elif to_place:
        names = ", ".join(x.order_id if x.leg == "entry" else f"{x.order_id} ({x.leg})" for x in to_place)
        placed = len(lines) - len(to_place)
        report.ok("exactly-once", f"a run would send {len(to_place)}: {names}"
                  + (f" ({placed} already placed)" if placed else ""))
    else:
        report.ok("exactly-once", "every order is already placed: a run would send nothing")
    for warning in warnings:
        report.warn("exactly-once", warning, "see `qfex-runner status` for the details")
    return {x.order_id for x in to_place if x.leg == "entry"}


def _open_orders(report: DoctorReport, rows: list[dict[str, Any]], playbook: Playbook | None,
                 symbols: list[str]) -> None:
    if playbook is None:
        report.ok("open orders", f"{len(rows)} open order(s) on the account")
        return
    from runner.state.placements import PlannedOrders

    ours = set(PlannedOrders(playbook).coids)
    foreign = [r for r in rows if r.get("symbol") in symbols and r.get("client_order_id") not in ours]
    if foreign:
        per: dict[str, int] = {}
        for row in foreign:
            per[str(row.get("symbol"))] = per.get(str(row.get("symbol")), 0) + 1
        report.fail("open orders", "left over (not this playbook's): "
                    + ", ".join(f"{n} on {s}" for s, n in sorted(per.items())),
                    "they hold margin and can trade against this playbook's orders (self-trade prevention "
                    "cancels one side); cancel them, or run with a playbook that means to keep them")
    else:
        own = sum(1 for r in rows if r.get("client_order_id") in ours)
        report.ok("open orders", f"none left over on {', '.join(symbols)}"
                  + (f" ({own} of this playbook's own)" if own else ""))


def _margin(report: DoctorReport, account: AccountView, playbook: Playbook | None, refdata: RefData | None,
            to_send: set[str] | None) -> None:
    if playbook is None or to_send is None:
        return
    needed = Decimal(0)
    unpriced: list[str] = []
    for order in playbook.orders:
        if order.id not in to_send or order.reduce_only or order.type in (OrderType.TAKE_PROFIT,
                                                                           OrderType.STOP_LOSS):
            continue
        price = order.price
        if price is None and refdata is not None and order.symbol in refdata:
            price = refdata[order.symbol].underlier_price
        if price is None:
            unpriced.append(order.id)
            continue
        tier = account.leverage.get(order.symbol)
        leverage = tier.leverage if tier is not None and tier.leverage else Decimal(1)
        needed += order.quantity * price / leverage
    available = account.available_balance
    text = f"estimate: {number_text(needed.quantize(Decimal('0.01')))} initial margin (notional ÷ leverage)"
    if unpriced:
        report.warn("margin", f"{text}; without a price for {', '.join(unpriced)}",
                    "MARKET orders are valued at refdata's underlier price, which was not available")
    if available is None:
        report.warn("margin", f"{text}; available balance unknown", "the balance was not pushed in time")
    elif needed > available:
        report.fail("margin", f"{text} > available {number_text(available)}",
                    "deposit or free margin, lower the quantities, or raise leverage (orders would be "
                    "rejected FAILED_MARGIN_CHECK)")
    elif needed > available * MARGIN_WARN_FRACTION:
        report.warn("margin", f"{text}, {needed / available:.0%} of available {number_text(available)}",
                    "fees, price moves and other orders may tip it over")
    elif not unpriced:
        report.ok("margin", f"{text} of available {number_text(available)}")


def _rate_budget(report: DoctorReport, playbook: Playbook | None, to_send: set[str] | None) -> None:
    from runner.exchange.pacing import PacingPolicy, weight_of

    policy = PacingPolicy()
    burst = policy.budget_units * policy.target_fraction
    budget = (f"QFEX allows {policy.budget_units:,.0f} units / {policy.window_seconds:g}s; the runner uses "
              f"{policy.target_fraction:.0%}")
    if playbook is None or to_send is None:
        report.ok("rate limit", budget)
        return
    units = sum(weight_of("add_order") for o in playbook.orders if o.id in to_send) + \
        weight_of("get_user_orders") + weight_of("get_user_trades")
    if units <= burst:
        report.ok("rate limit", f"{budget}: about {units:,.1f} units, within the {burst:,.0f}-unit burst "
                  f"(no pacing)")
    else:
        extra = (units - burst) / policy.target_rate
        report.ok("rate limit", f"{budget}: about {units:,.1f} units; beyond the {burst:,.0f}-unit burst "
                  f"the runner paces to {policy.target_rate:g} units/s (about {extra:.0f}s more)")


# --- rendering -------------------------------------------------------------------------------------------

_MEANING = {ExitCode.OK: "ready", ExitCode.ORDERS_FAILED: "a run would fail",
            ExitCode.CONNECT_FAILED: "the exchange cannot be used"}


def render_text(report: DoctorReport) -> str:
    out = [f"qfex-runner doctor · target {report.target} {report.url}"
           + (f" · playbook {report.playbook}" if report.playbook else "")]
    width = max((len(c.name) for c in report.checks), default=0)
    for check in report.checks:
        out.append(f"{check.outcome.value:<4}  {check.name:<{width}}  {check.message}")
        if check.action and check.outcome is not Outcome.OK:
            out.append(f"{'':<4}  {'':<{width}}  → {check.action}")
    counts = {o: sum(1 for c in report.checks if c.outcome is o) for o in Outcome}
    code = report.exit_code
    out.append(f"{counts[Outcome.OK]} ok, {counts[Outcome.WARN]} warning(s), {counts[Outcome.FAIL]} failed: "
               f"{_MEANING[code]} (exit {int(code)}); nothing was sent")
    return "\n".join(out) + "\n"


def as_json(report: DoctorReport) -> dict[str, Any]:
    code = report.exit_code
    return {"target": report.target, "url": report.url, "playbook": report.playbook,
            "checks": [{"name": c.name, "outcome": c.outcome.value, "message": c.message,
                        "action": c.action or None, "impact": c.impact.value} for c in report.checks],
            "exit_code": int(code), "verdict": _MEANING[code]}
