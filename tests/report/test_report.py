"""Report model and renderers on hand-built results: every outcome kind, escaping, schema validity."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator

from runner.jsonnum import loads
from runner.playbook.schema import load_schema
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
    render,
    render_json,
    write_report_files,
)

T0 = 1795600000.0


def result(index: int, id_: str, outcome: Outcome, **kw) -> OrderResult:
    base = dict(index=index, id=id_, symbol="AAPL-USD", side="BUY", type="LIMIT", quantity=Decimal("10"),
                price=Decimal("220.50"), time_in_force="GTC", reduce_only=False, wait="ack",
                expect="accepted",
                client_order_id=f"{index:08d}-0000-5000-8000-000000000000", outcome=outcome,
                verdict=outcome.value)
    base.update(kw)
    return OrderResult(**base)


@pytest.fixture
def report() -> Report:
    filled = result(0, "entry|pipe", Outcome.PASSED, order_id="o-1", sent_at=T0, answered_at=T0 + 0.0123,
                    filled_at=T0 + 0.02, statuses=[StatusSeen("ACK", T0 + 0.0123, Decimal("10")),
                                                   StatusSeen("FILLED", T0 + 0.02, Decimal("0"))],
                    fills=[FillRecord("t1", Decimal("220.40"), Decimal("4"), Decimal("0.1"), T0 + 0.015),
                           FillRecord("t2", Decimal("220.50"), Decimal("6"), Decimal("0.2"), T0 + 0.02)],
                    quantity_remaining=Decimal("0"), filled_reported=Decimal("10"),
                    legs=[LegResult("take_profit", "after_fill", Decimal("240"), "SELL", Decimal("10"),
                                    "tp-coid", "s-1", [StatusSeen("ACK", T0 + 0.03)]),
                          LegResult("stop_loss", "after_fill", Decimal("200"), "SELL", Decimal("10"),
                                    "sl-coid", None, [], [],
                                    Reject("INVALID_STOPLOSS_PRICE", "stop-loss price invalid"))])
    rejected = result(1, "refused", Outcome.FAILED, sent_at=T0 + 0.1, answered_at=T0 + 0.11,
                      statuses=[StatusSeen("FAILED_MARGIN_CHECK", T0 + 0.11)],
                      reject=Reject("FAILED_MARGIN_CHECK", "insufficient available balance", "margin"),
                      verdict="rejected: FAILED_MARGIN_CHECK")
    err = result(2, "malformed", Outcome.FAILED, sent_at=T0 + 0.2, answered_at=T0 + 0.21,
                 statuses=[StatusSeen("InvalidOrder", T0 + 0.21, None, "err")],
                 reject=Reject("InvalidOrder", "the order was malformed", "missing price"))
    unknown = result(3, "lost", Outcome.UNKNOWN, sent_at=T0 + 0.3, verdict="sent, but no answer arrived")
    adopted = result(4, "earlier", Outcome.ALREADY_PLACED, order_id="o-5", filled_reported=Decimal("3"),
                     statuses=[StatusSeen("ACK", T0, None, "journal")])
    not_sent = result(5, "later", Outcome.NOT_SENT, verdict="not sent")
    summary = Summary("pb.yaml", "demo", "a" * 64, "r1", "sim", "ws://127.0.0.1:1/", None, "0.1.0", T0,
                      T0 + 1.5, RunOutcome.ABORTED, 5, "on_reject: stop")
    return Report(summary, [filled, rejected, err, unknown, adopted, not_sent], ["a warning"])


def test_json_is_schema_valid_and_exact(report):
    text = render_json(report)
    data = json.loads(text)
    errors = list(Draft202012Validator(load_schema("report")).iter_errors(data))
    assert not errors, [e.message for e in errors]
    exact = loads(text)
    first = exact["orders"][0]
    assert first["price"] == Decimal("220.50") and first["filled_quantity"] == Decimal("10")
    assert first["average_price"] == Decimal("220.46")
    assert first["latency_ms"] == Decimal("12.3")
    assert data["summary"]["counts"] == {"orders": 6, "passed": 1, "failed": 2, "already_placed": 1,
                                         "not_sent": 1, "unknown": 1, "sent": 4, "rejected": 2, "filled": 2}


def test_json_round_trip(report, tmp_path):
    paths = write_report_files(report, tmp_path / "r", env={})
    from runner.report import load_report

    assert render_json(load_report(paths["json"])) == paths["json"].read_text()
    assert render(load_report(tmp_path / "r"), "md") == paths["md"].read_text()
    assert render(load_report(tmp_path / "r"), "junit") == paths["junit"].read_text()


def test_markdown_escapes_pipes_and_lists_failures(report):
    md = render(report, "md")
    assert "`entry\\|pipe`" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "AAPL-USD" in line]
    assert len(rows) == 6 and all(r.count(" | ") == 12 for r in rows)
    assert "FAILED_MARGIN_CHECK (insufficient available balance)" in md
    assert "TP 240 x10 ACK, SL 200 x10 INVALID_STOPLOSS_PRICE" in md
    assert "### What went wrong" in md and "### Warnings" in md
    assert "10/10 @ 220.46" in md


def test_junit_one_case_per_order(report):
    suite = ET.fromstring(render(report, "junit"))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == \
        ("6", "2", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["entry|pipe", "refused", "malformed", "lost", "earlier", "later"]
    failure = cases["refused"].find("failure")
    assert failure.get("type") == "FAILED_MARGIN_CHECK" and "(margin)" in failure.get("message")
    assert cases["malformed"].find("failure").get("type") == "InvalidOrder"
    assert cases["lost"].find("error") is not None
    assert cases["later"].find("skipped") is not None
    assert cases["earlier"].find("failure") is None and cases["entry|pipe"].find("failure") is None
    assert float(cases["entry|pipe"].get("time")) == pytest.approx(0.02, abs=1e-3)


def test_text_color_only_when_asked(report):
    plain = render(report, "text")
    assert "\x1b[" not in plain and "ABORTED: 6 orders, 1 passed, 2 failed" in plain
    assert "1 already placed, 1 not sent, 1 unknown" in plain
    assert "\x1b[31m" in render(report, "text", color=True)


def test_step_summary_is_appended(report, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier content\n")
    write_report_files(report, tmp_path / "r", env={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert text.startswith("earlier content\n") and "## qfex-runner: `demo` on sim" in text


def test_unknown_format_is_a_usage_error(report):
    from runner.errors import UsageError

    with pytest.raises(UsageError):
        render(report, "pdf")


def test_load_rejects_a_foreign_json(tmp_path):
    from runner.errors import UsageError
    from runner.report import load_report

    (tmp_path / "report.json").write_text('{"hello": 1}')
    with pytest.raises(UsageError, match="not a qfex-runner report"):
        load_report(tmp_path)


@pytest.mark.parametrize(("orders", "shown"), [(1, "PASSED: 1 order, 1 passed, 0 failed"),
                                               (3, "PASSED: 3 orders, 3 passed, 0 failed")])
def test_the_headline_counts_orders_in_good_english(tmp_path, orders, shown):
    summary = Summary("pb.yaml", "demo", "a" * 64, None, "sim", "ws://127.0.0.1:1/", None, "0.1.0", T0,
                      T0 + 1)
    done = Report(summary, [result(n, f"o{n}", Outcome.PASSED) for n in range(orders)])
    step_summary = tmp_path / "summary.md"
    paths = write_report_files(done, tmp_path / "r", env={"GITHUB_STEP_SUMMARY": str(step_summary)})
    for text in (render(done, "text"), paths["md"].read_text(), step_summary.read_text()):
        assert shown + " in 1.00 s (exit 0)" in text
        assert "1 orders" not in text


HOSTILE = ("\x1b[2J\x07 ]]> \x00\x0b\ufffe a|b `c` ![i](http://evil/x.png) <img src=x> [l](https://e/) "
           "www.e.com\nX")


@pytest.fixture
def hostile(report):
    report.orders[1].reject = Reject("FAILED_MARGIN_CHECK", "insufficient available balance", HOSTILE)
    report.orders[1].verdict = f"rejected: {HOSTILE}"
    report.warnings.append(HOSTILE)
    report.summary.message = HOSTILE
    return report


def test_junit_parses_whatever_the_exchange_said(hostile):
    suite = ET.fromstring(render(hostile, "junit"))
    message = suite.find("testcase[@name='refused']/failure").get("message")
    assert "\\x1b[2J\\x07 ]]> \\x00\\x0b\\ufffe a|b `c` ![i](http://evil/x.png) <img src=x>" in message


def test_markdown_shows_outside_text_inert(hostile):
    md = render(hostile, "md")
    escaped = (r"\\x1b\[2J\\x07 \]\]\> \\x00\\x0b" + "\ufffe" + r" a\|b \`c\` !\[i\](http\://evil/x.png) "
               r"\<img src=x\> \[l\](https\://e/) www\.e.com\\nX")
    assert md.count(escaped) == 3  # the verdict, the warning, the run's message
    assert "> " + escaped in md
    assert "\x1b" not in md and "\x00" not in md


def test_text_shows_outside_text_on_one_line(hostile):
    text = render(hostile, "text", color=True)
    assert text.count("\\x1b[2J\\x07 ]]> \\x00\\x0b") == 3
    assert "\x07" not in text and "\x00" not in text and "\nX" not in text
    assert "\x1b[2J" not in text and "\x1b[3" in text  # our own colours stay
