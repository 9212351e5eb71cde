"""The run's one event pump: every answer from the exchange (order update, fill, stop order,
error) is applied here to the `LiveOrder` of its client_order_id and to the report's records.

One pump serves the sequential run (runner.run.flow), the pipelined window (runner.run.pipeline)
and the final drain (runner.run.finish), so how an answer is applied never depends on how the run
waits for it. Time-driven changes (IOC settle, fill-detail grace, the delay before re-sending a
RateLimited/ServerError refusal, runner.run.send) are kept on a heap so waiting costs O(log n),
not a scan of every order. Attached bracket exits are recognised here too: the exchange announces
them as stop-type updates tied to the entry.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from runner.enums import CANCELLED_STATUSES, OrderType
from runner.exchange.client import Event
from runner.exchange.protocol import (
    ErrorReply,
    Fill,
    OrderUpdate,
    ReplyKind,
    StopOrder,
    error_meaning,
    wire_decimal,
)
from runner.exchange.session import Session
from runner.playbook.model import BracketMode
from runner.report import FillRecord, LegResult, OrderResult, Reject, StatusSeen
from runner.run.ledger import Ledger
from runner.run.send import Sender
from runner.run.verdict import LiveOrder
from runner.state.writer import JournalWriter

_STOP_TYPES = (OrderType.TAKE_PROFIT.value, OrderType.STOP_LOSS.value)


class EventPump:
    """Reads the session and applies each event to the ledger's records (see the module docstring)."""

    def __init__(self, session: Session, journal: JournalWriter, ledger: Ledger, sender: Sender) -> None:
        self.session = session
        self.journal = journal
        self.ledger = ledger
        self.live = ledger.live
        self.sender = sender
        self._timers: list[tuple[float, str]] = []
        self._warned: set[int] = set()  # records already warned about an impossible answer
        #: called after an order or fill update is applied (the exits' one-cancels-other, in build_run)
        self.on_event: Callable[[], None] | None = None
        #: answers applied to after_fill exits so far (an exit's rejection fails its entry)
        self.leg_changes = 0
        #: client_order_ids whose live state an answer changed, until the order flow has looked
        #: at them (`OrderFlow.judge_sent` re-judges only those, not every undecided order)
        self.changed: set[str] = set()
        #: the account's position per symbol as last pushed (only once subscribed to `positions`),
        #: with the time it arrived: symbol -> (quantity, received at)
        self.positions: dict[str, tuple[Decimal, float]] = {}
        #: the last positions row per symbol (its average_price and unrealised_pnl give the mark)
        self.position_rows: dict[str, dict[str, Any]] = {}
        #: the exchange's clock: the latest update_time / timestamp of its frames (Unix seconds)
        self.exchange_time: Decimal | None = None
        #: may claim an event after the observers saw it, instead of the usual handling (an exit plan's
        #: modify answers, runner.run.exits)
        self.claim: Callable[[Event], bool] | None = None
        #: also shown every event, before it is applied (a step waiting for the answer to its cancel,
        #: close or modify by exchange order id or client id: runner.run.steps.context)
        self.observers: list[Callable[[Event], None]] = []

    def pump(self, done: Callable[[], bool], timeout: float) -> bool:
        """Apply incoming events until `done()` or `timeout` seconds pass; True if done."""
        deadline = time.monotonic() + timeout
        while True:
            if done():
                return True
            now = time.monotonic()
            if self.sender.retrying:
                self.sender.resend_due(now)
            remaining = deadline - now
            if remaining <= 0:
                # collect what is already buffered without blocking
                event = self.session.next_event(0.0) if timeout == 0 else None
                if event is None:
                    return done()
                self.apply(event)
                continue
            event = self.session.next_event(min(remaining, self._next_timer(now)))
            if event is not None:
                self.apply(event)

    def watch(self, live: LiveOrder) -> None:
        """Remember when `live` may change by itself (IOC settle, fill-detail grace) for `_next_timer`."""
        moment = live.next_deadline()
        if moment is not None:
            heapq.heappush(self._timers, (moment, live.coid))

    def _next_timer(self, now: float) -> float:
        """Seconds until the next moment an order's state changes without a message (O(log n))."""
        wait = 3600.0
        while self._timers:
            moment, coid = self._timers[0]
            if self.live[coid].next_deadline() != moment:
                heapq.heappop(self._timers)  # superseded
                continue
            if moment <= now:
                heapq.heappop(self._timers)
                wait = 0.001  # re-check `done()` now that it has passed
            else:
                wait = moment - now
            break
        return self.sender.next_retry_in(now, wait)

    def apply(self, event: Event) -> None:
        for observer in self.observers:
            observer(event)
        reply = event.reply
        coid = event.client_order_id
        stamp = reply.body.update_time if isinstance(reply.body, OrderUpdate) else \
            reply.body.timestamp if isinstance(reply.body, Fill) else None
        if stamp is not None and (self.exchange_time is None or stamp > self.exchange_time):
            self.exchange_time = stamp
        if self.claim is not None and self.claim(event):
            if self.on_event is not None:
                self.on_event()
            return
        if reply.kind is ReplyKind.ORDER:
            self._apply_order(coid, reply.body, event.received_at, reply.raw)
        elif reply.kind is ReplyKind.FILL:
            self._apply_fill(coid, reply.body, event.received_at, reply.raw)
        elif reply.kind is ReplyKind.STOP_ORDER:
            self._apply_stop(coid, reply.body, event.received_at)
        elif reply.kind is ReplyKind.ERROR:
            self._apply_error(coid, reply.body, event.received_at, reply.raw)
        elif reply.kind is ReplyKind.POSITION:
            self._apply_positions(reply.body, event.received_at)
            return
        else:
            return
        live = self.live.get(coid) if coid else None
        if live is not None:
            live.changes += 1
            self.changed.add(live.coid)
            if not isinstance(live.record, OrderResult):  # an exit's answer may change its entry's verdict
                self.leg_changes += 1
            self.watch(live)
        if self.on_event is not None and reply.kind in (ReplyKind.ORDER, ReplyKind.FILL):
            self.on_event()

    def _apply_positions(self, body: object, at: float) -> None:
        """A `position_response` push (one row or a list); a row without a readable quantity is
        skipped, never taken for a flat position."""
        for row in body if isinstance(body, list) else [body]:
            if not isinstance(row, dict) or not row.get("symbol"):
                continue
            quantity = wire_decimal(row.get("position"))
            if quantity is not None:
                self.positions[str(row["symbol"])] = (quantity, at)
                self.position_rows[str(row["symbol"])] = row

    def _attached_leg(self, live: LiveOrder | None, update: OrderUpdate) -> LegResult | None:
        """An attached TP/SL leg announced by the exchange (stop type, parent's coid or known id)."""
        if update.order_id and update.order_id in self.ledger.legs_by_order_id:
            return self.ledger.legs_by_order_id[update.order_id]
        if live is None or not update.is_stop_leg or not isinstance(live.record, OrderResult):
            return None
        name = "take_profit" if update.order_type == OrderType.TAKE_PROFIT.value else "stop_loss"
        for leg in live.record.legs:
            attached = leg.mode == BracketMode.ATTACHED.value
            if leg.leg == name and attached and leg.order_id in (None, update.order_id):
                if update.order_id:
                    leg.order_id = update.order_id
                    self.ledger.legs_by_order_id[update.order_id] = leg
                    self.journal.record_exit_id(live.coid, leg.leg, update.order_id)
                return leg
        return None

    def _record_leg_status(self, leg: LegResult, update: OrderUpdate, at: float) -> None:
        leg.statuses.append(StatusSeen(update.status, at, update.quantity_remaining))
        if update.quantity is not None and update.quantity > 0:
            leg.quantity = update.quantity
        if leg.side is None and update.side:
            leg.side = update.side
        if update.is_reject:
            leg.reject = Reject(update.status, update.meaning, None)

    def _apply_order(self, coid: str | None, update: OrderUpdate, at: float, raw: dict[str, Any]) -> None:
        live = self.live.get(coid) if coid else None
        if live is None or (update.is_stop_leg and isinstance(live.record, OrderResult)
                            and not OrderType(live.record.type).is_stop):
            leg = self._attached_leg(live, update)
            if leg is not None:
                self._record_leg_status(leg, update, at)
            return
        self.journal.record_answer(live.coid, raw)
        for text in update.anomalies:
            self._anomaly(live, f"order_response {update.status}: {text}")
        status, remaining, rejected = update.status, update.quantity_remaining, update.is_reject
        if remaining is not None and remaining > live.quantity:
            self._anomaly(live, f"order_response {status}: quantity_remaining is more than the "
                                f"order's quantity {live.quantity}")
        record = live.record
        entry = record if isinstance(record, OrderResult) else None  # None: an exit's leg
        record.statuses.append(StatusSeen(status, at, remaining))
        if record.order_id is None and update.order_id:
            record.order_id = update.order_id
        if entry is not None and remaining is not None and not rejected:
            entry.quantity_remaining = remaining
        if status == "FILLED" and remaining is not None:
            # only a FILLED answer's remainder measures what traded (a reject or cancel may say 0)
            live.remaining = remaining if live.remaining is None else min(live.remaining, remaining)
            if entry is not None:
                entry.filled_reported = max(entry.filled_reported, live.filled)
        first = not live.answered
        live.answered = True
        if entry is not None and entry.answered_at is None:
            entry.answered_at = at
        if rejected:
            record.reject = Reject(status, update.meaning, None)
            live.terminal = True
        elif status in CANCELLED_STATUSES:
            live.terminal = True
        elif status == "FILLED":
            if live.fully_filled:
                live.terminal = True
            elif live.immediate:
                live.partial_at = time.monotonic()
        if live.terminal:
            live.mark_done()
        if entry is not None:
            if entry.filled_at is None and live.fully_filled:
                entry.filled_at = at
            self.ledger.progress("answer" if first else "update", entry.index, entry.id, status)

    def _apply_fill(self, coid: str | None, fill: Fill, at: float, raw: dict[str, Any]) -> None:
        live = self.live.get(coid) if coid else None
        target: OrderResult | LegResult | None = live.record if live else None
        if fill.order_id and fill.order_id in self.ledger.legs_by_order_id:
            target, live = self.ledger.legs_by_order_id[fill.order_id], None
        elif live is not None and fill.order_type in _STOP_TYPES \
                and isinstance(live.record, OrderResult) and not OrderType(live.record.type).is_stop:
            name = "take_profit" if fill.order_type == OrderType.TAKE_PROFIT.value else "stop_loss"
            target = next((x for x in live.record.legs if x.leg == name), None)
            live = None
        if target is None:
            return
        if fill.anomalies:
            if live is not None:
                self.journal.record_answer(live.coid, raw)
                live.answered = True
            for text in fill.anomalies:
                self._anomaly(live, f"fill_response: {text}", target)
        if fill.quantity is None:
            return
        key = fill.trade_id or f"{fill.order_id}:{fill.timestamp}:{fill.quantity}"
        seen = {f.trade_id for f in target.fills}
        if key in seen:
            return
        target.fills.append(FillRecord(key, fill.price, fill.quantity, fill.fee, at))
        if live is None:
            return
        if not fill.anomalies:
            self.journal.record_answer(live.coid, raw)
        live.answered = True
        if live.filled_by_fills > live.quantity:
            self._anomaly(live, f"fill_response: fills add up to more than the order's quantity "
                                f"{live.quantity}")
        if fill.remaining_quantity is not None and fill.remaining_quantity > live.quantity:
            self._anomaly(live, f"fill_response: remaining_quantity is more than the order's quantity "
                                f"{live.quantity}")
        if fill.remaining_quantity is not None:
            live.remaining = fill.remaining_quantity if live.remaining is None \
                else min(live.remaining, fill.remaining_quantity)
        if isinstance(live.record, OrderResult):
            live.record.filled_reported = max(live.record.filled_reported, live.filled)
            if live.record.answered_at is None:
                live.record.answered_at = at
            if live.fully_filled and live.record.filled_at is None:
                live.record.filled_at = at
        if live.fully_filled:
            live.terminal = True
            live.mark_done()
        elif live.immediate:
            live.partial_at = time.monotonic()

    def _anomaly(self, live: LiveOrder | None, text: str,
                 target: OrderResult | LegResult | None = None) -> None:
        """An answer that cannot be right: the order's outcome becomes unknown (runner.run.verdict);
        one warning per order says so (a flood of bad answers is not a flood of warnings)."""
        if live is not None:
            live.note_anomaly(text)
        record = live.record if live is not None else target
        if record is None or id(record) in self._warned:
            return
        self._warned.add(id(record))
        name = record.id if isinstance(record, OrderResult) else record.client_order_id
        self.ledger.warnings.append(f"order {name!r}: the exchange sent {text}; its outcome is reported as "
                                    f"unknown (check it on the exchange)")

    def _apply_stop(self, coid: str | None, stop: StopOrder, at: float) -> None:
        live = self.live.get(coid) if coid else None
        leg = self.ledger.legs_by_order_id.get(stop.stop_order_id or "")
        if leg is None and live is not None and isinstance(live.record, OrderResult):
            name = "take_profit" if stop.stop_order_type == OrderType.TAKE_PROFIT.value else "stop_loss"
            leg = next((x for x in live.record.legs
                        if x.leg == name and x.order_id in (None, stop.stop_order_id)), None)
            if leg is not None and stop.stop_order_id:
                leg.order_id = stop.stop_order_id
                self.ledger.legs_by_order_id[stop.stop_order_id] = leg
                if leg.mode == BracketMode.ATTACHED.value:
                    self.journal.record_exit_id(live.coid, leg.leg, stop.stop_order_id)
        if leg is None:
            return
        if stop.quantity is not None and stop.quantity > 0:
            leg.quantity = stop.quantity
        if stop.status:
            leg.statuses.append(StatusSeen(stop.status, at, None, "stop_order_response"))
        elif not leg.statuses:
            leg.statuses.append(StatusSeen("STAGED", at, None, "stop_order_response"))

    def _apply_error(self, coid: str | None, err: ErrorReply, at: float, raw: dict[str, Any]) -> None:
        live = self.live.get(coid) if coid else None
        if live is None:
            # the exchange did not say which request it answers: judging any order by it could
            # have a placed order re-sent; orders still unanswered end "unknown", looked up on a re-run
            text = f"exchange error not tied to an order: {err.error_code}: {err.message or 'no message'}" \
                   f" (no order was judged by it)"
            self.ledger.warnings.append(text)
            return
        self.journal.record_answer(live.coid, raw)
        record = live.record
        record.statuses.append(StatusSeen(err.error_code, at, None, "err"))
        if self.sender.retry_refused(live, err):
            return  # not a rejection: the exchange placed nothing; the same message goes again
        record.reject = Reject(err.error_code, error_meaning(err.error_code), err.message)
        live.answered = True
        live.terminal = True
        live.mark_done()
        live.error = err
        if isinstance(record, OrderResult):
            if record.answered_at is None:
                record.answered_at = at
            self.ledger.progress("answer", record.index, record.id, err.error_code)
