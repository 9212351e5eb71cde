"""What the journal knows: its records read back and folded into one entry per client_order_id.

`read_records` reads the file (a torn last line is dropped, unknown kinds are kept for newer
runners); `JournalContents` folds every record into a `JournalEntry` per client_order_id: the
intent, the answers, fills, lookups at the exchange and exit ids. Readers ignore record kinds they
do not know, so older journals load unchanged.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeGuard

from runner.enums import CANCELLED_STATUSES, NOT_REJECT_STATUSES, OrderStatus, is_retryable
from runner.exchange.protocol import wire_decimal
from runner.jsonnum import dumps, loads
from runner.state.statedir import read_state_file

#: a status that says "not processed" (like a retryable `err`): neither placed nor rejected
_RETRY_STATUSES = frozenset({OrderStatus.RATE_LIMITED})

#: statuses whose `quantity_remaining` says how much filled (the order stopped trading, or traded)
_ENDED_STATUSES = CANCELLED_STATUSES | {OrderStatus.FILLED}


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
    cancel_reason: str | None = None
    """Why the runner cancelled this order (an exit: one-cancels-other, a flat position), when it did;
    its answer is this order's own (CANCELLED)."""
    pending_modify: str | None = None
    """The key of a modify journaled (about to be sent) and not confirmed since: a re-run compares the
    order at the exchange with the playbook again (`run --converge`)."""
    intents: int = 0
    last_intent_at: str | None = None
    """UTC ISO time of the last intent (how long ago a crashed send may still be in flight)."""
    reconciled: str | None = None
    """Last presence found at the exchange by reconciliation (open/traded/not_found)."""
    damaged: bool = False
    """A line about this order could not be trusted (bad checksum, unknown status): it may have said
    anything, so the order is never known rejected or unplaced from the journal again (unsure)."""

    @property
    def filled_quantity(self) -> Decimal:
        """The same fills are reported twice (order_response remainder and fill_response): take the max."""
        return max(self.fills_total, self.reported_filled)

    @property
    def accepted(self) -> bool:
        """The exchange took the order (it exists or existed on its side)."""
        if self.order_id and self.last_status in NOT_REJECT_STATUSES:
            return True
        return self.reconciled in ("open", "traded") or self.filled_quantity > 0

    @property
    def rejected(self) -> bool:
        """Definitely not placed: a reject status or a non-retryable `err` after the last intent."""
        if self.accepted or self.damaged:
            return False
        if self.last_error is not None:
            return not is_retryable(self.last_error)
        return self.last_status is not None and self.last_status not in NOT_REJECT_STATUSES \
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
        if self.last_status in CANCELLED_STATUSES:
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
            if self.last_status in CANCELLED_STATUSES:
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
        quantity = payload.get("quantity")
        if kind == "fill":
            trade_id = payload.get("trade_id")
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
        if order_id and self.last_status in NOT_REJECT_STATUSES:
            self.order_id = str(order_id)
        stated = Decimal(quantity) if _is_num(quantity) else None  # (checked once: read twice below)
        if stated is not None and self.last_status in ("ACK", "MODIFIED"):
            self.quantity = stated
        remaining = payload.get("quantity_remaining", payload.get("remaining_quantity"))
        # a stop's cancel reply says quantity 0 and quantity_remaining 0 (QFEX's cancel_stop_order page):
        # it measures no fill
        stop_gone = self.last_status != OrderStatus.FILLED and stated is not None and stated == 0
        if _is_num(remaining):
            self.remaining = Decimal(remaining)
            if self.quantity is not None and self.last_status in _ENDED_STATUSES and not stop_gone:
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


def _is_num(value: object) -> TypeGuard[Decimal | int]:
    """An exact, usable number as the journal reads it back: finite and within the wire's range
    (`wire_decimal`: an exchange's NaN or `1e999999999` is journaled as sent, never folded)."""
    kind = type(value)
    if kind is Decimal or kind is int:  # the exact types first: every number of every answer line
        return wire_decimal(value) is not None
    exact = isinstance(value, (Decimal, int)) and not isinstance(value, bool)
    return exact and wire_decimal(value) is not None


def _is_mapping(value: object) -> bool:
    """`isinstance(value, Mapping)`, the common dict first (the ABC's check costs 6x a dict's)."""
    return isinstance(value, dict) or (value is not None and isinstance(value, Mapping))


#: the keys of a whole answer frame, the kind each names (`_unwrap`)
_ANSWER_KEYS = (("order_response", "order"), ("fill_response", "fill"), ("err", "err"))


