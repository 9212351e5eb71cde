"""Frames as the trade session reads them: many frames in one TCP segment, every length encoding,
a ping between them, a fragmented message, a frame split across segments — each message whole, in
order (the session's own reader takes the plain text frames; websocket-client the rest)."""

from __future__ import annotations

import json
import time

from runner.exchange.client import TradeSession
from runner.exchange.credentials import Credentials, Secret
from tests.exchange.fake_exchange_kit import Peer, fake_exchange

CREDS = Credentials("pk", Secret("sk"), None, "test")


def text(n: int, tag: str) -> bytes:
    """A JSON object of exactly `n` bytes."""
    head = f'{{"tag": "{tag}", "pad": "'.encode()
    return head + b"x" * (n - len(head) - 2) + b'"}'


def fragment(payload: bytes, opcode: int, fin: bool) -> bytes:
    return bytes([(0x80 if fin else 0) | opcode, len(payload)]) + payload


SIZES = [(40, "small"), (125, "125"), (126, "126"), (65535, "65535"), (70_000, "64-bit length")]


def script(peer: Peer) -> None:
    peer.read_head()
    peer.upgrade()
    peer.receive()
    peer.send({"authenticated": True})
    burst = b"".join(Peer.frame(text(n, tag)) for n, tag in SIZES[:3])
    burst += bytes([0x89, 4]) + b"ping"  # a ping between messages: answered, never returned
    burst += b"".join(Peer.frame(text(n, tag)) for n, tag in SIZES[3:])
    burst += fragment(b'{"tag": "frag', 0x1, False) + fragment(b'mented"}', 0x0, True)
    peer.conn.sendall(burst)  # one write: the reader finds them all in one read
    whole = Peer.frame(text(300, "split"))
    peer.conn.sendall(whole[:1])
    time.sleep(0.2)
    peer.conn.sendall(whole[1:150])
    time.sleep(0.2)
    peer.conn.sendall(whole[150:])
    peer.stop.wait(5)


def test_every_message_whole_and_in_order_however_the_frames_arrive() -> None:
    with fake_exchange(script) as ex:
        session = TradeSession.connect(ex.url, CREDS, timeout=5)
        try:
            got = []
            while len(got) < len(SIZES) + 2:
                frame = session.receive(5)
                assert frame is not None, f"only {got} arrived"
                got.append((frame["tag"], len(json.dumps(frame))))
        finally:
            session.abort()
    tags = [tag for tag, _ in got]
    assert tags == [tag for _, tag in SIZES] + ["fragmented", "split"]
    assert [size for _, size in got[:len(SIZES)]] == [n for n, _ in SIZES]
