"""The trade connection as the run engine sees it: typed seams instead of `Any`.

`Session` is what every connection offers (`TradeSession`, and `ReconnectingSession`, which wraps
one); `RecoveringSession` adds what only the reconnecting one has (replayed frames, the record of
lost connections, the pacer). The run engine is written against these, as httpx's client is
against `BaseTransport`, so a reader and the type checker see every call that crosses the seam.
Imports are for type checking only: importing this costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runner.enums import Channel
    from runner.exchange.client import Event
    from runner.exchange.pacing import Pacer
    from runner.exchange.protocol import ErrorReply, Reply, ReplyKind


class Session(Protocol):
    """One authenticated trade connection: send, read classified events, ask and wait."""

    def send(self, message: dict[str, Any]) -> None: ...

    def send_many(self, messages: list[tuple[dict[str, Any], str]]) -> None:
        """Send each `(message, its text)` in order, together (one write)."""

    def next_event(self, timeout: float) -> Event | None: ...

    def request(self, message: dict[str, Any], kinds: Iterable[ReplyKind], timeout: float = ...,
                accept: Callable[[Reply], bool] | None = ...) -> Reply: ...

    def subscribe(self, channels: Iterable[str | Channel], timeout: float = ...) -> None: ...

    def cancel_on_disconnect(self, enabled: bool, timeout: float = ...) -> None: ...

    def expect_order_id(self, order_id: str, client_order_id: str) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class RecoveringSession(Session, Protocol):
    """A session that comes back after a drop (`runner.exchange.reconnect.ReconnectingSession`)."""

    pacer: Pacer | None
    losses: list[str]

    def inject(self, coid: str, frame: dict[str, Any]) -> None:
        """Queue a frame rebuilt by reconciliation, read before anything from the socket."""

    def note_rate_limited(self, err: ErrorReply) -> None:
        """The exchange said RateLimited to something sent: hold that bucket back."""
