"""Short human strings shared by the text and Markdown renderers (one wording everywhere)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal

from runner.report.model import Instrument, LegResult, OrderResult, Outcome, Report, StepResult
from runner.words import counted, number_text


def num(value: Decimal | None) -> str:
    return "-" if value is None else number_text(value)


def _decimals(step: Decimal) -> int:
    """0.01 → 2, 0.05 → 2, 1 → 0, 5 → 0: the places a multiple of `step` can need."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


#: a tick's quantum (0.05 → Decimal("0.01")), per tick: a report has few ticks and many rows
_QUANTUM: dict[Decimal, Decimal] = {}


def _quantum(tick: Decimal) -> Decimal:
    quantum = _QUANTUM.get(tick)
    if quantum is None:
        quantum = Decimal(1).scaleb(-_decimals(tick))
        if len(_QUANTUM) < 256:
            _QUANTUM[tick] = quantum
    return quantum


def price(value: Decimal | None, tick: Decimal | None = None) -> str:
    """A price with the tick's decimals when the tick is known (220 with tick 0.01 reads 220.00),
    else exactly as written (220.00 stays 220.00): traders read ticks. Never drops a written digit."""
    if value is None:
        return "-"
    if tick is not None:
        shown = value.quantize(_quantum(tick))
        if shown == value:
            return format(shown, "f")
    return format(value, "f")


def average(value: Decimal, tick: Decimal | None = None) -> str:
    """An average fill price, for display only (report.json keeps it exact): rounded to the tick's
    decimals when the tick is known (225.00), else to six places without trailing zeros."""
    if tick is not None:
        return format(value.quantize(_quantum(tick)), "f")
    return num(value.quantize(Decimal("1e-6")).normalize())


def units_for(report: Report, order: OrderResult) -> Instrument | None:
    """The tick and lot an order's numbers are shown with; none (figures exactly as recorded) for an
    order placed with a different definition, whose cells set the placed figure against the
    playbook's as written (`240 (playbook 241)`)."""
    return None if order.differences else report.instruments.get(order.symbol)


def _tick(units: Instrument | None) -> Decimal | None:
    return units.tick_size if units is not None else None


def filled(order: OrderResult, units: Instrument | None = None, quantity: str | None = None) -> str:
    """`2/2 @ 225.00`: quantities plain (exact, without padding zeros), the average at the tick.
    `quantity`: the order's quantity as `num` writes it, when the caller has it already."""
    qty = order.filled_quantity
    if order.sent_at is None and not qty and not order.statuses:
        return "-"
    text = f"{num(qty)}/{num(order.quantity) if quantity is None else quantity}"
    avg = order.average_price
    if avg is not None:
        text += f" @ {average(avg, _tick(units))}"
    return text


def leg_label(name: str) -> str:
    """take_profit -> TP, take_profit_2 -> TP2 (a ladder's levels), stop_loss -> SL, close -> CLOSE."""
    if name.startswith("take_profit"):
        return "TP" + name[len("take_profit_"):] if name != "take_profit" else "TP"
    return "SL" if name == "stop_loss" else name.upper()


def leg(leg: LegResult, units: Instrument | None = None) -> str:
    name = leg_label(leg.leg)
    if leg.reject:
        status = leg.reject.code
    elif leg.last_status:
        status = leg.last_status
    else:
        status = "not placed" if leg.mode != "attached" else \
            "never armed" if leg.note.startswith("never armed") else \
            "unknown" if leg.note.startswith("unknown") else "pending"
    qty = f" x{num(leg.quantity)}" if leg.quantity is not None else ""
    text = f"{name} {price(leg.trigger_price, _tick(units))}{qty} {status}"
    priced = [f for f in leg.fills if f.price is not None]
    if priced:
        traded = sum((f.quantity for f in priced), Decimal(0))
        avg = sum((f.price * f.quantity for f in priced), Decimal(0)) / traded  # type: ignore[operator]
        text += f" @ {average(avg, _tick(units))}"
    return text


def leg_notes(report: Report) -> list[tuple[OrderResult, str, str]]:
    """(order, legs, note) for every bracket leg with something to explain (pending, identified by
    price, cancelled, not placed...); legs of one order sharing a note are named together."""
    out: list[tuple[OrderResult, str, str]] = []
    for o in report.orders:
        if not o.legs:  # most orders (no dict made for them)
            continue
        by_note: dict[str, list[LegResult]] = {}
        for x in o.legs:
            if x.note:
                by_note.setdefault(x.note, []).append(x)
        for note, same in by_note.items():
            names = " and ".join(x.leg.replace("_", "-") for x in same)
            ids = ", ".join(x.order_id for x in same if x.order_id)
            out.append((o, f"{names} ({same[0].mode.replace('_', ' ')})" + (f" {ids}" if ids else ""), note))
    return out


