"""The pre-commit hook, for real: `pre-commit try-repo` installs qfex-runner from this tree into
its own virtualenv (pip, from the package index) and runs the `qfex-runner-validate` hook over a
playbook repository with one good playbook, one bad one and files the hook must leave alone.

Slow (a virtualenv and a pip install), so there is exactly one try-repo run per session.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]

if importlib.util.find_spec("pre_commit") is None:  # it is in the `test` extra; skip only without it
    pytest.skip("pre-commit is not installed (pip install -e '.[test]')", allow_module_level=True)

GOOD = (ROOT / "playbooks" / "quickstart.yaml").read_text(encoding="utf-8")
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
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def snapshot_of_this_tree(destination: Path) -> Path:
    """A git repository holding what a clone of qfex-runner would hold, taken from the working tree
    (so the hook and code under test are the ones on disk, committed or not)."""
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "runner", destination / "runner", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "schemas", destination / "schemas", ignore=ignore)
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", ".")
    git(destination, "commit", "-qm", "snapshot")
    return destination


@pytest.fixture(scope="session")
def try_repo_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    """The one `pre-commit try-repo qfex-runner qfex-runner-validate --all-files` of the session."""
    base = tmp_path_factory.mktemp("pre-commit")
    (base / "qfex-runner").mkdir()
    runner_repo = snapshot_of_this_tree(base / "qfex-runner")
    playbooks = base / "playbook-repo"
    (playbooks / "playbooks" / "scenarios").mkdir(parents=True)
    (playbooks / "playbooks" / "good.yaml").write_text(GOOD, encoding="utf-8")
    (playbooks / "playbooks" / "bad.yaml").write_text(BAD, encoding="utf-8")
    # not playbooks: a scenario for the local exchange and YAML elsewhere in the repository
    (playbooks / "playbooks" / "scenarios" / "dip.yaml").write_text("steps: [1, 2]\n", encoding="utf-8")
    (playbooks / "config.yaml").write_text("orders: nope\n", encoding="utf-8")
    git(playbooks, "init", "-q", "-b", "main")
    git(playbooks, "add", ".")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(base / "cache"),
        "PRE_COMMIT_COLOR": "never",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "try-repo",
            str(runner_repo),
            "qfex-runner-validate",
            "--all-files",
        ],
        cwd=playbooks,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_hook_manifest_declares_the_validate_hook() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "qfex-runner-validate"
    assert hook["entry"] == "qfex-runner validate" and hook["language"] == "python"
    files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])

    def selected(path: str) -> bool:
        return bool(files.search(path)) and not exclude.search(path)

    assert (
        selected("playbooks/a.yaml") and selected("desk/playbooks/b.yml") and selected("playbooks/x/c.yaml")
    )
    assert not selected("playbooks/scenarios/dip.yaml") and not selected("config.yaml")
    assert not selected("playbooks/notes.md")


def test_try_repo_fails_on_the_bad_playbook_with_file_line_col(
    try_repo_run: subprocess.CompletedProcess,
) -> None:
    output = try_repo_run.stdout + try_repo_run.stderr
    assert try_repo_run.returncode != 0, output
    assert "qfex-runner validate" in output and "Failed" in output
    assert re.search(r"^playbooks/bad\.yaml:7:11: .*\[", output, re.M), output  # side: BUYY
    assert re.search(r"^playbooks/bad\.yaml:10:\d+: .*prise", output, re.M), output


def test_try_repo_passes_the_good_playbook_and_skips_non_playbooks(
    try_repo_run: subprocess.CompletedProcess,
) -> None:
    output = try_repo_run.stdout + try_repo_run.stderr
    assert "2 files checked" in output, output  # good.yaml and bad.yaml, nothing else
    assert "good.yaml:" not in output
    assert "dip.yaml" not in output
    assert "config.yaml" not in output
