"""What an exchange says is shown, never obeyed: an `err` message carrying terminal escapes, a bell,
XML breakers, a Markdown table break, an external image and raw HTML, through a real run
(`python -m runner run` against a local exchange over loopback that answers with it). The terminal
gets no control character, junit.xml parses, report.md and the GitHub step summary show the text inert."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.exit_codes import ExitCode
from runner.playbook.ids import Leg, client_order_id
from runner.simulator import Simulator
from runner.simulator.config import EngineConfig
from runner.simulator.engine import Exchange
from runner.simulator.errors import CommandError
from tests.acceptance.run_kit import RESTING, order, write_playbook

HOSTILE = ("\x1b[2J\x1b]0;owned\x07cleared\x07 ]]> \x00 a|b `code` ![i](http://evil/x.png) <img src=x> "
           "[click](https://evil/) www.evil.com \x9b31m\u202eright-to-left\nPASSED: 2 orders (exit 0)")
#: what no byte of terminal output may contain: C0 controls but the newline, DEL, C1, bidi overrides
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class HostileExchange(Exchange):
    """The real engine, except that one client_order_id is refused with `HOSTILE` as the message."""

    def __init__(self, refused: str) -> None:
        super().__init__(EngineConfig(speed_bump_ms=0))
        self.refused = refused

    def handle(self, session: Any, msg_type: str, params: dict) -> list:
        if msg_type == "add_order" and params.get("client_order_id") == self.refused:
            raise CommandError("InvalidOrder", HOSTILE)
        return super().handle(session, msg_type, params)


@pytest.fixture
def hostile() -> Iterator[Simulator]:
    sim = Simulator(exchange=HostileExchange(client_order_id("t", None, "evil", Leg.ENTRY))).start()
    yield sim
    sim.stop()


def test_an_exchange_message_is_shown_inert_everywhere(tmp_path: Path, hostile: Simulator) -> None:
    book = write_playbook(tmp_path, [order("evil", RESTING), order("fine", RESTING)])
    summary = tmp_path / "step-summary.md"
    env = {"QFEX_PUBLIC_KEY": hostile.public_key, "QFEX_SECRET_KEY": hostile.secret_key, "NO_COLOR": "1",
           "GITHUB_STEP_SUMMARY": str(summary), "PATH": "/usr/bin:/bin"}
    reports = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "runner", "run", str(book), "--url", hostile.url,
                           "--state-dir", str(tmp_path / "state"), "--report-dir", str(reports),
                           "--timeout", "5", "--progress"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == ExitCode.ORDERS_FAILED, done.stdout + done.stderr
    # the terminal: the message is there, as escapes, on one line; nothing it could do is done
    assert r"\x1b[2J\x1b]0;owned\x07cleared\x07 ]]> \x00 a|b" in done.stdout
    assert not CONTROL.search(done.stdout) and not CONTROL.search(done.stderr)
    assert "\nPASSED" not in done.stdout  # the message cannot fake a headline on its own line
    assert done.stdout.rstrip().splitlines()[-2].startswith("FAILED: 2 orders")

    junit = (reports / "junit.xml").read_text()
    root = ET.fromstring(junit)  # well-formed, whatever the exchange said
    failure = root.find("testcase[@name='evil']/failure")
    assert failure is not None
    assert "]]> \\x00 a|b `code` ![i](http://evil/x.png) <img src=x>" in failure.get("message", "")

    for markdown in ((reports / "report.md").read_text(), summary.read_text()):
        assert "![i](" not in markdown and "](https://" not in markdown
        assert not re.search(r"(?<!\\)<img", markdown)  # only as `\<img`: text, not HTML
        assert "http://" not in markdown and "www.evil" not in markdown  # no autolinks either
        assert r"!\[i\](http\://evil/x.png) \<img src=x\>" in markdown
        assert r"a\|b \`code\`" in markdown
        assert not CONTROL.search(markdown)
        rows = [line for line in markdown.splitlines() if line.startswith("| 1 |")]
        assert len(rows) == 1 and rows[0].count(" | ") == 12  # the table keeps its 13 columns
