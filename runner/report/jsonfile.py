"""report.json, written order by order: the same text as `jsonnum.dumps(report.to_json(), indent=2)`.

Why a writer of its own (issue 6): a 10,000-order report is ~1M JSON fragments. Built as one
string by the generic encoder it was the run's memory peak, and ~40 ms per 1,000 orders. Here
each order is turned into its dict, encoded and handed to the file before the next one is built,
by an encoder that dispatches on the exact type first (a report holds str, None, bool, int,
float, Decimal, list and dict) and uses `jsonnum`'s own rules for anything else (e.g. Enums).
The text is byte-identical to the generic encoder's (tests compare them): readers, the schema
and `qfex-runner report` see no difference.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from runner.jsonnum import dumps
from runner.report.model import OrderResult, Report

_encode_str = json.encoder.encode_basestring_ascii
_INDENT = "  "
#: buffered fragments are handed to the file (between two orders) once there are this many
_CHUNK = 4096


class _Orders:
    """Stands for the report's order list while the rest of the document is encoded."""

    def __init__(self, orders: list[OrderResult]) -> None:
        self.orders = orders


def write_report_json(report: Report, path: Path) -> None:
    """Write report.json atomically (a temporary file renamed into place), streaming the orders."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        out: list[str] = []

        def flush() -> None:
            if len(out) >= _CHUNK:
                fh.write("".join(out))
                out.clear()

        _encoder(out.append, after_order=flush)(_document(report), 0)
        out.append("\n")
        fh.write("".join(out))
    os.replace(tmp, path)


def render_report_json(report: Report) -> str:
    """The same text as one string (for stdout: `report --format json`)."""
    out: list[str] = []
    _encoder(out.append)(_document(report), 0)
    out.append("\n")
    return "".join(out)


def _document(report: Report) -> dict[str, Any]:
    """`report.to_json()` with the orders left to be encoded one at a time.

    The rest is built by the model itself (a field added there appears here too), from a copy
    without orders; the summary, whose counts need the orders, is built with them.
    """
    document = dataclasses.replace(report, orders=[]).to_json()
    document["summary"] = report.summary.to_json(report.orders)
    document["orders"] = _Orders(report.orders)
    return document


def encode_indented(value: Any, level: int = 0) -> str:
    """`value` as `jsonnum.dumps(value, indent=2)` writes it, nested `level` deep."""
    out: list[str] = []
    _encoder(out.append)(value, level)
    return "".join(out)


def _encoder(emit: Callable[[str], Any], after_order: Callable[[], None] | None = None
             ) -> Callable[[Any, int], None]:
    """A recursive encoder writing through `emit` (closures keep the hot names local); `after_order`
    is called after each order of the report's list (where a file writer flushes)."""
    newlines: list[str] = []

    def newline(level: int) -> str:
        while len(newlines) <= level:
            newlines.append("\n" + _INDENT * len(newlines))
        return newlines[level]

    def encode(value: Any, level: int) -> None:
        kind = type(value)
        if kind is str:
            emit(_encode_str(value))
        elif value is None:
            emit("null")
        elif value is True:
            emit("true")
        elif value is False:
            emit("false")
        elif kind is Decimal:
            if not value.is_finite():
                raise ValueError(f"non-finite number {value} cannot be serialised")
            emit(format(value, "f"))
        elif kind is int:
            emit(int.__repr__(value))
        elif kind is float:
            emit(float.__repr__(value) if math.isfinite(value) else json.dumps(value))
        elif kind is dict:
            if not value:
                emit("{}")
                return
            inner = newline(level + 1)
            emit("{")
            first = True
            for key, item in value.items():
                name = _encode_str(key) if type(key) is str else _key(key)
                lead = (inner if first else "," + inner) + name + ": "
                first = False
                item_kind = type(item)
                if item_kind is str:
                    emit(lead + _encode_str(item))
                elif item is None:
                    emit(lead + "null")
                else:
                    emit(lead)
                    encode(item, level + 1)
            emit(newline(level) + "}")
        elif kind is list or kind is tuple:
            if not value:
                emit("[]")
                return
            inner = newline(level + 1)
            emit("[")
            first = True
            for item in value:
                emit(inner if first else "," + inner)
                first = False
                encode(item, level + 1)
            emit(newline(level) + "]")
        elif kind is _Orders:
            encode_each(value.orders, level)
        else:  # subclasses (str/int Enums, ...): the generic encoder, re-indented to this depth
            text = dumps(value, indent=len(_INDENT))
            emit(text.replace("\n", newline(level)) if "\n" in text else text)

    def encode_each(orders: list[OrderResult], level: int) -> None:
        if not orders:
            emit("[]")
            return
        inner = newline(level + 1)
        emit("[")
        for index, order in enumerate(orders):
            emit(inner if index == 0 else "," + inner)
            encode(order.to_json(), level + 1)  # built, written, dropped: one order's dict at a time
            if after_order is not None:
                after_order()
        emit(newline(level) + "]")

    return encode


def _key(key: Any) -> str:
    """An object key that is not a plain str, as `jsonnum` writes it."""
    return _encode_str(str(key.value if isinstance(key, Enum) else key))
