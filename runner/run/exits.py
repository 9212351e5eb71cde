"""Exit plans at run time: a take-profit ladder and one stop-loss placed from the entry's fill,
then kept right after every event (runner.playbook.exits has the language and the sizing).

The invariant this module exists for (design §1): after every event, no stop of the plan exceeds
the plan's open position (QFEX: a stop "cannot exceed your current position"; breaching it may
reject the order "or cause other stop orders to be cancelled"), no exit can flip the position (all
are reduce-only and sized from what is open), and nothing of the plan stays live on a flat
position. `step` derives what the exits should be from facts (what the entry and each exit
filled, the mark price) and sends only the difference:

- exits not placed yet (the entry had not filled) are placed, sized from the fill;
- the entry fills more (partial fills): every open level and the stop grow (`modify_stop_order`);
- a take-profit fills: the stop-loss shrinks to what is open (`modify_stop_order`);
- the stop-loss fills: every take-profit still open is cancelled (`cancel_stop_order`);
- the plan is flat: whatever is still open is cancelled;
- `manage:` break-even / trailing move the stop's trigger, only in the position's favour and only
  while the market is beyond the new trigger (a stop past the entry is checked against the
  market, not the entry); `cancel_entry_after` / `close_after` act on the exchange's clock.

Exactly once: every placement is an ordinary journaled intent under the leg's deterministic
client_order_id (runner.playbook.ids); every modify and cancel is journaled under a deterministic
key before it leaves (`action_key`). Modifies carry absolute targets (quantity and trigger), never
deltas, and a re-run first reads each exit as the exchange shows it, then sends only what differs
from the target: a killed run restarted never moves a stop twice, and cancels only exits it placed,
by the exchange order id their own answers gave.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from runner.enums import OrderType, Side
from runner.exchange.client import Event
from runner.exchange.marketdata import MarkPriceSource
from runner.exchange.protocol import (
    OrderUpdate,
    ReplyKind,
    cancel_order_message,
    cancel_stop_order_message,
    modify_stop_order_message,
    wire_decimal,
)
from runner.exchange.session import Session
from runner.playbook.exits import (
    ExitLeg,
    break_even_price,
    exit_legs,
    level_sizes,
    trail_price,
)
from runner.playbook.ids import NAMESPACE, Leg
from runner.playbook.model import BracketMode, Order, Playbook
from runner.playbook.plan import add_order_message
from runner.report import LegResult, OrderResult, Position, StatusSeen, TimelineEvent
from runner.run.adopt import Adopter, add_journal_fills
from runner.run.events import EventPump
from runner.run.ledger import Ledger
from runner.run.send import Sender
from runner.run.verdict import LiveOrder
from runner.state.writer import JournalWriter
from runner.words import number_text

#: statuses of an exit still working at the exchange
OPEN = ("ACK", "MODIFIED", "STAGED")
#: at most this many mark samples are kept per position for the chart
MAX_MARKS = 5000


def action_key(leg_client_order_id: str, action: str, target: str = "") -> str:
    """The deterministic journal key of one management action on one exit (e.g. a resize to 5 @
    215.00): the same action with the same target has the same key on every run and machine."""
    return str(uuid.uuid5(NAMESPACE, f"{leg_client_order_id}|{action}|{target}"))


class PositionsMark:
    """The mark implied by QFEX's positions push: unrealised_pnl = (mark - average_price) x position,
    so mark = average_price + unrealised_pnl / position (pulsed every second; only while a
    position is open). The fallback when the market-data socket gives no price."""

    def __init__(self, pump: EventPump) -> None:
        self.pump = pump

    def latest(self, symbol: str) -> Decimal | None:
        row = self.pump.position_rows.get(symbol)
        if row is None:
            return None
        quantity = wire_decimal(row.get("position"))
        average = wire_decimal(row.get("average_price"))
        unrealised = wire_decimal(row.get("unrealised_pnl"))
        if not quantity or average is None or unrealised is None:
            return None
        return average + unrealised / quantity


@dataclass
class _Modify:
    key: str
    quantity: Decimal
    price: Decimal
    kind: str  # resized | moved | grown
    reason: str


@dataclass
class _Leg:
    spec: ExitLeg
    record: LegResult
    coid: str
    placed: bool = False
    pending: _Modify | None = None
    cancelling: bool = False
    #: what the exchange's FILLED answers (or, for an adopted exit, the journal and the exchange)
    #: say it traded: a fill_response may lag its order_response, or be lost to a kill -9
    reported: Decimal = Decimal(0)

    @property
    def filled(self) -> Decimal:
        return max(sum((f.quantity for f in self.record.fills), Decimal(0)), self.reported)

    @property
    def open(self) -> bool:
        r = self.record
        return self.placed and r.order_id is not None and r.reject is None and r.last_status in OPEN

    @property
    def traded(self) -> bool:
        """A take-profit that fired (filled, in part or whole): its level is over."""
        return self.filled > 0 or (self.record.last_status == "FILLED")


@dataclass
class _Plan:
    index: int
    order: Order
    result: OrderResult
    entry: LiveOrder
    legs: list[_Leg] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)
    last_mark: Decimal | None = None
    #: how much of the entry's fill (and of each exit's) the timeline has shown
    entry_seen: Decimal = Decimal(0)
    seen: dict[str, Decimal] = field(default_factory=dict)
    #: time rules: when the entry was acknowledged / first filled, on the exchange's clock
    acked_at: Decimal | None = None
    first_fill_at: Decimal | None = None
    entry_cancel_sent: bool = False
    close: _Leg | None = None

    @property
    def position(self) -> Position:
        assert self.result.position is not None
        return self.result.position

    @property
    def take_profits(self) -> list[_Leg]:
        return [x for x in self.legs if x.spec.level]

    @property
    def stop(self) -> _Leg | None:
        return next((x for x in self.legs if not x.spec.level), None)


class ExchangeClock:
    """The exchange's clock as the runner sees it: the latest timestamp of its frames (order updates,
    fills, market-data prices), advanced by the local monotonic time since it arrived. Time rules
    (`cancel_entry_after`, `close_after`) follow it, so a rehearsal on a sped-up local exchange
    (`sim --clock-speed`) and a live run obey the same rules."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._stamp: Decimal | None = None
        self._seen_at = 0.0

    def saw(self, stamp: Decimal | None) -> None:
        if stamp is not None and (self._stamp is None or stamp > self.now_or(stamp)):
            self._stamp, self._seen_at = stamp, self._monotonic()

    def now_or(self, default: Decimal) -> Decimal:
        if self._stamp is None:
            return default
        return self._stamp + Decimal(str(round(self._monotonic() - self._seen_at, 6)))

    def now(self) -> Decimal | None:
        return None if self._stamp is None else self.now_or(self._stamp)


