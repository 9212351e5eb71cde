"""The run journal: an append-only, fsync'd record of what was about to be sent and what came back.

Why: between "send add_order" and "read the answer" a process can die, and the exchange cannot
tell everything afterwards (a rejected order, or one cancelled before it traded, leaves no trace
in `get_user_orders`/`get_user_trades`). So before every order leaves, its intent is written and
fsync'd here; every answer is appended after. A re-run reads the journal to know which orders
were placed, which were rejected, and which are *unsure* (intent written, no answer: looked up at
the exchange before anything is sent).

Format: one JSON object per line (`runner.jsonnum`, exact numbers), in
`<state-dir>/<identity>.journal.jsonl`, one file per playbook identity (`name` + `run_id`).
Each line is written with one `write` on an O_APPEND descriptor the moment it is recorded, so
`kill -9` at any instant leaves at worst a torn last line; opening the journal drops that torn
tail (truncates the file back to the last complete line) so later appends stay valid.

Besides intents and answers (whose fill frames carry the prices a re-run reports), it records
lookups at the exchange (`reconciled`), accepted definitions (`replan`, `adopted`) and attached
exits' own order ids (`exit`, learned when the exchange announces them). Readers ignore kinds they
do not know, so older journals load unchanged.

Durability (fsync) is paid where it protects a send: an intent is fsync'd before its message
leaves (several intents share one fsync in a `batch`); an answer rides on the next fsync (see
`Journal.sync_answers`), which costs a run one fsync per order instead of two.

The journal also guards against a changed playbook (terraform's stale-plan rule): each intent
records the order's definition as sent; if the file now defines a placed order differently, or
no longer has it, `Journal.open` refuses with the list (`PlanChanged`, exit 1) unless `--replan`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner import __version__
from runner.errors import PlaybookInvalid, RunnerError
from runner.jsonnum import dumps, loads
from runner.playbook.model import Order, Playbook
from runner.problems import Location, Problem
from runner.report._cells import counted
from runner.state.statelock import StateLock

FORMAT_VERSION = 1
JOURNAL_SUFFIX = ".journal.jsonl"
LOCK_SUFFIX = ".lock"

#: err codes that mean "the request was not processed: sending it again is the right thing".
RETRYABLE_ERRORS = frozenset({"RateLimited", "ServerError"})
#: statuses after which an order can no longer change (FILLED only when nothing remains).
_FINAL_STATUSES = frozenset({"CANCELLED", "CANCELLED_STP"})
_NON_REJECT_STATUSES = frozenset({"ACK", "FILLED", "MODIFIED", "CANCELLED", "CANCELLED_STP"})
_RETRY_STATUSES = frozenset({"RATE_LIMITED"})


class JournalError(RunnerError):
    """The journal cannot be used (unreadable state dir, foreign file)."""


class PlanChanged(PlaybookInvalid):
    """Orders already placed under this identity are defined differently now (exit 1, nothing sent)."""


# --- identity and paths -----------------------------------------------------------------------------


def identity_of(playbook: Playbook) -> str:
    """Human form of the playbook identity, as used in messages."""
    return f"{playbook.name!r}" + (f" (run_id {playbook.run_id!r})" if playbook.run_id else "")


def identity_slug(name: str, run_id: str | None) -> str:
    """A file-name-safe, collision-free key for (name, run_id)."""
    digest = hashlib.sha256(f"{name}\x1f{run_id or ''}".encode()).hexdigest()[:10]
    readable = _safe(name) + (f"@{_safe(run_id)}" if run_id else "")
    return f"{readable}-{digest}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:60] or "_"


def default_state_dir(playbook: Playbook, base: Path | str = "runs") -> Path:
    """`runs/<name>/.state/`: beside the default report dirs (`runs/<name>/<timestamp>/`)."""
    return Path(base) / _safe(playbook.name) / ".state"


def journal_path(state_dir: Path, playbook: Playbook) -> Path:
    return Path(state_dir) / (identity_slug(playbook.name, playbook.run_id) + JOURNAL_SUFFIX)


def lock_path(state_dir: Path, playbook: Playbook) -> Path:
    return Path(state_dir) / (identity_slug(playbook.name, playbook.run_id) + LOCK_SUFFIX)


# --- order definitions ---------------------------------------------------------------------------------


def _num(value: Decimal | None) -> str | None:
    """Canonical text of a number: 10, 10.0 and 1E+1 are the same order."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


