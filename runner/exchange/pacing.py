"""Client-side pacing with QFEX's rate-limit weights, so the exchange never has to say no.

QFEX limits each user to 12,000 weight units per 60 s (200 units/s), measured as an exponential
moving average (EMA) of the weighted message rate, in two independent buckets: cancels, and
everything else (qfex-api.md §7.1, [D:/websocket/rate.md]). The page gives no formula; read as an
EMA of the rate with the 60 s window as its time constant (as the local exchange reads it), a
fresh user may burst 12,000 units and then sustain 200 units/s. The pacer keeps the same EMA of
what *this* process sent and holds a message back whenever sending it would lift that estimate
above 90 % of the budget: a burst of about 10,800 units passes untouched, then messages are
spaced to 180 units/s. The margin is for other connections of the same user (the budget is per
user) and for clock skew. A `RateLimited` answer can still happen (another process may be using
the budget): the caller reports it here (`note_rate_limited`) and re-sends after a backoff; it
is never a rejection of the order.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from runner.exchange.protocol import ErrorReply


class Bucket(str, Enum):
    GENERAL = "general"
    CANCEL = "cancel"


#: QFEX's current weights per message type [D:/websocket/rate.md]. Types not listed weigh
#: DEFAULT_WEIGHT (the heaviest common one), so an unknown message never sneaks past the pacer.
WEIGHTS: Mapping[str, float] = {
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
DEFAULT_WEIGHT = 5.0

#: "cancel-related messages" go to the separate cancel bucket.
CANCEL_TYPES = frozenset({"cancel_order", "cancel_all_orders", "cancel_stop_order"})

#: The limit applies to messages after authentication; the auth message itself is not paced.
UNPACED_TYPES = frozenset({"auth"})


_NEGLIGIBLE = 1e-6


def weight_of(msg_type: str) -> float:
    return WEIGHTS.get(msg_type, DEFAULT_WEIGHT)


def bucket_of(msg_type: str) -> Bucket:
    return Bucket.CANCEL if msg_type in CANCEL_TYPES else Bucket.GENERAL


@dataclass(frozen=True)
class PacingPolicy:
    budget_units: float = 12_000.0
    window_seconds: float = 60.0
    target_fraction: float = 0.9
    """Share of QFEX's budget this process allows itself."""
    time_constant: float = 60.0
    """Seconds over which the EMA forgets: QFEX's window (sets the size of a burst that passes unpaced)."""
    rate_limited_hold: float = 1.0
    """Seconds a bucket stays closed after a RateLimited answer that carries no retry-after hint."""

    @property
    def target_rate(self) -> float:
        """Units per second the pacer aims to stay under."""
        return self.budget_units / self.window_seconds * self.target_fraction


class _Ema:
    """Exponentially weighted rate estimate in units/s: sending w adds w/tau, then it decays."""

    __slots__ = ("at", "rate")

    def __init__(self) -> None:
        self.rate = 0.0
        self.at = 0.0

    def value(self, now: float, tau: float) -> float:
        if self.rate == 0.0:
            return 0.0
        return self.rate * math.exp(-(now - self.at) / tau)

    def add(self, now: float, units: float, tau: float) -> None:
        self.rate = self.value(now, tau) + units / tau
        self.at = now


class Pacer:
    """Holds each message back just long enough to keep this process's rate under the target."""

    def __init__(self, policy: PacingPolicy | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.policy = policy or PacingPolicy()
        self._clock = clock
        self._sleep = sleep
        self._ema = {bucket: _Ema() for bucket in Bucket}
        self._closed_until = dict.fromkeys(Bucket, 0.0)
        self._lock = threading.Lock()
        self.waited_seconds = 0.0
        """Total time spent held back (for the report and the bench)."""
        self.rate_limited_count = 0

    def delay_for(self, msg_type: str, now: float | None = None) -> float:
        """Seconds to wait before `msg_type` may be sent (0 when it may go now). Records nothing."""
        if msg_type in UNPACED_TYPES:
            return 0.0
        now = self._clock() if now is None else now
        bucket = bucket_of(msg_type)
        tau = self.policy.time_constant
        closed = max(0.0, self._closed_until[bucket] - now)
        current = self._ema[bucket].value(now, tau)
        threshold = self.policy.target_rate - weight_of(msg_type) / tau
        if threshold <= 0:  # a single message heavier than a whole burst: wait until nearly idle
            threshold = self.policy.target_rate * 0.01
        ema_wait = tau * math.log(current / threshold) if current > threshold else 0.0
        return max(closed, ema_wait)

    def acquire(self, msg_type: str) -> float:
        """Wait until `msg_type` may be sent, then count it. Returns the seconds waited."""
        if msg_type in UNPACED_TYPES:
            return 0.0
        waited = 0.0
        with self._lock:
            # re-check after sleeping (a RateLimited may have closed the bucket meanwhile); delays
            # below a microsecond are float noise, not a reason to sleep again
            while (delay := self.delay_for(msg_type)) > _NEGLIGIBLE:
                self._sleep(delay)
                waited += delay
            self._ema[bucket_of(msg_type)].add(self._clock(), weight_of(msg_type), self.policy.time_constant)
            self.waited_seconds += waited
        return waited

    def note_rate_limited(self, msg_type: str, retry_after: float | None = None) -> None:
        """The exchange said RateLimited: close the bucket for the hinted time and assume it is full."""
        with self._lock:
            now = self._clock()
            bucket = bucket_of(msg_type)
            hold = self.policy.rate_limited_hold
            if retry_after is not None and retry_after > 0:
                hold = retry_after
            self._closed_until[bucket] = max(self._closed_until[bucket], now + hold)
            ema = self._ema[bucket]
            ema.rate = max(ema.value(now, self.policy.time_constant), self.policy.target_rate)
            ema.at = now
            self.rate_limited_count += 1


_HINT_KEYS = ("retry_after", "retry_after_secs", "retry_after_seconds", "retry_after_ms")
_HINT_TEXT = re.compile(
    r"retry[ _-]?after\D{0,5}(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|secs|seconds?)?", re.I)


def retry_after_hint(err: Mapping[str, Any]) -> float | None:
    """The retry-after hint of a RateLimited `err` payload, in seconds, if one can be found.

    QFEX documents that the error carries a hint but not its field name or unit, so this looks
    for the obvious field names and for "retry after N[ms|s]" in the message; None otherwise.
    """
    for key in _HINT_KEYS:
        value = err.get(key)
        if isinstance(value, (int, float)) or (isinstance(value, str) and _is_number(value)):
            seconds = float(value)
            return seconds / 1000.0 if key.endswith("_ms") else seconds
        if isinstance(value, Decimal):  # numbers come as Decimal from runner.jsonnum
            seconds = float(value)
            return seconds / 1000.0 if key.endswith("_ms") else seconds
    message = err.get("message")
    if isinstance(message, str) and (match := _HINT_TEXT.search(message)):
        seconds = float(match.group(1))
        unit = (match.group(2) or "s").lower()
        return seconds / 1000.0 if unit.startswith("m") else seconds
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@runtime_checkable
class Paced(Protocol):
    """A session that paces what it sends (`ReconnectingSession`); a bare `TradeSession` does not."""

    pacer: Pacer | None


def rate_limit_callback(session: object) -> Callable[[str, ErrorReply], None] | None:
    """What a lookup calls when QFEX says RateLimited: slow the session's pacer down (None: no pacer)."""
    pacer = session.pacer if isinstance(session, Paced) else None
    if pacer is None:
        return None
    return lambda msg_type, err: pacer.note_rate_limited(msg_type, retry_after_hint(err.raw))
