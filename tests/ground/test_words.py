"""`runner.words.printable`: outside text made safe for one terminal line."""

from __future__ import annotations

import pytest

from runner.words import printable


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain text, 220.00 | `x` <b>", "plain text, 220.00 | `x` <b>"),  # printable text is left alone
    ("\x1b[2Jgone", "\\x1b[2Jgone"),
    ("bell\x07", "bell\\x07"),
    ("nul\x00", "nul\\x00"),
    ("two\nlines\r", "two\\nlines\\r"),
    ("tab\there", "tab\\there"),
    ("del\x7f csi\x9b", "del\\x7f csi\\x9b"),
    ("\u202eevil\u2066", "\\u202eevil\\u2066"),
    ("zero\u200bwidth", "zero\\u200bwidth"),
    ("accents é ü 中文 ✅", "accents é ü 中文 ✅"),
])
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown
