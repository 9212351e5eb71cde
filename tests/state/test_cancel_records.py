"""Issue 12: the runner's cancel of an exit is a journal record of its own (`cancel`); journals written
before it (a `cancel_intent` note) still read the same."""

from __future__ import annotations

from runner.state.entries import JournalContents

COID = "6f1c2a4e-0000-5000-8000-000000000001"


def test_a_cancel_record_and_an_old_cancel_intent_note_read_alike():
    new, old = JournalContents(), JournalContents()
    new.apply({"kind": "cancel", "key": "k", "coid": COID, "order_id": "o-1",
               "reason": "the position is flat", "message": {"type": "cancel_stop_order"}})
    old.apply({"kind": "note", "event": "cancel_intent", "key": "k", "client_order_id": COID,
               "order_id": "o-1", "reason": "the position is flat", "message": {"type": "cancel_stop_order"}})
    assert new.entries[COID].cancel_reason == old.entries[COID].cancel_reason == "the position is flat"


def test_other_notes_say_nothing_about_a_cancel():
    contents = JournalContents()
    contents.apply({"kind": "note", "event": "run_end", "exit_code": 0})
    assert contents.entries == {}
