"""The state dir and its files, safe from other users: created private, refused when others can
write to it, its files never opened through a symlink.

Why: the journal decides what a re-run sends. Anyone who can write to the state dir can make the
runner believe an order was never placed (and place it again), or leave a symlink at the lock or
journal path so that the runner empties, appends to or truncates a file of theirs choosing.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from runner.errors import JournalError, UnsafeStateDir


def prepare_state_dir(state_dir: Path) -> None:
    """Create the state dir 0700 (whatever the umask), or check an existing one: refuse it when its
    group or others may write to it (`UnsafeStateDir`, exit 2, before anything is read or sent)."""
    try:
        state_dir.mkdir(parents=True, exist_ok=False, mode=0o700)
        os.chmod(state_dir, 0o700)
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise JournalError(f"cannot create the state dir {state_dir}: {exc.strerror}") from exc
    try:
        info = os.stat(state_dir)
    except OSError as exc:
        raise JournalError(f"cannot use the state dir {state_dir}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise JournalError(f"the state dir {state_dir} is not a directory")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(info.st_mode)
        raise UnsafeStateDir(
            f"the state dir {state_dir} is writable by {'others' if mode & stat.S_IWOTH else 'its group'} "
            f"(mode {mode:04o}): anyone who can write there can change what the runner believes was "
            f"placed. Make it private (chmod 700 {state_dir}) or pass another --state-dir; nothing was "
            f"sent")


def open_state_file(path: Path, flags: int, what: str) -> int:
    """Open a file of the state dir, never through a symlink, as a regular file private to its owner.

    Why: another user (or a stale checkout) could leave a symlink at the lock or journal path; the
    runner would then truncate or append to its target (the lock is emptied, the journal's torn
    tail cut). `O_NOFOLLOW` refuses the link itself; the mode is forced to 0600 whatever the umask.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeStateDir(f"the {what} file {path} is a symbolic link: refusing to follow it; "
                                 f"remove it (nothing was sent)") from None
        raise JournalError(f"cannot open the {what} file {path}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeStateDir(f"the {what} file {path} is not a regular file: refusing to use it; "
                                 f"remove it (nothing was sent)")
        os.set_blocking(fd, True)
        if flags & (os.O_WRONLY | os.O_RDWR) and stat.S_IMODE(info.st_mode) != 0o600:
            try:
                os.fchmod(fd, 0o600)
            except OSError as exc:  # e.g. another user's file
                raise UnsafeStateDir(f"the {what} file {path} cannot be made private ({exc.strerror}): "
                                     f"it is not yours; remove it (nothing was sent)") from exc
    except BaseException:
        os.close(fd)
        raise
    return fd




def read_state_file(path: Path, what: str) -> bytes | None:
    """The whole content of a state file (None if it does not exist), never read through a symlink."""
    try:
        fd = open_state_file(path, os.O_RDONLY, what)
    except JournalError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            return None
        raise
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
