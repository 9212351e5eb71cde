"""report.json, written order by order: the same text as `jsonnum.dumps(report.to_json(), indent=2)`.

Why streamed (issue 6): a 10,000-order report is ~1M JSON fragments. Built as one string it was
the run's memory peak. Here each order is turned into its dict, encoded and handed to the file
before the next one is built (`jsonnum.Streamed`); the encoder is `jsonnum`'s own, so the text is
byte-identical to the whole document's (tests compare them): readers, the schema and
`qfex-runner report` see no difference.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner import jsonnum
from runner.report.atomic import atomic_text
from runner.report.model import OrderResult, Report, StatusSeen, iso

#: report.json's average price: eight places at most, trailing zeros dropped (as `to_json`)
_AVERAGE = Decimal("1e-8")

_INDENT = 2
#: fragments held before they are written: an order is one or two, so memory stays a few orders' text
_BATCH = 128


def write_report_json(report: Report, path: Path) -> None:
    """Write report.json atomically (a temporary file renamed into place), streaming the orders."""
    with atomic_text(path) as fh:  # a fresh temporary file (never a symlink left there), renamed
        out: list[str] = []

        def flush() -> None:  # after each order: every 64 orders (~70 kB), the text goes to the file
            if len(out) >= _BATCH:  # (a write per order was 0.5 µs an order)
                fh.write("".join(out))
                out.clear()

        jsonnum.write(_document(report, after_each=flush), out.append, indent=_INDENT)
        out.append("\n")
        fh.write("".join(out))


def render_json(report: Report) -> str:
    """The same text as one string (for stdout: `report --format json`)."""
    out: list[str] = []
    jsonnum.write(_document(report), out.append, indent=_INDENT)
    out.append("\n")
    return "".join(out)


def _document(report: Report, after_each: Callable[[], None] | None = None) -> dict[str, Any]:
    """`report.to_json()` with the orders left to be encoded one at a time.

    The rest is built by the model itself (a field added there appears here too), from a copy
    without orders; the summary, whose counts need the orders, is built with them.
    """
    document = dataclasses.replace(report, orders=[]).to_json()
    document["summary"] = report.summary.to_json(report.orders)
    document["orders"] = jsonnum.Streamed(report.orders, OrderResult.to_json, after_each, order_text)
    return document


def order_text(order: OrderResult, indent: str, level: int) -> str | None:
    """`order.to_json()` as `jsonnum` writes it at `level`, written straight from the order: the dict
    and its encoding were half of report.json's cost. The usual values (str, Decimal, None, bool, a
    float or Decimal latency, ACK-like statuses) are written here; the rest (fills, legs, positions,
    anything of an unexpected type) by `jsonnum` from `to_json()`'s values. None (the dict is built
    and encoded) when an attribute is not of the type written here. Tests compare the text with
    `jsonnum.dumps(order.to_json())` on every kind of order."""
    try:
        return _order_text(order, indent, level)
    except (TypeError, AttributeError):
        return None


def _order_text(o: OrderResult, indent: str, level: int) -> str:
    key = "\n" + indent * (level + 1)
    end = "\n" + indent * level
    text, number = jsonnum.string_text, jsonnum.number_text

    def value(item: Any) -> str:
        """A value that is not always of one type (None, a number, a container): the encoder's text."""
        if item is None:
            return "null"
        kind = type(item)
        if kind is Decimal:
            return number(item)
        if kind is str:
            return text(item)
        if kind is float:  # a latency measured in this run
            return float.__repr__(item) if math.isfinite(item) else jsonnum.dumps(item)
        if kind is int:  # the index (not through `dumps`: 0.2 µs an order)
            return int.__repr__(item)
        if item is True or item is False:  # reduce_only
            return "true" if item else "false"
        return jsonnum.indented_text(item, indent, level + 1) if kind in (dict, list, tuple) \
            else jsonnum.dumps(item)

    answered = iso(o.answered_at)  # the first status's time too, as a rule: stamped once (0.6 µs)
    statuses = f"[{_statuses(o.statuses, indent, level + 1, (o.answered_at, answered))}{key}]" \
        if o.statuses else "[]"
    average, fill_latency = o.average_price, o.fill_latency_ms
    parts = [
        f'{{{key}"index": {value(o.index)},{key}"id": {text(o.id)},{key}"symbol": {text(o.symbol)},'
        f'{key}"side": {text(o.side)},{key}"type": {text(o.type)},{key}"quantity": {number(o.quantity)},'
        f'{key}"price": {value(o.price)},{key}"time_in_force": {text(o.time_in_force)},'
        f'{key}"reduce_only": {value(o.reduce_only)},{key}"wait": {text(o.wait)},'
        f'{key}"expect": {text(o.expect)},{key}"client_order_id": {text(o.client_order_id)},'
        f'{key}"order_id": {value(o.order_id)},{key}"outcome": {text(o.outcome.value)},'
        f'{key}"verdict": {text(o.verdict)},{key}"last_status": {value(o.last_status)},'
        f'{key}"statuses": {statuses},'
        f'{key}"fills": {value([f.to_json() for f in o.fills]) if o.fills else "[]"},'
        f'{key}"filled_quantity": {number(o.filled_quantity)},'
        f'{key}"quantity_remaining": {value(o.quantity_remaining)},'
        f'{key}"average_price": '
        f'{"null" if average is None else number(average.quantize(_AVERAGE).normalize())},'
        f'{key}"reject": {value(o.reject.to_json()) if o.reject else "null"},'
        f'{key}"legs": {value([leg.to_json() for leg in o.legs]) if o.legs else "[]"},'
        f'{key}"sent_at": {value(iso(o.sent_at))},{key}"answered_at": {value(answered)},'
        f'{key}"filled_at": {"null" if o.filled_at is None else value(iso(o.filled_at))},'  # most: none
        f'{key}"latency_ms": {value(o.latency_ms)},'
        f'{key}"fill_latency_ms": {"null" if fill_latency is None else value(fill_latency)}']
    if o.expect_statuses:  # the optional keys, as `to_json` adds them
        parts.append(f'{key}"expect_statuses": {value(list(o.expect_statuses))}')
    if o.end_state:
        parts.append(f'{key}"end_state": {text(o.end_state)}')
    if o.note:
        parts.append(f'{key}"note": {text(o.note)}')
    if o.position is not None:
        parts.append(f'{key}"position": {value(o.position.to_json())}')
    if o.differences:
        differences = {name: {"placed": placed, "playbook": wanted}
                       for name, (placed, wanted) in o.differences.items()}
        parts.append(f'{key}"placed_with_different_definition": {value(differences)}')
    return ",".join(parts) + end + "}"


