"""Exit-plan rehearsals through the CLI: a standalone `qfex-runner sim --scenario` (its steps start at
the first order, so a slow machine plays the same path), `qfex-runner run --url ... --manage`, and
the invariants read back from report.json after every event of the position's timeline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.acceptance.run.test_cli import cli_env

ENV = {"QFEX_PUBLIC_KEY": "qfex_pub_demo", "QFEX_SECRET_KEY": "qfex_secret_demo"}
OPEN = ("ACK", "MODIFIED", "STAGED")

#: the trader's plan of issue 17: buy 10 at 225, stop 215, take 50 % at 235, 30 % at 245, the rest
#: trails by 2.50 after TP2, break-even after TP1
LADDER = """\
version: 1
name: {name}
run_id: r1
orders:
  - id: aapl-long
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: {quantity}
    price: 225.00
    bracket:
      stop_loss: 215.00
      take_profit:
        - {{price: 235.00, size: 50%}}
        - {{price: 245.00, size: 30%}}
        - {{price: 260.00}}
      manage:
        break_even_after: 1
        trail: {{distance: 2.50, after: 2}}
"""


def scenario(*steps: tuple[float, str]) -> str:
    """AAPL-USD from 230.00, moving to each mid at its second after the first order."""
    lines = ["starts: first_order", "symbols:", "  AAPL-USD:", "    start: 230.00", "    steps:"]
    lines += [f"      - {{at: {at}s, mid: {mid}}}" for at, mid in steps]
    return "\n".join(lines) + "\n"


@contextmanager
def standalone(tmp_path: Path, scenario_text: str, *extra: str) -> Iterator[str]:
    """`qfex-runner sim --scenario` as its own process; yields its trade WebSocket URL."""
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario_text)
    proc = subprocess.Popen([sys.executable, "-m", "runner", "sim", "--port", "0", "--speed-bump-ms", "0",
                             "--scenario", str(path), *extra], env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            if (match := re.search(r"trade WebSocket\s+(ws://\S+)", line)) is not None:
                url = match.group(1)
            if line.startswith("Ready"):
                break
        assert url, "the simulator did not print its URL"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_args(tmp_path: Path, url: str, playbook: Path, report: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "runner", "run", str(playbook), "--url", url, "--report-dir",
            str(tmp_path / report), "--state-dir", str(tmp_path / "state"), "--timeout", "10", *extra]


def run(tmp_path: Path, url: str, playbook: Path, report: str, *extra: str,
        timeout: float = 120) -> tuple[int, dict[str, Any], str]:
    """One `qfex-runner run`; (exit code, report.json, stdout+stderr)."""
    done = subprocess.run(run_args(tmp_path, url, playbook, report, *extra), env=cli_env(ENV),
                          capture_output=True, text=True, timeout=timeout)
    data = json.loads((tmp_path / report / "report.json").read_text())
    return done.returncode, data, done.stdout + done.stderr


def write_ladder(tmp_path: Path, quantity: str = "10", name: str = "ladder") -> Path:
    path = tmp_path / "ladder.yaml"
    path.write_text(LADDER.format(quantity=quantity, name=name))
    return path


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def check_invariants(order: dict[str, Any]) -> list[str]:
    """Replay the position's timeline: after every event the runner finished reacting to, no stop above
    the open position, the open take-profits together not above it, the position never flipped; at
    the end, nothing of the plan live on a flat position. Returns the timeline's lines (for messages)."""
    position = order["position"]
    assert position["invariant_breach"] is None, position["invariant_breach"]
    assert position["invariant_checks"] > 0
    entry = Decimal(0)
    closed = Decimal(0)
    size: dict[str, Decimal] = {}
    done: set[str] = set()
    lines = []
    for event in position["timeline"]:
        lines.append(f"{event['kind']:<10} {event['leg']:<14} {event['text']}")
        kind, leg = event["kind"], event["leg"]
        if kind == "entry_fill":
            entry = d(event["quantity"])
        elif kind in ("placed", "resized", "moved", "grown"):
            size[leg] = d(event["quantity"])
        elif kind == "filled":
            closed += d(event["quantity"]) - (size.get(f"{leg}#filled") or 0)
            size[f"{leg}#filled"] = d(event["quantity"])
            done.add(leg)
        elif kind in ("cancel", "cancelled"):  # a cancel on its way: what it answers is not live
            done.add(leg)
        open_qty = entry - closed
        assert open_qty >= 0, "the position flipped:\n" + "\n".join(lines)
        if kind in ("placed", "resized", "moved", "grown", "cancelled"):  # the runner's own actions
            live = {k: v for k, v in size.items() if "#" not in k and k not in done}
            shown = "\n".join(lines)
            assert live.get("stop_loss", Decimal(0)) <= open_qty, "a stop above the position:\n" + shown
            tps = sum((v for k, v in live.items() if k.startswith("take_profit")), Decimal(0))
            assert tps <= open_qty, "take-profits above the position:\n" + shown
    legs = order["legs"]
    if d(position["open_quantity"]) == 0:
        still = [x["leg"] for x in legs if x["statuses"] and x["statuses"][-1]["status"] in OPEN]
        assert not still, f"live on a flat position: {still}\n" + "\n".join(lines)
    return lines


def kinds(order: dict[str, Any], leg: str | None = None) -> list[str]:
    return [e["kind"] for e in order["position"]["timeline"] if leg is None or e["leg"] == leg]


def events(order: dict[str, Any], kind: str, leg: str) -> list[dict[str, Any]]:
    return [e for e in order["position"]["timeline"] if e["kind"] == kind and e["leg"] == leg]
