"""report.json's streaming writer (runner.report.jsonfile) writes exactly what the whole document encodes to.

The writer exists for speed and memory (issue 6); its contract is byte-identity with
`jsonnum.dumps(report.to_json(), indent=2) + "\\n"`, checked here on every kind of value a
report holds, on an empty run, and on a report big enough to be flushed in many pieces.
"""

from __future__ import annotations

import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest

from runner import jsonnum
from runner.jsonnum import dumps, loads
from runner.report import (
    FillRecord,
    LegResult,
    OrderResult,
    Outcome,
    Reject,
    Report,
    RunOutcome,
    StatusSeen,
    Summary,
    load_report,
    write_report_files,
)
from runner.report.jsonfile import order_text, render_json, write_report_json

T0 = 1795600000.0


def result(index: int, id_: str, outcome: Outcome, **kw: object) -> OrderResult:
    base: dict = dict(index=index, id=id_, symbol="AAPL-USD", side="BUY", type="LIMIT",
                      quantity=Decimal("10"), price=Decimal("220.50"), time_in_force="GTC", reduce_only=False,
                      wait="ack", expect="accepted", outcome=outcome, verdict=outcome.value,
                      client_order_id=f"{index:08d}-0000-5000-8000-000000000000")
    base.update(kw)
    return OrderResult(**base)


@pytest.fixture
def report() -> Report:
    """Every kind of order a run reports: filled with fills and bracket legs, rejected, err, unknown,
    adopted, not sent."""
    filled = result(0, "entry|pipe", Outcome.PASSED, order_id="o-1", sent_at=T0, answered_at=T0 + 0.0123,
                    filled_at=T0 + 0.02, statuses=[StatusSeen("ACK", T0 + 0.0123, Decimal("10")),
                                                   StatusSeen("FILLED", T0 + 0.02, Decimal("0"))],
                    fills=[FillRecord("t1", Decimal("220.40"), Decimal("4"), Decimal("0.1"), T0 + 0.015),
                           FillRecord("t2", Decimal("220.50"), Decimal("6"), None, T0 + 0.02)],
                    quantity_remaining=Decimal("0"), filled_reported=Decimal("10"),
                    legs=[LegResult("take_profit", "after_fill", Decimal("240"), "SELL", Decimal("10"),
                                    "tp-coid", "s-1", [StatusSeen("ACK", T0 + 0.03)]),
                          LegResult("stop_loss", "after_fill", Decimal("200"), "SELL", Decimal("10"),
                                    "sl-coid", None, [], [],
                                    Reject("INVALID_STOPLOSS_PRICE", "stop-loss price invalid"))])
    rejected = result(1, "refused", Outcome.FAILED, sent_at=T0 + 0.1, answered_at=T0 + 0.11,
                      statuses=[StatusSeen("FAILED_MARGIN_CHECK", T0 + 0.11)],
                      reject=Reject("FAILED_MARGIN_CHECK", "insufficient available balance", "margin"))
    err = result(2, "malformed", Outcome.FAILED, sent_at=T0 + 0.2, answered_at=T0 + 0.21,
                 statuses=[StatusSeen("InvalidOrder", T0 + 0.21, None, "err")],
                 reject=Reject("InvalidOrder", "the order was malformed", "missing price"))
    unknown = result(3, "lost", Outcome.UNKNOWN, sent_at=T0 + 0.3, verdict="sent, but no answer arrived")
    adopted = result(4, "earlier", Outcome.ALREADY_PLACED, order_id="o-5", filled_reported=Decimal("3"),
                     statuses=[StatusSeen("ACK", T0, None, "journal")], price=None)
    not_sent = result(5, "later", Outcome.NOT_SENT, verdict="not sent")
    summary = Summary("pb.yaml", "demo", "a" * 64, "r1", "sim", "ws://127.0.0.1:1/", None, "0.1.0", T0,
                      T0 + 1.5, RunOutcome.ABORTED, 5, "on_reject: stop")
    return Report(summary, [filled, rejected, err, unknown, adopted, not_sent], ["a warning"])


def generic(report: Report) -> str:
    """The whole document by the general, value-by-value encoder: what report.json always was."""
    out: list[str] = []
    jsonnum._encoder(out.append, "  ", False)(report.to_json(), 0)
    assert dumps(report.to_json(), indent=2) == "".join(out)
    return "".join(out) + "\n"


