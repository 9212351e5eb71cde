"""Risk as code from the command line, as a playbook repository uses it: the policy file found above
the playbook (and its breaches as located errors and GitHub annotations), the reference-data
snapshot pulled, found without flags and aged, `plan`'s risk preview in text and JSON."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]
REFDATA = ROOT / "runner" / "simulator" / "data" / "refdata.json"

PLAYBOOK = """\
version: 1
name: desk
orders:
  - id: aapl-long
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    price: 225.00
    quantity: {risk: 400}
    bracket: {stop_loss: 215.00, take_profit: 249.80}
"""
POLICY = """\
# the desk's rules for every playbook in this repository
limits:
  max_loss_per_order: 300
  require_stop: true
fees: {maker: 0.0001, taker: 0.0002}
"""


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
)
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(list(ctx.args))  # the real entry point, error boundary and exit code included


def qfex(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(_entry, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A playbook repository: .git at the root, the policy there, a playbook two levels down."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "qfex-runner.yaml").write_text(POLICY)
    (tmp_path / "playbooks" / "desk").mkdir(parents=True)
    (tmp_path / "playbooks" / "desk" / "long.yaml").write_text(PLAYBOOK)
    return tmp_path


def test_a_policy_breach_is_a_located_error_naming_the_policy_line(repo: Path) -> None:
    code, out, _ = qfex("validate", "--refdata", str(REFDATA), "playbooks/desk/long.yaml", cwd=repo)
    assert code == ExitCode.INVALID_PLAYBOOK
    assert out == ("playbooks/desk/long.yaml:9:15: loss at the stop 400 (40.000 x |225.00 - 215.00| = "
                   "40.000 x 10.00) is above the policy's max_loss_per_order 300 (set in "
                   "qfex-runner.yaml:3:3) [policy-limits]\n")
    code, out, _ = qfex("validate", "--format", "github", "--refdata", str(REFDATA),
                        "playbooks/desk/long.yaml", cwd=repo)
    assert code == ExitCode.INVALID_PLAYBOOK
    assert out.startswith("::error file=playbooks/desk/long.yaml,line=9,col=15,title=policy-limits::"
                          "loss at the stop 400")


def test_the_policy_search_stops_at_the_repository_root(repo: Path, tmp_path_factory: pytest.TempPathFactory
                                                         ) -> None:
    inner = repo / "vendored"
    (inner / ".git").mkdir(parents=True)
    (inner / "p.yaml").write_text(PLAYBOOK)  # another repository: the outer policy is not its policy
    code, out, _ = qfex("validate", "--refdata", str(REFDATA), str(inner / "p.yaml"))
    assert (code, out) == (ExitCode.OK, "")


def test_problems_in_the_policy_file_are_located_in_it(repo: Path) -> None:
    (repo / "qfex-runner.yaml").write_text("limits:\n  max_los: 3\n  require_stop: maybe\nfees: {taker: 2}\n")
    code, out, _ = qfex("validate", "--refdata", str(REFDATA), "playbooks/desk/long.yaml", cwd=repo)
    policy = "qfex-runner.yaml"
    assert code == ExitCode.INVALID_PLAYBOOK
    assert out.splitlines() == [
        f"{policy}:2:3: unknown key 'max_los' in limits (known: max_leverage, max_loss, max_loss_per_order, "
        f"max_order_notional, max_total_notional, require_stop, symbols) [policy]",
        f"{policy}:3:17: require_stop: expected true or false [policy]",
        f"{policy}:4:15: taker: expected a rate below 1 such as 0.0002 (0.02%), got 2 [policy]",
    ]


def test_refdata_pull_writes_a_dated_snapshot_that_validate_and_plan_find(repo: Path) -> None:
    code, out, _ = qfex("refdata", "pull", "--dir", str(repo))
    assert code == ExitCode.OK
    assert out == f"wrote {repo / 'qfex-refdata.json'} (13 symbols, 13 mark prices, from sim)\n"
    snapshot = json.loads((repo / "qfex-refdata.json").read_text())
    assert snapshot["marks"]["AAPL-USD"] == 230  # the local exchange's mark: the median of bid, ask, last
    assert snapshot["target"] == "sim" and snapshot["source"] == "embedded exchange sample data"
    assert snapshot["taken_at"].endswith("Z") and len(snapshot["data"]) == 13
    (repo / "qfex-runner.yaml").write_text(POLICY.replace("300", "500"))
    code, out, err = qfex("validate", "playbooks/desk/long.yaml", cwd=repo)  # no --refdata: the snapshot
    assert (code, out) == (ExitCode.OK, "")
    assert f"reference data: qfex-refdata.json, taken {snapshot['taken_at']} (0 min ago)" in err
    code, out, _ = qfex("plan", "playbooks/desk/long.yaml", cwd=repo)
    assert code == ExitCode.OK
    assert '"quantity": 40.000' in out  # sized offline: 400 / 10.00, on AAPL-USD's lot from the snapshot
    explained = "quantity sized by risk 400: 40.000 = 400 / 10.00 (|entry - stop|), floored to the lot 0.001"
    assert explained in out


def test_an_old_snapshot_is_a_warning_past_the_policy_s_age_limit(repo: Path) -> None:
    qfex("refdata", "pull", "--dir", str(repo))
    path = repo / "qfex-refdata.json"
    snapshot = json.loads(path.read_text())
    shown = "qfex-refdata.json"
    snapshot["taken_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 86400))
    path.write_text(json.dumps(snapshot))
    (repo / "qfex-runner.yaml").write_text("refdata: {max_age_days: 2}\n")
    code, out, _ = qfex("validate", "playbooks/desk/long.yaml", cwd=repo)
    assert code == ExitCode.OK
    assert out == (f"{shown}:1:1: warning: reference data taken {snapshot['taken_at']} (3 days ago) is older "
                   f"than 2 days: tick sizes, lot sizes and price bands may have changed; refresh it with "
                   f"qfex-runner refdata pull [refdata-age]\n")


def test_plan_needs_every_quantity_and_shows_the_risk_table_in_json(repo: Path) -> None:
    book = repo / "playbooks" / "desk" / "long.yaml"
    book.write_text(PLAYBOOK.replace("{risk: 400}", "{risk: 0.5%}"))
    (repo / "qfex-runner.yaml").unlink()
    code, out, err = qfex("plan", "--refdata", str(REFDATA), str(book))
    assert code == ExitCode.USAGE and out == ""  # the playbook is valid; the inputs to size it are missing
    assert "warning: quantity {risk: 0.5%} is sized at run time from the account's equity" in err
    assert "qfex-runner: cannot size 1 quantity offline (the warnings above; run sizes it): pass --refdata " \
           "FILE or keep a snapshot" in err
    code, _, _ = qfex("validate", "--refdata", str(REFDATA), str(book))
    assert code == ExitCode.OK  # a warning only: the pre-commit hook does not block it
    code, out, err = qfex("plan", "--refdata", str(REFDATA), "--equity", "80000", "--format", "json",
                          str(book))
    assert code == ExitCode.OK, err
    plan = json.loads(out)
    assert plan["steps"][0]["message"]["params"]["quantity"] == 40  # 0.5% of 80,000 = 400; / 10.00
    row = plan["risk"]["orders"][0]
    assert (row["quantity"], row["loss_at_stop"], row["r_multiple"], row["sizing"]) == \
        (40, 400, 2.48, "risk 0.5%")
    assert plan["risk"]["total"] == {"gross_notional": 9000, "net_notional": 9000, "worst_case_loss": 400,
                                     "unbounded": False, "margin": 900, "fees_estimate": 3.52}
    assert plan["risk"]["account"] == {"source": "--equity", "equity": 80000, "available_balance": None}
    code, _, err = qfex("plan", "--equity", "1", "--account", "x.json", str(book))
    assert code == ExitCode.USAGE and "pass --equity or --account, not both" in err


def test_the_readme_risk_table_is_what_plan_prints() -> None:
    """The example repository (examples/risk: policy and snapshot found without flags) planned as the
    README shows it."""
    code, out, _ = qfex("plan", "examples/risk/playbooks/aapl-swing.yaml", "--equity", "25000", cwd=ROOT)
    assert code == ExitCode.OK
    table = out[out.index("risk preview ("):]
    assert table in (ROOT / "README.md").read_text(encoding="utf-8")
    assert table in (ROOT / "docs" / "risk.md").read_text(encoding="utf-8")
