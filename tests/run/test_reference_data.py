"""`run` reads the target's reference data and its mark prices before validating
(runner.run.setup.fetch_reference_data): the market-data socket is dialled as the /refdata request
leaves; the same data, warnings and fallbacks as reading one after the other."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from runner.exchange.targets import resolve_target
from runner.exit_codes import ExitCode
from runner.run.setup import fetch_reference_data

PLAYBOOK = """\
version: 1
name: reference
run_id: "{run_id}"
orders:
  - id: entry
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: 1
    price: {price}
"""


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def feeds_left() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "qfex-mds" and t.is_alive()]


def test_the_reference_data_comes_with_the_mark_of_every_symbol_it_lists(simulator) -> None:
    warnings: list[str] = []
    refdata = fetch_reference_data(resolve_target(None, simulator.url), 10.0, warnings)
    assert refdata is not None and warnings == [] and refdata.live
    assert set(refdata.marks) == set(refdata) and "AAPL-USD" in refdata.marks  # stop-side checks use them
    assert feeds_left() == []


def test_an_unreachable_market_data_socket_leaves_the_reference_data_without_marks(simulator) -> None:
    target = resolve_target(None, simulator.url, f"ws://127.0.0.1:{closed_port()}/mds")
    warnings: list[str] = []
    refdata = fetch_reference_data(target, 10.0, warnings)
    assert refdata is not None and warnings == [] and refdata.marks == {}
    assert feeds_left() == []


def test_unreachable_reference_data_is_a_warning_and_the_feed_is_closed() -> None:
    port = closed_port()
    warnings: list[str] = []
    assert fetch_reference_data(resolve_target(None, f"ws://127.0.0.1:{port}/"), 5.0, warnings) is None
    assert len(warnings) == 1 and warnings[0].startswith(
        "exchange rules (tick/lot sizes, quantity limits, price bands) were not pre-checked: reference data "
        f"unavailable from http://127.0.0.1:{port}/refdata")
    assert warnings[0].endswith("pass --refdata FILE to check them")
    assert feeds_left() == []


def _qfex(args: list[str], cwd: Path, simulator) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QFEX_", "GITHUB_"))}
    env.update({"NO_COLOR": "1", "QFEX_PUBLIC_KEY": simulator.public_key,
                "QFEX_SECRET_KEY": simulator.secret_key})
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_run_checks_the_targets_exchange_rules_before_sending(simulator, tmp_path: Path) -> None:
    """Off the tick (0.01 for AAPL-USD): refused, located, exit 1; on the tick: sent."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(PLAYBOOK.format(run_id="bad", price="180.005"))
    done = _qfex(["run", str(bad), "--url", simulator.url, "--state-dir", str(tmp_path / "s1"),
                  "--report-dir", str(tmp_path / "r1")], tmp_path, simulator)
    assert done.returncode == ExitCode.INVALID_PLAYBOOK, done.stderr
    assert f"{bad}:10:12" in done.stderr and "tick" in done.stderr
    assert "not pre-checked" not in done.stderr + done.stdout

    good = tmp_path / "good.yaml"
    good.write_text(PLAYBOOK.format(run_id="good", price="180.01"))
    done = _qfex(["run", str(good), "--url", simulator.url, "--state-dir", str(tmp_path / "s2"),
                  "--report-dir", str(tmp_path / "r2")], tmp_path, simulator)
    assert done.returncode == ExitCode.OK, done.stderr
    assert "not pre-checked" not in done.stderr + done.stdout


def test_without_marks_no_market_data_connection_is_opened(simulator, monkeypatch) -> None:
    """A playbook whose validation prices nothing at the market (`prices_at_market`) gets the
    reference data alone: the market-data socket is not dialled."""
    from runner.exchange import marketdata

    dialled: list[str] = []
    real_start = marketdata.MarkPrices.start

    def start(self):  # type: ignore[no-untyped-def]
        dialled.append("mds")
        return real_start(self)

    monkeypatch.setattr(marketdata.MarkPrices, "start", start)
    target = resolve_target(None, simulator.url)
    refdata = fetch_reference_data(target, 10.0, [], marks=False)
    assert refdata is not None and refdata.live and refdata.marks == {} and dialled == []
    refdata = fetch_reference_data(target, 10.0, [])
    assert "AAPL-USD" in refdata.marks and dialled == ["mds"]
