"""The process exit codes: a stable contract for CI scripts (docs/exit-codes.md lists them; each tested)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Success: every order reached its expected outcome (or: the playbook is valid)."""
    INVALID_PLAYBOOK = 1
    """The playbook is invalid: problems were reported and nothing was sent."""
    USAGE = 2
    """Bad command line."""
    ORDERS_FAILED = 3
    """The run finished, but one or more orders were rejected or missed their expectation."""
    CONNECT_FAILED = 4
    """Could not connect or authenticate; nothing was sent."""
    ABORTED = 5
    """The run stopped part-way; report and journal written; re-running resumes without duplicates."""
    CHANGES = 6
    """`plan --detailed-exitcode` against an exchange: there are changes to apply (create, modify,
    cancel); 0 means nothing to do (terraform's -detailed-exitcode; 2 is already "usage")."""
    INTERNAL = 70
    """A bug in qfex-runner."""
    IO_ERROR = 74
    """A file could not be written or read: the journal (sending stopped at once), the report where asked
    (then written to a temporary directory and named), the state dir (74 is sysexits' EX_IOERR). The
    summary is still printed; re-running reconciles with the exchange, without duplicates."""
    LOCKED = 75
    """Another run of the same playbook identity holds the state-dir lock; nothing was sent; retry later
    (75 is sysexits' EX_TEMPFAIL, as 70 is its EX_SOFTWARE)."""
    INTERRUPTED = 130
    """Interrupted by the user (Ctrl-C)."""
