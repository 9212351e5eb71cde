"""Issue 15, `qfex-runner flatten`: the kill switch as a user runs it (a subprocess against a simulator
over loopback): open orders, a bracket's stops, a running TWAP and positions on several symbols
are all gone afterwards; `--symbol` limits it; the shipped playbooks/flatten.yaml does the same."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

from runner.exit_codes import ExitCode
from tests.acceptance.run.test_cli import REPO, qfex, sim_env
from tests.acceptance.run_kit import RESTING, order, run, write_playbook
from tests.acceptance.steps.steps_kit import open_orders, position, step

AAPL_LONG = "symbol: AAPL-USD\nside: BUY\ntype: MARKET\nquantity: 2\n" \
            "bracket: {take_profit: 260.00, stop_loss: 200.00, mode: after_fill}"
TSLA_SHORT = "symbol: TSLA-USD\nside: SELL\ntype: MARKET\nquantity: 1"
TSLA_OFFER = "symbol: TSLA-USD\nside: SELL\ntype: LIMIT\nquantity: 1\nprice: 400.00"


def desk(tmp_path, sim) -> None:
    """Open orders, after_fill stops, a running TWAP and positions on AAPL-USD and TSLA-USD."""
    book = write_playbook(tmp_path, [
        order("aapl-long", AAPL_LONG, wait="fill", expect="filled"), order("aapl-bid", RESTING),
        order("tsla-short", TSLA_SHORT), order("tsla-offer", TSLA_OFFER),
        step("slow", "twap", symbol="TSLA-USD", side="BUY", quantity="0.5", duration="10m", interval="60s"),
    ], name="desk")
    result = run(tmp_path, sim, book, state_dir=tmp_path / "desk-state")
    assert result.exit_code == ExitCode.OK
    assert {row["type"] for row in open_orders(sim)} == {"LIMIT", "TAKE_PROFIT", "STOP_LOSS"}
    assert sim.call(lambda ex: [t for t in ex._twaps.values() if t.active])  # the TWAP runs


def test_flatten_leaves_no_order_no_twap_and_no_position(tmp_path, simulator):
    desk(tmp_path, simulator)
    done = qfex(["flatten", "--url", simulator.url, "--format", "json"], cwd=tmp_path, env=sim_env(simulator))
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert open_orders(simulator) == []
    assert position(simulator, "AAPL-USD") == 0 and position(simulator, "TSLA-USD") == 0
    assert not sim_twaps(simulator)
    summary = json.loads(done.stdout)
    assert summary["outcome"] == "passed"
    report = json.loads((tmp_path / summary["report_dir"] / "report.json").read_text())
    assert [x["id"] for x in report["steps"]] == ["cancel-everything", "close-everything"]
    assert any("TWAP" in line for line in report["steps"][0]["actions"])
    kept = list((tmp_path / "runs" / "flatten" / "playbooks").glob("flatten-*.yaml"))
    assert len(kept) == 1  # what it ran is kept beside the reports

    again = qfex(["flatten", "--url", simulator.url], cwd=tmp_path, env=sim_env(simulator))
    assert again.returncode == ExitCode.OK  # a fresh run_id each time: the kill switch acts again
    assert "nothing was open to cancel" in again.stdout and "nothing to close" in again.stdout


def test_flatten_one_symbol_leaves_the_others(tmp_path, simulator):
    desk(tmp_path, simulator)
    done = qfex(["flatten", "--symbol", "TSLA-USD", "--url", simulator.url], cwd=tmp_path,
                env=sim_env(simulator))
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert position(simulator, "TSLA-USD") == 0
    assert position(simulator, "AAPL-USD") == Decimal(2)
    assert {row["symbol"] for row in open_orders(simulator)} == {"AAPL-USD"}
    assert not sim_twaps(simulator)


def test_flatten_on_prod_needs_yes(tmp_path):
    done = qfex(["flatten", "--target", "prod"], cwd=tmp_path,
                env={**sim_env_stub(), "QFEX_PUBLIC_KEY": "qfex_pub_x", "QFEX_SECRET_KEY": "qfex_secret_x"})
    assert done.returncode == ExitCode.USAGE
    assert "pass --yes to confirm" in done.stderr


def test_the_shipped_flatten_playbook_does_the_same(tmp_path, simulator):
    desk(tmp_path, simulator)
    shutil.copy(REPO / "playbooks" / "flatten.yaml", tmp_path / "flatten.yaml")
    result = run(tmp_path, simulator, tmp_path / "flatten.yaml")
    assert result.exit_code == ExitCode.OK
    assert open_orders(simulator) == [] and position(simulator, "TSLA-USD") == 0
    assert not sim_twaps(simulator)


def sim_twaps(sim) -> list:
    return sim.call(lambda ex: [t.twap_id for t in ex._twaps.values() if t.active])


def sim_env_stub() -> dict:
    from tests.acceptance.run.test_cli import cli_env

    return cli_env()