def _unwrap(answer: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """("order"|"fill"|"err", payload) from a whole frame or a bare payload."""
    for key, kind in _ANSWER_KEYS:
        payload = answer.get(key)
        if _is_mapping(payload):
            return kind, payload  # type: ignore[return-value]
    if answer.get("type") == "error" or ("error_code" in answer and "status" not in answer):
        return "err", answer
    if "status" not in answer and "trade_id" in answer:
        return "fill", answer
    return "order", answer


@dataclass
class JournalContents:
    """Everything a journal file says, folded (no I/O)."""

    entries: dict[str, JournalEntry] = field(default_factory=dict)
    accepted_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per playbook order id: the definition the user last confirmed (sent, or accepted by --replan)."""
    runs: int = 0
    damaged_lines: int = 0
    """Lines that cannot be trusted (unparseable, bad checksum, unknown status; never expected): the
    journal is then 'damaged', every order looked up at the exchange."""
    unattributed_damage: int = 0
    """Damaged lines that name no order: they may have been about any order, placed or not."""
    managed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """An exit plan's management actions (`manage` records) by their deterministic key."""
    steps_done: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Steps besides orders that finished, by their key: `{"step", "outcome", "verdict", "actions"}`
    as the run that did them recorded (a re-run reports them "already done" and does not repeat them)."""

    def entry(self, client_order_id: str) -> JournalEntry:
        found = self.entries.get(client_order_id)
        if found is None:
            found = self.entries[client_order_id] = JournalEntry(client_order_id)
        return found

    def apply_damaged(self, coid: str | None) -> None:
        """A line that cannot be trusted, naming `coid` if it could be read that far: that order may
        have been sent and answered anything (unsure); without a coid, any order may have been."""
        self.damaged_lines += 1
        if coid is None:
            self.unattributed_damage += 1
            return
        entry = self.entry(coid)
        entry.damaged = True
        entry.sent = True

    # The journal folds each record it writes at once, through the method of its kind (`apply_intent`,
    # `apply_answer`, `apply_reconciled`: one per order each, so the dispatch on "kind" is skipped
    # there); `apply` dispatches a record read back to the same methods: one fold either way.

    def apply_intent(self, coid: str, record: Mapping[str, Any]) -> None:
        self.entry(coid).apply_intent(record)
        order_key, definition = record.get("order"), record.get("definition")
        if isinstance(order_key, str) and isinstance(definition, dict) \
                and order_key not in self.accepted_definitions:  # (`setdefault` copied it every time)
            self.accepted_definitions[order_key] = dict(definition)

    def apply_answer(self, coid: str, answer: Mapping[str, Any], at: object) -> None:
        self.entry(coid).apply_answer(answer, at if isinstance(at, str) else None)

    def apply_reconciled(self, coid: str, record: Mapping[str, Any]) -> None:
        entry = self.entry(coid)
        entry.apply_reconciled(record)
        if entry.order_key is None and isinstance(record.get("order"), str):
            entry.order_key = record["order"]

    def apply(self, record: Mapping[str, Any]) -> None:
        kind = record.get("kind")
        coid = record.get("coid")
        if kind == "answer" and isinstance(coid, str):
            answer = record.get("answer")
            if _is_mapping(answer):
                self.apply_answer(coid, answer, record.get("at"))  # type: ignore[arg-type]
        elif kind == "intent" and isinstance(coid, str):
            self.apply_intent(coid, record)
        elif kind == "reconciled" and isinstance(coid, str):
            self.apply_reconciled(coid, record)
        elif kind == "open":
            self.runs += 1
        elif kind == "exit" and isinstance(coid, str) and isinstance(record.get("leg"), str) \
                and record.get("order_id"):
            self.entry(coid).exit_order_ids[record["leg"]] = str(record["order_id"])
        elif kind == "cancel" and isinstance(coid, str):
            self.entry(coid).cancel_reason = str(record.get("reason") or "cancelled by the runner")
            if isinstance(record.get("key"), str):
                self.managed[record["key"]] = dict(record)
        elif kind == "manage" and isinstance(record.get("key"), str):
            self.managed[record["key"]] = dict(record)
        elif kind == "note" and record.get("event") == "cancel_intent" \
                and isinstance(record.get("client_order_id"), str):  # journals written before `cancel`
            self.entry(record["client_order_id"]).cancel_reason = str(record.get("reason") or "")
        elif kind == "modify" and isinstance(coid, str):
            self.entry(coid).pending_modify = str(record.get("key") or "")
        elif kind == "modified" and isinstance(coid, str) and isinstance(record.get("definition"), Mapping):
            entry = self.entry(coid)
            entry.pending_modify = None
            entry.definition = dict(record["definition"])
            if isinstance(record.get("order"), str):
                self.accepted_definitions[record["order"]] = dict(record["definition"])
        elif kind == "step_done" and isinstance(record.get("key"), str):
            self.steps_done[record["key"]] = {k: record.get(k)
                                              for k in ("step", "outcome", "verdict", "actions")}
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


#: every line the runner writes ends with this field: a CRC-32 of the line's text before it
CHECKSUM_KEY = "sum"
_SEAL = re.compile(rb', ?"' + CHECKSUM_KEY.encode() + rb'": "([0-9a-f]{8})"\}$')


def sealed_line(record: Mapping[str, Any]) -> bytes:
    """One journal line: the record as JSON with its checksum as the last field, and a newline.

    Why: a flipped byte (`"ACK"` read back as `"ACC"`) must never turn into a known state such as
    "rejected" (which a re-run would send again): a line whose checksum fails is damaged (unsure).
    The line stays one JSON object, so any JSON reader still reads the journal.
    """
    return sealed(dumps(dict(record)).encode("utf-8"))


def sealed(body: bytes) -> bytes:
    """`sealed_line` of a record already encoded (`body`: one JSON object on one line)."""
    mark = f'"{CHECKSUM_KEY}": "{zlib.crc32(body):08x}"}}'.encode()
    return body[:-1] + (b", " if len(body) > 2 else b"") + mark + b"\n"


def _checked(raw: bytes) -> tuple[dict[str, Any] | None, bool]:
    """(the record, whether its checksum holds) of one line; (None, False) if it is not a JSON object.
    A line without a checksum (journals written before checksums) holds: it is judged by its contents."""
    try:
        record = loads(raw)
    except ValueError:
        return None, False
    if not isinstance(record, dict):
        return None, False
    if CHECKSUM_KEY not in record:
        return record, True
    sealed = record.pop(CHECKSUM_KEY)
    match = _SEAL.search(raw.rstrip(b"\r"))
    if match is None or match.group(1).decode() != sealed:
        return record, False
    body = raw[:match.start()] + b"}"
    return record, f"{zlib.crc32(body):08x}" == sealed


def _statuses_known(record: Mapping[str, Any]) -> bool:
    """False when a record states an order's status or presence in a word the runner does not know
    (a damaged line, e.g. "ACC" for "ACK"): such a line must never read as a known state."""
    kind = record.get("kind")
    if kind == "answer" and isinstance(record.get("answer"), Mapping):
        answer_kind, payload = _unwrap(record["answer"])
        status = payload.get("status")
        return answer_kind != "order" or status is None \
            or (isinstance(status, str) and status in OrderStatus._value2member_map_)
    if kind == "reconciled":
        return record.get("presence") in _PRESENCES
    return True


_PRESENCES = frozenset({"open", "traded", "not_found"})


@dataclass
class JournalRead:
    """A journal file as read: its trusted records, its damaged lines (by the coid each names, None
    when it names none) and the byte length of the valid prefix (a torn tail is cut there)."""

    records: list[dict[str, Any]]
    damaged: list[dict[str, Any] | None]
    """The damaged lines as far as they could be read (None: not even JSON)."""
    valid_end: int

    def fold(self) -> JournalContents:
        """The contents: trusted records applied, then each damaged line counted against the order it
        names — only an order the trusted lines know (a flipped byte may have changed the name too)."""
        contents = JournalContents()
        for record in self.records:
            contents.apply(record)
        for line in self.damaged:
            coid = line.get("coid") if line is not None else None
            if line is not None and coid is None and line.get("kind") in _NO_ORDER_KINDS:
                contents.damaged_lines += 1  # a run's start or a note: about no order
                continue
            contents.apply_damaged(coid if isinstance(coid, str) and coid in contents.entries else None)
        return contents


#: record kinds that say nothing about any order (one damaged byte cannot make an intent read as these)
_NO_ORDER_KINDS = frozenset({"open", "note"})


def read_records(path: Path) -> JournalRead:
    """Every line of a journal file, checked (see `JournalRead`)."""
    data = read_state_file(path, "journal")  # never through a symlink
    if data is None:
        return JournalRead([], [], 0)
    records: list[dict[str, Any]] = []
    damaged: list[dict[str, Any] | None] = []
    valid_end = 0
    position = 0
    lines = data.split(b"\n")
    for index, raw in enumerate(lines):
        is_last = index == len(lines) - 1
        end = position + len(raw) + (0 if is_last else 1)
        if is_last:  # text after the final newline: a torn write (or nothing)
            break
        record, intact = _checked(raw)
        if record is not None and intact and _statuses_known(record):
            records.append(record)
            valid_end = end
        elif record is None and index == len(lines) - 2 and not lines[-1] and _torn(raw):
            break  # a complete but garbled last line (zeros after a crash): treat as torn
        else:
            damaged.append(record)
            valid_end = end
        position = end
    return JournalRead(records, damaged, valid_end)


def _torn(raw: bytes) -> bool:
    """A last line a crash can leave (zeros where the data never reached the disk, or cut short),
    as opposed to a complete line damaged later: the latter is kept and counted as damaged."""
    return b"\x00" in raw or not raw.rstrip().endswith(b"}")


def load_contents(path: Path) -> JournalContents:
    """Fold a journal file without locking or writing (for `status`)."""
    return read_records(path).fold()
