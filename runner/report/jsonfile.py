"""report.json, written order by order: the same text as `jsonnum.dumps(report.to_json(), indent=2)`.

Why streamed (issue 6): a 10,000-order report is ~1M JSON fragments. Built as one string it was
the run's memory peak. Here each order is turned into its dict, encoded and handed to the file
before the next one is built (`jsonnum.Streamed`); the encoder is `jsonnum`'s own, so the text is
byte-identical to the whole document's (tests compare them): readers, the schema and
`qfex-runner report` see no difference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner import jsonnum
from runner.report.atomic import atomic_text
from runner.report.model import OrderResult, Report

_INDENT = 2


def write_report_json(report: Report, path: Path) -> None:
    """Write report.json atomically (a temporary file renamed into place), streaming the orders."""
    with atomic_text(path) as fh:  # a fresh temporary file (never a symlink left there), renamed
        out: list[str] = []

        def flush() -> None:  # after each order (one fragment now, often): the file's buffer batches
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
    document["orders"] = jsonnum.Streamed(report.orders, OrderResult.to_json, after_each)
    return document
