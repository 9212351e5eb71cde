"""QFEX's per-user message rate limit, as documented [D:/websocket/rate.md].

"12,000 weight units per 60 seconds", enforced with an exponential moving average of the
weighted message rate, per user across all connections, in two independent buckets (general
and cancel). The page gives no formula, so this is the reading that honours both sentences:

    load(t) = load(t0) * exp(-(t - t0) / window) + weight        (units)

i.e. an EMA of the rate with time constant `window`, scaled by `window` (rate = load / window).
A fresh user may burst 12,000 units at once, and a steady 200 units/s (12,000 / 60 s) holds
the load at exactly the limit. "If your EMA rises above the allowed threshold for a bucket, the
next message for that bucket is rejected": a message is refused while the decayed load is above
the limit; the message that crosses it is still accepted. Refused messages add nothing (a
client retrying too early is not punished twice). The retry-after hint is the time until the
load decays back to the limit: window * ln(load / limit).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from runner.simulator.server_config import RateLimitConfig

#: Current weights [D:/websocket/rate.md] ("Limits and weights may change over time").
WEIGHTS: dict[str, float] = {
    "add_order": 1.0,
    "cancel_order": 1.0,
    "modify_order": 1.0,
    "get_order": 2.0,
    "get_user_orders": 5.0,
    "cancel_all_orders": 2.0,
    "get_user_trades": 0.5,
    "subscribe": 0.1,
    "unsubscribe": 0.1,
    "get_user_leverage": 0.1,
    "get_available_leverage_levels": 0.1,
    "set_user_leverage": 0.1,
    "cancel_stop_order": 1.0,
    "modify_stop_order": 1.0,
    "cancel_on_disconnect": 0.1,
}

#: "Cancel bucket for cancel-related messages" — which ones is not listed; these three only
#: remove risk, so they get the separate budget (cancel_on_disconnect is a setting, not a cancel).
CANCEL_BUCKET: frozenset[str] = frozenset({"cancel_order", "cancel_all_orders", "cancel_stop_order"})

GENERAL = "general"
CANCEL = "cancel"


class EmaBucket:
    """One user's load in one bucket; time comes in as an argument so tests control it."""

    __slots__ = ("limit", "load", "stamp", "window")

    def __init__(self, limit: float, window: float) -> None:
        self.limit = limit
        self.window = window
        self.load = 0.0
        self.stamp: float | None = None

    def decayed(self, now: float) -> float:
        if self.stamp is None:
            return 0.0
        elapsed = max(0.0, now - self.stamp)
        return self.load * math.exp(-elapsed / self.window)

    def offer(self, weight: float, now: float) -> float | None:
        """Accept (returns None) or refuse (returns seconds until a retry is accepted)."""
        load = self.decayed(now)
        if load > self.limit:
            return self.window * math.log(load / self.limit)
        self.load = load + weight
        self.stamp = now
        return None


@dataclass(frozen=True)
class Decision:
    accepted: bool
    bucket: str
    weight: float
    retry_after_s: float = 0.0


class RateLimiter:
    """Per-user buckets shared by every connection of that user."""

    def __init__(self, config: RateLimitConfig | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or RateLimitConfig()
        self.clock = clock
        self.weights = dict(WEIGHTS if self.config.weights is None else self.config.weights)
        self._buckets: dict[tuple[str, str], EmaBucket] = {}

    def weight(self, msg_type: str) -> float:
        return self.weights.get(msg_type, self.config.default_weight)

    @staticmethod
    def bucket_of(msg_type: str) -> str:
        return CANCEL if msg_type in CANCEL_BUCKET else GENERAL

    def check(self, user_id: str, msg_type: str) -> Decision:
        """Charge one message of `msg_type` to `user_id`, or say when to retry."""
        bucket_name = self.bucket_of(msg_type)
        key = (user_id, bucket_name)
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = self.config.cancel_limit_units if bucket_name == CANCEL else self.config.limit_units
            bucket = self._buckets[key] = EmaBucket(limit, self.config.window_s)
        weight = self.weight(msg_type)
        retry = bucket.offer(weight, self.clock())
        if retry is None:
            return Decision(True, bucket_name, weight)
        return Decision(False, bucket_name, weight, retry)

    def load(self, user_id: str, bucket: str = GENERAL) -> float:
        """Current decayed load (units) — for tests and diagnostics."""
        found = self._buckets.get((user_id, bucket))
        return found.decayed(self.clock()) if found else 0.0
