"""A TradeSession that comes back after a dropped connection.

`ReconnectingSession` wraps a `TradeSession`. When the socket drops it reconnects with
exponential backoff and jitter (bounded in attempts and total time), authenticates with a
fresh nonce (a new `TradeSession.connect`), re-subscribes, re-enables cancel-on-disconnect
when the playbook asked for it, and calls back into the run (`on_reconnect`) so it can reconcile
every order that was not over. Beyond the bound it raises `ReconnectFailed` (exit 5).
It also paces every message with QFEX's weights (`runner.exchange.pacing`).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from runner.enums import Channel
from runner.errors import ConnectError, ConnectionLost, ReconnectFailed, RunAborted
from runner.exchange.backoff import Backoff, BackoffPolicy
from runner.exchange.client import Event, TradeSession
from runner.exchange.pacing import Pacer, retry_after_hint
from runner.exchange.protocol import ErrorReply, Reply, ReplyKind, classify


def reconnect_policy(attempts: int = 8, max_seconds: float = 120.0) -> BackoffPolicy:
    """`attempts` reconnection attempts (after the lost connection), within `max_seconds`."""
    return BackoffPolicy(initial=0.5, factor=2.0, cap=15.0, jitter=0.3, max_attempts=attempts + 1,
                         max_total=max_seconds)


class ReconnectingSession:
    """A `TradeSession` that comes back after a drop (see the module docstring); same methods."""

    def __init__(self, session: TradeSession, connect: Callable[[], TradeSession], *,
                 policy: BackoffPolicy | None = None, pacer: Pacer | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 on_reconnect: Callable[[ReconnectingSession], None] | None = None,
                 timeout: float = 10.0) -> None:
        self._inner = session
        #: how long restoring a new connection waits for each answer (the run's --timeout, capped)
        self.timeout = timeout
        self._connect = connect
        self.policy = policy or reconnect_policy()
        self.pacer = pacer
        self._sleep = sleep
        self.on_reconnect = on_reconnect
        self._channels: list[str] = []
        self._cancel_on_disconnect = False
        self._order_ids: dict[str, str] = {}
        self._injected: deque[Event] = deque()
        self._recovering = False
        self.reconnects = 0
        self.losses: list[str] = []

    # delegation ------------------------------------------------------------------------------------

    @property
    def inner(self) -> TradeSession:
        return self._inner

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()

    def __enter__(self) -> ReconnectingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # pacing ----------------------------------------------------------------------------------------

    def _pace(self, message: Mapping[str, Any]) -> None:
        if self.pacer is not None:
            self.pacer.acquire(str(message.get("type")))

    def note_rate_limited(self, err: ErrorReply) -> None:
        """The exchange said RateLimited to something we sent: hold that bucket back."""
        if self.pacer is None:
            return
        self.pacer.note_rate_limited(err.echoed_type or "add_order", retry_after_hint(err.raw or {}))

    # the trading surface ---------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Send; if the connection is gone, recover (the run's catch-up decides about this message)."""
        self._pace(message)
        try:
            self._inner.send(message)
        except ConnectionLost as exc:
            self._recover(exc)

    def send_many(self, messages: list[tuple[dict[str, Any], str]]) -> None:
        """`send` each `(message, text)` in order, in one write once the pacer lets the last go."""
        for message, _ in messages:
            self._pace(message)
        try:
            self._inner.send_many(messages)
        except ConnectionLost as exc:
            self._recover(exc)

    def next_event(self, timeout: float) -> Event | None:
        if self._injected:
            return self._injected.popleft()
        try:
            return self._inner.next_event(timeout)
        except ConnectionLost as exc:
            self._recover(exc)
            return self._injected.popleft() if self._injected else None

    def receive(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._inner.receive(timeout)
        except ConnectionLost as exc:
            self._recover(exc)
            return None

    def inject(self, coid: str, frame: dict[str, Any]) -> None:
        """Queue a rebuilt answer for `next_event` (catch-up after a reconnect)."""
        self._injected.append(Event(classify(frame), coid, time.time()))

    def request(self, message: dict[str, Any], kinds: Iterable[ReplyKind], timeout: float = 10.0,
                accept: Callable[[Reply], bool] | None = None) -> Reply:
        """A query: paced, and asked again on the new connection if the old one dropped."""
        kinds = list(kinds)
        self._pace(message)
        try:
            return self._inner.request(message, kinds, timeout, accept)
        except ConnectionLost as exc:
            if self._recovering:
                raise
            self._recover(exc)
            self._pace(message)
            return self._inner.request(message, kinds, timeout, accept)

    def subscribe(self, channels: Iterable[str | Channel], timeout: float = 10.0) -> None:
        names = [c.value if isinstance(c, Channel) else c for c in channels]
        self._with_recovery(lambda: self._inner.subscribe(names, timeout=timeout))
        self._channels.extend(n for n in names if n not in self._channels)

    def cancel_on_disconnect(self, enabled: bool, timeout: float = 10.0) -> None:
        self._with_recovery(lambda: self._inner.cancel_on_disconnect(enabled, timeout=timeout))
        self._cancel_on_disconnect = enabled

    def expect_order_id(self, order_id: str, client_order_id: str) -> None:
        self._order_ids[order_id] = client_order_id
        self._inner.expect_order_id(order_id, client_order_id)

    def _with_recovery(self, action: Callable[[], None]) -> None:
        try:
            return action()
        except ConnectionLost as exc:
            if self._recovering:
                raise
            self._recover(exc)
            return action()

    # recovery --------------------------------------------------------------------------------------

    def _recover(self, cause: BaseException) -> None:
        if self._recovering:
            raise cause
        self.losses.append(str(cause))
        with contextlib.suppress(Exception):
            self._inner.abort()
        backoff = Backoff(self.policy, sleep=self._sleep)
        backoff.start()
        started = time.monotonic()
        last: BaseException = cause
        while backoff.wait():
            try:
                fresh = self._connect()  # a new TradeSession: new socket, fresh nonce, auth
            except ConnectError as exc:
                last = exc
                continue
            self._inner = fresh
            self._recovering = True
            try:
                self._restore(fresh)
                if self.on_reconnect is not None:
                    self.on_reconnect(self)
            except (ConnectError, RunAborted) as exc:
                last = exc
                self._injected.clear()
                with contextlib.suppress(Exception):
                    fresh.abort()
                continue
            finally:
                self._recovering = False
            self.reconnects += 1
            return
        tried = max(backoff.attempts - 1, 0)  # the lost connection itself was the first attempt
        raise ReconnectFailed(f"{cause}; could not reconnect ({tried} attempt(s) over "
                              f"{time.monotonic() - started:.1f}s; last error: {last})") from last

    def _restore(self, fresh: TradeSession) -> None:
        """What the old connection had set up, on the new one (QFEX scopes all of it to a connection)."""
        if self._channels:
            fresh.subscribe(list(self._channels), timeout=self.timeout)
        if self._cancel_on_disconnect:
            fresh.cancel_on_disconnect(True, timeout=self.timeout)
        for order_id, coid in self._order_ids.items():
            fresh.expect_order_id(order_id, coid)
