"""`qfex-runner sim`: the local exchange in the foreground, from the command's options to Ctrl-C.

The command line only parses options; turning them into configurations, the banner it prints
once listening, and the signal handling live here, next to the exchange they describe.

    serve_forever(config_from_options(port=8765, ...), announce=print)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from runner.errors import UsageError
from runner.simulator.config import DEMO_SECRET_KEY, EngineConfig, load_accounts_file
from runner.simulator.server_config import FaultConfig, RateLimitConfig, ServerConfig, split_compat
from runner.simulator.wire import JsonObject


@dataclass(frozen=True)
class StandaloneConfig:
    """What a standalone exchange serves with, and the --compat names as given (the banner repeats them)."""

    engine: EngineConfig
    server: ServerConfig
    compat_names: tuple[str, ...] = ()
    dialect: str = "live"


def config_from_options(*, host: str, port: int, refdata_file: str | None = None,
                        scenario_file: str | None = None, accounts_file: str | None = None, seed: int = 0,
                        speed_bump_ms: int = 100, latency_ms: float = 0, no_rate_limit: bool = False,
                        drop_after: int | None = None, error_rate: float = 0, stall_after: int | None = None,
                        stall_seconds: float | None = None, auth_timeout: float = 60,
                        dialect: str = "live", compat: Iterable[str] = (),
                        session: str = "open", twap_speed: float = 1.0,
                        clock_speed: float = 1.0) -> StandaloneConfig:
    """The engine and server configurations for `qfex-runner sim`'s options.

    Raises UsageError for an unknown --compat name or an unreadable reference data, accounts or
    scenario file, so the command exits 2 with one line.
    """
    try:
        compat_options, engine_compat = split_compat(compat, dialect)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    engine = EngineConfig(seed=seed, speed_bump_ms=speed_bump_ms, session=session, twap_speed=twap_speed)
    if clock_speed != 1.0:
        from runner.simulator.config import FastClock

        engine.clock = FastClock(clock_speed)
    if refdata_file:
        engine.refdata = load_refdata_rows(refdata_file)
    if accounts_file:
        engine.accounts = load_accounts_file(accounts_file)
    if scenario_file:
        from runner.simulator.scenario import load_scenario_file

        engine.scenario = load_scenario_file(scenario_file)
    engine = dataclasses.replace(engine, **engine_compat)
    faults = FaultConfig(latency_ms=latency_ms, drop_after_messages=drop_after, error_rate=error_rate,
                         stall_after_messages=stall_after, stall_seconds=stall_seconds, seed=seed)
    server = ServerConfig(host=host, port=port, auth_timeout_s=auth_timeout, faults=faults,
                          compat=compat_options, rate_limit=None if no_rate_limit else RateLimitConfig())
    return StandaloneConfig(engine=engine, server=server, compat_names=tuple(compat), dialect=dialect)


def banner(config: StandaloneConfig, bound_port: int) -> str:
    """What a user needs to connect: URLs, credentials (never a user's own secret), and what is on."""
    engine, server, faults = config.engine, config.server, config.server.faults
    host = server.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    symbols = ", ".join(str(row.get("symbol", "?")) for row in engine.refdata)
    lines = [
        "qfex-runner sim: local QFEX-compatible exchange (simulated; never connected to QFEX)",
        f"  trade WebSocket  ws://{shown}:{bound_port}/",
        f"  market data      ws://{shown}:{bound_port}/mds",
        f"  reference data   http://{shown}:{bound_port}/refdata",
    ]
    for account in engine.accounts:
        demo = account.secret_key == DEMO_SECRET_KEY
        secret = account.secret_key if demo else "(from the accounts file)"
        lines.append(f"  credentials      public key {account.public_key}  secret key {secret}")
    faults_on = [name for name, on in (("latency", bool(faults.latency_ms)),
                                       ("drop", faults.drop_after_messages is not None),
                                       ("errors", bool(faults.error_rate)),
                                       ("stall", faults.stall_after_messages is not None)) if on]
    lines += [
        f"  symbols          {symbols}",
        f"  speed bump {engine.speed_bump_ms} ms; rate limit {'off' if server.rate_limit is None else 'on'}; "
        f"faults {', '.join(faults_on) or 'off'}; dialect {config.dialect}; session {engine.session}; "
        f"compat {', '.join(config.compat_names) or 'none'}"
        + (f"; TWAPs {engine.twap_speed:g}x faster" if engine.twap_speed != 1 else ""),
        *([f"  clock            {speed:g}x the wall clock (--clock-speed)"]
          if (speed := getattr(engine.clock, "speed", 1.0)) != 1.0 else []),
        "Ready. Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def load_refdata_rows(path: str) -> list[JsonObject]:
    """Reference data for the engine from a JSON file: QFEX's `GET /refdata` body or a bare list."""
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            body = json.load(handle)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read reference data: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    rows = body.get("data") if isinstance(body, dict) else body
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise UsageError(f"{path}: expected QFEX's /refdata body {{\"data\": [...]}} or a non-empty list "
                         "of symbol objects")
    return rows


def serve_forever(config: StandaloneConfig, announce: Callable[[str], None]) -> None:
    """Run the exchange in the foreground until SIGINT or SIGTERM, then close cleanly.

    `announce` receives the banner once the port is bound. Raises UsageError when the address
    cannot be bound (port in use, bad host).
    """
    import asyncio

    asyncio.run(_serve_until_signalled(config, announce))


async def _serve_until_signalled(config: StandaloneConfig, announce: Callable[[str], None]) -> None:
    import asyncio
    import signal

    from runner.simulator.engine import Exchange
    from runner.simulator.server import ExchangeServer

    server = ExchangeServer(Exchange(config.engine), config.server)
    try:
        bound_port = await server.start()
    except OSError as exc:
        where = f"{config.server.host}:{config.server.port}"
        raise UsageError(f"cannot listen on {where}: {exc.strerror or exc} (choose another --port/--host)") \
            from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        announce(banner(config, bound_port))
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.close()
