"""Shared kit of the exactly-once tests: a local exchange that counts every order it accepts per
client_order_id (and can SIGKILL the runner at the k-th), and the runner as a real subprocess.

"Exists exactly once" is measured at the exchange, not by the runner: `CountingExchange` wraps the
engine's public `handle` and records every `ACK` of a newly accepted order, so an order that was
placed and later cancelled or filled still counts. Rejected orders never existed and do not count.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner.jsonnum import loads
from runner.playbook.ids import Leg, client_order_id
from runner.simulator import Simulator
from runner.simulator.config import EngineConfig, dialect_fields
from runner.simulator.engine import Exchange
from runner.simulator.server_config import DIALECT_COMPAT, CompatOptions, FaultConfig, ServerConfig
from runner.state.journal import JOURNAL_SUFFIX, identity_slug

NAME, RUN_ID = "eo", "r1"

#: Five orders of every kind the runner places: a resting bid, a market buy that fills (waited
#: for), a resting offer, a standalone take-profit on the bought position, a bid with attached exits.
ORDERS = """\
  - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 220.00}
  - {id: b, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: 0.5, wait: fill, expect: filled}
  - {id: c, symbol: AAPL-USD, side: SELL, type: LIMIT, quantity: 0.5, price: 240.00}
  - {id: d, symbol: AAPL-USD, side: SELL, type: TAKE_PROFIT, quantity: 0.5, price: 250.00, reduce_only: true}
  - {id: e, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 219.00,
     bracket: {take_profit: 240.00, stop_loss: 210.00}}
"""
ORDER_IDS = ("a", "b", "c", "d", "e")

#: A resting bid whose fill the runner waits for: the "mid-wait" crash point.
WAITING = "  - {id: w, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 225.00, wait: fill, " \
          "expect: filled}\n"


def coid(order_id: str) -> str:
    return client_order_id(NAME, RUN_ID, order_id, Leg.ENTRY)


def write_playbook(directory: Path, orders: str = ORDERS, *, extra: str = "") -> Path:
    path = directory / "eo.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        name: {NAME}
        run_id: "{RUN_ID}"
        on_reject: stop
        defaults:
          time_in_force: GTC
        """) + extra + "orders:\n" + orders)
    return path


class CountingExchange(Exchange):
    """The real engine, plus a tally of accepted orders per client_order_id and a kill switch."""

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.accepted: dict[str, list[str]] = defaultdict(list)
        self.total = 0
        self._trigger: tuple[int, Callable[[], None]] | None = None

    def on_accept_count(self, count: int, action: Callable[[], None]) -> None:
        """Run `action` (on the exchange's thread, before the answer goes out) at the count-th accept."""
        self._trigger = (count, action)

    def handle(self, session: Any, msg_type: str, params: dict) -> list:
        out = super().handle(session, msg_type, params)
        if msg_type == "add_order":
            wanted = params.get("client_order_id")
            for outbound in out:
                reply = outbound.message.get("order_response")
                if reply and reply.get("status") == "ACK" and reply.get("client_order_id") == wanted \
                        and reply.get("type") == params.get("order_type") \
                        and reply.get("order_id") not in self.accepted[wanted]:
                    self.accepted[wanted].append(reply["order_id"])
                    self.total += 1
                    if self._trigger is not None and self.total == self._trigger[0]:
                        action, self._trigger = self._trigger[1], None
                        action()
                    break
        return out


