"""The exception tree: every class drawn in runner/errors.py's docstring, each with its exit code."""

from __future__ import annotations

import builtins
import inspect

import pytest

from runner import errors
from runner.exit_codes import ExitCode

EXIT_CODES = {
    errors.UsageError: ExitCode.USAGE,
    errors.RefDataError: ExitCode.USAGE,
    errors.PlaybookInvalid: ExitCode.INVALID_PLAYBOOK,
    errors.SourceError: ExitCode.INVALID_PLAYBOOK,
    errors.PlanChanged: ExitCode.INVALID_PLAYBOOK,
    errors.ConnectError: ExitCode.CONNECT_FAILED,
    errors.CredentialsError: ExitCode.CONNECT_FAILED,
    errors.RunAborted: ExitCode.ABORTED,
    errors.ConnectionLost: ExitCode.ABORTED,
    errors.ReconnectFailed: ExitCode.ABORTED,
    errors.NoAnswer: ExitCode.ABORTED,
    errors.ReconcileError: ExitCode.ABORTED,
    errors.OrdersUnsure: ExitCode.ABORTED,
    errors.StateLocked: ExitCode.LOCKED,
    errors.JournalError: ExitCode.IO_ERROR,
    errors.UnsafeStateDir: ExitCode.USAGE,
}


def exceptions() -> list[type[BaseException]]:
    return [c for _, c in inspect.getmembers(errors, inspect.isclass)
            if issubclass(c, BaseException) and c.__module__ == errors.__name__]


def drawn_parents() -> dict[str, str]:
    """Class name -> parent name, read off the tree in the module docstring (4 columns a level)."""
    parents: dict[str, str] = {}
    path: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        if "── " not in line and line.strip() != "Exception":
            continue
        name = line.split("── ", 1)[-1].split()[0] if "── " in line else "Exception"
        depth = (line.index("── ") - 4) // 4 + 1 if "── " in line else 0
        path[depth:] = [name]
        if depth:
            parents[name] = path[depth - 1]
    return parents


def test_the_docstring_draws_every_exception_under_its_parent() -> None:
    drawn = drawn_parents()
    builtin_parents = {name for name in drawn if isinstance(getattr(builtins, name, None), type)}  # OSError
    assert set(drawn) - builtin_parents == {c.__name__ for c in exceptions()}
    for cls in exceptions():
        assert drawn[cls.__name__] == cls.__bases__[0].__name__, cls.__name__


@pytest.mark.parametrize(("cls", "code"), EXIT_CODES.items(), ids=lambda x: getattr(x, "__name__", str(x)))
def test_exit_codes(cls: type[errors.RunnerError], code: ExitCode) -> None:
    assert cls.exit_code is code


def test_expected_failures_are_runner_errors_and_the_compiler_signal_is_not() -> None:
    assert all(issubclass(cls, errors.RunnerError) for cls in EXIT_CODES)
    assert not issubclass(errors.Unsupported, errors.RunnerError)
