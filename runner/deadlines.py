"""Monotonic deadlines for network waits, and a watchdog that ends a blocking call at one.

A socket timeout bounds one read: a peer that sends a byte just before each timeout (a
slow-loris) keeps a read loop alive for ever, and with it the state lock every retry needs.
So every network wait is bounded by a deadline on the monotonic clock instead. Code that reads
in steps sets each step's socket timeout to `Deadline.remaining()`; a call that cannot be
stepped (TLS, an HTTP status line and headers read inside a library) runs under a `Watchdog`,
which shuts the socket down once the deadline passes so the blocked call returns at once.
A name lookup has no socket to shut: `resolve` runs it in a thread and stops waiting at the deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

AddressInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str,
                    'tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes]']
"""One row of `socket.getaddrinfo`: family, type, protocol, canonical name, address."""


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


def resolve(host: str, port: int, deadline: Deadline) -> list[AddressInfo]:
    """`socket.getaddrinfo(host, port)` for a TCP connection, given up on at `deadline`.

    The C resolver cannot be interrupted (a dead DNS server holds it for its own retries, often
    30 s and more), so it runs in a daemon thread; past the deadline that thread is abandoned (it
    ends on its own and holds nothing of ours) and TimeoutError is raised. Resolver errors
    (`socket.gaierror`) are raised as they are.
    """
    found: list[AddressInfo] = []
    failed: list[OSError] = []

    def look_up() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            failed.append(exc)

    worker = threading.Thread(target=look_up, name="resolve", daemon=True)
    worker.start()
    worker.join(max(deadline.remaining(), 0.0))
    if worker.is_alive():
        raise TimeoutError(f"resolving {host} (DNS) took longer than {deadline.seconds:g}s")
    if failed:
        raise failed[0]
    return found


def dial_within(host: str, port: int, deadline: Deadline) -> socket.socket:
    """`socket.create_connection` with the name lookup under the deadline too (`resolve`): each
    address in turn, each connect bounded by what is left of the deadline."""
    last: OSError | None = None
    for family, kind, proto, _, address in resolve(host, port, deadline):
        sock = socket.socket(family, kind, proto)
        try:
            if family in (socket.AF_INET, socket.AF_INET6):
                # each order leaves at once: Nagle's algorithm would hold a small frame back until the
                # previous one is acknowledged (a round trip per order when pipelined)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(max(deadline.remaining(), 0.001))
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = exc
            if deadline.passed:
                break
            continue
        sock.settimeout(deadline.seconds)  # as create_connection(timeout=...) leaves it
        return sock
    raise last if last is not None else OSError(f"{host} has no address")
