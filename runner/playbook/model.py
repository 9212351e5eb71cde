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


@dataclass(frozen=True)
class Bracket:
    take_profit: Decimal | None
    stop_loss: Decimal | None
    mode: BracketMode = BracketMode.ATTACHED


@dataclass(frozen=True)
class Sizing:
    """`quantity: {risk: 200}`, `{risk: 0.5%}` or `{notional: 5000}`: how the quantity is derived.

    The order's `quantity` holds the resolved value (floored to the lot) once `runner.playbook.sizing`
    could resolve it, and 0 until then (no reference data, or no equity for a percentage).
    """

    #: "risk" (quote currency lost at the stop) or "notional" (quantity x price)
    kind: str
    amount: Decimal
    #: `amount` is a percentage of the account's equity (`{risk: 0.5%}`)
    percent: bool = False
    #: how the quantity was resolved, in words (`20 = 200 / 10.00 (|entry - stop|), floored to ...`)
    explanation: str = field(default="", compare=False)

    @property
    def text(self) -> str:
        """As written: `risk 200`, `risk 0.5%`, `notional 5000` (also the definition's `sizing`)."""
        return f"{self.kind} {format(self.amount, 'f')}{'%' * self.percent}"


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
    #: `quantity: {risk: ...}` / `{notional: ...}` (None: the quantity was written as a number)
    sizing: Sizing | None = None

    @property
    def sized(self) -> bool:
        """The quantity is known: written as a number, or resolved from `sizing`."""
        return self.sizing is None or self.quantity > 0


@dataclass(frozen=True)
class Limits:
    max_order_notional: Decimal | None = None
    max_total_notional: Decimal | None = None
    symbols: tuple[str, ...] | None = None
    #: risk limits (runner.playbook.rules.risk_limits): loss at the stop per order, over the playbook,
    #: gross notional / equity, and every opening order must have a stop
    max_loss_per_order: Decimal | None = None
    max_loss: Decimal | None = None
    max_leverage: Decimal | None = None
    require_stop: bool = False


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
