"""QFEX's market-closed position caps [D:/qfex/risk-limits]: "During Market Close: position size per
participant is limited to the Max Position Percentage of normal size" (Overnight 50 %, Weekend 10 %),
and "participants exceeding this limit can only reduce exposure". QFEX documents no status for the
refusal: the local exchange answers REJECTED (README: our assumption).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from runner.simulator.sessions import OPEN, OVERNIGHT, WEEKEND, session_at, session_cap

_SEQ = itertools.count(1)
NEW_YORK = ZoneInfo("America/New_York")
HOURS = {"tz": "America/New_York", **{day: {"open": "04:00:00", "close": "20:00:00"}
                                      for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}}


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK).timestamp()


@pytest.mark.parametrize(("moment", "session"), [
    ("2026-12-01T12:00:00", OPEN),       # Tuesday noon: NYSE's extended hours
    ("2026-12-01T22:30:00", OVERNIGHT),  # Tuesday night
    ("2026-12-02T03:00:00", OVERNIGHT),  # Wednesday before the open
    ("2026-12-04T21:00:00", WEEKEND),    # Friday after the close: "Fri afternoon → Mon morning ET"
    ("2026-12-05T12:00:00", WEEKEND),    # Saturday
    ("2026-12-06T23:00:00", WEEKEND),    # Sunday night
    ("2026-12-07T03:59:59", WEEKEND),    # Monday before the open
    ("2026-12-07T04:00:00", OPEN),
])
def test_the_session_follows_the_symbols_market_hours(moment, session):
    assert session_at(HOURS, at(moment)) == session


def test_no_market_hours_means_always_open():
    assert session_at({}, at("2026-12-05T12:00:00")) == OPEN


def test_the_caps_are_the_pages_percentages():
    cap = Decimal(2_500_000)  # single equities [D:/qfex/risk-limits] "Individual Equities $2,500,000"
    assert session_cap(cap, OPEN) is None
    assert session_cap(cap, OVERNIGHT) == Decimal(1_250_000)
    assert session_cap(cap, WEEKEND) == Decimal(250_000)


def order(client: Any, side: str, quantity: str, price: str = "0", order_type: str = "MARKET") -> dict:
    """Send one order; its first answer (ACK or a reject), skipping what earlier orders still report."""
    tif = "IOC" if order_type == "MARKET" else "GTC"
    coid = f"s-{next(_SEQ)}"
    client.send({"type": "add_order", "params": {
        "symbol": "AAPL-USD", "side": side, "order_type": order_type, "order_time_in_force": tif,
        "quantity": Decimal(quantity), "price": Decimal(price), "client_order_id": coid}})
    while True:
        reply: dict = client.recv_key("order_response")["order_response"]
        if reply["client_order_id"] == coid:
            return reply


def test_weekend_caps_an_increasing_position_at_10_percent_and_lets_it_shrink(simulator_factory, raw_client):
    """AAPL-USD: $2.5M × 10 % = $250,000 at the weekend. 1,000 at ~230 fits; 200 more would not (a
    long above the cap may only sell); selling is always accepted."""
    sim = simulator_factory(engine={"session": "weekend", "mm_depth_notional": Decimal(5_000_000)})
    client = raw_client(sim, subscribe=("order_responses",))
    assert order(client, "BUY", "1000")["status"] == "ACK"
    refused = order(client, "BUY", "200")
    assert refused["status"] == "REJECTED" and refused["quantity_remaining"] == 0
    resting = order(client, "BUY", "200", price="225", order_type="LIMIT")  # 1,200 at 225: $270,000
    assert resting["status"] == "REJECTED"
    assert order(client, "SELL", "300")["status"] == "ACK"  # reducing: accepted
    sim.call(lambda ex: ex.set_session("open"))
    assert order(client, "BUY", "600")["status"] == "ACK"  # the open market's $2.5M applies again


def test_the_reason_names_the_cap_in_the_simulators_log(caplog):
    """QFEX's order_response has no message field: the cap is named in the simulator's log."""
    import logging

    from tests.simulator.engine_kit import Kit

    kit = Kit(session="weekend", market_maker=False)
    with caplog.at_level(logging.WARNING, logger="runner.simulator"):
        out = kit.order(quantity="2000", price="225")
    assert [o.message["order_response"]["status"] for o in out] == ["REJECTED"]
    assert "weekend position cap: 10% of AAPL-USD's 2500000 USD maximum = 250000 USD" in caplog.text
    assert "2000 at 225 would be 450000 USD" in caplog.text


def test_overnight_caps_at_half(simulator_factory, raw_client):
    sim = simulator_factory(engine={"session": "overnight", "mm_depth_notional": Decimal(20_000_000)})
    client = raw_client(sim, subscribe=("order_responses",))
    assert order(client, "SELL", "5000")["status"] == "ACK"  # a short of ~$1.15M: under $1.25M
    assert order(client, "SELL", "1000")["status"] == "REJECTED"  # ~$1.38M: over
    assert order(client, "BUY", "1000")["status"] == "ACK"  # reducing the short


def test_the_default_session_is_open_whatever_the_weekday(simulator):
    """Tests never depend on the weekday: the default is `open`, `auto` reads the market hours."""
    assert simulator.call(lambda ex: ex.config.session) == "open"
    with pytest.raises(ValueError, match="unknown session"):
        simulator.call(lambda ex: ex.set_session("lunch"))


def test_sim_takes_a_session(tmp_path):
    from runner.simulator.standalone import banner, config_from_options

    config = config_from_options(host="127.0.0.1", port=0, session="weekend")
    assert config.engine.session == "weekend"
    assert "session weekend" in banner(config, 1234)
