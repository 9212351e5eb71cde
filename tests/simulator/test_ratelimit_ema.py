"""The EMA rate limit with a fake clock: burst size, steady rate, retry-after, buckets, users."""

from __future__ import annotations

import math

import pytest

from runner.simulator.ratelimit import CANCEL, GENERAL, WEIGHTS, EmaBucket, RateLimiter
from runner.simulator.server_config import RateLimitConfig


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_documented_weights():
    assert WEIGHTS["add_order"] == 1.0
    assert WEIGHTS["get_user_orders"] == 5.0
    assert WEIGHTS["get_order"] == 2.0
    assert WEIGHTS["subscribe"] == 0.1
    assert WEIGHTS["cancel_on_disconnect"] == 0.1
    assert len(WEIGHTS) == 15


def test_a_fresh_user_may_burst_the_whole_budget_then_is_refused():
    clock = FakeClock()
    limiter = RateLimiter(RateLimitConfig(), clock)
    # 12,000 units at one instant: the load reaches exactly the limit, every message accepted
    for _ in range(12_000):
        assert limiter.check("u1", "add_order").accepted
    # the load is at the limit, not above: one more is accepted (it "rises above" now) ...
    assert limiter.check("u1", "add_order").accepted
    # ... and the next one is refused
    refused = limiter.check("u1", "add_order")
    assert not refused.accepted and refused.bucket == GENERAL
    assert refused.retry_after_s == pytest.approx(60 * math.log(12_001 / 12_000))


def test_retry_after_is_when_the_load_has_decayed_to_the_limit():
    clock = FakeClock()
    limiter = RateLimiter(RateLimitConfig(limit_units=10, window_s=60), clock)
    for _ in range(20):
        limiter.check("u", "get_user_orders")  # 5 units each; accepted until load > 10
    assert limiter.load("u") == pytest.approx(15.0)
    refused = limiter.check("u", "add_order")
    assert refused.retry_after_s == pytest.approx(60 * math.log(15 / 10))
    clock.now += refused.retry_after_s - 0.01
    assert not limiter.check("u", "add_order").accepted
    clock.now += 0.02
    assert limiter.check("u", "add_order").accepted


def test_steady_200_units_per_second_is_sustainable_forever():
    clock = FakeClock()
    limiter = RateLimiter(RateLimitConfig(), clock)
    for _ in range(12_000):
        limiter.check("u", "add_order")
    # at the limit already, then 200 msgs/s for 5 minutes: the load stays at the limit
    for _ in range(300 * 200):
        clock.now += 1 / 200
        assert limiter.check("u", "add_order").accepted
    # but 250/s is not
    refused = 0
    for _ in range(60 * 250):
        clock.now += 1 / 250
        refused += not limiter.check("u", "add_order").accepted
    assert refused > 0


def test_cancel_bucket_is_independent_of_the_general_one():
    clock = FakeClock()
    limiter = RateLimiter(RateLimitConfig(limit_units=5, cancel_limit_units=3), clock)
    while limiter.check("u", "add_order").accepted:
        pass
    cancel = limiter.check("u", "cancel_order")
    assert cancel.accepted and cancel.bucket == CANCEL
    assert limiter.check("u", "cancel_all_orders").accepted
    assert limiter.check("u", "cancel_stop_order").accepted  # load 4 > 3 now
    assert not limiter.check("u", "cancel_order").accepted
    assert limiter.bucket_of("cancel_on_disconnect") == GENERAL


def test_users_do_not_share_budgets_and_refusals_cost_nothing():
    clock = FakeClock()
    limiter = RateLimiter(RateLimitConfig(limit_units=2), clock)
    for _ in range(3):
        limiter.check("a", "add_order")
    before = limiter.load("a")
    for _ in range(50):
        assert not limiter.check("a", "add_order").accepted
    assert limiter.load("a") == before
    assert limiter.check("b", "add_order").accepted


def test_unlisted_commands_use_the_default_weight_and_weights_are_configurable():
    limiter = RateLimiter(RateLimitConfig(weights={"add_order": 3.0}, default_weight=0.5), FakeClock())
    assert limiter.weight("add_order") == 3.0
    assert limiter.weight("close_position") == 0.5


def test_bucket_decays_exponentially():
    bucket = EmaBucket(limit=100, window=60)
    assert bucket.offer(50, 0.0) is None
    assert bucket.decayed(60.0) == pytest.approx(50 / math.e)