def legs(order: OrderResult, units: Instrument | None = None) -> str:
    if not order.legs:  # most rows
        return "-"
    return ", ".join([leg(x, units) for x in order.legs]) or "-"


def reject(order: OrderResult) -> str:
    if order.reject is None:
        return "-"
    return f"{order.reject.code} ({order.reject.meaning})"


_TENTH = Decimal("0.1")
#: half-up rounding without a keyword argument per call (a row's latency cell)
_HALF_UP = Context(rounding=ROUND_HALF_UP)


def latency(order: OrderResult) -> str:
    """Milliseconds to one decimal, half up, from the number's text: a run's float (0.65) and the
    same figure read back from report.json as a Decimal must render alike (`report` re-renders)."""
    ms = order.latency_ms
    if ms is None:
        return "-"
    return f"{_HALF_UP.quantize(Decimal(str(ms)), _TENTH)} ms"


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


#: the counts shown only when there is one to show, in this order
_OPTIONAL_COUNTS = (("already_placed", "already placed"), ("not_sent", "not sent"), ("unknown", "unknown"))


def counts(report: Report) -> str:
    """`3 orders, 3 passed, 0 failed`: passed and failed are the pair CI readers look for, shown
    together whenever either is non-zero or nothing else is to say; the other counts only when
    non-zero (`3 orders, 3 already placed`, not `0 passed, 0 failed, 3 already placed`); an invalid
    playbook says so instead of counting no orders."""
    c = report.counts
    if not c["orders"] and report.problems:
        errors = sum(1 for p in report.problems if p.severity.value == "error")
        return f"playbook invalid ({counted(errors, 'problem')}), nothing sent"
    others = [f"{c[key]} {label}" for key, label in _OPTIONAL_COUNTS if c[key]]
    pair = [f"{c['passed']} passed", f"{c['failed']} failed"] if c["passed"] or c["failed"] or not others \
        else []
    return ", ".join([counted(c["orders"], "order"), *pair, *others])


def step_counts(report: Report) -> str:
    """`2 steps, 2 passed` (failed, unknown and not sent only when non-zero); "" without steps."""
    if not report.steps:
        return ""
    by = {o: sum(1 for x in report.steps if x.outcome is o) for o in Outcome}
    parts = [counted(len(report.steps), "step"), f"{by[Outcome.PASSED]} passed"]
    for outcome_, label in ((Outcome.ALREADY_PLACED, "already done"), (Outcome.FAILED, "failed"),
                            (Outcome.UNKNOWN, "unknown"), (Outcome.NOT_SENT, "not run")):
        if by[outcome_]:
            parts.append(f"{by[outcome_]} {label}")
    return ", ".join(parts)


def step_line(step: StepResult) -> str:
    """`kill (cancel): passed — cancelled 2 orders`: one step in one line, the same in every format."""
    word = "already done" if step.outcome is Outcome.ALREADY_PLACED else step.outcome.value
    return f"{step.id} ({step.kind}): {word} — {step.verdict}"


def headline(report: Report) -> str:
    """`PASSED: 3 orders, 3 passed, 0 failed in 152 ms (exit 0)`: the last line of every format."""
    s = report.summary
    parts = [counts(report)] if report.orders or not report.steps else []
    if report.steps:
        parts.append(step_counts(report))
    duration = f" in {seconds(float(s.duration_s))}" if s.duration_s is not None else ""
    return f"{s.outcome.value.upper()}: {'; '.join(parts)}{duration} (exit {s.exit_code})"


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


def row(order: OrderResult, units: Instrument | None = None) -> list[str]:
    """One order's cells; `units` (its symbol's tick and lot, when known) set how its numbers read."""
    placed = quantity = num(order.quantity)
    shown_price = price(order.price, _tick(units))
    if order.differences:
        quantity = _as_placed(order, "quantity", quantity, num)
        shown_price = _as_placed(order, "price", shown_price, price)
    return [str(order.index + 1), order.id, order.symbol, order.side, order.type, quantity, shown_price,
            status(order), filled(order, units, placed), legs(order, units), reject(order), latency(order),
            outcome(order)]


def rows(report: Report) -> list[list[str]]:
    """Every order's cells (`row`), made once per report: report.md's table and junit.xml's detail
    read the same cells (formatting them twice was 2 µs an order). Not to be changed by a reader."""
    return [row(o, units_for(report, o)) for o in report.orders]


#: where `row` puts the cells other renderers read
QTY, PRICE, FILLED, BRACKET, OUTCOME = (COLUMNS.index(name) for name in ("qty", "price", "filled", "bracket",
                                                                         "outcome"))


def noted(report: Report) -> list[OrderResult]:
    """Orders the playbook gave a `note:` (the trader's own words, shown under the table)."""
    return [o for o in report.orders if o.note]


def definition_notes(report: Report) -> list[OrderResult]:
    """Orders placed with a definition the playbook no longer has (their verdict says how)."""
    return [o for o in report.orders if o.differences]
