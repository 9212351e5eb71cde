"""The run's records: one `OrderResult` per playbook order, one `LiveOrder` per client_order_id
sent or adopted, bracket legs by their exchange order id, the warnings, and progress to the console.

Every other part of the run (runner.run.send, events, adopt, brackets, flow, pipeline, finish)
reads and writes these records through one `Ledger`, built once per run, instead of sharing
attributes of one big object: what the report will say lives here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable

from runner.playbook.ids import Leg
from runner.playbook.model import BracketMode, Order, Playbook
from runner.playbook.steps import describe
from runner.report import LegResult, OrderResult, StepResult
from runner.run.options import Progress
from runner.run.verdict import LiveOrder


class Ledger:
    """What the run knows about every order, kept for the report (see the module docstring)."""

    def __init__(self, playbook: Playbook, warnings: list[str],
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.playbook = playbook
        self.total = len(playbook.orders)
        self.results: list[OrderResult] = [blank_result(playbook, index, order)
                                           for index, order in enumerate(playbook.orders)]
        #: one per step besides orders, in file order (runner.run.steps)
        self.steps: list[StepResult] = [
            StepResult(index, step.id, step.kind.value, describe(step, playbook), playbook.step_key(step),
                       symbol=step.symbol, note=step.note) for index, step in enumerate(playbook.steps)]
        self.live: dict[str, LiveOrder] = {}
        self.legs_by_order_id: dict[str, LegResult] = {}
        self.warnings = warnings
        self._on_progress = on_progress

    def progress(self, kind: str, index: int, order_id: str = "", status: str = "", detail: str = "") -> None:
        """Tell the console (if it listens) what just happened."""
        if self._on_progress is not None:
            self._on_progress(Progress(kind, index, self.total, order_id, status, detail))


def blank_result(playbook: Playbook, index: int, order: Order) -> OrderResult:
    """An order's record before anything is sent: as the playbook defines it, attached exits listed."""
    result = OrderResult(
        index=index, id=order.id, symbol=order.symbol, side=order.side.value, type=order.type.value,
        quantity=order.quantity, price=order.price, time_in_force=order.time_in_force.value,
        reduce_only=order.reduce_only, wait=order.wait.value, expect=order.expect.value,
        client_order_id=playbook.client_order_id(order, Leg.ENTRY),
        expect_statuses=list(order.expect_statuses), note=order.note)
    bracket = order.bracket
    if bracket is not None and bracket.mode is BracketMode.ATTACHED:
        for name, trigger in (("take_profit", bracket.take_profit), ("stop_loss", bracket.stop_loss)):
            if trigger is not None:
                result.legs.append(LegResult(name, BracketMode.ATTACHED.value, trigger,
                                             order.side.opposite.value))
    return result
