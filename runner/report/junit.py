"""JUnit XML: one testcase per playbook order, so CI systems show each order as a test.

failure = missed expectation (with the reject code and message); skipped = not sent;
error = sent but outcome unknown. Timing is the order's send → settle time.
"""

from __future__ import annotations

import re

from runner.report import _cells
from runner.report.model import OrderResult, Outcome, Report, StepResult, iso

#: the text is what `xml.etree.ElementTree` wrote with `ET.indent` (the tests parse the file and
#: serialise it again with ElementTree: the same bytes), built as strings: a tree of ~10 elements per
#: order cost more than all of report.md
Attributes = list[tuple[str, str]]


def render_junit(report: Report, rows: list[list[str]] | None = None) -> str:
    """junit.xml; `rows`: the orders' table cells when already made (`_cells.rows`), else made here."""
    s = report.summary
    c = report.counts
    errors = [p for p in report.problems if p.severity.value == "error"]
    counts = {"tests": c["orders"], "failures": c["failed"], "errors": c["unknown"], "skipped": c["not_sent"]}
    if report.steps:
        counts["tests"] += len(report.steps)
        counts["failures"] += sum(1 for x in report.steps if x.outcome is Outcome.FAILED)
        counts["errors"] += sum(1 for x in report.steps if x.outcome is Outcome.UNKNOWN)
        counts["skipped"] += sum(1 for x in report.steps if x.outcome is Outcome.NOT_SENT)
    if errors:  # `run` of an invalid playbook (no steps ran): each problem a failed testcase
        counts["tests"] = c["orders"] + len(report.steps) + len(errors)
        counts["failures"] = c["failed"] + len(errors)
    properties = [_element("property", [("name", name), ("value", value)], level=2) for name, value in (
        ("target", s.target), ("url", s.url), ("playbook", s.playbook_path),
        ("playbook_sha256", s.playbook_sha256), ("run_id", s.run_id or ""),
        ("runner_version", s.runner_version), ("exit_code", str(s.exit_code)),
        *(report.provenance.properties() if report.provenance is not None else []))]
    children = [_element("properties", [], children=properties, level=1)]
    table = _cells.rows(report) if rows is None else rows
    classnames = {symbol: _attribute(f"{s.playbook_name}.{symbol}")  # escaped once per symbol
                  for symbol in {o.symbol for o in report.orders}}
    children += [_order_case(classnames[o.symbol], o, cells)
                 for o, cells in zip(report.orders, table, strict=True)]
    children += [_step_case(s.playbook_name, x) for x in report.steps]
    children += [_element("testcase", [("classname", f"{s.playbook_name}.playbook"),
                                       ("name", str(problem.location)), ("time", "0.000")], children=[
        _element("failure", [("type", problem.rule), ("message", problem.message)], text=str(problem),
                 level=2)], level=1) for problem in errors]
    suite = _element("testsuite", [
        ("name", f"qfex-runner.{s.playbook_name}"), *((key, str(count)) for key, count in counts.items()),
        ("timestamp", iso(s.started_at) or ""), ("time", f"{float(s.duration_s or 0):.3f}")],
        children=children, level=0)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _well_formed(suite) + "\n"


