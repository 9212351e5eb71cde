"""An exit plan's position in every report: the timeline in report.json (schema-valid, read back the
same), report.md (lines and a Mermaid xychart-beta block), the console, and report.html — opened in
headless Chromium (Debian's `chromium`), whose DOM and screenshot must show the chart's markers.

Under CI=true a missing Chromium fails the test (`.ci/run` installs it); elsewhere it skips."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from runner.jsonnum import loads
from runner.playbook.schema import load_schema
from runner.report import (
    FillRecord,
    LegResult,
    OrderResult,
    Outcome,
    Position,
    Report,
    RunOutcome,
    StatusSeen,
    Summary,
    TimelineEvent,
    render,
    write_report_files,
)
from runner.report.html import MARK, STOP, render_html

T0 = 1795600000.0
D = Decimal


def ladder_report() -> Report:
    """The issue's example, as it played out: entry 10 @ 225, TP1 5 @ 235.95, break-even, TP2 3 @
    245.95, trailing, the stop fills 2 @ 248.95, TP3 cancelled."""
    events = [
        (0.0, "entry_fill", "entry", "entry BUY filled 10 of 10 @ 225.00", D(10), D("225.00")),
        (0.1, "placed", "take_profit", "take-profit 1 placed", D(5), D("235.00")),
        (0.1, "placed", "take_profit_2", "take-profit 2 placed", D(3), D("245.00")),
        (0.1, "placed", "take_profit_3", "take-profit 3 placed", D(2), D("260.00")),
        (0.1, "placed", "stop_loss", "stop-loss placed", D(10), D("215.00")),
        (4.0, "filled", "take_profit", "take-profit 1 filled 5 @ 235.95", D(5), D("235.95")),
        (4.1, "resized", "stop_loss", "stop-loss resized 10 -> 5 and moved 215.00 -> 225.00", D(5),
         D("225.00")),
        (8.0, "filled", "take_profit_2", "take-profit 2 filled 3 @ 245.95", D(3), D("245.95")),
        (8.1, "resized", "stop_loss", "stop-loss resized 5 -> 2 and moved 225.00 -> 243.45", D(2),
         D("243.45")),
        (12.0, "moved", "stop_loss", "stop-loss moved 243.45 -> 250.44", D(2), D("250.44")),
        (16.0, "filled", "stop_loss", "stop-loss filled 2 @ 248.95", D(2), D("248.95")),
        (16.0, "cancelled", "take_profit_3", "take-profit 3 cancelled", None, None),
    ]
    marks = [(T0 + t, D(p)) for t, p in ((0, "230"), (2, "224.05"), (4, "235.95"), (8, "245.95"),
                                         (12, "252.94"), (15, "249"))]
    timeline = [TimelineEvent(T0 + t, k, leg, text, q, p) for t, k, leg, text, q, p in events]
    position = Position(timeline, marks, D(0), D("164.7919"), D("0.7081"), 30, None)
    legs = [LegResult("take_profit", "after_fill", D("235.00"), "SELL", D(5), "c-tp", "o-tp",
                      [StatusSeen("ACK", T0), StatusSeen("FILLED", T0 + 4)],
                      [FillRecord("t1", D("235.95"), D(5), D("0.2"), T0 + 4)]),
            LegResult("take_profit_2", "after_fill", D("245.00"), "SELL", D(3), "c-tp2", "o-tp2",
                      [StatusSeen("ACK", T0)], [FillRecord("t2", D("245.95"), D(3), D("0.2"), T0 + 8)]),
            LegResult("take_profit_3", "after_fill", D("260.00"), "SELL", D(2), "c-tp3", "o-tp3",
                      [StatusSeen("ACK", T0), StatusSeen("CANCELLED", T0 + 16)]),
            LegResult("stop_loss", "after_fill", D("250.44"), "SELL", D(2), "c-sl", "o-sl",
                      [StatusSeen("ACK", T0), StatusSeen("FILLED", T0 + 16)],
                      [FillRecord("t3", D("248.95"), D(2), D("0.1"), T0 + 16)])]
    order = OrderResult(index=0, id="aapl-long", symbol="AAPL-USD", side="BUY", type="LIMIT",
                        quantity=D(10), price=D("225.00"), time_in_force="GTC", reduce_only=False, wait="ack",
                        expect="accepted", client_order_id="00000000-0000-5000-8000-000000000000",
                        outcome=Outcome.PASSED, verdict="accepted and filled",
                        statuses=[StatusSeen("ACK", T0), StatusSeen("FILLED", T0)],
                        fills=[FillRecord("t0", D("225.00"), D(10), D("0.2081"), T0)], legs=legs,
                        position=position)
    summary = Summary(playbook_path="ladder.yaml", playbook_name="ladder", playbook_sha256="0" * 64,
                      run_id="r1", target="sim", url="ws://127.0.0.1:1/", account_id=None,
                      runner_version="0.1.0",
                      started_at=T0, ended_at=T0 + 17, outcome=RunOutcome.PASSED, exit_code=0)
    return Report(summary, [order], [])


def test_report_json_carries_the_position_schema_valid_and_reads_back_the_same(tmp_path: Path) -> None:
    report = ladder_report()
    paths = write_report_files(report, tmp_path, env={})
    data = loads(paths["json"].read_text())
    Draft202012Validator(load_schema("report")).validate(data)
    position = data["orders"][0]["position"]
    assert [e["kind"] for e in position["timeline"]][:2] == ["entry_fill", "placed"]
    assert position["realised_pnl"] == D("164.7919") and position["invariant_breach"] is None
    again = Report.from_json(data)
    assert render(again, "md") == render(report, "md")
    assert "html" in paths and paths["html"].name == "report.html"


def test_report_md_has_the_timeline_and_a_mermaid_price_path() -> None:
    md = render(ladder_report(), "md")
    assert "### Positions" in md
    assert "+  4.1s  stop-loss resized 10 -> 5 and moved 215.00 -> 225.00" in md
    block = md[md.index("```mermaid"):]
    block = block[:block.index("```", 3) + 3]
    assert "xychart-beta" in block and 'x-axis "seconds"' in block and "y-axis \"price\"" in block
    assert block.count("    line [") == 6  # mark, stop, entry, three take-profit levels
    assert "realised P&L 164.79 after fees 0.71; invariants held (30 checks" in md


def test_console_shows_the_position_event_by_event() -> None:
    text = render(ladder_report(), "text")
    assert "aapl-long position: flat; realised P&L 164.79" in text
    assert "    +  8.1s  stop-loss resized 5 -> 2 and moved 225.00 -> 243.45" in text


def test_report_html_is_self_contained() -> None:
    page = render_html(ladder_report())
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "@import" not in page and "<link" not in page
    assert page.count('class="fill"') == 4 and page.count('class="level"') == 3


# --- headless Chromium --------------------------------------------------------------------------------


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (CI=true: .ci/run installs it with apt-get)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return path


def headless(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120)


def png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, raw rows without filter bytes) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = bytearray()
    prior = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prior[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = prior[i - bpp] if i >= bpp else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + predictor) & 0xFF
        out += line
        prior = line
    return width, height, bpp, bytes(out)


def colour_count(pixels: tuple[int, int, int, bytes], hex_colour: str) -> int:
    _, _, bpp, raw = pixels
    want = bytes.fromhex(hex_colour.lstrip("#"))
    return sum(1 for i in range(0, len(raw), bpp) if raw[i:i + 3] == want)


def test_report_html_in_headless_chromium_draws_the_chart_with_its_markers(tmp_path: Path) -> None:
    binary = chromium()
    page = tmp_path / "report.html"
    page.write_text(render_html(ladder_report()), encoding="utf-8")
    dom = headless(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert html.count('<polyline class="mark"') == 1
    assert '<polyline class="stop" data-moves="3"' in html  # placed, then resized twice and moved once
    for name, price in (("TP", "235"), ("TP2", "245"), ("TP3", "260")):
        assert f'data-level="{name}" data-price="{price}"' in html
    assert '<line class="entry" data-price="225"' in html
    for leg, price in (("entry", "225"), ("take_profit", "235.95"), ("take_profit_2", "245.95"),
                       ("stop_loss", "248.95")):
        assert f'<circle class="fill" data-leg="{leg}" data-price="{price}"' in html
    shot = tmp_path / "shot.png"
    done = headless(binary, tmp_path / "profile", f"--screenshot={shot}", "--window-size=960,640",
                    "--hide-scrollbars", page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = png_pixels(shot.read_bytes())
    assert colour_count(pixels, MARK) > 200, "the mark price line is not drawn"
    assert colour_count(pixels, STOP) > 200, "the stop-loss line is not drawn"
