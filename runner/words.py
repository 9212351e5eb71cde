"""Small shared wording: how counts and numbers read in every message, report and journal note.

The ground: imported by every package, imports nothing of the runner."""

from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """`1 order`, `3 orders`, `0 orders`: a count with its noun agreeing."""
    return f"{count} {noun}" + ("" if count == 1 else "s")