def _order_case(classname: str, o: OrderResult, cells: list[str]) -> str:
    """One order's testcase: failure = missed expectation, error = outcome unknown, skipped = not sent.
    `classname`: escaped already; `cells`: its table row, whose quantity, price, filled, bracket and
    outcome cells the detail reads."""
    settle_ms = o.fill_latency_ms
    if settle_ms is None:
        settle_ms = o.latency_ms
    elapsed = float(settle_ms) / 1000 if settle_ms is not None else 0.0
    if o.differences:  # the table sets the placed figures against the playbook's: here, as placed only
        quantity, price = _cells.num(o.quantity), _cells.price(o.price)
    else:
        quantity, price = cells[_cells.QTY], cells[_cells.PRICE]
    detail = (f"{o.side} {quantity} {o.symbol} {o.type} @ {price}; "
              f"client_order_id {o.client_order_id}; order_id {o.order_id or '-'}; "
              f"statuses {' > '.join([x.status for x in o.statuses]) or '-'}; "
              f"filled {cells[_cells.FILLED]}; bracket {cells[_cells.BRACKET]}")
    out = f"{cells[_cells.OUTCOME]}: {o.verdict}\n{detail}" + (f"\nnote: {o.note}" if o.note else "")
    head = f'<testcase classname="{classname}" name="{_attribute(o.id)}" time="{max(elapsed, 0.0):.3f}">'
    if not (o.note or o.differences) and o.outcome in _ONLY_OUTPUT:  # most orders: no other child
        return f"{head}\n    <system-out>{_text(out)}</system-out>\n  </testcase>"
    properties = [("note", o.note)] if o.note else []
    if o.differences:
        properties.append(("placed_with_different_definition", o.verdict))
    children = [_element("properties", [], children=[
        _element("property", [("name", name), ("value", value)], level=3) for name, value in properties],
        level=2)] if properties else []
    if o.outcome is Outcome.FAILED:
        code = o.reject.code if o.reject else "EXPECTATION_MISSED"
        message = f"{code}: {o.verdict}"
        if o.reject and o.reject.message:
            message += f" ({o.reject.message})"
        children.append(_element("failure", [("type", code), ("message", message)], text=detail, level=2))
    elif o.outcome is Outcome.UNKNOWN:
        children.append(_element("error", [("type", "UNKNOWN"), ("message", o.verdict)], text=detail,
                                 level=2))
    elif o.outcome is Outcome.NOT_SENT:
        children.append(_element("skipped", [("message", o.verdict)], level=2))
    children.append(f"<system-out>{_text(out)}</system-out>")  # never empty (`_element`'s case, inline)
    return head + "\n    " + "\n    ".join(children) + "\n  </testcase>"


#: the outcomes whose testcase holds its output only (no failure, error or skipped element)
_ONLY_OUTPUT = (Outcome.PASSED, Outcome.ALREADY_PLACED)


def _step_case(playbook_name: str, x: StepResult) -> str:
    """One step's testcase besides the orders'."""
    detail = f"{x.description}; key {x.key}" + "".join(f"\n{a}" for a in x.actions)
    children: list[str] = []
    if x.outcome is Outcome.FAILED:
        children.append(_element("failure", [("type", x.last_status or "STEP_FAILED"),
                                             ("message", x.verdict)], text=detail, level=2))
    elif x.outcome is Outcome.UNKNOWN:
        children.append(_element("error", [("type", "UNKNOWN"), ("message", x.verdict)], text=detail,
                                 level=2))
    elif x.outcome is Outcome.NOT_SENT:
        children.append(_element("skipped", [("message", x.verdict)], level=2))
    children.append(_element("system-out", [], level=2, text=f"{_cells.step_line(x)}\n{detail}"
                             + (f"\nnote: {x.note}" if x.note else "")))
    return _element("testcase", [("classname", f"{playbook_name}.step.{x.kind}"), ("name", x.id),
                                 ("time", f"{_step_seconds(x):.3f}")], children=children, level=1)


def _element(tag: str, attributes: Attributes, *, level: int, children: list[str] | None = None,
             text: str = "") -> str:
    """One element as ElementTree writes it after `ET.indent`: children one a line, indented two
    spaces a level; text as it is; empty as `<tag ... />`."""
    head = "<" + tag + "".join(f' {name}="{_attribute(value)}"' for name, value in attributes)
    if children:
        inner = "\n" + "  " * (level + 1)
        return f"{head}>{inner}{inner.join(children)}\n{'  ' * level}</{tag}>"
    if text:
        return f"{head}>{_text(text)}</{tag}>"
    return head + " />"


def _attribute(value: str) -> str:
    """An attribute value escaped as ElementTree escapes it (as text, then quotes, line breaks and
    tabs as references)."""
    value = _text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    if "\t" in value:
        value = value.replace("\t", "&#09;")
    return value


def _text(value: str) -> str:
    """Element text escaped as ElementTree escapes it."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def _step_seconds(step: StepResult) -> float:
    if step.sent_at is None or step.answered_at is None:
        return 0.0
    return max(step.answered_at - step.sent_at, 0.0)


#: characters XML 1.0 forbids (ElementTree writes them anyway, and the file no longer parses), plus DEL
#: and the C1 controls, which are legal but would reach a terminal printing the failure messages
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _well_formed(xml: str) -> str:
    """The one place junit.xml is made parseable whatever the exchange said: each forbidden character
    shown as its escape (`\\x1b`); `<`, `&` and `]]>` are already escaped (`_text`, `_attribute`)."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", xml)
