"""Resuming safely: which orders are already placed, and how a run survives a dropped connection.

Two jobs, both about never placing an order twice and never silently skipping one:

- `Placements` answers `execute`'s question "was this client_order_id already placed?" before
  anything is sent. The journal answers for orders it knows are settled; every other order is
  looked up at the exchange first (`runner.state.reconcile`), so a re-run on a fresh CI machine (no
  journal) adopts what an earlier run placed. Orders the journal saw rejected are sent again:
  they never existed. An order the exchange shows but the journal never recorded is compared
  with the playbook where the exchange shows enough (open orders): a difference is refused like
  any other change of a placed order (terraform's stale-plan rule) unless `--replan`.
- `ReconnectingSession` wraps a `TradeSession`. When the socket drops it reconnects with
  exponential backoff and jitter (bounded in attempts and total time), authenticates with a
  fresh nonce (a new `TradeSession.connect`), re-subscribes, re-enables cancel-on-disconnect
  when the playbook asked for it, and calls back into the run (`catch_up`) to reconcile every
  order that was not over: what happened meanwhile is replayed as events, and orders that never
  reached the exchange are sent again. Beyond the bound it raises `ReconnectFailed` (exit 5).
  It also paces every message with QFEX's weights (`runner.exchange.pacing`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from runner.errors import ConnectError, RunAborted
from runner.exchange.backoff import Backoff, BackoffPolicy
from runner.exchange.client import ConnectionLost, Event
from runner.exchange.pacing import Pacer, retry_after_hint
from runner.exchange.protocol import classify
from runner.playbook.model import BracketMode, Order, Playbook
from runner.report._cells import counted
from runner.state.journal import (
    ChangedOrder,
    JournalContents,
    JournalEntry,
    PlanChanged,
    definition_diff,
    order_definition,
    reconciled_record,
)
from runner.state.reconcile import ExchangeOrderState, Presence, reconcile

#: An unanswered send younger than this may still be on its way into the exchange (QFEX holds
#: limit orders 100 ms in its speed bump); "not found" is only believed after it.
SETTLE_S = 1.0

#: the parts of an order's definition a report shows (and can show differing from the playbook)
DEFINITION_FIELDS = ("symbol", "side", "type", "quantity", "price", "time_in_force", "reduce_only",
                     "take_profit", "stop_loss")


@dataclass(frozen=True)
class Planned:
    """One client_order_id the playbook may place: an entry, or an after_fill exit."""

    client_order_id: str
    order: Order
    leg: str
    quantity: Decimal | None
    """Known up front for entries; after_fill exits are sized at run time."""
    order_type: str


def planned_orders(playbook: Playbook) -> list[Planned]:
    from runner.playbook.ids import Leg

    planned: list[Planned] = []
    for order in playbook.orders:
        planned.append(Planned(playbook.client_order_id(order, Leg.ENTRY), order, Leg.ENTRY.value,
                               order.quantity, order.type.value))
        bracket = order.bracket
        if bracket is not None and bracket.mode is BracketMode.AFTER_FILL:
            for leg, trigger, kind in ((Leg.TAKE_PROFIT, bracket.take_profit, "TAKE_PROFIT"),
                                       (Leg.STOP_LOSS, bracket.stop_loss, "STOP_LOSS")):
                if trigger is not None:
                    coid = playbook.client_order_id(order, leg)
                    planned.append(Planned(coid, order, leg.value, None, kind))
    return planned


def _age_seconds(iso: str | None, now: float) -> float | None:
    if not iso:
        return None
    try:
        return now - dt.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


# --- before sending: what is already placed -----------------------------------------------------------


class Placements:
    """The exactly-once oracle behind `execute`'s `already_placed` (see the module docstring)."""

    def __init__(self, journal: Any, playbook: Playbook, *, replan: bool = False, settle_s: float = SETTLE_S,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.journal = journal
        self.playbook = playbook
        self.replan = replan
        self.planned = {p.client_order_id: p for p in planned_orders(playbook)}
        self.order_types = {coid: p.order_type for coid, p in self.planned.items()}
        #: entries whose exits the exchange stages (attached brackets): only it knows their fate
        self.with_exits = {coid for coid, p in self.planned.items() if p.leg == "entry"
                           and p.order.bracket is not None and p.order.bracket.mode is BracketMode.ATTACHED}
        self.entry_hints = {coid: (p.order.side.value, p.order.price) for coid, p in self.planned.items()
                            if coid in self.with_exits}
        self.settle_s = settle_s
        self._clock = clock
        self._sleep = sleep
        self.found: dict[str, ExchangeOrderState] = {}
        self.warnings: list[str] = []
        self.changed: list[ChangedOrder] = []
        """Placed orders that differ from the playbook as the exchange shows them (with --replan)."""
        self._local = JournalContents()  # knowledge when the journal records nothing (NullJournal)
        #: False when the exchange's trade rows carry no client_order_id (exits' fills cannot be found)
        self.trades_visible = True
        self.looked_up = False

    def _entry(self, coid: str) -> JournalEntry | None:
        entry = self.journal.entry(coid)
        return entry if entry is not None else self._local.entries.get(coid)

    def to_look_up(self) -> list[str]:
        """Every planned coid not known (from an intact journal) to be settled, and every placed entry
        with an attached bracket (its exits live on at the exchange after the entry settles)."""
        damaged = bool(getattr(self.journal, "damaged", False))
        coids = []
        for coid in self.planned:
            entry = self._entry(coid)
            if damaged or entry is None or not entry.settled or (coid in self.with_exits and entry.accepted):
                coids.append(coid)
        return coids

    def reconcile(self, session: Any) -> None:
        """Look up every order not known to be settled; believe "not found" for a recent send only
        after it has had time to arrive. Raises PlanChanged for an adopted order that differs."""
        for change in getattr(self.journal, "changed", None) or ():
            self.warnings.append(f"order {change.order_key!r} was placed with another definition: "
                                 f"{change.change}; left as it is on the exchange (--replan)")
        stale = getattr(self.journal, "took_over_stale_lock", None)
        if stale:
            self.warnings.append(f"took over the state lock of a run that ended without releasing it "
                                 f"({stale})")
        coids = self.to_look_up()
        self.looked_up = True
        if not coids:
            return
        known = {c: e.order_id for c in coids if (e := self._entry(c)) is not None and e.order_id}
        exits = {c: list(self.exit_order_ids(c).values()) for c in coids if c in self.with_exits}
        found = reconcile(session, coids, known_order_ids=known, order_types=self.order_types,
                          with_exits=self.with_exits, entry_hints=self.entry_hints,
                          on_rate_limited=_pacer_note(session), exit_order_ids=exits)
        recent = self._recent_unanswered([c for c in coids if not found[c].placed])
        if recent:
            self._sleep(recent)
            again = reconcile(session, [c for c in coids if not found[c].placed], known_order_ids=known,
                              order_types=self.order_types, on_rate_limited=_pacer_note(session))
            found = {**dict(found), **dict(again)}
        carry = getattr(found, "trades_carry_client_ids", None)
        self.trades_visible = carry is not False
        batch = getattr(self.journal, "batch", contextlib.nullcontext)
        with batch():  # one fsync for every lookup (group commit), all durable before any send
            for coid in coids:
                self._note(coid, found[coid])
        self._check_drift()

    def _recent_unanswered(self, not_found: Iterable[str]) -> float:
        """Seconds to wait until every unanswered send among `not_found` is older than settle_s."""
        now = self._clock()
        wait = 0.0
        for coid in not_found:
            entry = self._entry(coid)
            if entry is None or not entry.unsure:
                continue
            age = _age_seconds(entry.last_intent_at, now)
            if age is not None and age < self.settle_s:
                wait = max(wait, self.settle_s - age)
        return wait

    def _note(self, coid: str, state: ExchangeOrderState) -> None:
        self.found[coid] = state
        planned = self.planned[coid]
        fields = {"order_id": state.order_id, "filled_quantity": state.filled_quantity,
                  "remaining": state.remaining, "quantity": planned.quantity,
                  "order_key": planned.order.id}
        self.journal.record_reconciled(coid, state.presence.value, **fields)
        if self.journal.entry(coid) is None:
            self._local.apply(reconciled_record(coid, state.presence.value, **fields))
        if state.copies > 1:
            self.warnings.append(
                f"order {planned.order.id!r} ({planned.leg}): client_order_id {coid} exists "
                f"{state.copies} times on the exchange (order ids {', '.join(state.order_ids)}); "
                f"none is sent again")

    def _check_drift(self) -> None:
        """Adopted open orders the journal never saw placed: compare what the exchange shows."""
        contents = getattr(self.journal, "contents", None)
        accepted = contents.accepted_definitions if contents is not None else {}
        changed: list[ChangedOrder] = []
        for coid, state in self.found.items():
            planned = self.planned[coid]
            if state.presence is not Presence.OPEN or planned.leg != "entry" or planned.order.id in accepted:
                continue
            if exchange_drift(planned.order, state):
                shown, wanted = _exchange_view(state.open_rows[0]), _playbook_view(planned.order)
                comparable = {k: v for k, v in shown.items() if v is not None}
                change = definition_diff(comparable, {k: wanted[k] for k in comparable})
                change += " (as the exchange shows the open order)"
                changed.append(ChangedOrder(planned.order.id, change, planned.order.location, comparable,
                                            wanted))
        if changed and not self.replan:
            raise PlanChanged([c.problem() for c in changed],
                              f"{counted(len(changed), 'order')} already open on the exchange under this "
                              f"name/run_id {'differs' if len(changed) == 1 else 'differ'} from the "
                              f"playbook; nothing was sent. Revert the change, use a new run_id, or re-run "
                              f"with --replan to leave them as they are")
        self.changed = changed
        for c in changed:
            self.warnings.append(f"order {c.order_key!r} was placed with a different definition: {c.change}; "
                                 f"left as it is (--replan)")
        record_adopted = getattr(self.journal, "record_adopted", None)
        if record_adopted is not None:
            for coid, state in self.found.items():
                if state.placed and self.planned[coid].leg == "entry":
                    record_adopted(self.planned[coid].order.id)

    def change_note(self, order_key: str) -> str | None:
        """For the report: how a placed order's definition differs from the playbook (--replan)."""
        changes = [*(getattr(self.journal, "changed", None) or ()), *self.changed]
        found = next((c for c in changes if c.order_key == order_key), None)
        return f"placed with another definition ({found.change})" if found else None

    def exit_order_ids(self, coid: str) -> dict[str, str]:
        """An entry's attached exits' own order ids as an earlier run recorded them (leg → id)."""
        entry = self._entry(coid)
        return dict(entry.exit_order_ids) if entry is not None else {}

    def placed_differences(self, coid: str) -> dict[str, tuple[Any, Any]]:
        """For the report: `{field: (as placed, in the playbook)}` where a placed order is not what the
        playbook says now (a `--replan`-accepted edit, or an adopted order that differs).

        Sources, the exchange winning: the definition its intent recorded (journal), then what the
        exchange shows of the open order (`exchange_drift`, the comparison `status` notes too).
        """
        planned = self.planned.get(coid)
        if planned is None or planned.leg != "entry":
            return {}
        differences: dict[str, tuple[Any, Any]] = {}
        entry = self._entry(coid)
        if entry is not None and entry.definition:
            today = order_definition(planned.order, self.playbook.account)
            differences = {key: (entry.definition.get(key), today.get(key)) for key in DEFINITION_FIELDS
                           if key in entry.definition and entry.definition.get(key) != today.get(key)}
        state = self.found.get(coid)
        if state is not None:
            differences.update(exchange_drift(planned.order, state))
        return differences

    def already_placed(self, coid: str) -> JournalEntry | None:
        """The entry to adopt (never re-send) for a placed order; None when it must be sent."""
        entry = self._entry(coid)
        state = self.found.get(coid)
        if state is None:  # not looked up: the journal knows it settled (placed, or rejected)
            return entry if entry is not None and entry.accepted else None
        if state.placed:
            return entry
        # not on the exchange: placed earlier only if we saw it accepted (then cancelled/expired unfilled)
        return entry if entry is not None and entry.accepted else None


def _num(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        return None
    return format(number.normalize(), "f")


def _exchange_view(row: Mapping[str, Any]) -> dict[str, str | None]:
    kind = row.get("type") or row.get("order_type")
    return {"symbol": row.get("symbol"), "side": row.get("side"), "type": kind,
            "quantity": _num(row.get("quantity")),
            "price": _num(row.get("price")) if kind != "MARKET" else None}


def _playbook_view(order: Order) -> dict[str, str | None]:
    return {"symbol": order.symbol, "side": order.side.value, "type": order.type.value,
            "quantity": _num(order.quantity),
            "price": _num(order.price) if order.type.value != "MARKET" else None}


def exchange_drift(order: Order, state: ExchangeOrderState) -> dict[str, tuple[str, str | None]]:
    """`{field: (on the exchange, in the playbook)}` where an open order differs from `order` as the
    exchange shows it (symbol, side, type, quantity, price); {} when it is not open."""
    if state.presence is not Presence.OPEN or not state.open_rows:
        return {}
    shown, wanted = _exchange_view(state.open_rows[0]), _playbook_view(order)
    return {key: (value, wanted[key]) for key, value in shown.items()
            if value is not None and value != wanted[key]}


def _pacer_note(session: Any) -> Callable[[str, Any], None] | None:
    pacer = getattr(session, "pacer", None)
    if pacer is None:
        return None
    return lambda msg_type, err: pacer.note_rate_limited(msg_type, retry_after_hint(err.raw))


# --- after a reconnect: catch up -----------------------------------------------------------------------


def catch_up(session: Any, live_orders: Mapping[str, Any], journal: Any,
             order_types: Mapping[str, str] | None = None) -> list[str]:
    """Reconcile every order that is not over; replay what was missed; return the coids to send again.

    An unanswered order the exchange does not show never reached it (or was refused): sending it
    again is safe. An answered one it no longer shows was cancelled or expired without a fill.
    """
    now = time.monotonic()
    pending = {coid: live for coid, live in live_orders.items() if not live.over(now)}
    if not pending:
        return []
    known = {coid: live.record.order_id for coid, live in pending.items() if live.record.order_id}
    found = reconcile(session, list(pending), known_order_ids=known, order_types=order_types,
                      on_rate_limited=_pacer_note(session))
    resend: list[str] = []
    for coid, live in pending.items():
        state = found[coid]
        journal.record_reconciled(coid, state.presence.value, order_id=state.order_id,
                                  filled_quantity=state.filled_quantity, remaining=state.remaining,
                                  quantity=live.quantity)
        frames = missed_frames(coid, live, state)
        if frames is None:
            resend.append(coid)
            continue
        for frame in frames:
            session.inject(coid, frame)
    return resend


def missed_frames(coid: str, live: Any, state: ExchangeOrderState) -> list[dict] | None:
    """The answers a dropped connection swallowed, rebuilt from what the exchange shows now.

    None means "not placed: send it again". Frames carry `"_source": "reconciliation"`.
    """
    seen = {f.trade_id for f in live.record.fills}
    order_id = state.order_id or live.record.order_id
    frames: list[dict] = []
    for trade in state.trades:
        trade_id = str(trade.get("trade_id") or "")
        if trade_id and trade_id not in seen:
            frames.append(_frame("fill_response", {
                "trade_id": trade_id, "order_id": trade.get("order_id") or order_id, "client_order_id": coid,
                "symbol": trade.get("symbol"), "price": trade.get("price"), "quantity": trade.get("quantity"),
                "fee": trade.get("fee"), "timestamp": trade.get("timestamp"),
                "side": trade.get("side") or trade.get("aggressor_side"),
                "order_type": trade.get("order_type")}))
    filled = max(state.filled_quantity, live.filled)
    if state.presence is Presence.OPEN:
        status = state.status or "ACK"
        if not live.answered or frames or (state.remaining is not None and state.remaining != live.remaining
                                          and filled > 0):
            frames.append(_order_frame(coid, order_id, "FILLED" if filled > 0 else status, live.quantity,
                                       state.remaining))
        return frames
    if state.presence is Presence.TRADED:
        if filled >= live.quantity:
            frames.append(_order_frame(coid, order_id, "FILLED", live.quantity, Decimal(0)))
        else:
            frames.append(_order_frame(coid, order_id, "CANCELLED", live.quantity, Decimal(0)))
        return frames
    if not live.answered:
        return None
    frames.append(_order_frame(coid, order_id, "CANCELLED", live.quantity, Decimal(0)))
    return frames


def _frame(key: str, payload: dict) -> dict:
    return {key: {k: v for k, v in payload.items() if v is not None}, "_source": "reconciliation"}


def _order_frame(coid: str, order_id: str | None, status: str, quantity: Decimal | None,
                 remaining: Decimal | None) -> dict:
    return _frame("order_response", {"order_id": order_id, "client_order_id": coid, "status": status,
                                     "quantity": quantity, "quantity_remaining": remaining})


# --- the connection that comes back -------------------------------------------------------------------


class ReconnectFailed(ConnectionLost):
    """The connection dropped and could not be re-established within the bounds (exit 5)."""


def reconnect_policy(attempts: int = 8, max_seconds: float = 120.0) -> BackoffPolicy:
    """`attempts` reconnection attempts (after the lost connection), within `max_seconds`."""
    return BackoffPolicy(initial=0.5, factor=2.0, cap=15.0, jitter=0.3, max_attempts=attempts + 1,
                         max_total=max_seconds)


class ReconnectingSession:
    """A `TradeSession` that comes back after a drop (see the module docstring); same methods."""

    def __init__(self, session: Any, connect: Callable[[], Any], *, policy: BackoffPolicy | None = None,
                 pacer: Pacer | None = None, sleep: Callable[[float], None] = time.sleep,
                 on_reconnect: Callable[[ReconnectingSession], None] | None = None) -> None:
        self._inner = session
        self._connect = connect
        self.policy = policy or reconnect_policy()
        self.pacer = pacer
        self._sleep = sleep
        self.on_reconnect = on_reconnect
        self._channels: list[str] = []
        self._cancel_on_disconnect = False
        self._order_ids: dict[str, str] = {}
        self._injected: deque[Event] = deque()
        self._recovering = False
        self.reconnects = 0
        self.losses: list[str] = []

    # delegation ------------------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def inner(self) -> Any:
        return self._inner

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()

    def __enter__(self) -> ReconnectingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # pacing ----------------------------------------------------------------------------------------

    def _pace(self, message: Mapping[str, Any]) -> None:
        if self.pacer is not None:
            self.pacer.acquire(str(message.get("type")))

    def note_rate_limited(self, err: Any) -> None:
        """The exchange said RateLimited to something we sent: hold that bucket back."""
        if self.pacer is None:
            return
        echoed = getattr(err, "echoed_type", None) or "add_order"
        self.pacer.note_rate_limited(echoed, retry_after_hint(getattr(err, "raw", {}) or {}))

    # the trading surface ---------------------------------------------------------------------------

    def send(self, message: dict) -> None:
        """Send; if the connection is gone, recover (the run's catch-up decides about this message)."""
        self._pace(message)
        try:
            self._inner.send(message)
        except ConnectionLost as exc:
            self._recover(exc)

    def next_event(self, timeout: float) -> Event | None:
        if self._injected:
            return self._injected.popleft()
        try:
            return self._inner.next_event(timeout)
        except ConnectionLost as exc:
            self._recover(exc)
            return self._injected.popleft() if self._injected else None

    def receive(self, timeout: float) -> dict | None:
        try:
            return self._inner.receive(timeout)
        except ConnectionLost as exc:
            self._recover(exc)
            return None

    def inject(self, coid: str, frame: dict) -> None:
        """Queue a rebuilt answer for `next_event` (catch-up after a reconnect)."""
        self._injected.append(Event(classify(frame), coid, time.time()))

    def request(self, message: dict, kinds: Iterable[Any], timeout: float = 10.0) -> Any:
        """A query: paced, and asked again on the new connection if the old one dropped."""
        kinds = list(kinds)
        self._pace(message)
        try:
            return self._inner.request(message, kinds, timeout)
        except ConnectionLost as exc:
            if self._recovering:
                raise
            self._recover(exc)
            self._pace(message)
            return self._inner.request(message, kinds, timeout)

    def subscribe(self, channels: Iterable[Any], timeout: float = 10.0) -> None:
        names = [getattr(c, "value", c) for c in channels]
        self._with_recovery(lambda: self._inner.subscribe(names, timeout=timeout))
        self._channels.extend(n for n in names if n not in self._channels)

    def cancel_on_disconnect(self, enabled: bool, timeout: float = 10.0) -> None:
        self._with_recovery(lambda: self._inner.cancel_on_disconnect(enabled, timeout=timeout))
        self._cancel_on_disconnect = enabled

    def expect_order_id(self, order_id: str, client_order_id: str) -> None:
        self._order_ids[order_id] = client_order_id
        self._inner.expect_order_id(order_id, client_order_id)

    def _with_recovery(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except ConnectionLost as exc:
            if self._recovering:
                raise
            self._recover(exc)
            return action()

    # recovery --------------------------------------------------------------------------------------

    def _recover(self, cause: BaseException) -> None:
        if self._recovering:
            raise cause
        self.losses.append(str(cause))
        with contextlib.suppress(Exception):
            self._inner.abort()
        backoff = Backoff(self.policy, sleep=self._sleep)
        backoff.start()
        started = time.monotonic()
        last: BaseException = cause
        while backoff.wait():
            try:
                fresh = self._connect()  # a new TradeSession: new socket, fresh nonce, auth
            except ConnectError as exc:
                last = exc
                continue
            self._inner = fresh
            self._recovering = True
            try:
                self._restore(fresh)
                if self.on_reconnect is not None:
                    self.on_reconnect(self)
            except (ConnectError, RunAborted) as exc:
                last = exc
                self._injected.clear()
                with contextlib.suppress(Exception):
                    fresh.abort()
                continue
            finally:
                self._recovering = False
            self.reconnects += 1
            return
        tried = max(backoff.attempts - 1, 0)  # the lost connection itself was the first attempt
        raise ReconnectFailed(f"{cause}; could not reconnect ({tried} attempt(s) over "
                              f"{time.monotonic() - started:.1f}s; last error: {last})") from last

    def _restore(self, fresh: Any) -> None:
        """What the old connection had set up, on the new one (QFEX scopes all of it to a connection)."""
        if self._channels:
            fresh.subscribe(list(self._channels))
        if self._cancel_on_disconnect:
            fresh.cancel_on_disconnect(True)
        for order_id, coid in self._order_ids.items():
            fresh.expect_order_id(order_id, coid)


def placement_summary(results: Iterable[Any]) -> str:
    """`placed: a, b; not placed: c; unknown: d` — what a trader must know after an abort."""
    groups: dict[str, list[str]] = {"placed": [], "not placed": [], "unknown": []}
    for result in results:
        outcome = getattr(result.outcome, "value", result.outcome)
        if outcome == "not_sent" or (outcome == "failed" and result.reject is not None):
            groups["not placed"].append(result.id)
        elif outcome == "unknown":
            groups["unknown"].append(result.id)
        else:
            groups["placed"].append(result.id)
    return "; ".join(f"{name}: {', '.join(ids) if ids else 'none'}" for name, ids in groups.items())
