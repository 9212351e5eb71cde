"""A scripted QFEX look-alike on the loopback, byte for byte: for peers the simulator will not play.

Each accepted connection runs `script(peer)` in its own thread. `Peer` speaks just enough HTTP
and WebSocket (RFC 6455, server side) to upgrade, read the runner's masked frames, and send
frames whole or one byte at a time (a slow-loris). `qfex_like` answers auth, subscriptions and
queries as QFEX does and hands each `add_order` to the test.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Peer:
    """One accepted connection, from the server's side."""

    def __init__(self, conn: socket.socket, stop: threading.Event) -> None:
        self.conn = conn
        self.stop = stop
        self.head = ""

    def read_head(self) -> str:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.conn.recv(4096)
            if not chunk:
                raise ConnectionError("closed before the request head ended")
            data += chunk
        self.head = data.decode("latin-1")
        return self.head

    def upgrade(self) -> None:
        key = next(line.split(":", 1)[1].strip() for line in self.head.splitlines()
                   if line.lower().startswith("sec-websocket-key"))
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def receive(self) -> dict[str, Any] | None:
        """The next text message from the runner (None when it closed)."""
        try:
            while True:
                b1, b2 = self._exactly(2)
                length = b2 & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._exactly(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._exactly(8))[0]
                mask = self._exactly(4)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._exactly(length)))
                opcode = b1 & 0x0F
                if opcode == 0x8:
                    return None
                if opcode == 0x1:
                    return json.loads(payload)
        except (ConnectionError, OSError):
            return None

    @staticmethod
    def frame(payload: bytes, *, declared: int | None = None) -> bytes:
        """A server text frame (unmasked); `declared` overrides the length in its header."""
        length = len(payload) if declared is None else declared
        if length < 126:
            header = bytes([0x81, length])
        elif length < 65536:
            header = bytes([0x81, 126]) + struct.pack("!H", length)
        else:
            header = bytes([0x81, 127]) + struct.pack("!Q", length)
        return header + payload

    def send(self, message: Any) -> None:
        text = message if isinstance(message, str) else json.dumps(message, default=str)
        self.conn.sendall(self.frame(text.encode()))

    def dribble(self, data: bytes, every: float = 0.5) -> None:
        """Send `data` one byte every `every` seconds, until it is all sent, the runner hangs up, or
        the test ends."""
        for byte in data:
            if self.stop.is_set():
                return
            try:
                self.conn.sendall(bytes([byte]))
            except OSError:
                return
            if self.stop.wait(every):
                return


class FakeExchange:
    """A TCP server on the loopback running `script(peer)` for every connection."""

    def __init__(self, script: Callable[[Peer], None]) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        self.stop = threading.Event()
        self.connections = 0
        self.received: list[dict[str, Any]] = []
        self._threads: list[threading.Thread] = []

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError, ConnectionError):
            self.script(Peer(conn, self.stop))

    def __enter__(self) -> FakeExchange:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


@contextlib.contextmanager
def fake_exchange(script: Callable[[Peer], None]) -> Iterator[FakeExchange]:
    with FakeExchange(script) as exchange:
        yield exchange


OnOrder = Callable[[Peer, dict[str, Any]], None]


def qfex_like(on_order: OnOrder, received: list[dict[str, Any]] | None = None) -> Callable[[Peer], None]:
    """A script answering as QFEX does (auth, subscribe, cancel_on_disconnect, queries) and handing each
    `add_order` to `on_order`; every message the runner sent is appended to `received`."""

    def script(peer: Peer) -> None:
        peer.read_head()
        if "/refdata" in peer.head.split("\r\n", 1)[0]:
            peer.conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        peer.upgrade()
        open_orders = _track_open_orders(peer)
        while (message := peer.receive()) is not None:
            if received is not None:
                received.append(message)
            kind = message.get("type")
            params = message.get("params") or {}
            if kind == "auth":
                peer.send({"authenticated": True})
            elif kind == "subscribe":
                peer.send({"subscribed": params.get("channels")})
            elif kind == "cancel_on_disconnect":
                peer.send({"ack": {"message": "ok"}})
            elif kind == "get_user_orders":
                peer.send({"all_orders_response": {"orders": list(open_orders.values())}})
            elif kind == "get_user_trades":
                peer.send({"user_trades_response": []})
            elif kind == "add_order":
                on_order(peer, message)
            elif kind == "cancel_order":
                peer.send({"order_response": {"status": "NO_SUCH_ORDER", "order_id": params.get("order_id"),
                                              "client_order_id": None}})

    return script


def _track_open_orders(peer: Peer) -> dict[str, dict[str, Any]]:
    """The orders this peer has ACKed and not yet ended, by client id, as QFEX lists them in
    `get_user_orders` (the runner confirms resting orders with that snapshot before a run ends)."""
    open_orders: dict[str, dict[str, Any]] = {}
    send = peer.send

    def send_and_track(message: Any) -> None:
        send(message)
        try:
            frame = json.loads(message) if isinstance(message, str) else message
        except ValueError:
            return
        body = frame.get("order_response") if isinstance(frame, dict) else None
        if isinstance(body, dict) and body.get("client_order_id"):
            if body.get("status") in ("ACK", "MODIFIED"):
                open_orders[str(body["client_order_id"])] = body
            else:
                open_orders.pop(str(body["client_order_id"]), None)

    peer.send = send_and_track  # type: ignore[method-assign]
    return open_orders


def order_response(message: dict[str, Any], status: str, **fields: Any) -> str:
    """An `order_response` about the order `message` placed, with `fields` written verbatim (raw JSON
    text: a number such as `NaN` or `1e999999999` goes on the wire exactly as given)."""
    params = message["params"]
    body: dict[str, Any] = {
        "order_id": f"ex-{params['client_order_id']}", "symbol": params["symbol"], "status": status,
        "quantity": params["quantity"], "price": params.get("price", 0), "side": params["side"],
        "type": params["order_type"], "time_in_force": params["order_time_in_force"],
        "client_order_id": params["client_order_id"], "quantity_remaining": params["quantity"],
        "take_profit": 0, "stop_loss": 0, "update_time": time.time(), "trade_id": None,
    }
    return _with_raw({"order_response": body}, "order_response", fields)


def fill_response(message: dict[str, Any], **fields: Any) -> str:
    """A `fill_response` of the whole order `message` placed, `fields` verbatim (see `order_response`)."""
    params = message["params"]
    body: dict[str, Any] = {
        "trade_id": f"t-{params['client_order_id']}-{time.monotonic_ns()}", "symbol": params["symbol"],
        "price": params.get("price", Decimal("230")), "quantity": params["quantity"], "side": params["side"],
        "order_id": f"ex-{params['client_order_id']}", "fee": 0, "order_type": params["order_type"],
        "client_order_id": params["client_order_id"], "remaining_quantity": 0, "timestamp": time.time(),
    }
    return _with_raw({"fill_response": body}, "fill_response", fields)


def _with_raw(frame: dict[str, Any], key: str, fields: dict[str, Any]) -> str:
    """`frame` as JSON text, each of `fields` spliced in as raw text (so invalid numbers survive)."""
    body = frame[key]
    for name in fields:
        body[name] = f"@@{name}@@"
    text = json.dumps(frame, default=str)
    for name, raw in fields.items():
        text = text.replace(f'"@@{name}@@"', str(raw))
    return text
