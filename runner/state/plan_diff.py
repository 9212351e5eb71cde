"""`plan --url/--target`: the plan as a diff against the exchange (terraform's `plan`), read-only.

Connects with the run's credentials, looks every client id of the playbook up (and, with
`--prune`, every order of the journal the playbook no longer declares), reads the journal without
locking or writing it, and lists for each order, exit and step what `run --converge [--prune]`
would do: create / modify (field by field, old → new) / cancel / unchanged / done / pending — or
why it cannot (refused). `--detailed-exitcode`: 0 nothing to do, 6 changes to apply, so CI can
comment the diff on a pull request before it is merged. Nothing is sent but queries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import UsageError
from runner.exit_codes import ExitCode
from runner.playbook.model import Playbook
from runner.state.definitions import frozen_quantities
from runner.state.desired import Action, Change, desired_changes, undeclared
from runner.state.entries import JournalContents, load_contents
from runner.state.journal import default_state_dir, journal_path
from runner.state.reconcile import ExchangeOrderState, LookupSession, reconcile
from runner.state.status import reconcile_playbook
from runner.words import counted


@dataclass
class DiffOptions:
    playbook: str
    target: str | None = None
    url: str | None = None
    credentials_file: str | None = None
    state_dir: str | None = None
    runs_base: str = "runs"
    prune: bool = False
    timeout: float = 10.0
    env: Mapping[str, str] | None = None


@dataclass
class PlanDiff:
    playbook: Playbook
    target: str
    url: str
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    journal: str | None = None

    @property
    def to_apply(self) -> list[Change]:
        return [c for c in self.changes if c.is_change]

    @property
    def refused(self) -> list[Change]:
        return [c for c in self.changes if c.action is Action.REFUSED]


def collect_diff(options: DiffOptions) -> PlanDiff:
    """Load and validate the playbook, connect, look everything up, read the journal; sends no order."""
    from runner.exchange.client import TradeSession
    from runner.exchange.credentials import load_credentials
    from runner.exchange.targets import SIM, display_url, resolve_target
    from runner.playbook.load import load_playbook

    target = resolve_target(options.target, options.url)
    if target.name == SIM:
        raise UsageError("plan against an exchange needs one that keeps state: give --url ws://… or --target "
                         "uat|prod (without them, plan shows what a run would send, offline)")
    playbook = load_playbook(options.playbook)
    env = os.environ if options.env is None else options.env
    credentials = load_credentials(options.credentials_file, env)
    credentials = credentials.with_account(playbook.account or credentials.account_id)
    state_dir = Path(options.state_dir) if options.state_dir \
        else default_state_dir(playbook, options.runs_base)
    path = journal_path(state_dir, playbook)
    contents = load_contents(path) if path.exists() else None
    if contents is not None:  # sized quantities as placed (equity moving is not a change of the playbook)
        playbook = frozen_quantities(contents, playbook)
    warnings = []
    if options.prune and contents is None:
        warnings.append(f"--prune works from the run journal and there is none at {path}: a run --prune "
                        f"would refuse (an order the playbook no longer names cannot be recognised at the "
                        f"exchange)")
    with TradeSession.connect(target.url or "", credentials, timeout=options.timeout,
                              account_id=credentials.account_id) as session:
        found = reconcile_playbook(session, playbook, contents, options.timeout)
        pruned = undeclared_states(session, playbook, contents, options.timeout) \
            if options.prune and contents is not None else {}
    changes = desired_changes(playbook, contents, found, pruned)
    if contents is None:
        warnings.append(f"no journal at {path}: the exchange is the only source (orders cancelled or "
                        f"rejected without a fill cannot be told from orders never placed)")
    return PlanDiff(playbook, target.name, display_url(target.url), changes, warnings,
                    str(path) if contents is not None else None)


def undeclared_states(session: LookupSession, playbook: Playbook, contents: JournalContents,
                      timeout: float) -> dict[str, ExchangeOrderState]:
    """What the exchange shows of the journal's orders the playbook no longer declares (`--prune`)."""
    gone = undeclared(playbook, contents)
    if not gone:
        return {}
    types = {coid: str((e.definition or {}).get("type") or "LIMIT") if e.leg == "entry"
             else ("TAKE_PROFIT" if e.leg == "tp" else "STOP_LOSS") for coid, e in gone.items()}
    with_exits = {coid for coid, e in gone.items()
                  if e.leg == "entry" and (e.definition or {}).get("bracket_mode") == "attached"}
    known = {coid: e.order_id for coid, e in gone.items() if e.order_id}
    exits = {coid: list(e.exit_order_ids.values()) for coid, e in gone.items() if coid in with_exits}
    return dict(reconcile(session, list(gone), known_order_ids=known, order_types=types, timeout=timeout,
                          with_exits=with_exits, exit_order_ids=exits))


def exit_code(diff: PlanDiff, detailed: bool) -> ExitCode:
    """0; with `detailed`, 6 when a run would change something (terraform's -detailed-exitcode)."""
    return ExitCode.CHANGES if detailed and diff.to_apply else ExitCode.OK


def render_text(diff: PlanDiff) -> str:
    pb = diff.playbook
    ident = pb.name + (f" (run_id {pb.run_id})" if pb.run_id else "")
    out = [f"qfex-runner plan · playbook {ident} · against {diff.target} {diff.url} (nothing is sent)"]
    marks = {Action.CREATE: "+", Action.MODIFY: "~", Action.CANCEL: "-", Action.REFUSED: "!"}
    for change in diff.changes:
        out.append(f"  {marks.get(change.action, ' ')} {change.text()}")
    apply = diff.to_apply
    counts = {a: sum(1 for c in apply if c.action is a)
              for a in (Action.CREATE, Action.MODIFY, Action.CANCEL)}
    summary = ", ".join(f"{n} to {a.value}" for a, n in counts.items() if n) or "nothing to do"
    line = f"plan: {summary}"
    if diff.refused:
        line += f"; {counted(len(diff.refused), 'change')} cannot be applied in place (a run refuses)"
    if counts[Action.MODIFY] or counts[Action.CANCEL]:
        line += " — apply with run --converge" + (" --prune" if counts[Action.CANCEL] else "")
    out.append(line)
    out.extend(f"warning: {w}" for w in diff.warnings)
    return "\n".join(out) + "\n"


def as_json(diff: PlanDiff) -> dict[str, Any]:
    pb = diff.playbook
    return {
        "playbook": pb.path, "name": pb.name, "run_id": pb.run_id, "target": diff.target, "url": diff.url,
        "journal": diff.journal,
        "changes": [{"action": c.action.value, "item": c.label, "order": c.order_key, "text": c.text(),
                     "reason": c.reason or None, "client_order_id": c.client_order_id, "order_id": c.order_id,
                     "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in c.fields]}
                    for c in diff.changes],
        "summary": {"to_apply": len(diff.to_apply), "refused": len(diff.refused),
                    **{a.value: sum(1 for c in diff.changes if c.action is a) for a in Action}},
        "warnings": diff.warnings,
    }
