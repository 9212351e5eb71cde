"""Ctrl-C during a run: stop sending at a safe point, then write the report (exit 130).

A SIGINT between a journal intent and its send would leave an intent the exchange may or may
not have seen; `critical()` defers the interrupt to the end of such a section.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class Interrupts:
    """SIGINT stops sending at a safe point: never between a journal intent and its send."""

    def __init__(self) -> None:
        self.requested = False
        self._critical = 0
        self._previous: Any = None
        self._installed = False

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        self.requested = True
        self.uninstall()  # a second Ctrl-C is the user insisting: default behaviour
        if self._critical == 0:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if self.requested and self._critical == 0:
            raise KeyboardInterrupt
