"""Sending: journal the intent, then send, with nothing (not even Ctrl-C) in between; and send
again what the exchange refused unprocessed (`RateLimited`, `ServerError`), after its delay.

The exactly-once rule lives here: every message that leaves has a durable intent first
(`JournalWriter.write_intent`, fsync'd, or a batch the caller fsync'd: `send_journaled`), inside
`Interrupts.critical()`. A message is encoded once (`prepare`): the journal holds the text sent.
A refusal that placed nothing is re-sent under the same rule, in the order the refusals came, so a
later refusal never overtakes an earlier one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from runner.enums import ErrorCode, is_retryable
from runner.errors import RunnerError
from runner.exchange.pacing import retry_after_hint
from runner.exchange.protocol import ErrorReply
from runner.exchange.session import RecoveringSession
from runner.jsonnum import dumps
from runner.playbook.ids import Leg
from runner.report import LegResult, OrderResult, Outcome
from runner.run.interrupts import Interrupts
from runner.run.ledger import Ledger
from runner.run.verdict import LiveOrder
from runner.state.journal import PreparedIntent
from runner.state.writer import JournalWriter

MAX_RETRIES = 5


@dataclass(frozen=True)
class Prepared:
    """A message encoded once, for the wire and for its journal intent (`Sender.prepare`): the
    same text is journaled and sent (a pipelined run prepares a burst before its one fsync)."""

    coid: str
    message: dict[str, Any]
    text: str
    intent: PreparedIntent
    index: int
    order_key: str
    leg: Leg


class Sender:
    """The one way a message leaves: intent journaled, then sent; refusals sent again when due."""

    def __init__(self, session: RecoveringSession, journal: JournalWriter, interrupts: Interrupts,
                 ledger: Ledger) -> None:
        self.session = session
        self.journal = journal
        self.interrupts = interrupts
        self.ledger = ledger
        #: refused (or lost in a reconnect) and waiting to go again, in the order they were refused
        self.retrying: dict[str, LiveOrder] = {}

    def prepare(self, coid: str, message: dict[str, Any] | None, index: int, order_key: str,
                leg: Leg) -> Prepared:
        """Encode `message` once (wire text and journal intent) for a `send` soon after."""
        if message is None:
            raise RunnerError(f"internal: no message for {order_key} {leg.value}")
        text = dumps(message)
        return Prepared(coid, message, text,
                        self.journal.prepare_intent(coid, index, order_key, leg, message, message_text=text),
                        index, order_key, leg)

    def send(self, coid: str, record: OrderResult | LegResult, message: dict[str, Any] | None, index: int,
             order_key: str, leg: Leg, quantity: Decimal, immediate: bool) -> LiveOrder:
        """Journal the intent, then send (the message encoded once for both); never split by Ctrl-C.
        Orders whose intents a batch journaled go through `send_journaled`."""
        prepared = self.prepare(coid, message, index, order_key, leg)
        with self.interrupts.critical():
            # a journal that cannot be written (JournalError) leaves it not sent
            self.journal.write_intent(prepared.intent)
            return self.send_journaled([(prepared, record, quantity, immediate)])[0]

    def send_journaled(self, batch: list[tuple[Prepared, OrderResult | LegResult, Decimal, bool]]
                       ) -> list[LiveOrder]:
        """Send orders whose intents the caller journaled in one batch (fsync'd), together in one
        write: `(prepared, record, quantity, immediate)` each, in order."""
        lives = []
        with self.interrupts.critical():
            now = time.time()
            for prepared, record, quantity, immediate in batch:
                live = LiveOrder(prepared.coid, record, quantity, immediate)
                live.resend = (prepared.message, prepared.index, prepared.order_key, prepared.leg)
                self.ledger.live[prepared.coid] = live
                if isinstance(record, OrderResult):
                    record.sent_at = now
                    record.outcome, record.verdict = Outcome.UNKNOWN, "sent; no answer yet"
                lives.append(live)
            self.session.send_many([(prepared.message, prepared.text) for prepared, *_ in batch])
        for prepared, *_ in batch:
            self.ledger.progress("sent", prepared.index, prepared.order_key, "", prepared.leg.value)
        return lives

    def retry_refused(self, live: LiveOrder, err: ErrorReply) -> bool:
        """A refusal that placed nothing (RateLimited/ServerError, unanswered, retries left): schedule
        the same message again after a delay and say True; False means it is a real rejection."""
        if is_retryable(err.error_code) and live.resend is not None and live.retries < MAX_RETRIES \
                and not live.answered:
            live.retries += 1
            hint = retry_after_hint(err.raw)
            if err.error_code == ErrorCode.RATE_LIMITED:
                self.session.note_rate_limited(err)  # the pacer holds the bucket back too
            live.retry_at = time.monotonic() + (hint if hint else min(0.05 * 2 ** live.retries, 2.0))
            self.retrying[live.coid] = live
            return True
        return False

    def retry_now(self, live: LiveOrder) -> None:
        """Send `live` again at the next chance (it never reached the exchange before a reconnect)."""
        live.retry_at = time.monotonic()
        self.retrying[live.coid] = live

    def resend_due(self, now: float) -> None:
        """Send again what a retryable `err` refused (the exchange placed nothing), once its delay is up."""
        for coid, live in list(self.retrying.items()):  # refused in send order: resent in that order
            if live.retry_at is not None and live.retry_at > now:
                break  # a later refusal never overtakes an earlier one (pipelined runs)
            if live.retry_at is None or live.resend is None:
                continue
            del self.retrying[coid]
            live.retry_at = None
            message, index, order_key, leg = live.resend
            with self.interrupts.critical():
                self.journal.record_intent(coid, index, order_key, leg, message)
                self.session.send(message)
            self.ledger.progress("sent", index, order_key, "", f"{leg.value} (retry {live.retries})")

    def next_retry_in(self, now: float, wait: float) -> float:
        """`wait`, or less if a refused order is due to go again sooner."""
        for live in self.retrying.values():
            if live.retry_at is not None:
                wait = min(wait, max(live.retry_at - now, 0.001))
        return wait
