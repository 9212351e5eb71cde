"""The runner's TradeSession against the simulator: auth variants, pings, queries, err attribution."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from runner.errors import ConnectError, ConnectionLost
from runner.exchange.client import TradeSession, check_url
from runner.exchange.credentials import Credentials, Secret
from runner.exchange.protocol import ReplyKind
from runner.playbook.plan import add_order_message
from runner.simulator.server_config import CompatOptions, ServerConfig


def creds(sim, secret: str | None = None) -> Credentials:
    return Credentials(sim.public_key, Secret(secret or sim.secret_key))


def limit(coid: str, price: str = "220.00") -> dict:
    return add_order_message(symbol="AAPL-USD", side="BUY", order_type="LIMIT", quantity=Decimal("1"),
                             price=Decimal(price), time_in_force="GTC", client_order_id=coid)


def next_of(session, kind, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = session.next_event(deadline - time.monotonic())
        if event is not None and event.reply.kind is kind:
            return event
    raise AssertionError(f"no {kind} within {timeout}s")


def test_connect_auth_subscribe_and_correlate(simulator):
    with TradeSession.connect(simulator.url, creds(simulator)) as s:
        s.subscribe()
        s.send(limit("coid-1"))
        event = next_of(s, ReplyKind.ORDER)
        assert event.client_order_id == "coid-1" and event.reply.body.status == "ACK"
        rows = s.get_user_orders()
        assert [r["client_order_id"] for r in rows] == ["coid-1"]
        assert s.get_user_trades() == []
        s.cancel_on_disconnect(True)


def test_wrong_secret_is_a_connect_error_without_the_secret(simulator):
    with pytest.raises(ConnectError) as info:
        TradeSession.connect(simulator.url, creds(simulator, "qfex_secret_nope_42"))
    assert "authentication refused" in str(info.value) and "qfex_secret_nope_42" not in str(info.value)


def test_legacy_auth_reply_and_flat_error_frames(simulator_factory):
    compat = CompatOptions(legacy_auth_reply=True, legacy_errors=True)
    sim = simulator_factory(server_config=ServerConfig(compat=compat))
    with TradeSession.connect(sim.url, creds(sim)) as s:  # {"type":"auth","result":"success"}
        s.subscribe()
        s.send({"type": "add_order", "params": {"symbol": "AAPL-USD", "client_order_id": "bad-1"}})
        event = next_of(s, ReplyKind.ERROR)  # {"type":"error","error_code":...}
        assert event.client_order_id == "bad-1" and event.reply.body.error_code


def test_auth_timeout_is_bounded(simulator_factory):
    sim = simulator_factory()
    # a server that never answers auth: point at the simulator but give 0.2 s; an unknown key gets a
    # refusal, so use the HTTP port of a raw socket that accepts and stays silent instead
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def accept_and_upgrade() -> None:
        conn, _ = listener.accept()
        request = conn.recv(4096).decode()
        key = next(line.split(":", 1)[1].strip() for line in request.split("\r\n")
                   if line.lower().startswith("sec-websocket-key"))
        import base64
        import hashlib

        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                                  .digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        time.sleep(1.5)
        conn.close()

    threading.Thread(target=accept_and_upgrade, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(ConnectError, match="did not answer the authentication"):
        TradeSession.connect(f"ws://127.0.0.1:{port}/", creds(sim), auth_timeout=0.3)
    assert time.monotonic() - started < 1.4
    listener.close()


def test_server_pings_are_answered_while_waiting(simulator_factory):
    sim = simulator_factory(server_config=ServerConfig(ping_interval_s=0.1, ping_timeout_s=0.3))
    with TradeSession.connect(sim.url, creds(sim)) as s:
        s.subscribe()
        deadline = time.monotonic() + 1.2  # several ping intervals and pong deadlines
        while time.monotonic() < deadline:
            s.next_event(0.05)
        s.send(limit("still-alive"))
        assert next_of(s, ReplyKind.ORDER).client_order_id == "still-alive"


def test_a_wait_ends_at_its_deadline_although_the_server_pings_more_often(simulator_factory):
    """Pings every 50 ms must not restart a 0.3 s wait (websocket-client's recv loop would)."""
    import threading

    sim = simulator_factory(server_config=ServerConfig(ping_interval_s=0.05, ping_timeout_s=1.0))
    with TradeSession.connect(sim.url, creds(sim)) as s:
        s.subscribe()
        returned: list[object] = []

        def wait_for_silence() -> None:
            while s.next_event(0.2) is not None:  # the subscription acks
                pass
            returned.append(s.next_event(0.3))

        waiter = threading.Thread(target=wait_for_silence, daemon=True)
        waiter.start()
        waiter.join(10)  # a broken deadline would wait forever: fail instead of hanging the suite
        assert not waiter.is_alive(), "next_event(0.3) did not return while the server kept pinging"
        assert returned == [None]


def test_after_fill_wait_on_a_resting_entry_ends_at_the_timeout_under_pings(tmp_path, simulator_factory):
    """bracket-entry.yaml's shape (GTC entry below the market, after_fill legs) with QFEX-like pings."""
    from runner.exit_codes import ExitCode
    from tests.acceptance.run_kit import RESTING, order, run, write_playbook

    sim = simulator_factory(server_config=ServerConfig(ping_interval_s=0.05, ping_timeout_s=1.0))
    bracket = "bracket: {take_profit: 260.00, stop_loss: 200.00, mode: after_fill}"
    book = write_playbook(tmp_path, [order("entry", RESTING + "\n" + bracket)], name="pinged")
    result = run(tmp_path, sim, book, timeout=0.5)
    entry = result.report.orders[0]
    assert result.exit_code == ExitCode.OK and entry.last_status == "ACK"
    assert [leg.order_id for leg in entry.legs] == [None, None]
    assert all("still open and unfilled" in leg.note for leg in entry.legs)
    assert any("'entry' is resting unfilled" in w for w in result.report.warnings)


def test_err_is_attributed_by_its_echo(simulator):
    with TradeSession.connect(simulator.url, creds(simulator)) as s:
        s.subscribe()
        s.send(limit("good-1"))
        s.send({"type": "add_order", "params": {"symbol": "AAPL-USD", "client_order_id": "bad-1"}})
        s.send(limit("good-2"))
        seen = {}
        while len(seen) < 3:
            event = s.next_event(5)
            assert event is not None
            if event.reply.kind in (ReplyKind.ORDER, ReplyKind.ERROR):
                seen[event.client_order_id] = event.reply.kind
        assert seen == {"good-1": ReplyKind.ORDER, "bad-1": ReplyKind.ERROR, "good-2": ReplyKind.ORDER}


def test_connection_drop_mid_run_is_connection_lost(simulator):
    with TradeSession.connect(simulator.url, creds(simulator)) as s:
        s.subscribe()
        simulator.stop()
        with pytest.raises(ConnectionLost):
            for _ in range(50):
                s.send(limit("x"))
                s.next_event(0.1)


@pytest.mark.parametrize("url, ok", [
    ("ws://127.0.0.1:8765/", True), ("ws://localhost:1/", True), ("ws://[::1]:1/", True),
    ("wss://trade.qfex.com/", True), ("ws://trade.qfex.com/", False), ("ws://10.0.0.1:1/", False),
    ("http://127.0.0.1/", False), ("trade.qfex.com", False),
])
def test_check_url(url, ok):
    if ok:
        assert check_url(url) == url
    else:
        with pytest.raises(ConnectError):
            check_url(url)


def test_a_zero_wait_still_takes_what_has_already_arrived(simulator):
    """`next_event(0)` never blocks, but an answer already on the socket is read, not left there."""
    with TradeSession.connect(simulator.url, creds(simulator)) as s:
        s.subscribe()
        s.send(limit("buffered"))
        time.sleep(0.5)  # the answer is on the socket by now
        events = [s.next_event(0) for _ in range(5)]
    assert any(e is not None and e.client_order_id == "buffered" for e in events), events
