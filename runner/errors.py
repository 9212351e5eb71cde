"""The exception tree. Every expected failure is a `RunnerError` that knows its exit code.

    RunnerError
    ├── UsageError                 (2)  bad command line or option value
    ├── PlaybookInvalid            (1)  problems found; nothing sent
    ├── ConnectError               (4)  could not connect/authenticate; nothing sent
    │   └── CredentialsError       (4)  missing/unsafe credentials
    ├── RunAborted                 (5)  stopped part-way; report + journal written
    └── Interrupted                (130)

Library errors (websocket, yaml, jsonschema, OS) are translated into these at one boundary each
(`raise ... from exc`); anything else reaching the CLI is a bug (exit 70).
"""

from __future__ import annotations

from runner.exit_codes import ExitCode


class RunnerError(Exception):
    """An expected failure with a one-line, user-facing message."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(RunnerError):
    exit_code = ExitCode.USAGE


class PlaybookInvalid(RunnerError):
    """Raised when a playbook has problems; carries them so callers can render them."""

    exit_code = ExitCode.INVALID_PLAYBOOK

    def __init__(self, problems: list, message: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(message or f"{len(self.problems)} problem(s) found; nothing was sent")


class ConnectError(RunnerError):
    exit_code = ExitCode.CONNECT_FAILED


class CredentialsError(ConnectError):
    pass


class RunAborted(RunnerError):
    exit_code = ExitCode.ABORTED


class Interrupted(RunnerError):
    exit_code = ExitCode.INTERRUPTED
