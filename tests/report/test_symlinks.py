"""Issue 13, defect 3: a symlink left at a report's temporary name never has the report overwrite
its target. Before, `.report.json.tmp` (and `.report.md.tmp`, `.junit.xml.tmp`) were fixed names
opened for writing, so a planted symlink there had the run overwrite the file it points at."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runner.report import render_json, write_report_files
from runner.report.model import Report
from tests.report.test_jsonfile import report  # noqa: F401  (the fixture)

SECRET = "the victim's file\n"


@pytest.mark.parametrize("name", ["report.json", "report.md", "junit.xml"])
def test_a_symlink_at_the_temporary_name_leaves_its_target_intact(tmp_path: Path, report: Report,  # noqa: F811
                                                                   name: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text(SECRET)
    report_dir = tmp_path / "run"
    report_dir.mkdir()
    (report_dir / f".{name}.tmp").symlink_to(victim)
    paths = write_report_files(report, report_dir, env={})
    assert victim.read_text() == SECRET
    assert paths["json"].read_text(encoding="utf-8") == render_json(report)
    assert not [p for p in report_dir.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


def test_a_symlink_at_the_report_name_is_replaced_not_written_through(tmp_path: Path,
                                                                      report: Report) -> None:  # noqa: F811
    victim = tmp_path / "victim.txt"
    victim.write_text(SECRET)
    report_dir = tmp_path / "run"
    report_dir.mkdir()
    (report_dir / "report.json").symlink_to(victim)
    write_report_files(report, report_dir, env={})
    assert victim.read_text() == SECRET
    assert not (report_dir / "report.json").is_symlink()


def test_reports_keep_the_permissions_a_plain_write_gives(tmp_path: Path, report: Report) -> None:  # noqa: F811
    old = os.umask(0o027)
    try:
        paths = write_report_files(report, tmp_path / "run", env={})
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths.values()} == {0o640}
