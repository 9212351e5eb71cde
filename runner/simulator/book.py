"""A central limit order book with price-time priority.

Each side keeps a sorted list of distinct prices (bisect: O(log n) search) and, per price, an
insertion-ordered dict of orders (O(1) append, O(1) removal by id, FIFO iteration = time priority).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from decimal import Decimal

from runner.simulator.orders import BUY, Order


class Book:
    __slots__ = ("ask_prices", "asks", "bid_prices", "bids", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: dict[Decimal, dict[str, Order]] = {}
        self.asks: dict[Decimal, dict[str, Order]] = {}
        self.bid_prices: list[Decimal] = []  # ascending; best bid is the last
        self.ask_prices: list[Decimal] = []  # ascending; best ask is the first

    def add(self, order: Order) -> None:
        """Rest `order` at the back of its price level."""
        if order.side == BUY:
            levels, prices = self.bids, self.bid_prices
        else:
            levels, prices = self.asks, self.ask_prices
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = {}
            insort(prices, order.price)
        level[order.order_id] = order
        order.resting = True

    def remove(self, order: Order) -> None:
        if not order.resting:
            return
        if order.side == BUY:
            levels, prices = self.bids, self.bid_prices
        else:
            levels, prices = self.asks, self.ask_prices
        level = levels[order.price]
        del level[order.order_id]
        if not level:
            del levels[order.price]
            del prices[bisect_left(prices, order.price)]
        order.resting = False

    def best_bid(self) -> Decimal | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> Decimal | None:
        return self.ask_prices[0] if self.ask_prices else None

    def opposite_levels(self, side: str) -> Iterator[tuple[Decimal, dict[str, Order]]]:
        """Levels a `side` taker would trade against, best first. Read-only: do not mutate while iterating."""
        if side == BUY:
            for price in self.ask_prices:
                yield price, self.asks[price]
        else:
            for price in reversed(self.bid_prices):
                yield price, self.bids[price]

    def depth(self, levels: int = 10) -> dict[str, list[tuple[Decimal, Decimal]]]:
        """Aggregated `{"bids": [(price, qty)...], "asks": [...]}`, best first (for tests and display)."""
        bids = [
            (p, sum((o.remaining for o in self.bids[p].values()), Decimal(0)))
            for p in reversed(self.bid_prices[-levels:])
        ]
        asks = [
            (p, sum((o.remaining for o in self.asks[p].values()), Decimal(0)))
            for p in self.ask_prices[:levels]
        ]
        return {"bids": bids, "asks": asks}

    def orders(self) -> Iterator[Order]:
        for level in list(self.bids.values()) + list(self.asks.values()):
            yield from list(level.values())
