"""`qfex-runner refdata pull`: the target's `/refdata` written into the playbook repository, dated.

The snapshot (`runner.playbook.snapshot`) lets `validate`, `plan` and the pre-commit hook check
tick, lot, quantity and price-band rules offline, with the same data `run` fetches. `/refdata` is
public on QFEX (no credentials). `--target sim` starts the embedded exchange just long enough to
read its reference data (the shipped sample symbols). Mark prices are not pulled yet: QFEX serves
them on the market-data feed, which this runner does not read; the snapshot keeps each symbol's
`underlier_price`, the reference price MARKET orders are valued at.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

from runner.exchange.targets import SIM, resolve_target
from runner.playbook.refdata import fetch_refdata_json
from runner.playbook.snapshot import snapshot_body, write_snapshot
from runner.run.setup import embedded_exchange


def pull_refdata(target_name: str | None, url: str | None, directory: str | Path, now: datetime,
                 timeout: float = 10.0) -> tuple[Path, int]:
    """Fetch and write the snapshot; (its path, how many symbols). RefDataError/UsageError on failure."""
    target = resolve_target(target_name, url)
    with contextlib.ExitStack() as stack:
        if target.name == SIM:
            target = target.at(stack.enter_context(embedded_exchange(None)).url)
        if target.refdata_url is None:
            from runner.errors import UsageError

            raise UsageError(f"no reference data URL for {target.name}")
        source, body = fetch_refdata_json(target.refdata_url, timeout)
        if target.name == SIM:  # its URL lives only as long as this command: name what it is instead
            source = "embedded exchange sample data"
        snapshot = snapshot_body(body, source, target.name, now)
    return write_snapshot(directory, snapshot), len(snapshot["data"])
