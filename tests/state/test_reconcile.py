"""Reconciliation against the real local exchange: what get_user_orders/get_user_trades can tell."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from runner.errors import ReconcileError
from runner.exchange.client import TradeSession
from runner.exchange.credentials import Credentials, Secret
from runner.exchange.protocol import ReplyKind
from runner.playbook.plan import add_order_message
from runner.state.reconcile import ExchangeOrderState, Presence, reconcile


def coid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def connect() -> Iterator[Callable[[Any], TradeSession]]:
    sessions: list[TradeSession] = []

    def open_session(sim: Any) -> TradeSession:
        credentials = Credentials(sim.public_key, Secret(sim.secret_key), None, "test")
        session = TradeSession.connect(sim.url, credentials, timeout=5)
        sessions.append(session)
        session.subscribe(["order_responses", "fills"])
        return session

    yield open_session
    for session in sessions:
        session.close()


def place(session: TradeSession, client_order_id: str, *, order_type: str = "LIMIT", quantity: str = "1",
          price: str | None = "220.00", tif: str = "GTC", side: str = "BUY", **extra: Any) -> dict:
    """Send one add_order; the exchange's first answer for it (ACK or a reject status)."""
    message = add_order_message(symbol="AAPL-USD", side=side, order_type=order_type,
                                quantity=Decimal(quantity), price=Decimal(price) if price else None,
                                time_in_force=tif, client_order_id=client_order_id, **extra)
    session.send(message)
    while True:
        event = session.next_event(5)
        assert event is not None, "no answer"
        if event.client_order_id == client_order_id and event.reply.kind is ReplyKind.ORDER:
            return event.reply.body.raw
        if event.client_order_id == client_order_id and event.reply.kind is ReplyKind.ERROR:
            return {"status": event.reply.body.error_code}


def test_open_traded_rejected_and_unknown(simulator: Any, connect: Callable, dialect: str) -> None:
    session = connect(simulator)
    resting, filled, rejected, never = coid(), coid(), coid(), coid()
    ack = place(session, resting)
    place(session, filled, order_type="MARKET", quantity="0.5", price=None, tif="IOC")
    assert place(session, rejected, quantity="90000")["status"] == "FAILED_MARGIN_CHECK"
    found = reconcile(session, [resting, filled, rejected, never])
    assert found[resting].presence is Presence.OPEN and found[resting].order_id == ack["order_id"]
    assert found[resting].remaining == Decimal(1) and found[resting].describe() == "open"
    assert found[filled].presence is Presence.TRADED and found[filled].filled_quantity == Decimal("0.5")
    assert found[filled].describe(Decimal("0.5")) == "filled"
    # what the exchange cannot tell: a rejected order and one never sent look the same
    assert found[rejected].presence is Presence.NOT_FOUND and found[never].presence is Presence.NOT_FOUND
    assert found.duplicates == {}
    # docs pages: trade rows carry client_order_id; live (AsyncAPI, CLI): they do not, and the filled
    # order was found through get_order (the exactly-once lookup of issue 14)
    assert found.trades_carry_client_ids is (dialect == "docs-pages")
    if dialect == "live":
        assert found.order_lookup is not None and found.order_lookup.complete
        assert (found.order_lookup.asked, found.order_lookup.matched) == (1, 1)
        assert found.unsure == frozenset()
    else:
        assert found.order_lookup is None


def test_an_order_the_exchange_does_not_show_gets_the_whole_not_found_state(simulator: Any,
                                                                            connect: Callable) -> None:
    """A coid with nothing at the exchange takes a short path (every order of a fresh run): its state is
    the one the general path builds from no rows, whatever the journal knew of it (order ids, attached
    exits, entry hints) and beside orders that are found."""
    session = connect(simulator)
    resting, never, gone = coid(), coid(), coid()
    ack = place(session, resting)
    found = reconcile(session, [resting, never, gone], known_order_ids={gone: "no-such-order-id"},
                      order_types={resting: "LIMIT", never: "LIMIT", gone: "LIMIT"}, with_exits=[never, gone],
                      entry_hints={never: ("BUY", Decimal("220.00"))},
                      exit_order_ids={gone: ["no-such-exit"]})
    assert found[resting].presence is Presence.OPEN and found[resting].order_id == ack["order_id"]
    for absent in (never, gone):
        state = found[absent]
        assert state == ExchangeOrderState(absent, Presence.NOT_FOUND)
        assert (state.order_ids, state.open_rows, state.trades, state.legs) == ((), (), (), ())
        assert (state.filled_quantity, state.remaining, state.quantity, state.status) == (0, None, None, None)
        assert not state.placed and state.copies == 0 and state.describe(Decimal(1)) == "not found"


