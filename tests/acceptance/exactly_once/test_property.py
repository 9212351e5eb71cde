"""Property: whatever sequence of crashes (SIGKILL at random points, journal kept or lost between
runs) a playbook goes through, once a run completes every order exists exactly once."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.acceptance.exactly_once_kit import ORDER_IDS, Harness, coid

crash = st.tuples(st.integers(min_value=1, max_value=len(ORDER_IDS)), st.booleans())


@settings(max_examples=5, deadline=None, derandomize=True, database=None)
@given(st.lists(crash, min_size=1, max_size=3))
def test_any_sequence_of_crashes_ends_with_every_order_exactly_once(crashes: list[tuple[int, bool]]) -> None:
    with tempfile.TemporaryDirectory(prefix="qfex-eo-") as directory:
        harness = Harness(Path(directory))
        try:
            for offset, lose_journal in crashes:
                before = harness.total()
                if before + offset <= len(ORDER_IDS):
                    killed = harness.run_killed_at(before + offset)
                    assert killed.returncode == -signal.SIGKILL
                else:
                    assert harness.run().returncode == 0
                if lose_journal:
                    harness.forget_journal()
            final = harness.run()
            assert final.returncode == 0, final.stderr
            counts = harness.counts()
            assert {o: counts.get(coid(o), 0) for o in ORDER_IDS} == dict.fromkeys(ORDER_IDS, 1)
            assert sum(counts.values()) == len(ORDER_IDS)  # nothing else was placed either
        finally:
            harness.stop()
