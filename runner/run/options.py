"""What a run is asked to do (`RunOptions`), what it tells as it goes (`Progress`), what it returns
(`RunResult`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.exit_codes import ExitCode
from runner.report import (
    Report,
)

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Progress:
    """One thing the console may show: an order sent, answered, judged; the run finishing."""

    kind: str  # connected | sent | answer | judged | leg | step | done
    index: int  # 0-based order index (-1 for run-level events)
    total: int
    order_id: str = ""
    status: str = ""
    detail: str = ""


@dataclass
class RunOptions:
    playbook: str
    target: str | None = None
    url: str | None = None
    #: `--mds-url`: the market-data socket (None: found from the target, `exchange.targets.mds_url_for`)
    mds_url: str | None = None
    yes: bool = False
    credentials_file: str | None = None
    refdata_file: str | None = None
    report_dir: str | None = None
    state_dir: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    replan: bool = False
    #: modify placed orders whose definition changed, in place (runner.run.converge)
    converge: bool = False
    #: cancel orders this playbook placed and no longer declares (from the journal)
    prune: bool = False
    #: production confirmation: called with the playbook name, returns True if the user typed it
    confirm: Callable[[str], bool] | None = None
    on_progress: Callable[[Progress], None] | None = None
    env: Mapping[str, str] | None = None
    write_reports: bool = True
    #: turn SIGINT into "stop sending, write the report, exit 130" (main thread only)
    handle_sigint: bool = True
    #: unanswered sends allowed at once (1 = strictly sequential; see issue 6)
    max_in_flight: int = 1
    #: EngineConfig for the embedded exchange of `--target sim` (None: the default demo exchange)
    sim_config: Any = None
    #: runs/ base for the default report dir (`runs/<name>/<UTC timestamp>/`)
    runs_base: str = "runs"
    #: reconnection after a dropped connection (runner.exchange.reconnect): attempts and total seconds
    reconnect_attempts: int = 8
    reconnect_max_seconds: float = 120.0
    #: `run --manage`: stay connected and keep every exit plan until flat (or `until`, epoch seconds)
    manage: bool = False
    until: float | None = None
    #: the audit trail of every frame (`--wire-log FILE`); None: `wire.jsonl` in the report dir for uat/prod
    wire_log: str | None = None


@dataclass
class RunResult:
    report: Report
    exit_code: ExitCode
    report_dir: Path | None
    files: dict[str, Path] = field(default_factory=dict)
    #: why the report is not (all) where it was asked to go (then the exit code is 74)
    report_problems: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return self.report.warnings