def _after(start: Decimal | None, seconds: Decimal | None) -> Decimal | None:
    return start + seconds if start is not None and seconds is not None else None


def _rfc3339(text: str | None) -> Decimal | None:
    """A market-data frame's `time` (RFC 3339) as Unix seconds, or None."""
    if not text:
        return None
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return Decimal(str(moment.timestamp()))


class ExitPlans:
    """Places and keeps every exit plan of the playbook (see the module docstring)."""

    def __init__(self, playbook: Playbook, ledger: Ledger, sender: Sender, pump: EventPump, adopter: Adopter,
                 journal: JournalWriter, session: Session, timeout: float, *,
                 lots: Mapping[str, Decimal] | None = None, ticks: Mapping[str, Decimal] | None = None,
                 marks: MarkPriceSource | None = None, clock: Callable[[], float] = time.time) -> None:
        self.playbook = playbook
        self.ledger = ledger
        self.sender = sender
        self.pump = pump
        self.adopter = adopter
        self.journal = journal
        self.session = session
        self.timeout = timeout
        self.lots = dict(lots or {})
        self.ticks = dict(ticks or {})
        #: the mark price: QFEX's market-data socket (its prices carry the exchange's time too), else
        #: the positions push (runner.run.exits.PositionsMark)
        self.marks = marks
        self.fallback = PositionsMark(pump)
        self.clock = clock
        self.exchange_clock = ExchangeClock()
        self.plans: dict[str, _Plan] = {}
        self._by_order_id: dict[str, tuple[_Plan, _Leg]] = {}
        self._stepping = False
        #: `run --manage --until` ended before every plan was done
        self.deadline_reached = False

    # --- placing -------------------------------------------------------------------------------

    def place(self, index: int, order: Order, result: OrderResult, entry: LiveOrder) -> None:
        """The plan's exits for what the entry has filled (adopting what an earlier run placed), then
        everything due now; waits (bounded) for the exchange's answers to what it sent."""
        result.position = result.position or Position()
        plan = _Plan(index, order, result, entry)
        self.plans[order.id] = plan  # playbook ids are unique across orders and steps
        for spec in exit_legs(order):
            coid = self.playbook.client_order_id(order, spec.leg)
            record = LegResult(spec.name, BracketMode.AFTER_FILL.value, spec.trigger,
                               order.side.opposite.value, None, coid)
            result.legs.append(record)
            leg = _Leg(spec, record, coid)
            plan.legs.append(leg)
            self._adopt(plan, leg)
        self.step_all()
        self.settle(self.timeout)

    def _adopt(self, plan: _Plan, leg: _Leg) -> None:
        """An exit an earlier run placed: shown and managed as the exchange has it now."""
        placed = self.adopter.already_placed(leg.coid)
        if placed is None:
            return
        record = leg.record
        leg.placed = True
        record.order_id = placed.order_id
        state = self.adopter.placements.found.get(leg.coid)
        status = placed.last_status or "unknown"
        if state is not None and state.open_rows:
            row = state.open_rows[0]
            status = str(row.get("status") or "ACK") if str(row.get("status") or "") in OPEN else "ACK"
            record.trigger_price = wire_decimal(row.get("price")) or record.trigger_price
            record.quantity = wire_decimal(row.get("quantity")) or record.quantity
        elif state is not None and not state.placed:
            status = "unknown"
        elif state is not None and state.filled_quantity > 0:
            status = "FILLED"
        elif placed.cancel_reason or (state is not None and state.status == "CANCELLED"):
            status = "CANCELLED"
        record.quantity = record.quantity or self.adopter.placed_quantity(leg.coid, placed)
        # a stop's cancel reply says quantity 0, remaining 0 (QFEX's cancel page): only a FILLED answer's
        # remainder measures a fill; else the fills journaled and the trades the exchange shows
        answered = placed.filled_quantity if placed.last_status == "FILLED" else placed.fills_total
        leg.reported = max(answered, state.filled_quantity if state is not None else Decimal(0))
        record.statuses.append(StatusSeen(status, time.time(), None, "journal"))
        record.note = "placed by an earlier run; not sent again"
        add_journal_fills(record, placed)
        self.adopter.exchange_view(record, leg.coid)
        self._watch(plan, leg)

    def _watch(self, plan: _Plan, leg: _Leg) -> None:
        """Follow this exit's answers from now on (by client_order_id and by its exchange order id)."""
        if leg.coid not in self.ledger.live:
            live = LiveOrder(leg.coid, leg.record, leg.record.quantity or Decimal(0), immediate=False)
            live.answered = True
            self.ledger.live[leg.coid] = live
        order_id = leg.record.order_id
        if order_id and order_id not in self._by_order_id:
            self._by_order_id[order_id] = (plan, leg)
            # by client_order_id, like any order of ours (so its fills are journaled with their prices);
            # the session maps the stop's id to it for replies that carry no client_order_id
            self.session.expect_order_id(order_id, leg.coid)

    # --- keeping ------------------------------------------------------------------------------------

    def step_all(self) -> None:
        """Bring every exit plan to its target (called after every event while connected)."""
        if self._stepping or not self.plans:
            return
        self._stepping = True
        try:
            self.exchange_clock.saw(self.pump.exchange_time)
            for plan in self.plans.values():
                for leg in plan.legs:  # learn order ids from ACKs the pump applied
                    if leg.record.order_id and leg.record.order_id not in self._by_order_id:
                        self._watch(plan, leg)
                self.step(plan)
                self.check(plan)
        finally:
            self._stepping = False

    def step(self, plan: _Plan) -> None:
        order, result = plan.order, plan.result
        bracket = order.bracket
        assert bracket is not None
        self._sample_mark(plan)
        filled = max(result.filled_quantity, plan.entry.filled)
        self._fills_to_timeline(plan, filled)
        entry_open = not plan.entry.terminal and (plan.entry.remaining is None or plan.entry.remaining > 0) \
            and result.reject is None and result.last_status in ("ACK", "MODIFIED", None)
        self._time_rules(plan, filled, entry_open)
        if filled <= 0:
            return
        tps, stop = plan.take_profits, plan.stop
        closed = sum((x.filled for x in plan.legs), Decimal(0)) + self._closed(plan)
        open_qty = filled - closed
        if open_qty <= 0 and not entry_open:
            for leg in plan.legs:
                if leg.open:
                    self._cancel(plan, leg, "the position is flat")
            return
        if stop is not None and stop.traded:
            for leg in tps:
                if leg.open:
                    self._cancel(plan, leg, "its stop-loss filled")
            return
        sizes = level_sizes(bracket.levels, filled, self.lots.get(order.symbol))
        for leg, size in zip(tps, sizes, strict=True):
            if leg.traded or size <= 0:
                continue
            if not leg.placed:
                self._send(plan, leg, size, leg.spec.trigger)
            elif leg.open and leg.pending is None and leg.record.quantity != size:
                self._modify(plan, leg, size, leg.record.trigger_price or leg.spec.trigger, "grown",
                             f"the entry has filled {_text(filled)}: this level closes {_text(size)}")
        if stop is None or open_qty <= 0:
            return
        if not stop.placed:
            self._send(plan, stop, open_qty, stop.spec.trigger)
            return
        if not stop.open or stop.pending is not None:
            return
        current = stop.record.trigger_price or stop.spec.trigger
        price, why = self._stop_target(plan, current)
        resize = stop.record.quantity != open_qty
        if resize or price != current:
            kind = "resized" if resize else "moved"
            reasons = [f"{_text(open_qty)} of the position is open"] if resize else []
            self._modify(plan, stop, open_qty, price, kind, "; ".join([*reasons, *([why] if why else [])]))

    def _closed(self, plan: _Plan) -> Decimal:
        """What this plan's close_after order filled (it closes part of the position, as an exit does)."""
        return plan.close.filled if plan.close is not None else Decimal(0)

    def _clock_start(self, plan: _Plan, what: str, now: Decimal | None) -> Decimal | None:
        """When the entry was acknowledged / first filled, on the exchange's clock: journaled once (a
        re-run counts from the same moment), read back on a re-run."""
        key = action_key(plan.result.client_order_id, f"clock-{what}")
        known = self.journal.managed(key)
        if known is not None:
            return wire_decimal((known.get("message") or {}).get("at"))
        if now is None:
            return None
        self.journal.record_manage(key, plan.result.client_order_id, plan.result.order_id or "",
                                   f"clock-{what}", f"time rules count from here ({what})", {"at": now})
        return now

    def _time_rules(self, plan: _Plan, filled: Decimal, entry_open: bool) -> None:
        """cancel_entry_after / close_after, on the exchange's clock (see ExchangeClock)."""
        manage = plan.order.bracket.manage if plan.order.bracket else None
        if manage is None or (manage.cancel_entry_after is None and manage.close_after is None):
            return
        quote = self.marks.quote(plan.order.symbol) if self.marks is not None else None
        if quote is not None:
            self.exchange_clock.saw(_rfc3339(quote.time))
        now = self.exchange_clock.now()
        result = plan.result
        if plan.acked_at is None and result.order_id:
            plan.acked_at = self._clock_start(plan, "ack", now)
        if plan.first_fill_at is None and filled > 0:
            plan.first_fill_at = self._clock_start(plan, "fill", now)
        if now is None:
            return
        limit = manage.cancel_entry_after
        if limit is not None and entry_open and not plan.entry_cancel_sent and result.order_id:
            due = limit.at if limit.at is not None else _after(plan.acked_at, limit.seconds)
            if due is not None and now >= due:
                plan.entry_cancel_sent = True
                message = cancel_order_message(plan.order.symbol, result.order_id)
                self.journal.record_cancel(action_key(result.client_order_id, "cancel-entry"),
                                           result.client_order_id, result.order_id,
                                           f"cancel_entry_after {limit.text}", message)
                self.session.send(message)
                self._event(plan, "cancel", "entry", f"entry cancel sent: cancel_entry_after {limit.text} "
                            f"({_text(filled)} of {_text(plan.order.quantity)} filled; what filled keeps its "
                            f"exits)")
        limit = manage.close_after
        if limit is None or filled <= 0 or plan.close is not None:
            return
        due = limit.at if limit.at is not None else _after(plan.first_fill_at, limit.seconds)
        open_qty = filled - sum((x.filled for x in plan.legs), Decimal(0))
        if due is None or now < due or open_qty <= 0:
            return
        if entry_open and not plan.entry_cancel_sent and result.order_id:  # stop growing what is closed
            plan.entry_cancel_sent = True
            message = cancel_order_message(plan.order.symbol, result.order_id)
            self.journal.record_cancel(action_key(result.client_order_id, "cancel-entry"),
                                       result.client_order_id, result.order_id, f"close_after {limit.text}",
                                       message)
            self.session.send(message)
        self._close(plan, open_qty, limit.text)

    def _close(self, plan: _Plan, quantity: Decimal, text: str) -> None:
        """close_after: a reduce-only MARKET order for this plan's open quantity — not QFEX's
        close_position, which closes the account's whole position in the symbol — journaled like any
        order under its own client_order_id; the plan is then flat and its exits are cancelled."""
        order = plan.order
        coid = self.playbook.client_order_id(order, Leg.CLOSE)
        record = LegResult("close", BracketMode.AFTER_FILL.value, None, order.side.opposite.value, quantity,
                           coid)
        plan.result.legs.append(record)
        spec = ExitLeg(Leg.CLOSE, "close", OrderType.MARKET, Decimal(0), -1)
        leg = _Leg(spec, record, coid, placed=True)
        plan.close = leg
        placed = self.adopter.already_placed(coid)
        if placed is not None:  # an earlier run sent it: never again
            record.order_id = placed.order_id
            leg.reported = placed.filled_quantity
            record.statuses.append(StatusSeen(placed.last_status or "unknown", time.time(), None, "journal"))
            record.note = "placed by an earlier run; not sent again"
            add_journal_fills(record, placed)
            self.adopter.exchange_view(record, coid)
            return
        message = add_order_message(symbol=order.symbol, side=order.side.opposite,
                                    order_type=OrderType.MARKET, quantity=quantity, price=None,
                                    time_in_force="IOC", client_order_id=coid, reduce_only=True)
        self.sender.send(coid, record, message, plan.index, order.id, Leg.CLOSE, quantity, immediate=True)
        self._event(plan, "closed", "close", f"close_after {text}: reduce-only MARKET {_text(quantity)} sent "
                    f"for this plan's open quantity", quantity)

    def _stop_target(self, plan: _Plan, current: Decimal) -> tuple[Decimal, str]:
        """Where the stop should be: break-even and trailing only ever move it in the position's favour,
        and only to a trigger the market is still beyond (else it would fire at once)."""
        manage = plan.order.bracket.manage if plan.order.bracket else None
        if manage is None:
            return current, ""
        side, symbol = plan.order.side, plan.order.symbol
        tick = self.ticks.get(symbol)
        done = sum(1 for x in plan.take_profits if x.traded and x.filled >= (x.record.quantity or 0))
        mark = plan.last_mark
        best, why = current, ""
        if manage.break_even_after is not None and done >= manage.break_even_after:
            average = plan.result.average_price
            if average is not None:
                target = break_even_price(side, average, manage.break_even_offset, tick)
                if _better(side, target, best):
                    if mark is None or _beyond(side, mark, target):
                        best = target
                        why = f"break-even after take-profit {manage.break_even_after}: average entry " \
                              f"{self._px(plan, average)}"
                    else:
                        px = self._px
                        self._once(plan, "be-market", "kept", "stop_loss",
                                   f"break-even not moved: the mark {px(plan, mark)} is not beyond "
                                   f"{px(plan, target)} (the stop would fire at once); kept at "
                                   f"{px(plan, current)}")
        trail = manage.trail
        if trail is not None and mark is not None and (trail.after is None or done >= trail.after) and (
                trail.activation is None or not _better(side, trail.activation, mark)):
            target = trail_price(side, mark, trail, tick)
            if _better(side, target, best) and _beyond(side, mark, target):
                best, why = target, f"trailing the mark {self._px(plan, mark)}"
        return best, why

    # --- the messages ------------------------------------------------------------------------------

    def _send(self, plan: _Plan, leg: _Leg, quantity: Decimal, trigger: Decimal) -> None:
        order = plan.order
        message = add_order_message(symbol=order.symbol, side=order.side.opposite,
                                    order_type=leg.spec.order_type, quantity=quantity, price=trigger,
                                    time_in_force="IOC", client_order_id=leg.coid, reduce_only=True)
        leg.placed = True
        leg.record.quantity = quantity
        self.sender.send(leg.coid, leg.record, message, plan.index, order.id, leg.spec.leg, quantity,
                         immediate=False)
        self._event(plan, "placed", leg.spec.name, f"{_leg_name(leg)} placed: {order.side.opposite.value} "
                    f"{_text(quantity)} {leg.spec.order_type.value} trigger {self._px(plan, trigger)}",
                    quantity, trigger)

    def _modify(self, plan: _Plan, leg: _Leg, quantity: Decimal, price: Decimal, kind: str,
                reason: str) -> None:
        key = action_key(leg.coid, "modify", f"{quantity}@{price}")
        if key in plan.refused:
            return
        order_id = leg.record.order_id or ""
        message = modify_stop_order_message(order_id, plan.order.symbol, plan.order.side.opposite.value,
                                            leg.spec.order_type.value, price=price, quantity=quantity)
        leg.pending = _Modify(key, quantity, price, kind, reason)
        self.journal.record_manage(key, leg.coid, order_id, kind, reason, message)
        self.session.send(message)
        self.ledger.progress("leg", plan.index, plan.order.id, kind,
                             f"{_leg_name(leg)}: modify_stop_order sent ({_text(quantity)} @ "
                             f"{self._px(plan, price)})")

    def _cancel(self, plan: _Plan, leg: _Leg, reason: str) -> None:
        if leg.cancelling:
            return
        leg.cancelling = True
        order_id = leg.record.order_id or ""
        message = cancel_stop_order_message(order_id)
        self.journal.record_cancel(action_key(leg.coid, "cancel"), leg.coid, order_id, reason, message)
        self.session.send(message)
        leg.record.note = f"cancelled by the runner: {reason}"
        self._event(plan, "cancel", leg.spec.name, f"{_leg_name(leg)} cancel sent: {reason}")

    def observe(self, event: Event) -> bool:
        """The answer to a modify_stop_order of ours: applied here (a refused modify leaves the stop as
        it was, so it must not read as a rejected exit). True = consumed."""
        reply = event.reply
        if reply.kind is not ReplyKind.ORDER or not isinstance(reply.body, OrderUpdate):
            return False
        update = reply.body
        found = self._by_order_id.get(update.order_id or "")
        if found is None:
            return False
        plan, leg = found
        remaining = update.quantity_remaining
        if update.status == "FILLED" and update.quantity is not None and remaining is not None:
            leg.reported = max(leg.reported, update.quantity - remaining)
        pending = leg.pending
        if update.status.startswith("CANCELLED") and leg.cancelling and leg.open:
            self._event(plan, "cancelled", leg.spec.name, f"{_leg_name(leg)} cancelled",
                        at=event.received_at)
        if pending is None or update.status in ("FILLED", "ACK") or update.status.startswith("CANCELLED"):
            return False  # the pump applies it to the exit's record
        self.journal.record_answer(leg.coid, update.raw)
        leg.pending = None
        at = event.received_at
        if update.status == "MODIFIED":
            was_qty, was_price = leg.record.quantity, leg.record.trigger_price
            leg.record.quantity, leg.record.trigger_price = pending.quantity, pending.price
            live = self.ledger.live.get(leg.coid)
            if live is not None:  # the exit's answers are judged against its quantity as modified
                live.quantity = pending.quantity
            leg.record.statuses.append(StatusSeen("MODIFIED", at, None))
            what = []
            if was_qty != pending.quantity:
                what.append(f"resized {_text(was_qty)} -> {_text(pending.quantity)}")
            if was_price != pending.price:
                what.append(f"moved {self._px(plan, was_price)} -> {self._px(plan, pending.price)}")
            self._event(plan, pending.kind, leg.spec.name, f"{_leg_name(leg)} {' and '.join(what)}: "
                        f"{pending.reason}", pending.quantity, pending.price, at)
        else:
            plan.refused.add(pending.key)
            self._event(plan, "refused", leg.spec.name, f"{_leg_name(leg)} {pending.kind} refused by the "
                        f"exchange ({update.status}: {update.meaning}); left as it was", pending.quantity,
                        pending.price, at)
            self.ledger.warnings.append(f"order {plan.order.id!r}: modify_stop_order of its {_leg_name(leg)} "
                                        f"was refused ({update.status}); it is as it was")
        self.step_all()
        return True

    def after_reconnect(self) -> None:
        """The connection dropped and came back (the catch-up replayed what was missed): a modify or
        cancel whose answer was lost is sent again — absolute targets, so a second one changes
        nothing if the first went through — once the next event (or tick of --manage) steps."""
        for plan in self.plans.values():
            for leg in plan.legs:
                if leg.pending is not None:
                    self._event(plan, "kept", leg.spec.name, f"{_leg_name(leg)}: the answer to its "
                                f"{leg.pending.kind} was lost with the connection; it is checked again")
                    leg.pending = None
                if leg.cancelling and leg.open:
                    leg.cancelling = False

    # --- run --manage -------------------------------------------------------------------------------

    def done(self, plan: _Plan) -> bool:
        """Nothing left to manage: the entry no longer works and no exit of the plan is live."""
        entry_working = plan.result.reject is None and not plan.entry.terminal \
            and plan.result.last_status in ("ACK", "MODIFIED") \
            and not (plan.entry.remaining is not None and plan.entry.remaining <= 0)
        busy = any(x.open or x.pending is not None or (x.placed and not self._answered(x)) for x in plan.legs)
        return not entry_working and not busy

    def manage(self, until: float | None) -> None:
        """`run --manage`: stay connected and keep every exit plan until each is done (flat, nothing
        live) or `until` (epoch seconds, then the exits stay at the exchange, sized right, and the
        report says what is left). The mark comes with the positions push (subscribed here)."""
        if not self.plans:
            return
        from runner.enums import Channel
        from runner.errors import RunnerError

        try:
            self.session.subscribe([Channel.POSITIONS], timeout=min(self.timeout, 5.0))
        except RunnerError as exc:
            self.ledger.warnings.append(f"could not subscribe to positions ({exc}): no mark price, so "
                                        f"break-even is not checked against the market and trailing waits")
        self.ledger.progress("leg", -1, "exit plans", "managing",
                             f"managing {len(self.plans)} exit plan(s) until flat"
                             + ("" if until is None else " or --until"))
        while not all(self.done(p) for p in self.plans.values()):
            remaining = None if until is None else until - self.clock()
            if remaining is not None and remaining <= 0:
                self.deadline_reached = True
                break
            self.pump.pump(lambda: all(self.done(p) for p in self.plans.values()),
                           1.0 if remaining is None else min(remaining, 1.0))
            self.step_all()  # the mark moves with the positions push, which is no order event
        self.settle(self.timeout)

    def left_live(self) -> list[str]:
        """One line per plan still live at the end of the run (what is left at the exchange)."""
        lines = []
        for plan in self.plans.values():
            live = [x for x in plan.legs if x.open]
            if not live and self.done(plan):
                continue
            parts = [f"{_leg_name(x)} {_text(x.record.quantity)} @ {self._px(plan, x.record.trigger_price)}"
                     for x in live]
            working = plan.result.last_status in ("ACK", "MODIFIED") and not plan.entry.terminal
            entry = "entry still working; " if working else ""
            lines.append(f"order {plan.order.id!r}: {entry}{', '.join(parts) or 'no exit placed yet'} live "
                         f"at the exchange (open position {_text(plan.position.open_quantity)})")
        return lines

    def settle(self, timeout: float) -> None:
        """Wait (bounded) until every exit sent is answered and no modify or cancel is in flight."""
        def quiet() -> bool:
            for plan in self.plans.values():
                for leg in plan.legs:
                    live = self.ledger.live.get(leg.coid)
                    if leg.placed and live is not None and not live.answered:
                        return False
                    if leg.pending is not None or (leg.cancelling and leg.open):
                        return False
            return True

        self.pump.pump(quiet, timeout)

    # --- the invariants, after every event ---------------------------------------------------------

    def check(self, plan: _Plan) -> None:
        """The invariants after an event has been applied and answered: no stop above the plan's open
        position, the open take-profits together not above it, no exit that flipped it, nothing open
        on a flat plan. A breach is recorded once (the report says so); None means they held."""
        position = plan.position
        filled = max(plan.result.filled_quantity, plan.entry.filled)
        open_qty = filled - sum((x.filled for x in plan.legs), Decimal(0)) - self._closed(plan)
        position.open_quantity = open_qty
        if any(x.pending is not None or (x.cancelling and x.open) for x in plan.legs) or \
                any(x.placed and not self._answered(x) for x in plan.legs):
            return  # an action is on its way: judged once it is answered
        position.checks += 1
        breach = None
        live = [x for x in plan.legs if x.open]
        entry_open = plan.result.last_status in ("ACK", "MODIFIED") and not plan.entry.terminal
        if open_qty < 0:
            breach = (f"the exits filled {_text(filled - open_qty)}, more than the entry's {_text(filled)}: "
                      f"the position flipped")
        elif open_qty == 0 and live and not entry_open:
            breach = f"{', '.join(_leg_name(x) for x in live)} still live on a flat position"
        else:
            stop = plan.stop
            if stop is not None and stop.open and (stop.record.quantity or 0) > open_qty:
                breach = (f"the stop-loss ({_text(stop.record.quantity)}) exceeds the open position "
                          f"({_text(open_qty)})")
            tps = sum((x.record.quantity or Decimal(0) for x in live if x.spec.level), Decimal(0))
            if tps > open_qty:
                breach = breach or f"the open take-profits ({_text(tps)}) exceed the open position " \
                                   f"({_text(open_qty)})"
        if breach and position.breach is None:
            position.breach = breach
            self._event(plan, "invariant", "entry", f"invariant broken: {breach}")

    def _answered(self, leg: _Leg) -> bool:
        live = self.ledger.live.get(leg.coid)
        return live is None or live.answered

    # --- the timeline -----------------------------------------------------------------------------

    def _event(self, plan: _Plan, kind: str, leg: str, text: str, quantity: Decimal | None = None,
               price: Decimal | None = None, at: float | None = None) -> None:
        moment = at if at is not None else self.clock()
        plan.position.timeline.append(TimelineEvent(moment, kind, leg, text, quantity, price))
        self.ledger.progress("leg", plan.index, plan.order.id, kind, text)

    def _fills_to_timeline(self, plan: _Plan, filled: Decimal) -> None:
        """Every new fill of the entry and of each exit, once, in the timeline."""
        result = plan.result
        average = result.average_price
        at_price = f" @ {self._px(plan, average)}" if average is not None else ""
        text = f"entry {plan.order.side.value} filled {_text(filled)} of {_text(plan.order.quantity)}" \
               f"{at_price}"
        if filled > plan.entry_seen:
            at = max((f.at for f in result.fills), default=self.clock())
            self._event(plan, "entry_fill", "entry", text, filled, average, at)
            plan.entry_seen = filled
        elif average is not None:
            self._amend(plan, "entry_fill", "entry", average, text)
        for leg in plan.legs:
            done = leg.filled
            fills = leg.record.fills
            priced = [f for f in fills if f.price is not None]
            price = (sum((f.price * f.quantity for f in priced if f.price is not None), Decimal(0))
                     / sum((f.quantity for f in priced), Decimal(0))) if priced else None
            whole = leg.record.quantity  # a partial fill says how far it got
            of = f" of {_text(whole)}" if whole is not None and done < whole else ""
            at_price = f" @ {self._px(plan, price)}" if price else ""
            text = f"{_leg_name(leg)} filled {_text(done)}{of}{at_price}"
            if done > plan.seen.get(leg.coid, Decimal(0)):
                at = max((f.at for f in fills), default=self.clock())
                self._event(plan, "filled", leg.spec.name, text, done, price, at)
                plan.seen[leg.coid] = done
            elif price is not None:
                self._amend(plan, "filled", leg.spec.name, price, text)

    @staticmethod
    def _amend(plan: _Plan, kind: str, leg: str, price: Decimal, text: str) -> None:
        """A fill's price came after the FILLED answer that put it in the timeline: complete that line."""
        for event in reversed(plan.position.timeline):
            if event.kind == kind and event.leg == leg:
                if event.price is None:
                    event.price, event.text = price, text
                break

    def finish(self) -> None:
        """At the end of the run: each plan's realised P&L of what closed, with fees (exact)."""
        for plan in self.plans.values():
            self.check(plan)
            result, position = plan.result, plan.position
            position.timeline.sort(key=lambda e: e.at)  # stable: same-moment events keep their order
            average = result.average_price
            closing = [*plan.legs, *([plan.close] if plan.close is not None else [])]
            closed = [f for x in closing for f in x.record.fills]
            fees = [f.fee for f in [*result.fills, *closed] if f.fee is not None]
            position.fees = sum(fees, Decimal(0)) if fees else None
            traded = sum((x.filled for x in closing), Decimal(0))
            if not closed and not traded and average is not None:  # nothing closed yet: the fees paid
                position.realised_pnl = -(position.fees or Decimal(0))
                continue
            if average is None or not closed or any(f.price is None for f in closed) \
                    or sum((f.quantity for f in closed), Decimal(0)) < traded:
                continue  # a fill's price is unknown (lost to a kill, say): no P&L rather than a wrong one
            sign = 1 if plan.order.side is Side.BUY else -1
            gross = sum(((f.price - average) * f.quantity * sign for f in closed if f.price is not None),
                        Decimal(0))
            position.realised_pnl = gross - (position.fees or 0)

    def _px(self, plan: _Plan, value: Decimal | None) -> str:
        """A price as traders read it: at the symbol's tick decimals when known (225.00; an average
        rounded to them for display only), else its canonical text."""
        tick = self.ticks.get(plan.order.symbol)
        if value is None or tick is None:
            return _text(value)
        exponent = tick.normalize().as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
        return format(value.quantize(Decimal(1).scaleb(-places)), "f")

    def judged(self) -> None:
        """After the final verdicts: an entry the plan itself cancelled (cancel_entry_after, close_after)
        did what the playbook asked — it is not "ended by the exchange"."""
        from runner.report import Outcome

        for plan in self.plans.values():
            result = plan.result
            if plan.entry_cancel_sent and result.outcome is Outcome.FAILED and result.reject is None \
                    and result.last_status in ("CANCELLED", "FILLED"):
                limit = plan.order.bracket.manage if plan.order.bracket else None
                rule = ("cancel_entry_after " + limit.cancel_entry_after.text
                        if limit is not None and limit.cancel_entry_after is not None else "close_after")
                result.outcome = Outcome.PASSED
                result.end_state = f"cancelled by the runner ({rule})"
                done = _text(result.filled_quantity)
                result.verdict = f"accepted; cancelled by the runner ({rule}) with {done} of " \
                                 f"{_text(result.quantity)} filled"

    def _once(self, plan: _Plan, key: str, kind: str, leg: str, text: str) -> None:
        if key not in plan.notes:
            plan.notes.add(key)
            self._event(plan, kind, leg, text)

    def _sample_mark(self, plan: _Plan) -> None:
        feed = self.marks.latest(plan.order.symbol) if self.marks is not None else None
        mark = feed or self.fallback.latest(plan.order.symbol)
        if mark is None or mark == plan.last_mark:
            return
        plan.last_mark = mark
        marks = plan.position.marks
        if len(marks) < MAX_MARKS:
            marks.append((self.clock(), mark))


def _better(side: Side, candidate: Decimal, current: Decimal) -> bool:
    """Is `candidate` a stop trigger further in the position's favour than `current`?"""
    return candidate > current if side is Side.BUY else candidate < current


def _beyond(side: Side, mark: Decimal, trigger: Decimal) -> bool:
    """Is the market still beyond `trigger` (a long's stop below the mark, a short's above)?"""
    return mark > trigger if side is Side.BUY else mark < trigger


def _text(value: Decimal | None) -> str:
    """A quantity or price in its canonical text (10.0 from the wire reads 10); prices go through
    `ExitPlans._price` first so they read at the tick (225.00)."""
    return "?" if value is None else number_text(value)


def _leg_name(leg: _Leg) -> str:
    if leg.spec.level:
        return f"take-profit {leg.spec.level}"
    return "stop-loss"
