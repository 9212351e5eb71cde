"""Which orders are already placed: never placing an order twice, never silently skipping one.

`Placements` answers the run's question "was this client_order_id already placed?" before
anything is sent. The journal answers for orders it knows are settled; every other order is
looked up at the exchange first (`runner.state.reconcile`), so a re-run on a fresh CI machine (no
journal) adopts what an earlier run placed. Orders the journal saw rejected (by an answer the
exchange tied to them) are looked up too, and sent again only if the exchange shows none: they
never existed. A journal line that cannot be trusted (bad checksum, unknown status) proves
nothing: an order it may concern that the exchange does not show is never sent again — the run
stops before sending anything (`OrdersUnsure`, exit 5). An order the exchange shows but the
journal never recorded is compared with the playbook where the exchange shows enough (open
orders): a difference is refused like any other change of a placed order (terraform's
stale-plan rule) unless `--replan`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from runner.errors import OrdersUnsure, PlanChanged
from runner.exchange.pacing import rate_limit_callback
from runner.playbook.exits import exit_legs, step_is_long, step_order
from runner.playbook.ids import Leg
from runner.playbook.model import BracketMode, Order, Playbook, StepKind
from runner.state.definitions import ChangedOrder, definition_diff, order_definition
from runner.state.entries import JournalEntry
from runner.state.journal import Journal
from runner.state.reconcile import LOOKUP_TIMEOUT_S, ExchangeOrderState, LookupSession, Presence, reconcile
from runner.words import counted, number_text

#: An unanswered send younger than this may still be on its way into the exchange (QFEX holds
#: limit orders 100 ms in its speed bump); "not found" is only believed after it.
SETTLE_S = 1.0

#: the parts of an order's definition a report shows (and can show differing from the playbook)
DEFINITION_FIELDS = ("symbol", "side", "type", "quantity", "price", "time_in_force", "reduce_only",
                     "take_profit", "stop_loss")


@dataclass(frozen=True)
class Planned:
    """One client_order_id the playbook may place: an entry, or an after_fill exit."""

    client_order_id: str
    order: Order
    leg: str
    quantity: Decimal | None
    """Known up front for entries; after_fill exits are sized at run time."""
    order_type: str


def planned_orders(playbook: Playbook) -> list[Planned]:
    """Every client_order_id the playbook may place, in playbook order: each entry, then its
    after_fill exits (attached exits are not orders of ours: the exchange stages them on the entry)."""
    planned: list[Planned] = []
    for order in playbook.orders:
        planned.append(Planned(playbook.client_order_id(order, Leg.ENTRY), order, Leg.ENTRY.value,
                               order.quantity, order.type.value))
        bracket = order.bracket
        if bracket is not None and bracket.exit_plan:  # a ladder's levels, its stop (runner.playbook.exits)
            planned += exit_plan_planned(playbook, order)
        elif bracket is not None and bracket.mode is BracketMode.AFTER_FILL:
            for leg, trigger, kind in ((Leg.TAKE_PROFIT, bracket.take_profit, "TAKE_PROFIT"),
                                       (Leg.STOP_LOSS, bracket.stop_loss, "STOP_LOSS")):
                if trigger is not None:
                    coid = playbook.client_order_id(order, leg)
                    planned.append(Planned(coid, order, leg.value, None, kind))
    for step in playbook.steps:  # an `exits:` step's exits are orders of ours too
        if step.kind is StepKind.EXITS and step.exits is not None:
            long = step_is_long(step.exits)
            planned += exit_plan_planned(playbook, step_order(step.id, step.symbol or "", long is not False,
                                                              step.quantity or Decimal(0), step.exits))
    return planned


def exit_plan_planned(playbook: Playbook, order: Order) -> list[Planned]:
    """An exit plan's orders: each take-profit level, the stop-loss, the close_after order."""
    planned = [Planned(playbook.client_order_id(order, x.leg), order, x.leg.value, None, x.order_type.value)
               for x in exit_legs(order)]
    bracket = order.bracket
    if bracket is not None and bracket.manage is not None and bracket.manage.close_after is not None:
        planned.append(Planned(playbook.client_order_id(order, Leg.CLOSE), order, Leg.CLOSE.value, None,
                               "MARKET"))
    return planned


