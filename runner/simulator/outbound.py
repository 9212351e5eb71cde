"""What every part of the engine shares about replies: who asked (`Session`), what goes out
(`Outbound`), and the channel names an `Outbound` is routed on.

Kept apart from `engine.py` so the engine's parts (entry, execution, stop orders, ...) can build
replies without importing the `Exchange` that inherits from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from runner.simulator.orders import Order, order_payload
from runner.simulator.wire import JsonObject

ORDER_RESPONSES = "order_responses"
FILLS = "fills"
POSITIONS = "positions"
BALANCES = "balances"
STOP_ORDERS = "stop_orders"


@dataclass(frozen=True)
class Session:
    """Who is asking: the account selected at auth (primary or subaccount) and its user."""

    account_id: str
    user_id: str


@dataclass
class Outbound:
    """One message to send: to the requesting connection ("caller") or to the account's subscribers."""

    to: str
    channel: str | None
    account_id: str | None
    message: JsonObject


@dataclass(frozen=True)
class PublicTrade:
    """One execution as the public tape shows it (no accounts): the market-data socket's `trade`."""

    trade_id: str
    symbol: str
    price: Decimal
    size: Decimal
    aggressor_side: str
    time: float


def order_event(order: Order, status: str, now: float, trade_id: str | None = None) -> Outbound:
    """An `order_response` about `order`, for its account's `order_responses` subscribers."""
    return Outbound("account", ORDER_RESPONSES, order.account_id,
                    {"order_response": order_payload(order, status, now, trade_id)})
