"""`status`: the difference between a playbook and the exchange, without touching anything.

Like `terraform plan` against real state: it connects, looks every client_order_id of the plan
up at the exchange (`runner.state.reconcile`), reads the journal if there is one (without taking its
lock or writing to it), and says for every order whether it is open, filled, partially filled,
cancelled, rejected, or not placed — i.e. what a `run` would do now: adopt it or send it.

What the exchange cannot tell is said, not guessed: an order that is neither open nor traded is
"not placed" unless the journal saw it accepted (then it was cancelled or expired unfilled) or
saw it sent without an answer ("unknown": a `run` would look again and send it if still absent).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner.errors import UsageError
from runner.exit_codes import ExitCode
from runner.playbook.model import BracketMode, Playbook
from runner.state.definitions import changed_orders
from runner.state.entries import JournalContents, JournalEntry, load_contents
from runner.state.journal import default_state_dir, journal_path
from runner.state.legstate import attached_leg_states, visible_with
from runner.state.placements import Planned, PlannedOrders, exchange_drift
from runner.state.reconcile import ExchangeOrderState, LookupSession, Presence, Reconciliation, reconcile
from runner.words import counted, number_text

#: one word per state; "placed" says whether a `run` would adopt (True) or send (False) it
STATES: Mapping[str, tuple[str, bool]] = {
    "open": ("resting on the book", True),
    "partially_filled": ("partly filled, rest still on the book", True),
    "filled": ("filled", True),
    "partially_filled_closed": ("partly filled, then cancelled or expired", True),
    "cancelled": ("accepted, then cancelled or expired without a fill (known from the journal)", True),
    "rejected": ("rejected by the exchange (a run would send it again)", False),
    "unknown": ("sent without an answer and not on the exchange: never arrived, rejected, or cancelled "
                "unfilled (a run would send it again)", False),
    "not_placed": ("not on the exchange", False),
    "unproven": ("not on the exchange, but a damaged journal line may be about it (accepted, then cancelled "
                 "unfilled?): a run sends nothing until it is resolved (exit 5)", False),
}


#: what the exchange shows of an attached exit (runner.state.legstate); never sent by a run, so not counted
EXIT_STATES: Mapping[str, str] = {
    "pending": "staged with the entry: the exchange arms it once the entry fills",
    "open": "armed at the exchange, not triggered",
    "filled": "triggered and traded",
    "cancelled": "no longer open and never traded",
    "never_armed": "the entry ended without a fill, so the exchange never armed it",
    "unknown": "not open, and the exchange's trade rows cannot show whether it traded",
}


@dataclass(frozen=True)
class ExitLine:
    """One attached take-profit / stop-loss leg of an entry, as the exchange shows it."""

    leg: str  # take_profit | stop_loss
    state: str
    trigger_price: Decimal | None
    exchange_order_ids: tuple[str, ...]
    quantity: Decimal | None
    filled: Decimal
    note: str = ""


@dataclass(frozen=True)
class OrderStatusLine:
    index: int
    order_id: str
    leg: str
    client_order_id: str
    state: str
    exchange_order_ids: tuple[str, ...]
    quantity: Decimal | None
    filled: Decimal
    remaining: Decimal | None
    journal_state: str | None
    note: str = ""
    exits: tuple[ExitLine, ...] = ()

    @property
    def placed(self) -> bool:
        return STATES[self.state][1]


@dataclass
class StatusReport:
    playbook: Playbook
    target: str
    url: str
    lines: list[OrderStatusLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    journal: str | None = None
    """Path of the journal that was read, or None when there was none."""
    marks: dict[str, Decimal] = field(default_factory=dict)
    """Mark prices of the playbook's symbols from the target's market-data socket (when it answered)."""
    mds_url: str = ""

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for line in self.lines:
            counts[line.state] += 1
        return {k: v for k, v in counts.items() if v}

    @property
    def to_place(self) -> list[OrderStatusLine]:
        """Orders a `run` would send now (none while an order is unproven: the run stops first)."""
        if any(line.state == "unproven" for line in self.lines):
            return []
        return [line for line in self.lines if not line.placed]


def classify(planned: Planned, state: ExchangeOrderState, entry: JournalEntry | None,
             damaged_anywhere: bool = False) -> str:
    """One state word from what the exchange shows and what the journal knows (`damaged_anywhere`:
    the journal has a damaged line naming no known order, which may have been about this one)."""
    if state.presence is Presence.OPEN:
        return "partially_filled" if state.filled_quantity > 0 else "open"
    if state.presence is Presence.TRADED:
        quantity = planned.quantity if planned.quantity is not None else (entry.quantity if entry else None)
        if quantity is not None and state.filled_quantity < quantity:
            return "partially_filled_closed"
        return "filled"
    if entry is not None and entry.accepted:
        return "cancelled" if entry.filled_quantity == 0 else "partially_filled_closed"
    if damaged_anywhere or (entry is not None and entry.damaged):
        return "unproven"
    if entry is not None and entry.rejected:
        return "rejected"
    if entry is not None and entry.unsure:
        return "unknown"
    return "not_placed"


def build_status(playbook: Playbook, found: Reconciliation | Mapping[str, ExchangeOrderState],
                 contents: JournalContents | None) -> tuple[list[OrderStatusLine], list[str]]:
    """Lines and warnings from a reconciliation and an optional journal (no I/O)."""
    lines: list[OrderStatusLine] = []
    warnings: list[str] = []
    index = {o.id: i for i, o in enumerate(playbook.orders, 1)}
    index.update({s.id: 0 for s in playbook.steps if s.id not in index})  # an `exits:` step's exits
    trades_carry_ids = not isinstance(found, Reconciliation) or found.trades_attributable
    for planned in PlannedOrders(playbook):
        state = found[planned.client_order_id]
        entry = contents.entries.get(planned.client_order_id) if contents else None
        word = classify(planned, state, entry, contents is not None and contents.unattributed_damage > 0)
        if word == "not_placed" and isinstance(found, Reconciliation) \
                and planned.client_order_id in found.unsure:
            word = "unknown"  # the order-id lookup could not complete: a run would not send it
        notes = []
        if state.copies > 1:
            notes.append(f"exists {state.copies} times on the exchange")
            warnings.append(f"order {planned.order.id!r} ({planned.leg}): client_order_id "
                            f"{planned.client_order_id} exists {state.copies} times on the exchange")
        drift = _drift(planned, state)
        if drift:
            notes.append(f"differs from the playbook: {drift}")
        if entry is not None and entry.cancel_reason is not None:
            notes.append(f"cancelled by the runner: {entry.cancel_reason}")
        if entry is not None and entry.rejected and entry.last_status:
            notes.append(entry.last_status)
        elif entry is not None and entry.rejected and entry.last_error:
            notes.append(entry.last_error)
        remaining = state.remaining if state.presence is Presence.OPEN else None
        order_ids = state.order_ids or ((entry.order_id,) if entry is not None and entry.order_id else ())
        filled = state.filled_quantity if state.placed else (entry.filled_quantity if entry else Decimal(0))
        lines.append(OrderStatusLine(
            index[planned.order.id], planned.order.id, planned.leg, planned.client_order_id, word,
            tuple(order_ids), planned.quantity if planned.quantity is not None else state.quantity,
            filled, remaining, entry.state if entry is not None else None, "; ".join(notes),
            _exits(planned, state, filled, trades_carry_ids,
                   state.filled_quantity >= filled, entry.exit_order_ids if entry is not None else {})))
    if contents is not None:
        for change in changed_orders(contents, playbook):
            warnings.append(f"order {change.order_key!r} was placed with another definition: {change.change} "
                            f"(a run refuses until you revert it, change run_id, or pass --replan)")
    if isinstance(found, Reconciliation) and found.order_lookup is not None:
        warnings.append(f"exactly-once lookup: {found.order_lookup.describe()}")
    elif isinstance(found, Reconciliation) and found.trades_carry_client_ids is False:
        warnings.append("the exchange's trade rows carry no client_order_id: filled orders are recognised "
                        "only through order ids the journal recorded")
    return lines, warnings


def _drift(planned: Planned, state: ExchangeOrderState) -> str:
    """How an open entry on the exchange differs from its playbook definition
    (`price 220 on the exchange, 219 in the playbook`), or "" — also after `--replan` accepted it."""
    if planned.leg != "entry":
        return ""
    return ", ".join(f"{key} {shown} on the exchange, {wanted} in the playbook"
                     for key, (shown, wanted) in exchange_drift(planned.order, state).items())


def _exits(planned: Planned, state: ExchangeOrderState, entry_filled: Decimal,
           trades_carry_ids: bool = True, history_shown: bool = True,
           known_ids: Mapping[str, str] | None = None) -> tuple[ExitLine, ...]:
    """The attached exits of an entry (none for other orders)."""
    bracket = planned.order.bracket
    if planned.leg != "entry" or bracket is None or bracket.mode is not BracketMode.ATTACHED \
            or (not state.placed and entry_filled == 0):
        return ()
    triggers = {"take_profit": bracket.take_profit, "stop_loss": bracket.stop_loss}
    unarmed = "pending" if state.presence is Presence.OPEN else "never_armed"
    if entry_filled > 0:
        unarmed = "unknown"  # not open, and its fills cannot be seen (trade rows without client ids)
    words = {"FILLED": "filled", "CANCELLED": "cancelled", None: unarmed}
    return tuple(ExitLine(x.leg, words.get(x.status, "open"), triggers[x.leg], tuple(x.order_ids), x.quantity,
                          x.filled, x.note)
                 for x in attached_leg_states(state.legs, triggers, entry_filled, known_ids=known_ids,
                                              trades_visible=history_shown and visible_with(
                                                  trades_carry_ids, known_ids, triggers)).values())


@dataclass
class StatusOptions:
    playbook: str
    target: str | None = None
    url: str | None = None
    mds_url: str | None = None
    credentials_file: str | None = None
    state_dir: str | None = None
    runs_base: str = "runs"
    timeout: float = 10.0
    env: Mapping[str, str] | None = None


#: longest wait for the market data's mark prices shown beside the orders
MARK_WAIT_S = 3.0


def collect_status(options: StatusOptions) -> StatusReport:
    """Load and validate the playbook, connect, reconcile, read the journal. Sends no order."""
    from runner.exchange.credentials import load_credentials
    from runner.exchange.targets import SIM, display_url, resolve_target
    from runner.playbook.load import load_playbook

    target = resolve_target(options.target, options.url, options.mds_url)
    if target.name == SIM:
        raise UsageError("status needs an exchange that keeps state: give --url ws://… or --target uat|prod "
                         "(the embedded exchange starts empty on every run)")
    playbook = load_playbook(options.playbook)
    env = os.environ if options.env is None else options.env
    credentials = load_credentials(options.credentials_file, env)
    credentials = credentials.with_account(playbook.account or credentials.account_id)
    state_dir = Path(options.state_dir) if options.state_dir else default_state_dir(playbook,
                                                                                    options.runs_base)
    path = journal_path(state_dir, playbook)
    contents = _read_journal(path)
    if contents is not None:  # sized quantities as placed (status sizes nothing: no equity, no network)
        from runner.state.definitions import frozen_quantities

        playbook = frozen_quantities(contents, playbook)

    from runner.exchange.client import TradeSession

    with TradeSession.connect(target.url or "", credentials, timeout=options.timeout,
                              account_id=credentials.account_id) as session:
        found = reconcile_playbook(session, playbook, contents, options.timeout)
    lines, warnings = build_status(playbook, found, contents)
    if contents is None:
        warnings.insert(0, f"no journal at {path}: the exchange is the only source (orders cancelled or "
                           f"rejected without a fill cannot be told from orders never placed)")
    elif contents.damaged_lines:
        warnings.insert(0, f"the journal {path} has "
                           f"{counted(contents.damaged_lines, 'unreadable line')}")
    marks: dict[str, Decimal] = {}
    if target.mds_url:  # the market now, beside the orders (never fatal: no answer, no line)
        from runner.exchange.marketdata import read_marks

        marks = read_marks(target.mds_url, sorted({o.symbol for o in playbook.orders}),
                           min(options.timeout, MARK_WAIT_S))[0]
    return StatusReport(playbook, target.name, display_url(target.url), lines, warnings,
                        str(path) if contents is not None else None, marks, display_url(target.mds_url))


def reconcile_playbook(session: LookupSession, playbook: Playbook, contents: JournalContents | None,
                       timeout: float) -> Reconciliation:
    """Every client_order_id of the playbook looked up at the exchange (reads only)."""
    plan = PlannedOrders(playbook)
    known = {c: e.order_id for c in plan.coids
             if contents is not None and (e := contents.entries.get(c)) is not None and e.order_id}
    exits = {c: list(e.exit_order_ids.values()) for c in plan.with_exits
             if contents is not None and (e := contents.entries.get(c)) is not None}
    symbols = {p.client_order_id: p.order.symbol for p in plan}
    return reconcile(session, plan.coids, known_order_ids=known, order_types=plan.order_types,
                     timeout=timeout, with_exits=plan.with_exits, entry_hints=plan.entry_hints,
                     exit_order_ids=exits, symbols=symbols)


def _read_journal(path: Path) -> JournalContents | None:
    return load_contents(path) if path.exists() else None


def exit_code(report: StatusReport, detailed: bool) -> ExitCode:
    """0; with `detailed`, 3 when a `run` would place something (like terraform's -detailed-exitcode)."""
    return ExitCode.ORDERS_FAILED if detailed and report.to_place else ExitCode.OK


# --- rendering ---------------------------------------------------------------------------------------


def _q(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return number_text(value)


def render_text(report: StatusReport) -> str:
    pb = report.playbook
    ident = pb.name + (f" (run_id {pb.run_id})" if pb.run_id else "")
    out = [f"qfex-runner status · playbook {ident} · target {report.target} {report.url}"]
    rows = [("#", "order", "leg", "state", "filled", "exchange order id", "note")]
    for line in report.lines:
        filled = f"{_q(line.filled)}/{_q(line.quantity)}" if line.quantity is not None else _q(line.filled)
        rows.append((str(line.index), line.order_id, line.leg, line.state.replace("_", " "), filled,
                     ", ".join(line.exchange_order_ids) or "-", line.note))
        for x in line.exits:
            done = f"{_q(x.filled)}/{_q(x.quantity)}" if x.quantity is not None else \
                (_q(x.filled) if x.filled else "-")
            name = "tp" if x.leg == "take_profit" else "sl"
            trigger = format(x.trigger_price, "f") if x.trigger_price is not None else "-"
            rows.append(("", "", f"{name} (attached {trigger})", x.state.replace("_", " "), done,
                         ", ".join(x.exchange_order_ids) or "-", x.note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    placed = sum(1 for line in report.lines if line.placed)
    detail = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in report.counts.items())
    out.append(f"{placed} of {len(report.lines)} placed ({detail}); a run would send "
               f"{len(report.to_place)}: {', '.join(_label(x) for x in report.to_place) or 'nothing'}")
    if report.marks:
        out.append(f"mark prices ({report.mds_url}): "
                   + ", ".join(f"{s} {number_text(p)}" for s, p in sorted(report.marks.items())))
    out.extend(f"warning: {w}" for w in report.warnings)
    return "\n".join(out) + "\n"


def _label(line: OrderStatusLine) -> str:
    return line.order_id if line.leg == "entry" else f"{line.order_id} ({line.leg})"


def as_json(report: StatusReport) -> dict[str, Any]:
    pb = report.playbook
    return {
        "playbook": pb.path, "name": pb.name, "run_id": pb.run_id, "target": report.target, "url": report.url,
        "journal": report.journal,
        "orders": [{"index": x.index, "id": x.order_id, "leg": x.leg, "client_order_id": x.client_order_id,
                    "state": x.state, "meaning": STATES[x.state][0], "placed": x.placed,
                    "exchange_order_ids": list(x.exchange_order_ids), "quantity": x.quantity,
                    "filled_quantity": x.filled, "remaining": x.remaining, "journal_state": x.journal_state,
                    "note": x.note or None,
                    "exits": [_exit_json(e) for e in x.exits]} for x in report.lines],
        "summary": {"placed": sum(1 for x in report.lines if x.placed), "orders": len(report.lines),
                    "states": report.counts, "to_place": [_label(x) for x in report.to_place]},
        "marks": dict(sorted(report.marks.items())),
        "warnings": report.warnings,
    }


def _exit_json(line: ExitLine) -> dict[str, Any]:
    return {"leg": line.leg, "mode": "attached", "state": line.state, "meaning": EXIT_STATES[line.state],
            "trigger_price": line.trigger_price, "exchange_order_ids": list(line.exchange_order_ids),
            "quantity": line.quantity, "filled_quantity": line.filled, "note": line.note or None}
