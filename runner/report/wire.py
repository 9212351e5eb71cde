"""`report DIR --format wire`: a run's audit trail (`wire.jsonl`) as a readable transcript.

One line per frame: UTC time, milliseconds since the first line (monotonic), the connection
number, the direction (→ sent, ← received, + opened, × closed) and the frame as compact JSON.
The file is already redacted when written; a damaged line (a kill mid-write) is shown, not fatal.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from runner import jsonnum
from runner.errors import UsageError

WIRE_LOG = "wire.jsonl"
_ARROWS = {"sent": "→", "recv": "←", "open": "+", "close": "×"}


def wire_log_file(source: str | os.PathLike[str]) -> Path:
    """The wire log of a run dir, or the file itself; `UsageError` when there is none."""
    path = Path(source)
    if path.is_dir():
        path = path / WIRE_LOG
    if not path.is_file():
        raise UsageError(f"no wire log at {path} "
                         f"(run with --wire-log FILE, or against uat/prod, to keep one)")
    return path


def render_wire(source: str | os.PathLike[str]) -> str:
    path = wire_log_file(source)
    out: list[str] = []
    first: float | None = None
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, raw in enumerate(lines, 1):
            try:
                entry = jsonnum.loads(raw)
                wall, mono = float(entry["wall"]), float(entry["mono"])
                conn, direction = int(entry["conn"]), str(entry["dir"])
            except (ValueError, KeyError, TypeError):
                out.append(f"line {number}: unreadable: {raw.rstrip()[:200]}")
                continue
            first = mono if first is None else first
            stamp = datetime.fromtimestamp(wall, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]
            frame = entry.get("frame")
            text = frame if isinstance(frame, str) else ("" if frame is None else jsonnum.dumps(frame))
            arrow = _ARROWS.get(direction, "?")
            out.append(f"{stamp}Z +{(mono - first) * 1000:9.1f}ms  #{conn} {arrow} {text}")
    return "\n".join(out) + ("\n" if out else "")
