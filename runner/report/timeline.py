"""An exit plan's position as a trader reads it: the timeline lines (console, report.md, report.html),
the price path the charts draw (mark, entry, take-profit levels, stop over time, fills) and the
Mermaid `xychart-beta` block GitHub renders in report.md.

One wording and one set of series for every format: renderers only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from runner.report import _cells
from runner.report.model import Instrument, OrderResult, Position, Report, StepResult
from runner.words import number_text

#: at most this many points on the Mermaid chart's x axis (GitHub draws every category)
MERMAID_POINTS = 40


#: what carries an exit plan's position: a bracket's order, or an `exits:` step
Held = OrderResult | StepResult


def positions(report: Report) -> list[Held]:
    """The orders and `exits:` steps that carry an exit plan's position, in the playbook's order."""
    return [*(o for o in report.orders if o.position is not None),
            *(s for s in report.steps if s.position is not None)]


def start_of(order: Held) -> float:
    """The moment the position's clock starts (its first event or mark)."""
    position = order.position
    assert position is not None
    times = [e.at for e in position.timeline] + [at for at, _ in position.marks]
    return min(times, default=0.0)


def timeline_lines(order: Held, units: Instrument | None = None) -> list[str]:
    """`+4.0s  take-profit 1 filled 5 @ 235.95` — one line per event, seconds from the first."""
    position = order.position
    if position is None:
        return []
    t0 = start_of(order)
    return [f"+{e.at - t0:5.1f}s  {e.text}" for e in position.timeline]


def summary_line(order: Held, units: Instrument | None = None) -> str:
    """What is left and what it made: `flat; realised P&L 164.79 after fees 0.71; invariants held`."""
    position = order.position
    assert position is not None
    open_text = "flat" if position.open_quantity == 0 else f"{number_text(position.open_quantity)} still open"
    if not any(e.kind == "entry_fill" for e in position.timeline):
        open_text = "the entry has not filled"
    fees = _money(position.fees or Decimal(0))
    pnl = ("realised P&L unknown (a fill's price is missing)" if position.realised_pnl is None
           else f"realised P&L {_money(position.realised_pnl)} after fees {fees}")
    if open_text == "the entry has not filled":
        pnl = "nothing traded"
    checks = (f"invariants held ({position.checks} checks: no stop above the position, no flip, nothing live "
              f"when flat)" if position.breach is None else f"INVARIANT BROKEN: {position.breach}")
    return f"{open_text}; {pnl}; {checks}"


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


@dataclass
class PricePath:
    """The series a position's chart draws, times in seconds from the position's start."""

    marks: list[tuple[float, Decimal]] = field(default_factory=list)
    #: (from, trigger) steps of the stop-loss: every placement, resize and move
    stop: list[tuple[float, Decimal]] = field(default_factory=list)
    entry: Decimal | None = None
    levels: list[tuple[str, Decimal]] = field(default_factory=list)
    #: (at, price, leg) of every fill (the entry's and each exit's)
    fills: list[tuple[float, Decimal, str]] = field(default_factory=list)
    end: float = 0.0

    def prices(self) -> list[Decimal]:
        values = [p for _, p in self.marks] + [p for _, p in self.stop] + [p for _, p in self.levels] \
            + [p for _, p, _ in self.fills] + ([self.entry] if self.entry is not None else [])
        return values


def price_path(order: Held) -> PricePath:
    position: Position | None = order.position
    assert position is not None
    t0 = start_of(order)
    path = PricePath()
    path.marks = [(at - t0, price) for at, price in position.marks]
    if isinstance(order, OrderResult):
        path.entry = order.average_price if order.average_price is not None else order.price
    else:  # an exits step: the position's price, as its first timeline line has it
        path.entry = next((e.price for e in position.timeline if e.kind == "entry_fill"), None)
    for event in position.timeline:
        at = event.at - t0
        stop_change = event.kind in ("placed", "resized", "moved")
        if event.leg == "stop_loss" and stop_change and event.price is not None:
            path.stop.append((at, event.price))
        if event.kind == "placed" and event.leg.startswith("take_profit") and event.price is not None:
            path.levels.append((_cells.leg_label(event.leg), event.price))
        if event.kind in ("filled", "entry_fill") and event.price is not None:
            path.fills.append((at, event.price, event.leg))
    times = [at for at, _ in path.marks] + [e.at - t0 for e in position.timeline]
    path.end = max(times, default=0.0)
    return path


def mermaid(order: Held) -> list[str]:
    """The price path as a Mermaid `xychart-beta` block (mark, stop over time, entry, each level)."""
    path = price_path(order)
    prices = path.prices()
    if not prices:
        return []
    step = max(1.0, float(int(path.end / MERMAID_POINTS) + 1)) if path.end >= 2 else 0.5
    count = max(2, int(path.end / step) + 2)
    xs = [i * step for i in range(count)]

    def at(series: list[tuple[float, Decimal]], x: float) -> Decimal | None:
        value = None
        for t, price in series:
            if t <= x + 1e-9:
                value = price
        return value

    low, high = min(prices), max(prices)
    pad = max((high - low) * Decimal("0.05"), Decimal("0.01"))
    lines = ["```mermaid", "xychart-beta",
             f'    title "{order.id} {order.symbol}: mark, stop-loss, entry and take-profit levels"',
             f"    x-axis \"seconds\" [{', '.join(f'{x:.0f}' if step >= 1 else f'{x:.1f}' for x in xs)}]",
             f'    y-axis "price" {number_text(low - pad)} --> {number_text(high + pad)}']
    mark = [at(path.marks, x) for x in xs]
    first = next((m for m in mark if m is not None), path.entry)
    mark = [m if m is not None else first for m in mark]
    lines.append(f"    line [{', '.join(number_text(m) for m in mark if m is not None)}]")
    stop = [at(path.stop, x) for x in xs]
    if any(s is not None for s in stop):
        base = next(s for s in stop if s is not None)
        lines.append(f"    line [{', '.join(number_text(s if s is not None else base) for s in stop)}]")
    for value in ([path.entry] if path.entry is not None else []) + [p for _, p in path.levels]:
        lines.append(f"    line [{', '.join(number_text(value) for _ in xs)}]")
    lines.append("```")
    lines.append("Lines, in order: mark price, stop-loss (every resize and move), entry, take-profit "
                 + ", ".join(f"{name} {number_text(p)}" for name, p in path.levels) + ".")
    return lines
