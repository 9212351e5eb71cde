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
