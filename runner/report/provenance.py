"""Where a run came from: the playbook's git commit and the CI run that started it.

A report that says PASSED is only evidence if it also says *which* playbook revision ran and
*which* CI job ran it; this is that part of report.json (`provenance`), report.md's header and
junit.xml's properties. Every field is optional: a playbook outside git, or a run from a laptop,
simply has fewer of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Provenance:
    git_commit: str | None = None
    git_branch: str | None = None
    #: uncommitted changes in the playbook's working tree (None: not in git)
    git_dirty: bool | None = None
    #: the playbook file itself differs from the commit (None: not in git)
    playbook_modified: bool | None = None
    #: author of the last commit that changed the playbook file: "Name <email>"
    git_author: str | None = None
    git_committed_at: str | None = None
    ci_system: str | None = None  # github-actions | gitlab-ci
    ci_run_id: str | None = None
    ci_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Provenance:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def properties(self) -> list[tuple[str, str]]:
        """Name/value pairs for junit.xml (only what is known)."""
        out: list[tuple[str, str]] = []
        for key, value in asdict(self).items():
            if value is not None:
                out.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
        return out
