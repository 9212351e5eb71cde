"""Exactly-once on a re-run: orders an earlier run already placed are adopted, never sent again.

`Placements` (runner.state.placements) decides *whether* a client_order_id was placed (journal first, the
exchange when unsure); this module makes the report show such an order as it was placed and as
the exchange shows it now: its status, fills with prices, and what became of attached exits.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from runner.exchange.protocol import wire_decimal
from runner.exchange.session import Session
from runner.playbook.model import BracketMode
from runner.report import FillRecord, LegResult, OrderResult, Outcome, StatusSeen
from runner.run.ledger import Ledger
from runner.run.verdict import RESTING_EVIDENCE_S, LiveOrder, cancelled_by_step, is_immediate
from runner.state.entries import JournalEntry
from runner.state.legstate import NEVER_ARMED, PENDING
from runner.state.reconcile import Presence
from runner.words import shown

if TYPE_CHECKING:
    from runner.state.placements import Placements


class Adopter:
    """Adopts what an earlier run placed: the report shows it as placed and as the exchange has it."""

    def __init__(self, placements: Placements, session: Session, ledger: Ledger) -> None:
        self.placements = placements
        self.session = session
        self.ledger = ledger

    def already_placed(self, client_order_id: str) -> JournalEntry | None:
        """Was this client_order_id placed by an earlier run? (journal; exchange lookup when unsure)

        The exactly-once seam: returns the journal entry of a placed order (to adopt, never re-send)
        or None (send it). Orders the journal marks rejected are sent again: they were never placed.
        """
        return self.placements.already_placed(client_order_id)

    def adopt(self, result: OrderResult, entry: JournalEntry) -> LiveOrder:
        coid = result.client_order_id
        differences = self.placements.placed_differences(coid)
        if differences:
            show_as_placed(result, differences)
        order = self.ledger.playbook.orders[result.index]
        live = LiveOrder(coid, result, result.quantity, immediate=is_immediate(order))
        live.answered = True
        live.answered_mono = time.monotonic() - RESTING_EVIDENCE_S  # an earlier run's: past the bump
        live.cancelled_by = cancelled_by_step(entry.cancel_reason)
        result.order_id = entry.order_id
        status = entry.last_status or "unknown"
        result.statuses.append(StatusSeen(status, time.time(), entry.remaining, "journal"))
        filled = entry.filled_quantity or Decimal(0)
        live.remaining = result.quantity - filled
        result.quantity_remaining = entry.remaining
        result.filled_reported = filled
        state = self.placements.found.get(coid)
        # an IOC/FOK/MARKET of an earlier run is over by now; so is an order the exchange no longer lists
        live.terminal = entry.settled or live.immediate or (
            state is not None and state.presence is not Presence.OPEN)
        if state is not None and state.presence is Presence.OPEN:
            live.open_at_end = True
        result.outcome = Outcome.ALREADY_PLACED
        result.verdict = f"placed by an earlier run (last status {status}); not sent again"
        if result.differences:
            changes = ", ".join(f"{key} {shown(placed)} as placed, {shown(wanted)} in the playbook"
                                for key, (placed, wanted) in result.differences.items())
            result.verdict = (f"placed by an earlier run with a different definition ({changes}); left as it "
                              f"is, not sent again (last status {status})")
        elif (change := self.placements.change_note(result.id)) is not None:
            result.verdict += f"; {change}"
        self.ledger.live[coid] = live
        add_journal_fills(result, entry)
        self.exchange_view(result, coid)
        if max(result.filled_quantity, live.filled) > result.quantity:  # never size an exit from it
            live.note_anomaly(f"fills add up to more than the order's quantity {result.quantity}")
            result.verdict += "; its fills add up to more than its quantity (check it on the exchange)"
            self.ledger.warnings.append(
                f"order {result.id!r}: the exchange reported fills adding up to more than its quantity "
                f"{result.quantity}; no after_fill exit is sized from them (check it on the exchange)")
        if result.order_id:
            self.session.expect_order_id(result.order_id, coid)
        self.ledger.progress("judged", result.index, result.id, Outcome.ALREADY_PLACED.value, result.verdict)
        return live

    def placed_quantity(self, coid: str, placed: JournalEntry) -> Decimal | None:
        """The quantity an earlier run placed for `coid`: as the exchange shows it open, else as sent."""
        state = self.placements.found.get(coid)
        if state is not None and state.quantity:
            return state.quantity
        quantity = placed.quantity
        if quantity:
            return quantity
        return state.filled_quantity if state is not None and state.filled_quantity else None

    def exchange_view(self, record: OrderResult | LegResult, coid: str) -> None:
        """An adopted order as the exchange shows it now: its fills (with prices), and for an entry
        with an attached bracket what became of each exit (runner.state.legstate)."""
        state = self.placements.found.get(coid)
        if state is None:
            return
        _add_trades(record, state.trades)
        if not isinstance(record, OrderResult) or not any(x.mode == BracketMode.ATTACHED.value
                                                          for x in record.legs):
            return
        from runner.state.legstate import attached_leg_states, visible_with

        triggers = {x.leg: x.trigger_price for x in record.legs if x.mode == BracketMode.ATTACHED.value}
        known = self.placements.exit_order_ids(coid)
        # the exchange's trades must at least show the entry's fills, else its history is cut short
        visible = visible_with(self.placements.trades_visible, known, triggers) \
            and state.filled_quantity >= record.filled_quantity
        states = attached_leg_states(state.legs, triggers, record.filled_quantity, trades_visible=visible,
                                     known_ids=known)
        for leg in record.legs:
            seen = states.get(leg.leg) if leg.mode == BracketMode.ATTACHED.value else None
            if seen is None:
                continue
            leg.order_id = leg.order_id or seen.order_id
            if seen.status is None:
                if record.filled_quantity == 0:
                    leg.note = PENDING if state.presence is Presence.OPEN else NEVER_ARMED
                else:
                    leg.note = seen.note
                continue
            leg.order_id = seen.order_id or leg.order_id
            if seen.quantity is not None and seen.quantity > 0:
                leg.quantity = seen.quantity
            _add_trades(leg, seen.trades)
            at = max((f.at for f in leg.fills), default=time.time())
            leg.statuses.append(StatusSeen(seen.status, at, None, "exchange"))
            leg.note = seen.note
            if leg.order_id:
                self.ledger.legs_by_order_id[leg.order_id] = leg


_NUMERIC_FIELDS = frozenset({"quantity", "price", "take_profit", "stop_loss"})


def show_as_placed(result: OrderResult, differences: Mapping[str, tuple[Any, Any]]) -> None:
    """Make `result` show an order as it was placed (what the exchange has), not as the playbook now
    defines it; `result.differences` keeps the playbook's values for the report to name."""
    typed = {key: (wire_decimal(placed) if key in _NUMERIC_FIELDS else placed,
                   wire_decimal(wanted) if key in _NUMERIC_FIELDS else wanted)
             for key, (placed, wanted) in differences.items()}
    result.differences = typed
    for key, (placed, _) in typed.items():
        if key in ("take_profit", "stop_loss"):
            for leg in result.legs:
                if leg.leg == key:
                    leg.trigger_price = placed
        elif key == "quantity" and placed is not None:
            result.quantity = placed
        elif key in ("symbol", "side", "type", "time_in_force") and placed is not None:
            setattr(result, key, str(placed))
        elif key == "price":
            result.price = placed
        elif key == "reduce_only":
            result.reduce_only = bool(placed)



