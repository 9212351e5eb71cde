"""The reports' fast paths write what the plain way wrote (issue 18: the reports' cost per order).

ISO stamps without `datetime` per stamp, Markdown cells escaped only when they hold something to
escape: each is compared here with the plain computation it replaces, on the values that are hard.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.report import (
    FillRecord,
    Instrument,
    LegResult,
    OrderResult,
    Outcome,
    Reject,
    Report,
    StatusSeen,
    Summary,
    _cells,
    junit,
    markdown,
    text,
)
from runner.report.model import _iso_by_datetime, iso
from runner.words import printable


def test_iso_stamps_are_datetimes_text_on_the_rounding_edges() -> None:
    """Microseconds round half to even as `datetime.fromtimestamp` does, across second boundaries
    (x.9999995 becomes the next second), on the half-microsecond grid and either side of it."""
    rng = random.Random(18)
    stamps = [0.0, 5e-7, 1.5e-6, 0.9999995, 1.9999995, 1795600000.9999995, 1795600000.0000005,
              253402300798.9999995, 253402300798.9999999, 253402300799.0, -0.5, -1795600000.25]
    stamps += [rng.uniform(0, 253402300799) for _ in range(20_000)]
    for _ in range(20_000):
        on_grid = rng.randrange(1_700_000_000, 1_900_000_000) + rng.randrange(0, 2_000_001) / 2e6
        stamps += [on_grid, math.nextafter(on_grid, 0), math.nextafter(on_grid, math.inf)]
    for stamp in stamps:
        assert iso(stamp) == _iso_by_datetime(stamp), stamp
    assert iso(None) is None
    with pytest.raises(ValueError):  # beyond year 9999: refused as before
        iso(1e12)
    assert iso(1795600000.25) == "2026-11-25T09:46:40.250000Z"


_MARKDOWN_TEXT = st.lists(st.sampled_from(
    ["a", "W", "w", "www", ".", ":", "/", "//", "http", "HTTPS", "|", "\\", "`", "[", "]", "<", ">", "!", "*",
     "_", " ", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\u200b", "\u202e", "\u2066", "\ufeff", "é", "😀"]),
    max_size=10).map("".join)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(cells=st.lists(_MARKDOWN_TEXT, min_size=1, max_size=5))
def test_markdown_cells_are_escaped_exactly_as_before(cells: list[str]) -> None:
    """A cell (or a row of them) with nothing to escape is used as it is; anything else (links,
    `www.`, table pipes, code spans, HTML, unprintable characters, even split across two cells) is
    escaped exactly as every cell was before."""
    expected = [markdown._escaped(cell) for cell in cells]
    assert [markdown._cell(cell) for cell in cells] == expected
    assert markdown._cells_of(list(cells)) == expected


@settings(max_examples=300, deadline=None, derandomize=True)
@given(cells=st.lists(_MARKDOWN_TEXT, min_size=1, max_size=5))
def test_terminal_rows_are_made_printable_exactly_as_before(cells: list[str]) -> None:
    """The text summary's row: each cell as `printable` makes it, whether the row needed it or not."""
    assert text._printable_row(list(cells)) == [printable(cell) for cell in cells]


# --- round two: the table's cells made once, one escape scan per table, counts in C ---------------

_T0 = 1795600000.0
_TICK = Instrument(Decimal("0.01"), Decimal("0.001"))


def _order(index: int, outcome: Outcome, **kw: object) -> OrderResult:
    base: dict = dict(index=index, id=f"o{index}", symbol="AAPL-USD", side="BUY", type="LIMIT",
                      quantity=Decimal("10"), price=Decimal("220.5"), time_in_force="GTC", reduce_only=False,
                      wait="ack", expect="accepted", outcome=outcome, verdict=outcome.value,
                      client_order_id=f"{index:08d}-0000-5000-8000-000000000000")
    base.update(kw)
    return OrderResult(**base)


