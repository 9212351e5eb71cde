"""The local exchange's market-data socket (`/mds`): QFEX's public MDS channels, frame by frame.

Each test names the page or file it follows. Requests and frames [D:/websocket/channels/mds/*]:
`{"type": "subscribe", "channels": [...], "symbols": [...]}`, frames keyed by `type`, numbers as
strings. Driven by the same engine as the trade socket (market maker, scenarios, executions).
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

import pytest

from runner.simulator import ServerConfig

AAPL, TSLA = "AAPL-USD", "TSLA-USD"
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")  # a decimal string, never an exponent
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def sim(simulator_factory):
    return simulator_factory(server_config=ServerConfig(mds_interval_s=0.05))


@pytest.fixture
def mds(sim, raw_client):
    def connect():
        return raw_client(sim.mds_url, auth=False)
    return connect


def subscribe(client, channels, symbols, kind="subscribe") -> dict[str, Any]:
    client.send({"type": kind, "channels": channels, "symbols": symbols})
    return client.recv()


def next_of(client, kind: str, symbol: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        frame = client.recv(max(0.01, deadline - time.monotonic()))
        if frame.get("type") == kind and (symbol is None or frame.get("symbol") == symbol):
            return frame


def text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def test_mds_url_is_beside_the_trade_socket_and_needs_no_auth(sim, mds):
    """[D:/websocket/main]: "MDS is public and does not require authentication"."""
    assert sim.mds_url == sim.url + "mds"
    client = mds()
    ack = subscribe(client, ["mark_price"], [AAPL])
    assert ack == {"type": "subscribed", "channels": ["mark_price"], "symbols": [AAPL]}


def test_mark_price_frame_is_the_documented_shape_and_the_engine_mark(sim, mds):
    """[DOCSREPO:docs/websocket/mds.yaml] MarkPriceUpdate example: type, symbol, sequence, price (a
    string), time; QFEX's CLI reads symbol/price/time [CLI:internal/daemon/mds.go]."""
    client = mds()
    subscribe(client, ["mark_price"], [AAPL])
    frame = next_of(client, "mark_price", AAPL)
    assert set(frame) == {"type", "symbol", "sequence", "price", "time"}
    assert frame["price"] == text(sim.call(lambda ex: ex.mark(AAPL)))
    assert NUMBER.match(frame["price"]) and STAMP.match(frame["time"])
    assert isinstance(frame["sequence"], int)


def test_bbo_and_level2_show_the_book_as_strings(sim, mds):
    """BBO page [D:/docs/websocket/channels/mds/bbo]: `bid`/`ask` as [[price, size]] strings;
    order-book page [D:/websocket/channels/mds/orderbook.md]: the same keys, "up to 20 levels"."""
    client = mds()
    subscribe(client, ["bbo", "level2"], [AAPL])
    bbo = next_of(client, "bbo", AAPL)
    level2 = next_of(client, "level2", AAPL)
    book = sim.call(lambda ex: ex.book(AAPL, 20))
    assert set(bbo) == set(level2) == {"type", "symbol", "bid", "ask", "sequence", "time"}
    assert bbo["bid"] == [[text(p), text(q)] for p, q in book["bids"][:1]]
    assert bbo["ask"] == [[text(p), text(q)] for p, q in book["asks"][:1]]
    assert level2["bid"] == [[text(p), text(q)] for p, q in book["bids"]]
    assert level2["ask"] == [[text(p), text(q)] for p, q in book["asks"]]
    assert 1 < len(level2["bid"]) <= 20
    assert all(NUMBER.match(x) for level in level2["bid"] + level2["ask"] for x in level)


def test_minmax_price_is_the_price_band(sim, mds):
    """[D:/websocket/channels/mds/minmax_price.md]: {type, symbol, min_price, max_price, time}."""
    client = mds()
    subscribe(client, ["minmax_price"], [AAPL])
    frame = next_of(client, "minmax_price", AAPL)
    low, high = sim.call(lambda ex: ex.price_band(AAPL))
    assert frame == {"type": "minmax_price", "symbol": AAPL, "min_price": text(low), "max_price": text(high),
                     "time": frame["time"]}


