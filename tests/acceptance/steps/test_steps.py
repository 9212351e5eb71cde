"""Issue 15, steps besides orders, end to end on the embedded exchange over loopback: set_leverage,
cancel (by id, a bracket exit, by symbol, scope: account) and close_position; each judged, reported
(report.json, junit testcase per step) and exactly once (a re-run does nothing again)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal

from runner.exit_codes import ExitCode
from runner.report import Outcome, render_text
from tests.acceptance.run_kit import MARKET, RESTING, order, run, write_playbook
from tests.acceptance.steps.steps_kit import leverage, open_orders, position, step

AFTER_FILL = "symbol: AAPL-USD\nside: BUY\ntype: MARKET\nquantity: 2\n" \
             "bracket: {take_profit: 260.00, stop_loss: 200.00, mode: after_fill}"


def test_leverage_orders_cancel_and_close_end_to_end(tmp_path, simulator):
    book = write_playbook(tmp_path, [
        step("lev", "set_leverage", symbol="AAPL-USD", leverage=5),
        order("rest", RESTING),
        order("buy", MARKET.replace("quantity: 1", "quantity: 2")),
        step("kill", "cancel", orders="[rest]"),
        step("flat", "close_position", symbol="AAPL-USD"),
    ], name="e2e", on_reject="stop")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    assert leverage(simulator) == 5
    assert position(simulator) == 0
    assert open_orders(simulator) == []
    steps = {x.id: x for x in result.report.steps}
    assert [x.outcome for x in result.report.steps] == [Outcome.PASSED] * 3
    assert steps["lev"].verdict == "AAPL-USD leverage set to 5x (was 10x)"
    assert steps["kill"].actions[0].startswith("rest (AAPL-USD, order_id ")
    assert steps["flat"].verdict == "closed the account's whole position on AAPL-USD (2 long): flat"
    rest = result.report.orders[0]  # cancelled on purpose: the playbook's intent, not a failure
    assert rest.outcome is Outcome.PASSED
    assert rest.verdict == "accepted; then cancelled by step 'kill' as the playbook says"

    saved = json.loads((result.report_dir / "report.json").read_text())
    assert [x["step"] for x in saved["steps"]] == ["set_leverage", "cancel", "close_position"]
    suite = ET.parse(result.report_dir / "junit.xml").getroot()
    assert suite.get("tests") == "5" and suite.get("failures") == "0"
    cases = {c.get("name"): c.get("classname") for c in suite.iter("testcase")}
    assert cases["flat"] == "e2e.step.close_position" and cases["lev"] == "e2e.step.set_leverage"
    assert "3 steps, 3 passed" in render_text(result.report)

    again = run(tmp_path, simulator, book, report_dir=tmp_path / "again")  # exactly once
    assert again.exit_code == ExitCode.OK, render_text(again.report)
    assert [x.outcome for x in again.report.steps] == [Outcome.ALREADY_PLACED] * 3
    assert again.report.steps[2].verdict.startswith("done by an earlier run: closed the account's whole")
    assert position(simulator) == 0


def test_set_leverage_refused_with_a_position_says_why_and_what_to_do(tmp_path, simulator):
    opener = write_playbook(tmp_path, [order("buy", MARKET)], name="opener")
    assert run(tmp_path, simulator, opener).exit_code == ExitCode.OK
    book = write_playbook(tmp_path, [step("lev", "set_leverage", symbol="AAPL-USD", leverage=5),
                                     order("after", RESTING)], name="lev", on_reject="stop")
    result = run(tmp_path, simulator, book, report_dir=tmp_path / "lev-report")
    assert result.exit_code == ExitCode.ABORTED
    lev = result.report.steps[0]
    assert lev.outcome is Outcome.FAILED
    assert lev.verdict.startswith("QFEX refused set_user_leverage: InvalidParameter: cannot change leverage")
    assert "cancel them first (a cancel step, or qfex-runner flatten --symbol AAPL-USD)" in lev.verdict
    assert result.report.orders[0].outcome is Outcome.NOT_SENT  # on_reject: stop stops later orders
    assert leverage(simulator) == 10


def test_set_leverage_already_in_place_sends_nothing(tmp_path, simulator):
    book = write_playbook(tmp_path, [step("lev", "set_leverage", symbol="AAPL-USD", leverage=10)],
                          name="same")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK
    assert result.report.steps[0].verdict == "AAPL-USD leverage is 10x (it already was: nothing sent)"
    assert "set_user_leverage" not in (tmp_path / "state").joinpath(
        next(p.name for p in (tmp_path / "state").iterdir() if p.name.endswith(".jsonl"))).read_text()


def test_cancel_a_bracket_exit_by_name_leaves_the_other(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("long", AFTER_FILL, wait="fill", expect="filled"),
                                     step("drop-sl", "cancel", orders="[long.stop_loss]")], name="leg")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    left = open_orders(simulator)
    assert [row["type"] for row in left] == ["TAKE_PROFIT"]
    assert result.report.steps[0].actions[0].startswith("long.stop_loss (AAPL-USD, order_id ")


def test_cancel_by_symbol_touches_only_this_playbooks_orders_unless_scope_account(tmp_path, simulator):
    other = write_playbook(tmp_path, [order("theirs", RESTING)], name="other")
    assert run(tmp_path, simulator, other, state_dir=tmp_path / "other-state").exit_code == ExitCode.OK
    mine = write_playbook(tmp_path, [order("mine", RESTING.replace("220.00", "219.00")),
                                     step("clear", "cancel", symbol="AAPL-USD")], name="mine")
    result = run(tmp_path, simulator, mine)
    assert result.exit_code == ExitCode.OK
    assert [Decimal(str(r["price"])) for r in open_orders(simulator)] == [Decimal("220")]  # theirs stays

    wide = write_playbook(tmp_path, [step("clear-all", "cancel", symbol="AAPL-USD", scope="account")],
                          name="wide")
    result = run(tmp_path, simulator, wide, report_dir=tmp_path / "wide")
    assert result.exit_code == ExitCode.OK
    assert open_orders(simulator) == []
    assert "order of the account" in result.report.steps[0].actions[0]


def test_cancel_all_scope_account_and_close_all(tmp_path, simulator):
    setup = write_playbook(tmp_path, [
        order("a", RESTING), order("t", "symbol: TSLA-USD\nside: BUY\ntype: MARKET\nquantity: 1"),
        order("b", MARKET)], name="setup")
    assert run(tmp_path, simulator, setup, state_dir=tmp_path / "setup-state").exit_code == ExitCode.OK
    book = write_playbook(tmp_path, [step("kill", "cancel", all="true", scope="account"),
                                     step("flat", "close_position", all="true")], name="killall")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    assert open_orders(simulator) == []
    assert position(simulator, "AAPL-USD") == 0 and position(simulator, "TSLA-USD") == 0
    assert result.report.orders == []
    assert "PASSED: 2 steps, 2 passed" in render_text(result.report)


def test_close_position_without_a_position_passes_and_says_so(tmp_path, simulator):
    book = write_playbook(tmp_path, [step("flat", "close_position", symbol="AAPL-USD")], name="noop")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK
    assert result.report.steps[0].verdict == "no position on AAPL-USD: nothing to close"


def test_twap_wait_done_reports_progress_and_a_rerun_does_not_place_it_again(tmp_path, simulator_factory):
    sim = simulator_factory(engine={"twap_speed": 30})  # QFEX's 30 s minimum interval takes 1 s
    book = write_playbook(tmp_path, [step("scale-in", "twap", symbol="AAPL-USD", side="BUY", quantity=3,
                                          duration="90s", interval="30s", wait="done")], name="twap")
    result = run(tmp_path, sim, book, timeout=10.0)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    twap = result.report.steps[0]
    assert twap.verdict.startswith("TWAP done: no longer running at the exchange")
    assert twap.details["client_twap_id"] == twap.key
    assert twap.details["total_num_orders"] == 3 and twap.details["order_interval_secs"] == 30
    assert position(sim) == 3
    again = run(tmp_path, sim, book, report_dir=tmp_path / "again")
    assert again.report.steps[0].outcome is Outcome.ALREADY_PLACED
    assert position(sim) == 3


def test_cancel_twap_stops_a_running_twap(tmp_path, simulator):
    book = write_playbook(tmp_path, [
        step("slow", "twap", symbol="AAPL-USD", side="BUY", quantity=2, duration="60s", interval="30s"),
        step("stop-slow", "cancel_twap", twap="slow")], name="ctwap")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    assert result.report.steps[1].verdict == "TWAP of step 'slow' cancelled (CANCELLED)"
    assert position(simulator) == 1  # the first child went at once; the second never will



def test_a_step_is_a_barrier_in_a_pipelined_run(tmp_path, simulator):
    rungs = [order(f"r{i}", RESTING.replace("220.00", f"21{i}.00")) for i in range(4)]
    book = write_playbook(tmp_path, [*rungs[:2], step("drop-r0", "cancel", orders="[r0]"), *rungs[2:]],
                          name="piped")
    result = run(tmp_path, simulator, book, max_in_flight=4)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    assert sorted(Decimal(str(r["price"])) for r in open_orders(simulator)) == [211, 212, 213]
    assert result.report.orders[0].verdict == \
        "accepted; then cancelled by step 'drop-r0' as the playbook says"


#: the real runner, killed with SIGKILL right after a step's message is journaled (before it is sent)
KILLED_AFTER_STEP_INTENT = """
import os, signal, sys
from runner.run import step_context

