"""The run journal: durable intents, torn-tail tolerance, the stale-plan rule, what entries mean."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from runner.enums import OrderType, Side, TimeInForce
from runner.errors import PlanChanged
from runner.exit_codes import ExitCode
from runner.jsonnum import dumps, loads
from runner.playbook.ids import Leg
from runner.playbook.model import Bracket, Order, Playbook
from runner.problems import Location
from runner.state.definitions import order_definition
from runner.state.entries import load_contents
from runner.state.journal import (
    Journal,
    default_state_dir,
    identity_slug,
    journal_path,
)


def order(order_id: str, price: str = "200", quantity: str = "10", **kw) -> Order:
    return Order(id=order_id, symbol="AAPL-USD", side=Side.BUY, type=OrderType.LIMIT,
                 quantity=Decimal(quantity), price=Decimal(price), time_in_force=TimeInForce.GTC,
                 location=Location("pb.yaml", 10 + len(order_id), 5), **kw)


def playbook(*orders: Order, name: str = "swing", run_id: str | None = "r1") -> Playbook:
    orders = tuple(orders) or (order("a"), order("b"))
    return Playbook(path="pb.yaml", name=name, run_id=run_id, orders=orders)


def add_order(pb: Playbook, o: Order) -> dict:
    return {"type": "add_order", "params": {"symbol": o.symbol, "side": o.side.value, "order_type": "LIMIT",
                                            "order_time_in_force": "GTC", "quantity": o.quantity,
                                            "price": o.price, "client_order_id": pb.client_order_id(o)}}


def ack(coid: str, order_id: str = "ex-1", quantity: str = "10", remaining: str = "10",
        status: str = "ACK") -> dict:
    return {"order_response": {"order_id": order_id, "client_order_id": coid, "status": status,
                               "quantity": Decimal(quantity), "quantity_remaining": Decimal(remaining)}}


def place(journal: Journal, pb: Playbook, o: Order, step: int = 0, **answer) -> str:
    coid = pb.client_order_id(o)
    journal.record_intent(coid, step, o.id, Leg.ENTRY, add_order(pb, o))
    if answer is not None:
        journal.record_answer(coid, ack(coid, **answer))
    return coid


def test_intent_is_on_disk_before_record_intent_returns(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = pb.client_order_id(pb.orders[0])
        journal.record_intent(coid, 0, "a", Leg.ENTRY, add_order(pb, pb.orders[0]))
        lines = journal_path(tmp_path, pb).read_text().splitlines()
        intent = loads(lines[-1])
    assert intent["kind"] == "intent" and intent["coid"] == coid
    assert intent["message"]["params"]["price"] == Decimal("200")  # exact number, not float
    assert intent["definition"]["price"] == "200"


def test_entry_folds_intent_and_answers(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
        entry = journal.entry(coid)
        assert entry is not None and entry.sent and entry.accepted and not entry.settled
        assert (entry.order_id, entry.last_status, entry.state) == ("ex-1", "ACK", "open")
        fill = {"fill_response": {"trade_id": "t1", "order_id": "ex-1", "quantity": Decimal(4),
                                  "remaining_quantity": Decimal(6)}}
        journal.record_answer(coid, fill)
        journal.record_answer(coid, fill)  # replayed: counted once
        assert journal.entry(coid).filled_quantity == Decimal(4)
        assert journal.entry(coid).state == "partially_filled"
        journal.record_answer(coid, ack(coid, status="FILLED", remaining="0"))
        assert journal.entry(coid).settled and journal.entry(coid).state == "filled"
        assert journal.entry(coid).filled_quantity == Decimal(10)
    # and the same knowledge comes back from disk
    again = load_contents(journal_path(tmp_path, pb)).entries[coid]
    assert (again.state, again.filled_quantity, again.order_id) == ("filled", Decimal(10), "ex-1")


def test_unanswered_intent_is_unsure_and_rejects_are_not_placed(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        a, b = (pb.client_order_id(o) for o in pb.orders)
        journal.record_intent(a, 0, "a", Leg.ENTRY, add_order(pb, pb.orders[0]))
        journal.record_intent(b, 1, "b", Leg.ENTRY, add_order(pb, pb.orders[1]))
        journal.record_answer(b, {"order_response": {"order_id": "rej-1", "client_order_id": b,
                                                     "status": "FAILED_MARGIN_CHECK"}})
        assert journal.entry(a).unsure and not journal.entry(a).settled
        entry_b = journal.entry(b)
        assert entry_b.rejected and entry_b.settled and not entry_b.accepted and entry_b.order_id is None
        # a RateLimited err is not a rejection: the order is still to be (re)sent
        journal.record_intent(b, 1, "b", Leg.ENTRY, add_order(pb, pb.orders[1]))
        journal.record_answer(b, {"err": {"error_code": "RateLimited", "message": "slow down"}})
        assert not journal.entry(b).rejected and journal.entry(b).unsure


def test_torn_last_line_is_dropped_and_later_appends_stay_valid(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
    path = journal_path(tmp_path, pb)
    whole = path.read_bytes()
    with path.open("ab") as f:  # what kill -9 in the middle of a write leaves
        f.write(b'{"at": "2026-01-01", "kind": "answer", "coid": "' + coid.encode() + b'", "answ')
    with Journal.open(tmp_path, pb) as journal:
        assert journal.entry(coid).last_status == "ACK"
        journal.note("after-crash")
    text = path.read_bytes()
    assert text.startswith(whole) and text.endswith(b"\n")
    for line in text.decode().splitlines():
        loads(line)  # every line parses: the torn tail was cut, not glued to the next record


def test_torn_line_at_every_byte_offset_is_tolerated(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
        journal.record_answer(coid, ack(coid, status="FILLED", remaining="0"))
    path = journal_path(tmp_path, pb)
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    for cut in range(last_start, len(data)):
        path.write_bytes(data[:cut])
        contents = load_contents(path)
        assert contents.entries[coid].last_status == "ACK"  # the torn FILLED is as if never written
    path.write_bytes(data[:last_start + 7] + b"\x00" * 50)  # zeros after a crash
    with Journal.open(tmp_path, pb) as journal:
        assert journal.entry(coid).state == "open"


def test_garbled_middle_line_marks_the_journal_damaged(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
    path = journal_path(tmp_path, pb)
    lines = path.read_bytes().split(b"\n")
    lines.insert(1, b"not json at all")
    path.write_bytes(b"\n".join(lines))
    with Journal.open(tmp_path, pb) as journal:
        assert journal.damaged and journal.entry(coid).state == "open"


def test_changed_placed_order_is_refused_with_the_list(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        place(journal, pb, pb.orders[0])
        place(journal, pb, pb.orders[1], step=1, order_id="ex-2")
    edited = playbook(order("a", price="201"), order("b"), order("c"))
    with pytest.raises(PlanChanged) as caught:
        Journal.open(tmp_path, edited)
    assert caught.value.exit_code == ExitCode.INVALID_PLAYBOOK
    [problem] = caught.value.problems
    assert problem.rule == "changed-since-placed" and "price 200 → 201" in problem.message
    assert problem.location == edited.orders[0].location
    assert "--replan" in str(caught.value)
    # the refusal released the lock and wrote nothing
    before = journal_path(tmp_path, pb).read_bytes()
    with Journal.open(tmp_path, pb):
        pass
    assert journal_path(tmp_path, pb).read_bytes().startswith(before)


def test_removed_placed_order_is_a_change_too(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        place(journal, pb, pb.orders[0])
    with pytest.raises(PlanChanged) as caught:
        Journal.open(tmp_path, playbook(order("b")))
    assert "removed from the playbook" in caught.value.problems[0].message


def test_replan_accepts_the_change_once_and_reports_it(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
    edited = playbook(order("a", quantity="12"), order("b"))
    with Journal.open(tmp_path, edited, replan=True) as journal:
        assert [c.order_key for c in journal.changed] == ["a"]
        assert "quantity 10 → 12" in journal.changed[0].change
        assert journal.entry(coid).accepted  # still known as placed: never re-sent
    with Journal.open(tmp_path, edited) as journal:  # acknowledged: no refusal next time
        assert journal.changed == []
    with pytest.raises(PlanChanged):  # but going back is a change again
        Journal.open(tmp_path, pb)


def test_formatting_wait_and_expect_are_not_changes(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        place(journal, pb, pb.orders[0])
    from runner.playbook.model import Expect, Wait
    same = playbook(replace(order("a", price="200.00"), wait=Wait.FILL, expect=Expect.FILLED), order("b"))
    with Journal.open(tmp_path, same) as journal:
        assert journal.changed == []


def test_rejected_or_unsent_orders_may_change_freely(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = pb.client_order_id(pb.orders[0])
        journal.record_intent(coid, 0, "a", Leg.ENTRY, add_order(pb, pb.orders[0]))
        journal.record_answer(coid, {"err": {"error_code": "InvalidOrder", "message": "bad"}})
    with Journal.open(tmp_path, playbook(order("a", price="150"), order("b"))) as journal:
        assert journal.changed == []


def test_bracket_and_account_are_part_of_the_definition() -> None:
    base = order("a")
    with_bracket = replace(base, bracket=Bracket(Decimal("220"), Decimal("190")))
    assert order_definition(base) != order_definition(with_bracket)
    assert order_definition(base, "acc-1") != order_definition(base, "acc-2")
    assert order_definition(order("a", quantity="10")) == order_definition(order("a", quantity="10.000"))


def test_identity_files_do_not_collide() -> None:
    assert identity_slug("a/b", None) != identity_slug("a_b", None)
    assert identity_slug("x", "1") != identity_slug("x", None)
    assert "/" not in identity_slug("../../etc", "r/1")
    assert default_state_dir(playbook(name="swing")) == Path("runs/swing/.state")


def test_each_identity_has_its_own_journal(tmp_path: Path) -> None:
    one, two = playbook(run_id="r1"), playbook(run_id="r2")
    with Journal.open(tmp_path, one) as j1, Journal.open(tmp_path, two) as j2:
        place(j1, one, one.orders[0])
        assert j2.entry(one.client_order_id(one.orders[0])) is None


def test_a_fill_reported_twice_is_counted_once(tmp_path: Path) -> None:
    """QFEX reports each execution as a FILLED order_response (remainder) and a fill_response."""
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
        journal.record_answer(coid, ack(coid, status="FILLED", remaining="0"))
        fill = {"trade_id": "t9", "order_id": "ex-1", "quantity": Decimal(10), "remaining_quantity": 0}
        journal.record_answer(coid, {"fill_response": fill})
        journal.record_reconciled(coid, "traded", order_id="ex-1", filled_quantity=Decimal(10))
        assert journal.entry(coid).filled_quantity == Decimal(10)


def test_fills_keep_their_prices_and_come_back_from_an_older_journal(tmp_path: Path) -> None:
    """Fill frames were always journaled whole: their prices are folded, also from a journal written
    before the journal knew to (raw lines, no new field), so a re-run reports them without a lookup."""
    pb = playbook()
    coid = pb.client_order_id(pb.orders[0])
    path = journal_path(tmp_path, pb)
    old_lines = [
        {"at": "2026-11-01T10:00:00.000+00:00", "kind": "open", "name": "swing", "run_id": "r1", "format": 1},
        {"at": "2026-11-01T10:00:00.100+00:00", "kind": "intent", "coid": coid, "step": 0, "order": "a",
         "leg": "entry", "definition": order_definition(pb.orders[0]),
         "message": add_order(pb, pb.orders[0])},
        {"at": "2026-11-01T10:00:00.200+00:00", "kind": "answer", "coid": coid, "answer": ack(coid)},
        *({"at": f"2026-11-01T10:00:0{n}.000+00:00", "kind": "answer", "coid": coid,
           "answer": {"fill_response": {"trade_id": f"t{n}", "order_id": "ex-1", "price": Decimal(price),
                                        "quantity": Decimal(qty), "fee": Decimal("0.01")}}}
          for n, price, qty in ((1, "200.00", "4"), (2, "199.50", "6"), (1, "200.00", "4"))),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(dumps(line) + "\n" for line in old_lines))

    entry = load_contents(path).entries[coid]
    assert [(f.trade_id, f.price, f.quantity, f.fee, f.at) for f in entry.fills] == [
        ("t1", Decimal("200.00"), Decimal(4), Decimal("0.01"), "2026-11-01T10:00:01.000+00:00"),
        ("t2", Decimal("199.50"), Decimal(6), Decimal("0.01"), "2026-11-01T10:00:02.000+00:00")]
    assert entry.filled_quantity == Decimal(10)
    with Journal.open(tmp_path, pb) as journal:  # the live journal folds the same (and adds its time)
        journal.record_answer(coid, {"fill_response": {"trade_id": "t3", "order_id": "ex-1",
                                                       "price": Decimal("201"), "quantity": Decimal(1)}})
        latest = journal.entry(coid).fills[-1]
        assert (latest.trade_id, latest.price, latest.fee) == ("t3", Decimal("201"), None)
        assert latest.at is not None


# --- issue 13: checksums; a damaged line is never a known state --------------------------------------


def test_every_line_carries_a_checksum_and_stays_one_json_object(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        place(journal, pb, pb.orders[0])
    lines = journal_path(tmp_path, pb).read_bytes().splitlines()
    assert lines and all(isinstance(loads(line).get("sum"), str) for line in lines)


def test_a_journal_written_before_checksums_still_loads(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
    path = journal_path(tmp_path, pb)
    legacy = []
    for line in path.read_bytes().splitlines():
        record = loads(line)
        record.pop("sum")
        legacy.append(dumps(record))
    path.write_text("\n".join(legacy) + "\n")
    with Journal.open(tmp_path, pb) as journal:
        assert not journal.damaged and journal.entry(coid).state == "open"


@pytest.mark.parametrize("edit", [
    lambda line: line.replace(b'"ACK"', b'"ACC"'),  # an unknown status, checksum broken too
    lambda line: line.replace(b'"ex-1"', b'"ex-3"'),  # still JSON, only the checksum can tell
    lambda line: line.replace(b'"ACK"', b'"REJECTED"'),  # a "known" status, but not what was written
])
def test_a_damaged_answer_leaves_its_order_unsure_never_rejected(tmp_path: Path, edit) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
    path = journal_path(tmp_path, pb)
    lines = path.read_bytes().split(b"\n")
    index = next(i for i, line in enumerate(lines) if b'"kind": "answer"' in line)
    lines[index] = edit(lines[index])
    path.write_bytes(b"\n".join(lines))
    contents = load_contents(path)
    entry = contents.entries[coid]
    assert (contents.damaged_lines, entry.damaged, entry.rejected, entry.state) == (1, True, False, "unsure")
    assert contents.unattributed_damage == 0


def test_an_unknown_status_in_a_line_without_checksum_is_damaged(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
    path = journal_path(tmp_path, pb)
    legacy = []
    for line in path.read_bytes().splitlines():
        record = loads(line)
        record.pop("sum")
        legacy.append(dumps(record).replace('"ACK"', '"ACC"'))
    path.write_text("\n".join(legacy) + "\n")
    entry = load_contents(path).entries[coid]
    assert entry.state == "unsure" and not entry.rejected


def test_a_damaged_line_naming_no_known_order_may_concern_any(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        place(journal, pb, pb.orders[0])
    path = journal_path(tmp_path, pb)
    lines = path.read_bytes().split(b"\n")
    lines.insert(1, b'{"kind": "answer", "coid": "garbled')  # not JSON: names nobody for sure
    lines.insert(1, b'{"kind": "answer", "coid": "not-one-of-ours", "sum": "00000000"}')
    lines.insert(1, b'{"kind": "open", "sum": "00000000"}')  # damaged, but about no order
    path.write_bytes(b"\n".join(lines))
    contents = load_contents(path)
    assert (contents.damaged_lines, contents.unattributed_damage) == (3, 2)


def test_a_complete_last_line_with_a_bad_checksum_is_damaged_not_torn(tmp_path: Path) -> None:
    pb = playbook()
    with Journal.open(tmp_path, pb) as journal:
        coid = place(journal, pb, pb.orders[0])
    path = journal_path(tmp_path, pb)
    with Journal.open(tmp_path, pb) as journal:  # a later run's lines, then the ACK's line damaged
        pass
    data = path.read_bytes()
    lines = data.split(b"\n")
    index = next(i for i, line in enumerate(lines) if b'"kind": "answer"' in line)
    answer = lines.pop(index).replace(b'"ex-1"', b'"ex-3"')
    path.write_bytes(b"\n".join([*lines[:-1], answer, b""]))
    with Journal.open(tmp_path, pb) as journal:
        assert journal.damaged and journal.entry(coid).state == "unsure"


def test_intent_and_answer_lines_are_the_lines_the_generic_encoder_writes(tmp_path: Path) -> None:
    """record_intent builds its line by hand (the definition encoded once per run) and record_answer
    writes a received frame's own text: both must read back as the generic `sealed_line` would."""
    from runner.exchange.protocol import parse_frame
    from runner.state.entries import sealed_line

    pb = playbook(order("a", price="180.98", quantity="0.001"), order("b"))
    o = pb.orders[0]
    coid = pb.client_order_id(o)
    wire = (b'{"order_response": {"order_id": "ex-9", "client_order_id": "' + coid.encode()
            + b'", "status": "ACK", "quantity": 0.001, "price": 180.98, "take_profit": 0.0, '
              b'"update_time": 1796458104.5303118, "trade_id": null, "note": "caf\\u00e9"}}')
    with Journal.open(tmp_path, pb) as journal:
        journal.record_intent(coid, 0, o.id, Leg.ENTRY, add_order(pb, o))
        journal.record_answer(coid, parse_frame(wire))  # the frame as received: its text is kept
        journal.record_answer(coid, ack(coid, order_id="ex-9"))  # a plain dict: encoded
        journal.record_answer(coid, parse_frame(b'{ "order_response" : {"status": "ACK"} }'))
    lines = journal_path(tmp_path, pb).read_bytes().splitlines(keepends=True)[1:]
    assert wire in lines[1]  # exactly as it came: its numbers' text untouched
    for line in lines:
        record = loads(line)
        assert record.pop("sum")
        assert sealed_line(record) == line, line  # byte for byte what the generic encoder writes
    contents = load_contents(journal_path(tmp_path, pb))
    entry = contents.entries[coid]
    assert entry.accepted and entry.order_id == "ex-9"