def test_every_execution_is_a_public_trade(sim, mds, raw_client):
    """[D:/websocket/channels/mds/trades.md]: "realtime stream of executed trades"; fields as the
    example (trade_id, sequence, time, symbol, size, price, side); side upper case and
    `execution_type` as the current MDS AsyncAPI's TradeUpdate example [AE:asyncapi/qfex-mds-asyncapi.yml]
    (the page writes "sell")."""
    client = mds()
    subscribe(client, ["trade"], [AAPL])
    trader = raw_client(sim, subscribe=("fills",))
    trader.send({"type": "add_order", "params": {
        "symbol": AAPL, "side": "BUY", "order_type": "MARKET", "order_time_in_force": "IOC",
        "quantity": Decimal("2"), "price": 0, "client_order_id": "mds-trade-1"}})
    fill = trader.recv_key("fill_response")["fill_response"]
    trade = next_of(client, "trade", AAPL)
    assert set(trade) == {"type", "trade_id", "sequence", "time", "symbol", "size", "price", "side",
                          "execution_type"}
    assert trade["execution_type"] == "T"  # the current MDS AsyncAPI's only example value
    assert trade["trade_id"] == fill["trade_id"]
    assert trade["price"] == text(fill["price"]) and trade["size"] == text(fill["quantity"])
    assert trade["side"] == "BUY"


def test_pulses_follow_the_market_model(sim, mds):
    """The same engine as the trade socket: moving the fair price moves the streamed mark."""
    client = mds()
    subscribe(client, ["mark_price"], [AAPL])
    next_of(client, "mark_price", AAPL)
    sim.call(lambda ex: ex.set_mid(AAPL, Decimal("250")))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        frame = next_of(client, "mark_price", AAPL)
        if frame["price"] == "250":
            break
    else:
        pytest.fail("the mark price never reached 250")


def test_wildcard_streams_every_symbol(sim, mds):
    """Order-book and BBO pages: `symbols` accepts a wildcard `*` to stream all symbols."""
    client = mds()
    ack = subscribe(client, ["mark_price"], ["*"])
    assert ack["symbols"] == ["*"]
    symbols = sim.call(lambda ex: ex.market_symbols())
    seen = {next_of(client, "mark_price")["symbol"] for _ in range(len(symbols) * 3)}
    assert seen == set(symbols)


def test_unsubscribe_stops_that_channel_only(sim, mds):
    """Every MDS page: `{"type": "unsubscribe", "channels": [...], "symbols": [...]}`."""
    client = mds()
    subscribe(client, ["mark_price", "bbo"], [AAPL])
    client.send({"type": "unsubscribe", "channels": ["mark_price"], "symbols": [AAPL]})
    ack = next_of(client, "unsubscribed")
    assert ack == {"type": "unsubscribed", "channels": ["mark_price"], "symbols": [AAPL]}
    frames = []
    while sum(f["type"] == "bbo" for f in frames) < 3:  # three pulses after the unsubscribe
        frames.append(client.recv())
    assert [f for f in frames if f["type"] == "mark_price"] == []


@pytest.mark.parametrize(("request_", "code", "words"), [
    ({"type": "subscribe", "channels": ["candle"], "symbols": [AAPL], "intervals": ["1MIN"]},
     "InvalidParameter", "not simulated"),
    ({"type": "subscribe", "channels": ["nope"], "symbols": [AAPL]}, "InvalidParameter", "unknown channel"),
    ({"type": "subscribe", "channels": ["bbo"], "symbols": ["NOPE-USD"]},
     "InvalidParameter", "unknown symbol"),
    ({"type": "subscribe", "channels": ["bbo"]}, "InvalidParameter", "symbols"),
    ({"type": "hello"}, "InvalidJSONFormat", "unknown message type"),
    ("not json", "InvalidJSONFormat", "not valid JSON"),
])
def test_bad_requests_get_an_error_frame_and_the_socket_stays(sim, mds, request_, code, words):
    """QFEX documents no MDS error; ours (README): {"type": "error", "err": {error_code, message,
    incoming_message}}, the trade socket's error body. The connection stays usable."""
    client = mds()
    client.send(request_)
    frame = client.recv()
    assert frame["type"] == "error"
    assert frame["err"]["error_code"] == code and words in frame["err"]["message"]
    client.send({"type": "subscribe", "channels": ["mark_price"], "symbols": [TSLA]})
    assert next_of(client, "subscribed")["symbols"] == [TSLA]


def test_the_trade_socket_and_refdata_are_unchanged(sim, raw_client):
    """The trade socket is still at `/` (auth required); an unknown path is still a 404."""
    import urllib.error
    import urllib.request

    raw_client(sim, subscribe=("order_responses",))  # auth + subscribe as before
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(sim.http_url + "/nope", timeout=5)
    assert refused.value.code == 404
