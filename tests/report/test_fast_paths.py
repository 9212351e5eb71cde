"""The reports' fast paths write what the plain way wrote (issue 18: the reports' cost per order).

ISO stamps without `datetime` per stamp, Markdown cells escaped only when they hold something to
escape: each is compared here with the plain computation it replaces, on the values that are hard.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.report import markdown, text
from runner.report.model import _iso_by_datetime, iso
from runner.words import printable


def test_iso_stamps_are_datetimes_text_on_the_rounding_edges() -> None:
    """Microseconds round half to even as `datetime.fromtimestamp` does, across second boundaries
    (x.9999995 becomes the next second), on the half-microsecond grid and either side of it."""
    rng = random.Random(18)
    stamps = [0.0, 5e-7, 1.5e-6, 0.9999995, 1.9999995, 1795600000.9999995, 1795600000.0000005,
              253402300798.9999995, 253402300798.9999999, 253402300799.0, -0.5, -1795600000.25]
    stamps += [rng.uniform(0, 253402300799) for _ in range(20_000)]
    for _ in range(20_000):
        on_grid = rng.randrange(1_700_000_000, 1_900_000_000) + rng.randrange(0, 2_000_001) / 2e6
        stamps += [on_grid, math.nextafter(on_grid, 0), math.nextafter(on_grid, math.inf)]
    for stamp in stamps:
        assert iso(stamp) == _iso_by_datetime(stamp), stamp
    assert iso(None) is None
    with pytest.raises(ValueError):  # beyond year 9999: refused as before
        iso(1e12)
    assert iso(1795600000.25) == "2026-11-25T09:46:40.250000Z"


_MARKDOWN_TEXT = st.lists(st.sampled_from(
    ["a", "W", "w", "www", ".", ":", "/", "//", "http", "HTTPS", "|", "\\", "`", "[", "]", "<", ">", "!", "*",
     "_", " ", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\u200b", "\u202e", "\u2066", "\ufeff", "é", "😀"]),
    max_size=10).map("".join)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(cells=st.lists(_MARKDOWN_TEXT, min_size=1, max_size=5))
def test_markdown_cells_are_escaped_exactly_as_before(cells: list[str]) -> None:
    """A cell (or a row of them) with nothing to escape is used as it is; anything else (links,
    `www.`, table pipes, code spans, HTML, unprintable characters, even split across two cells) is
    escaped exactly as every cell was before."""
    expected = [markdown._escaped(cell) for cell in cells]
    assert [markdown._cell(cell) for cell in cells] == expected
    assert markdown._cells_of(list(cells)) == expected


@settings(max_examples=300, deadline=None, derandomize=True)
@given(cells=st.lists(_MARKDOWN_TEXT, min_size=1, max_size=5))
def test_terminal_rows_are_made_printable_exactly_as_before(cells: list[str]) -> None:
    """The text summary's row: each cell as `printable` makes it, whether the row needed it or not."""
    assert text._printable_row(list(cells)) == [printable(cell) for cell in cells]
