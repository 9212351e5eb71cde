"""What the runner knows about each order it sent, and the verdict against the playbook's `expect`.

`LiveOrder` folds the exchange's answers for one client_order_id (statuses, fills, remainder) into
"answered / over / settled"; `judge` turns that into passed/failed with a reason a trader can read,
or None while it cannot be known yet. Pure: no I/O, time passed in.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

from runner.enums import CANCELLED_STATUSES, OrderType, TimeInForce
from runner.exchange.protocol import ErrorReply
from runner.playbook.ids import Leg
from runner.playbook.model import Expect, Order
from runner.report import LegResult, OrderResult, Outcome, Reject
from runner.words import number_text, shown

#: after an IOC/FOK/MARKET order reports a partial FILLED, how long further fills may still arrive
#: (one aggressive order can sweep several levels; QFEX sends one FILLED per execution)
IOC_SETTLE_S = 0.25
#: fills are reported on their own channel; once an order is over, how long its fill details may lag
FILL_DETAIL_GRACE_S = 0.5
#: QFEX holds new limit orders 100 ms before they reach the book (qfex-api.md §7): an IOC that cannot
#: fill, a killed FOK or a crossing ALO is cancelled that long after its ACK. An order meant to rest
#: that is still not cancelled this long after its ACK (speed bump + a margin for the wire) rests.
RESTING_EVIDENCE_S = 0.1 + 0.15

_IMMEDIATE_TIF = frozenset({TimeInForce.IOC.value, TimeInForce.FOK.value})

#: what a refused send needs to go again: the message, its order's index and id, and the leg
Resend = tuple[dict[str, Any], int, str, Leg]


class LiveOrder:
    """What we know so far about one client_order_id we sent (an entry or an after_fill leg)."""

    def __init__(self, coid: str, record: OrderResult | LegResult, quantity: Decimal,
                 immediate: bool) -> None:
        self.coid = coid
        self.record = record
        self.quantity = quantity
        self.immediate = immediate  # IOC/FOK/MARKET: never rests
        self.answered_mono: float | None = None  # monotonic time of the first answer
        self.terminal = False
        #: one `get_user_orders` snapshot at the end of the run: open there (True), absent (False)
        self.open_at_end: bool | None = None
        self.partial_at: float | None = None  # monotonic time of a partial FILLED of an immediate order
        self.done_at: float | None = None  # monotonic time it was known to be over (terminal/fully filled)
        self.remaining: Decimal | None = None
        self.error: ErrorReply | None = None
        #: what to send again after a retryable `err` (RateLimited, ServerError): nothing was placed
        self.resend: Resend | None = None
        self.retry_at: float | None = None
        self.retries = 0
        #: what the exchange said about it that cannot be right (NaN, overfills, negative remainders):
        #: its outcome is then unknown, whatever else was said, and nothing is sized from its fills
        self.anomalies: list[str] = []
        #: the playbook step that cancelled it on purpose (`step: cancel`, flatten): its CANCELLED is then
        #: the intent, not the exchange ending an order meant to rest
        self.cancelled_by: str | None = None
        #: answers applied to it so far (the event pump counts them): an undecided verdict is asked
        #: again only when this moved or the clock can decide it (`undecided_until`)
        self.changes = 0
        #: `filled` for the fills and remainder it was last computed from (judging asks it often)
        self._filled_for: tuple[int, Decimal | None] | None = None
        self._filled = Decimal(0)

    def note_anomaly(self, text: str) -> bool:
        """Remember an impossible answer (once per text, the first few); True if it is new."""
        if text in self.anomalies or len(self.anomalies) >= 10:
            return False
        self.anomalies.append(text)
        return True

    @property
    def answered(self) -> bool:
        return self.answered_mono is not None

    @answered.setter
    def answered(self, value: bool) -> None:
        if value and self.answered_mono is None:
            self.answered_mono = time.monotonic()
        elif not value:
            self.answered_mono = None

    @property
    def rejected(self) -> bool:
        return self.record.reject is not None

    @property
    def filled_by_fills(self) -> Decimal:
        return sum((f.quantity for f in self.record.fills), Decimal(0))

    @property
    def filled(self) -> Decimal:
        key = (len(self.record.fills), self.remaining)  # fills are only ever appended
        if key != self._filled_for:
            from_remaining = self.quantity - self.remaining if self.remaining is not None else Decimal(0)
            self._filled = max(self.filled_by_fills, from_remaining, Decimal(0))
            self._filled_for = key
        return self._filled

    @property
    def fully_filled(self) -> bool:
        return self.filled >= self.quantity

    def mark_done(self) -> None:
        if self.done_at is None:
            self.done_at = time.monotonic()

    def over(self, now: float) -> bool:
        """The exchange is done with it: rejected, cancelled, fully filled, an IOC past its fills, or its
        answers are impossible (waiting longer cannot make them right)."""
        if self.terminal or self.fully_filled or self.anomalies:
            return True
        return self.partial_at is not None and now - self.partial_at >= IOC_SETTLE_S

    def undecided_until(self) -> float:
        """The monotonic time at which the clock alone may decide it (an IOC's fills settle, a resting
        order's speed bump passes); infinity when only a new answer can."""
        times = [math.inf]
        if self.partial_at is not None:
            times.append(self.partial_at + IOC_SETTLE_S)
        if self.rests() and self.answered_mono is not None:
            times.append(self.answered_mono + RESTING_EVIDENCE_S)
        return min(times)

    def rests(self) -> bool:
        """Meant to rest on the book (GTC LIMIT/ALO, stops), as opposed to IOC/FOK/MARKET."""
        return not self.immediate

    def end_known(self, now: float) -> bool:
        """Its end state can be judged: over, or (meant to rest) seen live after the speed bump."""
        if self.over(now) or self.open_at_end is not None:
            return True
        return self.rests() and self.answered_mono is not None \
            and now - self.answered_mono >= RESTING_EVIDENCE_S

    def settled(self, now: float) -> bool:
        """Over, and its fill details (price, fee) arrived too — or stopped being worth waiting for."""
        if not self.over(now):
            return False
        if self.filled_by_fills >= self.filled:
            return True
        self.mark_done()
        return now - (self.done_at or now) >= FILL_DETAIL_GRACE_S

    def next_deadline(self) -> float | None:
        """When `settled` may change by itself (monotonic), for the event pump's timeout."""
        if self.partial_at is not None and not self.terminal and not self.fully_filled:
            return self.partial_at + IOC_SETTLE_S
        if self.done_at is not None and self.filled_by_fills < self.filled:
            return self.done_at + FILL_DETAIL_GRACE_S
        if self.rests() and self.answered_mono is not None and not self.terminal and self.open_at_end is None:
            return self.answered_mono + RESTING_EVIDENCE_S
        return None


#: how the journal says a playbook step cancelled an order on purpose (`Journal.record_cancel`'s reason)
_STEP_CANCEL = "cancelled by step "


def step_cancel_reason(step_id: str) -> str:
    return f"{_STEP_CANCEL}{step_id}"


def cancelled_by_step(reason: str | None) -> str | None:
    """The step id in a journaled cancel reason written by `step_cancel_reason` (else None)."""
    return reason[len(_STEP_CANCEL):] if reason and reason.startswith(_STEP_CANCEL) else None


def is_immediate(order: Order) -> bool:
    if order.type is OrderType.MARKET:
        return True
    return not order.type.is_stop and order.time_in_force.value in _IMMEDIATE_TIF


def ends_after_ack(order: Order) -> bool:
    """Can the exchange still end it after its ACK, unasked? IOC/FOK/MARKET and a crossing ALO can."""
    return is_immediate(order) or order.type is OrderType.ALO


def end_state(order: Order, result: OrderResult, live: LiveOrder) -> str:
    """What became of the order, in QFEX's terms for its type: "IOC: rest cancelled, 0.3 of 1 filled"."""
    if result.reject is not None:
        return f"rejected: {result.reject.code}"
    filled, quantity = live.filled, live.quantity
    cancelled = live.terminal and result.last_status in CANCELLED_STATUSES
    if order.type is OrderType.MARKET or (live.immediate and order.time_in_force is TimeInForce.IOC):
        kind = "MARKET" if order.type is OrderType.MARKET else "IOC"
        if filled >= quantity:
            return f"{kind}: filled"
        if filled > 0:
            return f"{kind}: rest cancelled, {_part(filled, quantity)}" if live.over(time.monotonic()) \
                else f"{kind}: {_part(filled, quantity)} so far"
        return f"{kind}: nothing filled, cancelled" if cancelled else f"{kind}: no end status seen"
    if live.immediate:  # FOK
        if filled >= quantity:
            return "FOK: filled"
        return "FOK: killed (could not fill completely), cancelled" if cancelled \
            else "FOK: no end status seen"
    if order.type.is_stop:
        if filled >= quantity:
            return f"{order.type.value}: triggered and filled"
        if cancelled:
            after = f" after {_part(filled, quantity)}" if filled else ""
            return f"{order.type.value}: cancelled by the exchange{after}"
        if live.open_at_end is False:
            return f"{order.type.value}: not open at the exchange at run end, no end status seen"
        return f"{order.type.value}: staged, live at run end (triggers at {shown(order.price)})"
    if filled >= quantity:
        return "filled"
    if cancelled:
        if order.type is OrderType.ALO and filled == 0:
            return "ALO would have crossed: cancelled"
        return "cancelled by the exchange" + (f" after {_part(filled, quantity)}" if filled else "")
    if live.open_at_end is False:
        return "not open at the exchange at run end, and no end status was seen"
    if live.open_at_end is None and not live.end_known(time.monotonic()):
        return f"ACK; not confirmed live at run end ({_part(filled, quantity)})"
    return f"resting, {_part(filled, quantity)}, live at run end" if filled else "resting, live at run end"


def _part(filled: Decimal, quantity: Decimal) -> str:
    """"0.3 of 1 filled": written only where `end_state` shows it (most orders, resting or filled
    whole, never do, and the two numbers' text cost 1 of the verdict's 3.5 µs)."""
    return f"{number_text(filled)} of {number_text(quantity)} filled"


def reject_text(reject: Reject) -> str:
    """A rejection as QFEX's docs put it: status, meaning, the exchange's message, what to change."""
    text = f"rejected: {reject.code} — {reject.meaning}"
    if reject.message:
        text += f"; the exchange said: {reject.message}"
    advice = REJECT_ADVICE.get(reject.code)
    return f"{text}; {advice}" if advice else text


#: what to change in the playbook (or the account) for each documented rejection
REJECT_ADVICE = {
    "FAILED_MARGIN_CHECK": "lower the quantity or price, add margin, or raise the leverage",
    "INVALID_TICK_SIZE_PRECISION_PRICE": "round the price to the symbol's tick size",
    "INVALID_TICK_SIZE_PRECISION_QUANTITY": "round the quantity to the symbol's lot size",
    "QUANTITY_LESS_THAN_MIN_QUANTITY": "raise the quantity to the symbol's minimum",
    "QUANTITY_GREATER_THAN_MAX_QUANTITY": "lower the quantity to the symbol's maximum (or split the order)",
    "PRICE_LESS_THAN_MIN_PRICE": "raise the price into the symbol's price band",
    "PRICE_GREATER_THAN_MAX_PRICE": "lower the price into the symbol's price band",
    "REJECTED_GREATER_THAN_MAX_PRICE_BAND": "move the price into the symbol's price band",
    "REJECTED_LESS_THAN_MIN_PRICE_BAND": "move the price into the symbol's price band",
    "INVALID_TIME_IN_FORCE": "use a time_in_force QFEX allows for this type (README: order types)",
    "INVALID_ORDER_TYPE": "use an order type the symbol lists",
    "BAD_SYMBOL": "check the symbol against the exchange's reference data",
    "REJECTED_MARKET_CLOSED": "send it during market hours",
    "REJECTED_WOULD_BREACH_MAX_POSITION": "lower the quantity: the position would exceed its maximum",
    "REJECTED_WOULD_BREACH_MAX_NOTIONAL": "lower the quantity or price (the maximum notional)",
    "INVALID_TAKEPROFIT_PRICE": "put the take-profit on the profit side of the entry price",
    "INVALID_STOPLOSS_PRICE": "put the stop-loss on the loss side of the entry price",
    "REJECTED_TOO_MANY_OPEN_ORDERS": "cancel open orders first",
    "REJECTED_OPEN_INTEREST_LIMIT": "lower the quantity: the market's open-interest cap is reached",
    "REJECTED": "QFEX gives no reason for this status; check the account and the order against qfex-api.md",
    "InvalidOrder": "the message was malformed: check the order's fields",
    "InvalidParameter": "a field was missing or out of range: check the order's fields",
    "PermissionDenied": "the key lacks trading permission",
}


def judge(order: Order, result: OrderResult, live: LiveOrder, *, final: bool, timeout: float,
          now: float | None = None) -> tuple[Outcome, str] | None:
    """The verdict on one order against its `expect`, on its end state; None while that is not known.

    `final`: the run is over (or this order's wait is): judge with what is known.
    """
    now = time.monotonic() if now is None else now
    if not live.answered:
        return (Outcome.UNKNOWN, "sent, but no answer arrived") if final else None
    if live.anomalies:
        return Outcome.UNKNOWN, ("outcome unknown: the exchange's answers cannot be right ("
                                 + "; ".join(live.anomalies[:3])
                                 + (f"; {len(live.anomalies) - 3} more" if len(live.anomalies) > 3 else "")
                                 + "); check the order on the exchange")
    reject = result.reject
    filled, quantity = live.filled, live.quantity
    leg_problem = next((f"{x.leg.replace('_', '-')} leg rejected: {x.reject.code} ({x.reject.meaning})"
                        for x in result.legs if x.reject is not None), None) if result.legs else None
    if reject is not None:
        result.end_state = end_state(order, result, live)
    if order.expect is Expect.REJECTED:
        if reject is not None:
            wanted = order.expect_statuses
            if wanted and reject.code not in wanted:
                return Outcome.FAILED, (f"expected a rejection with {' or '.join(wanted)}, but got "
                                        f"{reject_text(reject)}")
            return Outcome.PASSED, f"rejected as expected: {reject.code} ({reject.meaning})"
        live_note = f" (order_id {result.order_id} is live on the exchange)" if not live.over(now) else ""
        return Outcome.FAILED, (f"expected a rejection, but the exchange accepted it ({result.last_status})"
                                f"{live_note}")
    if reject is not None:
        return Outcome.FAILED, reject_text(reject)
    if leg_problem:
        return Outcome.FAILED, f"entry accepted, but the {leg_problem}"
    known = live.end_known(now)
    if not known and not final and not (order.expect is Expect.FILLED and filled >= quantity):
        return None
    state = end_state(order, result, live)
    result.end_state = state
    if order.expect is Expect.FILLED:
        if filled >= quantity:
            return Outcome.PASSED, "filled"
        if live.over(now):
            if filled > 0:
                return Outcome.FAILED, (f"only partially filled: {number_text(filled)} of "
                                        f"{number_text(quantity)}; the rest ended {result.last_status} "
                                        f"({state})")
            return Outcome.FAILED, f"not filled: {state}"
        if live.immediate and final:
            return Outcome.UNKNOWN, f"not filled: no end status arrived within {timeout:g}s ({state})"
        return Outcome.FAILED, (f"not filled within the {timeout:g}s wait: "
                                f"{number_text(filled)} of {number_text(quantity)} filled, "
                                "the order is still open")
    # Expect.ACCEPTED: the exchange took it; an order meant to rest must be live (or filled) at the end
    if live.immediate:
        if not live.over(now):
            return Outcome.UNKNOWN, f"accepted, but no end status arrived within {timeout:g}s ({state})"
        return Outcome.PASSED, f"accepted and processed: {state}"
    if filled >= quantity:
        return Outcome.PASSED, "accepted and filled"
    if live.terminal and live.cancelled_by is not None and result.last_status in CANCELLED_STATUSES:
        part = f" after {number_text(filled)} of {number_text(quantity)} filled" if filled else ""
        result.end_state = f"cancelled by step {live.cancelled_by!r}{part}"
        return Outcome.PASSED, (f"accepted; then cancelled by step {live.cancelled_by!r} as the playbook "
                                f"says{part}")
    if live.terminal:
        return Outcome.FAILED, (f"{state} after its ACK: an order meant to rest was ended by the "
                                f"exchange ({result.last_status})")
    if live.open_at_end is False:
        return Outcome.UNKNOWN, f"accepted, but {state}"
    if not known and order.type is OrderType.ALO:
        return Outcome.UNKNOWN, ("accepted, but the run ended before the speed bump passed: whether the "
                                 "ALO crossed (QFEX then cancels it) is not known")
    if not known:  # a GTC LIMIT or a stop is not cancelled by the speed bump: its ACK says it rests
        return Outcome.PASSED, "accepted (ACK); the run ended before a snapshot could confirm it is live"
    return Outcome.PASSED, f"accepted; {state}"
