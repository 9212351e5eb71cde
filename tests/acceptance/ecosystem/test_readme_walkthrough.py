"""The "Start a playbook repository" block of docs/getting-started.md, run literally in a real bash:
from a qfex-runner checkout whose virtualenv is this test's, `init`, git, pre-commit, validate, plan,
a rehearsal run, and a commit that passes through the validate hook. If the page drifts from what
works, this fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def walkthrough_block() -> str:
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    section = text[text.index("### Start a playbook repository") :]
    match = re.search(r"^```sh\n(.*?)^```", section, re.S | re.M)
    assert match, "the section has a shell block"
    return match.group(1)


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("git") is None, reason="needs bash and git")
def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    block = walkthrough_block()
    assert block.startswith(". .venv/bin/activate")  # it starts in the qfex-runner checkout
    checkout = tmp_path / "qfex-runner"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(Path(sys.prefix))  # "after the Quick start": its virtualenv
    if not (checkout / ".venv" / "bin" / "activate").exists():
        pytest.skip("the test interpreter is not in a virtualenv with an activate script")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PRE_COMMIT_COLOR": "never",
        "PIP_NO_INDEX": "1",  # pre-commit is already in the test venv: pip must not need the network
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-c", block], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    repo = tmp_path / "desk-playbooks"
    assert "1 file checked: no problems" in out  # validate
    assert '"type": "add_order"' in out  # plan
    assert "PASSED" in out and list((repo / "runs").glob("*/*/report.json"))  # the rehearsal
    assert re.search(r"qfex-runner validate\.+Passed", out), out  # the hook ran on commit

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env).stdout

    assert git("log", "--format=%s").strip() == "Playbook repository"
    assert git("status", "--porcelain") == ""  # reports and journals are ignored, everything else committed
