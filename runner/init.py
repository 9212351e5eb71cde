"""`qfex-runner init DIR`: lay out a playbook repository that is CI-ready from its first commit.

The skeleton is what a trader needs around a playbook and nothing more: an example playbook whose
modeline points at a schema file inside the repository (so editors complete and check keys with no
settings), a market scenario to rehearse it on the local exchange, the pre-commit hook, the GitHub
Actions workflow, and a `.gitignore` for report and journal dirs. Existing files are never
overwritten unless asked (`force`), and the check happens before anything is written, so a refused
init leaves the directory exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from runner import __version__
from runner.errors import UsageError

#: the placeholder templates use for the qfex-runner version that wrote them
VERSION_PLACEHOLDER = "@QFEX_RUNNER_VERSION@"

#: skeleton path -> template file in runner/templates/ (templates avoid dot-names so that
#: package-data globs ship them); the schema is not a template, it is the installed schema itself
SKELETON_TEMPLATES: dict[str, str] = {
    "playbooks/example.yaml": "example-playbook.yaml",
    "playbooks/scenarios/example-rally.yaml": "example-scenario.yaml",
    ".pre-commit-config.yaml": "pre-commit-config.yaml",
    ".github/workflows/qfex-runner.yml": "github-workflow.yml",
    ".gitignore": "gitignore",
    "README.md": "README.md",
}
SCHEMA_PATH = "schemas/playbook.schema.json"
#: the reference-data snapshot validate/plan/pre-commit find without flags (runner.playbook.snapshot)
REFDATA_PATH = "qfex-refdata.json"


@dataclass(frozen=True)
class InitResult:
    """What `init_repo` did: the files it wrote (relative paths) and which of them it replaced."""

    root: Path
    written: tuple[str, ...]
    replaced: tuple[str, ...]


def render_template(name: str) -> str:
    """A template from runner/templates/ with the running version filled in."""
    text = resources.files("runner").joinpath("templates").joinpath(name).read_text(encoding="utf-8")
    return text.replace(VERSION_PLACEHOLDER, __version__)


def skeleton_files() -> dict[str, bytes]:
    """Every file of the skeleton, by path relative to the new repository."""
    from runner.playbook.schema import schema_bytes

    files = {path: render_template(name).encode("utf-8") for path, name in SKELETON_TEMPLATES.items()}
    files[SCHEMA_PATH] = schema_bytes()
    files[REFDATA_PATH] = sample_snapshot()
    return dict(sorted(files.items()))


def sample_snapshot() -> bytes:
    """A first `qfex-refdata.json`: the embedded exchange's sample symbols, dated now, so tick/lot/band
    checks run offline from the first commit; `qfex-runner refdata pull --target uat|prod` (and the CI
    workflow) replace it with the exchange's own."""
    from datetime import datetime, timezone

    from runner import jsonnum
    from runner.playbook.snapshot import snapshot_body

    data = resources.files("runner").joinpath("simulator").joinpath("data")
    raw = data.joinpath("refdata.json").read_bytes()
    now = datetime.now(timezone.utc)
    body = snapshot_body(jsonnum.loads(raw), "embedded exchange sample data", "sim", now)
    return (jsonnum.dumps(body, indent=2) + "\n").encode("utf-8")


def init_repo(target: Path | str, *, force: bool = False) -> InitResult:
    """Write the skeleton into `target` (created if missing).

    Raises UsageError, having written nothing, if `target` is not a directory or (without `force`)
    if any skeleton file already exists there.
    """
    root = Path(target)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a directory")
    files = skeleton_files()
    existing = [path for path in files if (root / path).exists()]
    blocked = [path for path in existing if not (root / path).is_file()]
    if blocked:
        raise UsageError(f"cannot write {', '.join(blocked)} in {root}: not a regular file")
    if existing and not force:
        raise UsageError(
            f"refusing to overwrite existing file(s) in {root}: {', '.join(existing)} "
            "(use --force to replace them)"
        )
    try:
        for path, content in files.items():
            destination = root / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(content)
    except OSError as exc:
        raise UsageError(f"cannot write the skeleton into {root}: {exc.strerror or exc}") from exc
    return InitResult(root=root, written=tuple(files), replaced=tuple(existing))


def next_steps(result: InitResult) -> str:
    """What to do after init, printed by the command."""
    where = str(result.root)
    return "\n".join(
        [
            f"next: cd {where}",
            "      qfex-runner validate playbooks/example.yaml && qfex-runner plan playbooks/example.yaml",
            "      qfex-runner refdata pull --target uat          # replaces the sample qfex-refdata.json",
            "      qfex-runner run playbooks/example.yaml        # rehearsal on the embedded local exchange",
            "      git init -b main                               # unless it is a git repository already",
            "      pip install pre-commit && pre-commit install   # validate playbooks on every commit",
            "      README.md: rehearsing on a scenario, the CI secrets and variables",
        ]
    )
