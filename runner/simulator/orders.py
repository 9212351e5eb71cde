"""Order and stop-order state, and the documented message shapes built from them.

Plain `__slots__` classes rather than dataclasses: an order is created on every `add_order`, and the
local exchange must sustain thousands per second. Sides, types and time-in-force travel as the plain
strings QFEX puts on the wire.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from runner.simulator.wire import JsonObject

ZERO = Decimal(0)
BUY = "BUY"
SELL = "SELL"
LIMIT = "LIMIT"
MARKET = "MARKET"
ALO = "ALO"
TAKE_PROFIT = "TAKE_PROFIT"
STOP_LOSS = "STOP_LOSS"
STOP_TYPES = (TAKE_PROFIT, STOP_LOSS)
GTC = "GTC"
IOC = "IOC"
FOK = "FOK"


def opposite(side: str) -> str:
    return SELL if side == BUY else BUY


class Order:
    """A regular order (LIMIT / MARKET / ALO, or the market execution of a triggered stop)."""

    __slots__ = (
        "account_id",
        "bracket_sl",
        "bracket_tp",
        "client_order_id",
        "created",
        "filled",
        "is_mm",
        "margin",
        "margin_rate",
        "order_id",
        "price",
        "quantity",
        "reduce_only",
        "reducible_at_accept",
        "release_at",
        "remaining",
        "resting",
        "seq",
        "side",
        "status",
        "stop_loss",
        "symbol",
        "take_profit",
        "tif",
        "twap_id",
        "type",
        "update_time",
        "user_id",
    )

    def __init__(
        self,
        order_id: str,
        account_id: str,
        user_id: str,
        symbol: str,
        side: str,
        type_: str,
        tif: str,
        quantity: Decimal,
        price: Decimal,
        client_order_id: str,
        now: float,
        seq: int,
        take_profit: Decimal = ZERO,
        stop_loss: Decimal = ZERO,
        reduce_only: bool = False,
        is_mm: bool = False,
    ) -> None:
        self.order_id = order_id
        self.account_id = account_id
        self.user_id = user_id
        self.symbol = symbol
        self.side = side
        self.type = type_
        self.tif = tif
        self.quantity = quantity
        self.remaining = quantity
        self.filled = ZERO
        self.price = price
        self.client_order_id = client_order_id
        self.take_profit = take_profit
        self.stop_loss = stop_loss
        self.reduce_only = reduce_only
        self.is_mm = is_mm
        self.created = now
        self.update_time = now
        self.seq = seq
        self.status = "ACK"
        self.margin = ZERO  # initial margin reserved while the order is open
        self.margin_rate = ZERO  # margin per unit of quantity (reference price / leverage)
        self.reducible_at_accept = ZERO
        self.release_at: float | None = None  # set while held by the speed bump
        self.resting = False  # on the book
        self.bracket_tp: str | None = None  # attached stop ids, once the entry has filled
        self.bracket_sl: str | None = None
        self.twap_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"Order({self.order_id[:8]} {self.symbol} {self.side} {self.type} {self.remaining}/"
            f"{self.quantity} @ {self.price} {self.status})"
        )


def by_arrival(order: Order) -> int:
    """Sort key: the order orders arrived in (cancel-all and cancel-on-disconnect go oldest first)."""
    return order.seq


class StopOrder:
    """A TAKE_PROFIT / STOP_LOSS order waiting for the mark price to reach its trigger."""

    __slots__ = (
        "account_id",
        "client_order_id",
        "created",
        "parent_order_id",
        "quantity",
        "seq",
        "sibling_id",
        "side",
        "stop_order_id",
        "symbol",
        "tif",
        "trigger",
        "type",
        "update_time",
        "user_id",
    )

    def __init__(
        self,
        stop_order_id: str,
        account_id: str,
        user_id: str,
        symbol: str,
        side: str,
        type_: str,
        trigger: Decimal,
        quantity: Decimal,
        client_order_id: str,
        tif: str,
        now: float,
        seq: int,
        parent_order_id: str | None = None,
    ) -> None:
        self.stop_order_id = stop_order_id
        self.account_id = account_id
        self.user_id = user_id
        self.symbol = symbol
        self.side = side
        self.type = type_
        self.trigger = trigger
        self.quantity = quantity
        self.client_order_id = client_order_id
        self.tif = tif
        self.created = now
        self.update_time = now
        self.seq = seq
        self.parent_order_id = parent_order_id
        self.sibling_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"StopOrder({self.stop_order_id[:8]} {self.symbol} {self.side} {self.type} "
            f"{self.quantity} @ {self.trigger})"
        )


# ------------------------------------------------------------------------------------- message shapes


def order_payload(o: Order, status: str, now: float, trade_id: str | None = None) -> JsonObject:
    """The documented `order_response` body: every field, take_profit/stop_loss 0 when unset."""
    return {
        "order_id": o.order_id,
        "symbol": o.symbol,
        "status": status,
        "quantity": o.quantity,
        "price": o.price,
        "take_profit": o.take_profit,
        "stop_loss": o.stop_loss,
        "side": o.side,
        "type": o.type,
        "time_in_force": o.tif,
        "user_id": o.user_id,
        "client_order_id": o.client_order_id,
        "quantity_remaining": o.remaining,
        "update_time": now,
        "trade_id": trade_id,
    }


def orderless_payload(*, order_id: str, client_order_id: str, symbol: str, status: str, user_id: str,
                       now: float, side: str = BUY, type_: str = LIMIT, tif: str = GTC) -> JsonObject:
    """An `order_response` body about no order (NO_SUCH_ORDER, a close_position with nothing to close).

    QFEX's OrderResponse schema (AsyncAPI) makes only `trade_id` nullable, so every other field
    carries a value of its declared type: what the request gave, and for what cannot be known the
    enums' zero values (BUY, LIMIT, GTC — the proto's code 0), zero amounts and "" ids.
    """
    return {
        "order_id": order_id,
        "symbol": symbol,
        "status": status,
        "quantity": ZERO,
        "price": ZERO,
        "take_profit": ZERO,
        "stop_loss": ZERO,
        "side": side,
        "type": type_,
        "time_in_force": tif,
        "user_id": user_id,
        "client_order_id": client_order_id,
        "quantity_remaining": ZERO,
        "update_time": now,
        "trade_id": None,
    }


def stop_payload(s: StopOrder, status: str, now: float, *, quantity: Decimal | None = None) -> JsonObject:
    """A stop order in `order_response` form (type TAKE_PROFIT/STOP_LOSS, price = trigger)."""
    qty = s.quantity if quantity is None else quantity
    return {
        "order_id": s.stop_order_id,
        "symbol": s.symbol,
        "status": status,
        "quantity": qty,
        "price": s.trigger,
        "take_profit": ZERO,
        "stop_loss": ZERO,
        "side": s.side,
        "type": s.type,
        "time_in_force": s.tif,
        "user_id": s.user_id,
        "client_order_id": s.client_order_id,
        "quantity_remaining": qty,
        "update_time": now,
        "trade_id": None,
    }


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def stop_order_message(s: StopOrder, now: float, *, quantity: Decimal | None = None) -> JsonObject:
    """`stop_order_response` (AsyncAPI `StopOrder`): update_time is a date-time string there."""
    return {
        "stop_order_response": {
            "stop_order_id": s.stop_order_id,
            "user_id": s.user_id,
            "symbol": s.symbol,
            "price": s.trigger,
            "quantity": s.quantity if quantity is None else quantity,
            "direction": s.side,
            "stop_order_type": s.type,
            "client_order_id": s.client_order_id,
            "update_time": iso_time(now),
        }
    }
