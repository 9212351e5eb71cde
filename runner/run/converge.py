"""`run --converge` / `--prune`: make the exchange what the playbook says, in place, before the run
places anything new.

After reconciliation (what the exchange holds of every order of ours), `runner.state.desired`
lists what differs. A change QFEX cannot make in place is refused before anything is sent, with
the reason and what to do (exit 1, like any changed placed order). Every other change is made:
`modify_order` for an entry that has not traded (price, quantity, attached take-profit/stop-loss),
`modify_stop_order` for a stop (an after_fill exit, an armed attached exit, a standalone stop), and
with `--prune` a cancel of each order (and exit) this playbook placed and no longer declares — known
from the journal only, so `--prune` without a journal is refused.

Exactly once: each modify is journaled (`modify`, under a deterministic key: the order, the leg and
the values it sets) and fsync'd before it is sent; the order's new definition is journaled
(`modified`) only when every change of it was answered MODIFIED. A run killed in between leaves the
old definition in the journal: the next `run --converge` compares the exchange with the playbook
again and sends only what still differs (a plain `run` refuses, as for any changed placed order).

A stop moved past its entry after the entry filled (break-even) is judged against the market: a
SELL stop-loss must stay below the market (a BUY one above), or it would trigger at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from runner.enums import Side
from runner.errors import PlanChanged, StopRun, UsageError
from runner.exchange.protocol import cancel_order_message, cancel_stop_order_message
from runner.exchange.session import RecoveringSession
from runner.exit_codes import ExitCode
from runner.playbook.ids import Leg, change_key
from runner.playbook.model import BracketMode, Order, Playbook
from runner.playbook.refdata import RefData
from runner.problems import Problem
from runner.run.events import EventPump
from runner.run.interrupts import Interrupts
from runner.run.ledger import Ledger
from runner.run.steps.context import StepContext
from runner.state.definitions import fingerprint, order_definition
from runner.state.placements import Placements
from runner.state.reconcile import ExchangeOrderState, reconcile
from runner.state.writer import JournalWriter
from runner.words import counted, number_text

if TYPE_CHECKING:  # the diff machinery is imported when a run converges (start-up of every other run)
    from runner.state.desired import Change

RULE = "cannot-converge"
_UNPLACED = ("a stop at or past the entry is only for an entry that already filled (break-even); this one "
             "is not placed yet")
_PARTIAL = "it traded meanwhile; cancel it (a cancel step) and place the rest under a new id"


def modify_message(change: Change) -> dict[str, Any]:
    """QFEX's modify_order / modify_stop_order for a change (qfex-api.md §3.5, §3.8: the current pages
    require side and order_type, which must equal the order's)."""
    # an attached exit the playbook no longer has is removed with 0 (modify_order page: "Set 0 if unused")
    values = {k: (Decimal(0) if v is None and k in ("take_profit", "stop_loss") else v)
              for k, v in change.wanted.items() if v is not None or k in ("take_profit", "stop_loss")}
    if change.stop:
        return {"type": "modify_stop_order", "params": {
            "stop_order_id": change.order_id, "symbol": change.symbol, "side": change.side,
            "order_type": change.order_type, **{k: values[k] for k in ("price", "quantity") if k in values}}}
    return {"type": "modify_order", "params": {
        "order_id": change.order_id, "symbol": change.symbol, "side": change.side,
        "order_type": change.order_type, **values}}


def _leg_of(change: Change) -> Leg:
    if change.label.endswith(".take_profit"):
        return Leg.TAKE_PROFIT
    if change.label.endswith(".stop_loss"):
        return Leg.STOP_LOSS
    return Leg.ENTRY


