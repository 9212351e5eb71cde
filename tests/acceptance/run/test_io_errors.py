"""The machine says no after orders were placed: a journal that cannot be written, a report dir that
cannot be written, stderr on a full disk. Real conditions, through `python -m runner run`: a file-size
limit (RLIMIT_FSIZE, what a full disk looks like to one process: EFBIG), a report dir under a regular
file or without permission. Whatever fails, the summary is printed, the report goes somewhere named,
the exit code is documented (5 journal intact, 74 journal or report not written) and a re-run places
every order exactly once."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.exit_codes import ExitCode
from runner.jsonnum import loads
from tests.acceptance.exactly_once_kit import ORDER_IDS, Harness, coid


@pytest.fixture
def harness(tmp_path: Path, dialect: str) -> Iterator[Harness]:
    h = Harness(tmp_path, dialect=dialect)
    yield h
    h.stop()


def file_size_limit(limit: int) -> Callable[[], None]:
    """For `preexec_fn`: no file of the child may grow past `limit` bytes (Python then gets EFBIG)."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def run(harness: Harness, *extra: str, env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None, stderr: int | object = subprocess.PIPE
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(harness.command("--format", "text", *extra), env=env or harness.env,
                          cwd=harness.directory, stdout=subprocess.PIPE, stderr=stderr, text=True,
                          timeout=60, preexec_fn=preexec_fn)


def fallback_dir(stderr: str) -> Path:
    line = next(x for x in stderr.splitlines() if "instead" in x)
    return Path(line.split("; written to ", 1)[1].split("/ instead", 1)[0])


def assert_exactly_once_after_a_rerun(harness: Harness) -> None:
    rerun = run(harness)
    assert rerun.returncode == ExitCode.OK, rerun.stdout + rerun.stderr
    assert harness.duplicates() == {}
    assert {coid(o) for o in ORDER_IDS} <= set(harness.counts())


def test_a_journal_that_cannot_be_written_stops_sending_prints_the_summary_exit_74(harness: Harness) -> None:
    done = run(harness, preexec_fn=file_size_limit(3000))  # the journal outgrows it after a send or two
    assert done.returncode == ExitCode.IO_ERROR, done.stdout + done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    placed = harness.total()
    assert 1 <= placed < len(ORDER_IDS)  # the failure struck after the first send, before the last
    assert "cannot write the journal" in done.stdout and "File too large; nothing more is sent" in done.stdout
    assert "placed: a" in done.stdout and "not placed: " in done.stdout
    assert "ABORTED: 5 orders" in done.stdout and "(exit 74)" in done.stdout
    # report.json is bigger than the limit too: neither the report dir nor a temporary one takes it
    assert "could not write the report to" in done.stderr and "nor to a temporary directory" in done.stderr
    assert list((harness.directory / "report-1").iterdir()) == []  # no half-written file left behind
    assert_exactly_once_after_a_rerun(harness)


def test_a_report_dir_under_a_file_falls_back_to_a_temporary_dir_exit_74(harness: Harness) -> None:
    blocker = harness.directory / "not-a-dir"
    blocker.write_text("a file where the report dir should be\n")
    done = run(harness, "--report-dir", str(blocker / "reports"))
    assert done.returncode == ExitCode.IO_ERROR, done.stdout + done.stderr
    assert "5 passed" in done.stdout and "(exit 74)" in done.stdout  # every order as meant; files not
    assert f"could not write the report to {blocker / 'reports'}/ (Not a directory" in done.stderr
    where = fallback_dir(done.stderr)
    try:
        assert sorted(p.name for p in where.iterdir()) == ["junit.xml", "report.json", "report.md"]
        saved = loads((where / "report.json").read_text())
        assert saved["summary"]["exit_code"] == ExitCode.IO_ERROR
        assert "could not write the report to" in saved["summary"]["message"]
        assert f"reports: {where}/" in done.stdout  # the summary names where they are
    finally:
        shutil.rmtree(where)
    assert harness.total() == len(ORDER_IDS)  # the run itself was complete
    assert_exactly_once_after_a_rerun(harness)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod (the test above covers it)")
def test_a_read_only_report_dir_falls_back_to_a_temporary_dir_exit_74(harness: Harness) -> None:
    locked = harness.directory / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        done = run(harness, "--report-dir", str(locked / "reports"))
    finally:
        locked.chmod(0o755)
    assert done.returncode == ExitCode.IO_ERROR
    assert "Permission denied" in done.stderr
    shutil.rmtree(fallback_dir(done.stderr))


def test_a_step_summary_that_cannot_be_written_is_exit_74_with_the_report_in_place(harness: Harness) -> None:
    blocker = harness.directory / "not-a-dir"
    blocker.write_text("")
    done = run(harness, env={**harness.env, "GITHUB_STEP_SUMMARY": str(blocker / "summary.md")})
    assert done.returncode == ExitCode.IO_ERROR
    assert "could not append the report to the GitHub step summary (Not a directory" in done.stderr
    assert (harness.directory / "report-1" / "report.json").exists()


def test_stderr_on_a_full_disk_stops_the_run_exit_5_journal_and_report_intact(harness: Harness) -> None:
    limit = 1 << 20
    log = harness.directory / "stderr.log"
    log.write_bytes(b"x" * (limit - 60))  # room for the first progress line or so, then EFBIG
    with open(log, "a") as stderr:
        done = run(harness, "--progress", preexec_fn=file_size_limit(limit), stderr=stderr)
    assert done.returncode == ExitCode.ABORTED, done.stdout
    assert "stopped: File too large; sending stopped" in done.stdout
    assert "ABORTED: 5 orders" in done.stdout and "(exit 5)" in done.stdout
    saved = loads((harness.directory / "report-1" / "report.json").read_text())
    assert saved["summary"]["exit_code"] == ExitCode.ABORTED
    assert_exactly_once_after_a_rerun(harness)


def test_a_state_dir_that_cannot_be_created_is_exit_74_before_anything_is_sent(harness: Harness) -> None:
    blocker = harness.directory / "not-a-dir"
    blocker.write_text("")
    done = run(harness, "--state-dir", str(blocker / "state"))
    assert done.returncode == ExitCode.IO_ERROR
    assert "cannot create the state dir" in done.stderr and "Not a directory" in done.stderr
    assert harness.total() == 0
