"""The end of a run: wait (bounded) for answers still owed, then give every order its final verdict.

Whatever stopped the run (all sent, `on_reject: stop`, Ctrl-C, a lost connection), the report
must say what really happened: an order still unanswered, an IOC not yet settled, an attached
exit the exchange has not announced yet, an order still inside QFEX's speed bump (runner.run.endstate)
are awaited here up to `--timeout`, then judged on their end state.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from runner.playbook.model import BracketMode, Expect, Order, Playbook
from runner.report import OrderResult, Outcome
from runner.run.brackets import Brackets, warn_open_sibling
from runner.run.endstate import EndStates
from runner.run.events import EventPump
from runner.run.ledger import Ledger
from runner.run.verdict import LiveOrder, judge
from runner.state.legstate import PENDING

if TYPE_CHECKING:
    from runner.run.exits import ExitPlans

#: how long the end-of-run drain may wait for attached bracket legs to be announced
LEG_ANNOUNCE_S = 0.5
#: after a stop part-way, how long the end states of what was sent may still be awaited
QUICK_END_STATE_S = 0.5


class Finish:
    """The drain and the final verdicts of every order (see the module docstring)."""

    def __init__(self, playbook: Playbook, ledger: Ledger, pump: EventPump, end_states: EndStates,
                 exits: Brackets, timeout: float, plans: ExitPlans | None = None) -> None:
        self.playbook = playbook
        self.exits = exits
        #: exit plans (runner.run.exits): settled in the drain, their P&L and invariants at the end
        self.plans = plans
        self.end_states = end_states
        self.ledger = ledger
        self.results = ledger.results
        self.live = ledger.live
        self.pump = pump
        self.timeout = timeout

    def drain(self, quick: bool = False) -> None:
        """Wait (bounded) for answers still owed, so the report says what really happened."""
        def owed() -> bool:
            now = time.monotonic()
            for index, result in enumerate(self.results):
                live = self.live.get(result.client_order_id)
                if live is None or result.outcome is Outcome.ALREADY_PLACED:
                    continue
                if not live.answered:
                    return True
                order = self.playbook.orders[index]
                if (order.expect is Expect.FILLED or live.over(now)) and not live.settled(now):
                    return True
            return False

        self.pump.pump(lambda: not owed(), 0.5 if quick else self.timeout)
        def legs_owed() -> bool:  # an entry filled: its attached exits should be announced shortly
            return any(leg.mode == BracketMode.ATTACHED.value and not leg.statuses
                       for r in self.results if r.legs and r.reject is None and r.filled_quantity > 0
                       and r.outcome is not Outcome.ALREADY_PLACED for leg in r.legs)

        self.pump.pump(lambda: not legs_owed(), 0 if quick else LEG_ANNOUNCE_S)
        self.end_states.settle(QUICK_END_STATE_S if quick else self.timeout)
        if self.plans is not None:
            self.plans.step_all()
            self.plans.settle(QUICK_END_STATE_S if quick else self.timeout)
        self.exits.cancel_filled_siblings()
        if not quick:
            self.exits.cancel_exits_of_flat_positions()
        self.exits.settle_cancels(QUICK_END_STATE_S if quick else self.timeout)

    def _judge_again(self, order: Order, result: OrderResult, live: LiveOrder, now: float) -> None:
        """An order an earlier run placed, judged against its `expect` with what the exchange (and
        the journal) say now: a failed expectation stays failed on every re-run."""
        verdict = judge(order, result, live, final=True, now=now, timeout=self.timeout)
        if verdict is None:
            return
        outcome, text = verdict
        placed = result.verdict
        if outcome is Outcome.PASSED:
            result.verdict = f"already placed (verdict from the exchange now): {text}; {placed}"
        else:
            result.outcome = Outcome.FAILED if outcome is Outcome.FAILED else Outcome.UNKNOWN
            result.verdict = f"already placed, and {text} (verdict from the exchange now); {placed}"

    def final_judgement(self, connection_lost: bool) -> None:
        now = time.monotonic()
        for index, result in enumerate(self.results):
            order = self.playbook.orders[index]
            live = self.live.get(result.client_order_id)
            if live is None:
                continue
            if result.outcome is Outcome.ALREADY_PLACED:
                self._judge_again(order, result, live, now)
                continue
            if result.outcome is Outcome.FAILED:
                continue  # a failure stays a failure
            verdict = judge(order, result, live, final=True, now=now, timeout=self.timeout)
            if verdict is not None:
                result.outcome, result.verdict = verdict
            if not live.answered and connection_lost:
                result.verdict += " (connection lost: re-running reconciles it with the exchange)"
        if self.plans is not None:
            self.plans.finish()
        if self.plans is not None:
            self.plans.judged()
        for result in self.results:
            if not result.legs:  # nothing to tell of an order without exits (most of a large run)
                continue
            warn_open_sibling(result, self.ledger.warnings)
            for leg in result.legs:
                if leg.mode == BracketMode.ATTACHED.value and not leg.statuses and result.reject is None \
                        and result.sent_at is not None and not leg.note:
                    leg.note = (PENDING if result.filled_quantity == 0 else
                                "the entry filled, but the exchange did not announce this leg on this "
                                "connection")


def placement_summary(results: Iterable[OrderResult]) -> str:
    """`placed: a, b; not placed: c; unknown: d` — what a trader must know after an abort."""
    groups: dict[str, list[str]] = {"placed": [], "not placed": [], "unknown": []}
    for result in results:
        outcome = result.outcome.value
        if outcome == "not_sent" or (outcome == "failed" and result.reject is not None):
            groups["not placed"].append(result.id)
        elif outcome == "unknown":
            groups["unknown"].append(result.id)
        else:
            groups["placed"].append(result.id)
    return "; ".join(f"{name}: {', '.join(ids) if ids else 'none'}" for name, ids in groups.items())
