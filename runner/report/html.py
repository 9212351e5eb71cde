"""report.html: one self-contained page a trader looks at — per exit-plan position a chart (inline
SVG: the mark price over the run, the entry, each take-profit level, the stop-loss over time with
every resize and move, each fill) beside its timeline, then every order's row.

Self-contained on purpose: no script, no font, no image from the network (a CI artefact opened
years later, offline, shows the same). Every chart element carries a class and data attributes
(`polyline.mark`, `polyline.stop`, `line.level[data-level=TP2]`, `circle.fill[data-leg=stop_loss]`)
so a test, or a reader's tools, can find it. All text from outside is escaped.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from runner.report import _cells
from runner.report.model import Report
from runner.report.timeline import Held, PricePath, positions, price_path, summary_line, timeline_lines
from runner.words import number_text, printable

WIDTH, HEIGHT = 860, 340
LEFT, RIGHT, TOP, BOTTOM = 70, 110, 20, 40
#: colours: mark blue, stop red, entry grey, levels green, fills by leg
MARK, STOP, ENTRY, LEVEL = "#1f77b4", "#d62728", "#7f7f7f", "#2ca02c"
FILL_COLOURS = {"entry": "#9467bd", "stop_loss": "#d62728"}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 28px; }
.position { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.timeline { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; white-space: pre;
  background: #f6f8fa; padding: 8px 12px; border-radius: 6px; }
table.orders { border-collapse: collapse; font-size: 12px; margin-top: 12px; }
table.orders td, table.orders th { border: 1px solid #ddd; padding: 4px 6px; text-align: left; }
.legend span { margin-right: 14px; font-size: 12px; }
svg text { font-size: 11px; fill: #444; }
"""


def _t(text: object) -> str:
    return escape(printable(str(text)), quote=True)


def render_html(report: Report) -> str:
    s = report.summary
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>qfex-runner: {_t(s.playbook_name)}</title>", f"<style>{_STYLE}</style></head><body>",
           f"<h1>qfex-runner: <code>{_t(s.playbook_name)}</code> on {_t(s.target)}</h1>",
           f"<p><strong>{_t(_cells.headline(report))}</strong></p>"]
    for order in positions(report):
        out += _position(report, order)
    out.append('<h2>Orders</h2><table class="orders"><tr>'
               + "".join(f"<th>{_t(c)}</th>" for c in _cells.COLUMNS) + "</tr>")
    for o in report.orders:
        cells = _cells.row(o, _cells.units_for(report, o))
        out.append("<tr>" + "".join(f"<td>{_t(c)}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    if report.warnings:
        out.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{_t(w)}</li>" for w in report.warnings) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _position(report: Report, order: Held) -> list[str]:
    units = report.instruments.get(order.symbol or "")
    lines = timeline_lines(order, units)
    return [f'<h2 id="position-{_t(order.id)}">{_t(order.id)} {_t(order.symbol)}</h2>',
            f"<p>{_t(summary_line(order, units))}</p>",
            '<div class="position">', chart(order),
            '<div class="timeline">' + "\n".join(_t(line) for line in lines) + "</div>", "</div>"]


class _Scale:
    def __init__(self, path: PricePath) -> None:
        prices = path.prices()
        low, high = min(prices), max(prices)
        pad = max((high - low) * Decimal("0.08"), Decimal("0.5"))
        self.low, self.high = low - pad, high + pad
        self.end = max(path.end, 1.0)

    def x(self, seconds: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * seconds / self.end

    def y(self, price: Decimal) -> float:
        span = float(self.high - self.low) or 1.0
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - float(price - self.low) / span)


def chart(order: Held) -> str:
    """The position's price path as inline SVG (see the module docstring for its classes)."""
    path = price_path(order)
    if not path.prices():
        return '<svg class="chart" width="0" height="0"></svg>'
    sc = _Scale(path)
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="price path of {_t(order.id)}">',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>']
    parts += _axes(sc)
    for name, price in path.levels:
        y = sc.y(price)
        parts.append(f'<line class="level" data-level="{_t(name)}" data-price="{number_text(price)}" '
                     f'x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{LEVEL}" '
                     f'stroke-width="1.5" stroke-dasharray="6 4">'
                     f"<title>{_t(name)} {number_text(price)}</title></line>")
        parts.append(f'<text x="{WIDTH - RIGHT + 4}" y="{y + 4:.1f}">{_t(name)} {number_text(price)}</text>')
    if path.entry is not None:
        y = sc.y(path.entry)
        parts.append(f'<line class="entry" data-price="{number_text(path.entry)}" x1="{LEFT}" '
                     f'x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{ENTRY}" stroke-width="1.5" '
                     f'stroke-dasharray="2 3"><title>entry {number_text(path.entry)}</title></line>')
        parts.append(f'<text x="{WIDTH - RIGHT + 4}" y="{y + 4:.1f}">entry {number_text(path.entry)}</text>')
    if path.marks:
        points = " ".join(f"{sc.x(t):.1f},{sc.y(p):.1f}" for t, p in path.marks)
        parts.append(f'<polyline class="mark" points="{points}" fill="none" stroke="{MARK}" stroke-width="2">'
                     f"<title>mark price</title></polyline>")
    if path.stop:
        steps: list[str] = []
        for i, (t, p) in enumerate(path.stop):
            nxt = path.stop[i + 1][0] if i + 1 < len(path.stop) else path.end
            steps += [f"{sc.x(t):.1f},{sc.y(p):.1f}", f"{sc.x(nxt):.1f},{sc.y(p):.1f}"]
        moves = len(path.stop) - 1
        parts.append(f'<polyline class="stop" data-moves="{moves}" points="{" ".join(steps)}" fill="none" '
                     f'stroke="{STOP}" stroke-width="2.5"><title>stop-loss: {moves} resizes and moves</title>'
                     f"</polyline>")
    for t, price, leg in path.fills:
        colour = FILL_COLOURS.get(leg, LEVEL)
        parts.append(f'<circle class="fill" data-leg="{_t(leg)}" data-price="{number_text(price)}" '
                     f'cx="{sc.x(t):.1f}" cy="{sc.y(price):.1f}" r="6" fill="{colour}" stroke="#000" '
                     f'stroke-width="1"><title>{_t(leg)} fill @ {number_text(price)}</title></circle>')
    parts.append("</svg>")
    legend = ('<div class="legend">'
              f'<span style="color:{MARK}">&#9644; mark</span>'
              f'<span style="color:{STOP}">&#9644; stop-loss</span>'
              f'<span style="color:{ENTRY}">&#9476; entry</span>'
              f'<span style="color:{LEVEL}">&#9476; take-profit</span>'
              '<span>&#9679; fills</span></div>')
    return "<div>" + "".join(parts) + legend + "</div>"


def _axes(sc: _Scale) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    out = [f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>',
           f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#999"/>']
    for i in range(5):
        price = sc.low + (sc.high - sc.low) * i / 4
        y = sc.y(price)
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{format(price, ".2f")}</text>')
    for i in range(6):
        seconds = sc.end * i / 5
        out.append(f'<text x="{sc.x(seconds):.1f}" y="{bottom + 16}" text-anchor="middle">'
                   f"+{seconds:.0f}s</text>")
    return out
