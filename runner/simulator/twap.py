"""TWAP orders: validation as documented on QFEX's add_twap page, and the child schedule.

A TWAP splits `total_quantity` into `num_orders` MARKET IOC children, one every `order_interval_secs`
(the first immediately), each lot-rounded down with the remainder in the last child. Status values
are not published by QFEX (its example says "ENGINE_STATUS"); we use ACTIVE, COMPLETED, CANCELLED.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from runner.simulator import validation as v
from runner.simulator.errors import CommandError
from runner.simulator.market import Market
from runner.simulator.orders import ZERO
from runner.simulator.wire import JsonObject


@dataclass(frozen=True)
class TwapSpec:
    """A checked add_twap request: what `Twap` is built from."""

    symbol: str
    side: str
    total_quantity: Decimal
    num_orders: int
    interval: int
    reduce_only: bool
    client_twap_id: str | None


def validate_twap(
    params: JsonObject, markets: dict[str, Market], accept_strings: bool, max_id_length: int | None
) -> tuple[Market, TwapSpec]:
    """Check an add_twap request; problems raise CommandError(InvalidParameter) naming the field."""
    symbol = v.text(params, "symbol", required=True)
    side = v.side(params)
    total_quantity = v.number(params, "total_quantity", accept_strings=accept_strings, required=True)
    num = v.number(params, "num_orders", accept_strings=accept_strings, required=True)
    interval = v.number(params, "order_interval_secs", accept_strings=accept_strings, required=True)
    if "reduce_only" not in params:
        raise CommandError(v.INVALID_PARAMETER, "missing required parameter 'reduce_only'")
    reduce_only = v.flag(params, "reduce_only")
    client_twap_id = v.text(params, "client_twap_id")
    market = markets.get(symbol)
    if market is None:
        raise CommandError(v.INVALID_PARAMETER, f"unknown symbol {symbol!r}")
    if market.status != "ACTIVE":
        raise CommandError(v.INVALID_PARAMETER, f"{symbol} is not active")
    if num != num.to_integral_value() or num < 2:
        raise CommandError(v.INVALID_PARAMETER, f"'num_orders' must be a whole number >= 2, got {num}")
    if interval != interval.to_integral_value() or interval < 30:
        raise CommandError(
            v.INVALID_PARAMETER, f"'order_interval_secs' must be a whole number >= 30, got {interval}"
        )
    num_orders = int(num)
    if total_quantity <= ZERO or not v.on_grid(total_quantity, market.lot):
        raise CommandError(
            v.INVALID_PARAMETER,
            f"'total_quantity' must be a positive multiple of the lot size "
            f"{market.lot}, got {total_quantity}",
        )
    if total_quantity / num_orders < market.min_qty:
        raise CommandError(
            v.INVALID_PARAMETER,
            f"average child quantity {total_quantity / num_orders} "
            f"is below the minimum quantity {market.min_qty}",
        )
    if client_twap_id is not None and max_id_length is not None and len(client_twap_id) > max_id_length:
        raise CommandError(v.INVALID_PARAMETER, f"client_twap_id is longer than {max_id_length} characters")
    return market, TwapSpec(symbol, side, total_quantity, num_orders, int(interval), reduce_only,
                            client_twap_id)


class Twap:
    def __init__(
        self, twap_id: str, account_id: str, user_id: str, market: Market, spec: TwapSpec, now: float,
        speed: float = 1.0,
    ) -> None:
        self.twap_id = twap_id
        self.account_id = account_id
        self.user_id = user_id
        self.symbol = market.symbol
        self.side = spec.side
        self.total_quantity = spec.total_quantity
        self.num_orders = spec.num_orders
        self.interval = spec.interval
        self.reduce_only = spec.reduce_only
        self.client_twap_id = spec.client_twap_id
        self.created_at = now
        self.updated_at = now
        self.status = "ACTIVE"
        self.children_sent = 0
        self.filled_quantity = ZERO
        self._notional = ZERO
        self.next_at: float | None = now
        #: EngineConfig.twap_speed: the schedule runs this many times faster than `interval`
        self.speed = speed
        lot = market.lot
        self._child = (spec.total_quantity / spec.num_orders / lot).quantize(
            Decimal(1), rounding=ROUND_FLOOR
        ) * lot

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"

    def next_child_quantity(self) -> Decimal:
        if self.children_sent == self.num_orders - 1:
            return self.total_quantity - self._child * (self.num_orders - 1)
        return self._child

    def child_sent(self, now: float) -> None:
        self.children_sent += 1
        self.updated_at = now
        if self.children_sent >= self.num_orders:
            self.next_at = None
            self.status = "COMPLETED"
        else:
            self.next_at = self.created_at + self.children_sent * self.interval / self.speed

    def record_fill(self, qty: Decimal, price: Decimal, now: float) -> None:
        self.filled_quantity += qty
        self._notional += qty * price
        self.updated_at = now

    def cancel(self, now: float) -> None:
        self.status = "CANCELLED"
        self.next_at = None
        self.updated_at = now

    def payload(self) -> JsonObject:
        average = self._notional / self.filled_quantity if self.filled_quantity else ZERO
        return {
            "twap_id": self.twap_id,
            "client_twap_id": self.client_twap_id,
            "user_id": self.user_id,
            "status": self.status,
            "symbol": self.symbol,
            "total_quantity": self.total_quantity,
            "filled_quantity": self.filled_quantity,
            "average_fill_price": average,
            "total_num_orders": self.num_orders,
            "order_interval_secs": self.interval,
            "reduce_only": self.reduce_only,
            "side": self.side,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
