"""QFEX's rate limit over the wire [D:/websocket/rate.md]: per user across connections, a separate
cancel bucket, RateLimited with a retry-after hint, and off with rate_limit=False."""

from __future__ import annotations

import re
import time

from runner.simulator import RateLimitConfig, ServerConfig
from runner.simulator.config import AccountConfig

ORDER = {"type": "add_order", "params": {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT",
                                         "order_time_in_force": "GTC", "quantity": 1, "price": 200}}
CANCEL = {"type": "cancel_order", "params": {"symbol": "AAPL-USD", "order_id": "no-such-order",
                                             "cancel_order_id_type": "order_id"}}
BOB = AccountConfig("qfex_pub_bob", "qfex_secret_bob", "bbbbbbbb-0000-4000-8000-000000000002",
                    "bbbbbbbb-0000-4000-8000-0000000000b1")


def limited(simulator_factory, units: float, window_s: float = 60.0, **engine):
    limits = RateLimitConfig(limit_units=units, cancel_limit_units=units, window_s=window_s)
    config = ServerConfig(rate_limit=limits)
    return simulator_factory(server_config=config, engine=engine or None)


def test_budget_is_per_user_across_connections(simulator_factory, raw_client, auth_message):
    from runner.simulator.config import demo_account

    sim = limited(simulator_factory, 2, accounts=[demo_account(), BOB])
    first = raw_client(sim, subscribe=["order_responses"])  # subscribe costs 0.1
    second = raw_client(sim, subscribe=["order_responses"])  # load 0.2
    assert first.request(ORDER)["order_response"]["status"] == "ACK"  # 1.2
    second.recv()
    assert second.request(ORDER)["order_response"]["status"] == "ACK"  # 2.2: accepted, now above
    first.recv()
    err = second.request(ORDER)["err"]
    assert err["error_code"] == "RateLimited"
    assert err["incoming_message"] == ORDER
    assert first.request(ORDER)["err"]["error_code"] == "RateLimited"  # same user, other connection
    bob = raw_client(sim, auth=False)
    assert bob.request(auth_message(BOB.public_key, BOB.secret_key)) == {"authenticated": True}
    bob.subscribe("order_responses")
    assert bob.request(ORDER)["order_response"]["status"] == "ACK"  # another user is unaffected
    # the refused orders were not placed
    assert len(sim.call(lambda ex: ex.orders(ex.config.accounts[0].account_id))) == 2


def test_cancels_have_their_own_bucket(simulator_factory, raw_client):
    sim = limited(simulator_factory, 1)
    client = raw_client(sim, subscribe=["order_responses"])
    client.request(ORDER)
    assert client.request(ORDER)["err"]["error_code"] == "RateLimited"
    assert client.request(CANCEL)["order_response"]["status"] == "NO_SUCH_ORDER"
    assert client.request(CANCEL)["order_response"]["status"] == "NO_SUCH_ORDER"  # load 2 > 1 now
    err = client.request(CANCEL)["err"]
    assert err["error_code"] == "RateLimited" and "cancel bucket" in err["message"]


def test_retry_after_hint_is_honest(simulator_factory, raw_client):
    """The documented envelope has no hint field, so the hint is in `message` [D:/websocket/errors.md]."""
    sim = limited(simulator_factory, 2, window_s=0.5)
    client = raw_client(sim, subscribe=["order_responses"])
    while "err" not in (reply := client.request(ORDER)):
        pass
    assert set(reply["err"]) == {"error_code", "message", "incoming_message"}
    match = re.search(r"retry after (\d+) ms\.$", reply["err"]["message"])
    assert match, reply["err"]["message"]
    hint_ms = int(match.group(1))
    assert 0 < hint_ms <= 500
    time.sleep(hint_ms / 1000 + 0.02)  # waiting is what the hint asks for
    assert client.request(ORDER)["order_response"]["status"] == "ACK"


def test_retry_after_field_behind_compat(simulator_factory, raw_client):
    """`--compat retry-after-field` adds err.retry_after_ms (integer ms), equal to the message's hint."""
    from runner.simulator.server_config import CompatOptions

    limits = RateLimitConfig(limit_units=2, window_s=0.5)
    config = ServerConfig(rate_limit=limits, compat=CompatOptions.from_names(["retry-after-field"]))
    client = raw_client(simulator_factory(server_config=config), subscribe=["order_responses"])
    while "err" not in (reply := client.request(ORDER)):
        pass
    hint_ms = reply["err"]["retry_after_ms"]
    assert isinstance(hint_ms, int) and 0 < hint_ms <= 500
    assert reply["err"]["message"].endswith(f"retry after {hint_ms} ms.")


def test_rate_limit_can_be_switched_off(simulator_factory, raw_client):
    config = ServerConfig(rate_limit=RateLimitConfig(limit_units=1))
    sim = simulator_factory(server_config=config, rate_limit=False)
    client = raw_client(sim, subscribe=["order_responses"])
    for _ in range(20):
        assert client.request(ORDER)["order_response"]["status"] == "ACK"


def test_default_limit_allows_a_documented_burst(simulator, raw_client):
    """12,000 units / 60 s: 300 add_orders in a burst are well inside the budget."""
    client = raw_client(simulator, subscribe=["order_responses"])
    for _ in range(300):
        client.send(ORDER)
    replies = [client.recv() for _ in range(300)]
    assert all(r["order_response"]["status"] == "ACK" for r in replies)