class Converger:
    """Modifies placed orders in place and prunes undeclared ones (see the module docstring)."""

    def __init__(self, playbook: Playbook, session: RecoveringSession, journal: JournalWriter,
                 placements: Placements, ledger: Ledger, pump: EventPump, interrupts: Interrupts,
                 timeout: float, *, prune: bool, refdata: RefData | None, journal_existed: bool) -> None:
        self.playbook = playbook
        self.session = session
        self.journal = journal
        self.placements = placements
        self.ledger = ledger
        self.ctx = StepContext(playbook, session, journal, ledger, pump, interrupts, timeout)
        self.interrupts = interrupts
        self.timeout = timeout
        self.prune = prune
        self.refdata = refdata
        self.journal_existed = journal_existed
        #: what was done, one line each, for the report's warnings
        self.done: list[str] = []

    def converge(self) -> list[Change]:
        """Refuse what cannot change in place (nothing sent), then modify and prune; the changes."""
        if self.prune and not self.journal_existed:
            raise UsageError("--prune works from the run journal (client ids are hashes: an order the "
                             "playbook no longer names cannot be recognised at the exchange otherwise), and "
                             "there is none for this playbook's name/run_id: nothing was sent. Pass "
                             "--state-dir to the journal of the runs that placed the orders, or cancel them "
                             "with a cancel step")
        contents = self.placements.journal.contents
        from runner.state.desired import Action, desired_changes, undeclared

        pruned = self._look_up_undeclared() if self.prune else {}
        changes = desired_changes(self.playbook, contents, self.placements.found, pruned)
        problems = [Problem(c.location, f"order {c.label!r} cannot be converged: {c.reason}", RULE)
                    for c in changes if c.action is Action.REFUSED]
        problems += self._break_even_refusals(changes)
        if problems:
            raise PlanChanged(problems, f"{counted(len(problems), 'change')} cannot be applied in place; "
                                        "nothing was sent")
        modified: dict[str, list[Change]] = {}
        for change in changes:
            if change.action is Action.MODIFY:
                self._modify(change)
                modified.setdefault(change.order_key, []).append(change)
        for change in changes:
            if change.action is Action.CANCEL:
                self._cancel(change)
        self._confirm(modified)
        if not self.prune:
            for coid, entry in undeclared(self.playbook, contents).items():
                self.ledger.warnings.append(f"order {entry.order_key!r} ({entry.leg}, client_order_id "
                                            f"{coid}) is no longer in the playbook; left as it is (--prune "
                                            "cancels it)")
        return changes

    # --- checks -------------------------------------------------------------------------------------

    def _break_even_refusals(self, changes: Iterable[Change]) -> list[Problem]:
        """A stop moved past its entry (break-even): fine for a filled entry against the market; an entry
        not placed yet cannot have it (its exit would trigger at once)."""
        from runner.state.desired import Action

        problems = []
        for change in changes:
            if change.action is not Action.MODIFY or not change.stop or change.symbol is None:
                continue
            spec = self.refdata.get(change.symbol) if self.refdata is not None else None
            mark = spec.underlier_price if spec is not None else None
            trigger = change.wanted.get("price")
            if mark is None or trigger is None or change.order_type != "STOP_LOSS":
                continue
            selling = change.side == Side.SELL.value
            if (trigger >= mark) if selling else (trigger <= mark):
                where = "below" if selling else "above"
                problems.append(Problem(change.location, f"{change.label}: the new stop "
                                                         f"{number_text(trigger)} is not {where} the market "
                                                         f"({number_text(mark)}): it would trigger at once",
                                        RULE))
        return problems

    def _look_up_undeclared(self) -> dict[str, ExchangeOrderState]:
        from runner.state.plan_diff import undeclared_states

        return undeclared_states(self.session, self.playbook, self.placements.journal.contents,
                                 min(self.timeout, 10.0))

    # --- doing --------------------------------------------------------------------------------------

    def _modify(self, change: Change) -> None:
        message = modify_message(change)
        values = {k: number_text(v) for k, v in change.wanted.items() if v is not None}
        key = change_key(self.playbook.name, self.playbook.run_id, change.order_key, _leg_of(change),
                         "modify", fingerprint(values))
        watch = self.ctx.watch(order_ids=[change.order_id or ""])
        with self.interrupts.critical():
            self.journal.record_modify(key, change.client_order_id or key, change.order_key, change.label,
                                       message)
            self.session.send(message)
        self.ctx.await_answers(watch, [change.order_id or ""])
        answer = watch.answered(change.order_id or "")
        if answer is None:
            raise StopRun(f"no answer within {self.timeout:g}s to the modify of {change.label!r}: its state "
                          f"is unknown; re-run with --converge (it compares the exchange again)",
                          ExitCode.ABORTED)
        self.journal.record_answer(key, answer.raw)
        if answer.status != "MODIFIED":
            self.done.append(f"{change.text()}: QFEX refused it ({answer.status}: {answer.meaning})")
            advice = _PARTIAL if answer.status == "CANNOT_MODIFY_PARTIAL_FILL" else "check it on the exchange"
            raise StopRun(f"QFEX refused to modify {change.label!r} ({answer.status}): {advice}; later "
                          f"changes and orders were not sent", ExitCode.ABORTED)
        self.done.append(f"{change.text()} (in place: order_id {change.order_id} unchanged)")

    def _cancel(self, change: Change) -> None:
        if change.order_id is None:
            return
        message = cancel_stop_order_message(change.order_id) if change.stop \
            else cancel_order_message(change.symbol or "", change.order_id)
        key = change_key(self.playbook.name, self.playbook.run_id, change.order_key, _leg_of(change), "prune",
                         change.order_id)
        watch = self.ctx.watch(order_ids=[change.order_id])
        with self.interrupts.critical():
            self.journal.record_cancel(key, change.client_order_id or key, change.order_id,
                                       "no longer in the playbook (--prune)", message)
            self.session.send(message)
        self.ctx.await_answers(watch, [change.order_id])
        answer = watch.answered(change.order_id)
        if answer is not None:
            self.journal.record_answer(key, answer.raw)
        status = answer.status if answer is not None else f"no answer within {self.timeout:g}s"
        self.done.append(f"cancel {change.label} (order_id {change.order_id}): {status} (--prune)")

    def _confirm(self, modified: dict[str, list[Change]]) -> None:
        """Every change of an order answered MODIFIED: its definition is the playbook's now; the
        exchange's view of it is read again, so the report shows it as it is."""
        by_id = {o.id: o for o in self.playbook.orders}
        coids = []
        for order_key in modified:
            order = by_id[order_key]
            coid = self.playbook.client_order_id(order)
            self.journal.record_modified(coid, order_key, order_definition(order, self.playbook.account))
            coids.append(coid)
            coids += [self.playbook.client_order_id(order, leg) for leg in (Leg.TAKE_PROFIT, Leg.STOP_LOSS)
                      if order.bracket is not None and order.bracket.mode is BracketMode.AFTER_FILL]
        looked = [c for c in coids if c in self.placements.found]
        if looked:
            again = reconcile(self.session, looked, order_types=self.placements.order_types,
                              timeout=min(self.timeout, 10.0),
                              with_exits=self.placements.with_exits & set(looked),
                              entry_hints=self.placements.entry_hints)
            self.placements.found.update(again)


def refuse_break_even_unplaced(playbook: Playbook, placements: Placements) -> None:
    """Any run: an after_fill stop at or past its entry is a move of a filled entry's stop
    (break-even); for an entry not placed yet it is refused before anything is sent."""
    problems = [Problem(order.location, f"order {order.id!r}: {past}: {_UNPLACED}", RULE)
                for order in playbook.orders
                if (past := _stop_past_entry(order))
                and placements.already_placed(playbook.client_order_id(order)) is None]
    if problems:
        raise PlanChanged(problems, f"{counted(len(problems), 'order')} would place a stop that triggers "
                                    f"at once; nothing was sent")


def _stop_past_entry(order: Order) -> str:
    """`stop_loss 225.00 is not below the entry price 225.00` for an after_fill stop at/past its entry."""
    bracket = order.bracket
    if bracket is None or bracket.mode is not BracketMode.AFTER_FILL or order.price is None \
            or bracket.stop_loss is None:
        return ""
    buy = order.side is Side.BUY
    if (bracket.stop_loss >= order.price) if buy else (bracket.stop_loss <= order.price):
        where = "below" if buy else "above"
        return f"stop_loss {bracket.stop_loss:f} is not {where} the entry price {order.price:f}"
    return ""

