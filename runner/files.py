"""Reading a file the user named (a playbook, `--refdata`, `--credentials`) without ever blocking on it.

Opening a named pipe that has no writer waits forever, a device such as /dev/zero never ends, and a
directory cannot be read: only regular files are read. The file is opened with O_NONBLOCK (so opening
a FIFO returns at once) and judged by `fstat` of the open descriptor, so a path swapped for a FIFO
between a check and the open cannot slip through.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from runner.errors import NotARegularFile

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def not_a_regular_file(mode: int) -> str | None:
    """What a file of `mode` is when it is not a regular file ("a named pipe (FIFO)"); None if it is."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` opened for binary reading, at once; `NotARegularFile` unless it is a regular file,
    `OSError` when the OS refuses (missing, no permission)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        what = not_a_regular_file(os.fstat(fd).st_mode)
    except OSError:
        os.close(fd)
        raise
    if what is not None:
        os.close(fd)
        raise NotARegularFile(what, os.fspath(path))
    return os.fdopen(fd, "rb")


def read_regular(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """At most `max_bytes + 1` bytes of the regular file `path` (one more than allowed tells the caller
    it is too large without reading it all); raises as `open_regular` does."""
    with open_regular(path) as handle:
        return handle.read(max_bytes + 1)
