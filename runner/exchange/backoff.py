"""Exponential backoff with jitter, bounded both in attempts and in total time.

Why both bounds: a CI job must end (total time), and a flapping network must not be hammered
forever at the cap (attempts). Jitter spreads the retries of many runners that lost the same
exchange at the same instant, so they do not all come back in the same millisecond.

QFEX publishes no reconnection policy; its CLI doubles from 1 s to a 30 s cap, a third-party
client uses 0.5 s → 15 s with ±30 % jitter (qfex-api.md §7.2). The defaults sit between the two.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BackoffPolicy:
    """How long to wait between attempts, and when to give up."""

    initial: float = 0.5
    """Delay before the second attempt, in seconds."""
    factor: float = 2.0
    cap: float = 15.0
    """No single delay exceeds this (before jitter)."""
    jitter: float = 0.3
    """Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]."""
    max_attempts: int = 8
    """Attempts in all, the first one included (>= 1)."""
    max_total: float = 120.0
    """Seconds from the first attempt after which no new attempt is started."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial < 0 or self.cap < 0 or self.max_total < 0:
            raise ValueError("backoff delays must not be negative")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def nominal_delay(self, retry: int) -> float:
        """The un-jittered delay before retry number `retry` (1 = the first retry)."""
        return min(self.cap, self.initial * self.factor ** (retry - 1))


@dataclass
class Backoff:
    """One retry sequence: `for delay in backoff.delays(): ...` or `backoff.next_delay()`.

    `clock`, `sleep` and `rng` are injectable so tests need no real time.
    """

    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    _started: float | None = field(default=None, init=False)
    _attempts: int = field(default=0, init=False)

    @property
    def attempts(self) -> int:
        """Attempts started so far."""
        return self._attempts

    def start(self) -> None:
        """Count the first attempt (call once, before it)."""
        self._started = self.clock()
        self._attempts = 1

    def next_delay(self) -> float | None:
        """The delay before the next attempt, or None when a bound says to give up.

        Counts the attempt: call it once per failure.
        """
        if self._started is None:
            self.start()
        if self._attempts >= self.policy.max_attempts:
            return None
        elapsed = self.clock() - self._started  # type: ignore[operator]
        remaining = self.policy.max_total - elapsed
        if remaining <= 0:
            return None
        nominal = self.policy.nominal_delay(self._attempts)
        spread = self.policy.jitter
        delay = nominal * self.rng.uniform(1 - spread, 1 + spread)
        if delay >= remaining:
            return None
        self._attempts += 1
        return delay

    def wait(self) -> bool:
        """Sleep before the next attempt; False (without sleeping) when it is time to give up."""
        delay = self.next_delay()
        if delay is None:
            return False
        self.sleep(delay)
        return True

    def delays(self) -> Iterator[float]:
        """Every delay until a bound is reached (the caller sleeps)."""
        while (delay := self.next_delay()) is not None:
            yield delay

    def reset(self) -> None:
        """After a success: the next failure starts a fresh sequence (as QFEX's CLI does)."""
        self._started = None
        self._attempts = 0

    def describe(self) -> str:
        """Human summary of how much was tried, for messages like "gave up after ..."."""
        elapsed = 0.0 if self._started is None else self.clock() - self._started
        return f"{self._attempts} attempt(s) over {elapsed:.1f}s"