def record_then_die(self, key, index, step, message):
    self.journal.record_intent(key, index, step.id, "step", message)
    os.kill(os.getpid(), signal.SIGKILL)

step_context.StepContext.send = record_then_die
from runner.cli import main
main(sys.argv[1:])
"""


def test_kill_9_between_a_close_positions_journal_record_and_its_send_then_rerun(tmp_path, simulator):
    import subprocess
    import sys

    from tests.acceptance.run.test_cli import qfex, sim_env

    book = write_playbook(tmp_path, [order("buy", MARKET.replace("quantity: 1", "quantity: 3")),
                                     step("flat", "close_position", symbol="AAPL-USD")], name="crash")
    command = [sys.executable, "-c", KILLED_AFTER_STEP_INTENT, "run", str(book), "--url", simulator.url]
    killed = subprocess.run(command, cwd=tmp_path, env=sim_env(simulator), capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == -9
    assert position(simulator) == 3  # the close was journaled, never sent
    again = qfex(["run", str(book), "--url", simulator.url], cwd=tmp_path, env=sim_env(simulator))
    assert again.returncode == ExitCode.OK, again.stdout + again.stderr
    assert position(simulator) == 0  # closed once: reduce-only, and only what is still held is closed
    assert "already_placed" in again.stdout  # the buy is adopted, not placed again
    third = qfex(["run", str(book), "--url", simulator.url], cwd=tmp_path, env=sim_env(simulator))
    assert third.returncode == ExitCode.OK and "already done" in third.stdout
    assert position(simulator) == 0


def test_an_after_fill_entry_cancelled_by_a_step_says_why_its_exits_were_never_placed(tmp_path, simulator):
    entry = RESTING + "\nbracket: {take_profit: 240.00, stop_loss: 200.00, mode: after_fill}"
    book = write_playbook(tmp_path, [order("long", entry), step("kill", "cancel", orders="[long]")],
                          name="unfilled")
    result = run(tmp_path, simulator, book, timeout=1.0)
    assert result.exit_code == ExitCode.OK, render_text(result.report)
    notes = {leg.note for leg in result.report.orders[0].legs}
    assert notes == {"not placed: the entry was cancelled by step 'kill' before it filled"}
    assert not [w for w in result.report.warnings if "is resting unfilled" in w]
