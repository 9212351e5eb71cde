"""Brackets against the simulator: attached and after_fill, with partial fills, and a take-profit firing."""

from __future__ import annotations

from decimal import Decimal

from runner.exit_codes import ExitCode
from runner.playbook.ids import Leg, client_order_id
from tests.acceptance.run_kit import order, run, write_playbook


def best_ask(sim) -> tuple[Decimal, Decimal]:
    price, size = sim.call(lambda ex: ex.book("AAPL-USD"))["asks"][0]
    return price, size


def account_of(sim) -> str:
    return sim.call(lambda ex: ex.account_for_key(sim.public_key).account_id)


def open_orders(sim) -> list[dict]:
    account = account_of(sim)
    return sim.call(lambda ex: ex.orders(account))


def position(sim) -> dict:
    account = account_of(sim)
    return sim.call(lambda ex: ex.position(account, "AAPL-USD"))


def partial_entry(sim, tif: str) -> tuple[str, Decimal, Decimal]:
    """A BUY LIMIT at the best ask for more than the best ask shows: fills partly."""
    price, size = best_ask(sim)
    quantity = size + Decimal("10")
    body = (f"symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: {quantity}\nprice: {price}\n"
            f"time_in_force: {tif}")
    return body, quantity, size


def test_after_fill_legs_are_sized_to_a_partial_fill(tmp_path, simulator):
    body, _, fillable = partial_entry(simulator, "IOC")
    bracket = "bracket: {take_profit: 260.00, stop_loss: 200.00, mode: after_fill}"
    book = write_playbook(tmp_path, [order("entry", body + "\n" + bracket, expect="accepted")], name="af")
    result = run(tmp_path, simulator, book)
    entry = result.report.orders[0]
    assert result.exit_code == ExitCode.OK, entry.verdict
    assert entry.filled_quantity == fillable  # honest: partial
    assert "of" in entry.verdict and entry.last_status in ("FILLED", "CANCELLED")
    tp, sl = entry.legs
    assert (tp.leg, sl.leg) == ("take_profit", "stop_loss")
    expected = ((tp, Leg.TAKE_PROFIT, Decimal("260.00")), (sl, Leg.STOP_LOSS, Decimal("200.00")))
    for leg, kind, trigger in expected:
        assert leg.mode == "after_fill"
        assert leg.quantity == fillable and leg.side == "SELL" and leg.trigger_price == trigger
        assert leg.client_order_id == client_order_id("af", None, "entry", kind)
        assert leg.order_id and leg.last_status == "ACK", leg
    stops = {row["client_order_id"]: row for row in open_orders(simulator)
             if row.get("type") in ("TAKE_PROFIT", "STOP_LOSS")}
    assert Decimal(str(stops[tp.client_order_id]["quantity"])) == fillable
    assert stops[sl.client_order_id]["side"] == "SELL"


def test_after_fill_entry_that_does_not_fill_places_no_legs(tmp_path, simulator):
    body = "symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 1\nprice: 200.00\ntime_in_force: IOC"
    bracket = "bracket: {take_profit: 260.00, stop_loss: 190.00, mode: after_fill}"
    book = write_playbook(tmp_path, [order("entry", body + "\n" + bracket)], name="af0")
    result = run(tmp_path, simulator, book)
    entry = result.report.orders[0]
    assert result.exit_code == ExitCode.OK  # accepted; IOC expired unfilled
    assert all(leg.note == "not placed: the entry did not fill" and not leg.order_id for leg in entry.legs)
    assert [r for r in open_orders(simulator)] == []


def test_after_fill_with_expect_filled_reports_the_partial_honestly(tmp_path, simulator):
    body, quantity, fillable = partial_entry(simulator, "IOC")
    bracket = "bracket: {take_profit: 260.00, stop_loss: 200.00, mode: after_fill}"
    book = write_playbook(tmp_path, [order("entry", body + "\n" + bracket, wait="fill", expect="filled")],
                          name="afx")
    result = run(tmp_path, simulator, book)
    entry = result.report.orders[0]
    assert result.exit_code == ExitCode.ORDERS_FAILED
    assert f"only partially filled: {fillable} of {quantity}" in entry.verdict
    assert all(leg.quantity == fillable and leg.order_id for leg in entry.legs)  # the position is protected


def test_attached_legs_follow_a_partial_fill(tmp_path, simulator_factory):
    # the market maker does not refill the book during this test, so the GTC remainder keeps resting
    simulator = simulator_factory(engine={"mm_replenish_ms": 3_600_000})
    body, quantity, fillable = partial_entry(simulator, "GTC")
    bracket = "bracket: {take_profit: 260.00, stop_loss: 200.00}"
    # wait: fill on a GTC that can only fill partly: the wait ends at the timeout, the order rests
    book = write_playbook(tmp_path, [order("entry", body + "\n" + bracket, wait="fill")], name="att")
    result = run(tmp_path, simulator, book, timeout=1.0)
    entry = result.report.orders[0]
    assert result.exit_code == ExitCode.OK, entry.verdict
    assert entry.filled_quantity == fillable and entry.quantity_remaining == quantity - fillable
    tp, sl = entry.legs
    assert tp.mode == sl.mode == "attached"
    for leg in (tp, sl):
        assert leg.order_id and leg.statuses and leg.quantity == fillable and leg.side == "SELL", leg


def test_attached_take_profit_triggers_and_is_reported(tmp_path, simulator):
    price, _ = best_ask(simulator)
    entry_body = f"symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 2\nprice: {price}\ntime_in_force: GTC"
    bracket = "bracket: {take_profit: 240.00, stop_loss: 200.00}"
    later = "symbol: AAPL-USD\nside: BUY\ntype: LIMIT\nquantity: 1\nprice: 221.00"
    entry = order("entry", entry_body + "\n" + bracket, wait="fill", expect="filled")
    book = write_playbook(tmp_path, [entry, order("later", later)], name="tp")

    def move_market(event):
        # once the entry is judged, the market rallies through the take-profit (mark 245 > 240)
        if event.kind == "judged" and event.order_id == "entry":
            simulator.call(lambda ex: ex.set_mid("AAPL-USD", Decimal("245")))

    result = run(tmp_path, simulator, book, on_progress=move_market)
    assert result.exit_code == ExitCode.OK, [o.verdict for o in result.report.orders]
    entry = result.report.orders[0]
    tp, _sl = entry.legs
    assert tp.fills and sum(f.quantity for f in tp.fills) == Decimal("2"), tp
    assert "FILLED" in [s.status for s in tp.statuses]
    assert all(f.price > Decimal("240") for f in tp.fills)
    assert Decimal(str(position(simulator)["position"])) == 0


def test_standalone_stop_orders_are_first_class(tmp_path, simulator):
    buy = "symbol: AAPL-USD\nside: BUY\ntype: MARKET\nquantity: 1"
    tp = "symbol: AAPL-USD\nside: SELL\ntype: TAKE_PROFIT\nquantity: 1\nprice: 250.00\nreduce_only: true"
    sl = "symbol: AAPL-USD\nside: SELL\ntype: STOP_LOSS\nquantity: 1\nprice: 210.00\nreduce_only: true"
    book = write_playbook(tmp_path, [order("buy", buy, wait="fill", expect="filled"), order("tp", tp),
                                     order("sl", sl)], name="stops")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, [o.verdict for o in result.report.orders]
    for o in result.report.orders[1:]:
        assert o.last_status == "ACK" and o.order_id
    types = sorted(row["type"] for row in open_orders(simulator))
    assert types == ["STOP_LOSS", "TAKE_PROFIT"]
