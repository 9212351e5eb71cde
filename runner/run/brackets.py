"""Bracket exits: placing `after_fill` legs once the entry has filled (or adopting the legs an
earlier run placed), and the warnings a trader needs about them.

An `after_fill` bracket is two independent orders sized to what the entry filled; an `attached`
bracket is staged by the exchange itself and only shows up as stop-type updates tied to the
entry (recognised by the event pump, runner.run.events). Both end up as `LegResult`s under the
entry's `OrderResult`, which is what this keeps right.
"""

from __future__ import annotations

import time
from decimal import Decimal

from runner.enums import Channel
from runner.errors import RunnerError
from runner.exchange.protocol import cancel_stop_order_message
from runner.exchange.session import Session
from runner.playbook.ids import Leg, uuid5_text
from runner.playbook.model import BracketMode, Order, Playbook
from runner.report import LegResult, OrderResult, Outcome, StatusSeen
from runner.run.adopt import Adopter, add_journal_fills
from runner.run.events import EventPump
from runner.run.ledger import Ledger
from runner.run.send import Sender
from runner.run.verdict import LiveOrder
from runner.state.writer import JournalWriter

#: statuses of an exit still working at the exchange
_OPEN_EXIT = ("ACK", "MODIFIED", "STAGED")
#: statuses of an entry still working (it may fill more: its exits may yet be needed)
_OPEN_ENTRY = ("ACK", "MODIFIED")
#: QFEX pushes positions every second: one read after the latest fill is a pulse later at least
POSITION_PULSE_S = 1.0
#: how long to wait for the positions push (a little over two pulses)
POSITION_WAIT_S = 3.0
#: what a leg cancelled on a flat position says
FLAT_NOTE = ("cancelled by the runner: the position is flat (closed by another order), so this exit "
             "would protect nothing")


def cancel_key(leg_client_order_id: str) -> str:
    """The deterministic journal key of the one-cancels-other cancel of an after_fill exit."""
    return uuid5_text(f"{leg_client_order_id}|oco-cancel")


