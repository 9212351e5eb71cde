"""Issue 12: no exit of ours is left live on a flat position. An after_fill pair whose entry's symbol
has no position any more (closed by another order) and of which neither exit filled is cancelled by
the re-run, through the same journaled cancel as one-cancels-other; a position still open keeps them."""

from __future__ import annotations

from runner.exit_codes import ExitCode
from runner.report import Outcome, render_text
from runner.run.brackets import cancel_key
from tests.acceptance.run_kit import order, run, write_playbook

BRACKET = "bracket: {take_profit: 260.00, stop_loss: 200.00, mode: after_fill}"
ENTRY = f"symbol: AAPL-USD\nside: BUY\ntype: MARKET\nquantity: 2\n{BRACKET}"


def close(tmp_path, sim, quantity: int, name: str) -> None:
    """Another playbook of the same account sells `quantity` reduce-only: the position shrinks."""
    body = f"symbol: AAPL-USD\nside: SELL\ntype: MARKET\nquantity: {quantity}\nreduce_only: true"
    book = write_playbook(tmp_path, [order("close", body, wait="fill", expect="filled")], name=name)
    assert run(tmp_path, sim, book, state_dir=tmp_path / f"state-{name}",
               report_dir=tmp_path / f"report-{name}").exit_code == ExitCode.OK


def position(sim) -> object:
    account = sim.call(lambda ex: ex.account_for_key(sim.public_key)).account_id
    return sim.call(lambda ex: ex.position(account, "AAPL-USD"))["position"]


def exits(result) -> dict:
    return {leg.leg: leg for leg in result.report.orders[0].legs}


def test_a_rerun_cancels_both_exits_once_the_position_is_flat(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("entry", ENTRY, wait="fill", expect="filled")], name="flat")
    first = run(tmp_path, simulator, book)
    assert first.exit_code == ExitCode.OK
    assert [leg.last_status for leg in first.report.orders[0].legs] == ["ACK", "ACK"]  # live on a long of 2

    close(tmp_path, simulator, 2, "closer")
    assert float(position(simulator)) == 0

    again = run(tmp_path, simulator, book, report_dir=tmp_path / "report-again")
    assert again.exit_code == ExitCode.OK
    assert again.report.orders[0].outcome is Outcome.ALREADY_PLACED
    for leg in exits(again).values():
        assert leg.last_status == "CANCELLED", leg
        assert leg.note.startswith("cancelled by the runner: the position is flat"), leg.note
    text = render_text(again.report)
    assert "cancelled by the runner: the position is flat" in text
    journal = (tmp_path / "state").rglob("*.jsonl")
    keys = {line for path in journal for line in path.read_text().splitlines() if "cancel" in line}
    for leg in exits(again).values():  # journaled under the one-cancels-other key before being sent
        assert any(cancel_key(leg.client_order_id or "") in line for line in keys)

    third = run(tmp_path, simulator, book, report_dir=tmp_path / "report-third")  # nothing more to do
    assert third.exit_code == ExitCode.OK
    assert [leg.last_status for leg in third.report.orders[0].legs] == ["CANCELLED", "CANCELLED"]


def test_a_position_still_open_keeps_the_exits(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("entry", ENTRY, wait="fill", expect="filled")], name="held")
    run(tmp_path, simulator, book)
    close(tmp_path, simulator, 1, "partly")  # one of two sold: the position is 1, not flat
    again = run(tmp_path, simulator, book, report_dir=tmp_path / "report-again")
    assert again.exit_code == ExitCode.OK
    assert [leg.last_status for leg in again.report.orders[0].legs] == ["ACK", "ACK"]
    assert "position is flat" not in render_text(again.report)


def test_a_later_order_of_the_same_run_that_closes_the_position_cancels_the_exits(tmp_path, simulator):
    closing = "symbol: AAPL-USD\nside: SELL\ntype: MARKET\nquantity: 2\nreduce_only: true"
    book = write_playbook(tmp_path, [order("entry", ENTRY, wait="fill", expect="filled"),
                                     order("close", closing, wait="fill", expect="filled")], name="inrun")
    done = run(tmp_path, simulator, book)
    assert done.exit_code == ExitCode.OK
    for leg in exits(done).values():
        assert leg.last_status == "CANCELLED" and leg.note.startswith("cancelled by the runner: the position")


def test_status_shows_the_runners_cancel_from_its_journal_record(tmp_path, simulator):
    from runner.state.status import StatusOptions, collect_status
    from runner.state.status import render_text as status_text

    book = write_playbook(tmp_path, [order("entry", ENTRY, wait="fill", expect="filled")], name="shown")
    run(tmp_path, simulator, book)
    close(tmp_path, simulator, 2, "closer")
    run(tmp_path, simulator, book, report_dir=tmp_path / "report-again")
    records = [line for path in (tmp_path / "state").rglob("*.jsonl")
               for line in path.read_text().splitlines()]
    assert sum('"kind": "cancel"' in line for line in records) == 2
    assert "cancel_intent" not in "".join(records)
    shown = collect_status(StatusOptions(str(book), url=simulator.url, state_dir=str(tmp_path / "state"),
                                         env={"QFEX_PUBLIC_KEY": simulator.public_key,
                                              "QFEX_SECRET_KEY": simulator.secret_key}))
    notes = {line.leg: line.note for line in shown.lines}
    assert notes["tp"] == notes["sl"] == "cancelled by the runner: the position is flat", notes
    assert "cancelled by the runner: the position is flat" in status_text(shown)
