"""Brackets after the run: a take-profit that fires later is reported honestly by a re-run and `status`.

The exchange stages attached exits itself, so once the entry has settled only the exchange knows
what became of them: a re-run (with its journal, and on a fresh machine without one) and
`qfex-runner status` must say which exit filled, at what price, and which was cancelled.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from runner.exit_codes import ExitCode
from runner.jsonnum import loads
from runner.report import Outcome, render_markdown, render_text
from runner.state.status import StatusOptions, collect_status
from tests.acceptance.run_kit import order, run, write_playbook


def best_ask(sim) -> Decimal:
    return sim.call(lambda ex: ex.book("AAPL-USD"))["asks"][0][0]


def rally(sim, to: str = "245") -> None:
    """The market rallies through the take-profits (240): the exchange triggers them at once."""
    sim.call(lambda ex: ex.set_mid("AAPL-USD", Decimal(to)))


def entry_playbook(tmp_path: Path, sim, mode: str, name: str) -> Path:
    price = best_ask(sim)
    body = (f"symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 2\nprice: {price}\ntime_in_force: GTC\n"
            f"bracket: {{take_profit: 240.00, stop_loss: 200.00, mode: {mode}}}")
    return write_playbook(tmp_path, [order("entry", body, wait="fill", expect="filled")], name=name)


def legs_by_name(result) -> dict:
    return {leg.leg: leg for leg in result.report.orders[0].legs}


def test_attached_take_profit_that_fired_after_the_run(tmp_path, simulator):
    book = entry_playbook(tmp_path, simulator, "attached", "att-later")
    first = run(tmp_path, simulator, book)
    assert first.exit_code == ExitCode.OK
    assert [x.last_status for x in first.report.orders[0].legs] == ["ACK", "ACK"]  # armed, not triggered
    rally(simulator)

    for state_dir in ("state", "fresh-machine"):  # with the journal, and with none
        again = run(tmp_path, simulator, book, state_dir=str(tmp_path / state_dir),
                    report_dir=tmp_path / f"report-{state_dir}")
        assert again.exit_code == ExitCode.OK
        entry = again.report.orders[0]
        assert entry.outcome is Outcome.ALREADY_PLACED and entry.filled_quantity == 2
        tp, sl = legs_by_name(again)["take_profit"], legs_by_name(again)["stop_loss"]
        assert tp.last_status == "FILLED" and sum(f.quantity for f in tp.fills) == 2, tp
        assert all(f.price is not None and f.price >= Decimal("240") for f in tp.fills), (state_dir, tp.fills)
        assert tp.order_id and tp.statuses[-1].source == "exchange"
        assert sl.last_status == "CANCELLED" and not sl.fills, sl
        assert "cancelled when the take-profit filled" in sl.note
        table = render_markdown(again.report)
        assert "TP 240.00 x2 FILLED @ " in table and "SL 200.00 CANCELLED" in table, table
        assert "pending" not in table
        assert "pending" not in render_text(again.report)

    shown = collect_status(StatusOptions(str(book), url=simulator.url, state_dir=str(tmp_path / "state"),
                                         env={"QFEX_PUBLIC_KEY": simulator.public_key,
                                              "QFEX_SECRET_KEY": simulator.secret_key}))
    (line,) = shown.lines
    assert line.state == "filled"
    assert [(x.leg, x.state) for x in line.exits] == [("take_profit", "filled"), ("stop_loss", "cancelled")]
    assert line.exits[0].filled == 2 and line.exits[0].exchange_order_ids


def test_attached_legs_still_armed_are_reported_open_then_pending_before_the_fill(tmp_path, simulator):
    book = entry_playbook(tmp_path, simulator, "attached", "att-open")
    run(tmp_path, simulator, book)
    again = run(tmp_path, simulator, book, state_dir=str(tmp_path / "fresh"), report_dir=tmp_path / "r2")
    legs = legs_by_name(again)
    assert legs["take_profit"].last_status == "ACK" and legs["stop_loss"].last_status == "ACK"
    assert legs["take_profit"].quantity == 2 and legs["take_profit"].order_id

    resting = "symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 1\nprice: 200.00\n" \
              "bracket: {take_profit: 240.00, stop_loss: 190.00}"
    bid = write_playbook(tmp_path, [order("bid", resting)], name="att-bid")
    run(tmp_path, simulator, bid)
    again = run(tmp_path, simulator, bid, state_dir=str(tmp_path / "fresh2"), report_dir=tmp_path / "r3")
    assert [x.last_status for x in again.report.orders[0].legs] == [None, None]
    table = render_markdown(again.report)
    assert "TP 240.00 pending, SL 190.00 pending" in table
    assert "take-profit and stop-loss (attached): pending: not announced by the exchange" in table


def test_attached_legs_of_an_entry_that_expired_unfilled_were_never_armed(tmp_path, simulator):
    ioc = "symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 1\nprice: 200.00\ntime_in_force: IOC\n" \
          "bracket: {take_profit: 240.00, stop_loss: 190.00}"
    book = write_playbook(tmp_path, [order("ioc", ioc)], name="att-ioc")
    run(tmp_path, simulator, book)
    again = run(tmp_path, simulator, book, report_dir=tmp_path / "r2")  # the journal knows it was accepted
    assert again.report.orders[0].outcome is Outcome.ALREADY_PLACED
    assert "TP 240.00 never armed, SL 190.00 never armed" in render_markdown(again.report)


def test_attached_take_profit_firing_during_the_run_cancels_the_stop_loss(tmp_path, simulator):
    book = entry_playbook(tmp_path, simulator, "attached", "att-now")
    later = "symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 1\nprice: 200.00"
    text = book.read_text() + order("later", later) + "\n"
    book.write_text(text)

    def move_market(event):
        if event.kind == "judged" and event.order_id == "entry":
            rally(simulator)

    result = run(tmp_path, simulator, book, on_progress=move_market)
    assert result.exit_code == ExitCode.OK
    legs = legs_by_name(result)
    assert legs["take_profit"].fills and legs["take_profit"].last_status == "FILLED"
    assert legs["stop_loss"].last_status == "CANCELLED"


def test_after_fill_take_profit_that_fired_after_the_run(tmp_path, simulator):
    book = entry_playbook(tmp_path, simulator, "after_fill", "af-later")
    first = run(tmp_path, simulator, book)
    assert [x.last_status for x in first.report.orders[0].legs] == ["ACK", "ACK"]
    rally(simulator)

    for state_dir in ("state", "fresh-machine"):
        again = run(tmp_path, simulator, book, state_dir=str(tmp_path / state_dir),
                    report_dir=tmp_path / f"report-{state_dir}")
        assert again.exit_code == ExitCode.OK
        tp, sl = legs_by_name(again)["take_profit"], legs_by_name(again)["stop_loss"]
        assert tp.last_status == "FILLED", tp
        # issue 12: exits are one-cancels-other — the first re-run cancels the stop-loss (it used to
        # stay open with a warning); on a fresh machine it is not placed again on the closed position
        if state_dir == "state":
            assert sl.last_status == "CANCELLED" and "one-cancels-other" in sl.note, sl
        else:
            assert sl.last_status is None and "the other exit of this entry has filled" in sl.note, sl
        assert not any("still open at the exchange" in w for w in again.warnings)
    # without the journal the exchange's trades give the take-profit's fill price too
    assert sum(f.quantity for f in tp.fills) == 2 and all(f.price >= Decimal("240") for f in tp.fills)
    assert "TP 240.00 x2 FILLED @ " in render_markdown(again.report)


def test_after_fill_take_profit_firing_during_the_run_warns_about_the_resting_stop(tmp_path, simulator):
    book = entry_playbook(tmp_path, simulator, "after_fill", "af-now")
    later = "symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 1\nprice: 200.00"
    book.write_text(book.read_text() + order("later", later) + "\n")

    def move_market(event):
        if event.kind == "judged" and event.order_id == "entry":
            rally(simulator)

    result = run(tmp_path, simulator, book, on_progress=move_market)
    legs = legs_by_name(result)
    assert legs["take_profit"].last_status == "FILLED" and legs["take_profit"].fills
    # issue 12: one-cancels-other while connected (the stop-loss used to rest on, with a warning)
    assert legs["stop_loss"].last_status == "CANCELLED" and "one-cancels-other" in legs["stop_loss"].note
    assert not any("its take-profit filled, but its stop-loss" in w for w in result.warnings)


def test_after_fill_exits_sized_to_a_partial_fill_say_what_a_later_fill_left_unprotected(tmp_path,
                                                                                       simulator_factory):
    simulator = simulator_factory(engine={"mm_replenish_ms": 3_600_000})  # the remainder keeps resting
    price, size = simulator.call(lambda ex: ex.book("AAPL-USD"))["asks"][0]
    quantity = size + Decimal("10")
    body = (f"symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: {quantity}\nprice: {price}\n"
            f"bracket: {{take_profit: 260.00, stop_loss: 200.00, mode: after_fill}}")
    book = write_playbook(tmp_path, [order("entry", body)], name="af-partial")
    first = run(tmp_path, simulator, book, timeout=1.0)
    legs = first.report.orders[0].legs
    assert [x.quantity for x in legs] == [size, size] and all(x.order_id for x in legs)
    assert "does not cover" in legs[0].note  # said at once: the entry still rests
    simulator.call(lambda ex: ex.set_mid("AAPL-USD", price - Decimal("5")))  # the rest of the bid fills

    for state_dir in ("state", "fresh-machine"):
        again = run(tmp_path, simulator, book, timeout=1.0, state_dir=str(tmp_path / state_dir),
                    report_dir=tmp_path / f"r-{state_dir}")
        entry = again.report.orders[0]
        assert entry.filled_quantity == quantity, entry
        assert [x.quantity for x in entry.legs] == [size, size]  # what is on the exchange, not the new fill
        warning = next(w for w in again.warnings if "unprotected" in w)
        assert f"has filled {quantity}" in warning and f"cover {size}: 10" in warning


def test_exits_whose_trades_cannot_be_seen_are_unknown_never_assumed_cancelled(tmp_path, simulator_factory):
    # QFEX's AsyncAPI shape of get_user_trades: rows without client_order_id
    simulator = simulator_factory(engine={"user_trades_shape": "user_trades_response"})
    book = entry_playbook(tmp_path, simulator, "attached", "att-blind")
    run(tmp_path, simulator, book)
    rally(simulator)
    # a journal that knows the entry's order id but not its exits' (as one written before it kept them)
    journal = next((tmp_path / "state").glob("*.journal.jsonl"))
    kept = [line for line in journal.read_text().splitlines(keepends=True) if loads(line)["kind"] != "exit"]
    journal.write_text("".join(kept))
    again = run(tmp_path, simulator, book, report_dir=tmp_path / "r2")
    assert again.report.orders[0].filled_quantity == 2
    legs = legs_by_name(again)
    assert [x.last_status for x in legs.values()] == [None, None]
    assert all(x.note.startswith("unknown: not open at the exchange") for x in legs.values())
    assert "TP 240.00 unknown, SL 200.00 unknown" in render_markdown(again.report)
    shown = collect_status(StatusOptions(str(book), url=simulator.url, state_dir=str(tmp_path / "state"),
                                         env={"QFEX_PUBLIC_KEY": simulator.public_key,
                                              "QFEX_SECRET_KEY": simulator.secret_key}))
    assert [x.state for x in shown.lines[0].exits] == ["unknown", "unknown"]


def test_exit_ids_the_first_run_saw_find_the_exits_when_trade_rows_carry_no_client_ids(tmp_path,
                                                                                        simulator_factory):
    """The exchange announced each exit's own order id when the entry filled: the journal keeps them,
    so a re-run and `status` find the exits' trades by id (which filled, at what price)."""
    simulator = simulator_factory(engine={"user_trades_shape": "user_trades_response"})
    book = entry_playbook(tmp_path, simulator, "attached", "att-ids")
    first = run(tmp_path, simulator, book)
    announced = {x.leg: x.order_id for x in first.report.orders[0].legs}
    assert all(announced.values()), announced
    journal = next((tmp_path / "state").glob("*.journal.jsonl")).read_text()
    recorded = {line["leg"]: line["order_id"] for line in map(loads, journal.splitlines())
                if line["kind"] == "exit"}
    assert recorded == announced
    rally(simulator)

    again = run(tmp_path, simulator, book, report_dir=tmp_path / "r2")
    entry = again.report.orders[0]
    assert entry.filled_quantity == 2
    tp, sl = legs_by_name(again)["take_profit"], legs_by_name(again)["stop_loss"]
    assert (tp.order_id, sl.order_id) == (announced["take_profit"], announced["stop_loss"])
    assert tp.last_status == "FILLED" and sum(f.quantity for f in tp.fills) == 2
    assert all(f.price is not None and f.price >= Decimal("240") for f in tp.fills)
    assert "identified by its trade price" not in tp.note
    assert sl.last_status == "CANCELLED" and "cancelled when the take-profit filled" in sl.note
    assert "TP 240.00 x2 FILLED @ " in render_markdown(again.report)
    shown = collect_status(StatusOptions(str(book), url=simulator.url, state_dir=str(tmp_path / "state"),
                                         env={"QFEX_PUBLIC_KEY": simulator.public_key,
                                              "QFEX_SECRET_KEY": simulator.secret_key}))
    assert [(x.state, x.exchange_order_ids) for x in shown.lines[0].exits] == \
        [("filled", (announced["take_profit"],)), ("cancelled", (announced["stop_loss"],))]


