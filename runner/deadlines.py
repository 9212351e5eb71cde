"""Monotonic deadlines for network waits, and a watchdog that ends a blocking call at one.

A socket timeout bounds one read: a peer that sends a byte just before each timeout (a
slow-loris) keeps a read loop alive for ever, and with it the state lock every retry needs.
So every network wait is bounded by a deadline on the monotonic clock instead. Code that reads
in steps sets each step's socket timeout to `Deadline.remaining()`; a call that cannot be
stepped (TLS, an HTTP status line and headers read inside a library) runs under a `Watchdog`,
which shuts the socket down once the deadline passes so the blocked call returns at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType


class Deadline:
    """`seconds` from now, on the monotonic clock (wall-clock jumps neither extend nor cut it)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0


def shut(sock: socket.socket | None) -> None:
    """Shut a socket down for reading and writing, so a call blocked on it returns (never raises).

    The plain socket's `shutdown` is used even on a TLS socket: the TLS layer's own would drop its
    state under a call still running in another thread.
    """
    if sock is None:
        return
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """Within `with Watchdog(seconds, current_socket) as dog:`, shut `current_socket()` down once
    `seconds` have passed (and again every 0.1 s, in case a new socket appeared), until the block
    ends. `dog.expired` says whether it fired: the block's error is then "too slow", not the
    broken pipe the shutdown caused.
    """

    def __init__(self, seconds: float, current_socket: Callable[[], socket.socket | None]) -> None:
        self.seconds = seconds
        self._current_socket = current_socket
        self._done = threading.Event()
        self._fired = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="deadline-watchdog", daemon=True)

    @property
    def expired(self) -> bool:
        return self._fired.is_set()

    def _watch(self) -> None:
        if self._done.wait(max(self.seconds, 0.0)):
            return
        self._fired.set()
        while True:
            shut(self._current_socket())
            if self._done.wait(0.1):
                return

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._done.set()
        self._thread.join()
