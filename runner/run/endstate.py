"""Before the run ends, every sent order reaches a judgeable end state.

QFEX holds new limit orders 100 ms (the speed bump) before they reach the book, and answers ACK at
once: an IOC that cannot fill, a killed FOK or a crossing ALO is CANCELLED *after* its ACK. A run
that ends at the last ACK would call all of them "accepted / resting". So the end of a run waits
for terminal evidence on the stream (IOC/FOK/MARKET: their end status; orders meant to rest: no
cancel within the speed bump), then takes one paced `get_user_orders` snapshot to confirm that
every order meant to rest is still live (`LiveOrder.open_at_end`), as the exchange has it.
"""

from __future__ import annotations

import time
from decimal import Decimal

from runner.errors import RunnerError
from runner.exchange.protocol import (
    ErrorReply,
    ReplyKind,
    all_orders,
    get_user_orders_message,
    get_user_trades_message,
    user_trades,
    wire_decimal,
)
from runner.exchange.session import Session
from runner.report import OrderResult, Outcome
from runner.run.events import EventPump
from runner.run.ledger import Ledger
from runner.run.verdict import LiveOrder

#: after a snapshot did not list an order, how long its end status may still be on the wire
ABSENT_GRACE_S = 0.5
#: QFEX's page size: a full page may hide our orders on a later one (then absence proves nothing)
SNAPSHOT_LIMIT = 1000


class EndStates:
    """Waits for every sent entry's end state and confirms the resting ones with one snapshot."""

    def __init__(self, session: Session, ledger: Ledger, pump: EventPump) -> None:
        self.session = session
        self.ledger = ledger
        self.pump = pump

    def _pending(self, candidates: list[LiveOrder]) -> list[LiveOrder]:
        """Entries sent by this run, answered and taken, whose end state is not known yet: among
        `_candidates()` (an order that had ended then never is), not every order of the run again."""
        now = time.monotonic()
        out = []
        for live in candidates:
            if not live.answered or live.rejected or live.terminal or live.fully_filled:
                continue
            if live.open_at_end is None or not live.end_known(now):  # (the cheap test first)
                out.append(live)
        return out

    def _candidates(self) -> list[LiveOrder]:
        """Entries sent by this run whose end may still be unknown: `_pending()` now, and the
        unanswered ones (pending as soon as an answer comes)."""
        out = []
        for result in self.ledger.results:
            live = self.ledger.live.get(result.client_order_id)
            if live is not None and not (live.rejected or live.terminal or live.fully_filled):
                out.append(live)
        return out

    def settle(self, timeout: float) -> None:
        """Wait (up to `timeout`) for end states, then confirm the resting orders with one snapshot."""
        now = time.monotonic()
        candidates = self._candidates()
        self.pump.pump(_AllEndsKnown(candidates), timeout)
        resting = [x for x in self._pending(candidates) if x.rests() and not x.over(now)]
        if not resting:
            return
        try:
            reply = self.session.request(get_user_orders_message(SNAPSHOT_LIMIT, 0), [ReplyKind.ALL_ORDERS],
                                         min(timeout, 10.0))
        except RunnerError as exc:
            self.ledger.warnings.append(f"could not confirm the resting orders with get_user_orders ({exc}); "
                                        f"they are judged on the order stream alone")
            return
        self.pump.pump(lambda: False, 0)  # apply what arrived before the snapshot's answer
        if reply.kind is not ReplyKind.ALL_ORDERS:
            code = reply.body.error_code if isinstance(reply.body, ErrorReply) else reply.kind.value
            self.ledger.warnings.append(f"get_user_orders was refused ({code}); the resting orders are "
                                        f"judged on the order stream alone")
            return
        rows = all_orders(reply.body)
        # an entry's attached exits carry its client_order_id too: match the entry's own type
        by_coid = {(str(r.get("client_order_id")), str(r.get("type", r.get("order_type")))): r
                   for r in rows if r.get("client_order_id")}
        by_id = {str(r.get("order_id")): r for r in rows if r.get("order_id")}
        absent: list[LiveOrder] = []
        for live in resting:
            if live.terminal or live.fully_filled:
                continue
            kind = live.record.type if isinstance(live.record, OrderResult) else ""
            row = by_id.get(live.record.order_id or "") or by_coid.get((live.coid, kind))
            if row is None:
                absent.append(live)
                continue
            live.open_at_end = True
            remaining = wire_decimal(row.get("quantity_remaining", row.get("remaining_quantity")))
            if remaining is not None and (live.remaining is None or remaining < live.remaining):
                live.remaining = remaining
        if not absent or len(rows) >= SNAPSHOT_LIMIT:
            return
        self.pump.pump(lambda: all(x.terminal or x.fully_filled for x in absent), ABSENT_GRACE_S)
        for live in absent:
            if live.terminal or live.fully_filled:
                continue
            adopted = isinstance(live.record, OrderResult) and live.record.outcome is Outcome.ALREADY_PLACED
            if adopted:
                self._traded_since(live)  # an earlier run's order may have traded between the runs
            live.open_at_end = False
            live.terminal = True  # not on the book: it ended (filled, cancelled) without us seeing how

    def _traded_since(self, live: LiveOrder) -> None:
        """How much an order no longer on the book traded, from the exchange's trades (one query)."""
        order_id = live.record.order_id
        if not order_id:
            return
        try:
            reply = self.session.request(get_user_trades_message(SNAPSHOT_LIMIT, order_id=order_id),
                                         [ReplyKind.USER_TRADES], 10.0)
        except RunnerError:
            return
        if reply.kind is not ReplyKind.USER_TRADES:
            return
        traded = sum((q for t in user_trades(reply.body)
                      if (q := wire_decimal(t.get("quantity"))) is not None), Decimal(0))
        if traded > 0:
            remaining = max(live.quantity - traded, Decimal(0))
            live.remaining = remaining if live.remaining is None else min(live.remaining, remaining)
            if isinstance(live.record, OrderResult):
                live.record.filled_reported = max(live.record.filled_reported, live.filled)


class _AllEndsKnown:
    """`all(x.end_known(now) for x in EndStates._pending())`, asked after every event of the final
    wait, without walking every order each time: an order whose end is known (it stays known) or
    that ended is dropped from `candidates` when first seen so; one not answered yet stays (it joins
    the wait once answered). The first order still unknown answers the question (as `all` stops
    there); the ones after it are looked at later. O(orders) for the whole wait, not per event."""

    def __init__(self, candidates: list[LiveOrder]) -> None:
        self.candidates = candidates

    def __call__(self) -> bool:
        now = time.monotonic()
        keep: list[LiveOrder] = []
        for position, live in enumerate(self.candidates):
            if live.rejected or live.terminal or live.fully_filled:
                continue  # ended: never pending again
            if not live.answered:
                keep.append(live)  # not pending yet
            elif not live.end_known(now):  # the first one still unknown decides (answers come in order)
                keep.extend(self.candidates[position:])
                self.candidates = keep
                return False
        self.candidates = keep
        return True
