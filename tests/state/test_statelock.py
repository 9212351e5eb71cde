"""One run at a time per identity: contention, release on death, stale-lock takeover."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runner.errors import StateLocked
from runner.exit_codes import ExitCode
from runner.playbook.model import Playbook
from runner.state.journal import Journal
from runner.state.statelock import StateLock, read_holder

HOLD_SCRIPT = """
import sys, time
from runner.state.statelock import StateLock
lock = StateLock.acquire(__import__('pathlib').Path(sys.argv[1]), 'test')
print('locked', flush=True)
time.sleep(60)
"""


def test_second_acquire_is_refused_with_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with StateLock.acquire(path, "'x'") as first:
        assert first.held
        with pytest.raises(StateLocked) as caught:
            StateLock.acquire(path, "'x'")
    err = caught.value
    assert err.exit_code == ExitCode.LOCKED == 75
    assert f"pid {os.getpid()}" in str(err) and socket.gethostname() in str(err)
    assert "nothing was sent" in str(err)
    assert err.holder is not None and err.holder.process_alive() is True


def test_released_lock_can_be_taken_and_is_not_stale(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    StateLock.acquire(path, "x").release()
    again = StateLock.acquire(path, "x")
    assert again.took_over is None
    again.release()
    again.release()  # idempotent


def test_killed_holder_releases_and_its_record_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, str(path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"  # event, not a sleep
        with pytest.raises(StateLocked):
            StateLock.acquire(path, "x")
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
    recorded = read_holder(path)
    assert recorded is not None and recorded.pid == holder.pid and recorded.process_alive() is False
    with StateLock.acquire(path, "x") as lock:
        assert lock.took_over is not None and lock.took_over.pid == holder.pid
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_garbage_lock_file_does_not_block(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    path.write_text("{not json")
    with StateLock.acquire(path, "x") as lock:
        assert lock.took_over is None


def test_journal_open_takes_the_identity_lock(tmp_path: Path) -> None:
    from decimal import Decimal

    from runner.enums import OrderType, Side, TimeInForce
    from runner.playbook.model import Order
    only = Order("a", "AAPL-USD", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(1), TimeInForce.GTC)
    pb = Playbook(path="p.yaml", name="n", orders=(only,))
    with Journal.open(tmp_path, pb), pytest.raises(StateLocked) as caught:
        Journal.open(tmp_path, pb)
    assert "'n'" in str(caught.value)
    with Journal.open(tmp_path, pb) as journal:  # released on close
        assert journal.took_over_stale_lock is None
