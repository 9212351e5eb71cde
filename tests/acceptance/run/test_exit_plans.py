"""Exit plans rehearsed end to end, as a trader would: `qfex-runner sim --scenario` in the background,
`qfex-runner run --url ... --manage`, the market moving through the plan. After every event of each
position's timeline: no stop above the position, no flip, nothing live on a flat position
(exit_plans_kit.check_invariants), besides the runner's own count of the same checks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from tests.acceptance.run.exit_plans_kit import (
    ENV,
    check_invariants,
    d,
    events,
    kinds,
    run,
    run_args,
    scenario,
    standalone,
    write_ladder,
)
from tests.acceptance.run.test_cli import cli_env

#: the "Done when" path: the bid fills, TP1 (235) and TP2 (245) trigger, the rest trails up to 253,
#: then the market falls back through the trailing stop
DONE_WHEN = scenario((1, "224.00"), (3, "230.00"), (5, "236.00"), (7, "240.00"), (9, "246.00"),
                     (11, "249.00"), (13, "252.00"), (15, "253.00"), (17, "249.00"), (19, "245.00"))


def test_ladder_of_three_break_even_after_tp1_and_a_trailing_remainder(tmp_path: Path) -> None:
    playbook = write_ladder(tmp_path)
    with standalone(tmp_path, DONE_WHEN) as url:
        code, report, out = run(tmp_path, url, playbook, "rep", "--manage", "--until", "60s")
        status = subprocess.run([sys.executable, "-m", "runner", "status", str(playbook), "--url", url,
                                 "--state-dir", str(tmp_path / "state")], env=cli_env(ENV),
                                capture_output=True, text=True, timeout=60)
    assert code == 0, out
    tp3 = next(line for line in status.stdout.splitlines() if " tp3 " in line)
    assert "cancelled" in tp3 and "filled" not in tp3, status.stdout  # a stop's cancel reply is no fill
    order = report["orders"][0]
    lines = check_invariants(order)
    shown = "\n".join(lines)
    placed = [e for leg in ("take_profit", "take_profit_2", "take_profit_3", "stop_loss")
              for e in events(order, "placed", leg)]
    assert [(d(e["quantity"]), d(e["price"])) for e in placed] == [
        (5, Decimal("235.00")), (3, Decimal("245.00")), (2, Decimal("260.00")),
        (10, Decimal("215.00"))], shown
    stop = [e for e in order["position"]["timeline"]
            if e["leg"] == "stop_loss" and e["kind"] in ("resized", "moved")]
    # TP1: resized to the 5 still open and moved to break-even (the average entry, 225.00)
    assert (d(stop[0]["quantity"]), d(stop[0]["price"])) == (5, Decimal("225.00")), shown
    # TP2: resized to the 2 still open, then only ever moved up (trailing in the position's favour)
    assert d(stop[1]["quantity"]) == 2, shown
    trail = [d(e["price"]) for e in stop[1:]]
    assert trail == sorted(trail) and len(set(trail)) == len(trail) and len(trail) >= 3, shown
    # the market fell through the trailing stop: it filled, and the take-profit left was cancelled
    assert kinds(order, "stop_loss")[-1] == "filled", shown
    assert kinds(order, "take_profit_3")[-1] == "cancelled", shown
    assert d(order["position"]["open_quantity"]) == 0
    # realised P&L of the round trip with fees, exact: sum of (exit - entry) x quantity, less fees
    fills = [f for leg in order["legs"] for f in leg["fills"]]
    gross = sum((d(f["price"]) - d(order["average_price"])) * d(f["quantity"]) for f in fills)
    fees = sum(d(f["fee"]) for f in [*order["fills"], *fills])
    assert d(order["position"]["realised_pnl"]) == gross - fees
    # the risk section's realised exits: one per filled exit (TP1, TP2, the trailed stop), their
    # quantities the whole position, their net the round trip's P&L after fees
    outcomes = report["risk"]["outcomes"]
    assert [o["exit"] for o in outcomes] == ["take_profit", "take_profit_2", "stop_loss"], outcomes
    assert sum(d(o["closed_quantity"]) for o in outcomes) == 10
    assert sum(d(o["net"]) for o in outcomes) == d(order["position"]["realised_pnl"])
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "stop-loss resized 10 -> 5 and moved 215.00 -> 225.00" in md


def test_the_stop_fires_before_the_first_take_profit(tmp_path: Path) -> None:
    playbook = write_ladder(tmp_path)
    path = scenario((1, "224.00"), (3, "220.00"), (5, "214.00"))
    with standalone(tmp_path, path) as url:
        code, report, out = run(tmp_path, url, playbook, "rep", "--manage", "--until", "60s")
    assert code == 0, out
    order = report["orders"][0]
    shown = "\n".join(check_invariants(order))
    assert kinds(order, "stop_loss") == ["placed", "filled"], shown
    for leg in ("take_profit", "take_profit_2", "take_profit_3"):
        assert kinds(order, leg) == ["placed", "cancel", "cancelled"], shown
    assert d(order["position"]["realised_pnl"]) < 0


def test_a_gap_through_several_levels_at_once(tmp_path: Path) -> None:
    playbook = write_ladder(tmp_path)
    with standalone(tmp_path, scenario((1, "224.00"), (3, "262.00"))) as url:
        code, report, out = run(tmp_path, url, playbook, "rep", "--manage", "--until", "60s")
    assert code == 0, out
    order = report["orders"][0]
    shown = "\n".join(check_invariants(order))
    for leg in ("take_profit", "take_profit_2", "take_profit_3"):
        assert "filled" in kinds(order, leg), shown
    assert kinds(order, "stop_loss")[-1] == "cancelled", shown
    assert d(order["position"]["open_quantity"]) == 0


def test_partial_entry_fills_grow_the_exits(tmp_path: Path) -> None:
    """300 at 225: the first dip fills only the market maker's best ask (about half), the second the
    rest; the exits are placed for the first fill and grown for the second, never above it."""
    playbook = write_ladder(tmp_path, quantity="300")
    path = scenario((1, "224.90"), (4, "224.00"), (7, "262.00"))
    with standalone(tmp_path, path) as url:
        code, report, out = run(tmp_path, url, playbook, "rep", "--manage", "--until", "60s")
    assert code == 0, out
    order = report["orders"][0]
    shown = "\n".join(check_invariants(order))
    entry_fills = [d(e["quantity"]) for e in events(order, "entry_fill", "entry")]
    assert len(entry_fills) >= 2 and entry_fills[0] < 300 and entry_fills[-1] == 300, shown
    first_stop = events(order, "placed", "stop_loss")[0]
    assert d(first_stop["quantity"]) == entry_fills[0], shown
    assert "grown" in kinds(order, "take_profit"), shown
    assert any(d(e["quantity"]) == 300 for e in events(order, "resized", "stop_loss")), shown
    assert d(order["position"]["open_quantity"]) == 0


def test_kill_9_during_management_then_restart_picks_up_where_it_stopped(tmp_path: Path) -> None:
    playbook = write_ladder(tmp_path)
    journal_dir = tmp_path / "state"
    with standalone(tmp_path, DONE_WHEN) as url:
        first = subprocess.Popen(run_args(tmp_path, url, playbook, "rep1", "--manage", "--until", "60s"),
                                 env=cli_env(ENV), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # killed right after the break-even move is journaled
            texts = [p.read_text() for p in journal_dir.glob("*.journal.jsonl")]
            if any('"kind": "manage"' in t for t in texts):
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        time.sleep(1.5)  # the market moves on while nobody manages
        code, report, out = run(tmp_path, url, playbook, "rep2", "--manage", "--until", "60s")
    assert code == 0, out
    order = report["orders"][0]
    shown = "\n".join(check_invariants(order)) + "\n" + out
    assert d(order["position"]["open_quantity"]) == 0, shown
    records = [json.loads(line) for p in journal_dir.glob("*.journal.jsonl")
               for line in p.read_text().splitlines()]
    intents = [r["coid"] for r in records if r.get("kind") == "intent"]
    lines = "\n".join(json.dumps(r)[:300] for r in records if r.get("kind") in ("intent", "reconciled"))
    assert len(intents) == len(set(intents)) == 5, lines  # the entry and four exits, each sent once
    # a modify journaled by the killed run that the exchange does not show applied is sent again (an
    # absolute target: harmless); what must never happen is the exchange applying one move twice
    moves = [(r["answer"]["order_response"].get("quantity"), r["answer"]["order_response"].get("price"))
             for r in records if r.get("kind") == "answer" and "order_response" in r.get("answer", {})
             and r["answer"]["order_response"].get("status") == "MODIFIED"]
    assert len(moves) == len(set(moves)), f"a stop moved twice to the same place: {moves}"
    keys = {r["key"] for r in records if r.get("kind") == "manage"}
    assert len(moves) <= len(keys)
    placed = [x for x in order["legs"] if x["note"].startswith("placed by an earlier run")]
    assert placed, "the restart adopted the exits the killed run placed"


def test_reconnect_mid_trail(tmp_path: Path) -> None:
    """The exchange drops the connection once while the stop trails (after its 14th frame): the run
    reconnects as usual and keeps managing; nothing is sent twice."""
    playbook = write_ladder(tmp_path)
    with standalone(tmp_path, DONE_WHEN, "--drop-after", "14") as url:
        code, report, out = run(tmp_path, url, playbook, "rep", "--manage", "--until", "60s")
    assert code == 0, out
    order = report["orders"][0]
    shown = "\n".join(check_invariants(order))
    assert d(order["position"]["open_quantity"]) == 0, shown
    assert kinds(order, "stop_loss")[-1] == "filled", shown
    assert any("reconnected and reconciled" in w for w in report["warnings"]), report["warnings"]
    after = [e for e in order["position"]["timeline"] if e["leg"] == "stop_loss"]
    lost = next((i for i, e in enumerate(after) if "lost with the connection" in e["text"]), 0)
    assert [e["kind"] for e in after[lost:]].count("moved") >= 1, shown  # it kept trailing afterwards


TIME_RULES = """\
version: 1
name: time-rules
orders:
  - id: hold
    symbol: AAPL-USD
    side: BUY
    type: MARKET
    quantity: 4
    bracket:
      stop_loss: 200.00
      take_profit: [{price: 250.00, size: 50%}, {price: 260.00}]
      manage: {close_after: 1h}
  - id: bid
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: 2
    price: 200.00
    bracket:
      stop_loss: 190.00
      take_profit: [{price: 240.00}]
      manage: {cancel_entry_after: 30m}
