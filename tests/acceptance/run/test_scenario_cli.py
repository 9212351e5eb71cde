"""End to end as a trader rehearses: `qfex-runner sim --scenario` in the background, `run`, the market
moves, `run` again and `status` — the bracket legs' fate (which exit filled, which was cancelled) is
reported honestly in both bracket modes, with the journal and on a fresh machine without it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.acceptance.run.exit_plans_kit import standalone as standalone_sim
from tests.acceptance.run.test_cli import cli_env, qfex
from tests.acceptance.run.test_reports import validate_report

#: dips through 220.00 (fills both bids), then rallies through 240.00 (both take-profits trigger)
SCENARIO = """\
name: dip-and-rally
symbols:
  AAPL-USD:
    start: 230.00
    steps:
      - {at: 1.5s, mid: 219.50}
      - {at: 6s, mid: 245.00}
"""

PLAYBOOK = """\
version: 1
name: rehearsal
run_id: r1
on_reject: stop
orders:
  - id: att
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: 1
    price: 220.00
    bracket: {take_profit: 240.00, stop_loss: 210.00}
  - id: af
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: 1
    price: 220.00
    bracket: {take_profit: 240.00, stop_loss: 210.00, mode: after_fill}
"""

ENV = {"QFEX_PUBLIC_KEY": "qfex_pub_demo", "QFEX_SECRET_KEY": "qfex_secret_demo"}


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[str]:
    """`qfex-runner sim --scenario` as its own process; yields its WebSocket URL."""
    with standalone_sim(tmp_path, SCENARIO) as url:
        yield url


def exits_of(status: dict, order_id: str) -> dict[str, str]:
    entry = next(o for o in status["orders"] if o["id"] == order_id and o["leg"] == "entry")
    return {x["leg"]: x["state"] for x in entry["exits"]}


def test_rerun_after_the_take_profits_fired_says_which_leg_filled(tmp_path: Path, standalone: str) -> None:
    (tmp_path / "book.yaml").write_text(PLAYBOOK)
    env = cli_env(ENV)
    common = ["--url", standalone, "--timeout", "20"]
    first = qfex(["run", "book.yaml", *common, "--state-dir", "state", "--report-dir", "r1"], tmp_path, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "SL 210.00 x1 ACK" in first.stdout  # after_fill legs placed once the dip filled the entry

    deadline = time.monotonic() + 30
    while True:  # the rally triggers the take-profits: wait until the exchange shows it
        shown = qfex(["status", "book.yaml", "--url", standalone, "--state-dir", "state", "--format", "json"],
                     tmp_path, env)
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)
        if exits_of(status, "att").get("take_profit") == "filled":
            break
        assert time.monotonic() < deadline, shown.stdout
        time.sleep(0.5)
    assert exits_of(status, "att") == {"take_profit": "filled", "stop_loss": "cancelled"}
    legs = {o["leg"]: o["state"] for o in status["orders"] if o["id"] == "af"}
    assert legs == {"entry": "filled", "tp": "filled", "sl": "open"}

    for state_dir in ("state", "fresh-machine"):
        again = qfex(["run", "book.yaml", *common, "--state-dir", state_dir,
                      "--report-dir", f"re-{state_dir}"], tmp_path, env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "2 already placed" in again.stdout
        report = validate_report(tmp_path / f"re-{state_dir}" / "report.json")
        att, af = report["orders"]
        tp, sl = att["legs"]
        assert (tp["leg"], tp["statuses"][-1]["status"]) == ("take_profit", "FILLED"), tp
        assert Decimal(str(sum(f["quantity"] for f in tp["fills"]))) == 1
        assert (sl["leg"], sl["statuses"][-1]["status"]) == ("stop_loss", "CANCELLED"), sl
        assert "cancelled when the take-profit filled" in sl["note"]
        tp, sl = af["legs"]
        # issue 12: after_fill exits are one-cancels-other (the stop-loss used to stay open, warned about)
        assert tp["statuses"][-1]["status"] == "FILLED"
        if state_dir == "state":
            assert sl["statuses"][-1]["status"] == "CANCELLED" and "one-cancels-other" in sl["note"], sl
        else:  # cancelled by the first re-run: not placed again on the closed position
            assert not sl["statuses"] and "the other exit of this entry has filled" in sl["note"], sl
        assert not any("still open at the exchange" in w for w in report["warnings"])
        table = (tmp_path / f"re-{state_dir}" / "report.md").read_text()
        assert "TP 240.00 x1 FILLED @ " in table and "SL 210.00 CANCELLED" in table, table
        assert "pending" not in table

    shown = qfex(["status", "book.yaml", "--url", standalone, "--state-dir", "fresh-machine"], tmp_path, env)
    assert re.search(r"tp \(attached 240\.00\)\s+filled\s+1/1", shown.stdout), shown.stdout
    assert re.search(r"sl \(attached 210\.00\)\s+cancelled", shown.stdout), shown.stdout
