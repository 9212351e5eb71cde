"""Scenarios: loading (with located errors), scripted steps, seeded random walks, and the shipped examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.simulator.errors import ConfigError
from runner.simulator.scenario import Scenario, StepsPath, WalkPath, load_scenario_file
from tests.simulator.engine_kit import DEMO_ACCOUNT_ID, D, Kit, responses, statuses

SCENARIOS = Path(__file__).parents[2] / "playbooks" / "scenarios"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_load_steps_and_walk(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: demo\n"
        "symbols:\n"
        "  AAPL-USD:\n"
        "    start: 230\n"
        "    steps:\n"
        "      - {at: 500ms, mid: 231.5}\n"
        "      - {at: 2s, mid: 235}\n"
        "      - {at: 1.5m, mid: 240}\n"
        "  TSLA-USD:\n"
        "    random_walk: {interval: 1s, drift: 0.001, volatility: 0.002, steps: 10, seed: 3}\n",
    )
    scenario = load_scenario_file(path)
    assert scenario.name == "demo"
    assert scenario.paths["AAPL-USD"] == StepsPath(D(230), ((0.5, D("231.5")), (2.0, D(235)), (90.0, D(240))))
    assert scenario.paths["TSLA-USD"] == WalkPath(None, 1.0, D("0.001"), D("0.002"), 10, 3)


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("symbols:\n  AAPL-USD:\n    steps:\n      - {at: 2s}\n", ":4:9:", "missing 'mid'"),
        ("symbols:\n  AAPL-USD:\n    steps:\n      - {at: soon, mid: 1}\n", ":4:14:", "duration"),
        ("symbols:\n  AAPL-USD:\n    steps:\n      - {at: 2s, mid: -1}\n", ":4:23:", "greater than 0"),
        (
            "symbols:\n  AAPL-USD:\n    steps:\n      - {at: 2s, mid: 1}\n      - {at: 1s, mid: 2}\n",
            ":5:14:",
            "back in time",
        ),
        ("symbols:\n  AAPL-USD:\n    start: 1\n", ":3:5:", "exactly one of 'steps' or 'random_walk'"),
        ("symbols:\n  AAPL-USD:\n    random_walk: {volatility: 0.1}\n", ":3:18:", "missing 'interval'"),
        (
            "symbols:\n  AAPL-USD:\n    random_walk: {interval: 1s, volatility: 2}\n",
            ":3:45:",
            "volatility must be in [0, 1)",
        ),
        ("symbols:\n  AAPL-USD:\n    stepz: []\n", ":3:5:", "unknown key 'stepz'"),
        ("name: x\n", ":1:1:", "missing 'symbols'"),
        ("symbols: {}\n", ":1:10:", "no symbol"),
        ("symbols:\n  AAPL-USD: [\n", ":3:1:", "invalid YAML"),
        ("symbols:\n  AAPL-USD:\n    steps: []\n    steps: []\n", ":4:5:", "duplicate key 'steps'"),
    ],
)
def test_scenario_errors_are_located(tmp_path: Path, text: str, where: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_scenario_file(path)
    message = str(err.value)
    assert message.startswith(str(path)) and where in message and words in message, message


def test_unknown_symbol_in_scenario_is_refused() -> None:
    scenario = Scenario({"NOPE-USD": StepsPath(None, ((1.0, D(1)),))})
    with pytest.raises(ConfigError) as err:
        Kit(scenario=scenario)
    assert "NOPE-USD" in str(err.value)


def test_steps_move_the_book_and_the_mark_on_the_clock() -> None:
    scenario = Scenario({"AAPL-USD": StepsPath(D(230), ((2.0, D(235)), (4.0, D(240))))})
    kit = Kit(scenario=scenario)
    assert kit.ex.next_deadline() == kit.clock.t + 2
    kit.advance(1.9)
    assert kit.ex.mark("AAPL-USD") == D(230)
    kit.advance(0.1)
    bid, ask = kit.ex.book("AAPL-USD")["bids"][0][0], kit.ex.book("AAPL-USD")["asks"][0][0]
    assert bid < D(235) < ask and kit.ex.mark("AAPL-USD") == (bid + ask) / 2
    kit.advance(2)
    assert abs(kit.ex.mark("AAPL-USD") - D(240)) < D("0.1")
    assert kit.ex.next_deadline() is None


def test_late_on_time_jumps_to_the_latest_due_step() -> None:
    scenario = Scenario({"AAPL-USD": StepsPath(None, ((1.0, D(231)), (2.0, D(232)), (3.0, D(233))))})
    kit = Kit(scenario=scenario)
    kit.advance(10)
    assert abs(kit.ex.mark("AAPL-USD") - D(233)) < D("0.1")


def test_random_walk_is_seeded_and_stops_after_its_steps() -> None:
    def path(seed: int) -> list:
        kit = Kit(
            scenario=Scenario({"TSLA-USD": WalkPath(None, 1.0, D("0.001"), D("0.01"), 5, None)}), seed=seed
        )
        marks = []
        for _ in range(6):
            kit.advance(1)
            marks.append(kit.ex.market("TSLA-USD").fair)
        assert kit.ex.next_deadline() is None or kit.ex.next_deadline() > kit.clock.t
        return marks

    a = path(1)
    assert a == path(1) and a != path(2)
    assert a[4] == a[5]  # five steps, then it rests
    assert len(set(a[:5])) > 1


def test_scenario_fills_a_resting_bid_and_triggers_its_bracket() -> None:
    scenario = load_scenario_file(SCENARIOS / "rally.yaml")
    kit = Kit(scenario=scenario, speed_bump_ms=100)
    # the quickstart's first two orders
    [entry] = responses(kit.order(quantity="1", price="220.00", take_profit="240.00", stop_loss="210.00"))
    kit.advance(0.1)
    kit.order(order_type="MARKET", tif="IOC", quantity="0.5", price="0")
    seen = []
    for _ in range(300):
        seen += responses(kit.advance(0.1))
    mine = [(r["type"], r["status"]) for r in seen]
    assert (
        mine.index(("LIMIT", "FILLED"))
        < mine.index(("TAKE_PROFIT", "ACK"))
        < mine.index(("TAKE_PROFIT", "FILLED"))
    )
    assert ("STOP_LOSS", "CANCELLED") in mine
    entry_fill = next(r for r in seen if r["order_id"] == entry["order_id"] and r["status"] == "FILLED")
    assert entry_fill["price"] == D("220.00")
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["position"] == D("0.5")


def test_selloff_triggers_the_stop_loss() -> None:
    scenario = load_scenario_file(SCENARIOS / "selloff.yaml")
    kit = Kit(scenario=scenario)
    kit.order(quantity="1", price="220.00", take_profit="240.00", stop_loss="210.00")
    seen = []
    for _ in range(25):
        seen += responses(kit.advance(1))
    mine = [(r["type"], r["status"]) for r in seen]
    assert ("STOP_LOSS", "FILLED") in mine and ("TAKE_PROFIT", "CANCELLED") in mine
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["position"] == 0
    assert kit.ex.market("TSLA-USD").fair != D(340)  # the random walk moved TSLA


def test_shipped_scenarios_load() -> None:
    for path in SCENARIOS.glob("*.yaml"):
        assert load_scenario_file(path).paths


def test_set_mid_and_set_mark_outputs_are_delivered_by_the_next_call() -> None:
    kit = Kit()
    kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0", stop_loss="220")
    kit.ex.set_mark("AAPL-USD", "219")
    assert kit.ex.next_deadline() == kit.clock.t  # something to deliver now
    out = kit.ex.on_time()
    assert statuses(out) == ["FILLED"]
    kit.ex.set_mark("AAPL-USD", None)
    assert kit.ex.mark("AAPL-USD") != D(219)