def test_every_kind_of_order_is_written_byte_for_byte_as_before(report: Report, tmp_path: Path) -> None:
    report.warnings.append("ünïcode \"quoted\" \\ back\nslash and a tab\t")
    path = tmp_path / "report.json"
    write_report_json(report, path)
    assert path.read_text(encoding="utf-8") == generic(report)
    assert render_json(report) == generic(report)
    assert not list(tmp_path.glob(".*.tmp")), "written through a temporary file, renamed into place"


def test_a_run_with_no_orders_and_no_warnings(report: Report, tmp_path: Path) -> None:
    empty = Report(report.summary, [], [])
    write_report_json(empty, tmp_path / "report.json")
    assert (tmp_path / "report.json").read_text() == generic(empty)


def test_write_report_files_uses_it_and_the_report_reads_back(report: Report, tmp_path: Path) -> None:
    paths = write_report_files(report, tmp_path / "run", env={})
    assert paths["json"].read_text() == generic(report)
    assert load_report(tmp_path / "run").to_json() == loads(generic(report))


def test_many_orders_are_flushed_in_pieces_and_stay_identical(tmp_path: Path) -> None:
    orders = [result(i, f"o{i:05d}", Outcome.PASSED, sent_at=T0 + i / 1000, answered_at=T0 + i / 1000 + 5e-4,
                     price=Decimal(f"{180 + (i % 100) / 100:.2f}"), order_id=f"x{i}") for i in range(3000)]
    summary = Summary("pb.yaml", "big", "b" * 64, None, "sim", "ws://127.0.0.1:1/", "acct", "0.1.0", T0,
                      T0 + 3, RunOutcome.PASSED, 0, "")
    big = Report(summary, orders, [])
    path = tmp_path / "report.json"
    write_report_json(big, path)
    expected = generic(big)
    assert path.read_text() == expected
    tracemalloc.start()
    write_report_json(big, path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < len(expected) / 4, "the document is never held whole in memory"


def test_the_run_summary_line_per_order_is_report_json_narrowed(report: Report) -> None:
    """`run --format json` prints `brief_json()` per order: the very values report.json holds."""
    for order in report.orders:
        whole = order.to_json()
        assert order.brief_json() == {key: whole[key] for key in OrderResult.BRIEF_KEYS}
        assert list(order.brief_json()) == list(OrderResult.BRIEF_KEYS)


def test_each_order_written_straight_from_the_model_is_its_dict_encoded(report: Report,
                                                                        tmp_path: Path) -> None:
    """`order_text` writes an order without building its dict: every optional key (expected statuses,
    end state, note, a position, a different definition), latencies read back from report.json as
    Decimal, and an attribute of an unexpected type (written by the general path instead) give the
    text `jsonnum` writes for `to_json()`."""
    from runner.report import Position, TimelineEvent

    extra = result(6, "managed", Outcome.PASSED, expect_statuses=["FAILED_MARGIN_CHECK"],
                   end_state="resting", note='the "note" \\ with ünïcode', order_id="o-7", sent_at=T0,
                   answered_at=T0 + 0.0004999995,
                   position=Position([TimelineEvent(T0, "entry_fill", "entry", "filled", Decimal("1"),
                                                    Decimal("220.5"))], [(T0, Decimal("220.55"))],
                                     Decimal("1"), Decimal("-0.30"), Decimal("0.01"), 3, None),
                   differences={"price": (Decimal("220.50"), Decimal("221")),
                                "quantity": (Decimal("10"), None)})
    odd = result(7, "odd", Outcome.PASSED, order_id=12345, reduce_only=None, time_in_force=5)
    report.orders += [extra, odd]
    for order in report.orders:
        assert order_text(order, "  ", 2) in (None, jsonnum.indented_text(order.to_json(), "  ", 2))
    assert order_text(report.orders[0], "  ", 2) is not None and order_text(extra, "  ", 2) is not None
    assert order_text(odd, "  ", 2) is None, "a field of another type: the dict, encoded"
    path = tmp_path / "report.json"
    write_report_json(report, path)
    assert path.read_text() == generic(report)
    write_report_files(report, tmp_path / "run", env={})
    again = load_report(tmp_path / "run")  # latencies and numbers now Decimal, times re-read
    for order in again.orders[:-1]:
        assert order_text(order, "  ", 2) == jsonnum.indented_text(order.to_json(), "  ", 2)
    write_report_json(again, path)
    assert path.read_text() == generic(again)
