"""Mark prices from QFEX's public market-data socket (MDS), for checks that need the market now.

QFEX serves market data on its own host, public, no auth [D:/websocket/main]: `wss://mds.qfex.com/`
(prod), `wss://mds.qfex.io/` (UAT); the local exchange at `ws://<host>:<port>/mds`, beside its
trade socket. `mds_url_for` finds it from the trade URL; `--mds-url` overrides (run, status, doctor).

A subscription is one frame, `{"type": "subscribe", "channels": ["mark_price"], "symbols": [...]}`;
each update is `{"type": "mark_price", "symbol", "sequence", "price": "437.45", "time"}` (price a
string) [DOCSREPO:docs/websocket/mds.yaml] MarkPriceUpdate; QFEX's CLI reads the same fields
[CLI:internal/daemon/mds.go].

`symbols` may be `["*"]` (QFEX's wildcard: every symbol).

The seam other code uses is `MarkPriceSource` (wrong-side checks at run time, trailing stops, risk
previews): `latest(symbol)` never blocks; `wait_for(symbol, timeout)` blocks until a first price
(or `timeout`); `on_update(callback)` is called for every new price. `MarkPrices` is the live one (a
daemon thread that reconnects with backoff); `FixedMarkPrices` is the one for tests and offline use.

    with MarkPrices(mds_url_for(target_url), ["AAPL-USD"]) as marks:
        price = marks.wait_for("AAPL-USD", timeout=5)   # Decimal, or None: no price in time
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from runner.errors import ConnectError, ConnectionLost
from runner.exchange.client import DEFAULT_TIMEOUT, PublicSocket
from runner.exchange.targets import mds_url_for

#: reconnect backoff after a drop: 0.5 s doubling to 30 s (QFEX's CLI: 1 s doubling to 30 s)
_BACKOFF_FIRST, _BACKOFF_CAP = 0.5, 30.0
#: how often the reader looks up from the socket to see whether it was closed
_POLL_S = 0.25


@dataclass(frozen=True)
class MarkPrice:
    """One mark price as the exchange sent it, and when we received it (monotonic seconds)."""

    symbol: str
    price: Decimal
    time: str | None  # the exchange's RFC 3339 stamp, as sent
    received_at: float

    def age(self, now: float | None = None) -> float:
        """Seconds since it arrived."""
        return (time.monotonic() if now is None else now) - self.received_at


class MarkPriceSource(Protocol):
    """Where the runner reads mark prices (the seam: live `MarkPrices`, or `FixedMarkPrices`)."""

    def latest(self, symbol: str) -> Decimal | None:
        """The last mark price of `symbol`, or None if none arrived yet. Never blocks."""
        ...

    def quote(self, symbol: str) -> MarkPrice | None:
        """The last mark price with its time and age, or None."""
        ...

    def wait_for(self, symbol: str, timeout: float) -> Decimal | None:
        """The mark price of `symbol`, waiting up to `timeout` seconds for a first one."""
        ...

    def on_update(self, callback: Callable[[MarkPrice], None]) -> None:
        """Call `callback` with every new mark price (on the feed's thread: keep it short)."""
        ...


class _Board:
    """The latest price per symbol, waitable, with update callbacks (shared by both sources)."""

    def __init__(self) -> None:
        self._prices: dict[str, MarkPrice] = {}
        self._changed = threading.Condition()
        self._callbacks: list[Callable[[MarkPrice], None]] = []

    def put(self, mark: MarkPrice) -> None:
        with self._changed:
            self._prices[mark.symbol] = mark
            self._changed.notify_all()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(mark)

    def quote(self, symbol: str) -> MarkPrice | None:
        with self._changed:
            return self._prices.get(symbol)

    def latest(self, symbol: str) -> Decimal | None:
        mark = self.quote(symbol)
        return None if mark is None else mark.price

    def wait_for(self, symbol: str, timeout: float) -> Decimal | None:
        end = time.monotonic() + max(0.0, timeout)
        with self._changed:
            while symbol not in self._prices:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)
            return self._prices[symbol].price

    def on_update(self, callback: Callable[[MarkPrice], None]) -> None:
        with self._changed:
            self._callbacks.append(callback)


class FixedMarkPrices:
    """Mark prices set by hand: tests, `plan`-time previews, or a market with no feed."""

    def __init__(self, prices: dict[str, Decimal] | None = None) -> None:
        self._board = _Board()
        for symbol, price in (prices or {}).items():
            self.set(symbol, price)

    def set(self, symbol: str, price: Decimal) -> None:
        self._board.put(MarkPrice(symbol, Decimal(price), None, time.monotonic()))

    def latest(self, symbol: str) -> Decimal | None:
        return self._board.latest(symbol)

    def quote(self, symbol: str) -> MarkPrice | None:
        return self._board.quote(symbol)

    def wait_for(self, symbol: str, timeout: float) -> Decimal | None:
        return self._board.wait_for(symbol, timeout)

    def on_update(self, callback: Callable[[MarkPrice], None]) -> None:
        self._board.on_update(callback)


def parse_mark_price(frame: dict[str, Any], received_at: float) -> MarkPrice | None:
    """A `mark_price` frame as a MarkPrice; None for any other frame or an unusable price."""
    if frame.get("type") != "mark_price":
        return None
    symbol, raw = frame.get("symbol"), frame.get("price")
    if not isinstance(symbol, str) or not symbol or isinstance(raw, bool) or raw is None:
        return None
    try:
        price = Decimal(str(raw))
    except InvalidOperation:
        return None
    if not price.is_finite() or price <= 0:
        return None
    stamp = frame.get("time")
    return MarkPrice(symbol, price, stamp if isinstance(stamp, str) else None, received_at)