"""


def test_time_rules_play_out_on_the_exchange_clock_sped_up(tmp_path: Path) -> None:
    """`sim --clock-speed 600`: an hour on the exchange's clock is six seconds. close_after closes the
    plan's own quantity with a reduce-only MARKET order (not close_position) and its exits go;
    cancel_entry_after cancels the bid that never filled — as the playbook asked, so it passes."""
    playbook = tmp_path / "time-rules.yaml"
    playbook.write_text(TIME_RULES)
    with standalone(tmp_path, scenario((600, "230.00")), "--clock-speed", "600") as url:
        code, report, out = run(tmp_path, url, playbook, "rep", "--manage", "--until", "60s")
    assert code == 0, out
    hold, bid = report["orders"]
    shown = "\n".join(check_invariants(hold))
    close = next(x for x in hold["legs"] if x["leg"] == "close")
    assert d(close["quantity"]) == 4 and close["statuses"][-1]["status"] == "FILLED", shown
    assert "closed" in kinds(hold) and d(hold["position"]["open_quantity"]) == 0, shown
    for leg in ("take_profit", "take_profit_2", "stop_loss"):
        assert kinds(hold, leg)[-1] == "cancelled", shown
    wire = (tmp_path / "rep" / "report.json").read_text()
    assert "close_position" not in wire
    assert bid["outcome"] == "passed" and "cancel_entry_after 30m" in bid["verdict"], bid["verdict"]
    assert kinds(bid, "entry") == ["cancel"]


def test_a_one_shot_run_does_what_is_due_and_a_rerun_goes_on(tmp_path: Path) -> None:
    """Without --manage: the first run places the exits and says what is left; after TP1 fills, a
    second one-shot run adopts them, resizes the stop and moves it to break-even, and says so."""
    playbook = tmp_path / "market.yaml"
    playbook.write_text(LADDER_MARKET)
    with standalone(tmp_path, scenario((2, "236.00"))) as url:
        code, first, out = run(tmp_path, url, playbook, "rep1")
        assert code == 0, out
        assert "a one-shot run places the exits and does what is due now" in out
        assert [e["kind"] for e in first["orders"][0]["position"]["timeline"]].count("placed") == 3
        time.sleep(3)  # TP1 triggers at 235 on the way to 236
        code, second, out = run(tmp_path, url, playbook, "rep2")
    assert code == 0, out
    order = second["orders"][0]
    shown = "\n".join(check_invariants(order)) + "\n" + out
    stop = events(order, "resized", "stop_loss")
    assert stop and d(stop[0]["quantity"]) == 5 and d(stop[0]["price"]) == d(order["average_price"]), shown
    assert "placed" not in kinds(order), "the re-run placed nothing again"


LADDER_MARKET = """\
version: 1
name: one-shot
run_id: r1
orders:
  - id: aapl-long
    symbol: AAPL-USD
    side: BUY
    type: MARKET
    quantity: 10
    bracket:
      stop_loss: 215.00
      take_profit: [{price: 235.00, size: 50%}, {price: 245.00}]
      manage: {break_even_after: 1}
"""


def test_until_needs_manage(tmp_path: Path) -> None:
    args = [*run_args(tmp_path, "ws://127.0.0.1:9/", write_ladder(tmp_path), "rep"), "--until", "5m"]
    done = subprocess.run(args, env=cli_env(ENV), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--until needs --manage" in done.stderr
