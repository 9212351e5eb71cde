"""The validated playbook as immutable values (Decimal everywhere money or size is involved).

Built by `runner.playbook.load` from a file that passed the schema; trading rules and the planner read it.
Every order keeps the `Location` of its YAML node so later checks can point at the right line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from runner.enums import OrderType, Side, TimeInForce
from runner.playbook.ids import Leg, client_order_id
from runner.problems import Location


class Wait(str, Enum):
    """When the next order may be sent."""

    ACK = "ack"
    FILL = "fill"
    NONE = "none"


class Expect(str, Enum):
    """What counts as success for an order."""

    ACCEPTED = "accepted"
    FILLED = "filled"
    REJECTED = "rejected"


class OnReject(str, Enum):
    STOP = "stop"
    CONTINUE = "continue"


class BracketMode(str, Enum):
    ATTACHED = "attached"
    AFTER_FILL = "after_fill"


# --- exit plans (take-profit ladders, managed stops: runner.playbook.exits) ---


@dataclass(frozen=True)
class TakeProfitLevel:
    """One level of a take-profit ladder: `percent` of the filled quantity, or `quantity`, or
    (neither, last level only) the rest."""

    price: Decimal
    percent: Decimal | None = None
    quantity: Decimal | None = None


@dataclass(frozen=True)
class Trail:
    """A trailing stop: `distance` (quote currency) or `percent` of the mark, never moved back."""

    distance: Decimal | None = None
    percent: Decimal | None = None
    activation: Decimal | None = None
    after: int | None = None


@dataclass(frozen=True)
class TimeLimit:
    """`2h` (seconds from a moment the exchange stamps) or an absolute UTC time (epoch seconds)."""

    text: str
    seconds: Decimal | None = None
    at: Decimal | None = None


@dataclass(frozen=True)
class Manage:
    break_even_after: int | None = None
    break_even_offset: Decimal = Decimal(0)
    trail: Trail | None = None
    cancel_entry_after: TimeLimit | None = None
    close_after: TimeLimit | None = None


@dataclass(frozen=True)
class Bracket:
    take_profit: Decimal | None
    stop_loss: Decimal | None
    mode: BracketMode = BracketMode.ATTACHED
    #: an exit plan's take-profit ladder (then `take_profit` is None); a single take_profit with
    #: `manage:` is a ladder of one level
    levels: tuple[TakeProfitLevel, ...] = ()
    manage: Manage | None = None

    @property
    def exit_plan(self) -> bool:
        """Managed by runner.run.exits (ladder, resized stop, manage:) rather than runner.run.brackets."""
        return bool(self.levels) or self.manage is not None


@dataclass(frozen=True)
class Order:
    id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None
    time_in_force: TimeInForce
    reduce_only: bool = False
    wait: Wait = Wait.ACK
    expect: Expect = Expect.ACCEPTED
    bracket: Bracket | None = None
    #: `expect: {rejected: STATUS}` (or a list): the rejection must carry one of these statuses
    expect_statuses: tuple[str, ...] = ()
    #: `note:` free text for the reader (never sent, not part of the definition)
    note: str = ""
    location: Location = field(default=Location("<memory>"), compare=False)


@dataclass(frozen=True)
class Limits:
    max_order_notional: Decimal | None = None
    max_total_notional: Decimal | None = None
    symbols: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Playbook:
    path: str
    name: str
    orders: tuple[Order, ...]
    run_id: str | None = None
    account: str | None = None
    on_reject: OnReject = OnReject.STOP
    cancel_on_disconnect: bool = False
    limits: Limits = Limits()
    #: sha256 hex of the file's bytes, recorded in reports
    sha256: str = ""

    def client_order_id(self, order: Order, leg: Leg = Leg.ENTRY) -> str:
        return client_order_id(self.name, self.run_id, order.id, leg)