Opener = Callable[[str, float], PublicSocket]


def _open_public(url: str, timeout: float) -> PublicSocket:
    return PublicSocket.connect(url, timeout=timeout)


class MarkPrices:
    """Live mark prices of some symbols from the MDS, kept fresh by a daemon thread.

    Connects on `start()` (or entering the `with`), subscribes to `mark_price` for the symbols,
    and reconnects with backoff after a drop for as long as it is open. It never raises into the
    caller: a feed that cannot connect leaves `latest` at None and says why in `problem`.
    """

    def __init__(self, url: str, symbols: Iterable[str], *, timeout: float = DEFAULT_TIMEOUT,
                 opener: Opener = _open_public) -> None:
        self.url = url
        self.symbols = tuple(dict.fromkeys(symbols))
        self.timeout = timeout
        self._opener = opener
        self._board = _Board()
        self._stop = threading.Event()
        self._socket: PublicSocket | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        #: the last connection problem (None while connected and reading)
        self.problem: str | None = None
        self.connects = 0

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> MarkPrices:
        if self._thread is None and self.symbols:
            self._thread = threading.Thread(target=self._run, name="qfex-mds", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the feed and close its socket; idempotent."""
        self._stop.set()
        with self._lock:
            sock = self._socket
        if sock is not None:
            sock.abort()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2 * _POLL_S + 1)

    def __enter__(self) -> MarkPrices:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the seam -----------------------------------------------------------------------------------
    def latest(self, symbol: str) -> Decimal | None:
        return self._board.latest(symbol)

    def quote(self, symbol: str) -> MarkPrice | None:
        return self._board.quote(symbol)

    def wait_for(self, symbol: str, timeout: float) -> Decimal | None:
        return self._board.wait_for(symbol, timeout)

    def on_update(self, callback: Callable[[MarkPrice], None]) -> None:
        self._board.on_update(callback)

    # --- the reader thread --------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = _BACKOFF_FIRST
        while not self._stop.is_set():
            try:
                self._session()
                backoff = _BACKOFF_FIRST  # a session that ran resets the backoff
            except (ConnectError, ConnectionLost) as exc:
                self.problem = str(exc)
            except Exception as exc:  # a bug in the feed must not take the run down
                self.problem = f"{type(exc).__name__}: {exc}"
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, _BACKOFF_CAP)

    def _session(self) -> None:
        sock = self._opener(self.url, self.timeout)
        with self._lock:
            self._socket = sock
        try:
            if self._stop.is_set():
                return
            self.connects += 1
            sock.send({"type": "subscribe", "channels": ["mark_price"], "symbols": list(self.symbols)})
            self.problem = None
            every = "*" in self.symbols  # QFEX's wildcard: every symbol
            wanted = set(self.symbols)
            while not self._stop.is_set():
                frame = sock.receive(_POLL_S)
                if frame is None:
                    continue
                if frame.get("type") == "error":
                    self.problem = f"the market-data socket refused the subscription: {_err_text(frame)}"
                    continue
                mark = parse_mark_price(frame, time.monotonic())
                if mark is not None and (every or mark.symbol in wanted):
                    self._board.put(mark)
        finally:
            with self._lock:
                self._socket = None
            sock.close()


#: how often `read_marks` looks whether a feed that never connected has given up
_GIVE_UP_CHECK_S = 0.01


def read_marks(url: str, symbols: Iterable[str], wait: float,
               opener: Opener = _open_public) -> tuple[dict[str, Decimal], str | None]:
    """One look at the mark prices of `symbols` (within `wait` seconds): (prices found, the feed's
    problem if it had one). A socket that cannot be reached is not waited for."""
    wanted = list(dict.fromkeys(symbols))
    if not wanted:
        return {}, None
    with MarkPrices(url, ["*"], timeout=wait, opener=opener) as marks:
        return marks_within(marks, wanted, wait), marks.problem


def marks_within(marks: MarkPrices, symbols: Iterable[str], wait: float) -> dict[str, Decimal]:
    """The mark prices of `symbols` that a started feed has, or receives within `wait` seconds. A
    feed that cannot connect is not waited for."""
    wanted = list(dict.fromkeys(symbols))
    end = time.monotonic() + wait
    for symbol in wanted:
        while marks.latest(symbol) is None:
            left = end - time.monotonic()
            if left <= 0 or (marks.problem is not None and marks.connects == 0):
                break  # out of time, or cannot connect: do not hold the caller up
            # woken by the price itself (a `run` waits here before validating: not a poll's
            # tick later); the short cap notices a feed that cannot connect as soon as it says so
            marks.wait_for(symbol, min(left, _GIVE_UP_CHECK_S))
    return {s: p for s in wanted if (p := marks.latest(s)) is not None}


def _err_text(frame: dict[str, Any]) -> str:
    err = frame.get("err")
    if isinstance(err, dict):
        return f"{err.get('error_code')}: {err.get('message')}"
    return str(frame.get("message") or frame)


__all__ = ["FixedMarkPrices", "MarkPrice", "MarkPriceSource", "MarkPrices", "marks_within", "mds_url_for",
           "parse_mark_price", "read_marks"]
