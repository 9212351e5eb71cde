"""The validated playbook as immutable values (Decimal everywhere money or size is involved).

Built by `runner.playbook.load` from a file that passed the schema; trading rules and the planner read it.
Every order keeps the `Location` of its YAML node so later checks can point at the right line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from runner.enums import OrderType, Side, TimeInForce
from runner.playbook.ids import Leg, client_order_id, step_key
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


class StepKind(str, Enum):
    """What a step besides an order does (playbook `step:`); each has a runner in runner.run.steps."""

    SET_LEVERAGE = "set_leverage"
    CANCEL = "cancel"
    CLOSE_POSITION = "close_position"
    TWAP = "twap"
    CANCEL_TWAP = "cancel_twap"
    EXITS = "exits"


class Scope(str, Enum):
    """Whose orders a `cancel` of a symbol (or of all) touches."""

    PLAYBOOK = "playbook"  # only orders (and exits) this playbook placed: known from the journal
    ACCOUNT = "account"  # every open order of the account: QFEX's cancel_all_orders / per-order cancel


@dataclass(frozen=True)
class PlaybookStep:
    """One step besides orders, in `orders:` beside them (`step: cancel`, ...); runs where it stands.

    Only the fields of its `kind` are set (the schema allows no others); `after_orders` says where it
    runs: after that many of the playbook's orders.
    """

    id: str
    kind: StepKind
    after_orders: int
    symbol: str | None = None
    #: cancel / close_position: every symbol (`all: true`)
    all: bool = False
    #: cancel: playbook order ids, a bracket leg as `<id>.take_profit` / `<id>.stop_loss`
    orders: tuple[str, ...] = ()
    scope: Scope = Scope.PLAYBOOK
    leverage: Decimal | None = None
    side: Side | None = None
    quantity: Decimal | None = None
    duration_s: int | None = None
    interval_s: int | None = None
    reduce_only: bool = False
    #: twap: `ack` (default: once QFEX took it) or `done` (once every child order went)
    wait: str = "ack"
    #: cancel_twap: the id of the twap step to cancel
    twap: str | None = None
    #: exits: the exit plan protecting a position the account holds (quantity None: the whole position)
    exits: Bracket | None = None
    note: str = ""
    location: Location = field(default=Location("<memory>"), compare=False)

    @property
    def num_orders(self) -> int | None:
        """twap: how many child orders (QFEX `num_orders`): duration / interval, the first at once."""
        if self.duration_s is None or not self.interval_s:
            return None
        return self.duration_s // self.interval_s


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
    #: the steps besides orders, in file order (each knows after how many orders it runs)
    steps: tuple[PlaybookStep, ...] = ()

    def client_order_id(self, order: Order, leg: Leg = Leg.ENTRY) -> str:
        return client_order_id(self.name, self.run_id, order.id, leg)

    def step_key(self, step: PlaybookStep) -> str:
        """The step's deterministic key (journal, and client id where QFEX's message has one)."""
        return step_key(self.name, self.run_id, step.id)

    def sequence(self) -> list[tuple[int, Order | PlaybookStep]]:
        """Orders and steps in file order: (order index, order) or (step index, step)."""
        items: list[tuple[int, Order | PlaybookStep]] = []
        steps = list(enumerate(self.steps))
        position = 0
        for index, order in enumerate(self.orders):
            while position < len(steps) and steps[position][1].after_orders <= index:
                items.append(steps[position])
                position += 1
            items.append((index, order))
        items.extend(steps[position:])
        return items

    @property
    def has_exit_plans(self) -> bool:
        """Are exit plans kept (a bracket's ladder or managed stop, or an `exits:` step: runner.run.exits)?"""
        return any(o.bracket is not None and o.bracket.exit_plan for o in self.orders) \
            or any(step.kind is StepKind.EXITS for step in self.steps)

    @property
    def has_after_fill_exits(self) -> bool:
        """Does any order place its exits after its fill (`bracket.mode: after_fill`)?"""
        return any(o.bracket is not None and o.bracket.mode is BracketMode.AFTER_FILL for o in self.orders)

    def steps_after(self, order_index: int) -> bool:
        """Does any step run after the order at `order_index` (on_reject: stop must stop it too)?"""
        return any(step.after_orders > order_index for step in self.steps)
