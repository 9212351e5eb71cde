"""Client-side pacing with QFEX's weights, retry-after hints, and bounded backoff (fake clock, no sleeps)."""

from __future__ import annotations

import random

import pytest

from runner.exchange.backoff import Backoff, BackoffPolicy
from runner.exchange.pacing import Bucket, Pacer, PacingPolicy, bucket_of, retry_after_hint, weight_of


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_documented_weights_and_buckets() -> None:
    assert weight_of("add_order") == 1.0 and weight_of("get_user_orders") == 5.0
    assert weight_of("get_user_trades") == 0.5 and weight_of("subscribe") == 0.1
    assert weight_of("something_new") == 5.0  # unknown types are treated as heavy
    assert bucket_of("cancel_order") is Bucket.CANCEL and bucket_of("cancel_all_orders") is Bucket.CANCEL
    assert bucket_of("add_order") is Bucket.GENERAL


def test_a_burst_passes_then_the_rate_is_held_under_the_target() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    target = PacingPolicy().target_rate  # 180 units/s: 90 % of 12,000 / 60 s
    sent = 0
    while not t.slept:
        pacer.acquire("add_order")
        sent += 1
    assert 10_000 <= sent - 1 <= 10_800  # a burst of ~10,800 orders goes out without waiting
    start, first = t.now, sent
    for _ in range(5000):
        pacer.acquire("add_order")
    rate = (5000 + sent - first) / (t.now - start)
    assert rate <= target * 1.01
    assert rate >= target * 0.9  # and pacing does not throttle far below the target


def test_steady_state_never_exceeds_qfex_budget_in_any_window() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    times = []
    for _ in range(40_000):
        pacer.acquire("add_order")
        times.append(t.now)
    # replay what was sent through the exchange's own EMA (the local exchange's reading of QFEX's
    # rule): no message would ever have been refused
    from runner.simulator.ratelimit import EmaBucket

    bucket = EmaBucket(12_000.0, 60.0)
    assert all(bucket.offer(1.0, at) is None for at in times)
    unpaced = EmaBucket(12_000.0, 60.0)  # the same orders at 300/s would have been refused
    assert any(unpaced.offer(1.0, i / 300) is not None for i in range(len(times)))


def test_cancel_bucket_is_independent() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    while pacer.delay_for("add_order") == 0:
        pacer.acquire("add_order")
    assert pacer.delay_for("cancel_order") == 0


def test_rate_limited_closes_the_bucket_for_the_hint() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    pacer.note_rate_limited("add_order", retry_after=2.5)
    assert pacer.delay_for("add_order") == pytest.approx(2.5)
    assert pacer.delay_for("cancel_order") == 0
    waited = pacer.acquire("add_order")
    assert waited >= 2.5 and pacer.rate_limited_count == 1
    pacer.note_rate_limited("get_order")  # no hint: the policy's hold
    assert pacer.delay_for("get_order") >= PacingPolicy().rate_limited_hold - 1e-9


def test_auth_is_not_paced() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    pacer.note_rate_limited("add_order", 10)
    assert pacer.acquire("auth") == 0 and t.slept == []


@pytest.mark.parametrize(("err", "seconds"), [
    ({"error_code": "RateLimited", "retry_after": 2}, 2.0),
    ({"error_code": "RateLimited", "retry_after_ms": 1500}, 1.5),
    ({"error_code": "RateLimited", "message": "Exceeded the allowed message rate. Retry after 250ms"}, 0.25),
    ({"error_code": "RateLimited", "message": "retry-after: 3 s"}, 3.0),
    ({"error_code": "RateLimited", "message": "You have exceeded the allowed message rate."}, None),
])
def test_retry_after_hint(err: dict, seconds: float | None) -> None:
    assert retry_after_hint(err) == (pytest.approx(seconds) if seconds is not None else None)


def test_backoff_grows_with_jitter_and_respects_both_bounds() -> None:
    t = FakeTime()
    policy = BackoffPolicy(initial=1, factor=2, cap=8, jitter=0.25, max_attempts=6, max_total=1000)
    backoff = Backoff(policy, clock=t.clock, sleep=t.sleep, rng=random.Random(7))
    backoff.start()
    while backoff.wait():
        pass
    assert backoff.attempts == 6 and len(t.slept) == 5
    for delay, nominal in zip(t.slept, [1, 2, 4, 8, 8], strict=True):
        assert nominal * 0.75 <= delay <= nominal * 1.25
    assert len(set(t.slept)) == 5  # jittered

    t2 = FakeTime()
    short = Backoff(BackoffPolicy(initial=1, factor=2, cap=100, jitter=0, max_attempts=100, max_total=10),
                    clock=t2.clock, sleep=t2.sleep)
    short.start()
    while short.wait():
        pass
    assert t2.now <= 10 and t2.slept == [1, 2, 4]  # the next (8 s) would pass the 10 s total


def test_backoff_reset_starts_over_and_describe() -> None:
    t = FakeTime()
    backoff = Backoff(BackoffPolicy(initial=1, jitter=0), clock=t.clock, sleep=t.sleep)
    assert backoff.next_delay() == 1 and backoff.next_delay() == 2
    backoff.reset()
    assert backoff.next_delay() == 1
    assert "attempt(s)" in backoff.describe()
    with pytest.raises(ValueError):
        BackoffPolicy(max_attempts=0)
