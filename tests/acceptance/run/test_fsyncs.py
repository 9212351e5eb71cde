"""A sequential `run` pays one fsync per order (its intent's), and every intent is durable before its send.

The answer to order k is written at once and made durable by order k+1's intent fsync (or by
closing the journal); see `Journal.sync_answers`. Counted with a wrapper on `os.fsync`, against
the real local exchange over loopback: no timing is asserted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from runner.exit_codes import ExitCode
from runner.state.entries import load_contents
from tests.acceptance.run_kit import MARGIN_REJECT, RESTING, order, outcomes, run, write_playbook

#: fsyncs a run makes besides its orders' intents: the journal's directory entry, the run_end
#: note, and closing (its first line and the reconciliation's lookups ride on the first intent's)
FIXED = 3


def _journal(tmp_path: Path) -> Path:
    return next((tmp_path / "state").glob("*.journal.jsonl"))


def test_one_fsync_per_order_and_every_intent_durable_before_its_send(
        tmp_path: Path, simulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.exchange import client
    from runner.state import journal
    count = 30
    orders = [order(f"o{i:02d}", RESTING.replace("220.00", f"{200 + i % 20}.00")) for i in range(count)]
    orders.insert(10, order("rej", MARGIN_REJECT, expect="rejected"))
    book = write_playbook(tmp_path, orders, extra='run_id: "fsyncs"\n')
    durable: dict[int, int] = {}  # fd -> bytes fsync'd
    calls: list[int] = []
    problems: list[str] = []
    real_fsync, real_send = os.fsync, client.TradeSession.send_many

    def fsync(fd: int) -> None:
        real_fsync(fd)
        calls.append(fd)
        durable[fd] = os.fstat(fd).st_size

    checked: list[str] = []

    def send(self: Any, messages: list[tuple[dict, str]]) -> None:
        for message, _ in messages:
            if message.get("type") == "add_order":
                wanted = message["params"]["client_order_id"]
                checked.append(wanted)
                text = _journal(tmp_path).read_bytes()
                end = text.rfind(f'"kind": "intent", "coid": "{wanted}"'.encode())
                if end < 0 or max(durable.values(), default=0) < text.index(b"\n", end):
                    problems.append(f"{wanted} sent before its intent was durable")
        real_send(self, messages)

    monkeypatch.setattr(journal.os, "fsync", fsync)
    monkeypatch.setattr(client.TradeSession, "send_many", send)
    result = run(tmp_path, simulator, book)

    assert result.exit_code == ExitCode.OK
    assert outcomes(result) == ["passed"] * (count + 1)
    assert problems == []
    assert len(checked) == count + 1
    sent = count + 1
    assert sent <= len(calls) <= sent + FIXED, f"{len(calls)} fsyncs for {sent} orders"
    path = _journal(tmp_path)
    assert max(durable.values()) == path.stat().st_size, "closing made the last answers durable"
    entries = load_contents(path).entries
    assert sum(e.accepted for e in entries.values()) == count
    assert sum(e.rejected for e in entries.values()) == 1
    assert not any(e.unsure for e in entries.values())
