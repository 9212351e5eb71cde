"""The run journal: an append-only, fsync'd record of what was about to be sent and what came back.

Why: between "send add_order" and "read the answer" a process can die, and the exchange cannot
tell everything afterwards (a rejected order, or one cancelled before it traded, leaves no trace
in `get_user_orders`/`get_user_trades`). So before every order leaves, its intent is written and
fsync'd here; every answer is appended after. A re-run reads the journal to know which orders
were placed, which were rejected, and which are *unsure* (intent written, no answer: looked up at
the exchange before anything is sent).

Format: one JSON object per line (`runner.jsonnum`, exact numbers), each ending with a checksum
of the line (`runner.state.entries.sealed_line`; lines written before checksums still load), in
`<state-dir>/<identity>.journal.jsonl`, one file per playbook identity (`name` + `run_id`).
Each line is written with one `write` on an O_APPEND descriptor the moment it is recorded (the
lines of a group commit, `Journal.batch`, with one `write` when it ends), so
`kill -9` at any instant leaves at worst a torn last line; opening the journal drops that torn
tail (truncates the file back to the last complete line) so later appends stay valid.

Besides intents and answers (whose fill frames carry the prices a re-run reports), it records
lookups at the exchange (`reconciled`), accepted definitions (`replan`, `adopted`) and attached
exits' own order ids (`exit`, learned when the exchange announces them) and the runner's cancels of
its exits (`cancel`, fsync'd before the cancel leaves; older journals have a `cancel_intent` note,
read alike). Readers ignore kinds they do not know, so older journals load unchanged.

Durability (fsync) is paid where it protects a send: an intent is fsync'd before its message
leaves (several intents share one fsync in a `batch`); an answer rides on the next fsync (see
`Journal.sync_answers`), which costs a run one fsync per order instead of two; so do the run's
`open` line and its reconciliation's lookups (`_RIDES_ON_NEXT_FSYNC`): the first order leaves
after one fsync of the journal, its own intent's.

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
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner import __version__
from runner.errors import JournalError, PlanChanged
from runner.exchange.protocol import frame_text
from runner.jsonnum import dumps
from runner.playbook.ids import Leg
from runner.playbook.model import Playbook
from runner.state.definitions import ChangedOrder, changed_orders, frozen_quantities, order_definition
from runner.state.entries import JournalContents, JournalEntry, read_records, sealed, sealed_line
from runner.state.statedir import open_state_file, prepare_state_dir
from runner.state.statelock import StateLock
from runner.words import counted, number_text

FORMAT_VERSION = 1


@dataclass(frozen=True)
class PreparedIntent:
    """An intent's journal record and its line after the time field (`Journal.prepare_intent`)."""

    record: dict[str, Any]
    tail: bytes

#: records durable with the next fsync rather than their own (like answers, `Journal.sync_answers`):
#: none protects a send. The run's `open` line and an accepted `replan` (lost to a machine crash
#: before any send, the next run asks for --replan again), and a reconciliation's lookups (lost,
#: the next run looks the orders up again). The first intent's fsync, before anything is sent,
#: makes them durable with it; `close` does if nothing is sent.
_RIDES_ON_NEXT_FSYNC = frozenset({"open", "replan", "reconciled"})
JOURNAL_SUFFIX = ".journal.jsonl"
LOCK_SUFFIX = ".lock"


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


# --- what the journal knows about one client_order_id -----------------------------------------------


# --- reading the file ---------------------------------------------------------------------------------


