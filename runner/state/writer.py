"""The journal as the run engine writes and reads it: a typed seam (`JournalWriter`).

`runner.state.journal.Journal` is the one implementation; the run engine (runner.run) is written
against this Protocol, so every call that crosses into the journal is named and checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runner.playbook.ids import Leg
    from runner.state.entries import JournalEntry
    from runner.state.journal import PreparedIntent


class JournalWriter(Protocol):
    """Record before sending (intent), record what came back, read what is known per order."""

    def record_intent(self, client_order_id: str, step_index: int, order_id_in_playbook: str, leg: Leg,
                      message: Mapping[str, Any] | None) -> None:
        """Durably note that `message` is about to be sent; returns after fsync (or at a batch's end)."""

    def prepare_intent(self, client_order_id: str, step_index: int, order_id_in_playbook: str, leg: Leg,
                       message: Mapping[str, Any] | None, message_text: str | None = None) -> PreparedIntent:
        """An intent encoded ahead of its send; `write_intent` records it (as `record_intent` does)."""

    def write_intent(self, intent: PreparedIntent) -> None: ...

    def record_answer(self, client_order_id: str, answer: Mapping[str, Any]) -> None: ...

    def record_exit_id(self, client_order_id: str, leg: str, order_id: str) -> None: ...

    def record_reconciled(self, client_order_id: str, presence: str, *, order_id: str | None = None,
                          filled_quantity: Decimal | None = None, remaining: Decimal | None = None,
                          quantity: Decimal | None = None, order_key: str | None = None) -> None: ...

    def record_adopted(self, order_key: str, *, quantity: Decimal | None = None) -> None: ...

    def record_cancel(self, key: str, client_order_id: str, order_id: str, reason: str,
                      message: Mapping[str, Any]) -> None:
        """Durably note a cancel the runner is about to send (before it is sent)."""

    def record_modify(self, key: str, client_order_id: str, order_key: str, label: str,
                      message: Mapping[str, Any]) -> None:
        """Durably note a modify of a placed order before it is sent (`run --converge`)."""

    def record_modified(self, client_order_id: str, order_key: str, definition: Mapping[str, Any]) -> None:
        """Every change of a placed order was confirmed: its definition is now the playbook's."""

    def record_manage(self, key: str, client_order_id: str, order_id: str, action: str, reason: str,
                      message: Mapping[str, Any]) -> None:
        """Durably note an exit plan's management action (modify_stop_order) before it is sent."""

    def managed(self, key: str) -> Mapping[str, Any] | None: ...

    def record_step_done(self, key: str, step_id: str, outcome: str, verdict: str,
                         actions: list[str]) -> None:
        """A step besides orders finished: durably, so a re-run reports it done and does not repeat it."""

    def step_done(self, key: str) -> dict[str, Any] | None:
        """What an earlier run recorded when it finished the step with this key (None: not finished)."""

    def note(self, event: str, **details: Any) -> None: ...

    def batch(self) -> AbstractContextManager[None]:
        """Group commit: the records inside are fsync'd together when the block ends."""

    def entry(self, client_order_id: str) -> JournalEntry | None: ...

    def entries(self) -> Iterable[JournalEntry]: ...

    def close(self) -> None: ...