class Harness:
    """One standalone local exchange (Simulator API, loopback) and helpers to run the runner at it."""

    def __init__(self, directory: Path, *, speed_bump_ms: int = 0, faults: FaultConfig | None = None,
                 orders: str = ORDERS, extra: str = "", dialect: str = "live") -> None:
        self.directory = directory
        self.dialect = dialect  # QFEX's reply shapes the exchange speaks (tests/acceptance/conftest.py)
        self.exchange = CountingExchange(EngineConfig(speed_bump_ms=speed_bump_ms, **dialect_fields(dialect)))
        server = ServerConfig(compat=CompatOptions(**DIALECT_COMPAT[dialect]))
        self.sim = Simulator(exchange=self.exchange, faults=faults, server_config=server).start()
        self.playbook = write_playbook(directory, orders, extra=extra)
        self.state_dir = directory / "state"
        self.runs = 0

    def stop(self) -> None:
        self.sim.stop()

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "QFEX_PUBLIC_KEY": self.sim.public_key, "QFEX_SECRET_KEY": self.sim.secret_key}

    def command(self, *extra: str) -> list[str]:
        self.runs += 1
        report_dir = self.directory / f"report-{self.runs}"
        return [sys.executable, "-m", "runner", "run", str(self.playbook), "--url", self.sim.url,
                "--state-dir", str(self.state_dir), "--report-dir", str(report_dir),
                "--timeout", "5", "--format", "json", "--no-progress", *extra]

    def spawn(self, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*extra), env=self.env, cwd=self.directory,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*extra), env=self.env, cwd=self.directory, capture_output=True,
                              text=True, timeout=timeout)

    def run_killed_at(self, accepted: int, *extra: str) -> subprocess.Popen:
        """Start the runner and SIGKILL it when the exchange accepts its `accepted`-th order in all
        (counting earlier runs), before that order's answer is written: a crash between send and answer.
        Returns the finished process (it may also end by itself if it never gets that far)."""
        proc = self.spawn(*extra)

        def kill() -> None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)  # dead before the exchange writes the answer

        self.sim.call(lambda ex: ex.on_accept_count(accepted, kill))
        proc.communicate(timeout=60)
        self.sim.call(lambda ex: ex.on_accept_count(0, lambda: None))  # disarm
        return proc

    def counts(self) -> dict[str, int]:
        return self.sim.call(lambda ex: {c: len(ids) for c, ids in ex.accepted.items()})

    def total(self) -> int:
        return self.sim.call(lambda ex: ex.total)

    def duplicates(self) -> dict[str, int]:
        return {c: n for c, n in self.counts().items() if n > 1}

    def forget_journal(self) -> None:
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def journal_lines(self) -> list[dict]:
        path = self.state_dir / (identity_slug(NAME, RUN_ID) + JOURNAL_SUFFIX)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return []
        lines = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):  # a torn tail while the runner writes
                lines.append(loads(line))
        return lines

    def wait_for_journal(self, predicate: Callable[[dict], bool], timeout: float = 10.0) -> None:
        """Block until a journal line satisfies `predicate` (the runner recorded something)."""
        deadline = time.monotonic() + timeout
        while not any(predicate(line) for line in self.journal_lines()):
            if time.monotonic() > deadline:
                raise AssertionError("the runner never recorded the awaited journal line")
            time.sleep(0.01)

    def set_mid(self, price: str) -> None:
        self.sim.call(lambda ex: ex.set_mid("AAPL-USD", Decimal(price)))


def run_in_process_at(harness: Harness, url: str | None = None, **options: Any) -> Any:
    """Run the playbook in this process against the harness's exchange (or `url`, e.g. a proxy)."""
    from runner.run.engine import run_playbook
    from runner.run.options import RunOptions

    harness.runs += 1
    options.setdefault("timeout", 5.0)
    return run_playbook(RunOptions(
        playbook=str(harness.playbook), url=url or harness.sim.url, handle_sigint=False,
        env={"QFEX_PUBLIC_KEY": harness.sim.public_key, "QFEX_SECRET_KEY": harness.sim.secret_key},
        state_dir=str(harness.state_dir), report_dir=str(harness.directory / f"report-{harness.runs}"),
        runs_base=str(harness.directory / "runs"), **options))


def journal_file(harness: Harness) -> Path:
    return harness.state_dir / (identity_slug(NAME, RUN_ID) + JOURNAL_SUFFIX)


def when_accepted(harness: Harness, count: int) -> threading.Event:
    """An Event set when the exchange accepts its count-th order."""
    event = threading.Event()
    harness.sim.call(lambda ex: ex.on_accept_count(count, event.set))
    return event


def outcome_of(completed: Any) -> dict:
    """The JSON summary a finished `run --format json` printed."""
    return loads(completed.stdout)
