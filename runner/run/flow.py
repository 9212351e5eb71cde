"""One playbook order at a time: adopt or send it, wait as it says (`ack`, `fill`, `none`), place
its `after_fill` exits, judge it against `expect`, and apply `on_reject`.

`OrderFlow` is the sequential run, and the reference the pipelined one (runner.run.pipeline)
follows: an order that must not overlap others (a barrier) runs through `run_order` there too.
`StopRun` leaves the send loop (on_reject stop, no answer in time) so the run can write its report.
"""

from __future__ import annotations

import heapq
import math
import time
from typing import TYPE_CHECKING, Protocol

from runner.errors import StopRun
from runner.exit_codes import ExitCode
from runner.playbook.ids import Leg
from runner.playbook.model import BracketMode, OnReject, Order, Playbook, Wait
from runner.report import OrderResult, Outcome
from runner.run.adopt import Adopter
from runner.run.brackets import Brackets
from runner.run.events import EventPump
from runner.run.ledger import Ledger
from runner.run.send import Sender
from runner.run.verdict import LiveOrder, ends_after_ack, is_immediate, judge

if TYPE_CHECKING:
    from runner.playbook.plan import Plan, Step
    from runner.run.exits import ExitPlans
    from runner.run.steps.dispatch import StepRunner


class Submission(Protocol):
    """Sends every order of the playbook in order: `OrderFlow` one at a time, or `Pipeline`."""

    def submit(self) -> None: ...


