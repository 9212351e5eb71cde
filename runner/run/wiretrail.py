"""Where a run's audit trail of frames goes (`runner.exchange.wirelog`): `--wire-log FILE`, else
`wire.jsonl` in the report dir for the live targets (uat, prod), else nowhere."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from runner.errors import UsageError
from runner.exchange.targets import PROD, UAT, Target
from runner.exchange.wirelog import WireLog
from runner.run.options import RunOptions

WIRE_LOG = "wire.jsonl"


def wire_log_path(options: RunOptions, target: Target, report_dir: Path) -> Path | None:
    if options.wire_log:
        return Path(options.wire_log)
    if target.name in (UAT, PROD) and options.write_reports:
        return report_dir / WIRE_LOG
    return None


@contextlib.contextmanager
def wire_log(path: Path | None) -> Iterator[WireLog | None]:
    """The open audit trail (closed at the end), or None; a path that cannot be opened is a usage error
    before anything is sent."""
    if path is None:
        yield None
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = WireLog(path)
    except OSError as exc:
        raise UsageError(f"cannot write the wire log {path}: {exc.strerror or exc}; "
                         f"nothing was sent") from None
    try:
        yield log
    finally:
        log.close()