def _every_kind(text: str = "plain") -> list[OrderResult]:
    """Orders of every kind a table shows, with `text` wherever outside text reaches a cell."""
    return [
        _order(0, Outcome.PASSED, id="a|pipe", sent_at=_T0, answered_at=_T0 + 0.0125, end_state=text,
               statuses=[StatusSeen("ACK", _T0 + 0.0125, Decimal("10")), StatusSeen(text, _T0 + 0.02)],
               fills=[FillRecord("t1", Decimal("220.40"), Decimal("4"), None, _T0),
                      FillRecord("t2", Decimal("220.5"), Decimal("6"), None, _T0)],
               filled_reported=Decimal("10"), quantity_remaining=Decimal("0"),
               legs=[LegResult("take_profit", "after_fill", Decimal("240"), "SELL", Decimal("10"), "tp",
                               "s-1", [StatusSeen("ACK", _T0)], note=text),
                     LegResult("stop_loss", "attached", Decimal("200.1"), note="never armed: " + text)]),
        _order(1, Outcome.FAILED, verdict=text, sent_at=_T0, answered_at=_T0 + 0.01,
               statuses=[StatusSeen("FAILED_MARGIN_CHECK", _T0 + 0.01)],
               reject=Reject("FAILED_MARGIN_CHECK", text, text)),
        _order(2, Outcome.UNKNOWN, symbol=text, sent_at=_T0, verdict="no answer"),
        _order(3, Outcome.ALREADY_PLACED, quantity=Decimal("0.5"), price=Decimal("240"),
               differences={"price": (Decimal("240"), Decimal("241")), "quantity": (Decimal("0.5"), "0.75")}),
        _order(4, Outcome.NOT_SENT, price=None, type="MARKET"),
    ]


def _table_row_by_row(report: Report) -> list[str]:
    """report.md's order table as it was made before: each row formatted and escaped on its own."""
    lines = []
    for o in report.orders:
        cells = markdown._cells_of(_cells.row(o, _cells.units_for(report, o)))
        cells[-1] = f"{markdown._ICON[o.outcome]} {cells[-1]}"
        cells[1] = "`" + o.id.replace("|", "\\|") + "`"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _junit_detail_as_before(report: Report, o: OrderResult) -> str:
    """An order's junit detail as it was computed before, from the order itself."""
    units = _cells.units_for(report, o)
    tick = units.tick_size if units is not None else None
    return (f"{o.side} {_cells.num(o.quantity)} {o.symbol} {o.type} @ {_cells.price(o.price, tick)}; "
            f"client_order_id {o.client_order_id}; order_id {o.order_id or '-'}; "
            f"statuses {' > '.join([x.status for x in o.statuses]) or '-'}; "
            f"filled {_cells.filled(o, units)}; bracket {_cells.legs(o, units)}")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(texts=st.lists(_MARKDOWN_TEXT, min_size=1, max_size=3))
def test_the_markdown_table_scanned_once_is_the_table_made_row_by_row(texts: list[str]) -> None:
    """One scan of the whole table decides whether any cell needs escaping; a table with a link, a
    pipe, HTML or an unprintable character anywhere (even split across two rows) reads exactly as
    when every row was escaped on its own."""
    orders = [o for n, text in enumerate(texts) for o in _every_kind(text)
              if not (n and o.index == 4)]  # (one not-sent row is enough)
    for index, order in enumerate(orders):
        order.index = index
    report = Report(_summary(), orders, instruments={"AAPL-USD": _TICK})
    head = "|" + "|".join("---" for _ in _cells.COLUMNS) + "|"
    assert f"{head}\n" + "\n".join(_table_row_by_row(report)) + "\n" in markdown.render_markdown(report)
    assert markdown.render_markdown(report, _cells.rows(report)) == markdown.render_markdown(report)


@pytest.mark.parametrize("text", ["plain", 'a & b < c > "d" ]]> \x1b[31m www.x.io https://x.io |`'])
def test_junit_reads_the_shared_cells_as_it_computed_them(text: str) -> None:
    """junit.xml's detail takes the quantity, price, filled, bracket and outcome cells from the table's
    row: the same text as computed from the order, with the tick known or not, and for an order placed
    with a different definition (the placed figures only, never `(playbook …)`)."""
    for instruments in ({"AAPL-USD": _TICK}, {}):
        report = Report(_summary(), _every_kind(text), instruments=instruments)
        xml = junit.render_junit(report)
        assert xml == junit.render_junit(report, _cells.rows(report))
        for o in report.orders:
            detail = _junit_detail_as_before(report, o)
            assert junit._well_formed(junit._text(detail)) in xml
            assert f"<system-out>{junit._text(_cells.outcome(o))}: " in xml
        assert "(playbook" not in _junit_detail_as_before(report, report.orders[3])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(picks=st.lists(st.tuples(st.sampled_from(list(Outcome)), st.booleans(), st.booleans(),
                                st.sampled_from(["0", "1", "-1"])), max_size=12))
