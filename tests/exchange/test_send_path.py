"""How orders leave the socket: at once (no Nagle delay), and a pipelined burst in one write."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import websocket._core

from runner.exchange.client import TradeSession
from runner.exchange.credentials import Credentials, Secret
from runner.exchange.protocol import ReplyKind
from runner.jsonnum import dumps

CREDS = Credentials("qfex_pub_demo", Secret("qfex_secret_demo"), None, "test")


def add(coid: str, price: str) -> dict[str, Any]:
    return {"type": "add_order", "params": {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT",
                                            "order_time_in_force": "GTC", "quantity": "0.001",
                                            "price": price, "client_order_id": coid}}


def test_the_trade_socket_sends_each_frame_at_once(simulator: Any) -> None:
    """TCP_NODELAY: Nagle's algorithm would hold a small frame until the previous one is
    acknowledged — a round trip (100-250 ms to QFEX) added to every order of a pipelined burst."""
    with TradeSession.connect(simulator.url, CREDS, timeout=5) as session:
        sock = session._ws.sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_burst_leaves_in_one_write_each_message_its_own_frame(simulator: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[bytes] = []
    real_send = websocket._core.send

    def counting_send(sock: Any, data: bytes) -> int:
        writes.append(bytes(data))
        return int(real_send(sock, data))

    with TradeSession.connect(simulator.url, CREDS, timeout=5) as session:
        session.subscribe(["order_responses"])
        burst = [add(f"burst-{i}", f"18{i}.00") for i in range(3)]
        monkeypatch.setattr(websocket._core, "send", counting_send)
        session.send_many([(message, dumps(message)) for message in burst])
        monkeypatch.undo()
        answers = []
        while len(answers) < 3:
            event = session.next_event(5)
            assert event is not None, "the simulator answered fewer than three orders"
            if event.reply.kind is ReplyKind.ORDER:
                answers.append((event.client_order_id, event.reply.body.status))
    assert len(writes) == 1
    assert answers == [("burst-0", "ACK"), ("burst-1", "ACK"), ("burst-2", "ACK")]
