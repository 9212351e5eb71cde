"""Issue 15: the simulator's commands behind the steps besides orders, checked against QFEX's pages
(source tags as in ../../shared/qfex-api.md): modify_stop_order in the current page's form,
close_position with a client_order_id (the trade AsyncAPI's example), running TWAPs listed by
get_user_orders, and the documented TWAP speed-up for rehearsals (`sim --twap-speed`)."""

from __future__ import annotations

from decimal import Decimal

from tests.simulator.test_conformance_docs import add_order


def long_position(client, quantity: int = 2) -> None:
    client.send(add_order(order_type="MARKET", order_time_in_force="IOC", price=0, quantity=quantity))
    while client.recv_key("order_response")["order_response"]["status"] != "FILLED":
        pass


def test_modify_stop_order_current_page_form_keeps_the_stop_id(simulator, raw_client):
    """[D:/websocket/channels/trade/stop_modify_order]: stop_order_id, symbol, side and order_type
    required (side/type must match), price and quantity optional; success is an order_response
    MODIFIED for the same stop id, then (live dialect) the `ack` QFEX's CLI waits for."""
    client = raw_client(simulator, subscribe=["order_responses"])
    long_position(client)
    stop = client.request(add_order(side="SELL", order_type="STOP_LOSS", price=215, quantity=2,
                                    order_time_in_force="IOC"))["order_response"]
    reply = client.request({"type": "modify_stop_order", "params": {
        "stop_order_id": stop["order_id"], "symbol": "AAPL-USD", "side": "SELL", "order_type": "STOP_LOSS",
        "price": 225}})
    body = reply["order_response"]
    assert body["status"] == "MODIFIED" and body["order_id"] == stop["order_id"]
    assert Decimal(str(body["price"])) == 225
    # live dialect: the caller's `ack` follows the pushed order_response [CLI:internal/daemon/server.go]
    assert client.recv_key("ack")["ack"]["incoming_message"]["type"] == "modify_stop_order"
    wrong_type = client.request({"type": "modify_stop_order", "params": {
        "stop_order_id": stop["order_id"], "symbol": "AAPL-USD", "side": "SELL", "order_type": "TAKE_PROFIT",
        "price": 226}})
    assert wrong_type["order_response"]["status"] == "CANNOT_MODIFY_NO_SUCH_ORDER"


def test_close_position_carries_the_client_order_id_it_was_given(simulator, raw_client):
    """[D:/websocket/trade] (AsyncAPI example: close_position {symbol, client_order_id}) and
    [D:/websocket/channels/trade/close_position] (LIMIT IOC, reduce-only, opposite side, ACK first)."""
    client = raw_client(simulator, subscribe=["order_responses"])
    long_position(client)
    client.send({"type": "close_position", "params": {"symbol": "AAPL-USD", "client_order_id": "close-1"}})
    ack = client.recv_key("order_response")["order_response"]
    assert ack["status"] == "ACK" and ack["client_order_id"] == "close-1"
    assert (ack["side"], ack["type"], ack["time_in_force"]) == ("SELL", "LIMIT", "IOC")
    assert Decimal(str(ack["quantity"])) == 2


def test_get_user_orders_lists_running_twaps(simulator, raw_client):
    """[D:/websocket/channels/trade/get_user_orders]: `all_orders_response` with `orders` and `twaps`."""
    client = raw_client(simulator)
    twap = client.request({"type": "add_twap", "params": {
        "symbol": "AAPL-USD", "side": "BUY", "total_quantity": 1, "num_orders": 4, "order_interval_secs": 60,
        "reduce_only": False, "client_twap_id": "scale-in"}})["twap_response"]
    listed = client.request({"type": "get_user_orders", "params": {}})["all_orders_response"]
    assert [t["twap_id"] for t in listed["twaps"]] == [twap["twap_id"]]
    assert listed["twaps"][0]["client_twap_id"] == "scale-in"


def test_twap_speed_runs_child_orders_faster_and_replies_show_the_interval_asked(simulator_factory,
                                                                                raw_client):
    """Rehearsals: QFEX's minimum interval is 30 s [D:/websocket/channels/trade/add_twap]; with
    twap_speed 30 (`qfex-runner sim --twap-speed 30`) children go 1 s apart, replies still say 30."""
    sim = simulator_factory(engine={"twap_speed": 30})
    client = raw_client(sim, subscribe=["order_responses"])
    twap = client.request({"type": "add_twap", "params": {
        "symbol": "AAPL-USD", "side": "BUY", "total_quantity": 1, "num_orders": 2, "order_interval_secs": 30,
        "reduce_only": False, "client_twap_id": "fast"}})["twap_response"]
    assert twap["order_interval_secs"] == 30
    filled = 0
    while filled < 2:  # at 1x the second child would come after 30 s, past this wait
        body = client.recv_key("order_response", timeout=10)["order_response"]
        filled += body["status"] == "FILLED" and body["quantity_remaining"] == 0
    listed = client.request({"type": "get_user_orders", "params": {}})["all_orders_response"]
    assert listed["twaps"] == []  # completed: no longer listed


def test_the_twap_schedule_divides_the_interval_by_the_speed():
    """The schedule itself, without a clock: child k is due at created_at + k * interval / speed."""
    from runner.simulator.config import default_refdata
    from runner.simulator.market import Market
    from runner.simulator.twap import Twap, TwapSpec

    market = Market(next(r for r in default_refdata() if r["symbol"] == "AAPL-USD"))
    spec = TwapSpec("AAPL-USD", "BUY", Decimal(1), 3, 30, False, "t")
    twap = Twap("id", "acct", "user", market, spec, now=1000.0, speed=30)
    twap.child_sent(1000.0)
    assert twap.next_at == 1001.0
    twap.child_sent(1001.0)
    assert twap.next_at == 1002.0
