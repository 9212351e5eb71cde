"""After a reconnect: catch up with what the exchange did while the connection was down.

Every order that was not over is looked up (`runner.state.reconcile`); what happened meanwhile is
replayed as ordinary events (frames tagged `"_source": "reconciliation"`), and orders that never
reached the exchange are returned to be sent again. `Reconnection` is what the reconnecting
session calls back (its `on_reconnect`): catch up, then queue those orders with the sender.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from runner.errors import OrdersUnsure
from runner.exchange.pacing import rate_limit_callback
from runner.exchange.session import RecoveringSession
from runner.run.ledger import Ledger
from runner.run.send import Sender
from runner.run.verdict import LiveOrder
from runner.state.reconcile import LOOKUP_TIMEOUT_S, ExchangeOrderState, Presence, reconcile
from runner.state.writer import JournalWriter


class Reconnection:
    """The connection came back (runner.exchange.reconnect): learn what became of every unfinished
    order; replay what was missed; send again what never reached the exchange."""

    def __init__(self, journal: JournalWriter, ledger: Ledger, sender: Sender,
                 order_types: Mapping[str, str], lookup_timeout: float = LOOKUP_TIMEOUT_S,
                 symbols: Mapping[str, str] | None = None) -> None:
        self.journal = journal
        self.ledger = ledger
        self.sender = sender
        self.order_types = order_types
        #: coid -> symbol: scopes the order-id lookup when trade rows carry no client_order_id
        self.symbols = symbols
        #: how long each lookup waits for the exchange's answer (the run's --timeout, capped)
        self.lookup_timeout = lookup_timeout

    def __call__(self, session: RecoveringSession) -> None:
        for coid in catch_up(session, self.ledger.live, self.journal, self.order_types,
                             timeout=self.lookup_timeout, symbols=self.symbols):
            self.sender.retry_now(self.ledger.live[coid])
        self.ledger.warnings.append(f"connection lost ({session.losses[-1]}); reconnected and reconciled")


def catch_up(session: RecoveringSession, live_orders: Mapping[str, LiveOrder], journal: JournalWriter,
             order_types: Mapping[str, str] | None = None, *,
             timeout: float = LOOKUP_TIMEOUT_S, symbols: Mapping[str, str] | None = None) -> list[str]:
    """Reconcile every order that is not over; replay what was missed; return the coids to send again.

    An unanswered order the exchange does not show never reached it (or was refused): sending it
    again is safe. An answered one it no longer shows was cancelled or expired without a fill. One
    the lookup could not rule out (trade rows without client ids, the order-id lookup incomplete)
    is never sent again: OrdersUnsure (exit 5).
    """
    now = time.monotonic()
    pending = {coid: live for coid, live in live_orders.items() if not live.over(now)}
    if not pending:
        return []
    known = {coid: live.record.order_id for coid, live in pending.items() if live.record.order_id}
    found = reconcile(session, list(pending), known_order_ids=known, order_types=order_types,
                      timeout=timeout, on_rate_limited=rate_limit_callback(session),
                      symbols={c: s for c, s in (symbols or {}).items() if c in pending})
    unsure = sorted(c for c in found.unsure if not pending[c].record.order_id)
    if unsure:
        problem = found.order_lookup.problem if found.order_lookup is not None else None
        raise OrdersUnsure(
            f"after a reconnect, whether {', '.join(unsure)} reached the exchange is unknown: its trades "
            f"carry no client_order_id and tying them to client ids did not complete ({problem}); "
            f"nothing more was sent. Re-run to resume: the run looks them up again first")
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


def missed_frames(coid: str, live: LiveOrder, state: ExchangeOrderState) -> list[dict[str, Any]] | None:
    """The answers a dropped connection swallowed, rebuilt from what the exchange shows now.

    None means "not placed: send it again". Frames carry `"_source": "reconciliation"`.
    """
    seen = {f.trade_id for f in live.record.fills}
    order_id = state.order_id or live.record.order_id
    frames: list[dict[str, Any]] = []
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


def _frame(key: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {key: {k: v for k, v in payload.items() if v is not None}, "_source": "reconciliation"}


def _order_frame(coid: str, order_id: str | None, status: str, quantity: Decimal | None,
                 remaining: Decimal | None) -> dict[str, Any]:
    return _frame("order_response", {"order_id": order_id, "client_order_id": coid, "status": status,
                                     "quantity": quantity, "quantity_remaining": remaining})
