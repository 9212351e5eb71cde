"""`run --max-in-flight N` (runner.run.pipeline) against the real local exchange over loopback.

What must not change when orders are pipelined: the report (same content as a sequential run of
the same playbook, timings aside), playbook order at the exchange, barriers (`wait: fill`,
`after_fill`, `on_reject: stop`), the journal's intent-before-send rule, and exactly-once across
a SIGKILL (tests/acceptance/exactly_once_kit.py counts accepted orders at the exchange).
"""

from __future__ import annotations

import itertools
import os
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from runner.exit_codes import ExitCode
from runner.simulator import Simulator
from runner.simulator.config import EngineConfig
from runner.simulator.server_config import FaultConfig, RateLimitConfig, ServerConfig
from tests.acceptance.exactly_once_kit import NAME, RUN_ID, CountingExchange, Harness, coid
from tests.acceptance.run_kit import MARGIN_REJECT, MARKET, RESTING, order, outcomes, run, write_playbook

ATTACHED_BID = RESTING.replace("220.00", "217.00")
#: every kind of order and wait, with barriers in the middle, on_reject: continue
MIXED = [
    order("r1", RESTING),
    order("r2", RESTING.replace("220.00", "219.00")),
    order("rej", MARGIN_REJECT, expect="rejected"),
    order("none1", RESTING.replace("220.00", "218.00"), wait="none"),
    order("attached", ATTACHED_BID + "\nbracket: {take_profit: 240.00, stop_loss: 200.00}"),
    order("mkt", MARKET, wait="fill", expect="filled"),
    order("r3", RESTING.replace("220.00", "216.00")),
    order("af", MARKET + "\nbracket: {take_profit: 260.00, stop_loss: 200.00, mode: after_fill}"),
    order("r4", RESTING.replace("220.00", "215.00")),
    order("bad", MARGIN_REJECT),  # fails its expectation (accepted); the run continues
    *(order(f"tail{i}", RESTING.replace("220.00", f"{210 - i}.00")) for i in range(8)),
]

#: fields that are times, durations or exchange-generated ids (differ from one run to the next)
VOLATILE = {"at", "sent_at", "answered_at", "filled_at", "latency_ms", "fill_latency_ms", "started_at",
            "ended_at", "duration_s", "order_id", "trade_id", "path", "sha256", "url"}


