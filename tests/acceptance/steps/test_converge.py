"""Issue 15, the playbook as the desired book: `plan --url` diffs against the exchange (exit 6 with
changes to apply under --detailed-exitcode), `run --converge` modifies placed orders in place
(modify_order / modify_stop_order: the exchange order id stays), `--prune` cancels what the playbook
no longer declares (from the journal only), and what cannot change in place is refused with the
reason, nothing sent. All through the CLI against a simulator that keeps its state between runs."""

from __future__ import annotations

import json
from decimal import Decimal

from runner.exit_codes import ExitCode
from tests.acceptance.steps.converge_kit import ENTRY, cli, fill_at_225, stop_rows
from tests.acceptance.steps.steps_kit import open_orders, position


def test_break_even_is_a_one_line_change_applied_in_place(tmp_path, simulator):
    book = tmp_path / "be.yaml"
    book.write_text(ENTRY)
    assert cli(tmp_path, simulator, "run", str(book)).returncode == ExitCode.OK  # rests at 225
    fill_at_225(simulator)
    placed = cli(tmp_path, simulator, "run", str(book))  # adopts the fill, places the exits at 215 / 245
    assert placed.returncode == ExitCode.OK, placed.stdout + placed.stderr
    stop = stop_rows(simulator)["STOP_LOSS"]
    assert Decimal(str(stop["price"])) == 215

    book.write_text(ENTRY.replace("stop_loss: 215.00", "stop_loss: 225.00"))  # the one-line change
    plan = cli(tmp_path, simulator, "plan", str(book), "--detailed-exitcode")
    assert plan.returncode == ExitCode.CHANGES, plan.stdout + plan.stderr
    assert "~ modify aapl-long.stop_loss: 215.00 → 225.00" in plan.stdout
    assert "done aapl-long: filled" in plan.stdout
    assert "plan: 1 to modify — apply with run --converge" in plan.stdout

    refused = cli(tmp_path, simulator, "run", str(book))  # without --converge: today's safe refusal
    assert refused.returncode == ExitCode.INVALID_PLAYBOOK
    assert "stop_loss 215 → 225" in refused.stdout + refused.stderr
    assert "--converge" in refused.stderr

    done = cli(tmp_path, simulator, "run", str(book), "--converge")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    after = stop_rows(simulator)["STOP_LOSS"]
    assert after["order_id"] == stop["order_id"]  # modified in place, not cancelled and re-placed
    assert Decimal(str(after["price"])) == 225
    assert f"modify aapl-long.stop_loss: 215.00 → 225.00 (in place: order_id {stop['order_id']} unchanged)" \
        in done.stdout
    again = cli(tmp_path, simulator, "plan", str(book), "--detailed-exitcode")
    assert again.returncode == ExitCode.OK and "plan: nothing to do" in again.stdout
    assert cli(tmp_path, simulator, "run", str(book)).returncode == ExitCode.OK  # the new definition holds


def test_every_field_of_an_unfilled_entry_and_its_attached_bracket_is_modified_in_place(tmp_path, simulator):
    entry = ENTRY.replace("mode: after_fill", "mode: attached")
    book = tmp_path / "be.yaml"
    book.write_text(entry)
    assert cli(tmp_path, simulator, "run", str(book)).returncode == ExitCode.OK
    before = open_orders(simulator)[0]
    book.write_text(entry.replace("quantity: 10", "quantity: 12").replace("price: 225.00", "price: 224.50")
                    .replace("stop_loss: 215.00", "stop_loss: 214.00")
                    .replace("take_profit: 245.00", "take_profit: 246.00"))
    plan = cli(tmp_path, simulator, "plan", str(book), "--format", "json", "--detailed-exitcode")
    assert plan.returncode == ExitCode.CHANGES
    change = next(c for c in json.loads(plan.stdout)["changes"] if c["action"] == "modify")
    assert change["text"] == ("modify aapl-long: quantity 10 → 12, price 225.00 → 224.50, take_profit "
                              "245.00 → 246.00, stop_loss 215.00 → 214.00")
    done = cli(tmp_path, simulator, "run", str(book), "--converge")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    after = open_orders(simulator)[0]
    assert after["order_id"] == before["order_id"]
    assert [Decimal(str(after[k])) for k in ("quantity", "price", "take_profit", "stop_loss")] == \
        [Decimal(12), Decimal("224.5"), Decimal(246), Decimal(214)]


