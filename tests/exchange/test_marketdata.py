"""The runner's market-data client: where the MDS is, and live mark prices from it.

`MarkPrices` is tested against the real local exchange over loopback (its `/mds` socket);
`FixedMarkPrices` is the stand-in other code's tests use.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from runner.errors import UsageError
from runner.exchange.marketdata import FixedMarkPrices, MarkPrices, mds_url_for, parse_mark_price
from runner.exchange.targets import resolve_target
from runner.simulator import ServerConfig

AAPL = "AAPL-USD"


@pytest.mark.parametrize(("trade_url", "mds_url"), [
    ("wss://trade.qfex.com/", "wss://mds.qfex.com/"),          # [D:/websocket/main]
    ("wss://trade.qfex.com?api_key=x", "wss://mds.qfex.com/"),
    ("wss://trade.qfex.io/", "wss://mds.qfex.io/"),            # [CLI:internal/config/config.go]
    ("ws://127.0.0.1:8765/", "ws://127.0.0.1:8765/mds"),       # the local exchange
    ("ws://localhost:9000", "ws://localhost:9000/mds"),
    ("wss://trade.example.net:8443/", "wss://mds.example.net:8443/"),  # QFEX's naming
    ("wss://exchange.example.net/", None),                     # cannot tell: --mds-url
    ("https://trade.qfex.com/", None),
    (None, None),
])
def test_mds_url_is_found_from_the_trade_url(trade_url, mds_url):
    assert mds_url_for(trade_url) == mds_url


def test_targets_carry_their_mds_and_mds_url_overrides():
    assert resolve_target("prod", None).mds_url == "wss://mds.qfex.com/"
    assert resolve_target("uat", None).mds_url == "wss://mds.qfex.io/"
    assert resolve_target(None, "ws://127.0.0.1:1234/").mds_url == "ws://127.0.0.1:1234/mds"
    sim = resolve_target("sim", None)
    assert sim.mds_url is None and sim.at("ws://127.0.0.1:5/").mds_url == "ws://127.0.0.1:5/mds"
    given = resolve_target("uat", None, "wss://md.example/")
    assert given.mds_url == "wss://md.example/"
    assert resolve_target("sim", None, "ws://127.0.0.1:9/mds").at("ws://127.0.0.1:5/").mds_url == \
        "ws://127.0.0.1:9/mds"
    with pytest.raises(UsageError, match="--mds-url"):
        resolve_target("uat", None, "http://mds.qfex.io/")


@pytest.mark.parametrize("frame", [
    {"type": "bbo", "symbol": AAPL, "price": "1"},
    {"type": "mark_price", "price": "1"},
    {"type": "mark_price", "symbol": AAPL, "price": "abc"},
    {"type": "mark_price", "symbol": AAPL, "price": "0"},
    {"type": "mark_price", "symbol": AAPL, "price": "-5"},
    {"type": "mark_price", "symbol": AAPL, "price": "NaN"},
    {"type": "mark_price", "symbol": AAPL, "price": True},
    {"type": "mark_price", "symbol": AAPL},
])
def test_unusable_frames_are_not_prices(frame):
    assert parse_mark_price(frame, 0.0) is None


def test_a_mark_price_frame_is_read_exactly():
    mark = parse_mark_price({"type": "mark_price", "symbol": AAPL, "sequence": 3, "price": "437.45",
                             "time": "2025-05-08T20:52:48.000Z"}, 12.0)
    assert mark is not None
    assert (mark.symbol, mark.price, mark.time, mark.received_at) == (AAPL, Decimal("437.45"),
                                                                       "2025-05-08T20:52:48.000Z", 12.0)


def test_fixed_mark_prices_answer_wait_and_notify():
    marks = FixedMarkPrices({AAPL: Decimal("230.10")})
    assert marks.latest(AAPL) == Decimal("230.10")
    assert marks.latest("TSLA-USD") is None
    assert marks.wait_for("TSLA-USD", 0.01) is None
    seen = []
    marks.on_update(seen.append)
    threading.Timer(0.05, marks.set, ("TSLA-USD", Decimal("250"))).start()
    assert marks.wait_for("TSLA-USD", 5) == Decimal("250")
    assert [m.price for m in seen] == [Decimal("250")]


@pytest.fixture
def sim(simulator_factory):
    return simulator_factory(server_config=ServerConfig(mds_interval_s=0.05))


def test_live_mark_prices_come_from_the_exchange(sim):
    with MarkPrices(sim.mds_url, [AAPL]) as marks:
        assert marks.wait_for(AAPL, 5) == sim.call(lambda ex: ex.mark(AAPL))
        quote = marks.quote(AAPL)
        assert quote is not None and quote.time and quote.age() < 5
        assert marks.latest("TSLA-USD") is None  # not subscribed
        assert marks.problem is None


def test_updates_follow_the_market_and_reach_callbacks(sim):
    moved = threading.Event()
    with MarkPrices(sim.mds_url, [AAPL]) as marks:
        marks.wait_for(AAPL, 5)
        marks.on_update(lambda mark: moved.set() if mark.price == Decimal("250") else None)
        sim.call(lambda ex: ex.set_mid(AAPL, Decimal("250")))
        assert moved.wait(5)
        assert marks.latest(AAPL) == Decimal("250")


def test_the_feed_reconnects_after_a_drop(sim):
    with MarkPrices(sim.mds_url, [AAPL]) as marks:
        marks.wait_for(AAPL, 5)
        loop = sim._loop
        assert loop is not None
        loop.call_soon_threadsafe(lambda: [c.abort() for c in list(sim.server.connections)])
        deadline = time.monotonic() + 10
        while marks.connects < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marks.connects == 2
        sim.call(lambda ex: ex.set_mid(AAPL, Decimal("240")))
        deadline = time.monotonic() + 5
        while marks.latest(AAPL) != Decimal("240") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marks.latest(AAPL) == Decimal("240")


def test_an_unreachable_feed_says_why_and_never_raises():
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with MarkPrices(f"ws://127.0.0.1:{port}/mds", [AAPL], timeout=1) as marks:
        assert marks.wait_for(AAPL, 0.5) is None
        deadline = time.monotonic() + 5
        while marks.problem is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marks.problem is not None and "cannot connect" in marks.problem


def test_close_stops_the_thread(sim):
    marks = MarkPrices(sim.mds_url, [AAPL]).start()
    marks.wait_for(AAPL, 5)
    marks.close()
    assert not any(t.name == "qfex-mds" and t.is_alive() for t in threading.enumerate())


def test_a_refused_subscription_is_reported(sim):
    with MarkPrices(sim.mds_url, ["NOPE-USD"]) as marks:
        deadline = time.monotonic() + 5
        while marks.problem is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marks.problem is not None and "unknown symbol" in marks.problem
