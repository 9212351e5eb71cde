"""Small shared wording: how counts and numbers read in every message, report and journal note.

The ground: imported by every package, imports nothing of the runner."""

from __future__ import annotations

from decimal import Decimal


def counted(count: int, noun: str) -> str:
    """`1 order`, `3 orders`, `0 orders`: a count with its noun agreeing."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def number_text(value: Decimal) -> str:
    """The canonical text of an exact number: 10, 10.0, 1E+1 all read `10`, never with an exponent.

    Two numbers are the same order's when their texts are equal (the stale-plan rule compares them)."""
    return format(value.normalize(), "f")


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
