"""Fault injection for client tests: latency, a dropped connection, ServerError replies, stalls."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed

from runner.simulator import FaultConfig, ServerConfig

ORDER = {"type": "add_order", "params": {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT",
                                         "order_time_in_force": "GTC", "quantity": 1, "price": 200}}
GET_ORDERS = {"type": "get_user_orders", "params": {}}


def open_orders(sim) -> list[dict]:
    return sim.call(lambda ex: ex.orders(ex.config.accounts[0].account_id))


def test_faults_are_off_by_default():
    config = ServerConfig()
    assert not config.faults.active
    assert config.faults.latency_ms == 0 and config.faults.error_rate == 0


def test_latency_delays_every_frame_both_ways_and_keeps_order(simulator_factory, raw_client):
    sim = simulator_factory(latency_ms=40)
    client = raw_client(sim, auth=False)
    started = time.monotonic()
    assert client.barrier() == []  # one request, one reply
    assert time.monotonic() - started >= 0.08  # 40 ms in, 40 ms out
    client.auth(sim.public_key, sim.secret_key)
    channels = ["order_responses", "positions", "balances", "fills", "stop_orders"]
    for _ in range(4):
        for channel in channels:
            client.send({"type": "subscribe", "params": {"channels": [channel]}})
    acks = [client.recv()["subscribed"] for _ in range(4 * len(channels))]
    assert acks == channels * 4


def test_drop_after_n_processes_the_frame_but_loses_the_reply(simulator_factory, raw_client):
    # frame 1 auth, 2 subscribe, 3 add_order → processed, then the TCP connection is cut
    sim = simulator_factory(faults=FaultConfig(drop_after_messages=3))
    client = raw_client(sim, subscribe=["order_responses"])
    client.send(ORDER)
    with pytest.raises(ConnectionClosed) as info:
        client.recv()
    assert info.value.rcvd is None  # no close frame: an abrupt drop (1006)
    assert len(open_orders(sim)) == 1  # the exchange did act on it
    # a reconnecting client sees it, and is not dropped again (drop_times=1)
    again = raw_client(sim, subscribe=["order_responses"])
    orders = again.request(GET_ORDERS)["all_orders_response"]["orders"]
    assert [o["status"] for o in orders] == ["ACK"]
    assert again.request(ORDER)["order_response"]["status"] == "ACK"


def test_drop_before_processing(simulator_factory, raw_client):
    sim = simulator_factory(faults=FaultConfig(drop_after_messages=3, drop_before_reply=False))
    client = raw_client(sim, subscribe=["order_responses"])
    client.send(ORDER)
    with pytest.raises(ConnectionClosed):
        client.recv()
    assert open_orders(sim) == []


def test_drop_times_zero_drops_every_connection(simulator_factory, raw_client):
    sim = simulator_factory(faults=FaultConfig(drop_after_messages=2, drop_times=0))
    for _ in range(3):
        client = raw_client(sim)
        client.send(GET_ORDERS)
        with pytest.raises(ConnectionClosed):
            client.recv()


def test_error_rate_one_answers_server_error_and_does_nothing(simulator_factory, raw_client):
    sim = simulator_factory(faults=FaultConfig(error_rate=1.0))
    client = raw_client(sim)  # auth is not subject to injected errors
    err = client.request(ORDER)["err"]
    assert err["error_code"] == "ServerError"
    assert err["incoming_message"] == ORDER
    assert open_orders(sim) == []


def _error_pattern(simulator_factory, raw_client, seed: int) -> list[bool]:
    sim = simulator_factory(faults=FaultConfig(error_rate=0.5, seed=seed))
    client = raw_client(sim)
    return ["err" in client.request(GET_ORDERS) for _ in range(40)]


def test_error_rate_is_seeded_and_reproducible(simulator_factory, raw_client):
    first = _error_pattern(simulator_factory, raw_client, seed=7)
    assert first == _error_pattern(simulator_factory, raw_client, seed=7)
    assert 5 < sum(first) < 35
    assert first != _error_pattern(simulator_factory, raw_client, seed=8)


def test_stall_then_resume_in_order(simulator_factory, raw_client):
    sim = simulator_factory(faults=FaultConfig(stall_after_messages=2, stall_seconds=0.3))
    client = raw_client(sim, subscribe=["order_responses"])  # frames 1 and 2 answered at once
    started = time.monotonic()
    client.send(GET_ORDERS)
    client.send(ORDER)
    assert "all_orders_response" in client.recv()
    assert time.monotonic() - started >= 0.28
    assert client.recv()["order_response"]["status"] == "ACK"


def test_stall_forever_leaves_an_open_silent_socket(simulator_factory, raw_client):
    sim = simulator_factory(faults=FaultConfig(stall_after_messages=1))
    client = raw_client(sim)
    client.send(GET_ORDERS)
    with pytest.raises(TimeoutError):
        client.recv(timeout=0.3)
