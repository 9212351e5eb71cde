"""Issue 13, defect 3: the state dir is private and its files are never opened through a symlink.

Before: a symlink planted at the lock path had its target emptied; at the journal path, the run
appended to the target and cut its last line. Now each is refused (exit 2) and the target is left
as it was; the state dir is created 0700 and the journal 0600 whatever the umask, and a state dir
others may write to is refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.errors import JournalError, UnsafeStateDir
from runner.exit_codes import ExitCode
from runner.state.entries import load_contents
from runner.state.journal import Journal, journal_path, lock_path
from tests.state.test_journal import place, playbook

SECRET = b"precious line one\nprecious line two (no newline)"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A file of the victim's that a symlink in the state dir points at."""
    path = tmp_path / "victim.txt"
    path.write_bytes(SECRET)
    return path


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o000)
    yield
    os.umask(old)


def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    return path


@pytest.mark.parametrize("which", [lock_path, journal_path], ids=["lock", "journal"])
def test_a_symlink_at_a_state_file_is_refused_and_its_target_left_intact(tmp_path: Path, target: Path,
                                                                         which) -> None:
    pb = playbook()
    directory = state_dir(tmp_path)
    which(directory, pb).symlink_to(target)
    with pytest.raises(UnsafeStateDir) as caught:
        Journal.open(directory, pb)
    assert "symbolic link" in str(caught.value) and "nothing was sent" in str(caught.value)
    assert caught.value.exit_code is ExitCode.USAGE
    assert target.read_bytes() == SECRET


def test_status_never_reads_a_journal_through_a_symlink(tmp_path: Path, target: Path) -> None:
    pb = playbook()
    directory = state_dir(tmp_path)
    journal_path(directory, pb).symlink_to(target)
    with pytest.raises(UnsafeStateDir):
        load_contents(journal_path(directory, pb))


def test_a_state_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    pb = playbook()
    directory = state_dir(tmp_path)
    os.mkfifo(journal_path(directory, pb))
    with pytest.raises(UnsafeStateDir):
        Journal.open(directory, pb)


def test_the_state_dir_is_created_private_and_the_journal_0600_whatever_the_umask(tmp_path: Path,
                                                                                  umask: None) -> None:
    pb = playbook()
    directory = tmp_path / "runs" / "state"
    with Journal.open(directory, pb) as journal:
        place(journal, pb, pb.orders[0])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(journal_path(directory, pb).stat().st_mode) == 0o600
    assert stat.S_IMODE(lock_path(directory, pb).stat().st_mode) == 0o600


def test_an_existing_journal_readable_by_others_is_made_private(tmp_path: Path) -> None:
    pb = playbook()
    directory = state_dir(tmp_path)
    with Journal.open(directory, pb) as journal:
        place(journal, pb, pb.orders[0])
    journal_path(directory, pb).chmod(0o644)
    with Journal.open(directory, pb):
        pass
    assert stat.S_IMODE(journal_path(directory, pb).stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777, 0o1777])
def test_a_state_dir_others_may_write_to_is_refused(tmp_path: Path, mode: int) -> None:
    pb = playbook()
    directory = state_dir(tmp_path)
    directory.chmod(mode)
    with pytest.raises(UnsafeStateDir) as caught:
        Journal.open(directory, pb)
    message = str(caught.value)
    assert "writable by" in message and f"chmod 700 {directory}" in message and "nothing was sent" in message
    assert isinstance(caught.value, JournalError) and caught.value.exit_code is ExitCode.USAGE
    assert list(directory.iterdir()) == []  # refused before anything is created there


def test_a_state_dir_readable_by_others_is_accepted(tmp_path: Path) -> None:
    pb = playbook()
    directory = state_dir(tmp_path)
    directory.chmod(0o755)
    with Journal.open(directory, pb) as journal:
        assert not journal.damaged
