"""What the runner knows about each order it sent, and the verdict against the playbook's `expect`.

`LiveOrder` folds the exchange's answers for one client_order_id (statuses, fills, remainder) into
"answered / over / settled"; `judge` turns that into passed/failed with a reason a trader can read,
or None while it cannot be known yet. Pure: no I/O, time passed in.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from runner.enums import CANCELLED_STATUSES, OrderType, TimeInForce
from runner.exchange.protocol import ErrorReply
from runner.playbook.ids import Leg
from runner.playbook.model import Expect, Order
from runner.report import LegResult, OrderResult, Outcome

#: after an IOC/FOK/MARKET order reports a partial FILLED, how long further fills may still arrive
#: (one aggressive order can sweep several levels; QFEX sends one FILLED per execution)
IOC_SETTLE_S = 0.25
#: fills are reported on their own channel; once an order is over, how long its fill details may lag
FILL_DETAIL_GRACE_S = 0.5

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
        self.answered = False
        self.terminal = False
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

    def note_anomaly(self, text: str) -> bool:
        """Remember an impossible answer (once per text, the first few); True if it is new."""
        if text in self.anomalies or len(self.anomalies) >= 10:
            return False
        self.anomalies.append(text)
        return True

    @property
    def rejected(self) -> bool:
        return self.record.reject is not None

    @property
    def filled_by_fills(self) -> Decimal:
        return sum((f.quantity for f in self.record.fills), Decimal(0))

    @property
    def filled(self) -> Decimal:
        from_remaining = self.quantity - self.remaining if self.remaining is not None else Decimal(0)
        return max(self.filled_by_fills, from_remaining, Decimal(0))

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
        return None


def is_immediate(order: Order) -> bool:
    if order.type is OrderType.MARKET:
        return True
    return not order.type.is_stop and order.time_in_force.value in _IMMEDIATE_TIF


def _q(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def judge(order: Order, result: OrderResult, live: LiveOrder, *, final: bool, timeout: float,
           now: float | None = None) -> tuple[Outcome, str] | None:
    """The verdict on one order against its `expect`, or None while it cannot be known yet."""
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
                        for x in result.legs if x.reject is not None), None)
    if order.expect is Expect.REJECTED:
        if reject is not None:
            return Outcome.PASSED, f"rejected as expected: {reject.code} ({reject.meaning})"
        live_note = f" (order_id {result.order_id} is live on the exchange)" if not live.over(now) else ""
        return Outcome.FAILED, (f"expected a rejection, but the exchange accepted it ({result.last_status})"
                                f"{live_note}")
    if reject is not None:
        text = f"rejected: {reject.code} ({reject.meaning})"
        if reject.message:
            text += f": {reject.message}"
        return Outcome.FAILED, text
    if leg_problem:
        return Outcome.FAILED, f"entry accepted, but the {leg_problem}"
    if order.expect is Expect.ACCEPTED:
        if live.terminal and filled == 0 and result.last_status in CANCELLED_STATUSES:
            return Outcome.PASSED, f"accepted; ended {result.last_status} without a fill"
        if filled >= quantity:
            return Outcome.PASSED, "accepted and filled"
        if filled > 0:
            return Outcome.PASSED, f"accepted; {_q(filled)} of {_q(quantity)} filled"
        first = next((x.status for x in result.statuses if x.source == "order_response"), "ACK")
        return Outcome.PASSED, f"accepted ({first})"
    # Expect.FILLED
    if filled >= quantity:
        return Outcome.PASSED, "filled"
    if live.over(now):
        if filled > 0:
            return Outcome.FAILED, (f"only partially filled: {_q(filled)} of {_q(quantity)}; "
                                    f"the rest ended {result.last_status}")
        return Outcome.FAILED, f"not filled: ended {result.last_status}"
    if not final:
        return None
    return Outcome.FAILED, (f"not filled within the {timeout:g}s wait: "
                            f"{_q(filled)} of {_q(quantity)} filled, the order is still open")
