"""Price-time matching of one incoming order against a book, with self-trade prevention.

`sweep` is a generator so the engine can book each execution (positions, messages, reduce-only caps)
before the next one is computed, and can stop early by simply not asking for more.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from runner.simulator.book import Book
from runner.simulator.orders import BUY, SELL, ZERO, Order

FILL = "fill"
STP = "stp"


def crosses(side: str, price: Decimal, limit: Decimal | None) -> bool:
    """Would a `side` order limited at `limit` (None = market) trade at resting `price`?"""
    if limit is None:
        return True
    return price <= limit if side == BUY else price >= limit


def sweep(
    book: Book, side: str, limit: Decimal | None, quantity: Decimal, account_id: str
) -> Iterator[tuple[str, Order, Decimal, Decimal]]:
    """Trade up to `quantity` for a `side` taker, best price first, oldest order first within a price.

    Yields `(FILL, maker, qty, price)` per execution (maker already decremented, removed from the book
    when done) and `(STP, maker, 0, price)` when a resting order of the taker's own account is met: QFEX
    cancels the *passive* order in that case, so it is removed and matching continues behind it.
    """
    if side == BUY:
        levels, prices, best_index = book.asks, book.ask_prices, 0
    else:
        levels, prices, best_index = book.bids, book.bid_prices, -1
    left = quantity
    while left > ZERO and prices:
        price = prices[best_index]
        if limit is not None and (price > limit if side == BUY else price < limit):
            break
        maker = next(iter(levels[price].values()))
        if maker.account_id == account_id:
            book.remove(maker)
            yield STP, maker, ZERO, price
            continue
        qty = maker.remaining if maker.remaining < left else left
        maker.remaining -= qty
        maker.filled += qty
        left -= qty
        if maker.remaining == ZERO:
            book.remove(maker)
        yield FILL, maker, qty, price


def fillable(book: Book, side: str, limit: Decimal | None, quantity: Decimal, account_id: str) -> bool:
    """Could `quantity` trade right now (other accounts' liquidity only)? The FOK pre-check."""
    total = ZERO
    for price, level in book.opposite_levels(side):
        if not crosses(side, price, limit):
            return False
        for order in level.values():
            if order.account_id != account_id:
                total += order.remaining
                if total >= quantity:
                    return True
    return False


def would_cross(book: Book, side: str, price: Decimal) -> bool:
    """Would a limit order at `price` trade on arrival (the ALO test)?"""
    best = book.best_ask() if side == BUY else book.best_bid()
    if best is None:
        return False
    return best <= price if side == BUY else best >= price


__all__ = ["FILL", "SELL", "STP", "crosses", "fillable", "sweep", "would_cross"]
