"""Issue 13, defect 1: an `err` the exchange did not tie to an order never judges one.

A proxy between the runner and the counting exchange answers the first `add_order` with a bare
`err` (no `incoming_message`) and forwards the order only later, so its real ACK comes after the
error. Before the fix the error was pinned on the order, the journal said "rejected", and the
re-run sent the order again: a MARKET order filled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from runner.exit_codes import ExitCode
from tests.acceptance.exactly_once_kit import Harness, coid, run_in_process_at

MARKET = "  - {id: m, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: 0.5}\n"


class BareErrorProxy:
    """Forwards frames both ways; the first `add_order` gets a bare `err` at once and reaches the
    exchange only `delay` seconds later (whatever became of the runner's connection by then)."""

    def __init__(self, upstream: str, delay: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay = delay
        self.tricked = False
        self.loop = asyncio.new_event_loop()
        self.pending: list[asyncio.Task[None]] = []
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self.server = await serve(self._relay, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            await self.server.serve_forever()

        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(main())

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def _relay(self, client: ServerConnection) -> None:
        path = client.request.path if client.request is not None else "/"
        async with connect(self.upstream + path, max_size=None) as upstream:
            async def down() -> None:
                async for frame in upstream:
                    await client.send(frame)

            downstream = asyncio.create_task(down())
            try:
                async for frame in client:
                    message = json.loads(frame)
                    if message.get("type") == "add_order" and not self.tricked:
                        self.tricked = True
                        await client.send(json.dumps({"err": {"error_code": "InvalidOrder",
                                                              "message": "something went wrong"}}))
                        self.pending.append(asyncio.create_task(self._late(upstream, frame)))
                        continue
                    await upstream.send(frame)
            except Exception:  # the runner dropped its connection
                pass
            finally:
                await asyncio.gather(*self.pending, return_exceptions=True)
                downstream.cancel()

    async def _late(self, upstream: Any, frame: str | bytes) -> None:
        await asyncio.sleep(self.delay)
        await upstream.send(frame)
        await asyncio.sleep(0.3)  # the exchange processes it before this connection closes

    def stop(self) -> None:
        async def shut() -> None:
            self.server.close()

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(5)
        self.thread.join(5)


def run_through(harness: Harness, url: str) -> Any:
    return run_in_process_at(harness, url, timeout=2.0)


@pytest.fixture
def harness(tmp_path: Path, dialect: str) -> Iterator[Harness]:
    made = Harness(tmp_path, dialect=dialect, orders=MARKET)
    yield made
    made.stop()


@pytest.mark.parametrize("delay", [0.5, 4.0], ids=["ack-within-timeout", "ack-after-the-run"])
def test_a_bare_err_before_the_ack_never_places_an_order_twice(harness: Harness, delay: float) -> None:
    proxy = BareErrorProxy(harness.sim.url, delay)
    try:
        first = run_through(harness, proxy.url)
        assert proxy.tricked
        end = time.monotonic() + delay + 2.0
        while harness.counts().get(coid("m"), 0) < 1 and time.monotonic() < end:
            time.sleep(0.05)  # the late order reaches the exchange
        second = run_through(harness, proxy.url)
        assert harness.counts() == {coid("m"): 1}, "placed more than once"
        assert any("not tied to an order" in w for w in first.warnings), first.warnings
        assert first.exit_code in (ExitCode.OK, ExitCode.ABORTED), first.report.summary.message
        assert second.exit_code is ExitCode.OK, second.report.summary.message
        assert second.report.orders[0].outcome.value == "already_placed"
        assert harness.counts() == {coid("m"): 1}
    finally:
        proxy.stop()
