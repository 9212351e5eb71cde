"""Shared fixtures: a fresh local exchange per test, and a raw WebSocket client to talk to it.

`simulator`         — the real local exchange on a free loopback port (speed bump 0, rate limit on).
`simulator_factory` — `simulator_factory(**options)` for tests that need other options; every
                      simulator it starts is stopped at the end of the test.
`raw_client`        — `raw_client(sim_or_url, auth=True, ...)` → `RawClient`, a deliberately
                      small client written from QFEX's docs (websockets' sync client), *not* the
                      runner's client: conformance tests must not share code with what they judge.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from runner.simulator import Simulator


def _engine_config(dialect: str = "live", **engine_options: Any) -> Any:
    from runner.simulator.config import EngineConfig, dialect_fields

    engine_options.setdefault("speed_bump_ms", 0)
    return EngineConfig(**{**dialect_fields(dialect), **engine_options})


def dialect_server_config(dialect: str, config: Any = None) -> Any:
    """`config` (a ServerConfig, or the default one) with the dialect's server-side shapes."""
    import dataclasses

    from runner.simulator.server_config import DIALECT_COMPAT, ServerConfig

    config = config or ServerConfig()
    return dataclasses.replace(config, compat=dataclasses.replace(config.compat, **DIALECT_COMPAT[dialect]))


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., Simulator]]:
    """`factory(engine=dict(...), dialect="live"|"docs-pages", **Simulator kwargs)`: start a simulator
    with these options (the dialect's reply shapes under `engine`'s fields)."""
    started: list[Simulator] = []

    def factory(engine: dict[str, Any] | None = None, dialect: str | None = None,
                **options: Any) -> Simulator:
        if dialect is not None:
            options["server_config"] = dialect_server_config(dialect, options.get("server_config"))
        if "exchange" not in options and "engine_config" not in options:
            options["engine_config"] = _engine_config(dialect or "live", **(engine or {}))
        sim = Simulator(**options).start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(simulator_factory: Callable[..., Simulator]) -> Simulator:
    """A fresh local exchange: demo account, speed bump 0, rate limit on."""
    return simulator_factory()


# --- raw client ------------------------------------------------------------------------------------

def sign(secret: str, nonce: str, unix_ts: int) -> str:
    """QFEX's documented signature, written out again here (the client side of the contract)."""
    import hashlib
    import hmac

    return hmac.new(secret.encode(), f"{nonce}:{unix_ts}".encode(), hashlib.sha256).hexdigest()


def hmac_auth(public_key: str, secret_key: str, *, nonce: str | None = None, unix_ts: int | None = None,
              account_id: str | None = None) -> dict[str, Any]:
    nonce = nonce if nonce is not None else secrets.token_hex(16)
    unix_ts = unix_ts if unix_ts is not None else int(time.time())
    params: dict[str, Any] = {"hmac": {"public_key": public_key, "nonce": nonce, "unix_ts": unix_ts,
                                       "signature": sign(secret_key, nonce, unix_ts)}}
    if account_id is not None:
        params["account_id"] = account_id
    return {"type": "auth", "params": params}


class RawClient:
    """One WebSocket connection speaking raw JSON frames; replies parsed with exact Decimals."""

    BARRIER = "barrier: not json"

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 5.0) -> None:
        from websockets.sync.client import connect

        self.timeout = timeout
        options = dict(additional_headers=headers, compression=None, open_timeout=timeout, max_size=None)
        try:  # websockets >= 17.1 wants legacy=True for a connection used outside `with`
            self.ws = connect(url, legacy=True, **options)
        except TypeError:
            self.ws = connect(url, **options)

    def send(self, message: dict[str, Any] | str) -> None:
        """Send a dict (Decimals written exactly) or a raw text frame."""
        self.ws.send(message if isinstance(message, str) else _dumps(message))

    def recv(self, timeout: float | None = None) -> dict[str, Any]:
        text = self.ws.recv(timeout=self.timeout if timeout is None else timeout)
        return json.loads(text, parse_float=Decimal)

    def recv_key(self, key: str, timeout: float | None = None) -> dict[str, Any]:
        """Skip frames until one whose top-level key is `key`; returns that frame."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self.recv(max(0.01, deadline - time.monotonic()))
            if key in frame:
                return frame

    def request(self, message: dict[str, Any] | str) -> dict[str, Any]:
        self.send(message)
        return self.recv()

    def barrier(self) -> list[dict[str, Any]]:
        """Every frame queued for this connection before now (proves absence without sleeping).

        Sends a non-JSON frame; the server answers it with InvalidJSONFormat after everything
        already queued for this connection, since one connection's frames are never reordered.
        """
        self.send(self.BARRIER)
        before: list[dict[str, Any]] = []
        while True:
            frame = self.recv()
            err = frame.get("err")
            # the echo of a non-object frame: null (docs pages) or its text (live dialect, AsyncAPI)
            if err and err.get("error_code") == "InvalidJSONFormat" \
                    and err.get("incoming_message") in (None, self.BARRIER):
                return before
            before.append(frame)

    def auth(self, public_key: str, secret_key: str, **kwargs: Any) -> dict[str, Any]:
        return self.request(hmac_auth(public_key, secret_key, **kwargs))

    def subscribe(self, *channels: str) -> list[dict[str, Any]]:
        self.send({"type": "subscribe", "params": {"channels": list(channels)}})
        return [self.recv() for _ in channels]

    def close(self) -> None:
        self.ws.close()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (what a crash or cable pull looks like)."""
        import socket

        sock = self.ws.socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _dumps(value: Any) -> str:
    """json.dumps that writes Decimals as exact JSON numbers."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value)


@pytest.fixture
def auth_message() -> Callable[..., dict[str, Any]]:
    """`auth_message(public_key, secret_key, nonce=, unix_ts=, account_id=)` → a signed auth frame."""
    return hmac_auth


@pytest.fixture
def raw_client() -> Iterator[Callable[..., RawClient]]:
    """`raw_client(sim_or_url, auth=True, subscribe=(), account_id=None, headers=None)`."""
    clients: list[RawClient] = []

    def connect(target: Any, *, auth: bool = True, subscribe: tuple[str, ...] | list[str] = (),
                account_id: str | None = None, headers: dict[str, str] | None = None,
                query: str = "") -> RawClient:
        url = target if isinstance(target, str) else target.url
        client = RawClient(url + query, headers=headers)
        clients.append(client)
        if auth:
            reply = client.auth(target.public_key, target.secret_key, account_id=account_id)
            assert reply == {"authenticated": True}, reply
        if subscribe:
            acks = client.subscribe(*subscribe)
            assert acks == [{"subscribed": c} for c in subscribe], acks
        return client

    yield connect
    for client in clients:
        with contextlib.suppress(Exception):
            client.close()