def test_zero_fill_cancel_is_invisible(simulator: Any, connect: Callable) -> None:
    session = connect(simulator)
    nothing = coid()
    answer = place(session, nothing, price="175.00", tif="IOC")  # far below the market: cancelled unfilled
    assert answer["status"] in ("ACK", "CANCELLED")
    assert reconcile(session, [nothing])[nothing].presence is Presence.NOT_FOUND


def test_partial_fill_then_cancel_is_traded_with_the_filled_part(simulator: Any, connect: Callable) -> None:
    session = connect(simulator)
    book = simulator.call(lambda ex: ex.book("AAPL-USD"))
    best_ask, ask_size = book["asks"][0]
    partial = coid()
    # an IOC for more than the best level at exactly that price: part fills, the rest is cancelled
    place(session, partial, price=str(best_ask), tif="IOC", quantity=str(ask_size + 5))
    state = reconcile(session, [partial])[partial]
    assert state.presence is Presence.TRADED and state.filled_quantity == ask_size
    assert state.describe(ask_size + 5).startswith("partially filled")


def test_paging_finds_everything(simulator: Any, connect: Callable) -> None:
    session = connect(simulator)
    resting = [coid() for _ in range(7)]
    traded = [coid() for _ in range(5)]
    for c in resting:
        place(session, c)
    for c in traded:
        place(session, c, order_type="MARKET", quantity="0.01", price=None, tif="IOC")
    found = reconcile(session, [*resting, *traded], page_size=3)
    assert all(found[c].presence is Presence.OPEN for c in resting)
    assert all(found[c].presence is Presence.TRADED for c in traded)
    assert found.requests >= 4 + 2  # several pages of each query were needed


def test_trade_rows_without_client_ids_are_tied_to_client_ids_with_get_order(simulator_factory: Callable,
                                                                             connect: Callable) -> None:
    """The hole issue 14 closes: in the AsyncAPI shape a filled MARKET order leaves no open row and
    trade rows carry no client_order_id; without the journal it is found through trades → order
    ids → get_order → client ids, and a re-run does not place it again."""
    sim = simulator_factory(dialect="live")
    session = connect(sim)
    filled, other, never = coid(), coid(), coid()
    ack = place(session, filled, order_type="MARKET", quantity="0.5", price=None, tif="IOC")
    place(session, other, order_type="MARKET", quantity="0.25", price=None, tif="IOC")  # not asked about
    found = reconcile(session, [filled, never], symbols={filled: "AAPL-USD", never: "AAPL-USD"})
    assert found.trades_carry_client_ids is False
    assert found[filled].presence is Presence.TRADED and found[filled].filled_quantity == Decimal("0.5")
    assert found[filled].order_id == ack["order_id"]
    assert found[never].presence is Presence.NOT_FOUND and found.unsure == frozenset()
    lookup = found.order_lookup
    assert lookup is not None and lookup.complete and (lookup.asked, lookup.matched) == (2, 1)
    assert lookup.symbols == ("AAPL-USD",) and lookup.lookback_s == 7 * 24 * 3600
    assert "look-back 7 days" in lookup.describe() and "2 get_order queries (1 ours)" in lookup.describe()
    told = reconcile(session, [filled], known_order_ids={filled: ack["order_id"]})
    assert told[filled].presence is Presence.TRADED and told.order_lookup is None  # nothing to tie


def test_no_trace_within_the_look_back_means_not_placed(simulator_factory: Callable,
                                                         connect: Callable) -> None:
    """Trades older than the look-back are not searched: a first run is a first run."""
    sim = simulator_factory(dialect="live")
    session = connect(sim)
    old = coid()
    place(session, old, order_type="MARKET", quantity="0.5", price=None, tif="IOC")
    later = lambda: __import__("time").time() + 8 * 24 * 3600  # noqa: E731 — eight days on
    found = reconcile(session, [old], symbols={old: "AAPL-USD"}, clock=later)
    assert found[old].presence is Presence.NOT_FOUND and found.unsure == frozenset()
    assert found.order_lookup is not None and found.order_lookup.complete and found.order_lookup.asked == 0
    assert "name no order whose client id was unknown" in found.order_lookup.describe()


def test_a_lookup_that_cannot_complete_leaves_the_order_unsure(simulator_factory: Callable,
                                                               connect: Callable) -> None:
    """Trade rows without client ids, and get_order shows open orders only (the docs page's reading):
    the filled order's client id cannot be read, so it is unsure, never "not placed"."""
    sim = simulator_factory(engine={"user_trades_shape": "user_trades_response",
                                    "get_order_reply": "all_orders_response"})
    session = connect(sim)
    filled = coid()
    place(session, filled, order_type="MARKET", quantity="0.5", price=None, tif="IOC")
    found = reconcile(session, [filled], symbols={filled: "AAPL-USD"})
    assert found[filled].presence is Presence.NOT_FOUND and found.unsure == frozenset({filled})
    assert found.order_lookup is not None and not found.order_lookup.complete
    assert "get_order does not show order" in (found.order_lookup.problem or "")


