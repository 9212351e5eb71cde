"""Report files: schema-valid JSON, parseable JUnit, the GitHub job summary — and no secret anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal

from jsonschema import Draft202012Validator

from runner.jsonnum import loads
from runner.playbook.schema import load_schema
from runner.simulator.config import AccountConfig
from tests.acceptance.run.test_cli import cli_env
from tests.acceptance.run_kit import MARGIN_REJECT, MARKET, RESTING, order, write_playbook

SECRET = "qfex_secret_UNIQUE-b7e1c0de-ZZZ"
PUBLIC = "qfex_pub_secret_test"


def validate_report(path) -> dict:
    data = json.loads(path.read_text())  # plain JSON for any consumer
    errors = sorted(Draft202012Validator(load_schema("report")).iter_errors(data), key=str)
    assert not errors, [e.message for e in errors]
    return data


def test_reports_validate_parse_and_carry_no_secret(tmp_path, simulator_factory):
    account = AccountConfig(PUBLIC, SECRET, "9b2f0a53-3c1e-4f5a-9d7e-1b2c3d4e5f60",
                            "4e3d2c1b-0a9f-4e8d-8c7b-6a5f4e3d2c1b", [], Decimal("1000000"))
    sim = simulator_factory(engine={"accounts": [account]})
    creds = tmp_path / "creds.yaml"
    creds.write_text(f"public_key: {PUBLIC}\nsecret_key: {SECRET}\n")
    os.chmod(creds, 0o600)
    summary = tmp_path / "step_summary.md"
    bracket = "bracket: {take_profit: 260.00, stop_loss: 200.00, mode: after_fill}"
    book = write_playbook(tmp_path, [
        order("rest", RESTING),
        order("buy", MARKET + "\n" + bracket, wait="fill", expect="filled"),
        order("refused", MARGIN_REJECT, expect="rejected"),
        order("miss", MARGIN_REJECT),
    ], name="reports", on_reject="continue")
    streams = []
    for fmt in ("text", "json"):
        done = subprocess.run(
            [sys.executable, "-m", "runner", "run", str(book), "--url", sim.url, "--credentials", str(creds),
             "--report-dir", f"rep-{fmt}", "--state-dir", "state", "--format", fmt, "--progress"],
            cwd=tmp_path, env=cli_env({"GITHUB_STEP_SUMMARY": str(summary)}), capture_output=True, text=True,
            timeout=120)
        assert done.returncode == 3, done.stderr
        streams += [done.stdout, done.stderr]
    rep = tmp_path / "rep-text"

    data = validate_report(rep / "report.json")
    assert data["summary"]["counts"] == {"orders": 4, "passed": 3, "failed": 1, "already_placed": 0,
                                         "not_sent": 0, "unknown": 0, "sent": 4, "rejected": 2, "filled": 1}
    assert data["summary"]["playbook"]["sha256"] and data["summary"]["target"] == "url"
    exact = loads((rep / "report.json").read_text())
    assert exact["orders"][1]["legs"][0]["trigger_price"] == Decimal("260.00")  # exact decimals
    miss = data["orders"][3]
    assert miss["reject"] == {"code": "FAILED_MARGIN_CHECK",
                              "meaning": "insufficient available balance (initial margin)", "message": None}

    suite = ET.parse(rep / "junit.xml").getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "4" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["rest", "buy", "refused", "miss"]
    failure = cases[3].find("failure")
    assert failure is not None and failure.get("type") == "FAILED_MARGIN_CHECK"
    assert "FAILED_MARGIN_CHECK" in failure.get("message")
    assert all(c.find("failure") is None for c in cases[:3])

    md = (rep / "report.md").read_text()
    assert "| `buy` |" in md and "TP 260" in md and "What went wrong" in md
    assert summary.read_text().count("## qfex-runner: `reports`") == 2  # appended by both runs

    outputs = streams + [p.read_text(errors="replace") for p in tmp_path.rglob("*")
                         if p.is_file() and p != creds]
    assert len(outputs) > 10
    for text in outputs:
        assert SECRET not in text


def test_report_json_round_trips_through_the_model(tmp_path, simulator):
    from runner.report import load_report, render_json
    from tests.acceptance.run_kit import run

    book = write_playbook(tmp_path, [order("a", MARKET, wait="fill", expect="filled"), order("b", RESTING)])
    result = run(tmp_path, simulator, book)
    saved = (tmp_path / "report" / "report.json").read_text()
    assert render_json(load_report(tmp_path / "report")) == saved
    validate_report(tmp_path / "report" / "report.json")
    assert result.files["json"].name == "report.json"


def test_one_failed_order_is_counted_in_the_singular_everywhere(tmp_path, simulator):
    from runner.report import render_text
    from tests.acceptance.run_kit import run

    book = write_playbook(tmp_path, [order("miss", MARGIN_REJECT)])
    done = run(tmp_path, simulator, book)
    assert done.exit_code == 3
    message = "1 order rejected or missed its expectation"
    assert done.report.summary.message == message
    text, markdown = render_text(done.report), (done.report_dir / "report.md").read_text()
    for shown in (text, markdown):
        assert "FAILED: 1 order, 0 passed, 1 failed" in shown and message in shown
        assert "1 orders" not in shown and "order(s)" not in shown
