"""Where a run's report lands when the disk says no.

After the first send the report is the trader's only account of what was placed, so a report dir
that cannot be written (no permission, disk full) must not lose it: the report goes to a fresh
temporary directory instead, and the run says where and exits 74 (`ExitCode.IO_ERROR`) so CI
notices the files are not where it asked. The summary on stdout is printed whatever happens here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.exit_codes import ExitCode
from runner.report import Report, append_step_summary, step_summary_path, write_report_dir
from runner.words import os_reason

FALLBACK_PREFIX = "qfex-runner-report-"


@dataclass
class SavedReport:
    """Where the report files went, and why some are not where they were asked to go."""

    report_dir: Path | None
    files: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def save_report(report: Report, wanted: Path, env: Mapping[str, str]) -> SavedReport:
    """Write the report files into `wanted`, else into a fresh temporary directory; then the step summary.

    Before writing the fallback, the report itself is told (exit 74 and why), so the files say what
    the process exits with.
    """
    try:
        saved = SavedReport(wanted, write_report_dir(report, wanted))
    except OSError as exc:
        problem = f"could not write the report to {wanted}/ ({os_reason(exc)})"
        saved = _fallback(report, problem)
    if saved.files and step_summary_path(env):
        try:
            append_step_summary(saved.files["md"], env)
        except OSError as exc:
            saved.problems.append(f"could not append the report to the GitHub step summary "
                                  f"({os_reason(exc)})")
    return saved


def _fallback(report: Report, problem: str) -> SavedReport:
    _tell(report, problem)
    report.summary.exit_code = int(ExitCode.IO_ERROR)
    import shutil  # only when the report dir failed (start-up pays no import for them)
    import tempfile

    where: Path | None = None
    try:
        where = Path(tempfile.mkdtemp(prefix=FALLBACK_PREFIX))
        files = write_report_dir(report, where)
    except OSError as exc:
        if where is not None:  # no half-written report left behind to be mistaken for one
            shutil.rmtree(where, ignore_errors=True)
        return SavedReport(None, {}, [f"{problem}, nor to a temporary directory ({os_reason(exc)}): "
                                      f"the summary printed is this run's only report"])
    return SavedReport(where, files, [f"{problem}; written to {where}/ instead"])


def _tell(report: Report, problem: str) -> None:
    message = report.summary.message
    report.summary.message = f"{message}; {problem}" if message else problem