def test_after_fill_exits_of_a_resting_entry_wait_for_a_rerun(tmp_path, simulator):
    body = "symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 1\nprice: 200.00\n" \
           "bracket: {take_profit: 240.00, stop_loss: 190.00, mode: after_fill}"
    book = write_playbook(tmp_path, [order("bid", body)], name="af-rest")
    first = run(tmp_path, simulator, book, timeout=0.3)
    assert first.report.orders[0].legs[0].note.startswith("not placed: the entry is still open and unfilled "
                                                          "after 0.3s")
    again = run(tmp_path, simulator, book, timeout=0.3, report_dir=tmp_path / "r2")
    tp, sl = again.report.orders[0].legs
    assert tp.note == sl.note == ("not placed: the entry is still open and unfilled; re-run to place this "
                                  "leg once it has filled")
    assert any("its after_fill bracket is not placed" in w for w in again.warnings)
    simulator.call(lambda ex: ex.set_mid("AAPL-USD", Decimal("199")))  # the bid fills
    third = run(tmp_path, simulator, book, timeout=2, report_dir=tmp_path / "r3")
    tp, sl = third.report.orders[0].legs
    assert tp.last_status == sl.last_status == "ACK" and tp.quantity == sl.quantity == 1  # placed now, once


def test_exits_of_a_fill_the_exchange_no_longer_shows_are_unknown(tmp_path, simulator_factory):
    # the journal says the entry filled, but the exchange's trade history does not reach back to it
    # (here: a fresh exchange with the same keys): its exits' fate cannot be told, so it is not guessed
    first, later = simulator_factory(), simulator_factory()
    book = entry_playbook(tmp_path, first, "attached", "att-old")
    assert run(tmp_path, first, book).report.orders[0].filled_quantity == 2
    again = run(tmp_path, later, book, report_dir=tmp_path / "r2")
    entry = again.report.orders[0]
    assert entry.outcome is Outcome.ALREADY_PLACED and entry.filled_quantity == 2  # from the journal
    assert [x.last_status for x in entry.legs] == [None, None]
    assert all(x.note.startswith("unknown:") for x in entry.legs), entry.legs
