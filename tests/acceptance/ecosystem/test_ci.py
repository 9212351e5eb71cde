"""The CI examples work: they are valid CI files, call only real commands and options, and their
playbook-discovery scripts (run here for real in throw-away git repositories) pick the right files.
`--format github` annotations and GITHUB_STEP_SUMMARY handling are checked end to end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / "examples" / "github-actions" / "qfex-runner.yml"
GITLAB = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"
VENV_BIN = Path(sys.executable).parent


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`qfex-runner ARGS` as a user runs it (a fresh process)."""
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_cli_references", ROOT / "scripts" / "check_cli_references.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_cli_references"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB.read_text(encoding="utf-8"))


def vendored_schema_check(path: Path, schema: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- the files are valid CI configuration and call only what exists ---------------------------


@pytest.mark.parametrize(
    ("path", "schema"),
    [(WORKFLOW, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")],
    ids=["github-actions", "gitlab-ci"],
)
def test_ci_file_matches_the_ci_providers_schema(path: Path, schema: str) -> None:
    result = vendored_schema_check(path, schema)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [WORKFLOW, GITLAB], ids=["github-actions", "gitlab-ci"])
def test_ci_file_uses_only_existing_commands_and_options(path: Path) -> None:
    check = checker()
    invocations = check.invocations_in_ci_file(path)
    assert {inv.command for inv in invocations} >= {"validate", "plan", "run"}
    assert check.problems_with(invocations) == []
    for command in {inv.command for inv in invocations}:
        assert cli(*(command.split() if command else []), "--help").returncode == 0  # `refdata pull`


# --- GitHub Actions: what each job promises ----------------------------------------------------


def steps_text(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(action + "@")]


def test_workflow_triggers(workflow: dict[str, Any]) -> None:
    on = workflow.get("on", workflow.get(True))  # PyYAML reads the key `on` as YAML 1.1 true
    assert "pull_request" in on
    assert on["push"]["branches"] == ["main"]
    assert on["workflow_dispatch"]["inputs"]["playbook"]["required"] is True
    assert workflow["permissions"] == {"contents": "read"}


def test_pull_requests_get_annotations_a_plan_in_the_summary_and_a_rehearsal(
    workflow: dict[str, Any],
) -> None:
    validate, rehearse = workflow["jobs"]["validate"], workflow["jobs"]["rehearse"]
    assert "pull_request" in validate["if"] and "pull_request" in rehearse["if"]
    assert "qfex-runner validate --format github" in steps_text(validate)
    plan_step = next(s for s in rehearse["steps"] if "qfex-runner plan" in s.get("run", ""))
    assert '>> "$GITHUB_STEP_SUMMARY"' in plan_step["run"]
    assert re.search(r"qfex-runner run \S+ --target sim", steps_text(rehearse))
    rehearsal = next(s for s in rehearse["steps"] if "--target sim" in s.get("run", ""))
    assert rehearsal["continue-on-error"] == "${{ vars.QFEX_REHEARSAL_REQUIRED != 'true' }}"
    assert rehearse["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.playbooks.outputs.changed) }}"


def test_qfex_runner_is_installed_only_from_the_configured_source(workflow: dict[str, Any]) -> None:
    """No default package name: a job holding trading keys never installs an unverified package."""
    assert workflow["env"]["QFEX_RUNNER_PIP_SPEC"] == "${{ vars.QFEX_RUNNER_PIP_SPEC }}"
    for job_id in ("validate", "rehearse", "run"):
        (install,) = [s for s in workflow["jobs"][job_id]["steps"] if s.get("name") == "Install qfex-runner"]
        assert install["run"].startswith('if [ -z "$QFEX_RUNNER_PIP_SPEC" ]; then'), job_id
        result = subprocess.run(
            ["bash", "-c", install["run"]],
            env={**os.environ, "QFEX_RUNNER_PIP_SPEC": ""},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (
            result.returncode == 1
            and "::error::set the repository variable QFEX_RUNNER_PIP_SPEC" in result.stdout
        )


def test_merges_run_one_job_per_playbook_never_overlapping(workflow: dict[str, Any]) -> None:
    run = workflow["jobs"]["run"]
    assert "pull_request" in run["if"] and "!=" in run["if"]
    assert run["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.playbooks.outputs.changed) }}"
    assert run["strategy"]["fail-fast"] is False
    assert "${{ matrix.playbook }}" in run["concurrency"]["group"]
    assert run["concurrency"]["cancel-in-progress"] is False
    assert run["permissions"]["checks"] == "write"
    assert run["environment"]


def test_run_step_takes_secrets_from_the_ci_store_and_confirms_prod(workflow: dict[str, Any]) -> None:
    run = workflow["jobs"]["run"]
    step = next(s for s in run["steps"] if "qfex-runner run" in s.get("run", ""))
    assert step["env"] == {
        "QFEX_PUBLIC_KEY": "${{ secrets.QFEX_PUBLIC_KEY }}",
        "QFEX_SECRET_KEY": "${{ secrets.QFEX_SECRET_KEY }}",
    }
    assert '--target "$QFEX_TARGET"' in step["run"]
    assert "${{ env.QFEX_TARGET == 'prod' && '--yes' || '' }}" in step["run"]
    assert "${{ inputs.replan && '--replan' || '' }}" in step["run"]
    assert "--report-dir report" in step["run"] and "--state-dir .qfex-state" in step["run"]
    # secrets reach that one step only, never the whole workflow or a step that runs playbook code
    assert WORKFLOW.read_text(encoding="utf-8").count("secrets.") == 2


def test_run_uploads_the_report_dir_and_publishes_junit(workflow: dict[str, Any]) -> None:
    run = workflow["jobs"]["run"]
    (upload,) = uses(run, "actions/upload-artifact")
    assert upload["if"] == "always()" and upload["with"]["path"] == "report/"
    (junit,) = uses(run, "mikepenz/action-junit-report")
    assert junit["if"] == "always()" and junit["with"]["report_paths"] == "report/junit.xml"
    (save,) = uses(run, "actions/cache/save")
    assert save["if"] == "always()" and save["with"]["path"] == ".qfex-state"


# --- the discovery scripts, run for real --------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, Any]:
    """A playbook repository with two commits: the second adds, edits and deletes files."""
    root = tmp_path / "repo"
    (root / "playbooks" / "scenarios").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for name in ("a.yaml", "c.yaml", "desk/d.yml"):
        (root / "playbooks" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "playbooks" / name).write_text("version: 1\n", encoding="utf-8")
    (root / "playbooks" / "scenarios" / "s.yaml").write_text("x: 1\n", encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    first = git(root, "rev-parse", "HEAD")
    (root / "playbooks" / "a.yaml").write_text("version: 1\nname: a\n", encoding="utf-8")
    (root / "playbooks" / "b new.yaml").write_text("version: 1\n", encoding="utf-8")
    (root / "playbooks" / "scenarios" / "s.yaml").write_text("x: 2\n", encoding="utf-8")
    (root / "playbooks" / "c.yaml").unlink()
    (root / "README.md").write_text("hi\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "second")
    return {"root": root, "first": first}


def github_find(repo: Path, tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    """Run the workflow's `find` step as GitHub would, returning its outputs."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (step,) = [s for s in workflow["jobs"]["playbooks"]["steps"] if s.get("id") == "find"]
    assert step["shell"] == "python"
    output = tmp_path / "github_output"
    output.write_text("", encoding="utf-8")
    full_env = {**os.environ, "GITHUB_OUTPUT": str(output), "EVENT": "", "BASE": "", "PLAYBOOK": "", **env}
    result = subprocess.run(
        [sys.executable, "-c", step["run"]],
        cwd=repo,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    outputs = {}
    for line in output.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        outputs[key] = json.loads(value)
    return result, outputs


ALL = ["playbooks/a.yaml", "playbooks/b new.yaml", "playbooks/desk/d.yml"]


def test_github_pull_request_plans_added_and_edited_playbooks(repo: dict[str, Any], tmp_path: Path) -> None:
    result, out = github_find(repo["root"], tmp_path, EVENT="pull_request", BASE=repo["first"])
    assert result.returncode == 0, result.stderr
    assert out["all"] == ALL  # scenarios are not playbooks
    assert out["changed"] == [
        {"playbook": "playbooks/a.yaml", "slug": "playbooks-a"},
        {"playbook": "playbooks/b new.yaml", "slug": "playbooks-b-new"},
    ]


def test_github_first_push_runs_nothing_automatically(repo: dict[str, Any], tmp_path: Path) -> None:
    result, out = github_find(repo["root"], tmp_path, EVENT="push", BASE="0" * 40)
    assert result.returncode == 0
    assert out["changed"] == []
    assert "::warning::" in result.stdout


def test_github_manual_run_of_one_playbook(repo: dict[str, Any], tmp_path: Path) -> None:
    result, out = github_find(
        repo["root"], tmp_path, EVENT="workflow_dispatch", PLAYBOOK="./playbooks/desk/d.yml"
    )
    assert result.returncode == 0
    assert out["changed"] == [{"playbook": "playbooks/desk/d.yml", "slug": "playbooks-desk-d"}]
    result, _ = github_find(
        repo["root"], tmp_path, EVENT="workflow_dispatch", PLAYBOOK="playbooks/scenarios/s.yaml"
    )
    assert result.returncode == 1
    assert "::error::playbooks/scenarios/s.yaml is not a playbook here" in result.stdout


def gitlab_script(job: str, index: int) -> str:
    return yaml.safe_load(GITLAB.read_text(encoding="utf-8"))[job]["script"][index]


def gitlab_shell(script: str, repo: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a CI script with bash (-eo pipefail, as GitHub and GitLab do), with this venv's python3 and
    qfex-runner (PyYAML comes with qfex-runner, as in the CI image) first on PATH."""
    full_env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", **env}
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=repo,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def gitlab_child_pipeline(repo: Path, **env: str) -> dict[str, Any]:
    (repo / ".gitlab-ci.yml").write_text(GITLAB.read_text(encoding="utf-8"), encoding="utf-8")
    env = {"QFEX_TARGET": "prod", "QFEX_RUNNER_PIP_SPEC": "qfex-runner==0.1.0", **env}
    for index in (0, 1):  # find the playbooks, then generate the child pipeline
        result = gitlab_shell(gitlab_script("generate-run-pipeline", index), repo, **env)
        assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((repo / "run-pipeline.yml").read_text(encoding="utf-8"))


def test_gitlab_push_generates_one_serialised_job_per_changed_playbook(repo: dict[str, Any]) -> None:
    child = gitlab_child_pipeline(repo["root"], CI_PIPELINE_SOURCE="push", CI_COMMIT_BEFORE_SHA=repo["first"])
    jobs = {name: job for name, job in child.items() if name != "stages"}
    assert sorted(jobs) == ["run playbooks/a.yaml", "run playbooks/b new.yaml"]
    assert {job["variables"]["PLAYBOOK"] for job in jobs.values()} == {
        "playbooks/a.yaml",
        "playbooks/b new.yaml",
    }
    groups = [job["resource_group"] for job in jobs.values()]
    assert len(set(groups)) == 2 and all(g.startswith("qfex-runner-prod-") for g in groups)
    for job in jobs.values():
        assert job["artifacts"]["reports"]["junit"] == "report/junit.xml"
        assert job["artifacts"]["when"] == "always"
    child_file = repo["root"] / "run-pipeline.yml"
    result = vendored_schema_check(child_file, "vendor.gitlab-ci")
    assert result.returncode == 0, result.stdout + result.stderr
    check = checker()
    invocations = check.invocations_in_ci_file(child_file.rename(child_file.with_name("child.gitlab-ci.yml")))
    assert [inv.command for inv in invocations if inv.command] == ["run", "run"]
    assert check.problems_with(invocations) == []


def test_gitlab_push_with_nothing_changed_still_makes_a_valid_child_pipeline(repo: dict[str, Any]) -> None:
    child = gitlab_child_pipeline(repo["root"], CI_PIPELINE_SOURCE="push", CI_COMMIT_BEFORE_SHA="0" * 40)
    assert list(child) == ["stages", "nothing to run"]


def test_gitlab_manual_pipeline_runs_the_named_playbook(repo: dict[str, Any]) -> None:
    child = gitlab_child_pipeline(repo["root"], CI_PIPELINE_SOURCE="web", PLAYBOOK="playbooks/desk/d.yml")
    assert [name for name in child if name != "stages"] == ["run playbooks/desk/d.yml"]


# --- --format github and code-quality output end to end ------------------------------------------

BAD = """\
# yaml-language-server: $schema=../schemas/playbook.schema.json
version: 1
name: bad-one
orders:
  - id: entry
    symbol: AAPL-USD
    side: BUYY
    type: LIMIT
    quantity: 1
    prise: 225.00
"""


@pytest.fixture
def bad_playbook(tmp_path: Path) -> Path:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "bad.yaml").write_text(BAD, encoding="utf-8")
    return tmp_path


def test_validate_format_github_prints_located_annotations(bad_playbook: Path) -> None:
    text = cli("validate", "playbooks/bad.yaml", cwd=bad_playbook)
    github = cli("validate", "--format", "github", "playbooks/bad.yaml", cwd=bad_playbook)
    assert github.returncode == 1 and text.returncode == 1
    lines = github.stdout.splitlines()
    assert lines and all(
        re.match(r"^::error file=playbooks/bad\.yaml,line=\d+,col=\d+(,title=[^:]+)?::\S", ln) for ln in lines
    ), github.stdout
    located = {(m[0], m[1]) for m in re.findall(r"line=(\d+),col=(\d+)", github.stdout)}
    assert located == {
        (m[0], m[1]) for m in re.findall(r"^playbooks/bad\.yaml:(\d+):(\d+):", text.stdout, re.M)
    }
    assert ("7", "11") in located  # side: BUYY
    assert any(ln.startswith("::error file=playbooks/bad.yaml,line=10,") for ln in lines)  # prise


def test_workflow_validate_step_annotates_the_bad_playbook_only(bad_playbook: Path) -> None:
    """The pull request's validation step, run with bash as GitHub runs it."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (step,) = [
        s for s in workflow["jobs"]["validate"]["steps"] if s.get("name", "").startswith("Validate every")
    ]
    (bad_playbook / "playbooks" / "good.yaml").write_text(
        (ROOT / "playbooks" / "quickstart.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    env = {"PLAYBOOKS": json.dumps(["playbooks/bad.yaml", "playbooks/good.yaml"])}
    result = gitlab_shell(step["run"], bad_playbook, **env)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines and all(ln.startswith("::error file=playbooks/bad.yaml,") for ln in lines), result.stdout
    assert len(lines) == 2  # side and prise; the good playbook adds nothing


def test_validate_format_github_is_silent_on_a_valid_playbook(tmp_path: Path) -> None:
    result = cli("validate", "--format", "github", str(ROOT / "playbooks" / "quickstart.yaml"), cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == ""


def test_gitlab_code_quality_report_points_at_each_problem(bad_playbook: Path) -> None:
    problems = cli("validate", "--format", "json", "playbooks/bad.yaml", cwd=bad_playbook)
    assert problems.returncode == 1
    (bad_playbook / "problems.json").write_text(problems.stdout, encoding="utf-8")
    result = gitlab_shell(gitlab_script("validate", 4), bad_playbook)
    assert result.returncode == 0, result.stderr
    report = json.loads((bad_playbook / "gl-code-quality.json").read_text(encoding="utf-8"))
    expected = json.loads(problems.stdout)
    assert len(report) == len(expected) >= 2
    assert {(r["location"]["path"], r["location"]["lines"]["begin"]) for r in report} == {
        (p["file"], p["line"]) for p in expected
    }
    assert len({r["fingerprint"] for r in report}) == len(report)


def test_run_appends_markdown_to_github_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("### Plan for earlier step\n", encoding="utf-8")
    result = cli(
        "run",
        str(ROOT / "playbooks" / "quickstart.yaml"),
        "--target",
        "sim",
        "--report-dir",
        str(tmp_path / "report"),
        cwd=tmp_path,
        env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("### Plan for earlier step\n")  # appended, never overwritten
    appended = text[len("### Plan for earlier step\n") :]
    assert "quickstart" in appended and "aapl-dip-buy" in appended
    assert (tmp_path / "report" / "junit.xml").exists()
    assert (tmp_path / "report" / "report.md").read_text(encoding="utf-8").strip() in appended