def test_too_many_orders_to_ask_about_is_unsure(simulator_factory: Callable, connect: Callable,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The lookup is bounded (MAX_ORDER_LOOKUPS get_order queries); past it, unsure, not sent."""
    import runner.state.reconcile as rc

    monkeypatch.setattr(rc, "MAX_ORDER_LOOKUPS", 1)
    session = connect(simulator_factory(dialect="live"))
    first, second = coid(), coid()
    place(session, first, order_type="MARKET", quantity="0.5", price=None, tif="IOC")
    place(session, second, order_type="MARKET", quantity="0.5", price=None, tif="IOC")
    found = reconcile(session, [first, second], symbols={first: "AAPL-USD", second: "AAPL-USD"})
    assert found.unsure == frozenset({first, second})
    assert "more than the 1 this lookup asks get_order about" in (found.order_lookup.problem or "")


def test_attached_exits_are_not_the_entry(simulator: Any, connect: Callable) -> None:
    session = connect(simulator)
    entry = coid()
    place(session, entry, order_type="MARKET", quantity="1", price=None, tif="IOC",
          take_profit=Decimal("250.00"), stop_loss=Decimal("200.00"))
    found = reconcile(session, [entry], order_types={entry: "MARKET"})
    state = found[entry]
    assert state.presence is Presence.TRADED and state.copies == 1 and state.filled_quantity == Decimal(1)
    assert {row.get("type") for row in state.legs} == {"TAKE_PROFIT", "STOP_LOSS"}
    # the take-profit fires: its trade carries the entry's client_order_id but is still not the entry
    simulator.call(lambda ex: ex.set_mid("AAPL-USD", Decimal("260")))
    state = reconcile(session, [entry], order_types={entry: "MARKET"})[entry]
    assert state.copies == 1 and state.filled_quantity == Decimal(1)


def test_the_same_client_order_id_twice_is_reported(simulator: Any, connect: Callable) -> None:
    session = connect(simulator)
    twice = coid()
    place(session, twice)
    place(session, twice)  # QFEX does not enforce uniqueness
    found = reconcile(session, [twice])
    assert found[twice].copies == 2 and list(found.duplicates) == [twice]


def test_transient_server_errors_are_retried(simulator_factory: Callable, connect: Callable) -> None:
    from runner.simulator.server_config import FaultConfig

    sim = simulator_factory(faults=FaultConfig(error_rate=0.5, seed=3))
    session = connect(sim)
    resting = coid()
    while True:  # the order itself may meet a ServerError too (then it was not placed: send again)
        if place(session, resting).get("status") == "ACK":
            break
    for _ in range(5):  # every lookup completes although half the answers are ServerError
        assert reconcile(session, [resting], sleep=lambda s: None)[resting].presence is Presence.OPEN


def test_a_refusal_is_an_error_not_a_guess() -> None:
    from runner.exchange.protocol import classify

    class Refusing:
        def request(self, message: dict, kinds: Any, timeout: float = 0) -> Any:
            return classify({"err": {"error_code": "PermissionDenied", "message": "no"}})

    with pytest.raises(ReconcileError, match="PermissionDenied"):
        reconcile(Refusing(), ["x"])
    assert reconcile(Refusing(), []) == {}


def test_a_row_with_an_empty_client_id_is_not_ours_and_needs_no_lookup(simulator: Any, connect: Callable,
                                                                        dialect: str) -> None:
    """A stop placed without a client id trades with `client_order_id: ""` in the docs-page rows: the
    row says whose it is (not ours: ours always have one). In the AsyncAPI rows (no such field) the
    lookup asks get_order, which shows the triggered stop too: complete, nothing unsure."""
    session = connect(simulator)
    long_, never = coid(), coid()
    place(session, long_, order_type="MARKET", quantity="1", price=None, tif="IOC")
    session.send({"type": "add_order", "params": {
        "symbol": "AAPL-USD", "side": "SELL", "order_type": "STOP_LOSS", "order_time_in_force": "GTC",
        "quantity": Decimal("1"), "price": Decimal("229.00")}})
    simulator.call(lambda ex: ex.set_mark("AAPL-USD", Decimal("228")))  # the stop fires
    found = reconcile(session, [never], symbols={never: "AAPL-USD"})
    assert found[never].presence is Presence.NOT_FOUND and found.unsure == frozenset()
    if dialect == "docs-pages":
        assert found.trades_carry_client_ids is True and found.order_lookup is None
    else:
        assert found.order_lookup is not None and found.order_lookup.complete
