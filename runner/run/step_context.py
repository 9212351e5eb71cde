"""What every step kind's runner is handed (`StepContext`): journaled sends, answers awaited by the
exchange's order id or client id, and the reads a step reconciles with (open orders, positions,
leverage).

The exactly-once rule for steps is the orders' one: every message a step sends is journaled
(`record_intent` under the step's deterministic key, fsync'd) before it leaves, inside
`Interrupts.critical()`; a finished step is recorded (`record_step_done`) so a re-run reports it
"already done" and sends nothing. Where QFEX's message carries no client id (cancel, leverage), a
re-run of an unfinished step reads the exchange's state first and sends only what is still to do.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from runner.enums import CANCELLED_STATUSES, Channel
from runner.errors import RunnerError
from runner.exchange.client import Event
from runner.exchange.protocol import (
    OrderUpdate,
    Reply,
    ReplyKind,
    all_orders,
    get_user_orders_message,
    wire_decimal,
)
from runner.exchange.session import RecoveringSession
from runner.playbook.ids import Leg
from runner.playbook.model import Playbook, PlaybookStep
from runner.report import StatusSeen, StepResult
from runner.run.events import EventPump
from runner.run.interrupts import Interrupts
from runner.run.ledger import Ledger
from runner.state.writer import JournalWriter

#: statuses that end a cancel's or a modify's wait for one order
_ANSWERS = CANCELLED_STATUSES | {"NO_SUCH_ORDER", "MODIFIED", "CANNOT_MODIFY_NO_SUCH_ORDER",
                                 "CANNOT_MODIFY_PARTIAL_FILL", "FILLED", "REJECTED"}
#: positions are pushed every second [D:/websocket/channels/trade/positions]
POSITION_PULSE_S = 1.0
#: a pulse's frames (one per symbol) arrive together: this long without a new one ends it
PULSE_SPREAD_S = 0.1
PAGE = 1000

if TYPE_CHECKING:
    from runner.run.exits import ExitPlans


@dataclass
class Watch:
    """Order updates collected while a step waits, by exchange order id and by client id."""

    order_ids: set[str] = field(default_factory=set)
    client_ids: set[str] = field(default_factory=set)
    by_order_id: dict[str, list[OrderUpdate]] = field(default_factory=dict)
    by_client_id: dict[str, list[OrderUpdate]] = field(default_factory=dict)
    #: `twap_response`s by client_twap_id (a cancel's answer, or a push)
    twaps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __call__(self, event: Event) -> None:
        if event.reply.kind is ReplyKind.TWAP and isinstance(event.reply.body, dict):
            client_twap_id, twap_id = event.reply.body.get("client_twap_id"), event.reply.body.get("twap_id")
            if client_twap_id in self.client_ids:
                self.twaps[str(client_twap_id)] = event.reply.body
            if twap_id in self.order_ids:
                self.twaps[str(twap_id)] = event.reply.body
            return
        if event.reply.kind is not ReplyKind.ORDER:
            return
        update: OrderUpdate = event.reply.body
        if update.order_id in self.order_ids:
            self.by_order_id.setdefault(update.order_id, []).append(update)
        if update.client_order_id in self.client_ids:
            self.by_client_id.setdefault(update.client_order_id, []).append(update)

    def answered(self, order_id: str) -> OrderUpdate | None:
        """The update that answers a cancel or modify of `order_id` (None while none did)."""
        return next((u for u in self.by_order_id.get(order_id, []) if u.status in _ANSWERS), None)


class StepContext:
    """The run's parts a step uses, and the sends and reads every step kind shares."""

    def __init__(self, playbook: Playbook, session: RecoveringSession, journal: JournalWriter, ledger: Ledger,
                 pump: EventPump, interrupts: Interrupts, timeout: float) -> None:
        self.playbook = playbook
        self.session = session
        self.journal = journal
        self.ledger = ledger
        self.pump = pump
        self.interrupts = interrupts
        self.timeout = timeout
        self._positions_subscribed = False
        #: the run's exit plans (runner.run.exits), for an `exits:` step; set by the run's wiring
        self.exit_plans: ExitPlans | None = None

    # --- sending -------------------------------------------------------------------------------------

    def send(self, key: str, index: int, step: PlaybookStep, message: dict[str, Any]) -> None:
        """Journal the intent under the step's key (fsync), then send; never split by Ctrl-C."""
        with self.interrupts.critical():
            self.journal.record_intent(key, index, step.id, Leg.STEP, message)
            self.session.send(message)

    def request(self, key: str, index: int, step: PlaybookStep, message: dict[str, Any],
                kinds: Iterable[ReplyKind], result: StepResult) -> Reply:
        """Journal, send, and wait for the one reply of `kinds` (or the `err` that answers it)."""
        with self.interrupts.critical():
            self.journal.record_intent(key, index, step.id, Leg.STEP, message)
        reply = self.session.request(message, kinds, timeout=min(self.timeout, 10.0))
        self.journal.record_answer(key, reply.raw)
        status = reply.body.error_code if reply.kind is ReplyKind.ERROR else reply.kind.value
        result.statuses.append(StatusSeen(str(status), time.time(), None,
                                          "err" if reply.kind is ReplyKind.ERROR else "exchange"))
        return reply

    def watch(self, order_ids: Iterable[str] = (), client_ids: Iterable[str] = ()) -> Watch:
        """Start collecting the order updates of these orders (before sending what they answer)."""
        watch = Watch(set(order_ids), set(client_ids))
        self.pump.observers.append(watch)
        return watch

    def await_answers(self, watch: Watch, order_ids: Iterable[str]) -> bool:
        """Apply events until every order in `order_ids` is answered (cancel/modify), or the timeout."""
        wanted = list(order_ids)
        try:
            return self.pump.pump(lambda: all(watch.answered(o) is not None for o in wanted), self.timeout)
        finally:
            self.unwatch(watch)

    def unwatch(self, watch: Watch) -> None:
        if watch in self.pump.observers:
            self.pump.observers.remove(watch)

    # --- reading the exchange ------------------------------------------------------------------------

    def open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Every open order of the account (stop orders included), page by page, de-duplicated."""
        rows: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            reply = self.session.request(get_user_orders_message(PAGE, offset, symbol),
                                         [ReplyKind.ALL_ORDERS], timeout=min(self.timeout, 10.0))
            if reply.kind is ReplyKind.ERROR:
                raise RunnerError(f"get_user_orders failed: {reply.body.error_code}: {reply.body.message}")
            page = all_orders(reply.body)
            for row in page:
                rows[str(row.get("order_id") or row.get("stop_order_id") or len(rows))] = row
            if len(page) < PAGE:
                return list(rows.values())
            offset += PAGE - PAGE // 10  # pages overlap: the book moves while we read it

    def twaps(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """The account's running TWAPs (`twaps` of get_user_orders' answer; one page)."""
        reply = self.session.request(get_user_orders_message(PAGE, 0, symbol), [ReplyKind.ALL_ORDERS],
                                     timeout=min(self.timeout, 10.0))
        body = reply.body if reply.kind is ReplyKind.ALL_ORDERS else None
        rows = body.get("twaps") if isinstance(body, dict) else None
        return [row for row in rows or [] if isinstance(row, dict)]

    def positions(self, fresh_after: float | None = None) -> dict[str, Decimal]:
        """The account's position per symbol from one whole pulse received after `fresh_after` (default:
        now). QFEX pushes each symbol as its own frame, every second: rows keep coming for a moment."""
        since = time.time() if fresh_after is None else fresh_after
        if not self._positions_subscribed:
            self.session.subscribe([Channel.POSITIONS], timeout=min(self.timeout, 10.0))
            self._positions_subscribed = True
        pushed = self.pump.positions

        def fresh() -> dict[str, Decimal]:
            return {symbol: quantity for symbol, (quantity, at) in pushed.items() if at >= since}

        self.pump.pump(lambda: bool(fresh()), max(self.timeout, 3 * POSITION_PULSE_S))
        seen = -1
        while len(fresh()) != seen:  # the rest of the pulse: frames that arrive together
            seen = len(fresh())
            self.pump.pump(lambda: False, PULSE_SPREAD_S)
        return fresh()

    def wait_flat(self, symbols: Iterable[str] | None) -> dict[str, Decimal]:
        """Positions, read until the named symbols (every symbol: None) are flat or the timeout passes."""
        deadline = time.monotonic() + self.timeout
        while True:
            held = {s: q for s, q in self.positions().items() if q != 0 and (symbols is None or s in symbols)}
            if not held or time.monotonic() >= deadline:
                return held

    def leverage(self) -> dict[str, Decimal]:
        """The account's leverage per symbol (get_user_leverage; QFEX sends it as a string)."""
        reply = self.session.request({"type": "get_user_leverage", "params": {"limit": PAGE}},
                                     [ReplyKind.LEVERAGE], timeout=min(self.timeout, 10.0))
        rows = reply.body if reply.kind is ReplyKind.LEVERAGE else None
        levels: dict[str, Decimal] = {}
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("symbol"):
                value = wire_decimal(row.get("leverage"))
                if value is not None:
                    levels[str(row["symbol"])] = value
        return levels
