"""The market maker in the engine: moving the fair price and re-quoting its ladder around it.

The ladder's shape (levels, sizes, jitter) is `marketmaker.ladder`; here its quotes become real
orders that may trade at once with user orders they cross, so quoting goes through `_trade`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from runner.simulator.accounts import Account
from runner.simulator.idgen import IdGen
from runner.simulator.market import Market
from runner.simulator.marketmaker import MM_ACCOUNT_ID, MM_USER_ID, ladder
from runner.simulator.orders import GTC, LIMIT, ZERO, Order
from runner.simulator.outbound import Outbound

if TYPE_CHECKING:
    from runner.simulator.config import EngineConfig


class QuotingMixin:
    """Part of `Exchange` (engine.py): the fair price and the market maker's quotes.

    Sets each market's `fair`, replaces the market maker's orders (`_mm`) in its book, clears its
    refill in `_mm_due`, bumps `_mm_generation` (the ladder's jitter seed) and marks `_touched`.
    Reads `config` (market maker on/off, levels, depth, seed), `_clock`, `_mm_ids`, `_seq`.
    """

    config: EngineConfig
    _mm: Account
    _mm_due: dict[str, float]
    _mm_generation: dict[str, int]
    _mm_ids: IdGen
    _seq: int
    _touched: set[str]
    _clock: Callable[[], float]

    if TYPE_CHECKING:  # the other parts of `Exchange` this one calls; mypy checks they match there

        def _trade(self, taker: Order, market: Market, limit: Decimal | None, qty: Decimal,
                   out: list[Outbound]) -> Decimal: ...

    def _move_fair(self, market: Market, mid: Decimal, out: list[Outbound]) -> None:
        """New fair price (kept on the tick and inside the symbol's price band)."""
        mid = min(max(mid, market.min_price, market.tick), market.max_price)
        market.fair = market.round_to_tick(mid, up=False)
        self._touched.add(market.symbol)
        if self.config.market_maker:
            self._requote(market, out)

    def _requote(self, market: Market, out: list[Outbound]) -> None:
        """Replace the market maker's ladder around the fair price. New quotes trade against any user
        order they cross (the user is then the passive side, filled at their own price)."""
        self._mm_due.pop(market.symbol, None)
        for order in [o for o in self._mm.orders.values() if o.symbol == market.symbol]:
            market.book.remove(order)
            del self._mm.orders[order.order_id]
        generation = self._mm_generation[market.symbol] = self._mm_generation[market.symbol] + 1
        cfg = self.config
        now = self._clock()
        for side, price, qty in ladder(
            market, market.fair, cfg.mm_levels, cfg.mm_depth_notional, cfg.seed, generation
        ):
            self._seq += 1
            order = Order(
                self._mm_ids.uuid4(),
                MM_ACCOUNT_ID,
                MM_USER_ID,
                market.symbol,
                side,
                LIMIT,
                GTC,
                qty,
                price,
                "",
                now,
                self._seq,
                is_mm=True,
            )
            self._mm.orders[order.order_id] = order
            self._trade(order, market, price, qty, out)
            if order.remaining > ZERO:
                market.book.add(order)
            else:
                del self._mm.orders[order.order_id]
        self._touched.add(market.symbol)