class OrderFlow:
    """Each playbook order in turn: adopt or send, wait, place after_fill exits, judge, on_reject."""

    def __init__(self, playbook: Playbook, plan: Plan, ledger: Ledger, sender: Sender, pump: EventPump,
                 adopter: Adopter, legs: Brackets, timeout: float, steps: StepRunner | None = None,
                 exits: ExitPlans | None = None) -> None:
        self.playbook = playbook
        self.steps = steps
        self._next_step = 0  # steps before this index of playbook.steps have run
        self.ledger = ledger
        self.sender = sender
        self.pump = pump
        self.adopter = adopter
        self.legs = legs
        #: exit plans (take-profit ladders, managed stops) are placed and kept by runner.run.exits
        self.exits = exits
        self.timeout = timeout
        self._entry_steps = {s.order.id: s for s in plan.steps if s.leg is Leg.ENTRY}
        self._judged: set[int] = set()
        #: what `judge_sent` must look at again, so one call costs O(what changed), not O(orders
        #: sent): the orders not looked at yet (`_seen_upto` onwards), the undecided ones whose live
        #: state changed (`pump.changed`, by client_order_id), those the clock may decide now
        #: (`_clock`, a heap of (moment, index)), and every undecided one when an exit's answer came
        self._seen_upto = 0
        self._recheck: set[int] = set()  # left over from a call that stopped the run, or not live yet
        self._clock: list[tuple[float, int]] = []
        self._undecided: set[int] = set()
        self._leg_changes_seen = 0
        self._index_of = {self._entry_steps[o.id].client_order_id: i for i, o in enumerate(playbook.orders)}

    def entry_step(self, order: Order) -> Step:
        """The planned step that sends `order` itself (its client_order_id and message)."""
        return self._entry_steps[order.id]

    def submit(self) -> None:
        """Every order and step in playbook order, one at a time."""
        for index, order in enumerate(self.playbook.orders):
            self.run_steps_until(index)
            self.run_order(index, order)
        self.run_steps_until(len(self.playbook.orders))

    def steps_due(self, order_index: int) -> bool:
        """Does a step stand before the order at `order_index` (or, past the last order, at the end)?"""
        steps = self.playbook.steps
        return self._next_step < len(steps) and steps[self._next_step].after_orders <= order_index

    def run_steps_until(self, order_index: int) -> None:
        """Run every step that stands before the order at `order_index` (at the end: every one left).
        Orders sent before it are judged first, so on_reject: stop still stops it."""
        if not self.steps_due(order_index):
            return
        if order_index > 0:
            self.judge_sent(upto=order_index - 1)
        if self.steps is None:
            raise StopRun("internal: the playbook has steps but the run has no step runner",
                          ExitCode.INTERNAL)
        while self.steps_due(order_index):
            index = self._next_step
            self._next_step += 1
            self.steps.run_step(index, self.playbook.steps[index])

    def run_order(self, index: int, order: Order) -> None:
        result = self.ledger.results[index]
        step = self._entry_steps[order.id]
        after_fill = order.bracket is not None and order.bracket.mode is BracketMode.AFTER_FILL
        # an after_fill bracket waits for the entry's fill; an exit plan protects each fill as it comes
        # (runner.run.exits acts on every event), so its entry waits only as `wait:` says
        to_fill = order.wait is Wait.FILL or (after_fill and not (order.bracket is not None
                                                                   and order.bracket.exit_plan))
        placed = self.adopter.already_placed(step.client_order_id)
        if placed is not None:
            live = self.adopter.adopt(result, placed)
            if after_fill:
                self.place_exits(index, order, result, live)
            return
        live = self.sender.send(step.client_order_id, result, step.message, index, order.id, Leg.ENTRY,
                                order.quantity, is_immediate(order))
        if to_fill:
            self.pump.pump(lambda: live.settled(time.monotonic()), self.timeout)
        elif order.wait is Wait.ACK:
            if not self.pump.pump(lambda: live.answered, self.timeout):
                result.outcome, result.verdict = Outcome.UNKNOWN, f"no answer within {self.timeout:g}s"
                raise StopRun(f"no answer for order {order.id!r} within {self.timeout:g}s: its state is "
                              f"unknown "
                              f"(re-running reconciles it with the exchange before sending anything)",
                              ExitCode.ABORTED)
            if self.playbook.on_reject is OnReject.STOP and ends_after_ack(order):
                # an IOC/FOK/ALO can still be cancelled after its ACK (QFEX's speed bump): know its end
                # state before anything else leaves, so on_reject: stop can stop the rest
                self.pump.pump(lambda: live.end_known(time.monotonic()), self.timeout)
        else:
            self.pump.pump(lambda: False, 0)  # take whatever already arrived, never block
        if after_fill:
            self.place_exits(index, order, result, live)
        self.judge_sent(upto=index, waited_for_fill=to_fill)

    def place_exits(self, index: int, order: Order, result: OrderResult, live: LiveOrder) -> None:
        """An after_fill bracket's exits: an exit plan's by runner.run.exits, the others by brackets."""
        if self.exits is not None and order.bracket is not None and order.bracket.exit_plan:
            self.exits.place(index, order, result, live)
        else:
            self.legs.place_after_fill_legs(index, order, result, live)

    def judge_sent(self, upto: int, waited_for_fill: bool = False) -> None:
        """Judge every sent order whose outcome is now known; apply `on_reject` to the failures.

        Called after each order's wait, so a rejection that arrives while a later order is awaited
        (e.g. after `wait: none`) still stops the run before anything else is sent.
        """
        results = self.ledger.results
        now = time.monotonic()
        due = self._recheck
        self._recheck = set()
        if self._seen_upto <= upto:
            due.update(range(self._seen_upto, upto + 1))
            self._seen_upto = upto + 1
        changed = self.pump.changed
        if changed:
            for coid in list(changed):
                index = self._index_of.get(coid)
                if index is None or index <= upto:
                    changed.discard(coid)
                    if index is not None and index in self._undecided:
                        due.add(index)
        if self.pump.leg_changes != self._leg_changes_seen:  # an exit's answer can decide its entry
            self._leg_changes_seen = self.pump.leg_changes
            due.update(self._undecided)
        clock = self._clock
        while clock and clock[0][0] <= now:
            due.add(heapq.heappop(clock)[1])
        if waited_for_fill:
            due.add(upto)
        if not due:
            return
        pending = sorted(i for i in due if i <= upto)
        self._recheck.update(i for i in due if i > upto)
        for position, index in enumerate(pending):
            result = results[index]
            live = self.ledger.live.get(result.client_order_id)
            if index in self._judged or result.outcome is Outcome.ALREADY_PLACED:
                continue
            if live is None:
                self._recheck.add(index)
                continue
            order = self.playbook.orders[index]
            final = waited_for_fill and index == upto  # its wait is over: "not filled yet" is the answer
            verdict = judge(order, result, live, final=final, timeout=self.timeout)
            if verdict is None:
                self._undecided.add(index)
                until = live.undecided_until()
                if until != math.inf:
                    heapq.heappush(clock, (until, index))
                continue
            self._undecided.discard(index)
            self._judged.add(index)
            result.outcome, result.verdict = verdict
            self.ledger.progress("judged", index, order.id, result.outcome.value, result.verdict)
            stop = self.playbook.on_reject is OnReject.STOP and (upto < self.ledger.total - 1
                                                                 or self.playbook.steps_after(index))
            if result.outcome is Outcome.FAILED and stop:
                self._recheck.update(pending[position + 1:])
                raise StopRun(f"on_reject: stop — order {order.id!r} {result.verdict}; "
                              f"later orders were not sent", ExitCode.ABORTED)
