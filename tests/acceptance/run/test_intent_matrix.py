"""Never exit 0 when the trader's intent failed: order type × time in force × wait × expect, on a
first run and on re-runs with and without the journal (issue 12). One single-order playbook per
case against a standalone local exchange with QFEX's 100 ms speed bump, reached by URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.exit_codes import ExitCode
from tests.acceptance.exactly_once_kit import Harness

#: kind -> (the order's fields, the expectations it meets); the market rests around 229.95 / 230.05
KINDS: dict[str, tuple[str, frozenset[str]]] = {
    "market": ("type: MARKET", frozenset({"accepted", "filled"})),
    "ioc-miss": ("type: LIMIT, time_in_force: IOC, price: 200.00", frozenset({"accepted"})),
    "ioc-fill": ("type: LIMIT, time_in_force: IOC, price: 240.00", frozenset({"accepted", "filled"})),
    "fok-kill": ("type: LIMIT, time_in_force: FOK, price: 200.00", frozenset({"accepted"})),
    "fok-fill": ("type: LIMIT, time_in_force: FOK, price: 240.00", frozenset({"accepted", "filled"})),
    "gtc-rest": ("type: LIMIT, time_in_force: GTC, price: 200.00", frozenset({"accepted"})),
    "gtc-cross": ("type: LIMIT, time_in_force: GTC, price: 240.00", frozenset({"accepted", "filled"})),
    "alo-rest": ("type: ALO, price: 200.00", frozenset({"accepted"})),
    "alo-cross": ("type: ALO, price: 240.00", frozenset()),  # QFEX cancels a crossing ALO
    "margin": ("type: LIMIT, price: 220.00, quantity: 90000",
               frozenset({"rejected", "{rejected: FAILED_MARGIN_CHECK}"})),
}
EXPECTS = ("accepted", "filled", "rejected")
WAITS = ("ack", "none", "fill")

CASES = [(kind, expect, wait) for kind in KINDS for expect in EXPECTS for wait in WAITS]
CASES += [("margin", "{rejected: FAILED_MARGIN_CHECK}", "ack"), ("margin", "{rejected: BAD_SYMBOL}", "none")]


@pytest.fixture
def harness(tmp_path: Path, dialect: str) -> Iterator[Harness]:
    made = Harness(tmp_path, dialect=dialect, speed_bump_ms=100, orders="")
    yield made
    made.stop()


def run_once(harness: Harness) -> Any:
    from runner.run.engine import run_playbook
    from runner.run.options import RunOptions

    harness.runs += 1
    return run_playbook(RunOptions(
        playbook=str(harness.playbook), url=harness.sim.url, handle_sigint=False, timeout=1.0,
        env={"QFEX_PUBLIC_KEY": harness.sim.public_key, "QFEX_SECRET_KEY": harness.sim.secret_key},
        state_dir=str(harness.state_dir), report_dir=str(harness.directory / f"report-{harness.runs}"),
        runs_base=str(harness.directory / "runs")))


@pytest.mark.parametrize(("kind", "expect", "wait"), CASES, ids=[f"{k}-{e}-{w}" for k, e, w in CASES])
def test_exit_0_only_when_the_intent_was_met(harness: Harness, kind: str, expect: str, wait: str) -> None:
    fields, meets = KINDS[kind]
    quantity = "" if "quantity" in fields else ", quantity: 1"
    harness.playbook.write_text(
        harness.playbook.read_text()
        + f"  - {{id: o, symbol: AAPL-USD, side: BUY, {fields}{quantity}, wait: {wait}, expect: {expect}}}\n")
    met = expect in meets
    for attempt in ("first run", "re-run", "re-run without the journal"):
        if attempt == "re-run without the journal":
            harness.forget_journal()
        result = run_once(harness)
        only = result.report.orders[0]
        assert (result.exit_code == ExitCode.OK) == met, (attempt, only.outcome, only.verdict)
        finished = (ExitCode.OK, ExitCode.ORDERS_FAILED)
        assert result.exit_code in finished, (attempt, result.report.summary.message)
        if not met:
            assert only.outcome.value in ("failed", "unknown"), (attempt, only.verdict)