def test_what_cannot_change_in_place_is_refused_with_the_reason_and_nothing_is_sent(tmp_path, simulator):
    book = tmp_path / "be.yaml"
    book.write_text(ENTRY)
    assert cli(tmp_path, simulator, "run", str(book)).returncode == ExitCode.OK
    book.write_text(ENTRY.replace("side: BUY", "side: SELL").replace("stop_loss: 215.00", "stop_loss: 235.00")
                    .replace("take_profit: 245.00", "take_profit: 205.00"))
    before = open_orders(simulator)
    done = cli(tmp_path, simulator, "run", str(book), "--converge")
    assert done.returncode == ExitCode.INVALID_PLAYBOOK
    assert "side cannot change in place (QFEX modifies only price, quantity, take_profit and stop_loss)" \
        in done.stdout + done.stderr
    assert open_orders(simulator) == before  # nothing was sent
    plan = cli(tmp_path, simulator, "plan", str(book), "--detailed-exitcode")
    assert "! refused aapl-long: side cannot change in place" in plan.stdout


def test_a_break_even_stop_for_an_entry_not_placed_yet_is_refused(tmp_path, simulator):
    book = tmp_path / "be.yaml"
    book.write_text(ENTRY.replace("stop_loss: 215.00", "stop_loss: 225.00"))
    done = cli(tmp_path, simulator, "run", str(book))
    assert done.returncode == ExitCode.INVALID_PLAYBOOK
    assert "a stop at or past the entry is only for an entry that already filled" in done.stdout + done.stderr
    assert open_orders(simulator) == []


def test_a_stop_moved_past_the_market_is_refused(tmp_path, simulator):
    book = tmp_path / "be.yaml"
    book.write_text(ENTRY)
    cli(tmp_path, simulator, "run", str(book))
    fill_at_225(simulator)
    cli(tmp_path, simulator, "run", str(book))
    book.write_text(ENTRY.replace("stop_loss: 215.00", "stop_loss: 231.00"))  # the market is ~229
    done = cli(tmp_path, simulator, "run", str(book), "--converge")
    assert done.returncode == ExitCode.INVALID_PLAYBOOK
    assert "the new stop 231 is not below the market" in done.stdout + done.stderr
    assert Decimal(str(stop_rows(simulator)["STOP_LOSS"]["price"])) == 215


def test_prune_cancels_what_the_playbook_no_longer_declares_and_needs_the_journal(tmp_path, simulator):
    two = ENTRY + """\
  - id: aapl-add
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: 1
    price: 220.00
"""
    book = tmp_path / "be.yaml"
    book.write_text(two)
    assert cli(tmp_path, simulator, "run", str(book)).returncode == ExitCode.OK
    assert len(open_orders(simulator)) == 2
    book.write_text(ENTRY)
    plan = cli(tmp_path, simulator, "plan", str(book), "--prune", "--detailed-exitcode")
    assert plan.returncode == ExitCode.CHANGES
    assert "- cancel aapl-add: no longer in the playbook (--prune)" in plan.stdout
    no_journal = cli(tmp_path, simulator, "run", str(book), "--prune", "--state-dir", str(tmp_path / "empty"))
    assert no_journal.returncode == ExitCode.USAGE
    assert "--prune works from the run journal" in no_journal.stderr
    kept = cli(tmp_path, simulator, "run", str(book), "--converge")  # converge alone leaves it, says so
    assert kept.returncode == ExitCode.OK
    assert "'aapl-add'" in kept.stdout and "left as it is (--prune cancels it)" in kept.stdout
    assert len(open_orders(simulator)) == 2
    pruned = cli(tmp_path, simulator, "run", str(book), "--prune")
    assert pruned.returncode == ExitCode.OK, pruned.stdout + pruned.stderr
    assert [Decimal(str(r["price"])) for r in open_orders(simulator)] == [Decimal(225)]
    assert "cancel aapl-add (order_id" in pruned.stdout
    final = cli(tmp_path, simulator, "plan", str(book), "--prune", "--detailed-exitcode")
    assert final.returncode == ExitCode.OK


