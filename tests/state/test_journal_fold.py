"""What the journal folds as it writes is what a re-read of its file folds: the runner's view of each
order during a run never differs from the next run's (the fold of records it just wrote skips the
kind dispatch, and answers arrive as frames parsed from bytes: both must give the same entries)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from runner.exchange.protocol import parse_frame
from runner.playbook.ids import Leg
from runner.state.entries import load_contents
from runner.state.journal import Journal, journal_path
from tests.state.test_journal import add_order, order, playbook

#: answers as an exchange may send them, the impossible ones included: each must fold alike live
#: and read back (NaN, a giant exponent, a negative remainder, a number as a string, a replayed
#: fill, a stop's cancel with quantity 0, an err, a reject)
ANSWERS = [
    b'{"order_response": {"status": "ACK", "order_id": "x-1", "client_order_id": "%s", "quantity": 10, '
    b'"price": 200.5, "quantity_remaining": 10, "update_time": 1733400000.123456789}}',
    b'{"fill_response": {"trade_id": "t1", "order_id": "x-1", "client_order_id": "%s", "quantity": 4, '
    b'"price": 200.5, "fee": -0.01, "remaining_quantity": 6}}',
    b'{"fill_response": {"trade_id": "t1", "order_id": "x-1", "client_order_id": "%s", "quantity": 4, '
    b'"price": 200.5, "fee": -0.01, "remaining_quantity": 6}}',
    b'{"fill_response": {"trade_id": "t2", "order_id": "x-1", "client_order_id": "%s", "quantity": NaN, '
    b'"price": 1e999999999, "remaining_quantity": -1}}',
    b'{"fill_response": {"trade_id": "t3", "order_id": "x-1", "client_order_id": "%s", "quantity": "2", '
    b'"price": 200.5, "remaining_quantity": 0.0000000000000000000000001}}',
    b'{"order_response": {"status": "MODIFIED", "order_id": "x-1", "client_order_id": "%s", '
    b'"quantity": 1E+30, "quantity_remaining": 3}}',
    b'{"order_response": {"status": "CANCELLED", "order_id": "x-1", "client_order_id": "%s", '
    b'"quantity": 0, "quantity_remaining": 0}}',
    b'{"order_response": {"status": "FILLED", "order_id": "x-1", "client_order_id": "%s", "quantity": 10, '
    b'"remaining_quantity": 0}}',
    b'{"err": {"error_code": "RateLimited", "message": "slow down"}}',
    b'{"order_response": {"status": "FAILED_MARGIN_CHECK", "client_order_id": "%s", "quantity": 10}}',
]


def test_the_fold_while_writing_equals_the_fold_read_back(tmp_path: Path) -> None:
    orders = [order(f"o{i}", quantity="10") for i in range(len(ANSWERS))]
    pb = playbook(*orders)
    with Journal.open(tmp_path, pb) as journal:
        for index, o in enumerate(orders):
            coid = pb.client_order_id(o)
            journal.record_reconciled(coid, "not_found", quantity=o.quantity, order_key=o.id)
            journal.record_intent(coid, index, o.id, Leg.ENTRY, add_order(pb, o))
            for text in ANSWERS[: index + 1]:  # order i gets the first i+1 answers, in order
                journal.record_answer(coid, parse_frame(text.replace(b"%s", coid.encode())))
        coid = pb.client_order_id(orders[0])
        journal.record_reconciled(coid, "traded", order_id="x-1", filled_quantity=Decimal("4"),
                                  remaining=Decimal("6"), quantity=Decimal("10"), order_key="o0")
        live = dict(journal.contents.entries)
        live_definitions = dict(journal.contents.accepted_definitions)
    read_back = load_contents(journal_path(tmp_path, pb))
    assert set(read_back.entries) == set(live) and len(live) == len(orders)
    for coid, entry in live.items():
        assert read_back.entries[coid] == entry, coid
        assert entry.last_intent_at is not None  # the intent's time, folded as it was written
    assert read_back.accepted_definitions == live_definitions
    # the fold says something: states across the whole range of answers
    states = {entry.state for entry in live.values()}
    assert {"partially_filled", "filled"} <= states, states
