"""docs/recipes.md, followed: its scenario blocks are scenarios the local exchange accepts, and the
"Rehearsal on a scenario" recipe does what the page says — the bid fills on the dip inside one
run, both after-fill exits are placed, and the rally's take-profit closes the position.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from runner import jsonnum
from tests.acceptance.run_kit import position_once_realised

ROOT = Path(__file__).resolve().parents[3]
RECIPES = ROOT / "docs" / "recipes.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", RECIPES.read_text(encoding="utf-8"), re.S | re.M)


def scenario_blocks() -> dict[str, str]:
    """file name -> text of every block whose first line names a file under playbooks/scenarios/."""
    found = {}
    for block in yaml_blocks():
        first = block.splitlines()[0]
        match = re.match(r"# playbooks/scenarios/(\S+\.yaml)", first)
        if match:
            found[match.group(1)] = block
    return found


def test_recipes_show_a_scenario() -> None:
    assert "dip-and-rally.yaml" in scenario_blocks()


@pytest.mark.parametrize("name", sorted(scenario_blocks()))
def test_scenario_blocks_are_valid_scenarios(name: str, tmp_path: Path) -> None:
    from runner.simulator.scenario import load_scenario_file

    path = tmp_path / name
    path.write_text(scenario_blocks()[name], encoding="utf-8")
    load_scenario_file(path)


def test_rehearsal_recipe_plays_out_as_described(tmp_path: Path) -> None:
    """The recipe's playbook and scenario, with the scenario's clock five times faster."""
    from runner.simulator import Simulator
    from runner.simulator.config import EngineConfig
    from runner.simulator.scenario import load_scenario_file

    shown = scenario_blocks()["dip-and-rally.yaml"]
    scenario = re.sub(r"at: (\d+)s", lambda m: f"at: {int(m.group(1)) * 200}ms", shown)
    (tmp_path / "scenario.yaml").write_text(scenario, encoding="utf-8")
    [playbook] = [b for b in yaml_blocks() if "name: aapl-dip-rehearsal" in b]
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "aapl-dip-rehearsal.yaml").write_text(playbook, encoding="utf-8")
    config = EngineConfig(speed_bump_ms=0, scenario=load_scenario_file(tmp_path / "scenario.yaml"))
    with Simulator(config) as sim:
        env = {**os.environ, "QFEX_PUBLIC_KEY": sim.public_key, "QFEX_SECRET_KEY": sim.secret_key}
        run = subprocess.run(
            [sys.executable, "-m", "runner", "run", "playbooks/aapl-dip-rehearsal.yaml", "--url", sim.url,
             "--timeout", "60", "--report-dir", "report"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        [order] = jsonnum.loads((tmp_path / "report" / "report.json").read_bytes())["orders"]
        assert order["outcome"] == "passed" and order["filled_quantity"] == 1  # filled inside the run
        assert order["fills"] and order["average_price"] <= Decimal("220.00")
        legs = {leg["leg"]: leg for leg in order["legs"]}
        assert set(legs) == {"take_profit", "stop_loss"}
        assert all(leg["order_id"] for leg in legs.values())  # both exits placed
        position = position_once_realised(sim)
    assert position["position"] == 0
    assert position["realised_pnl"] > Decimal("15")  # bought at or below 220, sold once above 240
