"""Short human strings shared by the text and Markdown renderers (one wording everywhere)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from runner.report.model import LegResult, OrderResult, Report
from runner.words import counted


def num(value: Decimal | None) -> str:
    if value is None:
        return "-"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def price(value: Decimal | None) -> str:
    """Prices exactly as written (220.00 stays 220.00): traders read ticks."""
    return "-" if value is None else format(value, "f")


def filled(order: OrderResult) -> str:
    qty = order.filled_quantity
    if order.sent_at is None and not qty and not order.statuses:
        return "-"
    text = f"{num(qty)}/{num(order.quantity)}"
    avg = order.average_price
    if avg is not None:
        text += f" @ {num(avg.quantize(Decimal('1e-6')).normalize())}"
    return text


def leg(leg: LegResult) -> str:
    name = "TP" if leg.leg == "take_profit" else "SL"
    if leg.reject:
        status = leg.reject.code
    elif leg.last_status:
        status = leg.last_status
    else:
        status = "not placed" if leg.mode != "attached" else \
            "never armed" if leg.note.startswith("never armed") else \
            "unknown" if leg.note.startswith("unknown") else "pending"
    qty = f" x{num(leg.quantity)}" if leg.quantity is not None else ""
    text = f"{name} {price(leg.trigger_price)}{qty} {status}"
    priced = [f for f in leg.fills if f.price is not None]
    if priced:
        traded = sum((f.quantity for f in priced), Decimal(0))
        avg = sum((f.price * f.quantity for f in priced), Decimal(0)) / traded  # type: ignore[operator]
        text += f" @ {num(avg.quantize(Decimal('1e-6')).normalize())}"
    return text


def leg_notes(report: Report) -> list[tuple[OrderResult, str, str]]:
    """(order, legs, note) for every bracket leg with something to explain (pending, identified by
    price, cancelled, not placed...); legs of one order sharing a note are named together."""
    out: list[tuple[OrderResult, str, str]] = []
    for o in report.orders:
        by_note: dict[str, list[LegResult]] = {}
        for x in o.legs:
            if x.note:
                by_note.setdefault(x.note, []).append(x)
        for note, same in by_note.items():
            names = " and ".join(x.leg.replace("_", "-") for x in same)
            ids = ", ".join(x.order_id for x in same if x.order_id)
            out.append((o, f"{names} ({same[0].mode.replace('_', ' ')})" + (f" {ids}" if ids else ""), note))
    return out


def legs(order: OrderResult) -> str:
    return ", ".join(leg(x) for x in order.legs) or "-"


def reject(order: OrderResult) -> str:
    if order.reject is None:
        return "-"
    return f"{order.reject.code} ({order.reject.meaning})"


def latency(order: OrderResult) -> str:
    ms = order.latency_ms
    return "-" if ms is None else f"{ms:.1f} ms"


def status(order: OrderResult) -> str:
    """The path the order took and its end state in QFEX's terms, `ACK → CANCELLED — IOC: nothing
    filled, cancelled`; a FILLED that left a remainder is never shown as plain FILLED."""
    path: list[str] = []
    for seen in order.statuses:
        name = seen.status
        if name == "FILLED" and seen.quantity_remaining is not None and seen.quantity_remaining > 0:
            name = "FILLED (partially)"
        if not path or path[-1] != name:
            path.append(name)
    if path and path[-1] == "FILLED" and order.filled_quantity < order.quantity \
            and (order.quantity_remaining or 0) > 0:
        path[-1] = "FILLED (partially)"
    shown = " → ".join(path) or "-"
    if not order.end_state or order.reject is not None:  # a reject's code is the status already
        return shown
    return f"{shown} — {order.end_state}"


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def headline(report: Report) -> str:
    s = report.summary
    c = report.counts
    parts = [counted(c["orders"], "order"), f"{c['passed']} passed", f"{c['failed']} failed"]
    extra = (("already_placed", "already placed"), ("not_sent", "not sent"), ("unknown", "unknown"))
    for key, label in extra:
        if c[key]:
            parts.append(f"{c[key]} {label}")
    duration = f" in {seconds(float(s.duration_s))}" if s.duration_s is not None else ""
    return f"{s.outcome.value.upper()}: {', '.join(parts)}{duration} (exit {s.exit_code})"


COLUMNS = ("#", "order", "symbol", "side", "type", "qty", "price", "status", "filled", "bracket", "reject",
           "latency", "outcome")


#: how the outcome cell marks an order the playbook now defines otherwise than it was placed
DIFFERENT = "placed with a different definition"


def outcome(order: OrderResult) -> str:
    return f"{order.outcome.value} ({DIFFERENT})" if order.differences else order.outcome.value


def _as_placed(order: OrderResult, key: str, shown: str, show: Callable[[Decimal | None], str]) -> str:
    """A cell showing the placed value, and the playbook's when they differ: `240.00 (playbook 241)`."""
    if key not in order.differences:
        return shown
    wanted = order.differences[key][1]
    return f"{shown} (playbook {show(wanted) if isinstance(wanted, Decimal) or wanted is None else wanted})"


def row(order: OrderResult) -> list[str]:
    return [str(order.index + 1), order.id, order.symbol, order.side, order.type,
            _as_placed(order, "quantity", num(order.quantity), num),
            _as_placed(order, "price", price(order.price), price), status(order), filled(order), legs(order),
            reject(order), latency(order), outcome(order)]


def definition_notes(report: Report) -> list[OrderResult]:
    """Orders placed with a definition the playbook no longer has (their verdict says how)."""
    return [o for o in report.orders if o.differences]