def add_journal_fills(record: OrderResult | LegResult, entry: JournalEntry) -> None:
    """The fills the journal recorded for an adopted order (prices included): a re-run reports the
    same fills and average price as the run that saw them, without asking the exchange again."""
    seen = {f.trade_id for f in record.fills}
    for fill in entry.fills:
        if fill.trade_id in seen:
            continue
        at = datetime.fromisoformat(fill.at).timestamp() if fill.at else time.time()
        record.fills.append(FillRecord(fill.trade_id, fill.price, fill.quantity, fill.fee, at))
        seen.add(fill.trade_id)


def _add_trades(record: OrderResult | LegResult, trades: Iterable[Mapping[str, Any]]) -> None:
    """Trade rows from the exchange's `get_user_trades` as fills of `record` (each trade once)."""
    seen = {f.trade_id for f in record.fills}
    for trade in trades:
        quantity = wire_decimal(trade.get("quantity"))
        key = str(trade.get("trade_id") or "") or None
        if quantity is None or (key is not None and key in seen):
            continue
        stamp = wire_decimal(trade.get("timestamp"))
        at = float(stamp) if stamp is not None else time.time()
        price, fee = wire_decimal(trade.get("price")), wire_decimal(trade.get("fee"))
        record.fills.append(FillRecord(key, price, quantity, fee, at))
        seen.add(key)