# --- the stale-plan rule ------------------------------------------------------------------------------


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
        self._definition_texts: dict[str, str] = {}
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
        self._batched: list[bytes] = []  # lines recorded inside a batch, written when it ends
        self._batch_must_sync = False  # a line in the batch must be durable when it ends
        self._unsynced = False
        #: the journal file was there before this run (`--prune` works only from a journal)
        self.existed = True
        #: opened by `run --converge`: changed orders are modified in place, not refused
        self.converging = False

    # opening ------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path | str, playbook: Playbook, *, replan: bool = False,
             converge: bool = False) -> Journal:
        """Lock the identity, read the journal (dropping a torn tail), apply the stale-plan rule.

        Raises `StateLocked` (another run holds the lock), `PlanChanged` (unless `replan`) or
        `UnsafeStateDir` (others may write to the state dir; a symlink at the lock or journal path).
        """
        state_dir = Path(state_dir)
        prepare_state_dir(state_dir)  # private; refused when others may write to it
        lock = StateLock.acquire(lock_path(state_dir, playbook), identity_of(playbook))
        try:
            return cls._open_locked(state_dir, playbook, lock, replan, converge)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(cls, state_dir: Path, playbook: Playbook, lock: StateLock, replan: bool,
                     converge: bool = False) -> Journal:
        path = journal_path(state_dir, playbook)
        existed = path.exists()
        read = read_records(path)
        contents, valid_end = read.fold(), read.valid_end
        playbook = frozen_quantities(contents, playbook)
        changed = changed_orders(contents, playbook)
        if changed and not replan and not converge:
            raise PlanChanged(
                [c.problem() for c in changed],
                f"{counted(len(changed), 'order')} already placed under {identity_of(playbook)} changed "
                f"in the playbook since; nothing was sent. Revert the change, use a new run_id to place the "
                f"plan again, re-run with --converge to modify them in place (plan --url shows how), or "
                f"with --replan to place only new orders and leave placed ones as they are")
        fd = _open_for_append(path, valid_end)
        journal = cls(path, playbook, lock, contents, changed, fd)
        journal.existed = existed
        journal.converging = converge
        journal._append({"kind": "open", "pid": os.getpid(), "host": socket.gethostname(),
                         "runner": __version__, "playbook": playbook.path, "sha256": playbook.sha256,
                         "name": playbook.name, "run_id": playbook.run_id, "replan": replan,
                         "format": FORMAT_VERSION})
        if changed and not converge:  # converging: each change is recorded once it is applied
            journal._append({"kind": "replan", "accepted": {c.order_key: c.new for c in changed},
                             "changes": {c.order_key: c.change for c in changed}})
        return journal

    # recording ----------------------------------------------------------------------------------------

    def record_intent(self, client_order_id: str, step_index: int, order_id_in_playbook: str, leg: Leg | str,
                      message: Mapping[str, Any] | None) -> None:
        """Durably note that `message` is about to be sent. Call BEFORE sending; returns after fsync."""
        self.write_intent(self.prepare_intent(client_order_id, step_index, order_id_in_playbook, leg,
                                              message))

    def prepare_intent(self, client_order_id: str, step_index: int, order_id_in_playbook: str,
                       leg: Leg | str, message: Mapping[str, Any] | None,
                       message_text: str | None = None) -> PreparedIntent:
        """An intent line encoded now, written later by `write_intent` (which adds the time): a
        sequential run encodes the next order's intent while it waits for the current one's answer.
        `message_text`: the message as already encoded for the wire (the same bytes are journaled)."""
        record = {"kind": "intent", "coid": client_order_id, "step": step_index,
                  "order": order_id_in_playbook, "leg": leg.value if isinstance(leg, Leg) else leg,
                  "definition": self._definitions.get(order_id_in_playbook),
                  "message": dict(message) if message is not None else None}
        # the line as `sealed_line` would write it, assembled directly (the order's definition encoded
        # once per run, however often it is sent again)
        definition = self._definition_text(order_id_in_playbook)
        if message_text is None:
            message_text = dumps(record["message"])
        tail = (f'", "kind": "intent", "coid": {dumps(client_order_id)}, '
                f'"step": {dumps(step_index)}, "order": {dumps(order_id_in_playbook)}, '
                f'"leg": {dumps(record["leg"])}, "definition": {definition}, '
                f'"message": {message_text}}}')
        return PreparedIntent(record, tail.encode("utf-8"))

    def write_intent(self, intent: PreparedIntent) -> None:
        """Write (and, outside a batch, fsync) an intent prepared by `prepare_intent`, stamped now."""
        stamp = _now()
        intent.record["at"] = stamp  # folded as a re-read folds the line: with its time
        self._append(intent.record, sealed(b'{"at": "' + stamp.encode() + intent.tail))
        self.contents.apply_intent(intent.record["coid"], intent.record)

    def _definition_text(self, order_key: str) -> str:
        text = self._definition_texts.get(order_key)
        if text is None:
            text = self._definition_texts[order_key] = dumps(self._definitions.get(order_key))
        return text

    def record_answer(self, client_order_id: str, answer: Mapping[str, Any]) -> None:
        """Note an answer (order_response / fill_response / err, whole frame or payload) for a coid."""
        text = frame_text(answer)  # the frame as it came: not encoded again (nor copied)
        at = _now()
        stored = answer if text is not None else dict(answer)
        record = {"at": at, "kind": "answer", "coid": client_order_id, "answer": stored}
        line = None if text is None else sealed(
            f'{{"at": "{at}", "kind": "answer", "coid": {dumps(client_order_id)}, "answer": '
            .encode() + text + b"}")
        self._append(record, line)
        self.contents.apply_answer(client_order_id, stored, at)

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
        # the line as `sealed_line` would write it, assembled directly: one per planned order
        # before the first send (a fresh run looks every order up), so its cost is per order
        body = (f'{{"at": "{_now()}", "kind": "reconciled", "coid": {dumps(client_order_id)}, '
                f'"presence": {dumps(presence)}, "order_id": {dumps(order_id)}, '
                f'"filled_quantity": {dumps(filled_quantity)}, "remaining": {dumps(remaining)}, '
                f'"quantity": {dumps(quantity)}, "order": {dumps(order_key)}}}')
        self._append(record, sealed(body.encode("utf-8")))
        self.contents.apply_reconciled(client_order_id, record)

    def record_adopted(self, order_key: str, *, quantity: Decimal | None = None) -> None:
        """An order found at the exchange with no intent here: take today's definition as the placed one,
        so a later edit of it is caught by the stale-plan rule. `quantity`: a sized order's quantity as
        the exchange placed it (frozen from then on, whatever today's equity sizes)."""
        definition = self._definitions.get(order_key)
        if definition is None or order_key in self.contents.accepted_definitions:
            return
        if quantity is not None:
            definition = {**definition, "quantity": number_text(quantity)}
        record = {"kind": "adopted", "accepted": {order_key: definition}}
        self._append(record)
        self.contents.apply(record)

    def record_cancel(self, key: str, client_order_id: str, order_id: str, reason: str,
                      message: Mapping[str, Any]) -> None:
        """Durably note that the runner is about to cancel one of its orders (an exit), under the
        cancel's deterministic `key`; the exchange's answer is journaled under `client_order_id`."""
        record = {"kind": "cancel", "key": key, "coid": client_order_id, "order_id": order_id,
                  "reason": reason, "message": dict(message)}
        self._append(record)
        self.contents.apply(record)

    def record_modify(self, key: str, client_order_id: str, order_key: str, label: str,
                      message: Mapping[str, Any]) -> None:
        """Durably note a modify of a placed order (`run --converge`) before it is sent, under its
        deterministic key; its answer is journaled under the key too."""
        record = {"kind": "modify", "key": key, "coid": client_order_id, "order": order_key, "label": label,
                  "message": dict(message)}
        self._append(record)
        self.contents.apply(record)

    def record_modified(self, client_order_id: str, order_key: str, definition: Mapping[str, Any]) -> None:
        """Every change of a placed order was confirmed (MODIFIED): its definition is now the playbook's."""
        record = {"kind": "modified", "coid": client_order_id, "order": order_key,
                  "definition": dict(definition)}
        self._append(record)
        self.contents.apply(record)

    def record_manage(self, key: str, client_order_id: str, order_id: str, action: str, reason: str,
                      message: Mapping[str, Any]) -> None:
        """Durably note a management action (an exit plan's modify_stop_order) about to be sent, under
        its deterministic `key` (runner.run.exits); a re-run reads it back (`managed`)."""
        record = {"kind": "manage", "key": key, "coid": client_order_id, "order_id": order_id,
                  "action": action, "reason": reason, "message": dict(message)}
        self._append(record)
        self.contents.apply(record)

    def managed(self, key: str) -> Mapping[str, Any] | None:
        """The management record journaled under `key` (by this run or an earlier one), or None."""
        return self.contents.managed.get(key)

    def record_step_done(self, key: str, step_id: str, outcome: str, verdict: str,
                         actions: list[str]) -> None:
        """A step besides orders finished (durably: a re-run must not do it again)."""
        record = {"kind": "step_done", "key": key, "step": step_id, "outcome": outcome, "verdict": verdict,
                  "actions": list(actions)}
        self._append(record)
        self.contents.apply(record)

    def step_done(self, key: str) -> dict[str, Any] | None:
        """What an earlier run recorded when it finished the step with this key (None: not finished)."""
        return self.contents.steps_done.get(key)

    def note(self, event: str, **details: Any) -> None:
        """A free-form line for humans reading the journal (run end, abort reason)."""
        self._append({"kind": "note", "event": event, **details})

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: records inside are written together (one `write`) and fsync'd when it ends.

        For many records that must all be durable before the next step (the intents of the orders
        a pipelined run is about to send, the lookups of a reconciliation): one fsync instead of
        one each. Nothing may be sent until the block has ended. With `sync_answers` False,
        answers are not fsync'd on their own either: the next fsync (an intent's, a batch's, or
        `close`) makes them durable. Either way every line outside a batch is written (`write`)
        at once, so a killed process loses nothing; only a machine crash can lose unsynced
        answers, leaving those orders "unsure" — looked up at the exchange on the next run, as
        after any crash. A batch's own lines are held until it ends (one `write` for all, then
        the fsync): a kill before that loses records of a step not taken yet (intents of orders
        not sent, lookups not acted on), which is a journal of a kill just before the batch.

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
                self._write(b"".join(self._batched))  # one write for the batch, then its fsync
                self._batched.clear()
                if self._batch_must_sync:
                    self._sync()
                self._batch_must_sync = False

    # reading ------------------------------------------------------------------------------------------

    def entry(self, client_order_id: str) -> JournalEntry | None:
        return self.contents.entries.get(client_order_id)

    def entries(self) -> Iterator[JournalEntry]:
        return iter(list(self.contents.entries.values()))

    @property
    def damaged(self) -> bool:
        """Lines of the file cannot be trusted: look every order up at the exchange."""
        return self.contents.damaged_lines > 0

    @property
    def took_over_stale_lock(self) -> str | None:
        holder = self.lock.took_over if self.lock else None
        return holder.describe() if holder else None

    # closing ------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(JournalError):
                self._write(b"".join(self._batched))  # closed inside a batch: keep what it recorded
                self._batched.clear()
                self._sync()
            fd, self._fd = self._fd, None
            os.close(fd)
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _append(self, record: dict[str, Any], line: bytes | None = None) -> None:
        """Write `record` as one line (`line`: already encoded by the caller, "at" first, sealed)."""
        if self._fd is None:
            raise JournalError(f"journal {self.path} is closed")
        if line is None:
            line = sealed_line({"at": _now(), **record})
        kind = record.get("kind")
        rides = kind in _RIDES_ON_NEXT_FSYNC or (kind in ("answer", "exit") and not self.sync_answers)
        if self._batch_depth > 0:
            # written with the batch's other lines when it ends, just before its fsync: nothing is
            # sent before then, so a kill in between loses only intents of orders never sent
            self._batched.append(line)
            self._unsynced = True
            self._batch_must_sync = self._batch_must_sync or not rides
            return
        self._write(line)
        self._unsynced = True
        if not rides:
            self._sync()

    def _write(self, data: bytes) -> None:
        if not data:
            return
        if self._fd is None:
            raise JournalError(f"journal {self.path} is closed")
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # a short write is rare but legal
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            raise JournalError(
                f"cannot write the journal {self.path}: {exc.strerror}; nothing more is sent") from exc

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
    fd = open_state_file(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, "journal")  # never via a symlink
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
    """The time of a journal line, to the millisecond (ISO 8601, UTC), as
    `datetime.isoformat(timespec="milliseconds")` writes it. Every intent and answer is stamped:
    the date and time up to the second are formatted once a second."""
    millis = time.time_ns() // 1_000_000
    second, milli = divmod(millis, 1000)
    if second != _stamp[0]:
        _stamp[:] = [second, dt.datetime.fromtimestamp(second, dt.timezone.utc).isoformat()[:19]]
    return f"{_stamp[1]}.{milli:03d}+00:00"


_stamp: list[int | str] = [-1, ""]  # the last second formatted by `_now`, and its text
