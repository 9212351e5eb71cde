"""Fault injection for client tests: latency, dropped connections, ServerError replies, stalls.

All off by default. Decisions are deterministic (seeded) so a failing client test replays:

- latency: every frame, in each direction, is held `latency_ms` before it is processed / sent;
  a constant delay on a FIFO keeps order (nothing is reordered).
- drop: after the N-th inbound frame of a connection (auth included) the TCP connection is
  aborted without a close frame — by default after the engine processed that frame but before
  its replies are written, which is exactly the "crash between send and answer" a client must
  survive without placing an order twice. `drop_times` bounds how many connections get dropped
  over the server's life (default 1, so a reconnecting client then proceeds).
- error_rate: an authenticated command is answered `err` `ServerError` with probability p and is
  not executed ("safe to retry after a short delay" [D:/websocket/errors]).
- stall: after the N-th inbound frame the connection stops answering for `stall_seconds` (or
  until it closes), then resumes in order; protocol pongs still flow (the OS and websockets
  answer them), so a client sees an open socket that says nothing.
"""

from __future__ import annotations

import asyncio
import math
import random
from typing import Generic, TypeVar

from runner.simulator.server_config import FaultConfig

T = TypeVar("T")


class FaultInjector:
    """Server-wide fault decisions; per-connection counts are passed in by the server."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self.drops = 0

    @property
    def latency_s(self) -> float:
        return max(0.0, self.config.latency_ms) / 1000.0

    def should_drop(self, inbound_count: int) -> bool:
        """True once, on the N-th inbound frame of a connection, while drops remain."""
        cfg = self.config
        if cfg.drop_after_messages is None or inbound_count != cfg.drop_after_messages:
            return False
        if cfg.drop_times and self.drops >= cfg.drop_times:
            return False
        self.drops += 1
        return True

    def stall_seconds(self, inbound_count: int) -> float | None:
        """Seconds to stall before handling this frame (math.inf = until close), or None."""
        cfg = self.config
        if cfg.stall_after_messages is None or inbound_count != cfg.stall_after_messages + 1:
            return None
        return math.inf if cfg.stall_seconds is None else max(0.0, cfg.stall_seconds)

    def server_error(self) -> bool:
        rate = self.config.error_rate
        return rate > 0 and self._rng.random() < rate


class DelayLine(Generic[T]):
    """A FIFO whose items come out `delay` seconds after they went in (order preserved)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._queue: asyncio.Queue[tuple[float, T]] = asyncio.Queue()

    def put(self, item: T) -> None:
        self._queue.put_nowait((asyncio.get_running_loop().time() + self.delay, item))

    async def get(self) -> T:
        due, item = await self._queue.get()
        wait = due - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        return item
