"""Run reports: one model (`model.py`), four renderers (text, json, markdown, junit), and the files.

`write_report_files` writes report.json, report.md and junit.xml into the run's report dir
(`write_report_dir`) and, when `GITHUB_STEP_SUMMARY` is set, appends the Markdown there
(`append_step_summary`); each raises OSError, so a run can put its report elsewhere and say so.
`load_report` reads a saved report.json (or a run dir holding one) back for `qfex-runner report`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import UsageError
from runner.jsonnum import loads
from runner.report.model import (
    FillRecord,
    Instrument,
    LegResult,
    OrderResult,
    Outcome,
    Position,
    Reject,
    Report,
    RunOutcome,
    StatusSeen,
    StepResult,
    Summary,
    TimelineEvent,
)

if TYPE_CHECKING:
    from runner.report.jsonfile import render_json
    from runner.report.junit import render_junit
    from runner.report.markdown import render_markdown
    from runner.report.text import render_text

#: the renderers, imported when first used: a run needs them only at its end, after its first
#: order left (their imports — xml.etree, tempfile — are start-up time otherwise)
_RENDERERS = {"render_json": "runner.report.jsonfile", "render_junit": "runner.report.junit",
              "render_markdown": "runner.report.markdown", "render_text": "runner.report.text"}


def __getattr__(name: str) -> Any:
    module = _RENDERERS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "FORMATS", "FillRecord", "Instrument", "LegResult", "OrderResult", "Outcome", "Position", "Reject",
    "Report", "RunOutcome", "StatusSeen", "StepResult", "Summary", "TimelineEvent", "append_step_summary",
    "load_report", "render", "render_json", "render_junit", "render_markdown", "render_text",
    "step_summary_path", "write_report_dir", "write_report_files",
]

REPORT_JSON, REPORT_MD, JUNIT_XML, REPORT_HTML = "report.json", "report.md", "junit.xml", "report.html"
FORMATS = ("text", "json", "md", "junit")


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    from runner.report.jsonfile import render_json
    from runner.report.junit import render_junit
    from runner.report.markdown import render_markdown
    from runner.report.text import render_text

    if fmt == "text":
        return render_text(report, color=color)
    if fmt == "json":
        return render_json(report)
    if fmt in ("md", "markdown"):
        return render_markdown(report)
    if fmt == "junit":
        return render_junit(report)
    raise UsageError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")


def write_report_files(report: Report, report_dir: Path, *,
                       env: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Write the three report files (atomically each) and the GitHub step summary if asked for."""
    paths = write_report_dir(report, report_dir)
    append_step_summary(paths["md"], env)
    return paths


def write_report_dir(report: Report, report_dir: Path) -> dict[str, Path]:
    """report.json, report.md and junit.xml in `report_dir` (created), each written atomically.
    Raises OSError (no permission, disk full): the caller decides where else the report goes."""
    from runner.report import _cells
    from runner.report.atomic import write_atomic
    from runner.report.jsonfile import write_report_json
    from runner.report.junit import render_junit
    from runner.report.markdown import render_markdown

    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": report_dir / REPORT_JSON, "md": report_dir / REPORT_MD, "junit": report_dir / JUNIT_XML}
    write_report_json(report, paths["json"])  # streamed order by order: the same text as render_json
    rows = _cells.rows(report)  # the table's cells, made once for report.md and junit.xml
    write_atomic(paths["md"], render_markdown(report, rows))
    write_atomic(paths["junit"], render_junit(report, rows))
    held = [o for o in report.orders if o.position is not None] + [s for s in report.steps if s.position]
    if held:  # an exit plan (a bracket's or an exits step's): its chart and timeline
        from runner.report.html import render_html

        paths["html"] = report_dir / REPORT_HTML
        write_atomic(paths["html"], render_html(report))
    return paths


def step_summary_path(env: Mapping[str, str] | None = None) -> str | None:
    """The GitHub job summary file, when the run is a GitHub Actions step."""
    return (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY") or None


def append_step_summary(markdown_file: Path, env: Mapping[str, str] | None = None) -> None:
    """Append the written report.md to the GitHub job summary, if there is one (raises OSError)."""
    summary = step_summary_path(env)
    if summary:
        markdown = markdown_file.read_text(encoding="utf-8")
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")


def load_report(path: str | os.PathLike[str]) -> Report:
    """A saved report from `report.json` or from a run directory containing it."""
    p = Path(path)
    if p.is_dir():
        p = p / REPORT_JSON
    try:
        data = loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{p}: no such report (expected a run directory or a report.json)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{p}: not a readable report.json ({type(exc).__name__}: {exc})") from None
    try:
        return Report.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{p}: not a qfex-runner report ({type(exc).__name__}: {exc})") from None
