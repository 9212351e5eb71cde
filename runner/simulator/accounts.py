"""Accounts: positions (average price, realised/unrealised PnL), fees, balances and initial margin.

Margin model (QFEX documents only "initial margin = notional / leverage" and "FAILED_MARGIN_CHECK:
insufficient available balance"): an order reserves margin only for the part that would *increase*
exposure (quantity beyond the opposing position at acceptance) at its limit price; a position holds
|position| x mark / leverage. available_balance = deposit + realised_pnl - fees + unrealised_pnl
- position_margin - order_margin.
"""

from __future__ import annotations

from decimal import Decimal

from runner.simulator.orders import BUY, ZERO, Order, StopOrder
from runner.simulator.wire import JsonObject


class Position:
    __slots__ = (
        "average_price",
        "fees",
        "net_funding",
        "open_buy",
        "open_orders",
        "open_sell",
        "qty",
        "realised_pnl",
        "symbol",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.qty = ZERO  # signed: long > 0, short < 0
        self.average_price = ZERO
        self.realised_pnl = ZERO
        self.fees = ZERO
        self.net_funding = ZERO
        self.open_buy = ZERO  # remaining quantity of open BUY orders
        self.open_sell = ZERO
        self.open_orders = 0

    def apply_fill(self, side: str, qty: Decimal, price: Decimal) -> Decimal:
        """Book a fill; return the PnL it realised (closing part x price difference)."""
        signed = qty if side == BUY else -qty
        old = self.qty
        realised = ZERO
        if old == ZERO or (old > ZERO) == (signed > ZERO):
            new = old + signed
            self.average_price = (abs(old) * self.average_price + qty * price) / abs(new)
            self.qty = new
            return realised
        closing = min(abs(old), qty)
        direction = Decimal(1) if old > ZERO else Decimal(-1)
        realised = (price - self.average_price) * closing * direction
        new = old + signed
        if new == ZERO:
            self.average_price = ZERO
        elif (new > ZERO) != (old > ZERO):  # flipped: the remainder opens at the fill price
            self.average_price = price
        self.qty = new
        self.realised_pnl += realised
        return realised

    def reducible(self, side: str) -> Decimal:
        """How much a `side` order could reduce this position (0 if it would add to it)."""
        if side == BUY:
            return -self.qty if self.qty < ZERO else ZERO
        return self.qty if self.qty > ZERO else ZERO


class Account:
    """One trading account (primary or subaccount) of a user."""

    __slots__ = (
        "account_id",
        "closed",
        "deposit",
        "fees",
        "is_mm",
        "leverage",
        "order_margin",
        "orders",
        "positions",
        "realised_pnl",
        "reduce_only",
        "stops",
        "trades",
        "twaps",
        "user_id",
    )

    def __init__(self, account_id: str, user_id: str, deposit: Decimal, *, is_mm: bool = False) -> None:
        self.account_id = account_id
        self.user_id = user_id
        self.deposit = deposit
        self.is_mm = is_mm
        self.positions: dict[str, Position] = {}
        self.leverage: dict[str, Decimal] = {}
        self.orders: dict[str, Order] = {}  # open regular orders (resting or speed-bumped), by order_id
        self.reduce_only: dict[str, Order] = {}  # the open orders that are reduce-only
        self.stops: dict[str, StopOrder] = {}  # open stop orders, by stop_order_id
        #: regular orders that ended (filled, cancelled, expired), by order_id: get_order (live dialect)
        self.closed: dict[str, Order] = {}
        self.trades: list[JsonObject] = []  # executed fills, oldest first
        self.twaps: dict[str, object] = {}
        self.order_margin = ZERO
        self.realised_pnl = ZERO
        self.fees = ZERO

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos

    def set_order_margin(self, order: Order, margin: Decimal) -> None:
        self.order_margin += margin - order.margin
        order.margin = margin

    def open_order_count(self) -> int:
        return len(self.orders) + len(self.stops)