class Brackets:
    """Places an entry's `after_fill` exits, sized to its fill; adopts those already placed; and
    keeps them one-cancels-other: once one has filled, the other is cancelled (journaled first)."""

    def __init__(self, playbook: Playbook, ledger: Ledger, sender: Sender, pump: EventPump, adopter: Adopter,
                 journal: JournalWriter, session: Session, timeout: float) -> None:
        self.playbook = playbook
        self.ledger = ledger
        self.sender = sender
        self.pump = pump
        self.adopter = adopter
        self.journal = journal
        self.session = session
        self.timeout = timeout
        self._cancelling: list[LiveOrder] = []
        #: the entries that have after_fill exits: the only ones one-cancels-other looks at (it runs
        #: after every answer, so scanning every order would cost O(n) per answer)
        #: (exit plans are kept by runner.run.exits: a ladder's levels do not cancel each other)
        self._with_exits = [i for i, o in enumerate(playbook.orders)
                            if o.bracket is not None and o.bracket.mode is BracketMode.AFTER_FILL
                            and not o.bracket.exit_plan]

    # --- one-cancels-other ---

    def _has_filled(self, order: Order, leg: Leg) -> bool:
        """Has this exit of `order`, placed by an earlier run, traded (journal or exchange)?"""
        coid = self.playbook.client_order_id(order, leg)
        placed = self.adopter.already_placed(coid)
        if placed is None:
            return False
        state = self.adopter.placements.found.get(coid)
        return placed.filled_quantity > 0 or placed.last_status == "FILLED" \
            or (state is not None and state.filled_quantity > 0)

    def cancel_filled_siblings(self) -> None:
        """For every entry whose after_fill exit has filled, cancel the other exit still open."""
        for result in (self.ledger.results[i] for i in self._with_exits):
            legs = [x for x in result.legs if x.mode == BracketMode.AFTER_FILL.value]
            filled = next((x for x in legs if x.fills or x.last_status == "FILLED"), None)
            if filled is None:
                continue
            for leg in legs:
                if leg is not filled and leg.last_status in _OPEN_EXIT and leg.order_id \
                        and leg.reject is None:
                    other = filled.leg.replace("_", "-")
                    self._cancel(result, leg, f"one-cancels-other: {filled.leg} filled",
                                 f"cancelled by the runner: its {other} filled (one-cancels-other, "
                                 f"after_fill exits are independent orders at QFEX)")

    # --- exits of a flat position ---

    def _unneeded_candidates(self) -> list[tuple[OrderResult, list[LegResult]]]:
        """Entries done trading whose after_fill exits are all unfilled, with those still open."""
        found: list[tuple[OrderResult, list[LegResult]]] = []
        for result in self.ledger.results:
            legs = [x for x in result.legs if x.mode == BracketMode.AFTER_FILL.value]
            if result.position is not None:  # an exit plan: runner.run.exits keeps it
                continue
            if not legs or any(x.fills or x.last_status == "FILLED" for x in legs):
                continue
            still_open = [x for x in legs if x.last_status in _OPEN_EXIT and x.order_id and x.reject is None]
            if still_open and result.filled_quantity > 0 and result.last_status not in _OPEN_ENTRY \
                    and (result.outcome is Outcome.ALREADY_PLACED or self._traded_since(result)):
                found.append((result, still_open))
        return found

    def _traded_since(self, entry: OrderResult) -> bool:
        """Has a later order of this run traded the entry's symbol (what could have closed it)? Else a
        first run has just placed the exits on the entry's own fill: no positions read is needed."""
        return any(r.index > entry.index and r.symbol == entry.symbol and r.filled_quantity > 0
                   and r.outcome is not Outcome.ALREADY_PLACED for r in self.ledger.results)

    def _last_fill_at(self, symbol: str) -> float:
        """When the run last saw a fill in `symbol` (entries and exits): a position read must be newer."""
        times = [f.at for r in self.ledger.results if r.symbol == symbol
                 for f in [*r.fills, *(f for x in r.legs for f in x.fills)]]
        return max(times, default=0.0)

    def cancel_exits_of_flat_positions(self, wait: float = POSITION_WAIT_S) -> None:
        """No exit of ours is left live on a flat position: where an entry's after_fill exits are open,
        neither has filled, and the account's position in the symbol reads zero (positions are
        account-wide: any other amount keeps them), cancel them, journaled like one-cancels-other."""
        candidates = self._unneeded_candidates()
        if not candidates:
            return
        fresh_after = {r.symbol: self._last_fill_at(r.symbol) + POSITION_PULSE_S for r, _ in candidates}
        try:
            self.session.subscribe([Channel.POSITIONS], timeout=min(self.timeout, 5.0))
        except RunnerError as exc:
            self.ledger.warnings.append(f"could not read positions ({exc}): after_fill exits of a position "
                                        f"closed meanwhile were not looked for")
            return
        positions = self.pump.positions

        def fresh(symbol: str) -> bool:
            return symbol in positions and positions[symbol][1] >= fresh_after[symbol]

        if not self.pump.pump(lambda: all(fresh(s) for s in fresh_after), wait):
            missing = sorted(s for s in fresh_after if not fresh(s))
            self.ledger.warnings.append(f"no position pushed for {', '.join(missing)} within {wait:g}s: its "
                                        f"after_fill exits were kept, whether or not the position is flat")
        for result, legs in candidates:
            if not fresh(result.symbol) or positions[result.symbol][0] != 0:
                continue
            for leg in legs:
                self._cancel(result, leg, "the position is flat", FLAT_NOTE)

    # --- the cancel itself ---

    def _cancel(self, result: OrderResult, leg: LegResult, reason: str, note: str) -> None:
        """Cancel an open exit: the intent journaled under its deterministic key, then sent."""
        coid = leg.client_order_id or ""
        live = self.ledger.live.get(coid)
        if live is not None and live in self._cancelling:
            return
        if live is None:  # an exit an earlier run placed: follow its answers from now on
            live = LiveOrder(coid, leg, leg.quantity or Decimal(0), immediate=False)
            live.answered = True
            self.ledger.live[coid] = live
        self._cancelling.append(live)
        order_id = leg.order_id or ""
        self.session.expect_order_id(order_id, coid)
        message = cancel_stop_order_message(order_id)
        # intent first, under a deterministic key: a re-run sees it and reconciles with the exchange
        self.journal.record_cancel(cancel_key(coid), coid, order_id, reason, message)
        self.session.send(message)
        name = leg.leg.replace("_", "-")
        leg.note = note
        self.ledger.progress("leg", result.index, result.id, f"cancel {name}")

    def settle_cancels(self, timeout: float) -> None:
        """Wait (bounded) for the answers to the cancels sent; say so where none came."""
        self.pump.pump(lambda: all(x.terminal for x in self._cancelling), timeout)
        for live in self._cancelling:
            if not live.terminal and isinstance(live.record, LegResult):
                live.record.note += f"; the cancel was sent, but no answer came within {timeout:g}s"

    def place_after_fill_legs(self, index: int, order: Order, result: OrderResult, entry: LiveOrder) -> None:
        from runner.playbook.plan import bracket_leg_message

        bracket = order.bracket
        assert bracket is not None
        filled = entry.filled
        legs = [(Leg.TAKE_PROFIT, "take_profit", bracket.take_profit),
                (Leg.STOP_LOSS, "stop_loss", bracket.stop_loss)]
        sent: list[tuple[LiveOrder, LegResult]] = []
        for leg, name, trigger in legs:
            if trigger is None:
                continue
            coid = self.playbook.client_order_id(order, leg)
            record = LegResult(name, BracketMode.AFTER_FILL.value, trigger, order.side.opposite.value,
                               filled if filled > 0 else None, coid)
            result.legs.append(record)
            placed = self.adopter.already_placed(coid)
            if placed is not None:
                record.order_id = placed.order_id
                last = placed.last_status or "unknown"
                record.statuses.append(StatusSeen(last, time.time(),
                                                  None, "journal"))
                record.note = "placed by an earlier run; not sent again"
                if name in result.differences:  # placed with the trigger the playbook had then
                    record.trigger_price = result.differences[name][0]
                record.quantity = self.adopter.placed_quantity(coid, placed) or record.quantity
                add_journal_fills(record, placed)
                self.adopter.exchange_view(record, coid)
                first_leg = leg is Leg.TAKE_PROFIT or bracket.take_profit is None
                if first_leg and record.quantity is not None and filled > record.quantity:
                    self.ledger.warnings.append(
                        f"order {order.id!r} has filled {filled}, but its after_fill exits (placed by an "
                        f"earlier run) cover {record.quantity}: {filled - record.quantity} is unprotected; "
                        f"placed exits are never resized (add an order for the rest)")
                continue
            if entry.anomalies:  # never size an exit from numbers that cannot be right
                record.note = ("not placed: the exchange's answers about the entry cannot be right, so "
                               "what it filled is unknown")
                continue
            sibling = Leg.STOP_LOSS if leg is Leg.TAKE_PROFIT else Leg.TAKE_PROFIT
            if result.outcome is Outcome.ALREADY_PLACED and self._has_filled(order, sibling):
                record.note = ("not placed: the other exit of this entry has filled (one-cancels-other); "
                               "placing this one would act on a closed position")
                continue
            if filled <= 0:
                if entry.over(time.monotonic()):
                    record.note = "not placed: the entry did not fill"
                    continue
                waited = "" if result.outcome is Outcome.ALREADY_PLACED else f" after {self.timeout:g}s"
                record.note = (f"not placed: the entry is still open and unfilled{waited}; "
                               f"re-run to place this leg once it has filled")
                if leg is Leg.TAKE_PROFIT or bracket.take_profit is None:
                    self.ledger.warnings.append(
                        f"order {order.id!r} is resting unfilled: its after_fill bracket is not placed, so a "
                        f"later fill has no take-profit or stop-loss until the playbook is run again "
                        f"(mode: attached protects a resting entry at the exchange)")
                continue
            if not entry.over(time.monotonic()):
                record.note = (f"sized to the {filled} filled so far; the entry is still open with "
                               f"{order.quantity - filled} unfilled, which this leg does not cover")
            message = bracket_leg_message(order, leg, filled, coid)
            live = self.sender.send(coid, record, message, index, order.id, leg, filled, immediate=False)
            sent.append((live, record))
        if result.outcome is Outcome.ALREADY_PLACED:
            self.cancel_filled_siblings()  # an exit of an earlier run may have filled in between
            self.settle_cancels(self.timeout)
        if sent:
            self.pump.pump(lambda: all(x.answered for x, _ in sent), self.timeout)
            for x, leg_record in sent:
                if not x.answered:
                    leg_record.note = (leg_record.note + "; " if leg_record.note else "") + \
                        f"no answer within {self.timeout:g}s"
            self.ledger.progress("leg", index, order.id,
                                 ", ".join(leg_record.last_status or "?" for _, leg_record in sent))


def warn_open_sibling(result: OrderResult, warnings: list[str]) -> None:
    """When one exit has traded and the other still shows open: after_fill exits the runner could not
    cancel, or attached exits (QFEX does not document that they cancel each other). An exit plan's
    take-profit levels stay open after another filled, by design (runner.run.exits)."""
    if result.position is not None:
        return
    for mode in (BracketMode.AFTER_FILL.value, BracketMode.ATTACHED.value):
        legs = [x for x in result.legs if x.mode == mode]
        traded = [x for x in legs if x.fills or x.last_status == "FILLED"]
        resting = [x for x in legs if x not in traded and x.last_status in ("ACK", "MODIFIED")]
        for leg in resting if traded else ():
            done = traded[0].leg.replace("_", "-")
            why = ("after_fill exits are independent orders and the runner's cancel did not go through"
                   if mode == BracketMode.AFTER_FILL.value else
                   "QFEX does not document whether attached exits cancel each other (one-cancels-other); "
                   "this is what the exchange shows")
            warnings.append(
                f"order {result.id!r}: its {done} filled, but its {leg.leg.replace('_', '-')} (order_id "
                f"{leg.order_id or '?'}) is still open at the exchange: {why}; cancel it if the position "
                f"is closed")
