"""`Simulator`: the local exchange in a background thread, for tests and `run --target sim`.

    with Simulator(EngineConfig(speed_bump_ms=0)) as sim:
        connect(sim.url)  # ws://127.0.0.1:<port>/ ; login with sim.public_key / sim.secret_key
        sim.call(lambda ex: ex.set_mid("AAPL-USD", Decimal("250")))

The server runs on its own asyncio loop in a daemon thread; `call` is the one safe way to touch
the engine from another thread (it runs the function on the loop and waits for the result).
Nothing here imports `websockets` until `start()`, so `import runner.simulator` stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from runner.simulator.server_config import FaultConfig, RateLimitConfig, ServerConfig

if TYPE_CHECKING:
    import asyncio

    from runner.simulator.config import AccountConfig, EngineConfig
    from runner.simulator.server import Engine, ExchangeServer

T = TypeVar("T")


class SimulatorError(RuntimeError):
    """The simulator could not start (port in use, bad configuration) or a call into it failed."""


class Simulator:
    """A running local QFEX-compatible exchange (trade and market-data WebSockets + `GET /refdata`
    on one port)."""

    def __init__(self, engine_config: EngineConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 latency_ms: float = 0, rate_limit: bool | None = None, faults: FaultConfig | None = None,
                 server_config: ServerConfig | None = None, exchange: Engine | None = None,
                 start_timeout_s: float = 10.0) -> None:
        """`server_config` gives every server option; the keyword shortcuts override its fields.

        `rate_limit`: None keeps `server_config`'s setting (QFEX's limit by default), True forces the
        limit on, False turns it off. `exchange` injects a ready-made engine object (tests of the
        server use a stand-in).
        """
        config = server_config or ServerConfig()
        fault_config = faults or config.faults
        if latency_ms:
            fault_config = dataclasses.replace(fault_config, latency_ms=latency_ms)
        self.server_config = dataclasses.replace(
            config, host=host, port=port, faults=fault_config,
            rate_limit=config.rate_limit if rate_limit is None
            else (config.rate_limit or RateLimitConfig()) if rate_limit else None)
        self.engine_config = engine_config
        self._exchange = exchange
        self._start_timeout_s = start_timeout_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ExchangeServer | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.port: int | None = None

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Start listening in a background thread; returns once connections are accepted."""
        if self._thread is not None:
            return self
        exchange = self._exchange if self._exchange is not None else self._build_exchange()
        self._exchange = exchange
        self._thread = threading.Thread(target=self._run, args=(exchange,), name="qfex-simulator",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout_s):
            raise SimulatorError("the simulator did not start in time")
        if self._failure is not None:
            self._thread.join(1)
            self._thread = None
            raise SimulatorError(f"the simulator could not start: {self._failure}") from self._failure
        return self

    def _build_exchange(self) -> Engine:
        from runner.simulator.config import EngineConfig
        from runner.simulator.engine import Exchange

        config = self.engine_config if self.engine_config is not None else EngineConfig()
        self.engine_config = config
        return Exchange(config)

    def _run(self, exchange: Engine) -> None:
        import asyncio

        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(exchange))
        except BaseException as exc:  # surfaced to start() or stop()
            self._failure = exc
            self._ready.set()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self, exchange: Engine) -> None:
        import asyncio

        from runner.simulator.server import ExchangeServer

        self._stop = asyncio.Event()
        server = ExchangeServer(exchange, self.server_config)
        self.port = await server.start()
        self._server = server
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.close()

    def stop(self) -> None:
        """Close every connection and the listening socket; idempotent."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses and credentials -------------------------------------------------------------
    @property
    def url(self) -> str:
        """The trade WebSocket, e.g. `ws://127.0.0.1:54321/`."""
        return f"ws://{self._host_for_url()}:{self._require_port()}/"

    @property
    def mds_url(self) -> str:
        """The market-data WebSocket, e.g. `ws://127.0.0.1:54321/mds` (QFEX: `wss://mds.qfex.com/`)."""
        return f"ws://{self._host_for_url()}:{self._require_port()}/mds"

    @property
    def http_url(self) -> str:
        """The REST base, e.g. `http://127.0.0.1:54321` (`GET /refdata` lives here)."""
        return f"http://{self._host_for_url()}:{self._require_port()}"

    @property
    def public_key(self) -> str:
        return self._first_account().public_key

    @property
    def secret_key(self) -> str:
        return self._first_account().secret_key

    @property
    def exchange(self) -> Engine | None:
        """The engine object — only touch it through `call` while the simulator runs."""
        return self._exchange

    @property
    def server(self) -> ExchangeServer:
        if self._server is None:
            raise SimulatorError("the simulator is not running")
        return self._server

    def _first_account(self) -> AccountConfig:
        accounts = getattr(self.engine_config, "accounts", None)
        if not accounts:  # an injected engine brings its own configuration
            accounts = getattr(getattr(self._exchange, "config", None), "accounts", None)
        if not accounts:
            raise SimulatorError("the simulator has no accounts configured")
        first: AccountConfig = accounts[0]
        return first

    def _require_port(self) -> int:
        if self.port is None:
            raise SimulatorError("the simulator is not running; call start() first")
        return self.port

    def _host_for_url(self) -> str:
        host = self.server_config.host
        if host in ("", "0.0.0.0"):
            return "127.0.0.1"
        if host == "::":
            return "[::1]"
        return f"[{host}]" if ":" in host else host

    # --- reaching into the running exchange ----------------------------------------------------
    def call(self, fn: Callable[[Any], T], timeout: float = 10.0) -> T:
        """Run `fn(exchange)` on the simulator's loop and return its result.

        Events the function returns (a list of `Outbound`) are delivered to the connections,
        and the engine's timers are re-armed, so `sim.call(lambda ex: ex.set_mark(...))` behaves
        like a market move.
        """
        loop = self._loop
        if loop is None or self._server is None or self._thread is None:
            raise SimulatorError("the simulator is not running")
        server = self._server
        import asyncio

        async def run() -> T:
            return server.call(fn)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "not started"
        return f"<Simulator {where}>"
