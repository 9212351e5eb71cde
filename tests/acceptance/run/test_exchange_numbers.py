"""Numbers from the exchange are checked, never trusted: NaN, Infinity, "sNaN", a `1e999999999`,
negative remainders, fills beyond the order. A fake exchange places the order and then answers with
each: the run ends with a report, the order's outcome is unknown with the reason in its verdict
(never passed), the exit code is 3 (never 70), and every journal line stays small."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.exit_codes import ExitCode
from tests.acceptance.run.test_cli import REPO, cli_env, qfex
from tests.acceptance.run_kit import RESTING, order, write_playbook
from tests.exchange.fake_exchange_kit import Peer, fake_exchange, fill_response, order_response, qfex_like

REFDATA = str(REPO / "runner/simulator/data/refdata.json")
ENV = cli_env({"QFEX_PUBLIC_KEY": "pk", "QFEX_SECRET_KEY": "sk"})

Answers = Callable[[dict[str, Any]], list[str]]


def ack_then(*frames: Callable[[dict[str, Any]], str]) -> Answers:
    return lambda message: [order_response(message, "ACK"), *(frame(message) for frame in frames)]


def many_fills(message: dict[str, Any]) -> list[str]:
    return [order_response(message, "ACK"),
            *(fill_response(message, quantity=1, trade_id=f'"t{i}"', remaining_quantity=0)
              for i in range(2_000))]


CASES: dict[str, tuple[Answers, str]] = {
    "fill quantity NaN": (ack_then(lambda m: fill_response(m, quantity="NaN")), "quantity NaN"),
    "fill price Infinity": (ack_then(lambda m: fill_response(m, price="Infinity")), "price Infinity"),
    "fill quantity sNaN": (ack_then(lambda m: fill_response(m, quantity='"sNaN"')), "quantity 'sNaN'"),
    "fill quantity 1e999999999": (ack_then(lambda m: fill_response(m, quantity="1e999999999")),
                                  "out of range"),
    "remaining -1": (ack_then(lambda m: order_response(m, "FILLED", quantity_remaining=-1)),
                     "quantity_remaining -1 is negative"),
    "remaining NaN": (ack_then(lambda m: order_response(m, "FILLED", quantity_remaining="NaN")),
                      "quantity_remaining NaN"),
    "fill larger than the order": (ack_then(lambda m: fill_response(m, quantity=5)),
                                   "fills add up to more than the order's quantity 1"),
    "2,000 fills of 1 on an order of 1": (many_fills, "fills add up to more than the order's quantity 1"),
}


@pytest.mark.parametrize("expect", ["filled", "accepted"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_impossible_numbers_make_the_outcome_unknown_not_a_crash(tmp_path: Path, case: str, expect: str):
    answers, reason = CASES[case]

    def on_order(peer: Peer, message: dict[str, Any]) -> None:
        for frame in answers(message):
            peer.send(frame)

    book = write_playbook(tmp_path, [order("a", RESTING, wait="fill", expect=expect), order("b", RESTING)])
    with fake_exchange(qfex_like(on_order)) as ex:
        done = qfex(["run", str(book), "--url", ex.url, "--timeout", "10", "--refdata", REFDATA,
                     "--state-dir", "state", "--report-dir", "rep"], tmp_path, ENV, timeout=120)
    assert done.returncode == ExitCode.ORDERS_FAILED, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    first, second = report["orders"]
    assert first["outcome"] == "unknown", first["verdict"]
    assert "cannot be right" in first["verdict"] and reason in first["verdict"], first["verdict"]
    assert second["outcome"] != "not_sent"  # the run went on
    assert any("its outcome is reported as unknown" in w for w in report["warnings"])
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 20_000_000, path
            with path.open("rb") as lines:
                assert max((len(line) for line in lines), default=0) < 10_000, path


def test_an_overfilled_entry_never_sizes_its_after_fill_exits_in_this_run_or_the_next(tmp_path: Path):
    """Fills of 5 on an entry of 1 must not become a take-profit and a stop-loss of 5: not when
    they arrive, and not when a re-run adopts the entry from its journal."""
    received: list[dict[str, Any]] = []

    def on_order(peer: Peer, message: dict[str, Any]) -> None:
        peer.send(order_response(message, "ACK"))
        peer.send(fill_response(message, quantity=5))

    bracket = "bracket: {take_profit: 260.00, stop_loss: 200.00, mode: after_fill}"
    book = write_playbook(tmp_path, [order("a", RESTING + "\n" + bracket, wait="fill", expect="filled")])
    args = ["run", str(book), "--timeout", "5", "--refdata", REFDATA, "--state-dir", "state"]
    for attempt in ("first", "re-run"):
        with fake_exchange(qfex_like(on_order, received)) as ex:
            done = qfex([*args, "--url", ex.url, "--report-dir", attempt], tmp_path, ENV, timeout=120)
        assert done.returncode in (ExitCode.OK, ExitCode.ORDERS_FAILED), done.stdout + done.stderr
        report = json.loads((tmp_path / attempt / "report.json").read_text())
        entry = report["orders"][0]
        assert entry["outcome"] != "passed", entry["verdict"]
        assert all(not leg.get("order_id") for leg in entry["legs"]), entry["legs"]
        assert any("more than" in w for w in report["warnings"]), report["warnings"]
    placed = [m for m in received if m.get("type") == "add_order"]
    assert len(placed) == 1, placed  # the entry, once; no exit of any size
