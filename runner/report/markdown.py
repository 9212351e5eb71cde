"""Markdown rendering: report.md and the GitHub job summary (a readable table of every order)."""

from __future__ import annotations

from runner.report import _cells
from runner.report.model import Outcome, Report

_ICON = {Outcome.PASSED: "✅", Outcome.FAILED: "❌", Outcome.ALREADY_PLACED: "↩️", Outcome.NOT_SENT: "⏸️",
         Outcome.UNKNOWN: "❓"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    s = report.summary
    out = [f"## qfex-runner: `{s.playbook_name}` on {s.target}", "",
           f"**{_cells.headline(report)}**", "",
           f"- playbook: `{s.playbook_path}` (sha256 `{s.playbook_sha256[:12]}`)"
           + (f", run_id `{s.run_id}`" if s.run_id else ""),
           f"- target: {s.target} `{s.url}`" + (f", account `{s.account_id}`" if s.account_id else ""),
           f"- runner: qfex-runner {s.runner_version}",
           ""]
    if s.message:
        out += [f"> {s.message}", ""]
    out.append("| " + " | ".join(_cells.COLUMNS) + " |")
    out.append("|" + "|".join("---" for _ in _cells.COLUMNS) + "|")
    for o in report.orders:
        cells = _cells.row(o)
        cells[-1] = f"{_ICON[o.outcome]} {cells[-1]}"
        cells[1] = f"`{cells[1]}`"
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
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
    if report.problems:
        out += ["", "### Playbook problems (nothing was sent)", ""]
        out += [f"- `{p.location}` {_cell(p.message)} [{p.rule}]" for p in report.problems]
    if report.warnings:
        out += ["", "### Warnings", ""] + [f"- {_cell(w)}" for w in report.warnings]
    return "\n".join(out) + "\n"
