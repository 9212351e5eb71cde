"""Validation as `validate`, `plan` and the pre-commit hook do it: offline, inputs found without flags.

Reference data: `--refdata FILE` when given, else the repository's snapshot (`qfex-refdata.json`,
`runner.playbook.snapshot`) found above the playbook, whose age is told and warned about past the
policy's limit. The policy file is applied by `runner.playbook.load.validate_file` itself. The
account (equity for `{risk: 0.5%}`, leverage, available balance) comes from `--equity` or
`--account FILE`, never from the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from runner.playbook import load
from runner.playbook.account import AccountFigures
from runner.playbook.load import ValidationResult
from runner.playbook.policy import DEFAULT_MAX_AGE_DAYS
from runner.playbook.refdata import RefData
from runner.playbook.snapshot import age_problem, age_text, find_snapshot, load_snapshot, snapshot_marks


@dataclass
class Offline:
    """One validation's result and the reference data it used (None: no tick/lot/band checks)."""

    result: ValidationResult
    refdata: RefData | None
    #: the snapshot's mark prices MARKET orders were valued at (none: --refdata, or no marks in it)
    marks: dict[str, Decimal] = field(default_factory=dict)
    #: lines for the reader (stderr): which snapshot was used and how old it is
    notices: list[str] = field(default_factory=list)


class OfflineValidator:
    """Validates playbooks with the given or the discovered reference data (snapshots read once)."""

    def __init__(self, refdata: RefData | None, account: AccountFigures | None, now: datetime) -> None:
        self.refdata = refdata
        self.account = account
        self.now = now
        self._snapshots: dict[Path, RefData] = {}
        self._marks: dict[Path, dict[str, Decimal]] = {}
        self._told: set[Path] = set()

    def _snapshot(self, playbook: str) -> RefData | None:
        found = find_snapshot(playbook)
        if found is None:
            return None
        if found not in self._snapshots:
            self._snapshots[found] = load_snapshot(found)
            self._marks[found] = snapshot_marks(found)
        return self._snapshots[found]

    def validate(self, playbook: str) -> Offline:
        refdata = self.refdata if self.refdata is not None else self._snapshot(playbook)
        from_snapshot = refdata is not None and self.refdata is None
        marks = self._marks.get(Path(refdata.source), {}) if refdata is not None and from_snapshot else {}
        result = load.validate_file(playbook, refdata, account=self.account, marks=marks)
        offline = Offline(result, refdata, marks)
        if refdata is None or self.refdata is not None:
            return offline
        path = Path(refdata.source)
        if path not in self._told:  # each snapshot is told (and warned about) once per command
            self._told.add(path)
            age = age_text(refdata.taken_at, self.now)
            offline.notices.append(f"reference data: {refdata.source}, {age}")
            policy = result.policy
            max_age = policy.refdata_max_age_days if policy is not None else DEFAULT_MAX_AGE_DAYS
            stale = age_problem(refdata, max_age, self.now)
            if stale is not None:
                result.problems.append(stale)
        return offline
