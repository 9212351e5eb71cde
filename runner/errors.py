"""The exception tree: every exception of the runner lives here. An expected failure is a
`RunnerError` that knows its exit code.

    Exception
    ├── RunnerError                  (70) an expected failure with a one-line, user-facing message
    │   ├── UsageError               (2)  bad command line or option value
    │   ├── RefDataError             (2)  reference data not in a shape we understand (a bad
    │   │                                 --refdata; fetched from a target it only costs pre-checks)
    │   ├── PlaybookInvalid          (1)  problems found; nothing sent
    │   │   ├── SourceError          (1)  the file could not be read as YAML at all
    │   │   └── PlanChanged          (1)  orders placed under this identity are defined differently now
    │   ├── ConnectError             (4)  could not connect/authenticate; nothing sent
    │   │   └── CredentialsError     (4)  missing/unsafe credentials
    │   ├── RunAborted               (5)  stopped part-way; report + journal written
    │   │   ├── ConnectionLost       (5)  the connection dropped after authentication
    │   │   │   └── ReconnectFailed  (5)  ... and could not be re-established within the bounds
    │   │   ├── NoAnswer             (5)  a request got no answer in time
    │   │   ├── ReconcileError       (5)  the exchange refused a lookup: orders' state is unknown
    │   │   └── OrdersUnsure         (5)  orders not on the exchange that the journal cannot prove
    │   │                                 unplaced (a damaged line): nothing sent
    │   ├── StateLocked              (75) another run of the same playbook identity holds the lock
    │   └── JournalError             (74) the journal cannot be used (state dir not writable, disk
    │                                     full, foreign file): an input/output error, not a bug
    │       └── UnsafeStateDir       (2)  the state dir is writable by others, or a state file is a
    │                                     symlink: refused before anything is read or sent
    ├── StopRun                      (3, 5) the run engine leaves its send loop (on_reject: stop, no
    │                                     answer in time) and writes the report (never reaches a user)
    ├── Unsupported                       the schema compiler met a keyword it does not implement
    │                                     (never reaches a user: the full validator is used instead)
    └── OSError
        └── NotARegularFile               a file the user named is a FIFO, device, directory or socket:
                                          refused unread (`runner.files`); each reader words it with
                                          its own exit code

Library errors (websocket, yaml, jsonschema, OS) are translated into these at one boundary each
(`raise ... from exc`; websocket-client's in `runner.exchange.client._translated`); an `OSError`
reaching the CLI is the machine's, not ours (exit 74); anything else reaching the CLI is a bug
(exit 70). Ctrl-C is Python's KeyboardInterrupt, turned into exit 130 by the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from runner.exit_codes import ExitCode

if TYPE_CHECKING:  # for the annotation only: the simulator imports this module and never problems
    from runner.problems import Problem


class RunnerError(Exception):
    """An expected failure with a one-line, user-facing message."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(RunnerError):
    exit_code = ExitCode.USAGE


class RefDataError(RunnerError):
    """The reference data is not in a shape we understand (the message names the symbol and field)."""

    exit_code = ExitCode.USAGE


class PlaybookInvalid(RunnerError):
    """Raised when a playbook has problems; carries them so callers can render them."""

    exit_code = ExitCode.INVALID_PLAYBOOK

    def __init__(self, problems: Iterable[Problem], message: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(message or f"{len(self.problems)} problem(s) found; nothing was sent")


class SourceError(PlaybookInvalid):
    """The file could not be read as YAML at all; carries the located problem(s)."""


class PlanChanged(PlaybookInvalid):
    """Orders already placed under this identity are defined differently now (exit 1, nothing sent)."""


class ConnectError(RunnerError):
    exit_code = ExitCode.CONNECT_FAILED


class CredentialsError(ConnectError):
    pass


class RunAborted(RunnerError):
    exit_code = ExitCode.ABORTED


class ConnectionLost(RunAborted):
    """The connection dropped after authentication; what was in flight is unknown until reconciled."""


class ReconnectFailed(ConnectionLost):
    """The connection dropped and could not be re-established within the bounds (exit 5)."""


class NoAnswer(RunAborted):
    """A request got no answer in time: its outcome is unknown until reconciled."""


class ReconcileError(RunAborted):
    """The exchange refused a lookup (not transiently): the state of orders is unknown."""


class OrdersUnsure(RunAborted):
    """Orders the exchange does not show, which the journal cannot prove were never placed (a damaged
    line may have been their answer): none is sent again; the user resolves them (exit 5)."""


class LockOwner(Protocol):
    """What a `StateLocked` tells of the run holding the lock (`runner.state.statelock.LockHolder`)."""

    def describe(self) -> str: ...

    def process_alive(self) -> bool | None: ...


class StateLocked(RunnerError):
    """Another run of the same playbook identity holds the state lock; nothing was sent."""

    exit_code = ExitCode.LOCKED

    def __init__(self, message: str, holder: LockOwner | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class JournalError(RunnerError):
    """The journal cannot be used (state dir not writable, disk full, foreign file); after the first send
    the run stops sending at once and still writes its report (exit 74)."""

    exit_code = ExitCode.IO_ERROR


class UnsafeStateDir(JournalError):
    """The state dir is group- or world-writable, or its lock/journal path is a symlink: another user
    could rewrite what the runner believes was placed, or have it overwrite their target (exit 2)."""

    exit_code = ExitCode.USAGE


class StopRun(Exception):
    """Leave the run's send loop (on_reject stop, no answer in time) and write the report: control flow
    inside the run engine, which turns it into the run's exit code."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Unsupported(Exception):
    """The schema uses a keyword the schema compiler does not implement."""


class NotARegularFile(OSError):
    """A path the user named is not a regular file (`what`: "a named pipe (FIFO)", "a device", ...):
    reading it could block forever or never end, so it is refused unread."""

    def __init__(self, what: str, path: str) -> None:
        super().__init__(f"{path} is {what}, not a regular file")
        self.what = what
        self.path = path
