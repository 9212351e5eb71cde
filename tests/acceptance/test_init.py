"""`qfex-runner init DIR`: the skeleton is a working playbook repository from the first minute —
its example validates, plans and rehearses, its pre-commit config runs, its workflow is valid —
and init never overwrites a file unless told to.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SKELETON = [
    ".github/workflows/qfex-runner.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    "README.md",
    "playbooks/example.yaml",
    "playbooks/scenarios/example-rally.yaml",
    "qfex-refdata.json",
    "schemas/playbook.schema.json",
]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    ).stdout


@pytest.fixture
def skeleton(tmp_path: Path) -> Path:
    target = tmp_path / "desk-playbooks"
    result = cli("init", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"created {target / path}" for path in SKELETON]
    assert "qfex-runner validate playbooks/example.yaml" in result.stderr  # the next steps
    return target


def test_init_writes_exactly_the_skeleton(skeleton: Path) -> None:
    written = sorted(str(p.relative_to(skeleton)) for p in skeleton.rglob("*") if p.is_file())
    assert written == sorted(SKELETON)


def test_skeleton_schema_is_the_installed_schema(skeleton: Path) -> None:
    schema = subprocess.run([sys.executable, "-m", "runner", "schema"], capture_output=True, timeout=60)
    assert (skeleton / "schemas" / "playbook.schema.json").read_bytes() == schema.stdout


def test_example_validates_plans_and_rehearses(skeleton: Path) -> None:
    assert cli("validate", "playbooks/example.yaml", cwd=skeleton).returncode == 0
    refdata = ROOT / "runner" / "simulator" / "data" / "refdata.json"
    checked = cli("validate", "--refdata", str(refdata), "playbooks/example.yaml", cwd=skeleton)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    plan = cli("plan", "playbooks/example.yaml", cwd=skeleton)
    assert plan.returncode == 0, plan.stderr
    assert '"type": "add_order"' in plan.stdout and '"take_profit": 250.00' in plan.stdout
    rehearsal = cli("run", "playbooks/example.yaml", cwd=skeleton)
    assert rehearsal.returncode == 0, rehearsal.stdout + rehearsal.stderr
    reports = list((skeleton / "runs" / "example-aapl-bracket").glob("*/report.json"))
    assert len(reports) == 1


def test_gitignore_keeps_reports_and_journals_out_of_git(skeleton: Path) -> None:
    assert cli("run", "playbooks/example.yaml", cwd=skeleton).returncode == 0
    (skeleton / ".qfex-state").mkdir()
    (skeleton / ".qfex-state" / "journal").write_text("x", encoding="utf-8")
    assert any((skeleton / "runs").rglob("*"))
    git(skeleton, "init", "-q", "-b", "main")
    untracked = git(skeleton, "status", "--porcelain", "--untracked-files=all").split()
    assert not [p for p in untracked if p.startswith(("runs/", ".qfex-state/"))]
    assert "playbooks/example.yaml" in untracked


def test_skeleton_workflow_is_valid_and_is_the_shipped_example(skeleton: Path) -> None:
    workflow = skeleton / ".github" / "workflows" / "qfex-runner.yml"
    assert workflow.read_text(encoding="utf-8") == (
        ROOT / "examples/github-actions/qfex-runner.yml"
    ).read_text(encoding="utf-8")
    parsed = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    assert set(parsed["jobs"]) == {"playbooks", "validate", "rehearse", "run"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    from runner import __version__

    assert f"qfex-runner@v{__version__}" in workflow.read_text(encoding="utf-8")  # the install hint


@pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import pre_commit"]).returncode != 0,
    reason="pre-commit is not installed (pip install -e '.[test]')",
)
def test_skeleton_pre_commit_config_validates_playbooks_on_commit(skeleton: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **GIT_ENV,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_COLOR": "never",
    }

    def pre_commit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", *args],
            cwd=skeleton,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert pre_commit("validate-config", ".pre-commit-config.yaml").returncode == 0
    git(skeleton, "init", "-q", "-b", "main")
    git(skeleton, "add", ".")
    good = pre_commit("run", "--all-files")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "qfex-runner validate" in good.stdout and "Passed" in good.stdout
    example = (skeleton / "playbooks" / "example.yaml").read_text(encoding="utf-8")
    line = example.splitlines().index("    side: BUY") + 1
    broken = example.replace("side: BUY", "side: BYU")
    (skeleton / "playbooks" / "broken.yaml").write_text(broken, encoding="utf-8")
    git(skeleton, "add", ".")
    bad = pre_commit("run", "--all-files")
    assert bad.returncode == 1
    assert f"playbooks/broken.yaml:{line}:11: side: 'BYU' is not one of BUY, SELL" in bad.stdout, bad.stdout


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    (target / "playbooks").mkdir(parents=True)
    (target / "README.md").write_text("my own readme\n", encoding="utf-8")
    result = cli("init", str(target))
    assert result.returncode == 2
    assert "refusing to overwrite existing file(s)" in result.stderr and "README.md" in result.stderr
    assert "--force" in result.stderr
    assert (target / "README.md").read_text(encoding="utf-8") == "my own readme\n"
    assert sorted(p.name for p in target.rglob("*")) == ["README.md", "playbooks"]  # nothing else written


def test_init_force_replaces_existing_files(skeleton: Path) -> None:
    example = skeleton / "playbooks" / "example.yaml"
    original = example.read_text(encoding="utf-8")
    example.write_text("edited\n", encoding="utf-8")
    (skeleton / "playbooks" / "mine.yaml").write_text("keep me\n", encoding="utf-8")
    result = cli("init", "--force", str(skeleton))
    assert result.returncode == 0, result.stderr
    assert f"replaced {example}" in result.stdout.splitlines()
    assert example.read_text(encoding="utf-8") == original
    assert (skeleton / "playbooks" / "mine.yaml").read_text(encoding="utf-8") == "keep me\n"


def test_init_into_an_existing_repository_adds_the_skeleton(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    result = cli("init", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "hello\n"
    assert (tmp_path / "playbooks" / "example.yaml").exists()


def test_init_into_a_file_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x", encoding="utf-8")
    result = cli("init", str(target))
    assert result.returncode == 2
    assert "a-file" in result.stderr and "Traceback" not in result.stderr


def test_init_needs_a_directory_argument() -> None:
    result = cli("init")
    assert result.returncode == 2
    assert "Missing argument 'DIR'" in result.stderr


def test_example_rehearsal_on_the_skeleton_scenario(skeleton: Path, tmp_path: Path) -> None:
    """The story told in the scenario file: the dip fills the example's bid, the rally triggers its
    take-profit and closes the position. Played five times faster: quick, yet the bid (placed by a
    fresh process) still has seconds of margin to rest before the dip."""
    from decimal import Decimal

    from runner.simulator import Simulator
    from runner.simulator.config import EngineConfig
    from runner.simulator.scenario import load_scenario_file
    from tests.acceptance.run_kit import position_once_realised

    shipped = skeleton / "playbooks" / "scenarios" / "example-rally.yaml"
    load_scenario_file(shipped)  # the shipped file itself is a valid scenario
    text = shipped.read_text(encoding="utf-8")
    fast = tmp_path / "fast.yaml"
    fast.write_text(re.sub(r"at: (\d+)s", lambda m: f"at: {int(m.group(1)) * 200}ms", text), encoding="utf-8")
    config = EngineConfig(speed_bump_ms=0, scenario=load_scenario_file(fast))
    with Simulator(config) as sim:
        env = {"QFEX_PUBLIC_KEY": sim.public_key, "QFEX_SECRET_KEY": sim.secret_key}
        run = cli("run", "playbooks/example.yaml", "--url", sim.url, cwd=skeleton, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        account = sim.call(lambda ex: ex.account_for_key(sim.public_key)).account_id
        position = position_once_realised(sim)
        assert position["position"] == 0
        assert position["realised_pnl"] > Decimal("24")  # bought at 225, sold at market once above 250
        assert sim.call(lambda ex: ex.orders(account)) == []  # the stop-loss leg went with the position


def test_every_template_is_shipped_as_package_data() -> None:
    """A wheel carries runner/templates/* only if the package-data glob matches each file."""
    import fnmatch

    from runner.init import SKELETON_TEMPLATES

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["runner"]
    templates = sorted(p.name for p in (ROOT / "runner" / "templates").iterdir())
    assert sorted(SKELETON_TEMPLATES.values()) == templates  # nothing unused, nothing missing
    for name in templates:
        assert not name.startswith("."), f"{name}: dot-files are skipped by package-data globs"
        assert any(fnmatch.fnmatch(f"templates/{name}", g) for g in globs), f"{name} is not package data"


def test_next_steps_printed_by_init_are_real_commands(tmp_path: Path) -> None:
    """What init prints is what a newcomer types next: every qfex-runner call in it exists, and
    pre-commit is installed before `pre-commit install` is asked for."""
    import importlib.util

    from runner.init import init_repo, next_steps

    hint = next_steps(init_repo(str(tmp_path / "desk")))
    assert hint.startswith(f"next: cd {tmp_path / 'desk'}")
    assert "pip install pre-commit && pre-commit install" in hint
    script = ROOT / "scripts" / "check_cli_references.py"
    spec = importlib.util.spec_from_file_location("check_cli_references", script)
    assert spec and spec.loader
    checker = importlib.util.module_from_spec(spec)
    sys.modules["check_cli_references"] = checker
    spec.loader.exec_module(checker)
    calls = checker.invocations_in_shell(hint.removeprefix("next:"), "init")
    assert {c.command for c in calls} == {"validate", "plan", "refdata pull", "run"}
    assert checker.problems_with(calls) == []
