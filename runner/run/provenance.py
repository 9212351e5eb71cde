"""Collect a run's provenance (`runner.report.provenance`) from git and the CI environment.

git is asked with a short timeout about the playbook's directory; no git, no repository, or a
slow one gives fewer fields, never an error: provenance must not stop a run. CI is read from the
variables GitHub Actions (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID) and GitLab CI
(CI_PIPELINE_URL, CI_JOB_ID, CI_JOB_URL) set.

`provenance_in_background` asks git on a thread while the run goes on: its five `git` processes
take ~70 ms, which a run otherwise added to its end; its orders never wait for them.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from runner.report.provenance import Provenance

GIT_TIMEOUT = 5.0


def provenance_in_background(playbook_path: str, env: Mapping[str, str]) -> Callable[[], Provenance]:
    """Start `collect_provenance` on a daemon thread; the returned call waits for it (git's own
    timeouts bound that) and gives its result."""
    found: list[Provenance] = []
    thread = threading.Thread(target=lambda: found.append(collect_provenance(playbook_path, env)),
                              name="qfex-runner provenance", daemon=True)
    thread.start()

    def result() -> Provenance:
        thread.join()
        return found[0] if found else collect_provenance(playbook_path, env)  # it died: ask again

    return result


def collect_provenance(playbook_path: str, env: Mapping[str, str]) -> Provenance:
    path = Path(playbook_path).resolve()
    where = path.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True,
                                  timeout=GIT_TIMEOUT, env=_git_env(),
                                  check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    ci_system, ci_run_id, ci_url = _ci(env)
    commit = git("rev-parse", "--verify", "-q", "HEAD")
    if not commit:
        return Provenance(ci_system=ci_system, ci_run_id=ci_run_id, ci_url=ci_url)
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    mine = git("status", "--porcelain", "--", path.name)
    last = git("log", "-1", "--format=%an <%ae>%x1f%cI", "--", path.name)
    author, _, when = (last or "").partition("\x1f")
    return Provenance(git_commit=commit, git_branch=branch if branch and branch != "HEAD" else None,
                      git_dirty=bool(status) if status is not None else None,
                      playbook_modified=bool(mine) if mine is not None else None,
                      git_author=author or None, git_committed_at=when or None,
                      ci_system=ci_system, ci_run_id=ci_run_id, ci_url=ci_url)


def _git_env() -> dict[str, str]:
    """This process's environment (PATH, HOME), never prompting, in plain English."""
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def _ci(env: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """(system, run id, URL) of the CI job running us, or three Nones."""
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
        repo, run_id = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
        url = f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        if url and attempt and attempt != "1":
            url += f"/attempts/{attempt}"
        return "github-actions", run_id or None, url
    if env.get("GITLAB_CI") == "true" or env.get("CI_PIPELINE_URL") or env.get("CI_JOB_ID"):
        return ("gitlab-ci", env.get("CI_JOB_ID") or None,
                env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL") or None)
    return None, None, None
