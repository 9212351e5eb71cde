"""`step: exits` end to end through the CLI: an exit plan protecting a position the account already
holds (QFEX's stop-order page made declarative), kept like a bracket's, refused when it cannot fit
the position — and a re-run that places nothing again."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.run.exit_plans_kit import check_invariants, d, events, kinds, run, scenario, standalone

PROTECT = """\
version: 1
name: protect
run_id: r1
orders:
  - id: buy-some
    symbol: AAPL-USD
    side: BUY
    type: MARKET
    quantity: 10
  - id: protect-aapl
    step: exits
    symbol: AAPL-USD
    quantity: position
    stop_loss: 215.00
    take_profit:
      - {price: 235.00, size: 50%}
      - {price: 245.00}
    manage: {break_even_after: 1}
"""

REFUSED = """\
version: 1
name: refused
on_reject: continue
orders:
  - id: nothing-held
    step: exits
    symbol: TSLA-USD
    quantity: position
    stop_loss: 300.00
  - id: buy-some
    symbol: AAPL-USD
    side: BUY
    type: MARKET
    quantity: 2
  - id: wrong-side
    step: exits
    symbol: AAPL-USD
    quantity: position
    stop_loss: 250.00
    take_profit: [{price: 200.00}]
  - id: too-much
    step: exits
    symbol: AAPL-USD
    quantity: 3
    stop_loss: 200.00
"""

#: TP1 (235) and TP2 (245) trigger on the way up
RALLY = scenario((2, "230.00"), (4, "236.00"), (6, "240.00"), (8, "246.00"))


def test_an_exits_step_protects_the_position_and_keeps_it_right(tmp_path: Path) -> None:
    playbook = tmp_path / "protect.yaml"
    playbook.write_text(PROTECT)
    with standalone(tmp_path, RALLY) as url:
        code, report, out = run(tmp_path, url, playbook, "rep1", "--manage", "--until", "60s")
        assert code == 0, out
        step = report["steps"][0]
        assert step["outcome"] == "passed", step["verdict"]
        shown = "\n".join(check_invariants(step)) + "\n" + out
        placed = [(e["leg"], d(e["quantity"]), d(e["price"])) for e in step["position"]["timeline"]
                  if e["kind"] == "placed"]
        assert placed == [("take_profit", 5, d("235.00")), ("take_profit_2", 5, d("245.00")),
                          ("stop_loss", 10, d("215.00"))], shown
        resized = events(step, "resized", "stop_loss") + events(step, "moved", "stop_loss")
        assert any(d(e["quantity"]) == 5 for e in resized), shown
        assert kinds(step, "stop_loss")[-1] == "cancelled", shown  # flat after TP2: the stop went
        assert d(step["position"]["open_quantity"]) == 0
        first_pnl = step["position"]["realised_pnl"]
        assert (tmp_path / "rep1" / "report.html").exists()
        code, again, out = run(tmp_path, url, playbook, "rep2")
    assert code == 0, out
    step = again["steps"][0]
    assert "placed" not in kinds(step), "a re-run placed nothing again"
    assert step["position"]["realised_pnl"] == first_pnl
    intents = [json.loads(line) for p in (tmp_path / "state").glob("*.journal.jsonl")
               for line in p.read_text().splitlines()]
    sent = [r["coid"] for r in intents if r.get("kind") == "intent"]
    assert len(sent) == len(set(sent)) == 4  # the buy, two take-profits, the stop


def test_an_exits_step_that_does_not_fit_the_position_sends_nothing(tmp_path: Path) -> None:
    playbook = tmp_path / "refused.yaml"
    playbook.write_text(REFUSED)
    with standalone(tmp_path, scenario((60, "230.00"))) as url:
        code, report, out = run(tmp_path, url, playbook, "rep")
    assert code == 3, out
    verdicts = {s["id"]: (s["outcome"], s["verdict"]) for s in report["steps"]}
    assert verdicts["nothing-held"] == ("failed", "no TSLA-USD position to protect: nothing sent")
    assert verdicts["wrong-side"][0] == "failed" and "the exits protect a short" in verdicts["wrong-side"][1]
    too_much = verdicts["too-much"]
    assert too_much[0] == "failed" and "more than the AAPL-USD position" in too_much[1]
    assert all(not s.get("legs") for s in report["steps"])
    records = [json.loads(line) for p in (tmp_path / "state").glob("*.journal.jsonl")
               for line in p.read_text().splitlines()]
    assert [r["order"] for r in records if r.get("kind") == "intent"] == ["buy-some"]
