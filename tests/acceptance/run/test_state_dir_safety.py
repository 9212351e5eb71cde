"""Issue 13, defect 3, from the command line: an unsafe state dir is refused with exit 2, a clear
message and no traceback, before anything is sent; a planted symlink's target is left intact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.exit_codes import ExitCode
from runner.state.journal import JOURNAL_SUFFIX, LOCK_SUFFIX, identity_slug
from tests.acceptance.exactly_once_kit import NAME, RUN_ID, Harness

SECRET = "the victim's file\nlast line"


@pytest.fixture
def harness(tmp_path: Path, dialect: str) -> Iterator[Harness]:
    made = Harness(tmp_path, dialect=dialect)
    yield made
    made.stop()


def test_a_state_dir_others_may_write_to_is_refused_with_exit_2(harness: Harness) -> None:
    harness.state_dir.mkdir()
    harness.state_dir.chmod(0o777)
    done = harness.run()
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "writable by others" in done.stderr and "chmod 700" in done.stderr
    assert "Traceback" not in done.stderr
    assert harness.total() == 0


@pytest.mark.parametrize("suffix", [LOCK_SUFFIX, JOURNAL_SUFFIX], ids=["lock", "journal"])
def test_a_symlink_in_the_state_dir_is_refused_and_its_target_intact(harness: Harness, suffix: str) -> None:
    victim = harness.directory / "victim.txt"
    victim.write_text(SECRET)
    harness.state_dir.mkdir(mode=0o700)
    (harness.state_dir / (identity_slug(NAME, RUN_ID) + suffix)).symlink_to(victim)
    done = harness.run()
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "symbolic link" in done.stderr and "Traceback" not in done.stderr
    assert victim.read_text() == SECRET
    assert harness.total() == 0