def _statuses(statuses: list[StatusSeen], indent: str, level: int,
              stamped: tuple[float | None, str | None]) -> str:
    """The items of an order's `statuses` list at `level` (the list's own brackets are the caller's);
    `stamped`: a time already written as ISO text (the answer's), reused for a status at that time."""
    item = "\n" + indent * (level + 1)
    key = item + indent
    text, number = jsonnum.string_text, jsonnum.number_text
    out = []
    for s in statuses:
        remaining = s.quantity_remaining
        at = stamped[1] if s.at == stamped[0] else iso(s.at)
        out.append(
            f'{item}{{{key}"status": {text(s.status)},{key}"at": {text(at)},'  # type: ignore[arg-type]
            f'{key}"meaning": {_meaning_text(s)},{key}"quantity_remaining": '
            f'{"null" if remaining is None else number(remaining)},{key}"source": {text(s.source)}{item}}}')
    return ",".join(out)


#: each status's meaning as JSON text, as `StatusSeen.meaning` gives it: a report has few distinct
#: statuses, and the enum look-up and the encoding of ~90 characters cost 0.5 µs a status; bounded
_MEANINGS: dict[tuple[str, bool], str] = {}


def _meaning_text(status: StatusSeen) -> str:
    known = (status.status, status.source == "err")
    meaning = _MEANINGS.get(known)
    if meaning is None:
        meaning = jsonnum.string_text(status.meaning)
        if len(_MEANINGS) < 256:
            _MEANINGS[known] = meaning
    return meaning
