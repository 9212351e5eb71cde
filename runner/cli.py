"""The `qfex-runner` command line: thin click commands over the library core.

Each command parses its options, calls one core function and exits with an `ExitCode`. Heavy
modules (jsonschema, websocket, the simulator) are imported inside the commands so `--help`
stays fast. One error boundary (`main`) turns expected errors into one line, Ctrl-C into 130, the
machine's OSError into 74 and bugs into "internal error" (traceback only with --debug).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner import __version__
from runner.errors import PlaybookInvalid, RunnerError, UsageError
from runner.exit_codes import ExitCode
from runner.words import os_reason, printable

if TYPE_CHECKING:  # annotations only: the run engine is imported inside `run` (fast --help)
    from runner.run.options import RunResult


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="qfex-runner")
@click.option("--debug", is_flag=True, help="Show a traceback for internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Validate, plan, run and report QFEX order playbooks (YAML files in git).

    Exit codes: 0 ok, 1 playbook invalid, 2 usage, 3 orders rejected/missed expectation,
    4 connect/auth failed, 5 run aborted part-way, 74 journal/report/file could not be written,
    75 another run holds the lock, 130 interrupted, 70 internal error.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# --- commands -------------------------------------------------------------------------------
# Each command lives below in its own section; keep imports of heavy modules inside the function.


# --- validate / plan / schema (playbook language) -------------------------------------------


_REFDATA_HELP = ("Reference data JSON (QFEX GET /refdata body or a list) for tick/lot/band checks "
                 "(default: the repository's qfex-refdata.json snapshot found above the playbook).")
_EQUITY_HELP = "The account's equity, to size {risk: N%} and check max_leverage offline."
_ACCOUNT_HELP = ("Account snapshot JSON (equity, available_balance, leverage per symbol) for sizing, "
                 "the margin preview and max_leverage offline.")


def _offline_account(equity: str | None, account_path: str | None) -> Any:
    """`--equity N` or `--account FILE` (not both) -> AccountFigures, or None."""
    from decimal import Decimal, InvalidOperation

    from runner.errors import UsageError
    from runner.playbook.account import from_equity, load_account_file

    if equity is not None and account_path is not None:
        raise UsageError("pass --equity or --account, not both")
    if account_path is not None:
        return load_account_file(account_path)
    if equity is None:
        return None
    try:
        amount = Decimal(equity)
    except InvalidOperation:
        raise UsageError(f"--equity {equity!r}: not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise UsageError(f"--equity {equity!r}: must be a positive number")
    return from_equity(amount)


def _offline_validator(refdata_path: str | None, equity: str | None, account_path: str | None) -> Any:
    from datetime import datetime, timezone

    from runner.playbook.offline import OfflineValidator
    from runner.playbook.refdata import load_refdata_file

    refdata = load_refdata_file(refdata_path) if refdata_path else None
    return OfflineValidator(refdata, _offline_account(equity, account_path), datetime.now(timezone.utc))


#: `--mds-url`, the same on every command that reads mark prices (run, status, doctor)
MDS_URL_OPTION = click.option(
    "--mds-url", metavar="URL",
    help="QFEX's market-data WebSocket (mark prices). Default: found from the target "
         "(wss://mds.qfex.com/, wss://mds.qfex.io/, a local exchange's /mds).")

@cli.command()
@click.argument("playbooks", nargs=-1, required=True, metavar="PLAYBOOK...")
@click.option("--refdata", "refdata_path", metavar="FILE", help=_REFDATA_HELP)
@click.option("--equity", metavar="N", help=_EQUITY_HELP)
@click.option("--account", "account_path", metavar="FILE", help=_ACCOUNT_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "github", "json"]), default="text",
              show_default=True,
              help="text: file:line:col: message [rule]; github: workflow annotations; json: a list.")
def validate(playbooks: tuple[str, ...], refdata_path: str | None, equity: str | None,
             account_path: str | None, fmt: str) -> int:
    """Check playbooks (schema, trading rules, risk limits and the repository policy) and report every
    problem. Never touches the network.

    Exit 0 when every file is valid (warnings allowed), 1 when any has an error.
    """
    from runner.problems import errors_in
    from runner.report.problems import render, summary

    validator = _offline_validator(refdata_path, equity, account_path)
    problems = []
    notices: list[str] = []
    for path in playbooks:
        checked = validator.validate(path)
        problems += checked.result.problems
        notices += checked.notices
    click.echo(render(problems, fmt), nl=False)
    if fmt == "text":
        for notice in notices:
            click.echo(notice, err=True)
        click.echo(summary(len(playbooks), problems), err=True)
    return ExitCode.INVALID_PLAYBOOK if errors_in(problems) else ExitCode.OK


@cli.command()
@click.argument("playbook", metavar="PLAYBOOK")
@click.option("--refdata", "refdata_path", metavar="FILE", help=_REFDATA_HELP)
@click.option("--equity", metavar="N", help=_EQUITY_HELP)
@click.option("--account", "account_path", metavar="FILE", help=_ACCOUNT_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--target", type=click.Choice(["uat", "prod"]), default=None,
              help="Diff against this exchange (read-only; needs credentials): what run --converge would "
                   "do.")
@click.option("--url", metavar="URL",
              help="Diff against any QFEX-compatible trade WebSocket (a standalone sim).")
@click.option("--credentials", "credentials_file", metavar="FILE", help="API keys file (as for run).")
@click.option("--state-dir", metavar="DIR", help="The run journal to read (default runs/<name>/.state/).")
@click.option("--prune", is_flag=True, help="With --url/--target: also list the orders this playbook placed "
                                           "and no longer declares (from the journal), as cancels.")
@click.option("--detailed-exitcode", is_flag=True,
              help="With --url/--target: exit 6 when there are changes to apply, 0 when there is nothing "
                   "to do.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              metavar="S", help="Longest wait for the exchange's answers (with --url/--target).")
def plan(playbook: str, refdata_path: str | None, equity: str | None, account_path: str | None,
         fmt: str, target: str | None, url: str | None, credentials_file: str | None, state_dir: str | None,
         prune: bool, detailed_exitcode: bool, timeout: float) -> int:
    """Validate, then show every step `run` would take, the exact add_order messages and the risk
    preview (notional, margin, loss at the stop, reward, R, fees; per symbol and in total).

    No credentials, no network: nothing is sent. Problems go to stderr (exit 1, no plan). A quantity
    that cannot be sized offline ({risk: 0.5%} without --equity/--account, no reference data for the
    lot) is not a problem of the playbook (run sizes it) but leaves nothing exact to show: exit 2,
    naming what to pass. With --url or --target: the plan is a diff against the exchange — for each
    order, exit and step: create, modify (field by field, old → new), cancel (--prune), unchanged,
    done — read-only; --detailed-exitcode exits 6 when there are changes to apply.
    """
    from runner import jsonnum

    if target or url:
        from runner.state import plan_diff
        from runner.state.plan_diff import DiffOptions, as_json, collect_diff, exit_code

        diff = collect_diff(DiffOptions(playbook=playbook, target=target, url=url,
                                        credentials_file=credentials_file, state_dir=state_dir, prune=prune,
                                        timeout=timeout))
        if fmt == "json":
            click.echo(jsonnum.dumps(as_json(diff), indent=2))
        else:
            click.echo(_printable_lines(plan_diff.render_text(diff)), nl=False)
        return exit_code(diff, detailed_exitcode)
    for flag, given in (("--detailed-exitcode", detailed_exitcode), ("--prune", prune),
                        ("--credentials", credentials_file), ("--state-dir", state_dir)):
        if given:
            raise UsageError(f"{flag} needs --url or --target (the offline plan reads no exchange)")
    from runner.playbook.plan import build_plan, plan_as_json, render_plan_text
    from runner.playbook.policy import DEFAULT_FEES
    from runner.playbook.risk import preview, preview_json, render_text
    from runner.playbook.sizing import unsized
    from runner.report.problems import render, summary

    validator = _offline_validator(refdata_path, equity, account_path)
    checked = validator.validate(playbook)
    result = checked.result
    if result.problems:
        click.echo(render(result.problems, "text"), nl=False, err=True)
    for notice in checked.notices:
        click.echo(notice, err=True)
    if not result.ok or result.playbook is None:
        click.echo(summary(1, result.problems) + "; no plan", err=True)
        return ExitCode.INVALID_PLAYBOOK
    later = unsized(result.problems)
    if later:
        one = len(later) == 1
        click.echo(f"qfex-runner: cannot size {len(later)} quantit{'y' if one else 'ies'} offline "
                   f"(the warnings above; run sizes {'it' if one else 'them'}): pass --refdata FILE or keep "
                   f"a snapshot (qfex-runner refdata pull) for lot sizes and reference prices, and "
                   f"--equity N or --account FILE for percentages of equity; no plan", err=True)
        return ExitCode.USAGE
    lots = {s: spec.lot_size for s, spec in checked.refdata.items()} if checked.refdata is not None else None
    the_plan = build_plan(result.playbook, lots)
    rates = result.policy.fees if result.policy is not None else DEFAULT_FEES
    risk = preview(result.playbook, checked.refdata, validator.account, rates, marks=checked.marks)
    if fmt == "json":
        click.echo(jsonnum.dumps({**plan_as_json(the_plan), "risk": preview_json(risk)}, indent=2))
    else:
        click.echo(render_plan_text(the_plan), nl=False)
        click.echo("")
        click.echo("\n".join(render_text(risk)))
    return ExitCode.OK


@cli.command()
@click.argument("name", default="playbook", metavar="[NAME]")
def schema(name: str) -> int:
    """Print a JSON Schema shipped with qfex-runner (default: the playbook schema, for editors)."""
    from runner.playbook.schema import schema_bytes

    data = schema_bytes(name)
    sys.stdout.flush()
    sys.stdout.buffer.write(data)  # the exact bytes: no re-encoding, no added newline
    sys.stdout.buffer.flush()
    return ExitCode.OK


# --- refdata (playbook repository) ------------------------------------------------------------


@cli.group()
def refdata() -> None:
    """Reference data kept in the playbook repository (qfex-refdata.json)."""


@refdata.command("pull")
@click.option("--target", type=click.Choice(["sim", "uat", "prod"]), default=None,
              help="Whose /refdata to pull (default: sim, the embedded exchange's sample symbols).")
@click.option("--url", metavar="WS_URL", help="A compatible exchange's trade WebSocket URL instead "
              "(its /refdata beside it).")
@click.option("--dir", "directory", default=".", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=str),
              help="Where to write qfex-refdata.json (the playbook repository's root).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds for the fetch.")
def refdata_pull(target: str | None, url: str | None, directory: str, timeout: float) -> int:
    """Write the target's reference data (tick, lot, quantity limits, price bands, reference prices)
    and mark prices as DIR/qfex-refdata.json, dated. validate, plan and the pre-commit hook find it
    above a playbook without flags, say its age and warn when it is older than the policy's limit
    (default 7 days).

    /refdata is public: no credentials. Exit 0 written, 2 usage, 4 the target could not be read.
    """
    from datetime import datetime, timezone

    from runner.errors import RefDataError
    from runner.run.refdata_pull import pull_refdata

    try:
        path, count, marks = pull_refdata(target, url, directory, datetime.now(timezone.utc), timeout)
    except RefDataError as exc:
        click.echo(f"qfex-runner: could not read the reference data: {exc}", err=True)
        return ExitCode.CONNECT_FAILED
    click.echo(f"wrote {path} ({count} symbols, {marks} mark prices, from "
               f"{target or ('url' if url else 'sim')})")
    return ExitCode.OK


# --- init (ecosystem) ------------------------------------------------------------------------


@cli.command()
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=str))
@click.option("--force", is_flag=True, help="Replace skeleton files that already exist in DIR.")
def init(directory: str, force: bool) -> int:
    """Create a playbook repository in DIR: an example playbook, the schema for editors,
    a pre-commit hook, a GitHub Actions workflow, .gitignore and README.

    Refuses (exit 2, nothing written) when any of these files exists, unless --force.
    """
    from pathlib import Path

    from runner.init import init_repo, next_steps

    result = init_repo(directory, force=force)
    for path in result.written:
        click.echo(f"{'replaced' if path in result.replaced else 'created'} {Path(directory) / path}")
    click.echo(next_steps(result), err=True)
    return ExitCode.OK


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> int:
    """Print the completion script for SHELL (commands, options and their values).

    \b
    bash:  eval "$(qfex-runner completion bash)"    in ~/.bashrc
    zsh:   eval "$(qfex-runner completion zsh)"     in ~/.zshrc
    fish:  qfex-runner completion fish > ~/.config/fish/completions/qfex-runner.fish
    """
    from click.shell_completion import get_completion_class

    shell_class = get_completion_class(shell)
    assert shell_class is not None  # click ships all three
    # the same script as click's `_QFEX_RUNNER_COMPLETE=<shell>_source qfex-runner`
    click.echo(shell_class(cli, {}, "qfex-runner", "_QFEX_RUNNER_COMPLETE").source(), nl=False)
    return ExitCode.OK


def _checkout() -> Path:
    """The qfex-runner checkout this package runs from (an editable install): where docs/ and site/ are."""
    return Path(__file__).resolve().parent.parent


@cli.command()
def docs() -> int:
    """Open the documentation site (site/index.html, built by `mkdocs build`) in a web browser.

    Without a built site, prints where the documentation is and how to build it.
    """
    import webbrowser

    root = _checkout()
    index = root / "site" / "index.html"
    if index.is_file():
        click.echo(f"opening {index}")
        if not webbrowser.open(index.as_uri()):  # no browser (a server, a container): say where it is
            click.echo(f"no web browser found here: open {index.as_uri()} in one")
        return ExitCode.OK
    if not (root / "mkdocs.yml").is_file():  # installed from a wheel: no pages beside the package
        click.echo("the documentation site is built from a qfex-runner checkout: its docs/ folder "
                   "(Markdown; README.md links into it)")
        click.echo("in a checkout: .venv/bin/pip install -q -e '.[docs]' && .venv/bin/mkdocs build, "
                   "then `qfex-runner docs` there")
        return ExitCode.OK
    click.echo(f"the site is not built: {index} does not exist", err=True)
    click.echo(f"the documentation's pages are in {root / 'docs'} (Markdown; README.md links into them)")
    click.echo(f"to build the site, in {root}:")
    click.echo("  .venv/bin/pip install -q -e '.[docs]' && .venv/bin/mkdocs build")
    click.echo("then run `qfex-runner docs` again")
    return ExitCode.OK


# --- run / report (run) ---------------------------------------------------------------------


@cli.command()
@click.argument("playbook", metavar="PLAYBOOK")
@click.option("--target", type=click.Choice(["sim", "uat", "prod"]), default=None,
              help="sim (default): the embedded local exchange, no credentials; uat: wss://trade.qfex.io; "
                   "prod: wss://trade.qfex.com (real money: needs --yes or a typed confirmation).")
@click.option("--url", metavar="URL",
              help="Any QFEX-compatible trade WebSocket (ws:// only on the loopback).")
@MDS_URL_OPTION
@click.option("--yes", is_flag=True, help="Confirm a production run without a prompt (for CI).")
@click.option("--credentials", "credentials_file", metavar="FILE",
              help="API keys file (YAML/JSON or KEY=VALUE; chmod 600). Default: QFEX_PUBLIC_KEY, "
                   "QFEX_SECRET_KEY, optional QFEX_ACCOUNT_ID from the environment.")
@click.option("--refdata", "refdata_file", metavar="FILE",
              help="Reference data JSON for the pre-send checks (default: the target's /refdata).")
@click.option("--report-dir", metavar="DIR", help="Where to write report.json, report.md, junit.xml "
              "(default runs/<playbook name>/<UTC timestamp>/).")
@click.option("--state-dir", metavar="DIR",
              help="Run journal directory (default runs/<playbook name>/.state/).")
@click.option("--replan", is_flag=True,
              help="Accept a playbook changed since orders were placed: place new orders only.")
@click.option("--converge", is_flag=True,
              help="Modify placed orders whose definition changed, in place (QFEX modify_order / "
                   "modify_stop_order: price, quantity, take-profit, stop-loss), each journaled before it is "
                   "sent; what cannot change in place is refused with the reason (nothing sent).")
@click.option("--prune", is_flag=True,
              help="Cancel orders and exits this playbook placed and no longer declares (from the run "
                   "journal; refused without one).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Summary on stdout: a table (text) or a JSON object (json).")
@click.option("--progress/--no-progress", default=None,
              help="Show progress on stderr (default: only on a terminal).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              metavar="S", help="Longest wait for any one answer or fill, in seconds.")
@click.option("--reconnect-attempts", type=click.IntRange(min=0), default=8, show_default=True, metavar="N",
              help="Reconnection attempts after a dropped connection (exponential backoff with jitter).")
@click.option("--reconnect-max-seconds", type=click.FloatRange(min=0), default=120.0, show_default=True,
              metavar="S", help="Give up reconnecting after this long (then exit 5).")
@click.option("--max-in-flight", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Send up to N orders before their answers, in playbook order on one connection (1: one "
                   "at a time). wait: fill, after_fill brackets and on_reject: stop still wait.")
@click.option("--wire-log", metavar="FILE",
              help="Append every frame sent and received to FILE as JSON lines, secrets redacted "
                   "(default for uat/prod: wire.jsonl in the report dir).")
@click.option("--manage", is_flag=True,
              help="After placing, stay connected and manage every exit plan (bracket take-profit ladders, "
                   "manage:) until each position is flat and nothing of it is live, or --until.")
@click.option("--until", "until_text", metavar="TIME|DURATION",
              help="With --manage: stop managing at this UTC time (2026-12-05T21:00:00Z) or after this long "
                   "(90s, 30m, 8h); the exits stay at the exchange, sized right.")
def run(playbook: str, target: str | None, url: str | None, mds_url: str | None, yes: bool,
        credentials_file: str | None,
        refdata_file: str | None, report_dir: str | None, state_dir: str | None, replan: bool,
        converge: bool, prune: bool, fmt: str,
        progress: bool | None, timeout: float, reconnect_attempts: int, reconnect_max_seconds: float,
        max_in_flight: int, wire_log: str | None, manage: bool, until_text: str | None) -> int:
    """Validate PLAYBOOK, then place its orders in order, wait, and report.

    Nothing is sent unless the whole playbook validates. Reports: report.json, report.md and
    junit.xml in the report dir (and the GitHub job summary when GITHUB_STEP_SUMMARY is set).
    Exit 0 all orders as expected, 1 invalid, 3 some order rejected/missed its expectation,
    4 cannot connect/authenticate, 5 stopped part-way, 74 the journal or the report could not be
    written (the report then goes to a temporary directory, named), 130 interrupted.
    """
    from runner.console import ProgressLine
    from runner.run.engine import run_playbook
    from runner.run.options import RunOptions

    def confirm(name: str) -> bool:
        typed = click.prompt(f"--target prod places REAL orders on QFEX. Type the playbook name ({name}) "
                             f"to continue", default="", show_default=False, err=True)
        return typed.strip() == name

    options = RunOptions(
        playbook=playbook, target=target, url=url, mds_url=mds_url, yes=yes,
        credentials_file=credentials_file,
        refdata_file=refdata_file, report_dir=report_dir, state_dir=state_dir, replan=replan,
        converge=converge, prune=prune, timeout=timeout, confirm=confirm if sys.stdin.isatty() else None,
        on_progress=line if (line := ProgressLine(sys.stderr, enabled=progress)).enabled else None,
        reconnect_attempts=reconnect_attempts,
        reconnect_max_seconds=reconnect_max_seconds, max_in_flight=max_in_flight, wire_log=wire_log,
        manage=manage, until=_until(until_text, manage))
    return _show_run(run_playbook(options), fmt)  # PlaybookInvalid: its problems are shown by main()


@cli.command()
@click.option("--symbol", "symbols", multiple=True, metavar="SYMBOL",
              help="Only this symbol (repeatable); default: every symbol of the account.")
@click.option("--target", type=click.Choice(["sim", "uat", "prod"]), default=None,
              help="As for run: sim (default, the embedded exchange), uat, or prod (needs --yes or a typed "
                   "confirmation).")
@click.option("--url", metavar="URL", help="Any QFEX-compatible trade WebSocket, e.g. a standalone `sim`.")
@click.option("--yes", is_flag=True, help="Confirm on production without a prompt (for CI).")
@click.option("--credentials", "credentials_file", metavar="FILE", help="API keys file (as for run).")
@click.option("--report-dir", metavar="DIR", help="Where to write the reports (default runs/flatten/<UTC "
              "timestamp>/).")
@click.option("--state-dir", metavar="DIR", help="Journal directory (default runs/flatten/.state/).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--progress/--no-progress", default=None,
              help="Show progress on stderr (default: on a terminal).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              metavar="S", help="Longest wait for any one answer, and for the positions to be flat.")
def flatten(symbols: tuple[str, ...], target: str | None, url: str | None, yes: bool,
            credentials_file: str | None, report_dir: str | None, state_dir: str | None, fmt: str,
            progress: bool | None, timeout: float) -> int:
    """Cancel every open order, stop and TWAP of the account, close every position, wait until flat.

    The kill switch: the same steps as the shipped playbooks/flatten.yaml (with --symbol: those
    symbols only), run by the run engine under a fresh run_id, so it acts every time. It touches the
    ACCOUNT's orders and positions, not one playbook's. The playbook it ran is kept beside the
    reports (runs/flatten/playbooks/). Exit codes as for run: 0 flat, 3 something left, 4, 5, 130.
    """
    from runner.console import ProgressLine
    from runner.playbook.flatten import flatten_playbook, run_id_now
    from runner.run.engine import run_playbook
    from runner.run.options import RunOptions

    run_id = run_id_now()
    folder = Path("runs") / "flatten" / "playbooks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"flatten-{run_id}.yaml"
    path.write_text(flatten_playbook(run_id, tuple(dict.fromkeys(symbols))), encoding="utf-8")

    def confirm(name: str) -> bool:
        what = ", ".join(symbols) or "every symbol"
        typed = click.prompt(f"--target prod cancels REAL orders and closes REAL positions ({what}). Type "
                             f"{name} to continue", default="", show_default=False, err=True)
        return typed.strip() == name

    options = RunOptions(
        playbook=str(path), target=target, url=url, yes=yes, credentials_file=credentials_file,
        report_dir=report_dir, state_dir=state_dir, timeout=timeout,
        confirm=confirm if sys.stdin.isatty() else None,
        on_progress=ProgressLine(sys.stderr, enabled=progress))
    return _show_run(run_playbook(options), fmt)


def _show_run(result: RunResult, fmt: str) -> int:
    """How `run` (and `flatten`) print what happened; the exit code."""
    from runner import jsonnum
    from runner.console import use_color
    from runner.report import render_text

    if fmt == "json":  # stdout is for machines: warnings go to stderr (the text summary lists them itself)
        for warning in result.warnings:
            click.echo(f"warning: {printable(warning)}", err=True)
        click.echo(jsonnum.dumps(_run_summary_json(result), indent=2))
    else:
        click.echo(render_text(result.report, color=use_color(sys.stdout)), nl=False)
        if result.report_dir is not None:
            names = ", ".join(p.name for p in result.files.values()) or "report.json, report.md, junit.xml"
            click.echo(f"reports: {result.report_dir}/ ({names})")
    for problem in result.report_problems:  # exit 74: the files are not where they were asked to go
        click.echo(f"qfex-runner: {problem}", err=True)
    return result.exit_code


def _until(text: str | None, manage: bool) -> float | None:
    """`--until 8h` / `--until 2026-12-05T21:00:00Z` -> epoch seconds (usage error when unreadable)."""
    if text is None:
        return None
    if not manage:
        raise UsageError("--until needs --manage (it says when to stop managing exit plans)")
    import re
    import time

    from runner.playbook.exits import time_limit

    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?[smhd]|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?"
                        r"(Z|[+-][0-9]{2}:[0-9]{2})?", text):
        raise UsageError(f"--until {text!r}: give a duration (90s, 30m, 8h, 2d) or a UTC time "
                         f"(2026-12-05T21:00:00Z)")
    limit = time_limit(text)
    if limit.seconds is not None:
        return time.time() + float(limit.seconds)
    return float(limit.at or 0)


def _run_summary_json(result: RunResult) -> dict[str, Any]:
    """`run --format json`: the summary, where the reports are, and one line per order."""
    report = result.report  # only what is printed is built (not the whole report.json again)
    return {**report.summary.to_json(report.orders),
            "report_dir": str(result.report_dir) if result.report_dir else None,
            "files": {k: str(v) for k, v in result.files.items()}, "report_problems": result.report_problems,
            "warnings": list(report.warnings), "orders": [o.brief_json() for o in report.orders]}


@cli.command()
@click.argument("source", metavar="RUN_DIR_OR_JSON")
@click.option("--format", "fmt", type=click.Choice(["md", "junit", "json", "text", "wire"]), default="text",
              show_default=True, help="wire: the run's audit trail of frames (wire.jsonl), one line each.")
def report(source: str, fmt: str) -> int:
    """Re-render a saved run report (a run directory or its report.json), or its wire log."""
    from runner.console import use_color
    from runner.report import load_report, render

    if fmt == "wire":
        from runner.report.wire import render_wire

        click.echo(_printable_lines(render_wire(source)), nl=False)
        return ExitCode.OK
    saved = load_report(source)
    color = fmt == "text" and use_color(sys.stdout)
    click.echo(render(saved, fmt, color=color), nl=False)
    return ExitCode.OK


# --- sim (local exchange) -------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (loopback by default; 0.0.0.0 exposes it to the network).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="TCP port for the WebSocket and GET /refdata (0: any free port).")
@click.option("--refdata", "refdata_file", metavar="FILE",
              help="Reference data JSON (QFEX GET /refdata body or a list); default: the shipped fixture.")
@click.option("--scenario", "scenario_file", metavar="FILE",
              help="YAML scenario: scripted mid-price paths per symbol (see playbooks/scenarios/).")
@click.option("--accounts", "accounts_file", metavar="FILE",
              help="YAML/JSON accounts (key pairs, ids, subaccounts, deposits); default: one demo account.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for ids and random walks.")
@click.option("--speed-bump-ms", type=click.IntRange(min=0), default=100, show_default=True,
              help="Delay before a limit order (new or modified) reaches the book, as on QFEX.")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Fault: one-way latency added to every frame in both directions.")
@click.option("--no-rate-limit", is_flag=True, help="Turn QFEX's 12,000 units / 60 s limit off (benchmarks).")
@click.option("--drop-after", type=click.IntRange(min=1), default=None, metavar="N",
              help="Fault: abort a connection after its N-th inbound frame (processed, reply lost); once.")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0, show_default=True, metavar="P",
              help="Fault: answer an authenticated command err ServerError with probability P.")
@click.option("--stall-after", type=click.IntRange(min=0), default=None, metavar="N",
              help="Fault: stop answering a connection after its N-th inbound frame.")
@click.option("--stall-seconds", type=click.FloatRange(min=0), default=None, metavar="S",
              help="With --stall-after: resume after S seconds (default: never).")
@click.option("--auth-timeout", type=click.FloatRange(min=0, min_open=True), default=60, show_default=True,
              metavar="S", help="Close connections not authenticated within S seconds.")
@click.option("--session", type=click.Choice(["open", "overnight", "weekend", "auto"]), default="open",
              show_default=True,
              help="Market session for QFEX's market-closed position caps (overnight 50 %, weekend 10 % "
                   "of the normal maximum; above it only reducing orders): pinned, or auto from each "
                   "symbol's market_hours.")
@click.option("--dialect", type=click.Choice(["live", "docs-pages"]), default="live", show_default=True,
              help="Reply shapes: live = what QFEX's CLI waits for and the current AsyncAPI declares; "
                   "docs-pages = the examples of QFEX's per-command docs pages (get_user_trades "
                   "user_trades+count, get_order all_orders_response, set_user_leverage ack_response, "
                   "no ack after stop-order commands, null incoming_message for a non-object frame).")
@click.option("--twap-speed", type=click.FloatRange(min=0, min_open=True), default=1, show_default=True,
              metavar="X", help="Run TWAP child schedules X times faster (30: QFEX's 30 s minimum interval "
                                "takes 1 s), for rehearsals; replies still show the interval asked for.")
@click.option("--compat", multiple=True, metavar="NAME[,NAME]",
              help="Switch on an older or alternative documented shape (repeatable), over --dialect: "
                   "legacy-auth-reply, "
                   "legacy-errors, legacy-api-key-auth, legacy-cancel-client-order-id, envelope-pulses, "
                   "unsubscribed-order-responses, retry-after-field, incoming-message-text, "
                   "alo-rejected, alo-cancelled, user-trades-response, get-order-order-response, "
                   "leverage-ack, stop-ops-ack.")
@click.option("--clock-speed", type=click.FloatRange(min=1), default=1.0, show_default=True, metavar="X",
              help="Run the exchange's clock X times faster than the wall clock (scenario steps, timestamps "
                   "in its frames, the speed bump): time rules such as close_after: 3d play out in minutes.")
def sim(host: str, port: int, refdata_file: str | None, scenario_file: str | None, accounts_file: str | None,
        seed: int, speed_bump_ms: int, latency_ms: float, no_rate_limit: bool, drop_after: int | None,
        error_rate: float, stall_after: int | None, stall_seconds: float | None, auth_timeout: float,
        session: str, dialect: str, twap_speed: float, compat: tuple[str, ...], clock_speed: float) -> int:
    """Run the local QFEX-compatible exchange until Ctrl-C / SIGTERM (then exit 0).

    A real WebSocket server speaking QFEX's trade API (HMAC auth, orders, stops, fills, positions,
    balances, rate limits), its market-data socket at /mds, and GET /refdata, on one port. Prints
    its URLs and credentials.
    """
    from runner.simulator.standalone import config_from_options, serve_forever

    for option, path in (("--refdata", refdata_file), ("--scenario", scenario_file),
                         ("--accounts", accounts_file)):
        refuse_unless_regular(option, path)

    def announce(banner: str) -> None:
        click.echo(banner)
        sys.stdout.flush()

    config = config_from_options(
        host=host, port=port, refdata_file=refdata_file, scenario_file=scenario_file,
        accounts_file=accounts_file, seed=seed, speed_bump_ms=speed_bump_ms, latency_ms=latency_ms,
        no_rate_limit=no_rate_limit, drop_after=drop_after, error_rate=error_rate, stall_after=stall_after,
        stall_seconds=stall_seconds, auth_timeout=auth_timeout, dialect=dialect, compat=compat,
        session=session, twap_speed=twap_speed, clock_speed=clock_speed)
    serve_forever(config, announce=announce)
    click.echo("qfex-runner sim: stopped")
    return ExitCode.OK


def refuse_unless_regular(option: str, path: str | None) -> None:
    """A FIFO or device given to the simulator would block its loader for ever: exit 2 at once (the
    simulator keeps its own loaders and does not import `runner.files`). A missing or unreadable file
    is left to the loader, which names it as before."""
    if path is None:
        return
    from runner.errors import NotARegularFile, UsageError
    from runner.files import open_regular

    try:
        open_regular(path).close()
    except NotARegularFile as exc:
        raise UsageError(f"{option} {path}: is {exc.what}, not a regular file") from None
    except OSError:
        return


# --- status (exactly-once) --------------------------------------------------------------------


@cli.command()
@click.argument("playbook", metavar="PLAYBOOK")
@click.option("--target", type=click.Choice(["uat", "prod"]), default=None,
              help="uat: wss://trade.qfex.io; prod: wss://trade.qfex.com (read-only: nothing is sent).")
@click.option("--url", metavar="URL", help="Any QFEX-compatible trade WebSocket, e.g. a standalone `sim`.")
@MDS_URL_OPTION
@click.option("--credentials", "credentials_file", metavar="FILE",
              help="API keys file (as for run). Default: QFEX_PUBLIC_KEY, QFEX_SECRET_KEY, QFEX_ACCOUNT_ID.")
@click.option("--state-dir", metavar="DIR",
              help="Where run keeps its journal (default runs/<playbook name>/.state/); read, never written.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 3 when a run would place something now (0 when every order is placed).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              metavar="S", help="Longest wait for the exchange's answers, in seconds.")
def status(playbook: str, target: str | None, url: str | None, mds_url: str | None,
           credentials_file: str | None,
           state_dir: str | None, fmt: str, detailed_exitcode: bool, timeout: float) -> int:
    """Show, for every order of PLAYBOOK, what the exchange has: open, filled, cancelled, not placed.

    Read-only (like `terraform plan` against real state): connects, looks every client_order_id
    up with get_user_orders/get_user_trades, reads the run journal if present, sends no order.
    Exit 0 (with --detailed-exitcode: 3 if a run would place something), 1 invalid playbook,
    2 usage, 4 cannot connect/authenticate.
    """
    from runner import jsonnum
    from runner.state.status import StatusOptions, as_json, collect_status, exit_code, render_text

    options = StatusOptions(playbook=playbook, target=target, url=url, mds_url=mds_url,
                            credentials_file=credentials_file,
                            state_dir=state_dir, timeout=timeout)
    report = collect_status(options)  # PlaybookInvalid: its problems are shown by main()
    if fmt == "json":
        click.echo(jsonnum.dumps(as_json(report), indent=2))
    else:
        click.echo(_printable_lines(render_text(report)), nl=False)
    return exit_code(report, detailed_exitcode)


@cli.command()
@click.argument("playbook", metavar="[PLAYBOOK]", required=False)
@click.option("--target", type=click.Choice(["sim", "uat", "prod"]), default=None,
              help="sim (default): the embedded exchange; uat: wss://trade.qfex.io; prod: wss://trade.qfex.com.")
@click.option("--url", metavar="URL", help="Any QFEX-compatible trade WebSocket, e.g. a standalone `sim`.")
@MDS_URL_OPTION
@click.option("--credentials", "credentials_file", metavar="FILE",
              help="API keys file (as for run). Default: QFEX_PUBLIC_KEY, QFEX_SECRET_KEY, QFEX_ACCOUNT_ID.")
@click.option("--state-dir", metavar="DIR",
              help="Where run keeps its journal (default runs/<playbook name>/.state/); read, never written.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              metavar="S", help="Longest wait for each network step, in seconds.")
def doctor(playbook: str | None, target: str | None, url: str | None, mds_url: str | None,
           credentials_file: str | None,
           state_dir: str | None, fmt: str, timeout: float) -> int:
    """Check, read-only, that a run could work: network, TLS, clock, keys, symbols, margin, leftovers.

    One line per check (ok / warn / fail, and what to do). Places, changes and cancels nothing.
    Exit 0 when nothing failed, 3 when a check failed that would make the run fail, 4 when the
    exchange cannot be used (unreachable, TLS, clock, credentials, authentication).
    """
    from runner import jsonnum
    from runner.run.doctor import DoctorOptions, as_json, diagnose, render_text

    report = diagnose(DoctorOptions(playbook=playbook, target=target, url=url, mds_url=mds_url,
                                    credentials_file=credentials_file, state_dir=state_dir, timeout=timeout))
    if fmt == "json":
        click.echo(jsonnum.dumps(as_json(report), indent=2))
    else:
        click.echo(_printable_lines(render_text(report)), nl=False)
    return int(report.exit_code)


def _printable_lines(text: str) -> str:
    """Multi-line text holding outside words (the exchange's statuses, reference data), each line made
    safe for the terminal (`runner.words.printable`)."""
    return "".join(printable(line) + "\n" for line in text.splitlines())


#: the cyclic garbage collector's first threshold for the command's own process (CPython's default: 700)
GC_THRESHOLD = 50_000


def collect_garbage_less_often() -> None:
    """A command is one short process that builds a few objects per order (YAML nodes, orders, records)
    and keeps them to the end; it makes almost no cyclic garbage. At CPython's default the collector
    walks them all again and again as they are built: ~15 µs per order of the time before the first
    order leaves. Reference counting still frees everything at once; only cycles wait a little longer."""
    import gc

    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def main(argv: list[str] | None = None) -> None:
    """Entry point: the single error boundary of the command line."""
    if argv is None:  # the process's own command line (not a caller's, in its own long-lived process)
        collect_garbage_less_often()
        import atexit
        import gc

        # Registered first, so it runs last: with everything written, flushed and closed, the
        # collector has nothing left to do but walk every object a run made (~13 µs an order, ~40 ms
        # after a 1,500-order run, measured): frozen, the interpreter exits without that walk.
        atexit.register(gc.freeze)
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="qfex-runner", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        code = ExitCode.INTERRUPTED
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.UsageError as exc:
        exc.show()
        code = ExitCode.USAGE
    except click.ClickException as exc:
        exc.show()
        code = ExitCode.USAGE
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = ExitCode.INTERRUPTED
    except PlaybookInvalid as exc:  # every problem, located, then the one-line reason
        from runner.report.problems import render

        click.echo(_printable_lines(render(exc.problems, "text")), nl=False, err=True)
        click.echo(f"qfex-runner: {printable(str(exc))}", err=True)
        code = exc.exit_code
    except RunnerError as exc:  # messages can quote the exchange: never raw to the terminal
        click.echo(f"qfex-runner: {printable(str(exc))}", err=True)
        code = exc.exit_code
    except OSError as exc:  # the machine's, not a bug: a full disk, no permission, a closed pipe
        if debug:
            import traceback  # only here: its import is start-up time for every command

            traceback.print_exc()
        with contextlib.suppress(OSError):
            click.echo(f"qfex-runner: input/output error: {os_reason(exc)}", err=True)
        code = ExitCode.IO_ERROR
    except Exception as exc:  # the boundary: anything else is a bug
        if debug:
            import traceback

            traceback.print_exc()
        else:
            message = f"internal error: {type(exc).__name__}: {exc} (re-run with --debug)"
            click.echo(f"qfex-runner: {message}", err=True)
        code = ExitCode.INTERNAL
    sys.exit(int(code) if code is not None else 0)
