"""`qfex-runner refdata pull`: the target's `/refdata` written into the playbook repository, dated.

The snapshot (`runner.playbook.snapshot`) lets `validate`, `plan` and the pre-commit hook check
tick, lot, quantity and price-band rules offline, with the same data `run` fetches. `/refdata` is
public on QFEX (no credentials), and so is the market-data feed the mark prices come from (each
symbol's first `mark_price` within a few seconds; a symbol without one is left out and MARKET
orders on it are valued at its `underlier_price`). `--target sim` starts the embedded exchange just
long enough to read both (the shipped sample symbols).
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from runner.exchange.targets import SIM, resolve_target
from runner.playbook.refdata import fetch_refdata_json
from runner.playbook.snapshot import snapshot_body, write_snapshot
from runner.run.setup import embedded_exchange


def pull_refdata(target_name: str | None, url: str | None, directory: str | Path, now: datetime,
                 timeout: float = 10.0, marks_wait: float = 3.0) -> tuple[Path, int, int]:
    """Fetch and write the snapshot; (its path, how many symbols, how many mark prices).
    RefDataError/UsageError on failure (no mark price is not a failure)."""
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
        symbols = [item["symbol"] for item in snapshot["data"]]
        marks = mark_prices(target.mds_url, symbols, marks_wait) if target.mds_url else {}
    if marks:
        snapshot["marks"] = marks
    return write_snapshot(directory, snapshot), len(snapshot["data"]), len(marks)


def mark_prices(mds_url: str, symbols: list[str], wait: float) -> dict[str, Decimal]:
    """Each symbol's mark price as the feed first sends it within `wait` seconds (in all)."""
    from runner.exchange.marketdata import MarkPrices

    deadline = time.monotonic() + wait
    found: dict[str, Decimal] = {}
    with MarkPrices(mds_url, symbols, timeout=wait) as feed:
        for symbol in symbols:
            mark = feed.wait_for(symbol, max(deadline - time.monotonic(), 0.0))
            if mark is not None:
                found[symbol] = mark
    return found
