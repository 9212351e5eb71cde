"""ReconnectingSession against the local exchange: what a new connection must restore, and the bound."""

from __future__ import annotations

from typing import Any

import pytest

from runner.errors import ConnectError, ReconnectFailed
from runner.exchange.client import TradeSession
from runner.exchange.credentials import Credentials, Secret
from runner.exchange.pacing import Pacer
from runner.exchange.protocol import ReplyKind, get_user_orders_message
from runner.exchange.reconnect import ReconnectingSession, reconnect_policy
from runner.exit_codes import ExitCode


def connector(sim: Any) -> Any:
    credentials = Credentials(sim.public_key, Secret(sim.secret_key), None, "test")
    return lambda: TradeSession.connect(sim.url, credentials, timeout=5)


def server_connections(sim: Any) -> list[tuple[bool, set[str]]]:
    return sim.call(lambda ex: [(c.cancel_on_disconnect, set(c.subscriptions))
                                for c in sim.server.connections if c.identity is not None])


def test_a_new_connection_gets_subscriptions_cancel_on_disconnect_and_a_catch_up(simulator: Any) -> None:
    connect = connector(simulator)
    caught_up: list[Any] = []
    session = ReconnectingSession(connect(), connect, sleep=lambda s: None, on_reconnect=caught_up.append)
    session.subscribe(["order_responses", "fills"])
    session.cancel_on_disconnect(True)
    session.expect_order_id("ex-1", "coid-1")
    first = session.inner
    first.abort()  # the network drops
    assert session.next_event(0.1) is None  # the loss is noticed here and recovered from
    assert session.inner is not first and session.reconnects == 1 and caught_up == [session]
    assert server_connections(simulator) == [(True, {"order_responses", "fills"})]
    assert session.inner._order_ids == {"ex-1": "coid-1"}
    session.close()


def test_a_query_is_asked_again_on_the_new_connection(simulator: Any) -> None:
    connect = connector(simulator)
    session = ReconnectingSession(connect(), connect, sleep=lambda s: None)
    session.inner.abort()
    reply = session.request(get_user_orders_message(), [ReplyKind.ALL_ORDERS])
    assert reply.kind is ReplyKind.ALL_ORDERS and session.reconnects == 1
    session.close()


def test_beyond_the_bound_the_run_is_aborted(simulator: Any) -> None:
    connect = connector(simulator)
    attempts: list[int] = []

    def refused() -> Any:
        attempts.append(1)
        raise ConnectError("cannot connect to ws://127.0.0.1: connection refused")

    slept: list[float] = []
    session = ReconnectingSession(connect(), refused, policy=reconnect_policy(3, 60), sleep=slept.append)
    session.inner.abort()
    with pytest.raises(ReconnectFailed) as caught:
        session.send({"type": "add_order", "params": {"client_order_id": "x"}})
    assert caught.value.exit_code == ExitCode.ABORTED
    assert len(attempts) == 3 and len(slept) == 3
    assert 0.35 <= slept[0] <= 0.65 and slept[1] > slept[0]  # exponential backoff with jitter
    message = str(caught.value)
    assert "could not reconnect (3 attempt(s) over" in message and "connection refused" in message


def test_every_message_is_paced(simulator: Any) -> None:
    connect = connector(simulator)
    counted: list[str] = []

    class CountingPacer(Pacer):
        def acquire(self, msg_type: str) -> float:
            counted.append(msg_type)
            return super().acquire(msg_type)

    session = ReconnectingSession(connect(), connect, pacer=CountingPacer())
    session.request(get_user_orders_message(), [ReplyKind.ALL_ORDERS])
    session.send({"type": "get_user_trades", "params": {}})
    assert counted == ["get_user_orders", "get_user_trades"]
    session.close()
