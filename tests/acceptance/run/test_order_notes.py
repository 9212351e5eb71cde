"""Issue 12: an order's `note:` (the trader's own words) reaches plan and every report format, inert."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from runner.playbook.load import load_playbook, validate_file
from runner.playbook.plan import build_plan, plan_as_json, render_plan_text
from runner.report import load_report, render_text
from tests.acceptance.run.test_reports import validate_report
from tests.acceptance.run_kit import MARKET, RESTING, order, run, write_playbook

#: a note that tries to be a terminal escape, a Markdown image and an XML control character at once
HOSTILE = '"ok \\e[2J ![x](http://evil) \\x01 <b>"'


def test_a_note_is_carried_into_plan_and_every_report(tmp_path, simulator):
    entry = order("entry", MARKET, wait="fill", expect="filled", note="breakout retest")
    book = write_playbook(tmp_path, [entry, order("rest", RESTING)])
    plan = build_plan(load_playbook(book))
    assert "  note: breakout retest" in render_plan_text(plan)
    steps = plan_as_json(plan)["steps"]
    assert steps[0]["order_note"] == "breakout retest" and "order_note" not in steps[1]

    done = run(tmp_path, simulator, book)
    assert done.exit_code == 0
    saved = validate_report(done.report_dir / "report.json")
    assert saved["orders"][0]["note"] == "breakout retest" and "note" not in saved["orders"][1]
    assert load_report(done.report_dir).orders[0].note == "breakout retest"
    assert "  entry note: breakout retest" in render_text(done.report)
    assert "- `entry`: breakout retest" in (done.report_dir / "report.md").read_text()
    case = ET.parse(done.report_dir / "junit.xml").getroot().find("testcase[@name='entry']")
    assert case is not None
    assert case.find("properties/property[@name='note']").get("value") == "breakout retest"
    assert "note: breakout retest" in (case.findtext("system-out") or "")


def test_a_hostile_note_stays_inert_in_every_format(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("entry", RESTING, note=HOSTILE)])
    assert "\x1b" not in render_plan_text(build_plan(load_playbook(book)))
    done = run(tmp_path, simulator, book)
    text = render_text(done.report)
    assert "\x1b" not in text and "\\x1b[2J" in text
    markdown = (done.report_dir / "report.md").read_text()
    assert "!\\[x\\]" in markdown and "\\<b\\>" in markdown and "http\\://" in markdown
    ET.parse(done.report_dir / "junit.xml")  # still parses: the control character is shown escaped
    saved = json.loads((done.report_dir / "report.json").read_text())
    assert saved["orders"][0]["note"].startswith("ok \x1b")  # exact in the data, escaped when shown


def test_a_note_too_long_or_empty_is_a_located_error(tmp_path):
    for bad in ('""', "x" * 201):
        book = write_playbook(tmp_path, [order("entry", RESTING, note=bad)])
        checked = validate_file(book)
        assert checked.errors and all(p.location.line for p in checked.errors)
        assert any("note" in str(p) for p in checked.errors), checked.errors
