"""Reference data kept in the playbook repository (`qfex-refdata.json`), dated, found without flags.

`qfex-runner refdata pull` writes the target's `GET /refdata` body with when and where it was
taken::

    {"taken_at": "2026-12-05T08:00:00Z", "source": "https://api.qfex.com/refdata", "target": "prod",
     "data": [ ...QFEX's RefdataSymbol objects, as the exchange sent them... ],
     "marks": {"AAPL-USD": "230.05", ...}}

`marks` (optional: the market-data feed's mark price per symbol when the snapshot was taken)
values MARKET orders offline, as `run` values them at the live mark.

`validate`, `plan` and the pre-commit hook look for it as for the policy file (from the playbook's
directory up to the repository root) when no `--refdata` is given, so tick, lot, band and MARKET
notional checks run offline and agree with `run`. They say its age, and warn (rule `refdata-age`)
when it is older than `refdata.max_age_days` of the policy file (default 7 days).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner import jsonnum
from runner.errors import UsageError
from runner.playbook.policy import DEFAULT_MAX_AGE_DAYS, find_upwards, shown_path
from runner.playbook.refdata import RefData, load_refdata_file, parse_refdata
from runner.problems import Location, Problem, Severity

SNAPSHOT_FILE = "qfex-refdata.json"
AGE_RULE = "refdata-age"
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


def find_snapshot(playbook_path: str | Path) -> Path | None:
    found = find_upwards(playbook_path, SNAPSHOT_FILE)
    return Path(shown_path(found)) if found is not None else None


def _taken_at(path: Path) -> str | None:
    try:
        obj = jsonnum.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    taken = obj.get("taken_at") if isinstance(obj, dict) else None
    return str(taken) if taken is not None else None


def load_snapshot(path: str | Path) -> RefData:
    """A snapshot file as RefData (its `taken_at` kept); a bad file is a UsageError naming it."""
    refdata = load_refdata_file(path)
    refdata.taken_at = _taken_at(Path(path))
    return refdata


def snapshot_marks(path: str | Path) -> dict[str, Decimal]:
    """The snapshot's mark prices (none: an older snapshot, or none were pulled)."""
    try:
        obj = jsonnum.loads(Path(path).read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    marks = obj.get("marks") if isinstance(obj, dict) else None
    if not isinstance(marks, dict):
        return {}
    found = {}
    for symbol, price in marks.items():
        try:
            value = Decimal(str(price))
        except ArithmeticError:
            continue
        if value.is_finite() and value > 0:
            found[str(symbol)] = value
    return found


def parse_stamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, _STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def age_text(taken_at: str | None, now: datetime) -> str:
    """`taken 2026-12-05T08:00:00Z (3 h ago)` / `undated`."""
    taken = parse_stamp(taken_at)
    if taken is None:
        return "undated (no taken_at)"
    seconds = max((now - taken).total_seconds(), 0)
    if seconds < 3600:
        ago = f"{int(seconds // 60)} min ago"
    elif seconds < 2 * 86400:
        ago = f"{int(seconds // 3600)} h ago"
    else:
        ago = f"{int(seconds // 86400)} days ago"
    return f"taken {taken_at} ({ago})"


def age_problem(refdata: RefData, max_age_days: Decimal, now: datetime) -> Problem | None:
    """A warning, located at the snapshot, when it is older than `max_age_days` (or undated)."""
    taken = parse_stamp(refdata.taken_at)
    where = Location(refdata.source, 1, 1)
    if taken is None:
        return Problem(where, "reference-data snapshot has no taken_at: its age is unknown; refresh it with "
                       "qfex-runner refdata pull", AGE_RULE, Severity.WARNING)
    age_days = Decimal((now - taken).total_seconds()) / Decimal(86400)
    if age_days <= max_age_days:
        return None
    return Problem(where, f"reference data {age_text(refdata.taken_at, now)} is older than "
                   f"{format(max_age_days, 'f')} days: tick sizes, lot sizes and price bands may have "
                   f"changed; refresh it with qfex-runner refdata pull", AGE_RULE, Severity.WARNING)


def snapshot_body(body: Any, source: str, target: str, now: datetime) -> dict[str, Any]:
    """What `refdata pull` writes: QFEX's symbols as sent, with when and where they were taken."""
    items = body.get("data") if isinstance(body, dict) else body
    parse_refdata(items, source)  # refuse to write what could not be read back
    return {"taken_at": now.strftime(_STAMP), "source": source, "target": target, "data": items}


def write_snapshot(directory: str | Path, snapshot: dict[str, Any]) -> Path:
    """Write `qfex-refdata.json` into `directory` atomically (a reader never sees half a file)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"--dir {directory}: not a directory")
    path = directory / SNAPSHOT_FILE
    fd, tmp = tempfile.mkstemp(prefix=".qfex-refdata-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(jsonnum.dumps(snapshot, indent=2) + "\n")
        os.chmod(tmp, 0o644)  # a file of the repository, like the playbooks (mkstemp makes it 0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = ["DEFAULT_MAX_AGE_DAYS", "SNAPSHOT_FILE", "age_problem", "age_text", "find_snapshot",
           "load_snapshot", "snapshot_body", "write_snapshot"]
