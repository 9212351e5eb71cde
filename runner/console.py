"""What a person sees while `run` works: a progress line on a terminal, quiet in CI unless asked.

On a TTY the line is rewritten in place (`\\r`); with `--progress` on a non-TTY (CI logs) each
event is its own line. Colour only on a TTY and never when `NO_COLOR` is set (no-color.org).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from runner.run.options import Progress
from runner.words import printable


def use_color(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressLine:
    """A `Progress` callback writing to `stream` (stderr by default, so stdout stays clean)."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = _isatty(self.stream)
        self.enabled = self.tty if enabled is None else enabled
        self._width = 0

    def __call__(self, event: Progress) -> None:
        if not self.enabled:
            return
        text = self._describe(event)
        if text is None:
            return
        text = printable(text)  # statuses and details can carry the exchange's own text
        if self.tty:
            if event.kind == "done":  # leave a clean line for the summary table
                self.stream.write("\r" + " " * self._width + "\r")
                self._width = 0
            else:
                import shutil  # only for a terminal (its import costs start-up)

                text = text[: max(shutil.get_terminal_size().columns - 1, 20)]
                self.stream.write("\r" + text + " " * max(self._width - len(text), 0))
                self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    @staticmethod
    def _describe(event: Progress) -> str | None:
        if event.kind == "connected":
            return f"connected to {event.detail}"
        if event.kind == "done":
            return f"done: {event.status}"
        if event.kind == "step":
            return f"[step] {event.order_id}: {event.status} — {event.detail}"
        position = f"[{event.index + 1}/{event.total}]"
        if event.kind == "sent":
            return f"{position} {event.order_id}: sent {event.detail}".rstrip()
        if event.kind in ("answer", "update"):
            return f"{position} {event.order_id}: {event.status}"
        if event.kind == "leg":  # an exit plan's event says what happened; a bracket's, the legs' statuses
            return f"{position} {event.order_id}: {event.detail}" if event.detail else \
                f"{position} {event.order_id}: bracket legs {event.status}"
        if event.kind == "judged":
            return f"{position} {event.order_id}: {event.status} — {event.detail}"
        return None
