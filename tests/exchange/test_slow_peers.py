"""A peer that sends one byte every 0.5 s (a slow-loris) cannot stretch a wait past its deadline:
not the WebSocket handshake, not the auth answer, not a frame after auth, not `/refdata`; and an
announced frame larger than the limit is refused before it is read. Each bound is generous (it
proves "does not hang", not a speed)."""

from __future__ import annotations

import time

import pytest

from runner.errors import ConnectError, ConnectionLost, RefDataError
from runner.exchange.client import MAX_FRAME_BYTES, TradeSession
from runner.exchange.credentials import Credentials, Secret
from runner.exchange.protocol import ReplyKind
from runner.playbook.refdata import fetch_refdata
from tests.exchange.fake_exchange_kit import Peer, fake_exchange

CREDS = Credentials("pk", Secret("sk"), None, "test")
ENDLESS = b"x" * 10_000  # more bytes than any bound lets through at 2 a second
BOUND = 15.0


def handshake_dribbler(peer: Peer) -> None:
    peer.read_head()
    peer.dribble(b"HTTP/1.1 101 Switching Protocols\r\nX-Slow: " + ENDLESS)


def auth_dribbler(peer: Peer) -> None:
    peer.read_head()
    peer.upgrade()
    peer.receive()  # the auth request
    text = b'{"authenticated": true, "pad": "' + ENDLESS + b'"}'
    peer.dribble(Peer.frame(text))


def after_auth_dribbler(peer: Peer) -> None:
    peer.read_head()
    peer.upgrade()
    peer.receive()
    peer.send({"authenticated": True})
    peer.receive()  # a subscribe: its answer never ends
    peer.dribble(Peer.frame(b'{"subscribed": ["' + ENDLESS + b'"]}'))


def timed(action):
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        action()
    return caught.value, time.monotonic() - started


def test_a_dribbled_handshake_ends_at_the_connect_deadline():
    with fake_exchange(handshake_dribbler) as ex:
        error, took = timed(lambda: TradeSession.connect(ex.url, CREDS, timeout=2))
    assert isinstance(error, ConnectError), error
    assert "did not complete the connection" in str(error) and "within 2s" in str(error)
    assert took < BOUND


def test_a_dribbled_auth_answer_ends_at_the_timeout_not_a_fixed_15s():
    with fake_exchange(auth_dribbler) as ex:
        error, took = timed(lambda: TradeSession.connect(ex.url, CREDS, timeout=2))
    assert isinstance(error, ConnectError), error
    assert "stalled" in str(error) or "did not answer the authentication" in str(error), error
    assert took < 10  # under the old fixed 15 s auth wait


def test_a_dribbled_frame_after_auth_is_a_lost_connection():
    with fake_exchange(after_auth_dribbler) as ex:
        session = TradeSession.connect(ex.url, CREDS, timeout=2)
        error, took = timed(lambda: session.subscribe(timeout=30))  # the wait itself is long
        session.abort()
    assert isinstance(error, ConnectionLost), error
    assert "stalled part-way for more than 2s" in str(error)
    assert took < BOUND


def test_a_frame_announced_larger_than_the_limit_is_refused_unread():
    def huge(peer: Peer) -> None:
        peer.read_head()
        peer.upgrade()
        peer.receive()
        peer.send({"authenticated": True})
        peer.receive()
        peer.conn.sendall(Peer.frame(b"{", declared=MAX_FRAME_BYTES + 1))
        peer.stop.wait(10)

    with fake_exchange(huge) as ex:
        session = TradeSession.connect(ex.url, CREDS, timeout=2)
        error, took = timed(lambda: session.request({"type": "subscribe", "params": {"channels": ["fills"]}},
                                                    [ReplyKind.SUBSCRIBED], timeout=30))
        session.abort()
    assert isinstance(error, ConnectionLost), error
    assert f"a frame of {MAX_FRAME_BYTES + 1} bytes" in str(error)
    assert took < BOUND


def http_dribbler(start: bytes):
    def script(peer: Peer) -> None:
        peer.read_head()
        peer.dribble(start + ENDLESS)
    return script


@pytest.mark.parametrize("start", [
    b"HTTP/1.1 200 OK\r\nX-Slow: ",  # the headers never end
    b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n[",  # the body never ends
], ids=["headers", "body"])
def test_a_dribbled_refdata_answer_ends_at_the_deadline(start):
    with fake_exchange(http_dribbler(start)) as ex:
        error, took = timed(lambda: fetch_refdata(f"http://127.0.0.1:{ex.port}/refdata", timeout=2))
    assert isinstance(error, RefDataError), error
    assert "no complete answer within 2s" in str(error)
    assert took < BOUND


def test_a_peer_that_stops_reading_cannot_hold_a_send():
    def deaf(peer: Peer) -> None:
        peer.read_head()
        peer.upgrade()
        peer.receive()
        peer.send({"authenticated": True})
        peer.stop.wait(30)  # reads nothing more: the runner's sends fill the socket buffers

    padding = "x" * 256 * 1024
    with fake_exchange(deaf) as ex:
        session = TradeSession.connect(ex.url, CREDS, timeout=2)

        def flood() -> None:
            for _ in range(10_000):  # far beyond what the loopback's buffers hold
                session.send({"type": "get_user_orders", "params": {"padding": padding}})

        error, took = timed(flood)
        session.abort()
    assert isinstance(error, ConnectionLost), error
    assert "stopped reading" in str(error) and "within 2s" in str(error)
    assert took < BOUND



@pytest.fixture
def dead_dns(monkeypatch):
    """The resolver itself made slow, as a DNS server that never answers makes it (getaddrinfo
    waits out its own retries, often 30 s and more)."""
    import socket
    import threading

    released = threading.Event()

    def never_answers(*args, **kwargs):
        released.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", never_answers)
    yield
    released.set()


def test_a_name_lookup_that_never_answers_ends_at_the_connect_deadline(dead_dns):
    started = time.monotonic()
    with pytest.raises(ConnectError, match=r"\(DNS\) took longer than 1s|within 1s"):
        TradeSession.connect("wss://exchange.example/", CREDS, timeout=1)
    assert time.monotonic() - started < BOUND


def test_a_name_lookup_that_never_answers_ends_the_refdata_fetch_at_its_deadline(dead_dns):
    started = time.monotonic()
    with pytest.raises(RefDataError, match="no complete answer within 1s"):
        fetch_refdata("https://exchange.example/refdata", timeout=1)
    assert time.monotonic() - started < BOUND
