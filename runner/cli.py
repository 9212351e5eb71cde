"""The `qfex-runner` command line: thin click commands over the library core.

Each command parses its options, calls one core function and exits with an `ExitCode`. Heavy
modules (jsonschema, websocket, the simulator) are imported inside the commands so `--help`
stays fast. One error boundary (`main`) turns expected errors into one line, Ctrl-C into 130
and bugs into "internal error" (traceback only with --debug).
"""

from __future__ import annotations

import sys
import traceback

import click

from runner import __version__
from runner.errors import RunnerError
from runner.exit_codes import ExitCode


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="qfex-runner")
@click.option("--debug", is_flag=True, help="Show a traceback for internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Validate, plan, run and report QFEX order playbooks (YAML files in git).

    Exit codes: 0 ok, 1 playbook invalid, 2 usage, 3 orders rejected/missed expectation,
    4 connect/auth failed, 5 run aborted part-way, 130 interrupted, 70 internal error.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# --- commands -------------------------------------------------------------------------------
# Each command lives below in its own section; keep imports of heavy modules inside the function.


# --- validate / plan / schema (playbook language) -------------------------------------------


@cli.command()
@click.argument("playbooks", nargs=-1, required=True, metavar="PLAYBOOK...")
@click.option("--refdata", "refdata_path", metavar="FILE",
              help="Reference data JSON (QFEX GET /refdata body or a list) for tick/lot/band checks.")
@click.option("--format", "fmt", type=click.Choice(["text", "github", "json"]), default="text",
              show_default=True,
              help="text: file:line:col: message [rule]; github: workflow annotations; json: a list.")
def validate(playbooks: tuple[str, ...], refdata_path: str | None, fmt: str) -> int:
    """Check playbooks (schema and trading rules) and report every problem. Never touches the network.

    Exit 0 when every file is valid (warnings allowed), 1 when any has an error.
    """
    from runner.load import validate_file
    from runner.refdata import load_refdata_file
    from runner.render_problems import render, summary

    refdata = load_refdata_file(refdata_path) if refdata_path else None
    problems = []
    for path in playbooks:
        problems += validate_file(path, refdata).problems
    click.echo(render(problems, fmt), nl=False)
    if fmt == "text":
        click.echo(summary(len(playbooks), problems), err=True)
    failed = any(p.severity.value == "error" for p in problems)
    return ExitCode.INVALID_PLAYBOOK if failed else ExitCode.OK


@cli.command()
@click.argument("playbook", metavar="PLAYBOOK")
@click.option("--refdata", "refdata_path", metavar="FILE",
              help="Reference data JSON (QFEX GET /refdata body or a list) for tick/lot/band checks.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plan(playbook: str, refdata_path: str | None, fmt: str) -> int:
    """Validate, then show every step `run` would take and the exact add_order messages.

    No credentials, no network: nothing is sent. Problems go to stderr (exit 1, no plan).
    """
    from runner import jsonnum
    from runner.load import validate_file
    from runner.plan import build_plan, plan_as_json, render_plan_text
    from runner.refdata import load_refdata_file
    from runner.render_problems import render, summary

    refdata = load_refdata_file(refdata_path) if refdata_path else None
    result = validate_file(playbook, refdata)
    if result.problems:
        click.echo(render(result.problems, "text"), nl=False, err=True)
    if not result.ok or result.playbook is None:
        click.echo(summary(1, result.problems) + "; no plan", err=True)
        return ExitCode.INVALID_PLAYBOOK
    the_plan = build_plan(result.playbook)
    if fmt == "json":
        click.echo(jsonnum.dumps(plan_as_json(the_plan), indent=2))
    else:
        click.echo(render_plan_text(the_plan), nl=False)
    return ExitCode.OK


@cli.command()
@click.argument("name", default="playbook", metavar="[NAME]")
def schema(name: str) -> int:
    """Print a JSON Schema shipped with qfex-runner (default: the playbook schema, for editors)."""
    from runner.schema import schema_bytes

    data = schema_bytes(name)
    stream = click.get_binary_stream("stdout")
    stream.write(data)
    stream.flush()
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


def main(argv: list[str] | None = None) -> None:
    """Entry point: the single error boundary of the command line."""
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
    except RunnerError as exc:
        click.echo(f"qfex-runner: {exc}", err=True)
        code = exc.exit_code
    except Exception as exc:  # the boundary: anything else is a bug
        if debug:
            traceback.print_exc()
        else:
            click.echo(f"qfex-runner: internal error: {type(exc).__name__}: {exc} (re-run with --debug)", err=True)
        code = ExitCode.INTERNAL
    sys.exit(int(code) if code is not None else 0)
