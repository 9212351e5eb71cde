"""Provenance in every report: git facts about the playbook (soft without git) and the CI run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from runner.run.provenance import collect_provenance
from tests.acceptance.run_kit import RESTING, order, run, write_playbook

GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
          "GITHUB_REPOSITORY": "desk/books", "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1"}
GITLAB = {"GITLAB_CI": "true", "CI_JOB_ID": "77", "CI_PIPELINE_URL": "https://gitlab.example/desk/books/-/pipelines/9",
          "CI_JOB_URL": "https://gitlab.example/desk/books/-/jobs/77"}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), "-c", "user.name=Ada Trader", "-c", "user.email=ada@desk.example",
                    *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is needed")
    root = tmp_path / "books"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    book = write_playbook(root, [order("a", RESTING)])
    git(root, "add", book.name)
    git(root, "commit", "-q", "-m", "a playbook")
    return root


def test_outside_git_and_ci_only_nothing_is_claimed(tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    p = collect_provenance(str(book), {})
    assert p.git_commit is None and p.git_dirty is None and p.ci_system is None


def test_without_a_git_binary_provenance_fails_softly(repo, monkeypatch):
    monkeypatch.setenv("PATH", str(repo / "no-bin-here"))
    p = collect_provenance(str(repo / "t.yaml"), GITHUB)
    assert p.git_commit is None
    assert p.ci_url == "https://github.com/desk/books/actions/runs/4242"


def test_git_commit_branch_author_and_dirty_flags(repo):
    p = collect_provenance(str(repo / "t.yaml"), {})
    assert p.git_commit and len(p.git_commit) == 40
    assert (p.git_branch, p.git_dirty, p.playbook_modified) == ("main", False, False)
    assert p.git_author == "Ada Trader <ada@desk.example>"
    (repo / "t.yaml").write_text((repo / "t.yaml").read_text() + "# edited\n")
    p = collect_provenance(str(repo / "t.yaml"), {})
    assert (p.git_dirty, p.playbook_modified) == (True, True)


def test_ci_run_ids_and_urls_from_github_and_gitlab(tmp_path):
    book = str(write_playbook(tmp_path, [order("a", RESTING)]))
    p = collect_provenance(book, {**GITHUB, "GITHUB_RUN_ATTEMPT": "2"})
    assert (p.ci_system, p.ci_run_id, p.ci_url) == (
        "github-actions", "4242", "https://github.com/desk/books/actions/runs/4242/attempts/2")
    p = collect_provenance(book, GITLAB)
    assert (p.ci_system, p.ci_run_id, p.ci_url) == ("gitlab-ci", "77", "https://gitlab.example/desk/books/-/jobs/77")


def test_every_report_carries_it(repo, simulator, tmp_path):
    env = {"QFEX_PUBLIC_KEY": simulator.public_key, "QFEX_SECRET_KEY": simulator.secret_key, **GITLAB}
    result = run(tmp_path, simulator, repo / "t.yaml", env=env)
    assert result.exit_code == 0
    body = json.loads((tmp_path / "report" / "report.json").read_text())
    assert body["provenance"]["git_branch"] == "main" and body["provenance"]["ci_run_id"] == "77"
    md = (tmp_path / "report" / "report.md").read_text()
    assert "- source: git `" in md and " on `main`, last change by Ada Trader" in md
    assert "CI: gitlab-ci run 77 `https://gitlab.example/desk/books/-/jobs/77`" in md
    junit = (tmp_path / "report" / "junit.xml").read_text()
    assert '<property name="git_branch" value="main" />' in junit
    assert '<property name="ci_url" value="https://gitlab.example/desk/books/-/jobs/77" />' in junit


def test_asked_in_the_background_it_is_the_same_provenance(repo, monkeypatch):
    """A run asks git on a thread while it trades; what it reports is what asking at the end gives,
    and a thread that died is replaced by asking again."""
    import runner.run.provenance as provenance

    book = str(repo / "t.yaml")
    assert provenance.provenance_in_background(book, GITHUB)() == collect_provenance(book, GITHUB)

    real = provenance.collect_provenance
    calls: list[str] = []

    def dies_first(path: str, env: dict) -> object:
        calls.append(path)
        if len(calls) == 1:
            raise RuntimeError("the thread's call fails")
        return real(path, env)

    monkeypatch.setattr(provenance, "collect_provenance", dies_first)
    monkeypatch.setattr(provenance.threading, "excepthook", lambda args: None)  # quiet the thread's error
    assert provenance.provenance_in_background(book, {})().git_commit == real(book, {}).git_commit
    assert len(calls) == 2
