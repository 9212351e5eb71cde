"""Issue 12: numbers read alike everywhere (prices with the tick's decimals when it is known, average
fill prices rounded to it for display only), and a headline that reads well for every count."""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from runner.problems import Location, Problem, Severity
from runner.report import (
    FillRecord,
    Instrument,
    LegResult,
    Outcome,
    Report,
    StatusSeen,
    Summary,
    load_report,
    render,
    write_report_files,
)
from runner.report._cells import counts
from tests.report.test_report import T0, result

TICK = Instrument(Decimal("0.01"), Decimal("0.001"))


def summary() -> Summary:
    return Summary("pb.yaml", "demo", "a" * 64, None, "sim", "ws://127.0.0.1:1/", None, "0.1.0", T0, T0 + 1)


def filled_twice(**kw) -> Report:
    """BUY 2 @ 225 (written `225`), filled 1 @ 224.99 and 1 @ 225.00: an average of 224.995."""
    order = result(0, "entry", Outcome.PASSED, quantity=Decimal("2"), price=Decimal("225"), sent_at=T0,
                   statuses=[StatusSeen("FILLED", T0, Decimal("0"))], filled_reported=Decimal("2"),
                   fills=[FillRecord("t1", Decimal("224.99"), Decimal("1"), None, T0),
                          FillRecord("t2", Decimal("225.00"), Decimal("1"), None, T0)],
                   legs=[LegResult("take_profit", "after_fill", Decimal("240"), "SELL", Decimal("2"), "tp",
                                   "s-1", [StatusSeen("FILLED", T0)],
                                   [FillRecord("t3", Decimal("240.005"), Decimal("2"), None, T0)])])
    return Report(summary(), [order], **kw)


def test_with_the_tick_known_every_format_shows_prices_with_its_decimals(tmp_path):
    report = filled_twice(instruments={"AAPL-USD": TICK})
    paths = write_report_files(report, tmp_path / "r")
    text, markdown = render(report, "text"), paths["md"].read_text()
    for shown in (text, markdown):
        assert "2/2 @ 225.00" in shown  # 224.995 shown at the tick (banker's rounding, display only)
        assert "TP 240.00 x2 FILLED @ 240.00" in shown
        assert re.search(r"\b225\.00\b", shown) and " 225 " not in shown  # the written 225 reads 225.00
    system_out = ET.parse(paths["junit"]).getroot().findtext("testcase/system-out") or ""
    assert "BUY 2 AAPL-USD LIMIT @ 225.00;" in system_out and "filled 2/2 @ 225.00" in system_out
    saved = json.loads(paths["json"].read_text())
    assert saved["orders"][0]["average_price"] == 224.995  # the exact value stays in report.json
    assert saved["instruments"] == {"AAPL-USD": {"tick_size": 0.01, "lot_size": 0.001}}
    assert render(load_report(tmp_path / "r"), "text") == text  # `report DIR` renders it the same


def test_without_reference_data_numbers_read_as_today(tmp_path):
    report = filled_twice()
    text = render(report, "text")
    assert "2/2 @ 224.995" in text and "TP 240 x2 FILLED @ 240.005" in text
    assert "instruments" not in json.loads(render(report, "json"))


def test_a_price_written_finer_than_the_tick_is_never_rounded_away():
    from runner.report._cells import price

    assert price(Decimal("220.005"), Decimal("0.01")) == "220.005"
    assert price(Decimal("220"), Decimal("0.5")) == "220.0"
    assert price(Decimal("220"), Decimal("1")) == "220"


KINDS = (Outcome.PASSED, Outcome.FAILED, Outcome.ALREADY_PLACED, Outcome.NOT_SENT, Outcome.UNKNOWN)


@pytest.mark.parametrize("numbers", [n for n in itertools.product(range(3), repeat=5) if any(n)])
def test_the_counts_read_well_for_every_combination(numbers):
    orders = [result(i, f"o{i}", kind) for i, kind in enumerate(
        kind for kind, count in zip(KINDS, numbers, strict=True) for _ in range(count))]
    shown = counts(Report(summary(), orders))
    passed, failed, adopted, not_sent, unknown = numbers
    total = sum(numbers)
    assert shown.startswith(f"{total} order{'s' if total != 1 else ''}")
    pair = f"{passed} passed, {failed} failed"
    assert (pair in shown) == bool(passed or failed or not (adopted or not_sent or unknown))
    for count, label in ((adopted, "already placed"), (not_sent, "not sent"), (unknown, "unknown")):
        assert (f"{count} {label}" in shown) == bool(count)
    assert not re.search(r"\b0 (already placed|not sent|unknown)", shown)
    assert "0 passed, 0 failed" not in shown or total == 0
    assert sum(int(n) for n in re.findall(r"(\d+) (?:passed|failed|already|not|unknown)", shown)) == total


def test_an_invalid_playbook_says_so_instead_of_counting_no_orders():
    problems = [Problem(Location("pb.yaml", 3, 5), "bad", "schema", Severity.ERROR),
                Problem(Location("pb.yaml", 4, 5), "odd", "schema", Severity.WARNING)]
    assert counts(Report(summary(), [], problems=problems)) == "playbook invalid (1 problem), nothing sent"


@pytest.mark.parametrize(("saved", "shown"), [
    (0.65, "0.7 ms"), (Decimal("0.65"), "0.7 ms"), (0.25, "0.3 ms"), (Decimal("0.25"), "0.3 ms"),
    (12.0, "12.0 ms")])
def test_a_latency_reads_the_same_from_the_run_and_from_report_json(saved, shown):
    """The run holds a float, `report` re-renders the Decimal read back from report.json: both render
    alike (half up from the number's text), so `report` reproduces report.md byte for byte."""
    from runner.report._cells import latency

    assert latency(result(0, "a", Outcome.PASSED, saved_latency_ms=saved)) == shown
