"""Small shared wording: how counts and numbers read in every message, report and journal note, and
how outside text is made safe to print (`printable`).

The ground: imported by every package, imports nothing of the runner."""

from __future__ import annotations

import re
from decimal import Decimal


def counted(count: int, noun: str) -> str:
    """`1 order`, `3 orders`, `0 orders`: a count with its noun agreeing."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def number_text(value: Decimal) -> str:
    """The canonical text of an exact number: 10, 10.0, 1E+1 all read `10`, never with an exponent.

    Two numbers are the same order's when their texts are equal (the stale-plan rule compares them)."""
    return format(value.normalize(), "f")


_CENT = Decimal("0.01")


def money_text(value: Decimal, *, signed: bool = False) -> str:
    """An amount of quote currency: 1234.5 -> `1,234.50`; finer amounts keep every digit (exact,
    never rounded away): 124.99726 -> `124.99726`. `signed`: gains carry a `+`."""
    text = f"{value:,.2f}" if value == value.quantize(_CENT) else f"{value.normalize():,f}"
    return f"+{text}" if signed and value > 0 else text


def shown(value: object) -> str:
    """A value as a message shows it: `none`, `true`/`false`, a number in plain digits as written
    (`10.0` stays `10.0`: the user's own figure), anything else as text."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def os_reason(exc: OSError) -> str:
    """`Permission denied: /path`, `No space left on device`: the OS's words, with the file it names."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason}: {exc.filename}" if exc.filename else reason


#: what must not reach a terminal raw: C0/C1 controls (ESC sequences, BEL, CR, line breaks), DEL, and the
#: invisible or reordering marks (zero-width, bidirectional overrides) that make text read otherwise
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def printable(text: str) -> str:
    """Text from outside (an exchange's messages and reasons) made safe for one terminal line: each
    unprintable character shown as its escape (`\\x1b`, `\\x07`, `\\n`), so a message cannot clear the
    screen, ring the bell, recolour the output or fake a line of the summary."""
    return UNPRINTABLE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}.get(code) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
