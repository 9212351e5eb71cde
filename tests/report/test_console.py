"""Console output: progress on a TTY rewrites one line, in CI one line per event; NO_COLOR honoured."""

from __future__ import annotations

import io

from runner.console import ProgressLine, use_color
from runner.run.options import Progress


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


EVENTS = [Progress("connected", -1, 2, detail="ws://127.0.0.1:1/"), Progress("sent", 0, 2, "a", "", "entry"),
          Progress("answer", 0, 2, "a", "ACK"), Progress("judged", 0, 2, "a", "passed", "accepted (ACK)"),
          Progress("done", -1, 2, status="passed")]


def test_quiet_off_a_terminal_unless_asked():
    quiet = io.StringIO()
    for e in EVENTS:
        ProgressLine(quiet)(e)
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    line = ProgressLine(loud, enabled=True)
    for e in EVENTS:
        line(e)
    assert loud.getvalue().splitlines() == [
        "connected to ws://127.0.0.1:1/", "[1/2] a: sent entry", "[1/2] a: ACK",
        "[1/2] a: passed — accepted (ACK)", "done: passed"]


def test_terminal_line_is_rewritten_and_cleared():
    tty = FakeTTY()
    line = ProgressLine(tty)
    for e in EVENTS:
        line(e)
    out = tty.getvalue()
    assert "\n" not in out and out.count("\r") >= len(EVENTS)
    assert out.endswith("\r")  # cleared for the summary table
    assert out.rsplit("\r", 2)[-2].strip() == ""


def test_no_color():
    assert use_color(FakeTTY(), {}) is True
    assert use_color(FakeTTY(), {"NO_COLOR": "1"}) is False
    assert use_color(FakeTTY(), {"TERM": "dumb"}) is False
    assert use_color(io.StringIO(), {}) is False


def test_exchange_text_in_progress_is_shown_not_obeyed():
    from runner.run.options import Progress

    out = io.StringIO()
    ProgressLine(out, enabled=True)(Progress("answer", 0, 1, "a", "\x1b[2J\x07REJECTED\nfake"))
    assert out.getvalue() == "[1/1] a: \\x1b[2J\\x07REJECTED\\nfake\n"
