"""Helpers for the converge tests: a playbook file edited between runs, the CLI as a user runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.acceptance.run.test_cli import qfex, sim_env

ENTRY = """\
version: 1
name: be
run_id: "r1"
orders:
  - id: aapl-long
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: 10
    price: 225.00
    bracket:
      mode: after_fill
      stop_loss: 215.00
      take_profit: 245.00
"""


#: A resting entry with an after_fill bracket holds a run for its fill up to --timeout (default 30 s);
#: these tests fill it between runs, so a run need not wait long (answers come in milliseconds).
RUN_TIMEOUT = ("--timeout", "5")


def cli(tmp_path: Path, sim: Any, *args: str) -> Any:
    """`qfex-runner ARGS --url SIM` in `tmp_path` (journal in runs/<name>/.state: kept across runs)."""
    extra = RUN_TIMEOUT if args and args[0] == "run" else ()
    return qfex([*args, *extra, "--url", sim.url], cwd=tmp_path, env=sim_env(sim))


def stop_rows(sim: Any) -> dict[str, dict]:
    from tests.acceptance.steps.steps_kit import open_orders

    return {row["type"]: row for row in open_orders(sim) if row["type"] in ("TAKE_PROFIT", "STOP_LOSS")}


def fill_at_225(sim: Any) -> None:
    """The market dips through the resting bid at 225 (it fills there), then recovers to 229."""
    sim.call(lambda ex: ex.set_mid("AAPL-USD", "224.00"))
    sim.call(lambda ex: ex.set_mid("AAPL-USD", "229.00"))