class PlannedOrders:
    """A playbook's planned orders and what a lookup at the exchange needs to know of them: derived
    once, the same for `run` (Placements) and `status`.

    Only entries with an *attached* bracket are looked up "with exits": the exchange stages those
    exits under the entry's client_order_id, so they are found through it (and their trades by a scan
    of the account's trades). An after_fill entry's exits are orders of their own, with their own
    client_order_ids, looked up like any other order.
    """

    def __init__(self, playbook: Playbook) -> None:
        self.by_coid: dict[str, Planned] = {p.client_order_id: p for p in planned_orders(playbook)}
        #: coid → the order's type (tells an entry's rows from its attached exits' rows)
        self.order_types: dict[str, str] = {coid: p.order_type for coid, p in self.by_coid.items()}
        #: entries whose exits the exchange stages (attached brackets): only it knows their fate
        self.with_exits: set[str] = {coid for coid, p in self.by_coid.items() if p.leg == Leg.ENTRY.value
                                     and p.order.bracket is not None
                                     and p.order.bracket.mode is BracketMode.ATTACHED}
        #: the side and limit price of those entries (tells their trades from their exits')
        self.entry_hints: dict[str, tuple[str, Decimal | None]] = {
            coid: (p.order.side.value, p.order.price) for coid, p in self.by_coid.items()
            if coid in self.with_exits}

    def __iter__(self) -> Iterator[Planned]:
        return iter(self.by_coid.values())

    @property
    def coids(self) -> list[str]:
        return list(self.by_coid)


def _age_seconds(iso: str | None, now: float) -> float | None:
    if not iso:
        return None
    try:
        return now - dt.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


# --- before sending: what is already placed -----------------------------------------------------------


