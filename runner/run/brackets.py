"""Bracket exits: placing `after_fill` legs once the entry has filled, and keeping each exit's
record (order id, statuses, quantity) as the exchange announces attached or placed legs.

An `after_fill` bracket is two independent orders sized to what the entry filled; an `attached`
bracket is staged by the exchange itself and only shows up as stop-type updates tied to the
entry. Both end up as `LegResult`s under the entry's `OrderResult`, which is what this keeps right.
"""

from __future__ import annotations

import time
from typing import Any

from runner.enums import OrderType
from runner.exchange.protocol import OrderUpdate
from runner.playbook.ids import Leg
from runner.playbook.model import BracketMode, Order, Playbook
from runner.report import LegResult, OrderResult, Outcome, Reject, StatusSeen
from runner.run.adopt import _add_journal_fills
from runner.run.verdict import LiveOrder


class _Brackets:
    """`_Run`'s bracket legs (a mixin: `_Run` owns the state).

    Uses: `playbook`, `journal` (exit ids of attached legs), `timeout`, `warnings`,
    `_legs_by_order_id`; calls `already_placed`/`_placed_quantity`/`_exchange_view` (runner.run.adopt),
    `_send`, `_pump` (runner.run.events) and `_progress`.
    """

    playbook: Playbook
    journal: Any
    timeout: float
    warnings: list[str]
    _legs_by_order_id: dict[str, LegResult]

    def _place_after_fill_legs(self, index: int, order: Order, result: OrderResult, entry: LiveOrder) -> None:
        from runner.playbook.plan import bracket_leg_message

        bracket = order.bracket
        assert bracket is not None
        filled = entry.filled
        legs = [(Leg.TAKE_PROFIT, "take_profit", bracket.take_profit),
                (Leg.STOP_LOSS, "stop_loss", bracket.stop_loss)]
        sent: list[LiveOrder] = []
        for leg, name, trigger in legs:
            if trigger is None:
                continue
            coid = self.playbook.client_order_id(order, leg)
            record = LegResult(name, BracketMode.AFTER_FILL.value, trigger, order.side.opposite.value,
                               filled if filled > 0 else None, coid)
            result.legs.append(record)
            placed = self.already_placed(coid)
            if placed is not None:
                record.order_id = getattr(placed, "order_id", None)
                last = getattr(placed, "last_status", None) or "unknown"
                record.statuses.append(StatusSeen(last, time.time(),
                                                  None, "journal"))
                record.note = "placed by an earlier run; not sent again"
                if name in result.differences:  # placed with the trigger the playbook had then
                    record.trigger_price = result.differences[name][0]
                record.quantity = self._placed_quantity(coid, placed) or record.quantity
                _add_journal_fills(record, placed)
                self._exchange_view(record, coid)
                first_leg = leg is Leg.TAKE_PROFIT or bracket.take_profit is None
                if first_leg and record.quantity is not None and filled > record.quantity:
                    self.warnings.append(
                        f"order {order.id!r} has filled {filled}, but its after_fill exits (placed by an "
                        f"earlier run) cover {record.quantity}: {filled - record.quantity} is unprotected; "
                        f"placed exits are never resized (add an order for the rest)")
                continue
            if filled <= 0:
                if entry.over(time.monotonic()):
                    record.note = "not placed: the entry did not fill"
                    continue
                waited = "" if result.outcome is Outcome.ALREADY_PLACED else f" after {self.timeout:g}s"
                record.note = (f"not placed: the entry is still open and unfilled{waited}; "
                               f"re-run to place this leg once it has filled")
                if leg is Leg.TAKE_PROFIT or bracket.take_profit is None:
                    self.warnings.append(
                        f"order {order.id!r} is resting unfilled: its after_fill bracket is not placed, so a "
                        f"later fill has no take-profit or stop-loss until the playbook is run again "
                        f"(mode: attached protects a resting entry at the exchange)")
                continue
            if not entry.over(time.monotonic()):
                record.note = (f"sized to the {filled} filled so far; the entry is still open with "
                               f"{order.quantity - filled} unfilled, which this leg does not cover")
            message = bracket_leg_message(order, leg, filled, coid)
            sent.append(self._send(coid, record, message, index, order.id, leg, filled, immediate=False))
        if sent:
            self._pump(lambda: all(x.answered for x in sent), self.timeout)
            for x in sent:
                if not x.answered:
                    x.record.note = (x.record.note + "; " if x.record.note else "") + \
                        f"no answer within {self.timeout:g}s"
            self._progress("leg", index, order.id, ", ".join(x.record.last_status or "?" for x in sent))

    def _attached_leg(self, live: LiveOrder | None, update: OrderUpdate) -> LegResult | None:
        """An attached TP/SL leg announced by the exchange (stop type, parent's coid or known id)."""
        if update.order_id and update.order_id in self._legs_by_order_id:
            return self._legs_by_order_id[update.order_id]
        if live is None or not update.is_stop_leg or not isinstance(live.record, OrderResult):
            return None
        name = "take_profit" if update.order_type == OrderType.TAKE_PROFIT.value else "stop_loss"
        for leg in live.record.legs:
            attached = leg.mode == BracketMode.ATTACHED.value
            if leg.leg == name and attached and leg.order_id in (None, update.order_id):
                if update.order_id:
                    leg.order_id = update.order_id
                    self._legs_by_order_id[update.order_id] = leg
                    self.journal.record_exit_id(live.coid, leg.leg, update.order_id)
                return leg
        return None

    def _record_leg_status(self, leg: LegResult, update: OrderUpdate, at: float) -> None:
        leg.statuses.append(StatusSeen(update.status, at, update.quantity_remaining))
        if update.quantity is not None and update.quantity > 0:
            leg.quantity = update.quantity
        if leg.side is None and update.side:
            leg.side = update.side
        if update.is_reject:
            leg.reject = Reject(update.status, update.meaning, None)

    def _warn_open_sibling(self, result: OrderResult) -> None:
        """after_fill exits are two independent orders: when one has traded, the other still rests."""
        legs = [x for x in result.legs if x.mode == BracketMode.AFTER_FILL.value]
        traded = [x for x in legs if x.fills or x.last_status == "FILLED"]
        resting = [x for x in legs if x not in traded and x.last_status in ("ACK", "MODIFIED")]
        for leg in resting if traded else ():
            done = traded[0].leg.replace("_", "-")
            self.warnings.append(
                f"order {result.id!r}: its {done} filled, but its {leg.leg.replace('_', '-')} (order_id "
                f"{leg.order_id or '?'}) is still open at the exchange: after_fill exits are independent "
                f"orders, so cancel it if the position is closed")