def _content(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _content(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_content(v) for v in value]
    return value


def _stamp(text: str | None) -> float | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


@pytest.fixture
def fresh_sim(simulator_factory):
    """Identical fresh exchanges (same seed) for runs to be compared."""
    return lambda: simulator_factory(engine={"seed": 7})


def test_report_content_is_the_sequential_one(tmp_path: Path, fresh_sim) -> None:
    book = write_playbook(tmp_path, MIXED, on_reject="continue")
    sequential = run(tmp_path / "seq", fresh_sim(), book)
    pipelined = run(tmp_path / "pipe", fresh_sim(), book, max_in_flight=8)
    assert sequential.exit_code == pipelined.exit_code == ExitCode.ORDERS_FAILED  # "bad" fails
    assert outcomes(pipelined) == outcomes(sequential)
    seq, pipe = sequential.report.to_json(), pipelined.report.to_json()
    assert _content(pipe["orders"]) == _content(seq["orders"])
    assert _content(pipe["summary"]) == _content(seq["summary"])
    assert pipe["warnings"] == seq["warnings"]


def test_barriers_and_window(tmp_path: Path, simulator) -> None:
    window = 3
    book = write_playbook(tmp_path, MIXED, on_reject="continue")
    result = run(tmp_path, simulator, book, max_in_flight=window)
    orders = result.report.to_json()["orders"]
    sent = [_stamp(o["sent_at"]) for o in orders]
    answered = [_stamp(o["answered_at"]) for o in orders]
    by_id = {o["id"]: i for i, o in enumerate(orders)}
    for barrier in ("mkt", "af"):  # wait: fill / after_fill: everything before answered first ...
        b = by_id[barrier]
        assert all(answered[i] <= sent[b] for i in range(b) if orders[i]["wait"] != "none")
        # ... and nothing after it leaves before it filled (and, for after_fill, before its legs)
        filled = _stamp(orders[b]["filled_at"])
        assert filled is not None and all(sent[i] >= filled for i in range(b + 1, len(orders)))
    legs = orders[by_id["af"]]["legs"]
    assert {leg["leg"] for leg in legs} == {"take_profit", "stop_loss"}
    assert all(leg["statuses"] for leg in legs)
    # at no moment more than `window` ack-orders were sent and unanswered
    acks = [i for i, o in enumerate(orders) if o["wait"] == "ack"]
    for i in acks:
        unanswered = [j for j in acks
                      if sent[j] <= sent[i] and (answered[j] is None or answered[j] > sent[i])]
        assert len(unanswered) <= window, (orders[i]["id"], [orders[j]["id"] for j in unanswered])
    # and the window was actually used: some order left before the previous one's answer
    assert any(sent[j] < answered[i] for i, j in itertools.pairwise(acks) if j == i + 1)


def test_on_reject_stop_is_the_sequential_run_and_says_so(tmp_path: Path, fresh_sim) -> None:
    book = write_playbook(tmp_path, [order("a", RESTING), order("bad", MARGIN_REJECT),
                                     *(order(f"later{i}", RESTING) for i in range(5))], on_reject="stop")
    sequential = run(tmp_path / "seq", fresh_sim(), book)
    windowed = run(tmp_path / "pipe", fresh_sim(), book, max_in_flight=16)
    assert windowed.exit_code == sequential.exit_code == ExitCode.ABORTED
    assert outcomes(windowed) == outcomes(sequential) == ["passed", "failed"] + ["not_sent"] * 5
    seq, pipe = sequential.report.to_json(), windowed.report.to_json()
    assert _content(pipe["orders"]) == _content(seq["orders"])
    assert _content(pipe["summary"]) == _content(seq["summary"])
    warning = [w for w in windowed.warnings if "--max-in-flight 16 has no effect" in w]
    assert len(warning) == 1 and [w for w in windowed.warnings if w not in warning] == seq["warnings"]


def test_on_reject_stop_window_warning_is_printed(tmp_path: Path, simulator) -> None:
    from tests.acceptance.run.test_cli import qfex, sim_env

    book = write_playbook(tmp_path, [order("a", RESTING), order("b", RESTING)], on_reject="stop")
    done = qfex(["run", str(book), "--url", simulator.url, "--report-dir", "rep", "--max-in-flight", "8"],
                tmp_path, sim_env(simulator))
    assert done.returncode == ExitCode.OK, done.stderr
    assert (done.stdout + done.stderr).count("--max-in-flight 8 has no effect") == 1


def test_playbook_order_at_the_exchange_and_every_intent_durable_before_its_send(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.exchange import client
    from runner.state import journal
    exchange = CountingExchange(EngineConfig(speed_bump_ms=0))
    sim = Simulator(exchange=exchange).start()
    try:
        orders = [order(f"o{i:02d}", RESTING.replace("220.00", f"{200 + i % 20}.00")) for i in range(40)]
        book = write_playbook(tmp_path, orders, name=NAME, extra=f'run_id: "{RUN_ID}"\n')
        synced: dict[int, int] = {}  # journal fd -> bytes durable (fsync'd)
        real_fsync, real_send = os.fsync, client.TradeSession.send_many
        problems: list[str] = []

        def fsync(fd: int) -> None:
            real_fsync(fd)
            synced[fd] = os.fstat(fd).st_size

        checked: list[str] = []

        def send(self: Any, messages: list[tuple[dict, str]]) -> None:
            for message, _ in messages:  # a burst leaves in one write: every intent durable before it
                wanted = message.get("params", {}).get("client_order_id")
                if message.get("type") == "add_order":
                    checked.append(wanted)
                    path = next((tmp_path / "state").glob("*.journal.jsonl"))
                    text = path.read_bytes()
                    intent = f'"kind": "intent", "coid": "{wanted}"'.encode()
                    end = text.rfind(intent)
                    if end < 0 or max(synced.values(), default=0) < text.index(b"\n", end):
                        problems.append(f"{wanted} sent before its intent was durable")
            real_send(self, messages)

        monkeypatch.setattr(journal.os, "fsync", fsync)
        monkeypatch.setattr(client.TradeSession, "send_many", send)
        result = run(tmp_path, sim, book, max_in_flight=8)
        assert result.exit_code == ExitCode.OK
        assert problems == []
        assert len(checked) == 40
        arrival = sim.call(lambda ex: list(ex.accepted))
        assert arrival == [coid(f"o{i:02d}") for i in range(40)]
    finally:
        sim.stop()


def _pipelined_book(directory: Path, count: int) -> Path:
    orders = "".join(f"  - {{id: p{i:03d}, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 0.001, "
                     f"price: {200 + i % 25}.00}}\n" for i in range(count))
    path = directory / "eo.yaml"
    path.write_text(f'version: 1\nname: {NAME}\nrun_id: "{RUN_ID}"\non_reject: continue\n'
                    f"defaults:\n  time_in_force: GTC\norders:\n{orders}")
    return path


@pytest.mark.parametrize("keep_journal", [True, False], ids=["journal-kept", "journal-lost"])
def test_sigkill_mid_pipeline_then_rerun_places_each_order_once(tmp_path: Path, keep_journal: bool,
                                                                dialect: str) -> None:
    count, crash_at = 80, 30
    harness = Harness(tmp_path, dialect=dialect)
    try:
        harness.playbook = _pipelined_book(tmp_path, count)
        killed = harness.run_killed_at(crash_at, "--max-in-flight", "16")
        assert killed.returncode == -signal.SIGKILL
        placed = harness.counts()
        assert crash_at <= len(placed) < count, "killed mid-way"
        intents = {line["coid"] for line in harness.journal_lines() if line.get("kind") == "intent"}
        assert set(placed) <= intents, "an order reached the exchange without a journaled intent"
        if not keep_journal:
            harness.forget_journal()
        again = harness.run("--max-in-flight", "16")
        assert again.returncode == 0, again.stderr
        counts = harness.counts()
        assert {c: n for c, n in counts.items() if n != 1} == {}
        assert set(counts) == {coid(f"p{i:03d}") for i in range(count)}
    finally:
        harness.stop()


@pytest.mark.parametrize("faults", [
    FaultConfig(drop_after_messages=30),  # the connection dies with ~16 orders in flight
    FaultConfig(drop_after_messages=30, drop_before_reply=False),
    FaultConfig(error_rate=0.2, seed=3),  # ServerError: not processed, sent again
    FaultConfig(latency_ms=5, drop_after_messages=40, error_rate=0.1, seed=9),
], ids=["drop", "drop-after-reply", "server-errors", "latency-drop-errors"])
def test_faults_mid_pipeline_place_every_order_exactly_once(tmp_path: Path, faults: FaultConfig,
                                                            dialect: str) -> None:
    from runner.run.engine import run_playbook
    from runner.run.options import RunOptions

    count = 60
    harness = Harness(tmp_path, dialect=dialect, faults=faults)
    try:
        harness.playbook = _pipelined_book(tmp_path, count)
        result = run_playbook(RunOptions(
            playbook=str(harness.playbook), url=harness.sim.url, handle_sigint=False, timeout=5.0,
            env={"QFEX_PUBLIC_KEY": harness.sim.public_key, "QFEX_SECRET_KEY": harness.sim.secret_key},
            state_dir=str(harness.state_dir), report_dir=str(tmp_path / "report"),
            runs_base=str(tmp_path / "runs"), max_in_flight=16))
        assert result.exit_code == ExitCode.OK, (result.report.summary.message, result.warnings)
        assert harness.counts() == {coid(f"p{i:03d}"): 1 for i in range(count)}
    finally:
        harness.stop()


def test_rate_limited_order_is_sent_again_and_the_reordering_is_reported(tmp_path: Path) -> None:
    """QFEX's sustained rate (200/s) with a burst of only 20 (the pacer allows far more): refused
    orders are sent again in order, never lost or doubled, and a reordering is reported."""
    exchange = CountingExchange(EngineConfig(speed_bump_ms=0))
    tight = ServerConfig(rate_limit=RateLimitConfig(limit_units=20, window_s=0.1))
    sim = Simulator(exchange=exchange, server_config=tight).start()
    try:
        orders = [order(f"o{i:02d}", RESTING.replace("220.00", f"{200 + i % 20}.00")) for i in range(80)]
        book = write_playbook(tmp_path, orders, name=NAME, extra=f'run_id: "{RUN_ID}"\n')
        result = run(tmp_path, sim, book, max_in_flight=16)
        assert result.exit_code == ExitCode.OK, result.report.summary.message
        counts = sim.call(lambda ex: {c: len(ids) for c, ids in ex.accepted.items()})
        assert counts == {coid(f"o{i:02d}"): 1 for i in range(80)}
        refused = [o for o in result.report.orders if any(s.status == "RateLimited" for s in o.statuses)]
        assert refused, "the tight limit refused something"
        arrival = sim.call(lambda ex: list(ex.accepted))
        overtaken = {o.id for o in refused
                     if arrival.index(o.client_order_id) > arrival.index(coid(f"o{int(o.id[1:]) + 1:02d}"))}
        warned = {o.id for o in refused if any(f"order {o.id!r} was refused" in w for w in result.warnings)}
        assert overtaken <= warned, "every overtaken order is named"
    finally:
        sim.stop()


def test_max_in_flight_must_be_positive(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from runner.cli import cli

    book = write_playbook(tmp_path, [order("a", RESTING)])
    outcome = CliRunner().invoke(cli, ["run", str(book), "--max-in-flight", "0"])
    assert outcome.exit_code == 2 and "--max-in-flight" in outcome.output
