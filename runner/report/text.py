"""Plain-text rendering for terminals and logs: a headline, an aligned table, then what went wrong."""

from __future__ import annotations

from itertools import chain

from runner.report import _cells
from runner.report.model import Outcome, Report
from runner.report.risk import risk_lines, worth_a_terminal
from runner.words import UNPRINTABLE, printable


def render_text(report: Report, *, color: bool = False) -> str:
    s = report.summary
    lines = [printable(f"qfex-runner {s.runner_version} · playbook {s.playbook_name} ({s.playbook_path}) · "
                       f"target {s.target} {s.url}")]
    # exchange text (statuses, reasons) never reaches a terminal raw: cells here, the notes below
    table = _cells.rows(report)
    if not "".join(chain.from_iterable(table)).isprintable():  # one C scan for the table (nearly always
        table = [_printable_row(cells) for cells in table]     # printable: no row then scanned again)
    rows = [list(_cells.COLUMNS), *table]
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]  # no Python call per cell
    if not report.orders and report.steps:
        rows = []  # a playbook of steps only (flatten): no empty order table
    for n, r in enumerate(rows):
        line = "  ".join(map(str.ljust, r, widths)).rstrip()
        if color and n:
            line = _paint(line, report.orders[n - 1].outcome)
        lines.append(line)
    for o in _cells.noted(report):
        lines.append(printable(f"  {o.id} note: {o.note}"))
    for o, legs, note in _cells.leg_notes(report):
        lines.append(printable(f"  {o.id} {legs}: {note}"))
    for o in _cells.definition_notes(report):
        lines.append(printable(f"  {o.id}: {o.verdict}"))
    from runner.report.timeline import positions, summary_line, timeline_lines

    for held in positions(report):  # an exit plan: its timeline, event by event
        units = report.instruments.get(held.symbol or "")
        lines.append(printable(f"  {held.id} position: {summary_line(held, units)}"))
        lines += [printable(f"    {line}") for line in timeline_lines(held, units)]
    problems = [o for o in report.orders if o.outcome in (Outcome.FAILED, Outcome.UNKNOWN)]
    for o in problems:
        lines.append(printable(f"  {o.id}: {o.verdict}"))
    if report.converged:
        lines.append("changed in place (--converge):")
        lines.extend(printable(f"  {line}") for line in report.converged)
    if report.steps:
        lines.append("steps:")
    for step in report.steps:
        line = printable(f"  {_cells.step_line(step)}")
        lines.append(_paint(line, step.outcome) if color else line)
        lines.extend(printable(f"    {action}") for action in step.actions)
    if report.risk is not None and worth_a_terminal(report.risk):
        lines.append("risk (the preview as sent; realised exits):")
        lines += [printable(f"  {line}") for line in risk_lines(report.risk)]
    for w in report.warnings:
        lines.append(printable(f"warning: {w}"))
    if s.message:
        lines.append(printable(s.message))
    head = _cells.headline(report)
    lines.append(_paint(head, None, s.exit_code) if color else head)
    return "\n".join(lines) + "\n"


def _printable_row(cells: list[str]) -> list[str]:
    """A row's cells safe for a terminal: one scan of the row when nothing in it is unprintable."""
    if UNPRINTABLE.search("".join(cells)) is None:
        return cells
    return [printable(c) for c in cells]


_GREEN, _RED, _YELLOW, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[0m"


def _paint(text: str, outcome: Outcome | None, exit_code: int | None = None) -> str:
    if outcome is Outcome.PASSED or outcome is Outcome.ALREADY_PLACED or exit_code == 0:
        return f"{_GREEN}{text}{_RESET}"
    if outcome in (Outcome.FAILED, Outcome.UNKNOWN) or (exit_code is not None and exit_code != 0):
        return f"{_RED}{text}{_RESET}"
    return f"{_YELLOW}{text}{_RESET}"
