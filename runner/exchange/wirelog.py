"""The audit trail: one JSON line per frame sent to or received from the exchange, as it happens.

Each line: `{"wall": <unix seconds>, "mono": <monotonic seconds>, "conn": <connection number>,
"dir": "open" | "sent" | "recv" | "close", "frame": <the frame, or its text if not JSON>}`. Lines
are flushed one at a time, so a run killed with SIGKILL leaves every frame up to the kill; a "sent"
line is written just before its frame goes to the socket (like the journal's intent), so the log
never misses a frame the exchange received.

Secrets never reach the file: the secret key itself never travels; the auth message's `signature`
(and any `jwt`, `secret…` key) is replaced by "<redacted>" wherever it appears — also when the
exchange echoes the auth request back in an `err` frame — and every signature this log has seen sent
is cut out of any received text by value. The dialled URL is logged without its query string.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from runner import jsonnum

REDACTED = "<redacted>"
_SECRET_KEYS = re.compile(r"^(signature|jwt|secret.*|.*_secret|password|token)$", re.IGNORECASE)
_SECRET_TEXT = re.compile(r'("(?:signature|jwt|secret[a-z_]*)"\s*:\s*)"[^"]*"', re.IGNORECASE)


class FrameRecorder(Protocol):
    """What `exchange.client.TradeSession` tells an audit trail (an optional hook)."""

    def opened(self, url: str) -> int: ...

    def sent(self, connection: int, text: str) -> None: ...

    def received(self, connection: int, data: bytes | str) -> None: ...

    def closed(self, connection: int) -> None: ...


class WireLog:
    """A `FrameRecorder` appending JSON lines to a file (created 0600: frames name the account)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file: IO[str] = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()
        self._connections = 0
        self._signatures: set[str] = set()

    def opened(self, url: str) -> int:
        with self._lock:
            self._connections += 1
            number = self._connections
        self._write(number, "open", url.split("?", 1)[0])
        return number

    def sent(self, connection: int, text: str) -> None:
        frame = _parse(text)
        self._remember_signatures(frame)
        self._write(connection, "sent", _redact(frame) if frame is not None else self._scrub(text))

    def received(self, connection: int, data: bytes | str) -> None:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        frame = _parse(text)
        self._write(connection, "recv", _redact(frame) if frame is not None else self._scrub(text))

    def closed(self, connection: int) -> None:
        self._write(connection, "close", None)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def _remember_signatures(self, frame: object) -> None:
        for key, value in _walk(frame):
            if key == "signature" and isinstance(value, str) and value:
                self._signatures.add(value)

    def _scrub(self, text: str) -> str:
        text = _SECRET_TEXT.sub(lambda m: m.group(1) + f'"{REDACTED}"', text)
        for signature in self._signatures:
            text = text.replace(signature, REDACTED)
        return text

    def _write(self, connection: int, direction: str, frame: object) -> None:
        line = jsonnum.dumps({"wall": round(time.time(), 6), "mono": round(time.monotonic(), 6),
                              "conn": connection, "dir": direction, "frame": frame})
        for signature in self._signatures:  # by value, wherever an echo put it
            line = line.replace(signature, REDACTED)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()


def _parse(text: str) -> object | None:
    try:
        value: object = jsonnum.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    return value


def _redact(value: object) -> object:
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEYS.match(str(k)) and v not in (None, "") else _redact(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str) and value.lstrip().startswith("{"):  # an echoed request as text
        inner = _parse(value)
        if isinstance(inner, dict):
            return jsonnum.dumps(_redact(inner))
    return value


def _walk(value: object) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k), v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
