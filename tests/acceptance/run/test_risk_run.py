"""Risk as code, end to end on the local exchange over loopback: sizing from the exchange's equity, the
preview in the report, a margin failure the preview predicts, a stop-out against the preview's worst
case, and quantities frozen across re-runs (never re-sized from an equity that moved)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.cli import cli
from runner.exit_codes import ExitCode
from runner.report import Outcome, render_markdown, render_text
from runner.words import money_text
from tests.acceptance.exactly_once_kit import Harness, run_in_process_at
from tests.acceptance.run_kit import order, run, write_playbook

ROOT = Path(__file__).resolve().parents[3]
REFDATA = ROOT / "runner" / "simulator" / "data" / "refdata.json"

#: 0.5% of the demo account's 1,000,000 is 5,000; 10.00 to the stop -> 500 AAPL-USD
PERCENT_LONG = ("symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nprice: 225.00\nquantity: {risk: 0.5%}\n"
                "bracket: {stop_loss: 215.00, take_profit: 245.00}")


def test_a_percent_of_equity_is_read_from_the_exchange_and_sized_before_sending(tmp_path: Path,
                                                                                 simulator: Any) -> None:
    book = write_playbook(tmp_path, [order("long", PERCENT_LONG)], name="pct")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    placed = result.report.orders[0]
    assert placed.quantity == D("500.000")  # floor(5000 / 10.00 / 0.001) lots of 0.001
    resting = simulator.call(lambda ex: ex.orders(ex.account_for_key(simulator.public_key).account_id))
    assert [D(str(o["quantity"])) for o in resting] == [D(500)]  # what the exchange holds
    risk = result.report.risk
    assert risk is not None
    row = risk["orders"][0]
    assert (row["sizing"], row["loss_at_stop"], row["notional"], row["margin"]) == \
        ("risk 0.5%", D("5000.00000"), D("112500.00000"), D("11250.00"))
    assert row["rewards"] == [{"price": D("245.00"), "quantity": D("500.000"), "reward": D("10000.00000")}]
    assert row["r_multiple"] == D("2.00")
    assert risk["account"]["equity"] == D(1_000_000) and risk["account"]["available_balance"] == D(1_000_000)
    text = render_text(result.report)
    assert "long: BUY 500 AAPL-USD sized by risk 0.5%, notional 112,500.00, margin 11,250.00 at 10x, " \
           "loss at stop -5,000.00, reward 245.00: +10,000.00 (2.00R)" in text
    assert "### Risk" in render_markdown(result.report)
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["risk"]["total"]["worst_case_loss"] == "5000.00000" or \
        D(str(saved["risk"]["total"]["worst_case_loss"])) == D(5000)


def test_a_margin_failure_the_preview_predicts_is_the_exchange_s_failed_margin_check(tmp_path: Path,
                                                                                     simulator: Any) -> None:
    """{risk: 10%} of 1,000,000 with 1.00 to the stop is 100,000 AAPL-USD: 22.5M notional, 2.25M margin
    at 10x — the preview says it is more than available, and the exchange refuses it."""
    body = ("symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nprice: 225.00\nquantity: {risk: 10%}\n"
            "bracket: {stop_loss: 224.00}\nexpect: {rejected: FAILED_MARGIN_CHECK}")
    book = write_playbook(tmp_path, [order("huge", body)], name="margin")
    account = tmp_path / "account.json"
    account.write_text(json.dumps({"equity": "1000000", "available_balance": "1000000",
                                   "leverage": {"AAPL-USD": "10"}}))
    planned = CliRunner().invoke(cli, ["plan", str(book), "--refdata", str(REFDATA),
                                       "--account", str(account)], standalone_mode=False)
    assert planned.exit_code == 0 and planned.return_value == ExitCode.OK, planned.output
    assert "margin needed 2,250,000.00 vs available 1,000,000.00" in planned.output
    assert "MORE THAN AVAILABLE: the exchange would refuse with FAILED_MARGIN_CHECK" in planned.output
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    rejected = result.report.orders[0]
    assert rejected.quantity == D("100000.000") and rejected.reject is not None
    assert rejected.reject.code == "FAILED_MARGIN_CHECK"
    assert result.report.risk is not None
    risk = result.report.risk
    assert D(str(risk["total"]["margin"])) > D(str(risk["account"]["available_balance"]))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path, orders=(
        "  - {id: long, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: {risk: 0.5%}, wait: fill,\n"
        "     expect: filled, bracket: {mode: after_fill, stop_loss: 225.00, take_profit: 245.00}}\n"))
    yield made
    made.stop()


def test_a_stop_out_realises_the_preview_s_worst_case_within_fees_and_slippage(harness: Harness) -> None:
    first = run_in_process_at(harness)
    assert first.exit_code == ExitCode.OK, render_text(first.report)
    long = first.report.orders[0]
    # 0.5% of 1,000,000 over |230.00 (AAPL-USD's reference price) - 225.00| = 1,000 AAPL-USD
    assert long.quantity == D("1000.000") and long.filled_quantity == D(1000)
    preview = first.report.risk
    assert preview is not None and preview["outcomes"] == []
    filled_at = long.average_price
    assert filled_at is not None  # a MARKET entry: measured from its fill once filled (the ask, 230.05)
    preview_loss = D(1000) * (filled_at - D("225.00"))
    assert D(str(preview["orders"][0]["loss_at_stop"])) == preview_loss

    harness.set_mid("220")  # through the stop: it triggers and sells the position at market
    again = run_in_process_at(harness)
    assert again.exit_code == ExitCode.OK, render_text(again.report)
    assert again.report.orders[0].outcome is Outcome.ALREADY_PLACED
    assert again.report.orders[0].quantity == D("1000.000")  # frozen: the equity moved, no re-size
    outcome = again.report.risk["outcomes"][0] if again.report.risk else {}
    assert outcome["exit"] == "stop_loss" and outcome["closed_quantity"] == D(1000)
    assert D(str(again.report.risk["orders"][0]["loss_at_stop"])) == preview_loss  # type: ignore[index]
    realised, slippage = outcome["realised"], outcome["slippage"]
    entry_difference = outcome["entry_difference"]
    # the identity the report states: realised = planned - slippage past the trigger - entry difference
    assert outcome["planned"] == -preview_loss
    assert realised == -preview_loss - slippage - entry_difference
    assert slippage >= 0 and outcome["fees"] > 0 and outcome["net"] == realised - outcome["fees"]
    assert "long stopped out: 1000 at" in render_text(again.report)
    assert f"(preview's loss at stop {money_text(-preview_loss)})" in render_text(again.report)


def test_a_rerun_without_journal_takes_the_placed_quantity_from_the_exchange(harness: Harness) -> None:
    harness.playbook.write_text(harness.playbook.read_text().replace(
        "type: MARKET, quantity: {risk: 0.5%}, wait: fill,\n     expect: filled,",
        "type: LIMIT, price: 228.00, quantity: {risk: 0.5%},").replace("mode: after_fill, ", ""))
    first = run_in_process_at(harness)
    assert first.exit_code == ExitCode.OK, render_text(first.report)
    assert first.report.orders[0].quantity == D("1666.666")  # 5000 / |228.00 - 225.00|
    harness.forget_journal()
    # the equity moves (a deposit): today's sizing would be larger, but the order is placed already
    harness.sim.call(lambda ex: setattr(ex.account_for_key(harness.sim.public_key), "deposit", D(2_000_000)))
    again = run_in_process_at(harness)
    assert again.exit_code == ExitCode.OK, render_text(again.report)
    assert again.report.orders[0].outcome is Outcome.ALREADY_PLACED
    assert again.report.orders[0].quantity == D("1666.666")
    assert harness.counts() == {harness_coid(harness): 1}
    third = run_in_process_at(harness)  # with the journal the adoption wrote: the exchange's quantity
    assert third.exit_code == ExitCode.OK, render_text(third.report)
    assert third.report.orders[0].quantity == D("1666.666")


def harness_coid(harness: Harness) -> str:
    from tests.acceptance.exactly_once_kit import coid

    return coid("long")


def test_a_sized_market_order_is_valued_at_the_target_s_mark_price(tmp_path: Path, simulator: Any) -> None:
    """{notional: 5000} of MARKET AAPL-USD with the mark pinned at 250.00 (the reference data says
    230.00): 20 AAPL-USD, read from the market-data feed before sending."""
    simulator.call(lambda ex: ex.set_mark("AAPL-USD", D("250.00")))
    body = "symbol: AAPL-USD\nside: BUY\ntype: MARKET\nquantity: {notional: 5000}\nexpect: filled\nwait: fill"
    book = write_playbook(tmp_path, [order("by-mark", body)], name="mark")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    assert result.report.orders[0].quantity == D("20.000")
    assert not [w for w in result.report.warnings if "mark price" in w]
