"""QFEX's public market-data socket (MDS) for the local exchange, over the same market model.

QFEX serves market data on its own host (`wss://mds.qfex.com`, `wss://mds.qfex.io`), public, no
auth [D:/websocket/main]. The local exchange serves it on the trade socket's port at path `/mds`
(`ws://127.0.0.1:8765/mds`), driven by the engine the trade socket drives: the market maker's
quotes, scenarios, every execution. Socket-free: `server.py` hands each MDS connection's frames to
`MarketDataHub.handle` and calls `pulse` / `publish_trades`; each subscriber only needs `send`.

Requests, one frame each (no `params` wrapper, unlike the trade socket) [D:/websocket/channels/mds/*]:

    {"type": "subscribe" | "unsubscribe", "channels": ["mark_price", ...], "symbols": ["AAPL-USD"] | ["*"]}

Channels served, with the frames QFEX documents (numbers are strings, `time` is RFC 3339 UTC):

    mark_price    {"type","symbol","sequence","price","time"}
                  [DOCSREPO:docs/websocket/mds.yaml] MarkPriceUpdate; [CLI:internal/daemon/mds.go]
    bbo           {"type","symbol","bid":[[p,q]],"ask":[[p,q]],"sequence","time"}
                  [D:/docs/websocket/channels/mds/bbo]; [CLI:internal/daemon/mds.go] reads bid/ask
    level2        {"type","symbol","bid":[[p,q]...],"ask":[...],"sequence","time"}
                  [D:/websocket/channels/mds/orderbook.md], [DOCSREPO:…/channels/mds/orderbook.mdx]
    minmax_price  {"type","symbol","min_price","max_price","time"}
                  [D:/websocket/channels/mds/minmax_price.md]
    trade         {"type","trade_id","sequence","time","symbol","size","price","side","execution_type"}
                  [D:/websocket/channels/mds/trades.md]; [AE:asyncapi/qfex-mds-asyncapi.yml] TradeUpdate

Where QFEX is silent, our choices (listed in the README):
- a subscribe/unsubscribe is answered `{"type": "subscribed" | "unsubscribed", "channels", "symbols"}`
  (QFEX shows no answer; a third-party connector models a `subscribed` message type [SS]);
  a bad request gets `{"type": "error", "err": {"error_code", "message", "incoming_message"}}` (the
  trade socket's error body; [SS] models an `error` type with an `err` field);
- every pulsed channel (mark_price, bbo, level2) sends a snapshot at once on subscribe, then one
  frame per symbol every pulse (`ServerConfig.mds_interval_s`, 0.5 s as the current order-book page);
  minmax_price on subscribe and when the band changes; trade in real time, not replayed;
- `side` of a public trade is the aggressor's, upper case (the AsyncAPI example `SELL`; the trades
  page writes `sell`); `sequence` counts every frame the hub sends, across channels;
- channels QFEX has that the local exchange does not simulate (candle, underlier, funding_rate,
  open_interest, market_stats, refdata) are refused with an error frame naming them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Protocol, runtime_checkable

from runner.simulator import wire
from runner.simulator.outbound import PublicTrade
from runner.simulator.wire import JsonObject

MARK_PRICE, BBO, LEVEL2, MINMAX_PRICE, TRADE = "mark_price", "bbo", "level2", "minmax_price", "trade"
CHANNELS: tuple[str, ...] = (MARK_PRICE, BBO, LEVEL2, MINMAX_PRICE, TRADE)
PULSED: tuple[str, ...] = (MARK_PRICE, BBO, LEVEL2)
#: QFEX channels the local exchange does not simulate (refused by name rather than as unknown)
NOT_SIMULATED: tuple[str, ...] = ("candle", "underlier", "funding_rate", "funding", "open_interest",
                                  "market_stats", "refdata")
ALL_SYMBOLS = "*"
#: `execution_type` of a public trade: the only value QFEX shows ([AE:asyncapi/qfex-mds-asyncapi.yml]
#: TradeUpdate example `T`; its meaning is not documented)
TRADE_EXECUTION_TYPE = "T"
#: depth of a level2 frame: "up to 20 levels" [D:/websocket/channels/mds/orderbook.md]
LEVEL2_DEPTH = 20


@runtime_checkable
class MarketFeed(Protocol):
    """What the hub reads of the engine (`engine.Exchange`); an engine without it serves no MDS."""

    def market_symbols(self) -> list[str]: ...
    def mark(self, symbol: str) -> Decimal: ...
    def book(self, symbol: str, levels: int = 10) -> dict[str, list[tuple[Decimal, Decimal]]]: ...
    def price_band(self, symbol: str) -> tuple[Decimal, Decimal]: ...
    def take_public_trades(self) -> list[PublicTrade]: ...


class Subscriber(Protocol):
    """One MDS connection as the hub sees it."""

    def send(self, message: JsonObject) -> None: ...


class MarketDataHub:
    """Subscriptions of every MDS connection, and the frames they receive (module docstring)."""

    def __init__(self, feed: MarketFeed, clock: Callable[[], float]) -> None:
        self.feed = feed
        self.clock = clock
        self._subs: dict[Subscriber, set[tuple[str, str]]] = {}  # (channel, symbol or "*")
        self._bands_sent: dict[Subscriber, dict[str, tuple[Decimal, Decimal]]] = {}
        self._sequence = 0

    # --- connections --------------------------------------------------------------------------------
    def attach(self, sub: Subscriber) -> None:
        self._subs[sub] = set()
        self._bands_sent[sub] = {}

    def detach(self, sub: Subscriber) -> None:
        self._subs.pop(sub, None)
        self._bands_sent.pop(sub, None)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    # --- requests -----------------------------------------------------------------------------------
    def handle(self, sub: Subscriber, frame: str | bytes) -> None:
        """Answer one inbound frame: a subscribe / unsubscribe, or an error frame."""
        try:
            msg = wire.decode(frame)
        except wire.FrameError as exc:
            sub.send(_error("InvalidJSONFormat", str(exc), None))
            return
        if type(msg) is not dict:
            sub.send(_error("InvalidJSONFormat", _SHAPE, None))
            return
        kind = msg.get("type")
        if kind not in ("subscribe", "unsubscribe"):
            sub.send(_error("InvalidJSONFormat", f"unknown message type {kind!r} ({_SHAPE})", msg))
            return
        request = self._request(sub, msg)
        if request is None:
            return
        channels, symbols = request
        pairs = {(c, s) for c in channels for s in symbols}
        mine = self._subs.setdefault(sub, set())
        if kind == "unsubscribe":
            mine.difference_update(pairs)
            sub.send({"type": "unsubscribed", "channels": channels, "symbols": symbols})
            return
        mine.update(pairs)
        sub.send({"type": "subscribed", "channels": channels, "symbols": symbols})
        for channel in channels:
            if channel == MINMAX_PRICE:
                self._bands(sub, force={s for s in self._expand(symbols)})
            elif channel in PULSED:
                for symbol in self._expand(symbols):
                    sub.send(self._frame(channel, symbol))

    def _request(self, sub: Subscriber, msg: JsonObject) -> tuple[list[str], list[str]] | None:
        channels, symbols = msg.get("channels"), msg.get("symbols")
        if type(channels) is not list or not channels or not all(type(c) is str for c in channels):
            sub.send(_error("InvalidParameter", "channels must be a non-empty list of channel names", msg))
            return None
        if type(symbols) is not list or not symbols or not all(type(s) is str for s in symbols):
            sub.send(_error("InvalidParameter", 'symbols must be a non-empty list of symbols (or ["*"])',
                            msg))
            return None
        for channel in channels:
            if channel in NOT_SIMULATED:
                sub.send(_error("InvalidParameter", f"channel {channel!r} is not simulated by the local "
                                f"exchange (served: {', '.join(CHANNELS)})", msg))
                return None
            if channel not in CHANNELS:
                sub.send(_error("InvalidParameter",
                                f"unknown channel {channel!r} (channels: {', '.join(CHANNELS)})", msg))
                return None
        known = set(self.feed.market_symbols())
        for symbol in symbols:
            if symbol != ALL_SYMBOLS and symbol not in known:
                sub.send(_error("InvalidParameter", f"unknown symbol {symbol!r}", msg))
                return None
        return list(channels), list(symbols)

    def _expand(self, symbols: list[str] | set[str]) -> list[str]:
        if ALL_SYMBOLS in symbols:
            return self.feed.market_symbols()
        return [s for s in self.feed.market_symbols() if s in symbols]

    def _wanted(self, sub: Subscriber, channel: str) -> list[str]:
        return self._expand({s for c, s in self._subs.get(sub, ()) if c == channel})

    # --- pushes -------------------------------------------------------------------------------------
    def pulse(self) -> None:
        """One pulse: mark_price, bbo and level2 frames for every subscription; changed bands."""
        for sub in list(self._subs):
            for channel in PULSED:
                for symbol in self._wanted(sub, channel):
                    sub.send(self._frame(channel, symbol))
            self._bands(sub, force=set())

    def publish_trades(self) -> None:
        """Executions since the last call to the `trade` subscribers of their symbol (the tape is taken
        even with no subscriber, so it never grows)."""
        trades = self.feed.take_public_trades()
        if not trades or not self._subs:
            return
        for sub in list(self._subs):
            wanted = set(self._wanted(sub, TRADE))
            for trade in trades:
                if trade.symbol in wanted:
                    sub.send(self._trade(trade))

    def _bands(self, sub: Subscriber, force: set[str]) -> None:
        sent = self._bands_sent.setdefault(sub, {})
        for symbol in self._wanted(sub, MINMAX_PRICE):
            band = self.feed.price_band(symbol)
            if symbol in force or sent.get(symbol) != band:
                sent[symbol] = band
                sub.send({"type": MINMAX_PRICE, "symbol": symbol, "min_price": _text(band[0]),
                          "max_price": _text(band[1]), "time": _stamp(self.clock())})

    # --- frames -------------------------------------------------------------------------------------
    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def _frame(self, channel: str, symbol: str) -> JsonObject:
        now = _stamp(self.clock())
        if channel == MARK_PRICE:
            return {"type": MARK_PRICE, "symbol": symbol, "sequence": self._next(),
                    "price": _text(self.feed.mark(symbol)), "time": now}
        depth = self.feed.book(symbol, 1 if channel == BBO else LEVEL2_DEPTH)
        return {"type": channel, "symbol": symbol, "bid": _levels(depth["bids"]),
                "ask": _levels(depth["asks"]), "sequence": self._next(), "time": now}

    def _trade(self, trade: PublicTrade) -> JsonObject:
        return {"type": TRADE, "trade_id": trade.trade_id, "sequence": self._next(),
                "time": _stamp(trade.time), "symbol": trade.symbol, "size": _text(trade.size),
                "price": _text(trade.price), "side": trade.aggressor_side,
                "execution_type": TRADE_EXECUTION_TYPE}


_SHAPE = 'expected {"type": "subscribe" | "unsubscribe", "channels": [...], "symbols": [...]}'


def _error(code: str, message: str, incoming: JsonObject | None) -> JsonObject:
    return {"type": "error", "err": {"error_code": code, "message": message, "incoming_message": incoming}}


def _text(value: Decimal) -> str:
    """A number as MDS writes it: a string, exact, never in exponent form (`"437.45"`)."""
    return format(value.normalize(), "f") if value else "0"


def _levels(levels: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[_text(price), _text(qty)] for price, qty in levels]


def _stamp(ts: float) -> str:
    """RFC 3339 UTC with microseconds (QFEX's examples show nanoseconds: `...39.545268322Z`)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
