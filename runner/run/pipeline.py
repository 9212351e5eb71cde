"""Pipelined in-order submission: `run --max-in-flight N` sends order k+1 before order k's answer.

Why: a sequential run pays one round trip per order (100-250 ms to QFEX from most places), while
QFEX's rate limit allows ~200 orders/s. QFEX processes one connection's messages in the order
they arrive, so sending in playbook order on one connection without waiting keeps the exchange's
order of processing; only the waiting changes.

Rules (the sequential run, `runner.run.flow.OrderFlow.run_order`, stays the reference):
- Window: at most N orders with `wait: ack` are sent and unanswered at once. `wait: none` never
  waits (as in a sequential run) and takes no slot.
- Barriers: an order with `wait: fill`, an `after_fill` bracket, or any order of a playbook with
  `on_reject: stop` (a rejection must stop every later order, so none may leave before its
  answer) is sent only when every earlier order is answered, and then runs exactly as it would
  sequentially. With `on_reject: stop` every order is a barrier: the run is sequential, and a
  warning says so (`build_run` then uses `OrderFlow` itself, which costs nothing extra).
- Journal: the orders that fill the free slots are journaled together (`Journal.batch`: one
  fsync) and only then sent, so every intent is still durable before its send; answers are not
  fsync'd one by one (the next batch's fsync, or closing the journal, covers them: as in a
  sequential run, see `Journal.sync_answers`).
- Timeout: the oldest unanswered order gets `--timeout` from its send, then the run stops as a
  sequential run does (its state unknown; a re-run reconciles it).
- Retries: an order answered `RateLimited`/`ServerError` was not processed and is sent again after
  its delay (`runner.run.send`); later orders already sent may then reach the book before it. The run
  names it in a warning and continues one order at a time.
- Pacing to QFEX's rate limit applies to every send (the session's pacer), as sequentially.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from runner.errors import StopRun
from runner.exit_codes import ExitCode
from runner.playbook.ids import Leg
from runner.playbook.model import BracketMode, OnReject, Order, Playbook, Wait
from runner.report import Outcome
from runner.run.adopt import Adopter
from runner.run.events import EventPump
from runner.run.flow import OrderFlow
from runner.run.interrupts import Interrupts
from runner.run.ledger import Ledger
from runner.run.send import Sender
from runner.run.verdict import LiveOrder, is_immediate
from runner.state.writer import JournalWriter


def is_barrier(order: Order, playbook: Playbook) -> bool:
    """May nothing be in flight around this order? (see the module docstring)"""
    after_fill = order.bracket is not None and order.bracket.mode is BracketMode.AFTER_FILL
    return order.wait is Wait.FILL or after_fill or playbook.on_reject is OnReject.STOP


def window_has_no_effect(max_in_flight: int) -> str:
    """The warning of a `--max-in-flight` that on_reject: stop makes sequential (`build_run` then
    runs the sequential flow itself: the same run, without the window's bookkeeping per order)."""
    return (f"--max-in-flight {max_in_flight} has no effect: with on_reject: stop every order waits for the "
            f"previous one's answer (a rejection must stop all later orders); set on_reject: continue "
            f"to pipeline")


def _answered(live: LiveOrder) -> Callable[[], bool]:
    return lambda: live.answered


@dataclass
class _InFlight:
    index: int
    live: LiveOrder
    deadline: float  # monotonic: sent + timeout


class Pipeline:
    """Sends the playbook's orders with a window of unanswered sends; barriers go through `OrderFlow`."""

    def __init__(self, flow: OrderFlow, ledger: Ledger, sender: Sender, pump: EventPump, adopter: Adopter,
                 journal: JournalWriter, interrupts: Interrupts, max_in_flight: int) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self.flow = flow
        self.playbook = flow.playbook
        self.timeout = flow.timeout
        self.ledger = ledger
        self.sender = sender
        self.pump = pump
        self.adopter = adopter
        self.journal = journal
        self.interrupts = interrupts
        self.size = max_in_flight
        self.initial_size = max_in_flight
        self.in_flight: deque[_InFlight] = deque()

    # --- the loop ---

    def submit(self) -> None:
        orders = self.playbook.orders
        if self.size > 1 and self.playbook.on_reject is OnReject.STOP:
            self.ledger.warnings.append(window_has_no_effect(self.size))
        index = 0
        try:
            while index < len(orders):
                if self.flow.steps_due(index):  # a step is a barrier: everything before it answered
                    self.drain()
                    self.flow.run_steps_until(index)
                if is_barrier(orders[index], self.playbook):
                    self.drain()
                    self.flow.run_order(index, orders[index])
                    index += 1
                    continue
                self.make_room()
                burst = self._burst_from(index)
                self.submit_burst(burst)
                index = burst[-1] + 1
            self.drain()
            if self.flow.steps_due(len(orders)):
                self.flow.run_steps_until(len(orders))
        finally:
            if self.size < self.initial_size:
                self.report_reordering()

    def _burst_from(self, start: int) -> list[int]:
        """The indices to send now: consecutive non-barrier orders, as many as there are free slots."""
        orders, playbook = self.playbook.orders, self.playbook
        room = max(self.size - len(self.in_flight), 1)
        burst = [start]
        index = start + 1
        while index < len(orders) and len(burst) < room and not is_barrier(orders[index], playbook) \
                and not self.flow.steps_due(index):
            burst.append(index)
            index += 1
        return burst

    def submit_burst(self, indices: list[int]) -> None:
        """Adopt what an earlier run placed; journal the rest in one batch; then send them in order."""
        results = self.ledger.results
        to_send = []
        for index in indices:
            order = self.playbook.orders[index]
            step = self.flow.entry_step(order)
            placed = self.adopter.already_placed(step.client_order_id)
            if placed is not None:
                self.adopter.adopt(results[index], placed)
            else:
                to_send.append((index, order, step))
        if to_send:
            with self.interrupts.critical():  # never stop between the batch's fsync and its sends
                prepared = [self.sender.prepare(step.client_order_id, step.message, index, order.id,
                                                Leg.ENTRY) for index, order, step in to_send]
                with self.journal.batch():
                    for ready in prepared:
                        self.journal.write_intent(ready.intent)
                lives = self.sender.send_journaled(
                    [(ready, results[index], order.quantity, is_immediate(order))
                     for (index, order, _), ready in zip(to_send, prepared, strict=True)])
                deadline = time.monotonic() + self.timeout
                for (index, order, _), live in zip(to_send, lives, strict=True):
                    if order.wait is Wait.ACK:
                        self.in_flight.append(_InFlight(index, live, deadline))
        self.flow.judge_sent(upto=indices[-1])

    # --- the window ---

    def _forget_answered(self) -> None:
        if any(x.live.retries and x.live.answered for x in self.in_flight):  # (the plain field first)
            self.size = 1  # it was refused and sent again (see `_notice_retries`)
        while self.in_flight and self.in_flight[0].live.answered:
            self.in_flight.popleft()
        if any(x.live.answered for x in self.in_flight):
            self.in_flight = deque(x for x in self.in_flight if not x.live.answered)

    def make_room(self, limit: int | None = None) -> None:
        """Apply answers until fewer than `limit` (default: the window) orders are unanswered."""
        limit = self.size if limit is None else limit
        self._forget_answered()
        self._notice_retries()
        while len(self.in_flight) >= max(limit, 1) or (limit == 0 and self.in_flight):
            oldest = self.in_flight[0]
            remaining = oldest.deadline - time.monotonic()
            if not self.pump.pump(_answered(oldest.live), max(remaining, 0)):
                self._no_answer(oldest)
            self._forget_answered()
            self._notice_retries()
        # group commit: take every answer already here, so the next burst (one fsync) is larger
        self.pump.pump(lambda: False, 0)
        self._forget_answered()

    def drain(self) -> None:
        """Every order sent so far answered (before a barrier, and at the end)."""
        self.make_room(limit=0)

    def _no_answer(self, entry: _InFlight) -> None:
        order = self.playbook.orders[entry.index]
        result = self.ledger.results[entry.index]
        result.outcome, result.verdict = Outcome.UNKNOWN, f"no answer within {self.timeout:g}s"
        raise StopRun(f"no answer for order {order.id!r} within {self.timeout:g}s: its state is unknown "
                      f"(re-running reconciles it with the exchange before sending anything)",
                      ExitCode.ABORTED)

    def _notice_retries(self) -> None:
        """A refused order (RateLimited/ServerError: not processed) is being sent again: from now on
        one order at a time, so no later order can overtake it again."""
        if self.size > 1 and (self.sender.retrying or any(x.live.retries for x in self.in_flight)):
            self.size = 1

    def report_reordering(self) -> None:
        """Name every refused order that later orders overtook (answers come in processing order)."""
        results = self.ledger.results
        answered = [r.answered_at for r in results]
        for index, result in enumerate(results):
            live = self.ledger.live.get(result.client_order_id)
            at = answered[index]
            if live is None or not live.retries or at is None:
                continue
            overtaken_by = [self.playbook.orders[j].id for j in range(index + 1, len(results))
                            if (later := answered[j]) is not None and later <= at]
            if overtaken_by:
                shown = ", ".join(repr(x) for x in overtaken_by[:3])
                shown += " ..." if len(overtaken_by) > 3 else ""
                self.ledger.warnings.append(
                    f"order {result.id!r} was refused ({live.retries}x RateLimited/ServerError: not "
                    f"processed) and sent again after later orders ({shown}) had reached the exchange, "
                    f"which placed them first; the rest of the run sent one order at a time")

