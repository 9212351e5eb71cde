"""A QFEX trade-WebSocket session: connect, authenticate, subscribe, send, receive — with timeouts.

The only module that imports websocket-client. Its exceptions (and OSError/SSL errors) are
translated here, in `_translated`, into ours (`runner.errors` draws the whole tree):

- ConnectError (4): could not connect, TLS failed, auth refused or timed out: nothing sent;
- ConnectionLost (5): the socket dropped (or failed) after auth, mid-run;
- NoAnswer (5): a request got no answer in time (its outcome is unknown).

Design choices:
- Synchronous and single-threaded: the caller reads when it waits, so there is no hand-off
  between threads on the hot path. websocket-client answers the server's ping frames inside
  `recv`, and every wait here is a bounded `recv`, so pings are answered while we wait.
- Every wait has a deadline on the monotonic clock, not just a socket timeout that a peer sending
  one byte at a time would reset for ever (`runner.deadlines`): connecting (DNS, TCP, TLS, the HTTP
  upgrade) has one total deadline, kept by a `Watchdog`; each read sets its socket timeout to
  what is left of its wait, and each message we send must be taken within the session's timeout
  (`_BoundedWebSocket`). A partial frame survives a timeout (websocket-client buffers it), but
  a frame that has started must end within the session's timeout and be at most
  `MAX_FRAME_BYTES`; otherwise the connection is treated as lost.
- Connecting opens the socket (and TLS, verified; `WEBSOCKET_CLIENT_CA_BUNDLE` honoured) here, so
  the watchdog can reach it; websocket-client only upgrades it. Proxy variables are not used.
- Redirects on the upgrade are refused: the URL asked for is the one checked (`check_url`).
- QFEX replies carry no request id. `next_event` attributes each reply to a `client_order_id`:
  order/fill frames by their `client_order_id`, else by the `order_id` learned from an earlier
  answer; `err` frames by the request echoed in `incoming_message` (its `client_order_id`, or
  the exact request). An `err` without that echo is never pinned on an order (it may answer a
  query, FIFO, only while no order awaits an answer): a rejection believed for the wrong order
  would have it re-sent while it lives at the exchange. Such an `err` reaches the caller
  unattributed (client_order_id None), to be reported.
- Frames read while waiting for a specific reply (e.g. `get_user_orders`) are kept, in order, for
  the next `receive`/`next_event`: nothing is dropped.
- TLS certificates and host names are always verified; plain `ws://` is refused unless the host is
  the loopback (the local exchange).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import websocket

from runner import __version__
from runner.deadlines import Deadline, Watchdog, dial_within
from runner.enums import Channel, is_retryable
from runner.errors import ConnectError, ConnectionLost, NoAnswer, RunAborted
from runner.exchange.credentials import Credentials, hmac_fields
from runner.exchange.frames import MaskKeys, text_frame
from runner.exchange.protocol import (
    ErrorReply,
    Fill,
    OrderUpdate,
    Reply,
    ReplyKind,
    StopOrder,
    all_orders,
    auth_message,
    cancel_on_disconnect_message,
    classify,
    get_user_orders_message,
    get_user_trades_message,
    parse_frame,
    subscribe_message,
    user_trades,
)
from runner.exchange.wirelog import FrameRecorder
from runner.jsonnum import dumps

DEFAULT_TIMEOUT = 10.0
#: the largest inbound message accepted (a 1000-order page is well under 1 MiB)
MAX_FRAME_BYTES = 16 * 1024 * 1024
USER_AGENT = f"qfex-runner/{__version__}"
DEFAULT_CHANNELS = (Channel.ORDER_RESPONSES, Channel.FILLS, Channel.STOP_ORDERS)
REQUEST_RETRIES = 4


@dataclass(slots=True)
class Event:
    """A classified reply and the `client_order_id` it belongs to (None: not ours / not an order).
    A slots record, not a frozen one, like the replies it carries (one per answer: see protocol)."""

    reply: Reply
    client_order_id: str | None
    received_at: float


def check_url(url: str) -> str:
    """The URL if it is a usable trade endpoint; `ConnectError` otherwise (plain ws only on loopback)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConnectError(f"{url!r} is not a WebSocket URL (expected ws://host:port/ or wss://host/)")
    if parts.scheme == "ws" and not is_loopback(parts.hostname):
        raise ConnectError(
            f"refusing unencrypted ws:// to {parts.hostname}: API keys and orders would travel in "
            f"clear text; use wss:// (plain ws:// is allowed only for a local exchange on the loopback)")
    return url


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _with_api_key(url: str, public_key: str) -> str:
    """QFEX's docs connect to `wss://trade.qfex.com?api_key=<PUBLIC_KEY>`; keep any query already given."""
    parts = urlsplit(url)
    if "api_key=" in parts.query:
        return url
    query = "&".join(q for q in (parts.query, urlencode({"api_key": public_key})) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


class _Phase:
    CONNECT = "connect"
    RUN = "run"


class _Translated:
    """The one place where library errors become ours (never with secrets: none reach these calls).
    A class, not a generator: it wraps every send and read of a run."""

    __slots__ = ("phase", "url")

    def __init__(self, phase: str, url: str) -> None:
        self.phase = phase
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> Literal[False]:
        if exc is None or isinstance(exc, ConnectError):
            return False
        url = self.url
        if isinstance(exc, RunAborted):
            if self.phase == _Phase.CONNECT:
                raise ConnectError(str(exc)) from exc
            return False
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise ConnectError(
                f"TLS certificate of {_host(url)} could not be verified: {exc.verify_message}") from exc
        if isinstance(exc, websocket.WebSocketBadStatusException):
            raise ConnectError(f"{_host(url)} refused the WebSocket upgrade: HTTP {exc.status_code}") from exc
        if isinstance(exc, (websocket.WebSocketException, OSError)):
            detail = str(exc) or type(exc).__name__
            if self.phase == _Phase.CONNECT:
                raise ConnectError(f"cannot connect to {_host(url)}: {detail}") from exc
            raise ConnectionLost(f"connection to {_host(url)} lost: {detail}") from exc
        return False


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


#: how much one read from the socket takes at most (every frame already arrived, usually)
READ_CHUNK = 65536


class _FrameRefused(websocket.WebSocketException):
    """A frame that stalled part-way or is too large: the connection cannot be trusted further."""


class _BoundedWebSocket(websocket.WebSocket):
    """websocket-client's socket with deadlines on every low-level read (see the module docstring).

    `wait_until` (monotonic) bounds the current wait: past it, a read raises the library's timeout
    (the wait returns "nothing yet" and a partial frame stays buffered). A frame whose first byte
    has arrived must be complete within `frame_timeout`, and no message may exceed
    `MAX_FRAME_BYTES`; either breach raises `_FrameRefused`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wait_until: float | None = None
        #: set while one of our messages is being sent: a peer that stops reading cannot hold it
        self.send_until: float | None = None
        self.frame_timeout = DEFAULT_TIMEOUT
        self.frame_started: float | None = None
        self.message_bytes = 0
        #: bytes read from the socket beyond what the frame parser asked for, and how far they are
        #: used: one `recv` takes every frame already arrived (websocket-client asks for a frame's
        #: header, length and payload separately: three system calls a frame without this)
        self._inbox = b""
        self._inbox_at = 0
        #: masking keys for the frames `send_texts` builds (one `os.urandom` read per 1,024 frames)
        self.mask_keys = MaskKeys()

    def frame_done(self, *, data: bool) -> None:
        """A whole frame was read (a whole message too, if `data`): restart the frame's clock."""
        self.frame_started = None
        if data:
            self.message_bytes = 0

    def _recv(self, bufsize: int) -> bytes:
        declared = getattr(self.frame_buffer, "length", None)
        if isinstance(declared, int) and declared > MAX_FRAME_BYTES:
            raise _FrameRefused(f"the exchange sent a frame of {declared} bytes (at most "
                                f"{MAX_FRAME_BYTES} are accepted)")
        if self._inbox_at < len(self._inbox):  # already here: no wait, no deadline to check
            data = self._inbox[self._inbox_at:self._inbox_at + bufsize]
            self._inbox_at += len(data)
        else:
            data = self._recv_socket(bufsize)
        if self.frame_started is None:
            self.frame_started = time.monotonic()
        self.message_bytes += len(data)
        if self.message_bytes > MAX_FRAME_BYTES:
            raise _FrameRefused(f"the exchange sent a message larger than {MAX_FRAME_BYTES} bytes")
        return data

    def next_text_frame(self) -> bytes | None:
        """The payload of the next frame if it is a whole, final, unmasked text frame under 64 KiB
        already read (the socket is read once if nothing is), else None: websocket-client's own reader
        then takes it from the same bytes (control frames, fragments, a frame not all here yet,
        anything unusual, and every check on them). Every answer of a run is such a frame; the
        library's general reader costs three buffered reads and a frame object for each."""
        if self.frame_buffer.header is not None or self.frame_buffer.recv_buffer \
                or self.cont_frame.recving_frames:
            return None  # the library is part-way through a frame or a fragmented message
        if self._inbox_at >= len(self._inbox):
            self._recv_socket(0)  # every byte already arrived goes to the inbox (or the wait times out)
        inbox, at = self._inbox, self._inbox_at
        if len(inbox) - at < 2 or inbox[at] != 0x81 or inbox[at + 1] & 0x80:
            return None  # FIN + text (no reserved bits), from the server (unmasked)
        length, start = inbox[at + 1], at + 2
        if length == 126:
            length, start = int.from_bytes(inbox[at + 2:at + 4], "big"), at + 4
        elif length == 127:
            return None
        end = start + length
        if end > len(inbox):
            return None
        self._inbox_at = end
        return inbox[start:end]

    def _recv_socket(self, bufsize: int) -> bytes:
        """Up to `bufsize` bytes from the socket within the deadlines; what else arrived with them
        (up to `READ_CHUNK`) is kept in the inbox for the next frames."""
        frame_until = None if self.frame_started is None else self.frame_started + self.frame_timeout
        limits = [t for t in (self.wait_until, frame_until) if t is not None]
        until = min(limits) if limits else None
        if until is not None:
            left = until - time.monotonic()
            if left <= 0:
                self._timed_out(frame_until)
            if self.sock is not None:
                self.sock.settimeout(left)
        try:
            data: bytes = super()._recv(max(bufsize, READ_CHUNK))  # type: ignore[no-untyped-call]
        except websocket.WebSocketTimeoutException:
            self._timed_out(frame_until)
        if len(data) > bufsize:
            self._inbox, self._inbox_at = data, bufsize
            data = data[:bufsize]
        return data

    def _send(self, data: str | bytes) -> int:
        if self.send_until is None:  # a pong answered inside a read: the read's timeout applies
            sent: int = super()._send(data)
            return sent
        left = self.send_until - time.monotonic()
        if left <= 0:
            raise self._unread()
        if self.sock is not None:
            self.sock.settimeout(left)
        try:
            sent = super()._send(data)
        except websocket.WebSocketTimeoutException:
            raise self._unread() from None
        return sent

    def send_texts(self, payloads: list[str]) -> None:
        """Several text messages as one write: a burst of orders leaves in one system call (and as
        few TCP segments as fit), not one each — each message still its own masked frame."""
        keys = self.mask_keys
        data = b"".join(text_frame(payload, keys) for payload in payloads)
        with self.lock:
            while data:
                data = data[self._send(data):]

    def _unread(self) -> _FrameRefused:
        return _FrameRefused(f"the exchange stopped reading: a message could not be sent within "
                             f"{self.frame_timeout:g}s")

    def _timed_out(self, frame_until: float | None) -> NoReturn:
        """The frame stalled (`_FrameRefused`), or only this wait is over (the library's timeout)."""
        if frame_until is not None and time.monotonic() >= frame_until:
            raise _FrameRefused(f"a frame stalled part-way for more than {self.frame_timeout:g}s "
                                f"(the peer is too slow or hostile)")
        raise websocket.WebSocketTimeoutException("timed out")


def _tls_context() -> ssl.SSLContext:
    """Certificates and host names verified; `WEBSOCKET_CLIENT_CA_BUNDLE` (a file or a folder)
    replaces the system's trusted authorities, as it does for websocket-client's own connect."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default
    bundle = os.environ.get("WEBSOCKET_CLIENT_CA_BUNDLE")
    if bundle and os.path.isfile(bundle):
        context.load_verify_locations(cafile=bundle)
    elif bundle and os.path.isdir(bundle):
        context.load_verify_locations(capath=bundle)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    return context


def _open(dial: str, url: str, timeout: float) -> _BoundedWebSocket:
    """DNS, TCP, TLS and the WebSocket upgrade, together within `timeout` seconds (module docstring)."""
    parts = urlsplit(dial)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    opened: list[socket.socket] = []
    ws = _BoundedWebSocket(enable_multithread=False, skip_utf8_validation=True)
    deadline = Deadline(timeout)
    with _Translated(_Phase.CONNECT, url), Watchdog(timeout, lambda: opened[-1] if opened else None) as dog:
        try:
            opened.append(dial_within(host, port, deadline))
            if parts.scheme == "wss":
                opened.append(_tls_context().wrap_socket(opened[-1], server_hostname=host))
            ws.settimeout(timeout)
            ws.connect(dial, socket=opened[-1], header=[f"User-Agent: {USER_AGENT}"],  # type: ignore[no-untyped-call]
                       redirect_limit=0)
        except BaseException as exc:
            for sock in opened:
                with contextlib.suppress(OSError):
                    sock.close()
            if dog.expired and isinstance(exc, Exception):
                raise ConnectError(f"{_host(url)} did not complete the connection (TCP, TLS and the "
                                   f"WebSocket upgrade) within {timeout:g}s") from exc
            raise
    if dog.expired:  # it fired just as the upgrade completed: the socket is shut, give up cleanly
        ws.abort()  # type: ignore[no-untyped-call]
        raise ConnectError(f"{_host(url)} did not complete the connection within {timeout:g}s")
    ws.frame_timeout = timeout
    return ws


class _Socket(Protocol):
    """What a session uses of websocket-client's `WebSocket` (some of whose methods are unannotated)."""

    def close(self, *, timeout: int) -> None: ...

    def abort(self) -> None: ...

    def shutdown(self) -> None: ...

    def send(self, payload: str) -> int: ...

    def send_texts(self, payloads: list[str]) -> None: ...

    def settimeout(self, timeout: float | None) -> None: ...

    def recv_data(self, control_frame: bool = ...) -> tuple[int, bytes]: ...

    def next_text_frame(self) -> bytes | None: ...

    wait_until: float | None
    send_until: float | None
    frame_timeout: float

    def frame_done(self, *, data: bool) -> None: ...


class TradeSession:
    """One authenticated connection to a QFEX trade WebSocket (see the module docstring)."""

    def __init__(self, ws: _Socket, url: str, account_id: str | None,
                 recorder: FrameRecorder | None = None) -> None:
        self._ws = ws
        self._recorder = recorder
        self._connection = recorder.opened(url) if recorder is not None else 0
        self.url = url
        self.account_id = account_id
        self._backlog: deque[dict[str, Any]] = deque()
        #: requests awaiting their first answer, oldest first: key -> request message
        self._awaiting: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._order_ids: dict[str, str] = {}  # exchange order_id -> client_order_id
        self._seq = 0
        self.closed = False
        self.messages_sent = 0
        self._frame_timeout = getattr(ws, "frame_timeout", DEFAULT_TIMEOUT)

    # --- lifecycle -------------------------------------------------------------------------------

    @classmethod
    def connect(cls, url: str, credentials: Credentials, *, timeout: float = DEFAULT_TIMEOUT,
                account_id: str | None = None, auth_timeout: float | None = None,
                recorder: FrameRecorder | None = None) -> TradeSession:
        """Open, authenticate (fresh nonce) and return the session; `ConnectError` on any failure.

        Connecting must end within `timeout`, and so must the auth answer (`auth_timeout`, by
        default the same: a run's `--timeout` bounds every wait).
        """
        check_url(url)
        account_id = account_id or credentials.account_id
        ws = _open(_with_api_key(url, credentials.public_key), url, timeout)
        session = cls(ws, url, account_id, recorder)
        try:
            session._authenticate(credentials, account_id, timeout if auth_timeout is None else auth_timeout)
        except BaseException:
            session.abort()  # a refused or silent peer gets no closing handshake to wait for
            raise
        return session

    def _authenticate(self, credentials: Credentials, account_id: str | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with _Translated(_Phase.CONNECT, self.url):
            self._send_raw(auth_message(hmac_fields(credentials), account_id))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConnectError(
                        f"{_host(self.url)} did not answer the authentication within {timeout:g}s")
                frame = self._read(remaining)
                if frame is None:
                    continue
                reply = classify(frame)
                if reply.kind is ReplyKind.AUTH:
                    if reply.auth_ok:
                        return
                    raise ConnectError(f"authentication refused by {_host(self.url)} for public key "
                                       f"{credentials.public_key} (check the key pair and account)")
                if reply.kind is ReplyKind.ERROR:
                    err: ErrorReply = reply.body
                    raise ConnectError(f"authentication refused by {_host(self.url)}: "
                                       f"{err.error_code}: {err.message or 'no message'}")
                self._backlog.append(frame)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self._ws.wait_until = self._ws.send_until = Deadline(1.0).at  # the closing handshake: 1 s
            self._ws.close(timeout=1)
        if self._recorder is not None:
            self._recorder.closed(self._connection)

    def abort(self) -> None:
        """Drop the connection without a closing handshake (tests; an abnormal close)."""
        if self._recorder is not None and not self.closed:
            self._recorder.closed(self._connection)
        self.closed = True
        with contextlib.suppress(Exception):
            self._ws.abort()
        with contextlib.suppress(Exception):
            self._ws.shutdown()

    def __enter__(self) -> TradeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- raw I/O -----------------------------------------------------------------------------------

    def _send_raw(self, message: dict[str, Any]) -> None:
        text = dumps(message)
        if self._recorder is not None:  # before the socket: a kill between the two leaves the line
            self._recorder.sent(self._connection, text)
        self._ws.send_until = Deadline(self._frame_timeout).at
        try:
            self._ws.send(text)
        finally:
            self._ws.send_until = None
        self.messages_sent += 1

    def _read(self, timeout: float) -> dict[str, Any] | None:
        """One data frame from the socket, or None once `timeout` seconds have passed
        (`_next_data_frame`)."""
        frame = _next_data_frame(self._ws, timeout)
        if frame is None:
            return None
        opcode, data = frame
        if self._recorder is not None and opcode != websocket.ABNF.OPCODE_CLOSE:
            self._recorder.received(self._connection, data)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise ConnectionLost(f"{_host(self.url)} closed the connection{_close_reason(data)}")
        try:
            return parse_frame(data)
        except ValueError:
            return {"_unparsed": data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)}

    def send(self, message: dict[str, Any]) -> None:
        """Send one request. Order requests are remembered so their `err` can be attributed."""
        self.send_many([(message, dumps(message))])

    def send_many(self, messages: list[tuple[dict[str, Any], str]]) -> None:
        """Send several requests, each `(message, its text by runner.jsonnum.dumps)`, in one write
        (`send` each, in order, but one system call for all). Every order leaves here (a query: `request`)."""
        with _Translated(_Phase.RUN, self.url):
            for message, text in messages:
                self._awaiting[self._request_key(message)] = message
                if self._recorder is not None:
                    self._recorder.sent(self._connection, text)
            self._ws.send_until = Deadline(self._frame_timeout).at
            try:
                self._ws.send_texts([text for _, text in messages])
            finally:
                self._ws.send_until = None
            self.messages_sent += len(messages)

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next frame (kept backlog first), parsed with exact Decimals; None if none within timeout."""
        if self._backlog:
            return self._backlog.popleft()
        with _Translated(_Phase.RUN, self.url):
            return self._read(timeout)

    def next_event(self, timeout: float) -> Event | None:
        """The next frame, classified and attributed to a client_order_id (see module docstring)."""
        frame = self.receive(timeout)
        if frame is None:
            return None
        reply = classify(frame)
        return Event(reply, self._attribute(reply), time.time())

    # --- correlation ---------------------------------------------------------------------------------

    def _request_key(self, message: dict[str, Any]) -> str:
        params = message.get("params") or {}
        coid = params.get("client_order_id") if isinstance(params, dict) else None
        if message.get("type") == "add_order" and coid:
            return str(coid)
        self._seq += 1
        return f"#{self._seq}:{message.get('type')}"

    def expect_order_id(self, order_id: str, client_order_id: str) -> None:
        """Teach the correlator an order_id (e.g. an adopted order) so its updates are attributed."""
        self._order_ids[order_id] = client_order_id

    def _attribute(self, reply: Reply) -> str | None:
        if reply.kind in (ReplyKind.ORDER, ReplyKind.FILL):
            body: OrderUpdate | Fill = reply.body
            coid = body.client_order_id
            if coid is None and body.order_id:
                coid = self._order_ids.get(body.order_id)
            if coid is not None and body.order_id and coid in self._awaiting:
                self._order_ids.setdefault(body.order_id, coid)
            if coid is not None:
                self._awaiting.pop(coid, None)
            return coid
        if reply.kind is ReplyKind.STOP_ORDER:
            stop: StopOrder = reply.body
            if stop.parent_order_id and stop.parent_order_id in self._order_ids:
                return self._order_ids[stop.parent_order_id]
            return stop.client_order_id
        if reply.kind is ReplyKind.ERROR:
            key = self._error_owner(reply.body)
            if key is not None:
                self._awaiting.pop(key, None)
                return None if _is_query_key(key) else key
        return None

    def _error_owner(self, err: ErrorReply) -> str | None:
        """Which awaiting request an `err` answers, only where the exchange tied it to one.

        An order is owned only by an echo of its `client_order_id` or of the exact request: a
        rejection pinned on the wrong order would have it re-sent while it rests or fills at the
        exchange (placed twice). A bare `err` (no echo), or one echoing only a request type, may
        answer a query (the oldest awaiting; a wrong guess there only fails the lookup) but never
        an order: while an order awaits its first answer it is left unjudged (unsure).
        """
        if err.incoming_message:
            coid = err.echoed_params.get("client_order_id")
            if coid and str(coid) in self._awaiting:
                return str(coid)
            for key, sent in self._awaiting.items():
                if sent == err.incoming_message:
                    return key
            echoed = err.echoed_type
            for key, sent in self._awaiting.items():
                if echoed and sent.get("type") == echoed and _is_query_key(key):
                    return key
            return None
        if any(not _is_query_key(key) for key in self._awaiting):
            return None  # it may be an order's: nobody's
        return next(iter(self._awaiting), None)

    # --- request / response helpers ---------------------------------------------------------------

    def request(self, message: dict[str, Any], kinds: Iterable[ReplyKind],
                timeout: float = DEFAULT_TIMEOUT, accept: Callable[[Reply], bool] | None = None) -> Reply:
        """Send `message` and wait for the first reply of one of `kinds` (or an `err` that answers it);
        with `accept`, only a reply it accepts answers (an `order_response` pushed for another order
        is not the answer to `get_order`).

        `RateLimited`/`ServerError` answers mean "not processed": the request is sent again after a
        short backoff (a few times). Other frames read meanwhile are kept for `receive`, in order.
        """
        for attempt in range(REQUEST_RETRIES + 1):
            reply = self._request_once(message, set(kinds), timeout, accept)
            if reply.kind is not ReplyKind.ERROR or not is_retryable(reply.body.error_code) \
                    or attempt == REQUEST_RETRIES:
                return reply
            time.sleep(min(0.1 * 2 ** attempt, 2.0))
        raise AssertionError("unreachable")

    def _request_once(self, message: dict[str, Any], wanted: set[ReplyKind], timeout: float,
                      accept: Callable[[Reply], bool] | None = None) -> Reply:
        with _Translated(_Phase.RUN, self.url):
            key = self._request_key(message)
            self._awaiting[key] = message
            self._send_raw(message)
            deadline = time.monotonic() + timeout
            held: list[dict[str, Any]] = []
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._awaiting.pop(key, None)
                        raise NoAnswer(f"no answer to {message.get('type')} within {timeout:g}s")
                    frame = self._read(remaining)
                    if frame is None:
                        continue
                    reply = classify(frame)
                    if reply.kind in wanted and (accept is None or accept(reply)):
                        self._awaiting.pop(key, None)
                        return reply
                    if reply.kind is ReplyKind.ERROR and self._error_owner(reply.body) == key:
                        self._awaiting.pop(key, None)
                        return reply
                    held.append(frame)
            finally:
                self._backlog.extend(held)

    def subscribe(self, channels: Iterable[str | Channel] = DEFAULT_CHANNELS,
                  timeout: float = DEFAULT_TIMEOUT) -> None:
        """Subscribe to each channel (one request each, as QFEX's CLI does) and wait for every ack."""
        for channel in channels:
            name = Channel(channel).value
            reply = self.request(subscribe_message([name]), [ReplyKind.SUBSCRIBED], timeout)
            if reply.kind is ReplyKind.ERROR:
                err: ErrorReply = reply.body
                raise ConnectError(f"subscribing to {name} failed: {err.error_code}: {err.message}")

    def cancel_on_disconnect(self, enabled: bool, timeout: float = DEFAULT_TIMEOUT) -> None:
        reply = self.request(cancel_on_disconnect_message(enabled), [ReplyKind.ACK], timeout)
        if reply.kind is ReplyKind.ERROR:
            raise ConnectError(f"cancel_on_disconnect refused: {reply.body.error_code}: {reply.body.message}")

    def get_user_orders(self, limit: int = 1000, offset: int = 0, symbol: str | None = None,
                        timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
        """Open orders (stop orders included) — one page."""
        reply = self.request(get_user_orders_message(limit, offset, symbol), [ReplyKind.ALL_ORDERS], timeout)
        _raise_if_error(reply, "get_user_orders")
        return all_orders(reply.body)

    def get_user_trades(self, limit: int = 1000, offset: int = 0, *, order_id: str | None = None,
                        start_ts: int | None = None, end_ts: int | None = None,
                        timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
        """Trades of the account — one page."""
        message = get_user_trades_message(limit, offset, order_id=order_id, start_ts=start_ts, end_ts=end_ts)
        reply = self.request(message, [ReplyKind.USER_TRADES], timeout)
        _raise_if_error(reply, "get_user_trades")
        return user_trades(reply.body)


class PublicSocket:
    """An unauthenticated WebSocket of JSON frames: QFEX's public market-data socket (MDS).

    The same connection rules as a trade session (TLS verified, plain ws:// only on the loopback,
    one deadline over DNS/TCP/TLS/upgrade, bounded frames and reads, pings answered while reading);
    no auth, no correlation: `runner.exchange.marketdata` reads what it subscribed to.
    """

    def __init__(self, ws: _Socket, url: str) -> None:
        self._ws = ws
        self.url = url
        self.closed = False
        self._frame_timeout = getattr(ws, "frame_timeout", DEFAULT_TIMEOUT)

    @classmethod
    def connect(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> PublicSocket:
        """Open the socket within `timeout`; `ConnectError` on any failure."""
        check_url(url)
        return cls(_open(url, url, timeout), url)

    def send(self, message: dict[str, Any]) -> None:
        with _Translated(_Phase.RUN, self.url):
            self._ws.send_until = Deadline(self._frame_timeout).at
            try:
                self._ws.send(dumps(message))
            finally:
                self._ws.send_until = None

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next data frame parsed (exact Decimals), None after `timeout`; `ConnectionLost` when the
        socket closes or fails. A frame that is not JSON comes back as `{"_unparsed": text}`."""
        with _Translated(_Phase.RUN, self.url):
            frame = _next_data_frame(self._ws, timeout)
            if frame is None:
                return None
            opcode, data = frame
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise ConnectionLost(f"{_host(self.url)} closed the connection{_close_reason(data)}")
        try:
            return parse_frame(data)
        except ValueError:
            return {"_unparsed": data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)}

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self._ws.wait_until = self._ws.send_until = Deadline(1.0).at
            self._ws.close(timeout=1)

    def abort(self) -> None:
        """Drop the connection without a closing handshake (unblocks a reader on another thread)."""
        self.closed = True
        with contextlib.suppress(Exception):
            self._ws.abort()


def _is_query_key(key: str) -> bool:
    """Requests without a client_order_id (queries, subscriptions) are keyed `#<n>:<type>`."""
    return key.startswith("#")


def _raise_if_error(reply: Reply, what: str) -> None:
    if reply.kind is ReplyKind.ERROR:
        err: ErrorReply = reply.body
        raise ConnectionLost(f"{what} failed: {err.error_code}: {err.message or 'no message'}")


def _next_data_frame(ws: _Socket, timeout: float) -> tuple[int, Any] | None:
    """The next data (or close) frame's (opcode, payload), None once `timeout` seconds have passed.

    Control frames are taken one at a time (`control_frame=True`; pings are answered inside recv) so
    the deadline holds: websocket-client's own loop restarts the socket timeout after every ping, and
    a server pinging more often than `timeout` would make a wait endless."""
    deadline = Deadline(max(timeout, 0.001))  # 0: take what is already buffered, never block
    ws.wait_until = deadline.at  # every low-level read stops there (`_BoundedWebSocket`)
    while True:
        try:
            data = ws.next_text_frame()
            if data is not None:
                ws.frame_done(data=True)
                return websocket.ABNF.OPCODE_TEXT, data
            opcode, data = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return None
        control = opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG)
        ws.frame_done(data=not control)
        if not control:
            return opcode, data
        if deadline.passed:
            return None


def _close_reason(data: object) -> str:
    data = getattr(data, "data", data)  # recv_data returns the close frame itself
    if isinstance(data, (bytes, bytearray)) and len(data) >= 2:
        code = int.from_bytes(data[:2], "big")
        reason = bytes(data[2:]).decode("utf-8", "replace")
        return f" (code {code}{': ' + reason if reason else ''})"
    return ""
