"""The local exchange's network side: QFEX's trade WebSocket, its market-data socket at `/mds`
and `GET /refdata`, on one port.

Only this module imports `websockets`. It owns everything that is about connections rather
than about the market (the engine, `Exchange`, is synchronous and knows nothing of sockets):

- framing: every frame must be `{"type": "<command>", "params": {...}}`; anything else, an
  unknown type, or a value of the wrong JSON type in an auth/subscribe/cancel_on_disconnect
  request is `err` `InvalidJSONFormat` ("not valid JSON or doesn't match the expected schema"
  [D:/websocket/errors]), echoing the request in `incoming_message` whenever it parsed;
- auth (auth.py) with its deadline, then protocol-level pings; commands before auth refused;
- subscriptions with one ack per channel, and routing of the engine's `Outbound` events:
  `caller` → the requesting connection, `account` → every authenticated connection of that
  account subscribed to the event's channel;
- a bounded outbox per connection: a client that stops reading while its replies pile up past
  `ServerConfig.max_outbox_bytes` is cut off (logged), so one stalled reader cannot make the
  simulator's memory grow without bound;
- the per-connection cancel_on_disconnect flag; the per-user rate limit (ratelimit.py);
  fault injection (faults.py); the engine's timers (`on_time` at `next_deadline`) and the 1 s
  positions/balances pulses;
- the market-data socket (path `/mds`, public, no auth): its frames go to `mds.MarketDataHub`,
  pulsed every `ServerConfig.mds_interval_s`, public trades published after every engine call.

All engine calls happen on this module's event loop, one at a time. Every outbound frame of a
connection goes through that connection's outbox in engine order, so nothing is reordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import parse_qs

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from runner.simulator import wire
from runner.simulator.auth import Account, Authenticator, AuthRefused, Identity
from runner.simulator.faults import DelayLine, FaultInjector
from runner.simulator.mds import MarketDataHub, MarketFeed
from runner.simulator.outbound import Session
from runner.simulator.ratelimit import RateLimiter
from runner.simulator.server_config import ServerConfig
from runner.simulator.wire import JsonObject

log = logging.getLogger("runner.simulator")
T = TypeVar("T")

#: Commands the engine answers (interfaces.md §B); the server answers the others itself.
ENGINE_COMMANDS: frozenset[str] = frozenset({
    "add_order", "cancel_order", "modify_order", "cancel_all_orders", "get_order", "get_user_orders",
    "get_user_trades", "close_position", "cancel_stop_order", "modify_stop_order", "get_user_leverage",
    "get_available_leverage_levels", "set_user_leverage", "add_twap",
})
CHANNELS: tuple[str, ...] = ("order_responses", "positions", "balances", "fills", "stop_orders")
_PULSED = ("positions", "balances")
_SHUTDOWN_GRACE_S = 2.0
_OPEN = State.OPEN
_HIGH_WATER = 64 * 1024  # bytes buffered in the transport before frames go through the writer task
_SHAPE = 'expected an object {"type": "<command>", "params": {...}} ("params" present even when empty)'
_ENVELOPE_CHANNEL = {"positions": "v4_positions", "balances": "v4_balances"}


def _envelope_position(row: JsonObject, user_id: str | None, stamp: str) -> JsonObject:
    """A position row as the AsyncAPI's v4_positions example shows it: `id` is the symbol, `user_id`
    follows the symbol and an ISO `timestamp` ends the row [AE:asyncapi] (PositionUpdate)."""
    shaped: JsonObject = {"id": row.get("symbol"), "symbol": row.get("symbol"), "user_id": user_id}
    shaped.update((k, v) for k, v in row.items() if k not in ("id", "symbol"))
    shaped["timestamp"] = stamp
    return shaped
_PAYLOAD_KEY = {"positions": "position_response", "balances": "balance_response"}
#: where the market-data socket is served (QFEX: its own host, wss://mds.qfex.com/)
MDS_PATH = "/mds"


class Event(Protocol):
    """One engine event to deliver (the engine's `outbound.Outbound`): to "caller" or "account"."""

    @property
    def to(self) -> str: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def account_id(self) -> str | None: ...
    @property
    def message(self) -> JsonObject: ...


class Engine(Protocol):
    """The engine as the server drives it (interfaces.md §B): `engine.Exchange`, or a test's stand-in.

    Synchronous and socket-free; every call happens on the server's loop, one at a time.
    """

    def account_for_key(self, public_key: str) -> Account | None: ...
    def session(self, account_id: str, user_id: str) -> Session: ...
    def handle(self, session: Session, msg_type: str, params: JsonObject) -> Sequence[Event]: ...
    def on_disconnect(self, session: Session, cancel_on_disconnect: bool) -> Sequence[Event]: ...
    def on_time(self) -> Sequence[Event]: ...
    def next_deadline(self) -> float | None: ...
    def pulse(self, account_id: str) -> Sequence[Event]: ...
    def refdata_body(self, ticker: str | None = None) -> JsonObject: ...


class Connection:
    """One client socket: its identity, subscriptions, flags and ordered outbox."""

    def __init__(self, server: ExchangeServer, ws: ServerConnection) -> None:
        self.server = server
        self.ws = ws
        self.id = str(uuid.uuid4())
        self.identity: Identity | None = None
        self.session: Session | None = None  # set with `identity` by a successful auth
        self.subscriptions: set[str] = set()
        self.cancel_on_disconnect = False
        self.inbound = 0
        self.upgrade: JsonObject = server.upgrades.get(ws, {})
        self._message_id = 0
        self._enveloped: set[str] = set()
        self._outbox: deque[str | tuple[float, str]] = deque()  # (due, frame) under a latency fault
        self._queued_chars = 0  # text waiting in the outbox (frames are ASCII: characters = bytes)
        self._outbox_limit = server.config.max_outbox_bytes
        self._ready = asyncio.Event()
        self._delay = server.faults.latency_s
        self._writing = False
        self.hold = False
        self.open = True
        self.auth_deadline: asyncio.TimerHandle | None = None
        self.writer = asyncio.get_running_loop().create_task(self._write_loop())

    # --- output ----------------------------------------------------------------------------
    def post(self, text: str) -> None:
        """Send one frame now if nothing is queued before it, else queue it; order is kept."""
        if not self.open:
            return
        if not (self._outbox or self._delay or self._writing or self.hold) and self._write_now(text):
            return
        self._queued_chars += len(text)
        if self._queued_chars > self._outbox_limit:
            self._drop_slow_reader()
            return
        if self._delay:
            self._outbox.append((asyncio.get_running_loop().time() + self._delay, text))
        else:
            self._outbox.append(text)
        self._ready.set()

    def _drop_slow_reader(self) -> None:
        """The client is not reading what it is sent: cut it off, as an exchange drops a slow consumer.

        A close frame could not reach it past the unread data, so the TCP connection is aborted
        (the client sees 1006, which also counts as an unexpected drop for cancel_on_disconnect).
        """
        log.warning("connection %s dropped: more than %d bytes of replies waiting, the client is not "
                    "reading", self.id, self._outbox_limit)
        self.abort()

    def send(self, message: JsonObject) -> None:
        self.post(wire.encode(message))

    def _write_now(self, text: str) -> bool:
        """Fast path: hand the frame to the transport synchronously (no task switch).

        Only when the socket is open and its write buffer is not backed up; otherwise the writer
        task sends it with websockets' own flow control.
        """
        ws = self.ws
        transport = ws.transport
        if ws.protocol.state is not _OPEN or transport is None:
            return False
        if transport.get_write_buffer_size() > _HIGH_WATER:
            return False
        try:
            ws.protocol.send_text(text.encode())
        except Exception:  # the protocol is closing: let the writer report it
            return False
        with contextlib.suppress(Exception):  # a broken transport ends the connection; nothing to redo
            ws.send_data()
        return True

    async def _write_loop(self) -> None:
        outbox, ready, ws, loop = self._outbox, self._ready, self.ws, asyncio.get_running_loop()
        try:
            while True:
                await ready.wait()
                ready.clear()
                self._writing = True
                while outbox:
                    item = outbox.popleft()
                    if isinstance(item, tuple):
                        due, item = item
                        self._queued_chars -= len(item)
                        if due > loop.time():
                            await asyncio.sleep(due - loop.time())
                    else:
                        self._queued_chars -= len(item)
                    await ws.send(item)
                self._writing = False
        except (ConnectionClosed, asyncio.CancelledError):
            pass
        except Exception:  # pragma: no cover - a writer bug must not go unnoticed
            log.exception("writer of connection %s failed", self.id)

    def next_message_id(self) -> int:
        self._message_id += 1
        return self._message_id

    def envelope(self, channel: str, rows: list[JsonObject]) -> JsonObject:
        """dYdX-style push envelope (compat `envelope-pulses`); first one per channel is "subscribed"."""
        first = channel not in self._enveloped
        self._enveloped.add(channel)
        return {
            "type": "subscribed" if first else "channel_data",
            "connection_id": self.id,
            "message_id": self.next_message_id(),
            "channel": _ENVELOPE_CHANNEL[channel],
            "id": self.identity.account_id if self.identity else None,
            "contents": rows,
        }

    def drop_output(self) -> None:
        self.open = False
        self._outbox.clear()
        self._queued_chars = 0

    def abort(self) -> None:
        """Cut the TCP connection with no close frame (the client sees 1006)."""
        self.drop_output()
        transport = self.ws.transport
        if transport is not None:
            transport.abort()


class ExchangeServer:
    """Serves one engine (`Engine`: an `Exchange` or a stand-in) over WebSocket + HTTP."""

    def __init__(self, exchange: Engine, config: ServerConfig | None = None, *,
                 auth_clock: Callable[[], float] = time.time) -> None:
        self.exchange = exchange
        self.config = config or ServerConfig()
        #: the engine's clock drives its timers; auth compares unix_ts with the wall clock clients use
        self.clock = _engine_clock(exchange)
        self.auth = Authenticator(exchange.account_for_key, self.config, clock=auth_clock)
        limits = self.config.rate_limit
        self.limiter = RateLimiter(limits, clock=time.monotonic) if limits else None
        self.faults = FaultInjector(self.config.faults)
        self.connections: set[Connection] = set()
        self.by_account: dict[str, list[Connection]] = {}
        #: upgrade requests seen (path, api_key query, x-qfex-* headers, user agent) — for tests
        self.handshakes: deque[JsonObject] = deque(maxlen=1000)
        #: each open socket's upgrade request, for its `Connection` (dropped with the socket)
        self.upgrades: weakref.WeakKeyDictionary[ServerConnection, JsonObject] = (
            weakref.WeakKeyDictionary())
        self._server: Server | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None
        self._pulse: asyncio.TimerHandle | None = None
        self._mds_pulse: asyncio.TimerHandle | None = None
        #: the market-data socket, when the engine can feed it (a test's stand-in engine may not)
        self.mds = MarketDataHub(exchange, self.clock) if isinstance(exchange, MarketFeed) else None
        self._commands: dict[str, Callable[[Connection, JsonObject, JsonObject], None]] = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "cancel_on_disconnect": self._cancel_on_disconnect,
        }
        for name in ENGINE_COMMANDS:
            self._commands[name] = self._engine_command

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        cfg = self.config
        self._server = await serve(
            self._handle, cfg.host, cfg.port,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,  # pings start after auth (see _authenticate)
            max_size=cfg.max_message_bytes,
            close_timeout=_SHUTDOWN_GRACE_S,
            server_header="qfex-runner-simulator",
        )
        loop = asyncio.get_running_loop()
        if cfg.pulse_interval_s > 0:
            self._pulse = loop.call_later(cfg.pulse_interval_s, self._on_pulse)
        if self.mds is not None and cfg.mds_interval_s > 0:
            self._mds_pulse = loop.call_later(cfg.mds_interval_s, self._on_mds_pulse)
        self._schedule_timer()
        return self.port

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        for handle in (self._timer, self._pulse, self._mds_pulse):
            if handle is not None:
                handle.cancel()
        self._timer = self._pulse = self._mds_pulse = None
        server = self._server
        if server is None:
            return
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), _SHUTDOWN_GRACE_S)
        except TimeoutError:
            # a peer that never finishes its close (e.g. an HTTP client holding a 404 open) must
            # not hold up shutdown: cut what is left
            for task in list(server.handler_tasks):
                task.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), _SHUTDOWN_GRACE_S)

    # --- HTTP: GET /refdata, and the WebSocket path ----------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        params = parse_qs(query)
        if path.rstrip("/") == "/refdata":
            return self._refdata_response(connection, params)
        mds = path.rstrip("/") == MDS_PATH and self.mds is not None
        if path != "/" and not mds:
            return _json_response(connection, 404, {"error": f"no such path {path}; the trade WebSocket "
                                                             f"is at /, market data at {MDS_PATH}"})
        headers = request.headers
        info = {
            "mds": mds,
            "path": request.path.split("?")[0],
            "api_key": _first(params, "api_key"),
            "user_agent": headers.get("User-Agent"),
            "authorization": "<redacted>" if "Authorization" in headers else None,
            "x_qfex": {k.lower(): v for k, v in headers.raw_items() if k.lower().startswith("x-qfex-")},
        }
        self.upgrades[connection] = info
        self.handshakes.append(info)
        return None

    def _refdata_response(self, connection: ServerConnection, params: dict[str, list[str]]) -> Response:
        ticker = _first(params, "ticker")
        try:
            body = self.exchange.refdata_body(ticker)
        except KeyError:
            return _json_response(connection, 404, {"error": f"unknown ticker {ticker}"})
        response = _json_response(connection, 200, body)
        response.headers["Cache-Control"] = "public, max-age=60"
        return response

    # --- one connection --------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        if self.upgrades.get(ws, {}).get("mds") and self.mds is not None:
            await self._handle_mds(ws, self.mds)
            return
        conn = Connection(self, ws)
        self.connections.add(conn)
        loop = asyncio.get_running_loop()
        deadline = conn.auth_deadline = loop.call_later(self.config.auth_timeout_s, self._auth_deadline, conn)
        try:
            if self.faults.latency_s:
                await self._read_delayed(conn)
            else:
                async for frame in ws:
                    await self._on_frame(conn, frame)
        except ConnectionClosed:
            pass
        finally:
            deadline.cancel()
            self._closed(conn)

    async def _handle_mds(self, ws: ServerConnection, hub: MarketDataHub) -> None:
        """A market-data connection: public (no auth, no deadline), pinged from the start; its frames
        go to the hub. Faults and rate limits are the trade socket's and do not apply here."""
        conn = Connection(self, ws)
        self.connections.add(conn)
        hub.attach(conn)
        self._start_pings(conn)
        try:
            async for frame in ws:
                try:
                    hub.handle(conn, frame)
                except Exception:  # a simulator bug costs one answer, not the connection
                    log.exception("market-data socket failed on a frame")
        except ConnectionClosed:
            pass
        finally:
            hub.detach(conn)
            conn.open = False
            conn.writer.cancel()
            self.connections.discard(conn)

    def _on_mds_pulse(self) -> None:
        self._mds_pulse = asyncio.get_running_loop().call_later(self.config.mds_interval_s,
                                                                self._on_mds_pulse)
        if self.mds is None:
            return
        try:
            self.mds.publish_trades()
            if self.mds.subscribers:
                self.mds.pulse()
        except Exception:
            log.exception("market-data pulse failed")

    async def _read_delayed(self, conn: Connection) -> None:
        """Latency mode: frames are processed `latency` after arrival, in arrival order."""
        line: DelayLine[str | bytes | None] = DelayLine(self.faults.latency_s)

        async def process() -> None:
            while (frame := await line.get()) is not None:
                await self._on_frame(conn, frame)

        worker = asyncio.get_running_loop().create_task(process())
        try:
            async for frame in conn.ws:
                line.put(frame)
        finally:
            line.put(None)
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await worker

    async def _on_frame(self, conn: Connection, frame: str | bytes) -> None:
        if not conn.open:
            return
        conn.inbound += 1
        faults = self.faults
        if faults.config.active:
            stall = faults.stall_seconds(conn.inbound)
            if stall is not None:
                if math.isinf(stall):
                    await conn.ws.wait_closed()
                    return
                await asyncio.sleep(stall)
            if faults.should_drop(conn.inbound):
                if faults.config.drop_before_reply:
                    conn.hold = True  # queue this frame's replies (to be discarded) instead of writing them
                    self._process(conn, frame)
                conn.abort()
                return
        self._process(conn, frame)

    # --- dispatch ----------------------------------------------------------------------------------
    def _process(self, conn: Connection, frame: str | bytes) -> None:
        """Answer one frame; whatever fails inside costs that frame an err, never the connection."""
        try:
            self._dispatch(conn, frame)
        except Exception:
            log.exception("failed to process a frame on connection %s", conn.id)
            with contextlib.suppress(Exception):
                self._error(conn, "ServerError", "internal error in the simulator", None)

    def _dispatch(self, conn: Connection, frame: str | bytes) -> None:
        try:
            msg = wire.decode(frame)
        except wire.FrameError as exc:
            # a frame past the input bounds is never echoed (it stays a small answer to hostile input)
            echo = None if isinstance(exc, wire.BoundsError) else self._raw_echo(frame)
            self._error(conn, "InvalidJSONFormat", str(exc), echo)
            return
        if type(msg) is not dict:
            self._error(conn, "InvalidJSONFormat", _SHAPE, self._raw_echo(frame))
            return
        msg_type = msg.get("type")
        params = msg.get("params")
        if type(msg_type) is not str or type(params) is not dict:
            self._error(conn, "InvalidJSONFormat", _SHAPE, msg)
            return
        if msg_type == "auth":
            self._authenticate(conn, msg, params)
            return
        handler = self._commands.get(msg_type)
        if handler is None:
            self._error(conn, "InvalidJSONFormat", f"unknown message type {msg_type!r}", msg)
            return
        if conn.identity is None:
            if self.config.pre_auth_commands == "reject":
                self._error(conn, "PermissionDenied",
                            "not authenticated: send an auth message first", msg)
            return
        if self.limiter is not None:
            decision = self.limiter.check(conn.identity.user_id, msg_type)
            if not decision.accepted:
                self._rate_limited(conn, msg, decision.retry_after_s, decision.bucket)
                return
        if self.faults.server_error():
            self._error(conn, "ServerError",
                        "injected fault: internal error, safe to retry after a short delay", msg)
            return
        try:
            handler(conn, msg, params)
        except Exception:  # a simulator bug must cost one answer, not the connection
            log.exception("failed to handle %s", msg_type)
            self._error(conn, "ServerError", "internal error in the simulator", msg)

    def _engine_command(self, conn: Connection, msg: JsonObject, params: JsonObject) -> None:
        session = conn.session
        assert session is not None  # commands reach the engine only after auth, which sets the session
        try:
            outs = self.exchange.handle(session, msg["type"], params)
        except Exception as exc:
            code = getattr(exc, "error_code", None)
            if isinstance(code, str):
                self._error(conn, code, getattr(exc, "message", str(exc)), msg)
            else:
                log.exception("engine failed on %s", msg["type"])
                self._error(conn, "ServerError", "internal error in the simulator's engine", msg)
            self._schedule_timer()
            return
        self.route(outs, conn)
        self._schedule_timer()

    # --- auth ------------------------------------------------------------------------------------
    def _authenticate(self, conn: Connection, msg: JsonObject, params: JsonObject) -> None:
        if conn.identity is not None:
            self._error(conn, "AlreadyAuthenticated", "this connection is already authenticated", msg)
            return
        try:
            identity = self.auth.authenticate(params)
        except AuthRefused as refused:
            echo = _redact_auth(msg)
            if refused.malformed:
                self._error(conn, refused.error_code, refused.message, echo)
                return
            mode = self.config.auth_failure_reply
            if mode in ("both", "flag"):
                conn.send({"authenticated": False})
            if mode in ("both", "err"):
                self._error(conn, refused.error_code, f"authentication failed: {refused.message}", echo)
            if self.config.close_on_auth_failure:
                asyncio.get_running_loop().create_task(conn.ws.close(1008, "authentication failed"))
            return
        try:
            session = self.exchange.session(identity.account_id, identity.user_id)
        except Exception as exc:  # the engine does not know this account: refuse like any bad auth
            self._error(conn, getattr(exc, "error_code", "PermissionDenied"),
                        f"authentication failed: {getattr(exc, 'message', exc)}", _redact_auth(msg))
            return
        conn.identity = identity
        conn.session = session
        self.by_account.setdefault(identity.account_id, []).append(conn)
        if conn.auth_deadline is not None:
            conn.auth_deadline.cancel()
        if self.config.compat.legacy_auth_reply:
            conn.send({"type": "auth", "result": "success"})
        else:
            conn.send({"authenticated": True})
        self._start_pings(conn)

    def _start_pings(self, conn: Connection) -> None:
        """QFEX pings after auth [D:/websocket/channels/trade/authenticate]; clients pong automatically."""
        if self.config.ping_interval_s is None:
            return
        ws = conn.ws
        ws.ping_interval = self.config.ping_interval_s
        ws.ping_timeout = self.config.ping_timeout_s
        ws.start_keepalive()

    def _auth_deadline(self, conn: Connection) -> None:
        if conn.identity is None and conn.open:
            reason = f"not authenticated within {self.config.auth_timeout_s:g} s"
            asyncio.get_running_loop().create_task(conn.ws.close(1008, reason))

    # --- server-side commands ----------------------------------------------------------------------
    def _channels(self, conn: Connection, msg: JsonObject, params: JsonObject) -> list[str] | None:
        channels = params.get("channels")
        if type(channels) is not list or not all(type(c) is str for c in channels):
            self._error(conn, "InvalidJSONFormat", 'params.channels must be a list of channel names', msg)
            return None
        if not channels:
            self._error(conn, "InvalidParameter", "params.channels is empty", msg)
            return None
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            self._error(conn, "InvalidJSONFormat",
                        f"unknown channel {unknown[0]!r} (channels: {', '.join(CHANNELS)})", msg)
            return None
        return channels

    def _subscribe(self, conn: Connection, msg: JsonObject, params: JsonObject) -> None:
        channels = self._channels(conn, msg, params)
        for channel in channels or ():
            conn.subscriptions.add(channel)
            conn.send({"subscribed": channel})

    def _unsubscribe(self, conn: Connection, msg: JsonObject, params: JsonObject) -> None:
        channels = self._channels(conn, msg, params)
        for channel in channels or ():
            conn.subscriptions.discard(channel)
            conn.send({"unsubscribed": channel})

    def _cancel_on_disconnect(self, conn: Connection, msg: JsonObject, params: JsonObject) -> None:
        flag = params.get("cancel_on_disconnect")
        if type(flag) is not bool:
            self._error(conn, "InvalidJSONFormat", "params.cancel_on_disconnect must be true or false", msg)
            return
        conn.cancel_on_disconnect = flag
        conn.send({"ack": {"incoming_message": msg}})

    # --- close -----------------------------------------------------------------------------------
    def _closed(self, conn: Connection) -> None:
        conn.open = False
        conn.writer.cancel()
        self.connections.discard(conn)
        if conn.identity is None:
            return
        peers = self.by_account.get(conn.identity.account_id)
        if peers is not None:
            with contextlib.suppress(ValueError):
                peers.remove(conn)
            if not peers:
                del self.by_account[conn.identity.account_id]
        if conn.session is None:  # set together with identity; nothing to tell the engine without it
            return
        cancel = conn.cancel_on_disconnect and (
            self.config.cancel_on_disconnect_trigger == "any" or not _clean_client_close(conn.ws))
        try:
            outs = self.exchange.on_disconnect(conn.session, cancel)
        except Exception:
            log.exception("engine failed on disconnect")
            return
        self.route(outs, None)
        self._schedule_timer()

    # --- routing ---------------------------------------------------------------------------------
    def route(self, outs: Iterable[Event] | None, caller: Connection | None) -> None:
        """Deliver engine events: `caller` to the requester, `account` to subscribed connections.

        Every engine call ends here, so the public trades it made go out on the market-data socket."""
        if self.mds is not None:
            try:
                self.mds.publish_trades()
            except Exception:
                log.exception("publishing public trades failed")
        if not outs:
            return
        everyone_gets_orders = self.config.compat.unsubscribed_order_responses
        for out in outs:
            if out.to == "caller":
                if caller is not None:
                    caller.send(out.message)
                continue
            targets = self.by_account.get(out.account_id) if out.account_id is not None else None
            if not targets:
                continue
            channel = out.channel
            text = None
            for conn in targets:
                if channel in conn.subscriptions or (everyone_gets_orders and channel == "order_responses"):
                    if text is None:
                        text = wire.encode(out.message)
                    conn.post(text)

    # --- timers ----------------------------------------------------------------------------------
    def _schedule_timer(self) -> None:
        """(Re)arm the single engine timer for `next_deadline()`."""
        deadline = self.exchange.next_deadline()
        if deadline == self._timer_deadline and (self._timer is not None or deadline is None):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_deadline = deadline
        if deadline is None:
            self._timer = None
            return
        delay = max(0.0, deadline - self.clock()) / getattr(self.clock, "speed", 1.0)  # FastClock: faster
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer, deadline)

    def _on_timer(self, deadline: float) -> None:
        self._timer = None
        self._timer_deadline = None
        try:
            outs = self.exchange.on_time()
        except Exception:
            log.exception("engine failed in on_time")
            outs = []
        self.route(outs, None)
        following = self.exchange.next_deadline()
        if following is not None and following <= deadline:
            # the engine did not move its deadline (a frozen test clock): poll gently, don't spin
            self._timer_deadline = following
            self._timer = asyncio.get_running_loop().call_later(0.01, self._on_timer, following)
            return
        self._schedule_timer()

    def _on_pulse(self) -> None:
        """Every second: positions and balances to the connections subscribed to them."""
        self._pulse = asyncio.get_running_loop().call_later(self.config.pulse_interval_s, self._on_pulse)
        for account_id, conns in list(self.by_account.items()):
            wanted = [c for c in conns if not c.subscriptions.isdisjoint(_PULSED)]
            if not wanted:
                continue
            try:
                outs = self.exchange.pulse(account_id)
            except Exception:
                log.exception("engine failed in pulse")
                continue
            if self.config.compat.envelope_pulses:
                self._deliver_enveloped(wanted, outs)
            else:
                self.route(outs, None)

    def _deliver_enveloped(self, conns: list[Connection], outs: Sequence[Event]) -> None:
        rows: dict[str, list[JsonObject]] = {channel: [] for channel in _PULSED}
        identity = next((c.identity for c in conns if c.identity is not None), None)
        stamp = datetime.fromtimestamp(self.clock(), tz=timezone.utc).isoformat()
        for out in outs:
            if out.channel in rows:
                message = out.message
                row = message.get(_PAYLOAD_KEY[out.channel], message)
                if out.channel == "positions" and isinstance(row, dict):
                    row = _envelope_position(row, identity.user_id if identity else None, stamp)
                rows[out.channel].append(row)
        for conn in conns:
            for channel in _PULSED:
                if channel in conn.subscriptions and rows[channel]:
                    conn.send(conn.envelope(channel, rows[channel]))

    # --- errors ----------------------------------------------------------------------------------
    def _raw_echo(self, frame: str | bytes) -> str | None:
        """`incoming_message` for a frame that is not a JSON object: its text (live dialect; AsyncAPI
        ErrResponse: "oneOf object, string"), or null with `--dialect docs-pages` (errors page:
        "object/null")."""
        if not self.config.compat.incoming_message_text:
            return None
        if isinstance(frame, (bytes, bytearray, memoryview)):
            return bytes(frame).decode("utf-8", errors="replace")
        return frame

    def _error(self, conn: Connection, code: str, message: str | None, incoming: object,
               extra: JsonObject | None = None) -> None:
        conn.send(error_frame(code, message, incoming, legacy=self.config.compat.legacy_errors, extra=extra))

    def _rate_limited(self, conn: Connection, msg: JsonObject, retry_after_s: float, bucket: str) -> None:
        retry_ms = max(1, math.ceil(retry_after_s * 1000))
        with_field = self.config.retry_after_field or self.config.compat.retry_after_field
        extra = {"retry_after_ms": retry_ms} if with_field else None
        self._error(conn, "RateLimited",
                    f"You have exceeded the allowed message rate ({bucket} bucket); "
                    f"retry after {retry_ms} ms.", msg, extra)

    # --- test hooks ------------------------------------------------------------------------------
    def call(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(exchange)` on the loop; deliver any events it returns; re-arm timers.

        `fn` gets the engine as the test knows it (an `Exchange` or its own stand-in), so its
        argument stays untyped here.
        """
        result = fn(self.exchange)
        events = result if isinstance(result, list) and result and all(_is_outbound(o) for o in result) \
            else None
        self.route(events, None)  # also publishes the public trades `fn` made
        self._schedule_timer()
        return result


# --- helpers ---------------------------------------------------------------------------------------
def error_frame(code: str, message: str | None, incoming: object, *, legacy: bool = False,
                extra: JsonObject | None = None) -> JsonObject:
    """`{"err": {error_code, message, incoming_message}}` [D:/websocket/errors] (or the old flat frame)."""
    body: JsonObject = {"error_code": code, "message": message,
                            "incoming_message": incoming if isinstance(incoming, (dict, str)) else None}
    if extra:
        body.update(extra)
    if legacy:
        return {"type": "error", **body}
    return {"err": body}


def _is_outbound(value: object) -> bool:
    return hasattr(value, "to") and hasattr(value, "message") and hasattr(value, "channel")


def _redact_auth(msg: JsonObject) -> JsonObject:
    """A JWT is a bearer credential: never echo it back, even to its sender."""
    params = msg.get("params")
    if isinstance(params, dict) and "jwt" in params:
        return {**msg, "params": {**params, "jwt": "<redacted>"}}
    return msg


def _clean_client_close(ws: ServerConnection) -> bool:
    """Did the client end the session on purpose (close frame, code 1000, client first)?"""
    protocol = ws.protocol
    received = protocol.close_rcvd
    return received is not None and received.code == 1000 and bool(protocol.close_rcvd_then_sent)


def _json_response(connection: ServerConnection, status: int, body: JsonObject) -> Response:
    response = connection.respond(status, wire.encode(body))
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def _first(params: dict[str, list[str]], key: str) -> str | None:
    """A query parameter's first value (None when absent or empty)."""
    values = params.get(key)
    return values[0] if values else None


def _engine_clock(exchange: Engine) -> Callable[[], float]:
    for owner in (exchange, getattr(exchange, "config", None)):
        clock = getattr(owner, "clock", None)
        if callable(clock):
            return cast("Callable[[], float]", clock)  # an engine's clock, found by name
    return time.time