def test_plan_against_the_exchange_lists_creates_and_steps_and_offline_plan_is_unchanged(tmp_path, simulator):
    book = tmp_path / "be.yaml"
    book.write_text(ENTRY + "  - {id: flat, step: close_position, symbol: AAPL-USD}\n")
    plan = cli(tmp_path, simulator, "plan", str(book), "--detailed-exitcode")
    assert plan.returncode == ExitCode.CHANGES
    assert "+ create aapl-long: not on the exchange: a run places it" in plan.stdout
    assert "pending aapl-long.stop_loss: placed once the entry fills" in plan.stdout
    assert "+ create flat: a run does it: close_position" in plan.stdout
    offline = qfex_offline(tmp_path, book)
    assert offline.returncode == ExitCode.OK and "nothing is sent by `plan`" in offline.stdout
    usage = qfex_offline(tmp_path, book, "--detailed-exitcode")
    assert usage.returncode == ExitCode.USAGE
    assert position(simulator) == 0


def qfex_offline(tmp_path, book, *extra):
    from tests.acceptance.run.test_cli import cli_env, qfex

    return qfex(["plan", str(book), *extra], cwd=tmp_path, env=cli_env())


#: the real runner, killed with SIGKILL right after a modify's journal record is fsync'd (before its send)
KILLED_AFTER_MODIFY_RECORD = """
import os, signal, sys
from runner.state import journal

record_modify = journal.Journal.record_modify

def record_then_die(self, *args, **kwargs):
    record_modify(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

journal.Journal.record_modify = record_then_die
from runner.cli import main
main(sys.argv[1:])
"""


def test_kill_9_between_a_modifys_journal_record_and_its_send_then_rerun(tmp_path, simulator):
    import subprocess
    import sys

    from tests.acceptance.run.test_cli import sim_env

    book = tmp_path / "be.yaml"
    book.write_text(ENTRY)
    cli(tmp_path, simulator, "run", str(book))
    fill_at_225(simulator)
    assert cli(tmp_path, simulator, "run", str(book)).returncode == ExitCode.OK
    stop = stop_rows(simulator)["STOP_LOSS"]
    book.write_text(ENTRY.replace("stop_loss: 215.00", "stop_loss: 225.00"))

    command = [sys.executable, "-c", KILLED_AFTER_MODIFY_RECORD, "run", str(book), "--converge",
               "--url", simulator.url]
    killed = subprocess.run(command, cwd=tmp_path, env=sim_env(simulator), capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == -9
    journal = next((tmp_path / "runs" / "be" / ".state").glob("*.journal.jsonl")).read_text()
    assert '"kind": "modify"' in journal and '"kind": "modified"' not in journal  # recorded, never sent
    assert Decimal(str(stop_rows(simulator)["STOP_LOSS"]["price"])) == 215  # the exchange never saw it

    plain = cli(tmp_path, simulator, "run", str(book))  # the journal still has the old definition: refused
    assert plain.returncode == ExitCode.INVALID_PLAYBOOK
    plan = cli(tmp_path, simulator, "plan", str(book), "--detailed-exitcode")  # the exchange is the truth
    assert plan.returncode == ExitCode.CHANGES
    assert "modify aapl-long.stop_loss: 215.00 → 225.00" in plan.stdout
    rerun = cli(tmp_path, simulator, "run", str(book), "--converge")
    assert rerun.returncode == ExitCode.OK, rerun.stdout + rerun.stderr
    after = stop_rows(simulator)["STOP_LOSS"]
    assert after["order_id"] == stop["order_id"] and Decimal(str(after["price"])) == 225
    third = cli(tmp_path, simulator, "run", str(book), "--converge")  # nothing left to do: nothing sent
    assert third.returncode == ExitCode.OK and "changed in place" not in third.stdout
    journal = next((tmp_path / "runs" / "be" / ".state").glob("*.journal.jsonl")).read_text()
    assert journal.count('"kind": "modify"') == 2 and journal.count('"kind": "modified"') == 1


def test_an_attached_exit_removed_from_an_unfilled_entry_is_removed_with_zero(tmp_path, simulator):
    entry = ENTRY.replace("mode: after_fill", "mode: attached")
    book = tmp_path / "be.yaml"
    book.write_text(entry)
    assert cli(tmp_path, simulator, "run", str(book)).returncode == ExitCode.OK
    book.write_text(entry.replace("      take_profit: 245.00\n", ""))
    done = cli(tmp_path, simulator, "run", str(book), "--converge")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert "modify aapl-long: take_profit 245.00 → none" in done.stdout
    row = open_orders(simulator)[0]
    assert Decimal(str(row["take_profit"])) == 0 and Decimal(str(row["stop_loss"])) == 215