def order_definition(order: Order, account: str | None = None) -> dict[str, Any]:
    """What makes an order the order it is at the exchange (not wait/expect, comments or layout)."""
    bracket = order.bracket
    return {
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "quantity": _num(order.quantity),
        "price": _num(order.price),
        "time_in_force": order.time_in_force.value,
        "reduce_only": bool(order.reduce_only),
        "take_profit": _num(bracket.take_profit) if bracket else None,
        "stop_loss": _num(bracket.stop_loss) if bracket else None,
        "bracket_mode": bracket.mode.value if bracket else None,
        "account": account,
    }


def fingerprint(definition: Mapping[str, Any]) -> str:
    canonical = dumps(dict(definition), sort_keys=True)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def definition_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """`price 200 → 201, quantity 10 → 12` (what a reviewer needs to see)."""
    parts = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            parts.append(f"{key} {_show(old.get(key))} → {_show(new.get(key))}")
    return ", ".join(parts) or "definition changed"


def _show(value: Any) -> str:
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


# --- what the journal knows about one client_order_id -----------------------------------------------


@dataclass(frozen=True)
class JournalFill:
    """One execution as its `fill_response` was recorded: what a re-run reports without asking the
    exchange again (the answers' frames have always been journaled whole, so old journals have it)."""

    trade_id: str
    quantity: Decimal
    price: Decimal | None
    fee: Decimal | None
    at: str | None
    """UTC ISO time the answer was recorded (when the first run saw the fill)."""