def test_the_counts_are_the_counts_of_one_loop(picks: list[tuple[Outcome, bool, bool, str]]) -> None:
    orders = [_order(n, outcome, sent_at=_T0 if sent else None,
                     reject=Reject("X", "x") if rejected else None, filled_reported=Decimal(filled))
              for n, (outcome, sent, rejected, filled) in enumerate(picks)]
    expected = {"orders": len(orders), **{o.value: sum(1 for r in orders if r.outcome is o) for o in Outcome},
                "sent": sum(1 for r in orders if r.sent_at is not None),
                "rejected": sum(1 for r in orders if r.reject is not None),
                "filled": sum(1 for r in orders if r.filled_quantity > 0)}
    assert Summary.counts(orders) == expected
    assert list(Summary.counts(orders)) == list(expected)


def test_report_json_reuses_the_answer_stamp_and_the_meanings_only_where_they_are_the_same() -> None:
    """A status at the answer's time is written with the answer's ISO text, any other with its own;
    a status name seen as an exchange status and as an `err` code keeps each its own meaning."""
    from runner import jsonnum
    from runner.report.jsonfile import order_text

    order = _order(0, Outcome.FAILED, sent_at=_T0, answered_at=_T0 + 0.0004999995,
                   statuses=[StatusSeen("InvalidOrder", _T0 + 0.0004999995, None, "err"),
                             StatusSeen("InvalidOrder", _T0 + 0.0005),
                             StatusSeen("ACK", _T0 + 0.9999995, Decimal("1"))])
    again = _order(1, Outcome.PASSED, statuses=[StatusSeen("InvalidOrder", _T0)])  # no answer time
    for o in (order, again, order):  # the second time from the remembered meanings
        assert order_text(o, "  ", 2) == jsonnum.indented_text(o.to_json(), "  ", 2)
    written = order_text(order, "  ", 2) or ""
    assert written.count('"meaning": "error frame from the exchange"') == 1
    assert f'"answered_at": "{iso(_T0 + 0.0004999995)}"' in written


def _summary() -> Summary:
    return Summary("pb.yaml", "demo", "a" * 64, None, "sim", "ws://127.0.0.1:1/", None, "0.1.0", _T0, _T0 + 1)


_ODD_TEXT = st.lists(st.sampled_from(
    ["w", "W", "www", "WwW", ".", ":", "//", "|", "\\", "`", "[", "]", "<", ">", " ", "\u00a0", "\u2028",
     "\x1b", "\x85", "\u200d", "İ", "ẞ", "ﬀ", "Ｗ", "→", "—", "é", "a"]), max_size=12).map("".join)


@settings(max_examples=800, deadline=None, derandomize=True)
@given(text=_ODD_TEXT)
def test_the_inert_test_by_string_searches_gives_the_patterns_answer(text: str) -> None:
    """Printable text is tested by C string searches (case-folded for `www.`), the rest by the
    patterns: the same answer on every mix of what Markdown or a terminal could act on."""
    assert markdown._inert(text) == markdown._inert_by_pattern(text)
    active = {chr(c) for c in range(0x3000) if markdown._ACTIVE.match(chr(c))}
    assert active == set(markdown._ACTIVE_CHARACTERS)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(texts=st.lists(_ODD_TEXT, min_size=1, max_size=3))
def test_the_terminal_table_scanned_once_is_the_table_made_row_by_row(texts: list[str]) -> None:
    """The text summary's table: one scan when all of it is printable, else each row made printable
    as before; the same lines either way."""
    orders = [o for n, t in enumerate(texts) for o in _every_kind(t) if not (n and o.index == 4)]
    report = Report(_summary(), orders, instruments={"AAPL-USD": _TICK})
    rows = [list(_cells.COLUMNS)] + [text._printable_row(_cells.row(o, _cells.units_for(report, o)))
                                     for o in orders]
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    expected = ["  ".join(map(str.ljust, r, widths)).rstrip() for r in rows]
    lines = text.render_text(report).split("\n")
    assert lines[1:1 + len(expected)] == expected
