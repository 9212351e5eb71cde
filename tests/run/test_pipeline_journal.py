"""Group commit in the journal (every run; `run --max-in-flight` batches): fewer fsyncs, same guarantees.

`Journal.batch()` writes records at once and fsyncs them together when the block ends;
`sync_answers = False` (the default) lets answers ride on the next fsync. Every line is still
written (visible to a re-run after `kill -9`) the moment it is recorded; what changes is only
when it is forced to the disk.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from runner.enums import OrderType, Side, TimeInForce
from runner.playbook.ids import Leg
from runner.playbook.model import Order, Playbook
from runner.state.entries import load_contents
from runner.state.journal import Journal, journal_path


def _playbook(count: int = 4) -> Playbook:
    orders = tuple(Order(id=f"o{i}", symbol="AAPL-USD", side=Side.BUY, type=OrderType.LIMIT,
                         quantity=Decimal(1), price=Decimal(200 + i), time_in_force=TimeInForce.GTC)
                   for i in range(count))
    return Playbook(path="pb.yaml", name="gc", run_id="r1", orders=orders)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """File sizes at every fsync the journal makes (the bytes made durable by each)."""
    import runner.state.journal as journal_module

    sizes: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        real(fd)
        sizes.append(os.fstat(fd).st_size)

    monkeypatch.setattr(journal_module.os, "fsync", counting)
    return sizes


def _intent(journal: Journal, pb: Playbook, i: int) -> str:
    o = pb.orders[i]
    coid = pb.client_order_id(o)
    message = {"type": "add_order", "params": {"client_order_id": coid}}
    journal.record_intent(coid, i, o.id, Leg.ENTRY, message)
    return coid


def test_a_batch_is_one_fsync_covering_every_record(tmp_path: Path, fsyncs: list[int]) -> None:
    pb = _playbook()
    journal = Journal.open(tmp_path, pb)
    before = len(fsyncs)
    with journal.batch():
        coids = [_intent(journal, pb, i) for i in range(4)]
        assert len(fsyncs) == before, "nothing forced to disk inside the batch"
        written = journal_path(tmp_path, pb).read_bytes()
        assert not any(c.encode() in written for c in coids), "the lines wait for the batch's end"
    assert len(fsyncs) == before + 1
    written = journal_path(tmp_path, pb).read_bytes()
    assert all(c.encode() in written for c in coids), "written together, then fsync'd once"
    assert fsyncs[-1] == journal_path(tmp_path, pb).stat().st_size
    journal.close()
    entries = load_contents(journal_path(tmp_path, pb)).entries
    assert all(entries[c].sent for c in coids)


def test_nested_batches_sync_once_at_the_outermost_end(tmp_path: Path, fsyncs: list[int]) -> None:
    pb = _playbook()
    journal = Journal.open(tmp_path, pb)
    before = len(fsyncs)
    with journal.batch():
        with journal.batch():
            _intent(journal, pb, 0)
        assert len(fsyncs) == before
        _intent(journal, pb, 1)
    assert len(fsyncs) == before + 1
    journal.close()


def test_unsynced_answers_ride_on_the_next_intent_and_on_close(tmp_path: Path, fsyncs: list[int]) -> None:
    pb = _playbook()
    journal = Journal.open(tmp_path, pb)
    journal.sync_answers = False
    coid = _intent(journal, pb, 0)
    after_intent = len(fsyncs)
    journal.record_answer(coid, {"order_response": {"client_order_id": coid, "status": "ACK",
                                                    "order_id": "x1", "quantity_remaining": Decimal(1)}})
    assert len(fsyncs) == after_intent, "an answer alone is not forced to disk"
    _intent(journal, pb, 1)
    assert len(fsyncs) == after_intent + 1
    answered = journal_path(tmp_path, pb).read_bytes().index(b'"kind": "answer"')
    assert fsyncs[-1] > answered, "the next intent's fsync made the answer durable too"
    journal.record_answer(coid, {"order_response": {"client_order_id": coid, "status": "CANCELLED",
                                                    "order_id": "x1", "quantity_remaining": Decimal(0)}})
    journal.close()
    assert fsyncs[-1] == journal_path(tmp_path, pb).stat().st_size, "close syncs what is left"


def test_answers_are_synced_one_by_one_only_when_asked(tmp_path: Path, fsyncs: list[int]) -> None:
    pb = _playbook()
    journal = Journal.open(tmp_path, pb)
    assert journal.sync_answers is False, "by default an answer rides on the next fsync"
    journal.sync_answers = True
    coid = _intent(journal, pb, 0)
    before = len(fsyncs)
    journal.record_answer(coid, {"order_response": {"client_order_id": coid, "status": "ACK",
                                                    "order_id": "x"}})
    assert len(fsyncs) == before + 1
    journal.close()


def test_a_sequential_run_costs_one_fsync_per_order(tmp_path: Path, fsyncs: list[int]) -> None:
    """intent (fsync) -> send -> answer (written) -> next intent (fsync, the answer with it) ..."""
    count = 6
    pb = _playbook(count)
    journal = Journal.open(tmp_path, pb)
    before = len(fsyncs)
    for i in range(count):
        coid = _intent(journal, pb, i)
        assert fsyncs[-1] == journal_path(tmp_path, pb).stat().st_size, "the intent is durable before a send"
        ack = {"client_order_id": coid, "status": "ACK", "order_id": f"x{i}", "quantity_remaining": 1}
        journal.record_answer(coid, {"order_response": ack})
    assert len(fsyncs) - before == count
    journal.close()
    assert len(fsyncs) - before == count + 1, "close makes the last answer durable"
    assert fsyncs[-1] == journal_path(tmp_path, pb).stat().st_size
    entries = load_contents(journal_path(tmp_path, pb)).entries
    assert all(e.accepted and not e.unsure for e in entries.values())


def test_an_answer_lost_to_a_machine_crash_leaves_the_order_unsure(tmp_path: Path) -> None:
    """What a crash before the next fsync can lose is the answer alone: the journal then reads as a
    crash before the answer arrived (intent, no answer), which a re-run looks up at the exchange."""
    pb = _playbook(2)
    journal = Journal.open(tmp_path, pb)
    first = _intent(journal, pb, 0)
    durable = journal_path(tmp_path, pb).stat().st_size  # what the intent's fsync covered
    journal.record_answer(first, {"order_response": {"client_order_id": first, "status": "ACK",
                                                     "order_id": "x0"}})
    journal.close()
    path = journal_path(tmp_path, pb)
    path.write_bytes(path.read_bytes()[:durable])  # the page cache never reached the disk
    entry = load_contents(path).entries[first]
    assert entry.sent and entry.unsure and not entry.accepted
