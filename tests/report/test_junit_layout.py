"""junit.xml is built as text (issue 18: a tree of ~10 elements per order was the slowest file); its
bytes are what ElementTree wrote with `ET.indent`, checked here by parsing the file and serialising
it again with ElementTree — on every kind of order and step, on an invalid playbook, and on text full
of what XML must escape."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from runner.problems import Location, Problem, Severity
from runner.report import (
    LegResult,
    OrderResult,
    Outcome,
    Reject,
    Report,
    RunOutcome,
    StatusSeen,
    StepResult,
    Summary,
)
from runner.report.junit import render_junit
from runner.report.provenance import Provenance

T0 = 1795600000.0
#: what XML escapes in attributes and text, line breaks and tabs, and non-ASCII (a carriage return is
#: checked on its own: a parser reads one in text as a line feed, so the round trip cannot show it)
HARD = 'a & b < c > d "quoted" \'single\' line\nbreak\ttab ünïcode ]]> end'


def _order(index: int, outcome: Outcome, **kw: object) -> OrderResult:
    base: dict = dict(index=index, id=f"o{index}", symbol="AAPL-USD", side="BUY", type="LIMIT",
                      quantity=Decimal("10"), price=Decimal("220.50"), time_in_force="GTC", reduce_only=False,
                      wait="ack", expect="accepted", outcome=outcome, verdict=f"{outcome.value}: {HARD}",
                      client_order_id=f"{index:08d}-0000-5000-8000-000000000000")
    base.update(kw)
    return OrderResult(**base)


def _as_elementtree_writes_it(text: str) -> str:
    head, body = text.split("\n", 1)
    assert head == '<?xml version="1.0" encoding="UTF-8"?>'
    tree = ET.fromstring(body)
    ET.indent(tree)
    return head + "\n" + ET.tostring(tree, encoding="unicode") + "\n"


def _report(**kw: object) -> Report:
    summary = Summary("pb.yaml", "demo & <co>", "a" * 64, "r1", "sim", "ws://127.0.0.1:1/?a=1&b=2", None,
                      "0.1.0", T0, T0 + 1.5, RunOutcome.FAILED, 1, HARD)
    return Report(summary, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("report", [
    _report(orders=[
        _order(0, Outcome.PASSED, sent_at=T0, answered_at=T0 + 0.01, filled_at=T0 + 0.02, note=HARD,
               statuses=[StatusSeen("ACK", T0 + 0.01), StatusSeen("FILLED", T0 + 0.02, Decimal("0"))],
               legs=[LegResult("take_profit", "attached", Decimal("240"), note=HARD)]),
        _order(1, Outcome.FAILED, sent_at=T0, answered_at=T0 + 0.01,
               reject=Reject("FAILED_MARGIN_CHECK", "insufficient margin", HARD)),
        _order(2, Outcome.FAILED, sent_at=T0, answered_at=T0 + 0.01),
        _order(3, Outcome.UNKNOWN, sent_at=T0),
        _order(4, Outcome.NOT_SENT),
        _order(5, Outcome.ALREADY_PLACED, differences={"price": (Decimal("220.50"), Decimal("221"))}),
    ], warnings=[HARD], provenance=Provenance(git_commit="abc", git_author=HARD, git_dirty=True),
        steps=[StepResult(0, "kill", "cancel", HARD, "k-1", outcome=Outcome.PASSED, actions=[HARD, "x"],
                          sent_at=T0, answered_at=T0 + 0.2),
               StepResult(1, "flat", "close_position", "close", "k-2", outcome=Outcome.FAILED, note=HARD,
                          statuses=[StatusSeen("REJECTED", T0)]),
               StepResult(2, "lev", "set_leverage", "lev", "k-3", outcome=Outcome.UNKNOWN),
               StepResult(3, "later", "cancel", "later", "k-4")]),
    _report(orders=[], problems=[
        Problem(Location("pb.yaml", 3, 5), HARD, "schema"),
        Problem(Location("pb.yaml", 9, 1), "only a warning", "style", Severity.WARNING)]),
    _report(orders=[_order(0, Outcome.PASSED, verdict="")]),
    _report(orders=[]),
], ids=["every-kind", "invalid-playbook", "empty-verdict", "empty"])
def test_junit_xml_is_what_elementtree_wrote(report: Report) -> None:
    text = render_junit(report)
    assert text == _as_elementtree_writes_it(text)


def test_text_that_xml_must_escape_is_escaped_as_elementtree_escapes_it() -> None:
    report = _report(orders=[_order(0, Outcome.FAILED, verdict=HARD + "\r")])
    text = render_junit(report)
    assert ('message="EXPECTATION_MISSED: a &amp; b &lt; c &gt; d &quot;quoted&quot; \'single\' '
            'line&#10;break&#09;tab ünïcode ]]&gt; end&#13;"') in text
    assert ("<system-out>failed: a &amp; b &lt; c &gt; d \"quoted\" 'single' line\nbreak\ttab ünïcode ]]&gt; "
            "end\r\n") \
        in text


def test_counts_in_the_suite_add_steps_and_problems() -> None:
    report = _report(orders=[_order(0, Outcome.FAILED), _order(1, Outcome.UNKNOWN),
                             _order(2, Outcome.NOT_SENT)],
                     steps=[StepResult(0, "a", "cancel", "a", "k", outcome=Outcome.FAILED),
                            StepResult(1, "b", "cancel", "b", "k2")])
    suite = ET.fromstring(render_junit(report).split("\n", 1)[1])
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == \
        {"tests": "5", "failures": "2", "errors": "1", "skipped": "2"}
    invalid = _report(orders=[], problems=[Problem(Location("pb.yaml", 3, 5), "bad", "schema")])
    suite = ET.fromstring(render_junit(invalid).split("\n", 1)[1])
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == \
        {"tests": "1", "failures": "1", "errors": "0", "skipped": "0"}
