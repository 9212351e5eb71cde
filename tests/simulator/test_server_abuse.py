"""Hostile clients over a real socket: tiny frames that would expand, oversized numbers, deep nesting,
oversized frames, and a client that never reads. Each is answered the way QFEX answers malformed
input (an `err` frame) or cut off, and the simulator keeps serving everyone else.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from runner.simulator import ServerConfig, Simulator
from runner.simulator.wire import MAX_NESTING, MAX_NUMBER_CHARS

HUGE_EXPONENT = '{"type":"add_order","params":{"p":1e300000000}}'  # 47 bytes; 300 million digits written out


def raw_reply(client: Any) -> str:
    """The next frame exactly as it came over the socket (its size is the point)."""
    text = client.ws.recv(timeout=client.timeout)
    assert isinstance(text, str)
    return text


def assert_served(client: Any) -> None:
    """The connection still gets real answers (an order query)."""
    reply = client.request({"type": "get_user_orders", "params": {}})
    assert "all_orders_response" in reply, reply


def assert_small_format_error(text: str, limit: int = 300) -> None:
    assert len(text) < limit, text[:200]
    err = json.loads(text)["err"]
    assert err["error_code"] == "InvalidJSONFormat"
    assert err["incoming_message"] is None


def test_the_47_byte_frame_is_answered_with_a_small_err_and_memory_stays_flat(
        simulator: Simulator, raw_client: Callable[..., Any]) -> None:
    """Before: the echo wrote the number out (300 MB frame, >1 GB allocated, every client stalled)."""
    assert len(HUGE_EXPONENT) == 47
    client = raw_client(simulator, auth=False)
    tracemalloc.start()
    try:
        client.send(HUGE_EXPONENT)
        text = raw_reply(client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_small_format_error(text)
    assert "number out of range" in json.loads(text)["err"]["message"]
    assert peak < 20 * 1024 * 1024, f"the simulator allocated {peak:,} bytes for a 47-byte frame"


@pytest.mark.parametrize("number", ["1e300000000", "-1E+300000000", "1e-300000000", "0e-300000000",
                                    "1e99999999999999999999999999", "1e309", "1e-325"])
def test_numbers_outside_an_f64_are_refused_after_auth_too(
        simulator: Simulator, raw_client: Callable[..., Any], number: str) -> None:
    client = raw_client(simulator)
    client.send('{"type":"add_order","params":{"symbol":"AAPL-USD","price":' + number + "}}")
    assert_small_format_error(raw_reply(client))
    assert_served(client)


def test_a_5000_digit_integer_gets_an_err_and_the_connection_stays_usable(
        simulator: Simulator, raw_client: Callable[..., Any]) -> None:
    """Before: Python's int limit raised out of the decoder; the socket died with 1011, no err frame."""
    client = raw_client(simulator, auth=False)
    client.send('{"type":"auth","params":{"n":' + "9" * 5000 + "}}")
    text = raw_reply(client)
    assert_small_format_error(text)
    assert f"at most {MAX_NUMBER_CHARS}" in json.loads(text)["err"]["message"]
    assert client.auth(simulator.public_key, simulator.secret_key) == {"authenticated": True}


def test_deep_nesting_gets_an_err_and_the_connection_stays_usable(
        simulator: Simulator, raw_client: Callable[..., Any]) -> None:
    """Before: 900 levels parsed, then echoing them overflowed the encoder's recursion (1011)."""
    client = raw_client(simulator, auth=False)
    for depth in (MAX_NESTING + 1, 900, 100_000):
        client.send('{"type":"x","params":{"p":' + "[" * depth + "]" * depth + "}}")
        assert_small_format_error(raw_reply(client))
    assert client.auth(simulator.public_key, simulator.secret_key) == {"authenticated": True}


def test_an_echoed_extreme_number_keeps_its_exponent(
        simulator: Simulator, raw_client: Callable[..., Any]) -> None:
    """In range but huge written out: the echo says 1e300, not 301 digits."""
    client = raw_client(simulator, auth=False)
    client.send('{"type":"no_such_command","params":{"a":1e300,"b":-2.5e-300,"c":0e-300}}')
    text = raw_reply(client)
    assert len(text) < 300, text[:200]
    assert json.loads(text)["err"]["incoming_message"] == {
        "type": "no_such_command", "params": {"a": 1e300, "b": -2.5e-300, "c": 0.0}}
    assert '"a":1e300,"b":-2.5e-300,"c":0.0' in text


def test_a_frame_over_the_size_limit_closes_only_that_connection(
        simulator: Simulator, raw_client: Callable[..., Any]) -> None:
    limit = simulator.server_config.max_message_bytes
    assert limit == 1 << 20
    bystander = raw_client(simulator)
    client = raw_client(simulator, auth=False)
    client.send('{"type":"x","params":{"pad":"' + "x" * limit + '"}}')
    with pytest.raises(ConnectionClosed) as closed:
        client.ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    assert_served(bystander)


class NonReader:
    """A WebSocket client that handshakes, then only sends: it never reads a reply."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up quickly
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:  # the one read it ever does: the 101 response
            chunk = self.sock.recv(1)
            assert chunk, "handshake refused"
            response += chunk
        assert response.startswith(b"HTTP/1.1 101"), response

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = bytes([0x81, 0x80 | length])
        elif length < 1 << 16:
            header = bytes([0x81, 0x80 | 126]) + length.to_bytes(2, "big")
        else:
            header = bytes([0x81, 0x80 | 127]) + length.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def close(self) -> None:
        self.sock.close()


def test_a_client_that_never_reads_is_dropped_while_another_is_served(
        simulator_factory: Callable[..., Simulator], raw_client: Callable[..., Any],
        caplog: pytest.LogCaptureFixture) -> None:
    """Before: its replies queued in the outbox without bound (memory grew with every frame)."""
    outbox_limit = 1 << 20
    sim = simulator_factory(server_config=ServerConfig(max_outbox_bytes=outbox_limit))
    bystander = raw_client(sim)
    hog = NonReader(sim.port or 0)
    frame = '{"type":"no_such_command","params":{"pad":"' + "x" * (256 * 1024) + '"}}'  # echoed back
    caplog.set_level(logging.WARNING, logger="runner.simulator")
    sent = 0
    try:
        for sent in range(1, 400):  # 100 MB of echoes if it were never dropped
            hog.send_text(frame)
            if sent % 8 == 0:
                assert_served(bystander)
    except OSError:  # the server aborted the connection: the next send is refused
        pass
    else:
        pytest.fail("the non-reading client was never dropped")
    finally:
        hog.close()
    assert sent < 399
    assert any("not reading" in r.getMessage() for r in caplog.records), caplog.text
    assert_served(bystander)
    deadline = time.monotonic() + 10
    while len(sim.server.connections) != 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # the loop forgets the aborted socket as soon as it notices the reset
    assert len(sim.server.connections) == 1


def test_a_failure_anywhere_in_answering_a_frame_costs_an_err_not_the_connection(
        simulator: Simulator, raw_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Auth is answered outside the command handlers' guard; a bug there used to close the socket (1011)."""
    def broken(params: Any) -> Any:
        raise RuntimeError("simulated bug in auth")

    monkeypatch.setattr(simulator.server.auth, "authenticate", broken)
    client = raw_client(simulator, auth=False)
    err = client.request({"type": "auth", "params": {}})["err"]
    assert err["error_code"] == "ServerError"
    monkeypatch.undo()
    assert client.auth(simulator.public_key, simulator.secret_key) == {"authenticated": True}
    assert any("failed to process a frame" in r.getMessage() for r in caplog.records)
