"""The one exception the engine raises for a request it cannot act on.

QFEX answers malformed requests with an `err` frame (`{"err": {"error_code", "message",
"incoming_message"}}`) rather than an `order_response`; the engine raises `CommandError` and the
server turns it into that frame, adding the echo of the request it received.
"""

from __future__ import annotations

from runner.errors import UsageError


class CommandError(Exception):
    """A request QFEX would answer with an `err` frame (`InvalidParameter`, `InvalidOrder`, ...)."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


class ConfigError(UsageError):
    """A configuration, accounts or scenario file is unusable; the message names file:line:col.

    A `UsageError`, so the CLI reports it as one line and exits 2.
    """
