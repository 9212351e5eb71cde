"""`run` reads the target's reference data while its own modules load (runner.run.reference): the
same data, the same warnings and errors at the same place as reading it in turn, nothing contacted
that the run would refuse, and a run without it (file, embedded exchange) unchanged."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runner.exchange.targets import resolve_target
from runner.exit_codes import ExitCode
from runner.run import reference
from runner.run.reference import fetch_reference_data, prefetch_reference_data

PLAYBOOK = """\
version: 1
name: prefetch
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


def test_the_prefetched_reference_data_is_what_the_run_would_read(simulator) -> None:
    target = resolve_target(None, simulator.url)
    prefetched = prefetch_reference_data(None, simulator.url, None, None, 10.0)
    assert prefetched is not None
    warnings: list[str] = ["earlier"]
    read, refdata = prefetched.result(target, warnings)
    direct: list[str] = []
    expected = fetch_reference_data(target, 10.0, direct)
    assert read and refdata is not None and expected is not None
    assert warnings == ["earlier"] and direct == []
    assert dict(refdata) == dict(expected) and refdata.live and refdata.source == expected.source
    assert refdata.marks.keys() == expected.marks.keys() and "AAPL-USD" in refdata.marks  # stop-side checks


def test_another_target_is_read_by_the_run_itself(simulator) -> None:
    prefetched = prefetch_reference_data(None, simulator.url, None, None, 10.0)
    assert prefetched is not None
    other = resolve_target(None, f"ws://127.0.0.1:{closed_port()}/")
    warnings: list[str] = []
    assert prefetched.result(other, warnings) == (False, None) and warnings == []


def test_nothing_is_prefetched_for_a_file_the_embedded_exchange_or_no_target() -> None:
    url = f"ws://127.0.0.1:{closed_port()}/"
    assert prefetch_reference_data(None, url, None, "refdata.json", 10.0) is None  # --refdata FILE
    assert prefetch_reference_data(None, None, None, None, 10.0) is None  # --target sim (default)
    assert prefetch_reference_data("sim", None, None, None, 10.0) is None


@pytest.mark.parametrize("url", ["ws://192.0.2.1:9/", "http://127.0.0.1:1/", "not a url"])
def test_a_url_the_run_refuses_is_never_contacted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(reference, "fetch_reference_data", lambda target, *_: asked.append(target.url))
    prefetched = prefetch_reference_data(None, url, None, None, 10.0)
    assert prefetched is not None
    assert prefetched.result(resolve_target(None, url), []) == (False, None)
    assert asked == [] and prefetched.target is None


def test_unreachable_reference_data_warns_exactly_as_reading_it_in_turn() -> None:
    url = f"ws://127.0.0.1:{closed_port()}/"
    target = resolve_target(None, url)
    prefetched = prefetch_reference_data(None, url, None, None, 5.0)
    assert prefetched is not None
    warnings: list[str] = []
    assert prefetched.result(target, warnings) == (True, None)
    direct: list[str] = []
    assert fetch_reference_data(target, 5.0, direct) is None
    assert warnings == direct and len(direct) == 1 and "were not pre-checked" in direct[0]


def test_an_error_while_prefetching_is_raised_where_the_run_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise MemoryError("out of memory")

    monkeypatch.setattr(reference, "fetch_reference_data", broken)
    url = f"ws://127.0.0.1:{closed_port()}/"
    prefetched = prefetch_reference_data(None, url, None, None, 5.0)
    assert prefetched is not None
    with pytest.raises(MemoryError):
        prefetched.result(resolve_target(None, url), [])


def _qfex(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _env(simulator) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("QFEX_", "GITHUB_"))}
    env.update({"NO_COLOR": "1", "QFEX_PUBLIC_KEY": simulator.public_key,
                "QFEX_SECRET_KEY": simulator.secret_key})
    return env


def test_a_run_checks_the_prefetched_exchange_rules_before_sending(simulator, tmp_path: Path) -> None:
    """Off the tick (0.01 for AAPL-USD): refused, located, exit 1; on the tick: sent."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(PLAYBOOK.format(run_id="bad", price="180.005"))
    done = _qfex(["run", str(bad), "--url", simulator.url, "--state-dir", str(tmp_path / "s1"),
                  "--report-dir", str(tmp_path / "r1")], tmp_path, _env(simulator))
    assert done.returncode == ExitCode.INVALID_PLAYBOOK, done.stderr
    assert f"{bad}:10:12" in done.stderr and "tick" in done.stderr
    assert "not pre-checked" not in done.stderr + done.stdout

    good = tmp_path / "good.yaml"
    good.write_text(PLAYBOOK.format(run_id="good", price="180.01"))
    done = _qfex(["run", str(good), "--url", simulator.url, "--state-dir", str(tmp_path / "s2"),
                  "--report-dir", str(tmp_path / "r2")], tmp_path, _env(simulator))
    assert done.returncode == ExitCode.OK, done.stderr
    assert "not pre-checked" not in done.stderr + done.stdout


def test_a_refused_url_fails_as_before_without_reference_data_warnings(tmp_path: Path) -> None:
    playbook = tmp_path / "p.yaml"
    playbook.write_text(PLAYBOOK.format(run_id="x", price="180.01"))
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("QFEX_", "GITHUB_"))}
    env.update({"QFEX_PUBLIC_KEY": "k", "QFEX_SECRET_KEY": "s"})
    done = _qfex(["run", str(playbook), "--url", "ws://192.0.2.1:9/", "--state-dir", str(tmp_path / "s")],
                 tmp_path, env)
    assert done.returncode == ExitCode.CONNECT_FAILED, done.stderr
    assert "refusing unencrypted ws:// to 192.0.2.1" in done.stderr
    assert "reference data" not in done.stderr
