"""One run at a time per playbook identity on a machine: an advisory lock file in the state dir.

Two runs of the same playbook identity (`name` + `run_id`) racing each other would both see an
order as "not placed yet" and both send it. The lock makes the second run stop before it
connects. It is a `fcntl.flock` on `<identity>.lock`, so the kernel releases it the instant the
holder dies, however it dies (`kill -9`, power loss of the process, OOM): there is never a lock
to clean up by hand. The file also records who holds it (pid, host, start time) so the refusal
can say so, and so a run that finds the record of a holder that no longer holds the lock can
report that it took over a stale lock.

flock is local to one machine (and unreliable on network file systems): runs of the same
playbook on several machines must be serialised by the CI (concurrency groups, see README).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RunnerError, StateLocked
from runner.state.statedir import open_state_file


@dataclass(frozen=True)
class LockHolder:
    """Who wrote the lock file (as recorded in it)."""

    pid: int | None
    host: str
    started: str
    identity: str

    def describe(self) -> str:
        who = f"pid {self.pid}" if self.pid is not None else "an unknown process"
        return f"{who} on host {self.host or '?'} since {self.started or '?'}"

    def process_alive(self) -> bool | None:
        """Whether the recorded pid still runs here; None when it cannot be told (other host)."""
        if self.pid is None or self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def read_holder(path: Path) -> LockHolder | None:
    """The holder recorded in a lock file, or None if there is none (empty, missing, unreadable)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        return _holder_in(fd)
    finally:
        os.close(fd)


def _holder_in(fd: int) -> LockHolder | None:
    """The holder recorded in an open lock file (read from its start)."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    return LockHolder(pid=pid if isinstance(pid, int) else None, host=str(data.get("host", "")),
                      started=str(data.get("started", "")), identity=str(data.get("identity", "")))


class StateLock:
    """An acquired lock; release with `release()` or by leaving a `with` block."""

    def __init__(self, path: Path, fd: int, stale: LockHolder | None) -> None:
        self.path = path
        self._fd: int | None = fd
        self.took_over: LockHolder | None = stale
        """The record of a previous holder that had died without releasing (None if none)."""

    @classmethod
    def acquire(cls, path: Path, identity: str) -> StateLock:
        """Take the lock or raise `StateLocked` saying who holds it. Never waits."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_state_file(path, os.O_RDWR | os.O_CREAT, "lock")  # never through a symlink
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunnerError(f"cannot lock the state dir ({path}): {exc.strerror}") from exc
            holder = read_holder(path)
            who = holder.describe() if holder else "another process"
            raise StateLocked(
                f"another run of {identity} is in progress ({who}); nothing was sent. "
                f"Wait for it to finish (lock: {path})",
                holder,
            ) from None
        previous = _holder_in(fd)
        stale = previous if previous is not None and previous.pid is not None else None
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "identity": identity,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
        os.fsync(fd)
        return cls(path, fd, stale)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Clear the holder record and unlock. The file stays: unlinking a lock file races."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> StateLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