@dataclass
class JournalEntry:
    """The journal's knowledge of one client_order_id, folded from its records."""

    client_order_id: str
    order_key: str | None = None
    """The playbook order `id` this coid belongs to."""
    leg: str | None = None
    step_index: int | None = None
    sent: bool = False
    """An intent was recorded: the message may have left (assume it did)."""
    answered: bool = False
    """The exchange said something about this coid since the last intent."""
    order_id: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    """error_code of the last `err` answer, if the last answer was one."""
    quantity: Decimal | None = None
    remaining: Decimal | None = None
    fills_total: Decimal = Decimal(0)
    """Sum of the distinct fills seen (by trade_id)."""
    reported_filled: Decimal = Decimal(0)
    """Filled as reported otherwise: quantity - quantity_remaining, or by reconciliation."""
    trade_ids: set[str] = field(default_factory=set)
    fills: list[JournalFill] = field(default_factory=list)
    """The distinct fills seen (by trade_id), with their prices, in the order they arrived."""
    exit_order_ids: dict[str, str] = field(default_factory=dict)
    """Attached exits' own exchange order ids (leg name → order id), as the exchange announced them
    when the entry filled: a re-run finds their trades by id when trade rows carry no client ids."""
    definition: dict[str, Any] | None = None
    """The order's definition as it was when the intent was recorded."""
    intents: int = 0
    last_intent_at: str | None = None
    """UTC ISO time of the last intent (how long ago a crashed send may still be in flight)."""
    reconciled: str | None = None
    """Last presence found at the exchange by reconciliation (open/traded/not_found)."""

    @property
    def filled_quantity(self) -> Decimal:
        """The same fills are reported twice (order_response remainder and fill_response): take the max."""
        return max(self.fills_total, self.reported_filled)

    @property
    def accepted(self) -> bool:
        """The exchange took the order (it exists or existed on its side)."""
        if self.order_id and self.last_status in _NON_REJECT_STATUSES:
            return True
        return self.reconciled in ("open", "traded") or self.filled_quantity > 0

    @property
    def rejected(self) -> bool:
        """Definitely not placed: a reject status or a non-retryable `err` after the last intent."""
        if self.accepted:
            return False
        if self.last_error is not None:
            return self.last_error not in RETRYABLE_ERRORS
        return self.last_status is not None and self.last_status not in _NON_REJECT_STATUSES \
            and self.last_status not in _RETRY_STATUSES

    @property
    def unsure(self) -> bool:
        """Sent, but whether it reached the book is unknown: ask the exchange before anything else."""
        return self.sent and not self.accepted and not self.rejected

    @property
    def settled(self) -> bool:
        """Nothing more can happen to this order at the exchange."""
        if self.rejected:
            return True
        if not self.accepted:
            return False
        if self.last_status in _FINAL_STATUSES:
            return True
        if self.last_status == "FILLED" and self.remaining is not None and self.remaining == 0:
            return True
        return self.quantity is not None and self.filled_quantity >= self.quantity

    @property
    def state(self) -> str:
        """One word for reports: not_sent / unsure / rejected / open / filled / cancelled."""
        if not self.sent and not self.accepted:
            return "not_sent"
        if self.rejected:
            return "rejected"
        if self.unsure:
            return "unsure"
        if self.settled:
            if self.last_status in _FINAL_STATUSES:
                return "partially_filled" if self.filled_quantity > 0 else "cancelled"
            return "filled"
        return "partially_filled" if self.filled_quantity > 0 else "open"

    # folding -----------------------------------------------------------------------------------------

    def apply_intent(self, record: Mapping[str, Any]) -> None:
        self.sent = True
        self.answered = False
        self.intents += 1
        self.last_intent_at = record.get("at", self.last_intent_at)
        self.order_key = record.get("order", self.order_key)
        self.leg = record.get("leg", self.leg)
        self.step_index = record.get("step", self.step_index)
        if isinstance(record.get("definition"), dict):
            self.definition = dict(record["definition"])
        message = record.get("message")
        params = message.get("params") if isinstance(message, dict) else None
        if isinstance(params, dict) and isinstance(params.get("quantity"), (Decimal, int)):
            self.quantity = Decimal(params["quantity"])
        # a new intent after a rejection is a new attempt: forget the old verdict
        if self.rejected:
            self.last_status = None
        self.last_error = None

    def apply_answer(self, answer: Mapping[str, Any], at: str | None = None) -> None:
        kind, payload = _unwrap(answer)
        self.answered = True
        if kind == "err":
            self.last_error = str(payload.get("error_code") or "UnknownError")
            return
        order_id = payload.get("order_id")
        if kind == "fill":
            trade_id = payload.get("trade_id")
            quantity = payload.get("quantity")
            if trade_id is not None and str(trade_id) not in self.trade_ids and _is_num(quantity):
                self.trade_ids.add(str(trade_id))
                self.fills_total += Decimal(quantity)
                price, fee = payload.get("price"), payload.get("fee")
                self.fills.append(JournalFill(str(trade_id), Decimal(quantity),
                                              Decimal(price) if _is_num(price) else None,
                                              Decimal(fee) if _is_num(fee) else None,
                                              at if isinstance(at, str) else None))
            if order_id and not self.order_id:
                self.order_id = str(order_id)
            remaining = payload.get("remaining_quantity", payload.get("quantity_remaining"))
            if _is_num(remaining):
                self.remaining = Decimal(remaining)
            if self.last_status is None:
                self.last_status = "FILLED"
            self.last_error = None
            return
        status = payload.get("status")
        if status is None:
            return
        self.last_status = str(status)
        self.last_error = None
        if order_id and self.last_status in _NON_REJECT_STATUSES:
            self.order_id = str(order_id)
        if _is_num(payload.get("quantity")) and self.last_status in ("ACK", "MODIFIED"):
            self.quantity = Decimal(payload["quantity"])
        remaining = payload.get("quantity_remaining", payload.get("remaining_quantity"))
        if _is_num(remaining):
            self.remaining = Decimal(remaining)
            if self.quantity is not None and self.last_status in ("FILLED", "CANCELLED", "CANCELLED_STP"):
                self.reported_filled = max(self.reported_filled, self.quantity - self.remaining)

    def apply_reconciled(self, record: Mapping[str, Any]) -> None:
        presence = record.get("presence")
        self.reconciled = str(presence) if presence else None
        if self.quantity is None and _is_num(record.get("quantity")):
            self.quantity = Decimal(record["quantity"])
        if record.get("order_id"):
            self.order_id = str(record["order_id"])
        if _is_num(record.get("filled_quantity")):
            self.reported_filled = max(self.reported_filled, Decimal(record["filled_quantity"]))
        if _is_num(record.get("remaining")):
            self.remaining = Decimal(record["remaining"])
        if presence == "open" and self.last_status in (None, "RATE_LIMITED"):
            self.last_status = "ACK"
        if presence == "traded" and self.last_status in (None, "ACK", "RATE_LIMITED"):
            # off the book with fills: filled, or partly filled then cancelled/expired
            self.last_status = "FILLED" if self.quantity is None or self.filled_quantity >= self.quantity \
                else "CANCELLED"
            if self.quantity is not None:
                self.remaining = self.quantity - self.filled_quantity if self.last_status == "FILLED" \
                    else Decimal(0)
        if presence == "not_found" and self.order_id and self.last_status in ("ACK", "MODIFIED"):
            # it was on the book (we saw its ACK) and is gone without a trade: cancelled
            self.last_status = "CANCELLED"


