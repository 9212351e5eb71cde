"""What the exchange shows of an entry's *attached* take-profit / stop-loss exits, leg by leg.

An attached bracket is staged by the exchange itself: the runner never sends its legs, so after
the run ends (or on a re-run from a fresh machine) only the exchange can say what became of them.
`runner.state.reconcile` hands over the rows that belong to the entry's exits (`ExchangeOrderState.legs`:
open stop rows, and trades of other orders tagged with the entry's client_order_id). This module
tells the legs apart and says, for each, one of:

- open (its row's status, e.g. ACK) — armed, not triggered;
- FILLED — it triggered and traded (its fills listed);
- CANCELLED — the entry filled, yet the leg is neither open nor traded: it can no longer fire.
  When the other leg traded, that is the one-cancels-other rule; otherwise it was cancelled by hand
  or closed with the position — the note says which the runner believes;
- nothing (`status None`) — the entry has not filled, so the exchange has not armed it yet.

Open rows name their type (TAKE_PROFIT / STOP_LOSS). Trade rows may not (QFEX's documented
`get_user_trades` rows carry no order type): the leg is then the one whose trigger is nearer the
trade price, and the note says the leg was identified by price. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from runner.exchange.protocol import wire_decimal

TAKE_PROFIT, STOP_LOSS = "take_profit", "stop_loss"
_TYPE_TO_LEG = {"TAKE_PROFIT": TAKE_PROFIT, "STOP_LOSS": STOP_LOSS}
_LABEL = {TAKE_PROFIT: "take-profit", STOP_LOSS: "stop-loss"}
#: the note of an attached leg whose entry ended without a fill (shown as "never armed")
NEVER_ARMED = "never armed: the entry ended without a fill"
#: the note of an attached leg that is not open when the exchange's trade rows cannot show its fills
UNSEEN = ("unknown: not open at the exchange, and its trade rows carry no client_order_id, so whether it "
          "triggered cannot be told")
#: the note of an attached leg whose entry still rests unfilled
PENDING = "pending: not announced by the exchange while the entry is unfilled"


@dataclass
class LegState:
    """One attached leg as the exchange shows it."""

    leg: str  # take_profit | stop_loss
    status: str | None = None
    order_ids: list[str] = field(default_factory=list)
    quantity: Decimal | None = None
    trades: list[Mapping[str, Any]] = field(default_factory=list)
    note: str = ""

    @property
    def filled(self) -> Decimal:
        return sum((wire_decimal(t.get("quantity")) or Decimal(0) for t in self.trades), Decimal(0))

    @property
    def order_id(self) -> str | None:
        return self.order_ids[0] if self.order_ids else None




def _row_type(row: Mapping[str, Any]) -> str | None:
    value = row.get("type", row.get("order_type", row.get("stop_order_type")))
    return str(value) if value is not None else None


def attached_leg_states(rows: Iterable[Mapping[str, Any]], triggers: Mapping[str, Decimal | None],
                        entry_filled: Decimal, *, trades_visible: bool = True,
                        known_ids: Mapping[str, str] | None = None) -> dict[str, LegState]:
    """Leg name → state, for every leg with a trigger in `triggers` ({"take_profit": 240, ...}).

    `rows` are the entry's exit rows (open stop rows and trades), `entry_filled` what the entry
    has filled (no fill: the exchange has armed nothing yet). `trades_visible` False: the
    exchange's trade rows carry no client_order_id, so an exit's trades cannot be found and a leg
    that is not open is unknown (status None, note UNSEEN), never assumed cancelled. `known_ids`
    (leg name → its own order id, recorded by the run that saw the exchange announce it) names a
    leg's rows without a guess by price; whether its trades can be seen then is the caller's call
    (`visible_with`).
    """
    known = {str(order_id): name for name, order_id in (known_ids or {}).items() if order_id}
    wanted = [name for name in (TAKE_PROFIT, STOP_LOSS) if triggers.get(name) is not None]
    states = {name: LegState(name) for name in wanted}
    if not wanted:
        return states
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for n, row in enumerate(rows):
        key = str(row.get("order_id") or row.get("stop_order_id") or f"row-{n}")
        groups.setdefault(key, []).append(row)
    by_price: set[str] = set()
    for order_id, group in groups.items():
        name, guessed = (known[order_id], False) if known.get(order_id) in wanted \
            else _which_leg(group, triggers, wanted)
        if name is None:
            continue
        state = states[name]
        if guessed:
            by_price.add(name)
        if not order_id.startswith("row-") and order_id not in state.order_ids:
            state.order_ids.append(order_id)
        open_rows = [r for r in group if _is_open_row(r)]
        state.trades.extend(r for r in group if not _is_open_row(r))
        if open_rows:
            row = open_rows[0]
            state.status = str(row.get("status") or "ACK")
            state.quantity = wire_decimal(row.get("quantity"))
    for name, state in states.items():
        if not state.order_ids and (known_ids or {}).get(name):
            state.order_ids.append(str(known_ids[name]))  # type: ignore[index]
        if state.status is None and state.trades:
            state.status = "FILLED"
        if state.quantity is None and state.trades:
            state.quantity = state.filled
        if name in by_price:
            state.note = ("identified by its trade price (the exchange's trade rows do not say which exit "
                          "traded)")
    if entry_filled > 0:
        for name, state in states.items():
            if state.status is not None:
                continue
            if not trades_visible:
                state.note = UNSEEN
                continue
            other = next((s for n, s in states.items() if n != name and s.trades), None)
            state.status = "CANCELLED"
            if other is not None:
                state.note = (f"not open at the exchange and never traded: cancelled when the "
                              f"{_LABEL[other.leg]} filled (one exit cancels the other)")
            else:
                state.note = ("not open at the exchange and never traded: cancelled (by hand, or when the "
                              "position closed)")
    return states


def visible_with(trades_carry_client_ids: bool, known_ids: Mapping[str, str] | None,
                 triggers: Mapping[str, Decimal | None]) -> bool:
    """Can every exit's trades be found? Yes when trade rows carry client ids, or when every exit's
    own order id is known (its trades are then found by that id)."""
    wanted = [name for name in (TAKE_PROFIT, STOP_LOSS) if triggers.get(name) is not None]
    return trades_carry_client_ids or all((known_ids or {}).get(name) for name in wanted)


def _is_open_row(row: Mapping[str, Any]) -> bool:
    """An open-order row (it has a status); trade rows have none."""
    return "status" in row or "quantity_remaining" in row


def _which_leg(group: list[Mapping[str, Any]], triggers: Mapping[str, Decimal | None],
               wanted: list[str]) -> tuple[str | None, bool]:
    """(leg name, identified by price?) for the rows of one exchange order."""
    for row in group:
        name = _TYPE_TO_LEG.get(_row_type(row) or "")
        if name is not None:
            return (name, False) if name in wanted else (None, False)
    if len(wanted) == 1:
        return wanted[0], False
    prices = [p for r in group if (p := wire_decimal(r.get("price"))) is not None]
    if not prices:
        return None, False
    price = prices[0]
    tp, sl = triggers[TAKE_PROFIT], triggers[STOP_LOSS]
    assert tp is not None and sl is not None
    return (TAKE_PROFIT if abs(price - tp) <= abs(price - sl) else STOP_LOSS), True
