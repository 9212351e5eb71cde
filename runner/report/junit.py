"""JUnit XML: one testcase per playbook order, so CI systems show each order as a test.

failure = missed expectation (with the reject code and message); skipped = not sent;
error = sent but outcome unknown. Timing is the order's send → settle time.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from runner.report import _cells
from runner.report.model import Outcome, Report, StepResult, iso


def render_junit(report: Report) -> str:
    s = report.summary
    c = report.counts
    suite = ET.Element("testsuite", {
        "name": f"qfex-runner.{s.playbook_name}",
        "tests": str(c["orders"]),
        "failures": str(c["failed"]),
        "errors": str(c["unknown"]),
        "skipped": str(c["not_sent"]),
        "timestamp": iso(s.started_at) or "",
        "time": f"{float(s.duration_s or 0):.3f}",
    })
    props = ET.SubElement(suite, "properties")
    for name, value in (("target", s.target), ("url", s.url), ("playbook", s.playbook_path),
                        ("playbook_sha256", s.playbook_sha256), ("run_id", s.run_id or ""),
                        ("runner_version", s.runner_version), ("exit_code", str(s.exit_code)),
                        *(report.provenance.properties() if report.provenance is not None else [])):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for o in report.orders:
        settle_ms = o.fill_latency_ms if o.fill_latency_ms is not None else o.latency_ms
        elapsed = float(settle_ms) / 1000 if settle_ms is not None else 0.0
        case = ET.SubElement(suite, "testcase", {
            "classname": f"{s.playbook_name}.{o.symbol}", "name": o.id, "time": f"{max(elapsed, 0.0):.3f}"})
        units = _cells.units_for(report, o)
        tick = units.tick_size if units is not None else None
        detail = (f"{o.side} {_cells.num(o.quantity)} {o.symbol} {o.type} @ {_cells.price(o.price, tick)}; "
                  f"client_order_id {o.client_order_id}; order_id {o.order_id or '-'}; "
                  f"statuses {' > '.join(x.status for x in o.statuses) or '-'}; "
                  f"filled {_cells.filled(o, units)}; bracket {_cells.legs(o, units)}")
        properties = [("note", o.note)] if o.note else []
        if o.differences:
            properties.append(("placed_with_different_definition", o.verdict))
        if properties:
            node = ET.SubElement(case, "properties")
            for name, value in properties:
                ET.SubElement(node, "property", {"name": name, "value": value})
        if o.outcome is Outcome.FAILED:
            code = o.reject.code if o.reject else "EXPECTATION_MISSED"
            message = f"{code}: {o.verdict}"
            if o.reject and o.reject.message:
                message += f" ({o.reject.message})"
            node = ET.SubElement(case, "failure", {"type": code, "message": message})
            node.text = detail
        elif o.outcome is Outcome.UNKNOWN:
            node = ET.SubElement(case, "error", {"type": "UNKNOWN", "message": o.verdict})
            node.text = detail
        elif o.outcome is Outcome.NOT_SENT:
            ET.SubElement(case, "skipped", {"message": o.verdict})
        out = ET.SubElement(case, "system-out")
        out.text = f"{_cells.outcome(o)}: {o.verdict}\n{detail}" + (f"\nnote: {o.note}" if o.note else "")
    for x in report.steps:  # one testcase per step besides orders
        case = ET.SubElement(suite, "testcase", {"classname": f"{s.playbook_name}.step.{x.kind}",
                                                 "name": x.id, "time": f"{_step_seconds(x):.3f}"})
        detail = f"{x.description}; key {x.key}" + "".join(f"\n{a}" for a in x.actions)
        if x.outcome is Outcome.FAILED:
            node = ET.SubElement(case, "failure",
                                 {"type": x.last_status or "STEP_FAILED", "message": x.verdict})
            node.text = detail
        elif x.outcome is Outcome.UNKNOWN:
            node = ET.SubElement(case, "error", {"type": "UNKNOWN", "message": x.verdict})
            node.text = detail
        elif x.outcome is Outcome.NOT_SENT:
            ET.SubElement(case, "skipped", {"message": x.verdict})
        out = ET.SubElement(case, "system-out")
        out.text = f"{_cells.step_line(x)}\n{detail}" + (f"\nnote: {x.note}" if x.note else "")
    if report.steps:
        suite.set("tests", str(c["orders"] + len(report.steps)))
        suite.set("failures", str(c["failed"] + sum(1 for x in report.steps if x.outcome is Outcome.FAILED)))
        suite.set("errors", str(c["unknown"] + sum(1 for x in report.steps if x.outcome is Outcome.UNKNOWN)))
        skipped = sum(1 for x in report.steps if x.outcome is Outcome.NOT_SENT)
        suite.set("skipped", str(c["not_sent"] + skipped))
    for problem in report.problems:  # `run` of an invalid playbook: each problem a failed testcase
        if problem.severity.value != "error":
            continue
        case = ET.SubElement(suite, "testcase", {"classname": f"{s.playbook_name}.playbook",
                                                 "name": str(problem.location), "time": "0.000"})
        node = ET.SubElement(case, "failure", {"type": problem.rule, "message": problem.message})
        node.text = str(problem)
    errors = [p for p in report.problems if p.severity.value == "error"]
    if errors:
        suite.set("tests", str(c["orders"] + len(report.steps) + len(errors)))
        suite.set("failures", str(c["failed"] + len(errors)))
    ET.indent(suite)
    xml = _well_formed(ET.tostring(suite, encoding="unicode"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n"


def _step_seconds(step: StepResult) -> float:
    if step.sent_at is None or step.answered_at is None:
        return 0.0
    return max(step.answered_at - step.sent_at, 0.0)


#: characters XML 1.0 forbids (ElementTree writes them anyway, and the file no longer parses), plus DEL
#: and the C1 controls, which are legal but would reach a terminal printing the failure messages
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _well_formed(xml: str) -> str:
    """The one place junit.xml is made parseable whatever the exchange said: each forbidden character
    shown as its escape (`\\x1b`); `<`, `&` and `]]>` are already escaped by ElementTree."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", xml)