class Placements:
    """The exactly-once oracle behind the run's `already_placed` (see the module docstring)."""

    def __init__(self, journal: Journal, playbook: Playbook, *, replan: bool = False, converge: bool = False,
                 settle_s: float = SETTLE_S, lookup_timeout: float = LOOKUP_TIMEOUT_S,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.journal = journal
        self.playbook = playbook
        self.replan = replan
        #: `run --converge`: placed orders that differ are modified in place (runner.run.converge), so a
        #: difference is neither refused nor reported as left as it is
        self.converge = converge
        plan = PlannedOrders(playbook)
        self.planned = plan.by_coid
        self.order_types = plan.order_types
        self.with_exits = plan.with_exits
        self.entry_hints = plan.entry_hints
        self.settle_s = settle_s
        #: how long each lookup waits for the exchange's answer (the run's --timeout, capped)
        self.lookup_timeout = lookup_timeout
        self._clock = clock
        self._sleep = sleep
        self.found: dict[str, ExchangeOrderState] = {}
        self.warnings: list[str] = []
        self.changed: list[ChangedOrder] = []
        """Placed orders that differ from the playbook as the exchange shows them (with --replan)."""
        #: False when the exchange's trade rows carry no client_order_id (exits' fills cannot be found)
        self.trades_visible = True
        self.looked_up = False

    @property
    def symbols(self) -> dict[str, str]:
        """coid -> the symbol it trades (scopes the order-id lookup of trades without client ids)."""
        return {coid: planned.order.symbol for coid, planned in self.planned.items()}

    def to_look_up(self) -> list[str]:
        """Every planned coid not known (from an intact journal) to be settled, every one the journal
        saw rejected (it is sent again: the exchange must confirm it has none), and every placed
        entry with an attached bracket (its exits live on at the exchange after the entry settles)."""
        damaged = self.journal.damaged
        coids = []
        for coid in self.planned:
            entry = self.journal.entry(coid)
            if damaged or entry is None or not entry.settled or entry.rejected \
                    or (coid in self.with_exits and entry.accepted):
                coids.append(coid)
        return coids

    def reconcile(self, session: LookupSession) -> None:
        """Look up every order not known to be settled; believe "not found" for a recent send only
        after it has had time to arrive. Raises PlanChanged for an adopted order that differs."""
        for change in [] if self.converge else self.journal.changed:
            self.warnings.append(f"order {change.order_key!r} was placed with another definition: "
                                 f"{change.change}; left as it is on the exchange (--replan)")
        stale = self.journal.took_over_stale_lock
        if stale:
            self.warnings.append(f"took over the state lock of a run that ended without releasing it "
                                 f"({stale})")
        coids = self.to_look_up()
        self.looked_up = True
        if not coids:
            return
        known = {c: e.order_id for c in coids if (e := self.journal.entry(c)) is not None and e.order_id}
        exits = {c: list(self.exit_order_ids(c).values()) for c in coids if c in self.with_exits}
        looked_up = set(coids)  # (a set: `in` a list made this quadratic in the orders)
        symbols = {c: s for c, s in self.symbols.items() if c in looked_up}
        found = reconcile(session, coids, known_order_ids=known, order_types=self.order_types,
                          timeout=self.lookup_timeout, with_exits=self.with_exits,
                          entry_hints=self.entry_hints, on_rate_limited=rate_limit_callback(session),
                          exit_order_ids=exits, symbols=symbols, clock=self._clock)
        if found.order_lookup is not None:
            self.warnings.append(f"exactly-once lookup: {found.order_lookup.describe()}")
        recent = self._recent_unanswered([c for c in coids if not found[c].placed])
        if recent:
            self._sleep(recent)
            again = reconcile(session, [c for c in coids if not found[c].placed], known_order_ids=known,
                              order_types=self.order_types, timeout=self.lookup_timeout,
                              on_rate_limited=rate_limit_callback(session), symbols=symbols,
                              clock=self._clock)
            found.update(again)
            found.unsure = again.unsure
            # unchanged behaviour: a second lookup has always left the visibility of trades unknown
            # (treated as visible), whatever either lookup saw
            found.trades_carry_client_ids = None
        self.trades_visible = found.trades_attributable
        with self.journal.batch():  # one write for every lookup; durable with the first intent's fsync
            for coid in coids:
                self._note(coid, found[coid])
        self._check_drift()
        self._refuse_unproven()
        self._refuse_unsure(found.unsure, found.order_lookup.problem if found.order_lookup else None)

    def _refuse_unsure(self, unsure: Iterable[str], problem: str | None) -> None:
        """Orders the exchange does not show, which the order-id lookup could not rule out (trade rows
        without client ids, and the lookup could not complete): none may be sent (exit 5)."""
        unsure = set(unsure)  # once, not once per planned order
        names = [f"{self.planned[c].order.id!r}" + (f" ({self.planned[c].leg})"
                                                     if self.planned[c].leg != Leg.ENTRY.value else "")
                 for c in self.planned if c in unsure]
        if not names:
            return
        raise OrdersUnsure(
            f"whether {', '.join(names)} {'was' if len(names) == 1 else 'were'} already placed is unknown: "
            f"the exchange's trades carry no client_order_id and tying them to client ids did not "
            f"complete ({problem}); nothing was sent. Resolve: re-run when the exchange answers again "
            f"(rate limit, outage); or keep the journal between runs (--state-dir on a persistent disk, "
            f"or restore it from the machine that ran before); or check the account's trades "
            f"(`qfex-runner status`, the exchange's UI) and, if none of these was placed, change run_id")
    def unproven(self) -> list[Planned]:
        """Planned orders the exchange does not show that the journal cannot prove were never placed:
        a damaged line names them, or names no order at all (then it may have been any order's ACK
        before a cancel, which leaves no trace at the exchange). None of these may be sent."""
        if not self.journal.damaged:
            return []
        anyone = self.journal.contents.unattributed_damage > 0
        unproven = []
        for coid, planned in self.planned.items():
            state = self.found.get(coid)
            entry = self.journal.entry(coid)
            if state is None or state.placed or (entry is not None and entry.accepted):
                continue
            if anyone or (entry is not None and entry.damaged):
                unproven.append(planned)
        return unproven

    def _refuse_unproven(self) -> None:
        unproven = self.unproven()
        if not unproven:
            return
        names = ", ".join(f"{p.order.id!r}" + (f" ({p.leg})" if p.leg != Leg.ENTRY.value else "")
                          for p in unproven)
        raise OrdersUnsure(
            f"the journal {self.journal.path} has "
            f"{counted(self.journal.contents.damaged_lines, 'damaged line')}, and "
            f"{counted(len(unproven), 'order')} the exchange does not show may have been placed "
            f"({names}): nothing was sent. Check them on the exchange (`qfex-runner status`); if none "
            f"was placed, move the journal aside and re-run (orders the exchange shows are adopted), "
            f"or use a new run_id")

    def _recent_unanswered(self, not_found: Iterable[str]) -> float:
        """Seconds to wait until every unanswered send among `not_found` is older than settle_s."""
        now = self._clock()
        wait = 0.0
        for coid in not_found:
            entry = self.journal.entry(coid)
            if entry is None or not entry.unsure:
                continue
            age = _age_seconds(entry.last_intent_at, now)
            if age is not None and age < self.settle_s:
                wait = max(wait, self.settle_s - age)
        return wait

    def _note(self, coid: str, state: ExchangeOrderState) -> None:
        self.found[coid] = state
        planned = self.planned[coid]
        self.journal.record_reconciled(coid, state.presence.value, order_id=state.order_id,
                                       filled_quantity=state.filled_quantity, remaining=state.remaining,
                                       quantity=planned.quantity, order_key=planned.order.id)
        if state.copies > 1:
            self.warnings.append(
                f"order {planned.order.id!r} ({planned.leg}): client_order_id {coid} exists "
                f"{state.copies} times on the exchange (order ids {', '.join(state.order_ids)}); "
                f"none is sent again")

    def _check_drift(self) -> None:
        """Adopted open orders the journal never saw placed: compare what the exchange shows."""
        accepted = self.journal.contents.accepted_definitions
        changed: list[ChangedOrder] = []
        for coid, state in self.found.items():
            planned = self.planned[coid]
            if state.presence is not Presence.OPEN or planned.leg != "entry" or planned.order.id in accepted:
                continue
            drift = exchange_drift(planned.order, state)
            if planned.order.sizing is not None:  # sized from equity that moved: the exchange's is the one
                drift.pop("quantity", None)
            if drift:
                shown, wanted = _exchange_view(state.open_rows[0]), _playbook_view(planned.order)
                comparable = {k: v for k, v in shown.items() if v is not None}
                change = definition_diff(comparable, {k: wanted[k] for k in comparable})
                change += " (as the exchange shows the open order)"
                changed.append(ChangedOrder(planned.order.id, change, planned.order.location, comparable,
                                            wanted))
        if self.converge:
            changed = []  # converged in place next (runner.run.converge), not refused
        if changed and not self.replan:
            raise PlanChanged([c.problem() for c in changed],
                              f"{counted(len(changed), 'order')} already open on the exchange under this "
                              f"name/run_id {'differs' if len(changed) == 1 else 'differ'} from the "
                              f"playbook; nothing was sent. Revert the change, use a new run_id, or re-run "
                              f"with --replan to leave them as they are")
        self.changed = changed
        for c in changed:
            self.warnings.append(f"order {c.order_key!r} was placed with a different definition: {c.change}; "
                                 f"left as it is (--replan)")
        for coid, state in self.found.items():
            if state.placed and self.planned[coid].leg == "entry":
                order = self.planned[coid].order
                if self.converge and exchange_drift(order, state):
                    continue  # its definition is recorded once the modify is confirmed, not before
                placed = state.quantity or state.filled_quantity or None  # what the exchange placed
                self.journal.record_adopted(order.id, quantity=placed if order.sizing is not None else None)

    def change_note(self, order_key: str) -> str | None:
        """For the report: how a placed order's definition differs from the playbook (--replan)."""
        changes = [*self.journal.changed, *self.changed]
        found = next((c for c in changes if c.order_key == order_key), None)
        return f"placed with another definition ({found.change})" if found else None

    def exit_order_ids(self, coid: str) -> dict[str, str]:
        """An entry's attached exits' own order ids as an earlier run recorded them (leg → id)."""
        entry = self.journal.entry(coid)
        return dict(entry.exit_order_ids) if entry is not None else {}

    def placed_differences(self, coid: str) -> dict[str, tuple[Any, Any]]:
        """For the report: `{field: (as placed, in the playbook)}` where a placed order is not what the
        playbook says now (a `--replan`-accepted edit, or an adopted order that differs).

        Sources, the exchange winning: the definition its intent recorded (journal), then what the
        exchange shows of the open order (`exchange_drift`, the comparison `status` notes too).
        """
        planned = self.planned.get(coid)
        if planned is None or planned.leg != "entry":
            return {}
        differences: dict[str, tuple[Any, Any]] = {}
        entry = self.journal.entry(coid)
        if entry is not None and entry.definition:
            today = order_definition(planned.order, self.playbook.account)
            differences = {key: (entry.definition.get(key), today.get(key)) for key in DEFINITION_FIELDS
                           if key in entry.definition and entry.definition.get(key) != today.get(key)}
        state = self.found.get(coid)
        if state is not None:
            differences.update(exchange_drift(planned.order, state))
        return differences

    def already_placed(self, coid: str) -> JournalEntry | None:
        """The entry to adopt (never re-send) for a placed order; None when it must be sent."""
        entry = self.journal.entry(coid)
        state = self.found.get(coid)
        if state is None:  # not looked up: the journal knows it settled (placed, or rejected)
            return entry if entry is not None and entry.accepted else None
        if state.placed:
            return entry
        # not on the exchange: placed earlier only if we saw it accepted (then cancelled/expired unfilled)
        return entry if entry is not None and entry.accepted else None


def _num(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        return None
    return number_text(number)


def _exchange_view(row: Mapping[str, Any]) -> dict[str, str | None]:
    kind = row.get("type") or row.get("order_type")
    return {"symbol": row.get("symbol"), "side": row.get("side"), "type": kind,
            "quantity": _num(row.get("quantity")),
            "price": _num(row.get("price")) if kind != "MARKET" else None}


def _playbook_view(order: Order) -> dict[str, str | None]:
    return {"symbol": order.symbol, "side": order.side.value, "type": order.type.value,
            "quantity": _num(order.quantity),
            "price": _num(order.price) if order.type.value != "MARKET" else None}


def exchange_drift(order: Order, state: ExchangeOrderState) -> dict[str, tuple[str, str | None]]:
    """`{field: (on the exchange, in the playbook)}` where an open order differs from `order` as the
    exchange shows it (symbol, side, type, quantity, price); {} when it is not open."""
    if state.presence is not Presence.OPEN or not state.open_rows:
        return {}
    shown, wanted = _exchange_view(state.open_rows[0]), _playbook_view(order)
    return {key: (value, wanted[key]) for key, value in shown.items()
            if value is not None and value != wanted[key]}


# --- after a reconnect: catch up -----------------------------------------------------------------------


# --- the connection that comes back -------------------------------------------------------------------