def _is_num(value: Any) -> bool:
    return isinstance(value, (Decimal, int)) and not isinstance(value, bool)


def _unwrap(answer: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """("order"|"fill"|"err", payload) from a whole frame or a bare payload."""
    for key, kind in (("order_response", "order"), ("fill_response", "fill"), ("err", "err")):
        if isinstance(answer.get(key), Mapping):
            return kind, answer[key]
    if answer.get("type") == "error" or ("error_code" in answer and "status" not in answer):
        return "err", answer
    if "status" not in answer and "trade_id" in answer:
        return "fill", answer
    return "order", answer


# --- reading the file ---------------------------------------------------------------------------------


@dataclass
class JournalContents:
    """Everything a journal file says, folded (no I/O)."""

    entries: dict[str, JournalEntry] = field(default_factory=dict)
    accepted_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per playbook order id: the definition the user last confirmed (sent, or accepted by --replan)."""
    runs: int = 0
    damaged_lines: int = 0
    """Unparseable lines in the middle of the file (never expected; the journal is then 'unsure')."""

    def entry(self, client_order_id: str) -> JournalEntry:
        found = self.entries.get(client_order_id)
        if found is None:
            found = self.entries[client_order_id] = JournalEntry(client_order_id)
        return found

    def apply(self, record: Mapping[str, Any]) -> None:
        kind = record.get("kind")
        coid = record.get("coid")
        if kind == "open":
            self.runs += 1
        elif kind == "intent" and isinstance(coid, str):
            self.entry(coid).apply_intent(record)
            order_key, definition = record.get("order"), record.get("definition")
            if isinstance(order_key, str) and isinstance(definition, dict):
                self.accepted_definitions.setdefault(order_key, dict(definition))
        elif kind == "answer" and isinstance(coid, str) and isinstance(record.get("answer"), Mapping):
            self.entry(coid).apply_answer(record["answer"], record.get("at"))
        elif kind == "reconciled" and isinstance(coid, str):
            entry = self.entry(coid)
            entry.apply_reconciled(record)
            if entry.order_key is None and isinstance(record.get("order"), str):
                entry.order_key = record["order"]
        elif kind == "exit" and isinstance(coid, str) and isinstance(record.get("leg"), str) \
                and record.get("order_id"):
            self.entry(coid).exit_order_ids[record["leg"]] = str(record["order_id"])
        elif kind in ("replan", "adopted") and isinstance(record.get("accepted"), Mapping):
            for order_key, definition in record["accepted"].items():
                if isinstance(definition, dict):
                    self.accepted_definitions[str(order_key)] = dict(definition)
                else:  # an order removed from the playbook, acknowledged
                    self.accepted_definitions.pop(str(order_key), None)

    def placed_order_keys(self) -> set[str]:
        """Playbook order ids with a leg that was (or may have been) placed."""
        return {e.order_key for e in self.entries.values()
                if e.order_key and (e.accepted or e.unsure)}


def read_records(path: Path) -> tuple[list[dict], int, int]:
    """(records, damaged middle lines, byte length of the valid prefix) of a journal file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0, 0
    records: list[dict] = []
    damaged = 0
    valid_end = 0
    position = 0
    lines = data.split(b"\n")
    for index, raw in enumerate(lines):
        is_last = index == len(lines) - 1
        end = position + len(raw) + (0 if is_last else 1)
        if is_last:  # text after the final newline: a torn write (or nothing)
            break
        try:
            record = loads(raw)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
            valid_end = end
        elif index == len(lines) - 2 and not lines[-1]:
            break  # a complete but garbled last line (e.g. zeros after a crash): treat as torn
        else:
            damaged += 1
            valid_end = end
        position = end
    return records, damaged, valid_end


def load_contents(path: Path) -> JournalContents:
    """Fold a journal file without locking or writing (for `status`)."""
    records, damaged, _ = read_records(path)
    contents = JournalContents(damaged_lines=damaged)
    for record in records:
        contents.apply(record)
    return contents


# --- the stale-plan rule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangedOrder:
    """A placed order whose definition in the playbook is not the one it was placed with."""

    order_key: str
    change: str
    """What changed, e.g. `price 200 → 201`, or `removed from the playbook`."""
    location: Location
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    def problem(self) -> Problem:
        return Problem(self.location, f"order {self.order_key!r} was already placed under this name/run_id "
                       f"and has changed since: {self.change}", "changed-since-placed")


def changed_orders(contents: JournalContents, playbook: Playbook) -> list[ChangedOrder]:
    """Placed orders whose current definition differs from the accepted one, plus removed ones."""
    current = {o.id: o for o in playbook.orders}
    changed: list[ChangedOrder] = []
    for key in sorted(contents.placed_order_keys()):
        accepted = contents.accepted_definitions.get(key)
        order = current.get(key)
        if order is None:
            if key in contents.accepted_definitions:
                removed = "removed from the playbook (it stays as it is on the exchange)"
                changed.append(ChangedOrder(key, removed, Location(playbook.path), accepted, None))
            continue
        now = order_definition(order, playbook.account)
        if accepted is not None and fingerprint(accepted) != fingerprint(now):
            changed.append(ChangedOrder(key, definition_diff(accepted, now), order.location, accepted, now))
    return changed


# --- the journal --------------------------------------------------------------------------------------


class Journal:
    """The open journal of one playbook identity; holds the identity's lock until `close()`."""

    def __init__(self, path: Path, playbook: Playbook, lock: StateLock | None, contents: JournalContents,
                 changed: list[ChangedOrder], fd: int | None) -> None:
        self.path = path
        self.playbook = playbook
        self.lock = lock
        self.contents = contents
        self.changed: list[ChangedOrder] = changed
        """Placed orders whose definition changed (accepted with --replan); report them."""
        self._fd = fd
        self._definitions = {o.id: order_definition(o, playbook.account) for o in playbook.orders}
        self.sync_answers = False
        """True: fsync every answer on its own. False (default): answers are written at once and made
        durable by the next fsync — the next intent's, a batch's, or `close`'s.

        Why that keeps exactly-once: an answer can only be lost by a machine crash (a killed process
        loses nothing: the line is in the page cache) that strikes before the next fsync. Nothing is
        sent in that gap, because every send waits for its own intent's fsync, which makes all the
        earlier answers durable with it. So the journal after such a crash is one the runner already
        handles: that of a crash just before the answer arrived — an intent without an answer,
        "unsure", looked up at the exchange before anything is sent
        (`runner.state.placements.Placements`), and counted as possibly placed by the stale-plan rule.
        No state is reachable that was not before.
        """
        self._batch_depth = 0
        self._unsynced = False

    # opening ------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path | str, playbook: Playbook, *, replan: bool = False) -> Journal:
        """Lock the identity, read the journal (dropping a torn tail), apply the stale-plan rule.

        Raises `StateLocked` (another run holds the lock) or `PlanChanged` (unless `replan`).
        """
        state_dir = Path(state_dir)
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the state dir {state_dir}: {exc.strerror}") from exc
        lock = StateLock.acquire(lock_path(state_dir, playbook), identity_of(playbook))
        try:
            return cls._open_locked(state_dir, playbook, lock, replan)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(cls, state_dir: Path, playbook: Playbook, lock: StateLock, replan: bool) -> Journal:
        path = journal_path(state_dir, playbook)
        records, damaged, valid_end = read_records(path)
        contents = JournalContents(damaged_lines=damaged)
        for record in records:
            contents.apply(record)
        changed = changed_orders(contents, playbook)
        if changed and not replan:
            raise PlanChanged(
                [c.problem() for c in changed],
                f"{counted(len(changed), 'order')} already placed under {identity_of(playbook)} changed "
                f"in the playbook since; nothing was sent. Revert the change, use a new run_id to place the "
                f"plan again, or re-run with --replan to place only new orders and leave placed ones as "
                f"they are")
        fd = _open_for_append(path, valid_end)
        journal = cls(path, playbook, lock, contents, changed, fd)
        journal._append({"kind": "open", "pid": os.getpid(), "host": socket.gethostname(),
                         "runner": __version__, "playbook": playbook.path, "sha256": playbook.sha256,
                         "name": playbook.name, "run_id": playbook.run_id, "replan": replan,
                         "format": FORMAT_VERSION})
        if changed:
            journal._append({"kind": "replan", "accepted": {c.order_key: c.new for c in changed},
                             "changes": {c.order_key: c.change for c in changed}})
        return journal

    # recording ----------------------------------------------------------------------------------------

    def record_intent(self, client_order_id: str, step_index: int, order_id_in_playbook: str, leg: Any,
                      message: Mapping[str, Any] | None) -> None:
        """Durably note that `message` is about to be sent. Call BEFORE sending; returns after fsync."""
        record = {"kind": "intent", "coid": client_order_id, "step": step_index,
                  "order": order_id_in_playbook, "leg": getattr(leg, "value", leg),
                  "definition": self._definitions.get(order_id_in_playbook),
                  "message": dict(message) if message is not None else None}
        self._append(record)
        self.contents.apply(record)

    def record_answer(self, client_order_id: str, answer: Mapping[str, Any]) -> None:
        """Note an answer (order_response / fill_response / err, whole frame or payload) for a coid."""
        record = {"at": _now(), "kind": "answer", "coid": client_order_id, "answer": dict(answer)}
        self._append(record)
        self.contents.apply(record)

    def record_exit_id(self, client_order_id: str, leg: str, order_id: str) -> None:
        """Note an attached exit's own order id (announced when its entry filled), once per leg.
        Durable like an answer: with the next fsync (losing it only costs a re-run that lookup)."""
        entry = self.contents.entries.get(client_order_id)
        if entry is not None and entry.exit_order_ids.get(leg) == order_id:
            return
        record = {"kind": "exit", "coid": client_order_id, "leg": leg, "order_id": order_id}
        self._append(record)
        self.contents.apply(record)

    def record_reconciled(self, client_order_id: str, presence: str, *, order_id: str | None = None,
                          filled_quantity: Decimal | None = None, remaining: Decimal | None = None,
                          quantity: Decimal | None = None, order_key: str | None = None) -> None:
        """Note what the exchange said about a coid when it was looked up."""
        record = reconciled_record(client_order_id, presence, order_id=order_id,
                                   filled_quantity=filled_quantity, remaining=remaining, quantity=quantity,
                                   order_key=order_key)
        self._append(record)
        self.contents.apply(record)

    def record_adopted(self, order_key: str) -> None:
        """An order found at the exchange with no intent here: take today's definition as the placed one,
        so a later edit of it is caught by the stale-plan rule."""
        definition = self._definitions.get(order_key)
        if definition is None or order_key in self.contents.accepted_definitions:
            return
        record = {"kind": "adopted", "accepted": {order_key: definition}}
        self._append(record)
        self.contents.apply(record)

    def note(self, event: str, **details: Any) -> None:
        """A free-form line for humans reading the journal (run end, abort reason)."""
        self._append({"kind": "note", "event": event, **details})

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: records inside are written at once but fsync'd together when it ends.

        For many records that must all be durable before the next step (the intents of the orders
        a pipelined run is about to send, the lookups of a reconciliation): one fsync instead of
        one each. Nothing may be sent until the block has ended. With `sync_answers` False,
        answers are not fsync'd on their own either: the next fsync (an intent's, a batch's, or
        `close`) makes them durable. Either way every line is written (`write`) at once, so a
        killed process loses nothing; only a machine crash can lose unsynced answers, leaving
        those orders "unsure" — looked up at the exchange on the next run, as after any crash.

        Why a sequential run (`--max-in-flight 1`) does not batch the intents of the orders ahead
        of the one it sends, although its one fsync per order is then most of its time: an intent
        means "may have been sent", so after a crash every batched intent would read as sent.
        (1) The stale-plan rule runs before the exchange is asked, and would refuse an edit of an
        order that never left ([changed-since-placed]) where today it accepts it; `status` would
        show it unsure. (2) An order sent later than its intent was written would start its
        settle window (`runner.state.placements.SETTLE_S`) too early, so a re-run could believe "not found"
        for a message still in the exchange's speed bump. (3) `on_reject: stop`, a timeout or
        Ctrl-C would leave intents of orders never sent. A pipelined run accepts (1) for the
        orders in its window, and avoids (2) by sending each batch right after its fsync.
        """
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._sync()

    # reading ------------------------------------------------------------------------------------------

    def entry(self, client_order_id: str) -> JournalEntry | None:
        return self.contents.entries.get(client_order_id)

    def entries(self) -> Iterator[JournalEntry]:
        return iter(list(self.contents.entries.values()))

    @property
    def damaged(self) -> bool:
        """Lines in the middle of the file could not be read: treat every entry as unsure."""
        return self.contents.damaged_lines > 0

    @property
    def took_over_stale_lock(self) -> str | None:
        holder = self.lock.took_over if self.lock else None
        return holder.describe() if holder else None

    # closing ------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(JournalError):
                self._sync()
            fd, self._fd = self._fd, None
            os.close(fd)
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _append(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            raise JournalError(f"journal {self.path} is closed")
        record = {"at": _now(), **record}
        line = (dumps(record) + "\n").encode("utf-8")
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # a short write is rare but legal
                written += os.write(self._fd, line[written:])
        except OSError as exc:
            raise JournalError(
                f"cannot write the journal {self.path}: {exc.strerror}; nothing more is sent") from exc
        self._unsynced = True
        answer_like = record.get("kind") in ("answer", "exit")
        deferred = self._batch_depth > 0 or (answer_like and not self.sync_answers)
        if not deferred:
            self._sync()

    def _sync(self) -> None:
        """fsync what was written since the last fsync (every earlier line of the file with it)."""
        if not self._unsynced or self._fd is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise JournalError(
                f"cannot write the journal {self.path}: {exc.strerror}; nothing more is sent") from exc
        self._unsynced = False


def reconciled_record(client_order_id: str, presence: str, *, order_id: str | None = None,
                      filled_quantity: Decimal | None = None, remaining: Decimal | None = None,
                      quantity: Decimal | None = None, order_key: str | None = None) -> dict[str, Any]:
    """The journal line for a reconciliation result (also folded by callers without a journal)."""
    return {"kind": "reconciled", "coid": client_order_id, "presence": presence, "order_id": order_id,
            "filled_quantity": filled_quantity, "remaining": remaining, "quantity": quantity,
            "order": order_key}


def _open_for_append(path: Path, valid_end: int) -> int:
    """Open for appending, cutting a torn tail first so the next line starts on a fresh line."""
    existed = path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        if os.fstat(fd).st_size != valid_end:
            os.ftruncate(fd, valid_end)
            os.fsync(fd)
        if not existed:  # make the new directory entry durable too
            _fsync_dir(path.parent)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class NullJournal:
    """The journal API recording nothing: for `--no-journal` and until a real journal is opened."""

    path = None
    changed: list[ChangedOrder] = []  # noqa: RUF012 - immutable by convention, shared empty list
    damaged = False
    took_over_stale_lock = None

    def __init__(self, *_: Any, **__: Any) -> None:
        self.contents = JournalContents()

    def record_intent(self, client_order_id: str, step_index: int, order_id_in_playbook: str, leg: Any,
                      message: Mapping[str, Any] | None) -> None:
        return None

    def record_answer(self, client_order_id: str, answer: Mapping[str, Any]) -> None:
        return None

    def record_reconciled(self, client_order_id: str, presence: str, **_: Any) -> None:
        return None

    def record_exit_id(self, client_order_id: str, leg: str, order_id: str) -> None:
        return None

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        yield

    def record_adopted(self, order_key: str) -> None:
        return None

    def note(self, event: str, **details: Any) -> None:
        return None

    def entry(self, client_order_id: str) -> JournalEntry | None:
        return None

    def entries(self) -> Iterable[JournalEntry]:
        return ()

    def close(self) -> None:
        return None

    def __enter__(self) -> NullJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
