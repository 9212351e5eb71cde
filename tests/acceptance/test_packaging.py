"""The schema is shipped, not copied by hand: a wheel and an editable install, each in a fresh
venv and run outside the repository, print byte-identical `qfex-runner schema` output, equal to
schemas/.

One wheel build and one editable build (pip, build isolation, pip's cache) per run; the fresh venvs
have no pip and borrow the dependencies from the test venv through a .pth line, so the test stays
offline-ish.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "playbook.schema.json"


def _run(args: list[str | Path], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, timeout=300, env=env, **kwargs
    )


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", ROOT], cwd=tmp)
    if built.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{built.stderr.decode()[-3000:]}")
    [wheel] = (tmp / "dist").glob("qfex_runner-*.whl")
    venv = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp).returncode == 0
    python = venv / "bin" / "python"
    installed = _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel],
        cwd=tmp,
    )
    assert installed.returncode == 0, installed.stderr.decode()
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp)
    # dependencies (click, PyYAML, jsonschema, ...) come from the test venv; its editable hook is not loaded
    Path(purelib.stdout.decode().strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture(scope="module")
def editable_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install -e <repository>` (dependencies borrowed as for the wheel)."""
    tmp = tmp_path_factory.mktemp("editable")
    venv = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp).returncode == 0
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python]
    installed = _run([*pip, "install", "-q", "--no-deps", "-e", ROOT], cwd=tmp)
    if installed.returncode != 0:
        pytest.fail(f"the editable install failed:\n{installed.stderr.decode()[-3000:]}")
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp)
    Path(purelib.stdout.decode().strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _imported_from(venv: Path, cwd: Path) -> str:
    where = _run([venv / "bin" / "python", "-c", "import runner; print(runner.__file__)"], cwd=cwd)
    assert where.returncode == 0, where.stderr.decode()
    return where.stdout.decode().strip()


def test_wheel_and_editable_install_print_the_same_schema(
    wheel_venv: Path, editable_venv: Path, tmp_path: Path
) -> None:
    assert _imported_from(wheel_venv, tmp_path).startswith(str(wheel_venv))  # the wheel's copy
    assert _imported_from(editable_venv, tmp_path).startswith(str(ROOT))  # the repository itself
    from_wheel = _run([wheel_venv / "bin" / "qfex-runner", "schema"], cwd=tmp_path)
    assert from_wheel.returncode == 0, from_wheel.stderr.decode()
    from_editable = _run([editable_venv / "bin" / "qfex-runner", "schema"], cwd=tmp_path)
    assert from_editable.returncode == 0, from_editable.stderr.decode()
    assert from_wheel.stdout == from_editable.stdout == SCHEMA.read_bytes()


def test_installed_wheel_validates_and_plans_a_shipped_playbook(wheel_venv: Path, tmp_path: Path) -> None:
    exe = wheel_venv / "bin" / "qfex-runner"
    quickstart = ROOT / "playbooks" / "quickstart.yaml"
    refdata = ROOT / "runner" / "simulator" / "data" / "refdata.json"
    assert _run([exe, "validate", quickstart, "--refdata", refdata], cwd=tmp_path).returncode == 0
    planned = _run([exe, "plan", quickstart], cwd=tmp_path)
    assert planned.returncode == 0 and b'"type": "add_order"' in planned.stdout
