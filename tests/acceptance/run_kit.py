"""Helpers for the run acceptance tests: write a playbook, run it against a simulator over loopback."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

from runner.run.engine import run_playbook
from runner.run.options import RunOptions, RunResult

#: an order the exchange accepts and rests (below the ~230 market)
RESTING = "symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 1\nprice: 220.00"
#: an order that fills at once
MARKET = "symbol: AAPL-USD\nside: BUY\ntype: MARKET\nquantity: 1"
#: valid by every rule the runner checks, refused by the exchange: ~19.8M notional on a 1M account
MARGIN_REJECT = "symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 90000\nprice: 220.00"


def order(id_: str, body: str, **extra: Any) -> str:
    lines = [f"id: {id_}", *body.splitlines(), *(f"{k}: {v}" for k, v in extra.items())]
    return "  - " + "\n    ".join(lines)


def write_playbook(tmp_path: Path, orders: list[str], *, name: str = "t", on_reject: str = "continue",
                   extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    header = textwrap.dedent(f"""\
        version: 1
        name: {name}
        on_reject: {on_reject}
        """)
    path.write_text(header + extra + "orders:\n" + "\n".join(orders) + "\n")
    return path


def run(tmp_path: Path, sim: Any, playbook: Path, **options: Any) -> RunResult:
    env = {"QFEX_PUBLIC_KEY": sim.public_key, "QFEX_SECRET_KEY": sim.secret_key}
    options.setdefault("timeout", 5.0)
    return run_playbook(RunOptions(
        playbook=str(playbook), url=sim.url, env=options.pop("env", env), handle_sigint=False,
        state_dir=str(options.pop("state_dir", tmp_path / "state")),
        report_dir=str(options.pop("report_dir", tmp_path / "report")),
        runs_base=str(tmp_path / "runs"), **options))


def outcomes(result: RunResult) -> list[str]:
    return [o.outcome.value for o in result.report.orders]


def position_once_realised(sim: Any, symbol: str = "AAPL-USD", timeout: float = 30.0) -> dict:
    """The demo account's position in `symbol` once it has realised PnL (or at `timeout`).

    For scenario rehearsals: the scenario's clock is wall time, so there is no event to await but
    its progress — poll the exchange every 0.1 s.
    """
    account = sim.call(lambda ex: ex.account_for_key(sim.public_key)).account_id
    deadline = time.monotonic() + timeout
    while True:
        position = sim.call(lambda ex: ex.position(account, symbol))
        if position["realised_pnl"] != 0 or time.monotonic() > deadline:
            return position
        time.sleep(0.1)
