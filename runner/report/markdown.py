"""Markdown rendering: report.md and the GitHub job summary (a readable table of every order)."""

from __future__ import annotations

import re
from itertools import chain

from runner.report import _cells
from runner.report.model import Outcome, Report
from runner.report.provenance import Provenance
from runner.report.risk import risk_lines
from runner.words import UNPRINTABLE, printable

_ICON = {Outcome.PASSED: "✅", Outcome.FAILED: "❌", Outcome.ALREADY_PLACED: "↩️", Outcome.NOT_SENT: "⏸️",
         Outcome.UNKNOWN: "❓"}


#: Markdown that text from outside could use: code spans, table cells, links and images (`[`, `![`),
#: raw HTML (`<img>`), escapes themselves; each is shown as written, backslash-escaped (emphasis is
#: harmless and left alone, so `reduce_only` stays readable in the file)
_ACTIVE = re.compile(r"[\\`|\[\]<>]")
#: what GitHub turns into a link by itself (`https://…`, `www.…`): broken by an escape, shown the same
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(?=//)|(?<=\bwww)(\.)")


#: with `://` and `www.`, a superset of what `_cell` changes (what `printable` escapes, `_ACTIVE`,
#: `_AUTOLINK`): text without any of it (nearly every cell) is already inert. One character class
#: is a fast scan; the alternation of all three was most of a row's cost.
_MAYBE_ACTIVE = re.compile(f"[{UNPRINTABLE.pattern[1:-1]}{_ACTIVE.pattern[1:-1]}]")
_WWW = re.compile(r"[wW][wW][wW]\.")


def _inert(text: str) -> bool:
    """Nothing in `text` for `_escaped` to change (a cheap test: it may say False for inert text).

    Printable text (nearly all: `isprintable` is False for every character `printable` escapes)
    is tested by C string searches, 3x faster than the patterns on a whole table (1.4 -> 0.5 µs an
    order for the risk section); the same answer as `_inert_by_pattern` (tests compare them)."""
    if text.isprintable():
        return not any(c in text for c in _ACTIVE_CHARACTERS) and "://" not in text \
            and "www." not in text.lower()  # (only W lowers to w)
    return _inert_by_pattern(text)


_ACTIVE_CHARACTERS = "\\`|[]<>"  # `_ACTIVE`'s class


def _inert_by_pattern(text: str) -> bool:
    return _MAYBE_ACTIVE.search(text) is None and "://" not in text and _WWW.search(text) is None


def _cell(text: str) -> str:
    """The one place text becomes Markdown: inert (no image, link, HTML or table break), on one line."""
    return text if _inert(text) else _escaped(text)


def _escaped(text: str) -> str:
    """`_cell`'s work: unprintable characters as escapes, then a backslash before what is active."""
    text = _ACTIVE.sub(lambda m: "\\" + m.group(), printable(text))
    return _AUTOLINK.sub(lambda m: "\\" + m.group(), text)


def _cells_of(cells: list[str]) -> list[str]:
    """A row's cells (or a section's lines) made inert: one search over them all when nothing in them
    needs escaping."""
    if _inert("".join(cells)):  # (a link across two cells is merely a row done the slow way)
        return cells
    return [_cell(c) for c in cells]


def render_markdown(report: Report, rows: list[list[str]] | None = None) -> str:
    """report.md; `rows`: the orders' cells when already made (`_cells.rows`), else made here."""
    s = report.summary
    out = [f"## qfex-runner: `{s.playbook_name}` on {s.target}", "",
           f"**{_cells.headline(report)}**", "",
           f"- playbook: `{s.playbook_path}` (sha256 `{s.playbook_sha256[:12]}`)"
           + (f", run_id `{s.run_id}`" if s.run_id else ""),
           f"- target: {s.target} `{s.url}`" + (f", account `{s.account_id}`" if s.account_id else ""),
           f"- runner: qfex-runner {s.runner_version}",
           *([_source(report.provenance)] if report.provenance is not None else []),
           ""]
    if s.message:
        out += [f"> {_cell(s.message)}", ""]
    if report.orders or not report.steps:  # a playbook of steps only (flatten): no empty order table
        out.append("| " + " | ".join(_cells.COLUMNS) + " |")
        out.append("|" + "|".join("---" for _ in _cells.COLUMNS) + "|")
    table = _cells.rows(report) if rows is None else rows
    # one scan of the whole table when nothing in it needs escaping (nearly always), else row by row
    inert = _inert("".join(chain.from_iterable(table)))
    for o, cells in zip(report.orders, table, strict=True):
        if not inert:
            cells = _cells_of(cells)
        code = "`" + o.id.replace("|", "\\|") + "`"  # letters, digits, . _ : - (the schema)
        out.append(f"| {cells[0]} | {code} | " + " | ".join(cells[2:-1])
                   + f" | {_ICON[o.outcome]} {cells[-1]} |")
    if report.converged:
        out += ["", "### Changed in place (--converge)", ""] + [f"- {_cell(x)}" for x in report.converged]
    if report.steps:
        out += ["", "### Steps", "", "| # | step | kind | what it does | outcome |", "|---|---|---|---|---|"]
        for x in report.steps:
            out.append(f"| {x.index + 1} | `{x.id}` | {x.kind} | {_cell(x.description)} | "
                       f"{_ICON[x.outcome]} {_cell(x.outcome.value)}: {_cell(x.verdict)} |")
        done = [x for x in report.steps if x.actions]
        for x in done:
            out += ["", f"`{x.id}` did:", ""] + [f"- {_cell(a)}" for a in x.actions]
    noted = _cells.noted(report)
    if noted:
        out += ["", "### Notes", ""]
        out += [f"- `{o.id}`: {_cell(o.note)}" for o in noted]
    out += _positions(report)
    notes = _cells.leg_notes(report)
    if notes:
        out += ["", "### Bracket legs", ""]
        out += [f"- `{o.id}` {_cell(legs)}: {_cell(note)}" for o, legs, note in notes]
    changed = _cells.definition_notes(report)
    if changed:
        out += ["", f"### {_cells.DIFFERENT.capitalize()}", ""]
        out += [f"- `{o.id}` (`{o.client_order_id}`): {_cell(o.verdict)}" for o in changed]
    failed = [o for o in report.orders if o.outcome in (Outcome.FAILED, Outcome.UNKNOWN)]
    if failed:
        out += ["", "### What went wrong", ""]
        out += [f"- `{o.id}` (`{o.client_order_id}`): {_cell(o.verdict)}" for o in failed]
    if report.risk is not None and report.risk.get("orders"):
        out += ["", "### Risk (the preview as sent; realised exits)", ""]
        out += [f"- {line}" for line in _cells_of(risk_lines(report.risk))]  # a line an order: one scan
    if report.problems:
        out += ["", "### Playbook problems (nothing was sent)", ""]
        out += [f"- `{p.location}` {_cell(p.message)} [{p.rule}]" for p in report.problems]
    if report.warnings:
        out += ["", "### Warnings", ""] + [f"- {_cell(w)}" for w in report.warnings]
    return "\n".join(out) + "\n"


def _positions(report: Report) -> list[str]:
    """### Positions: per exit plan, its timeline and its price path as a Mermaid chart."""
    from runner.report.timeline import mermaid, positions, summary_line, timeline_lines

    held = positions(report)
    if not held:
        return []
    out = ["", "### Positions", ""]
    for o in held:
        units = report.instruments.get(o.symbol or "")
        out += [f"#### `{o.id}` {o.symbol}: {_cell(summary_line(o, units))}", ""]
        out += [f"    {line}" for line in timeline_lines(o, units)] + [""]
        out += [*mermaid(o), ""]
    return out


def _source(p: Provenance) -> str:
    """`- source: git `abc1234` on `main` (uncommitted changes), last change by …; CI: …`."""
    parts: list[str] = []
    if p.git_commit:
        state = " (the playbook has uncommitted changes)" if p.playbook_modified else \
            (" (uncommitted changes in the repository)" if p.git_dirty else "")
        branch = f" on `{p.git_branch.replace('`', '')}`" if p.git_branch else ""
        author = f", last change by {_cell(p.git_author)}" if p.git_author else ""
        parts.append(f"git `{p.git_commit[:12]}`{branch}{state}{author}")
    else:
        parts.append("not in a git repository")
    if p.ci_system:
        url = f" `{p.ci_url.replace('`', '')}`" if p.ci_url else ""
        parts.append(f"CI: {p.ci_system} run {_cell(p.ci_run_id or '?')}{url}")
    return "- source: " + "; ".join(parts)
