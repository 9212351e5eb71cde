"""What happens to an order once it reaches the matching engine: resting, trading, and ending.

Every execution updates both sides' positions, fees and reserved margin, and reports the passive side
before the aggressor (each as `order_response` then `fill_response`); an order ending without a fill
(cancel, self-trade prevention, ALO cross, IOC/FOK expiry) is reported once, by `_finish`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from runner.enums import OrderStatus
from runner.simulator.accounts import Account
from runner.simulator.idgen import IdGen
from runner.simulator.market import Market
from runner.simulator.matching import FILL, fillable, sweep, would_cross
from runner.simulator.orders import ALO, BUY, GTC, LIMIT, ZERO, Order, StopOrder
from runner.simulator.outbound import FILLS, Outbound, PublicTrade, order_event

if TYPE_CHECKING:
    from runner.simulator.accounts import Position
    from runner.simulator.config import EngineConfig
    from runner.simulator.twap import Twap


class ExecutionMixin:
    """Part of `Exchange` (engine.py): matching, executions and the end of an order's life.

    Changes the books in `_markets`, the accounts in `_accounts` (positions, fees, PnL, margin,
    trades) and the market maker's orders (`_mm`); schedules market-maker refills in `_mm_due`,
    records TWAP fills in `_twaps` and marks `_touched` when the mark may have moved (`_stops_by_symbol`
    says whether anyone is watching). Reads `config` (fees, ALO cross status, refill delay), `_clock`,
    `_trade_ids`; every execution goes on the public tape `_public_trades` (the market-data socket's
`trade` channel). A fill of an entry with TP/SL grows its bracket (`_grow_bracket`, stop_orders.py).
    """

    config: EngineConfig
    _accounts: dict[str, Account]
    _markets: dict[str, Market]
    _mm: Account
    _mm_due: dict[str, float]
    _trade_ids: IdGen
    _public_trades: list[PublicTrade]
    _twaps: dict[str, Twap]
    _touched: set[str]
    _stops_by_symbol: dict[str, dict[str, StopOrder]]
    _clock: Callable[[], float]

    if TYPE_CHECKING:  # the other parts of `Exchange` this one calls; mypy checks they match there

        def _grow_bracket(self, account: Account, entry: Order, qty: Decimal,
                          out: list[Outbound]) -> None: ...
        @staticmethod
        def _track_open(pos: Position, order: Order, sign: int) -> None: ...

    def _arrive(self, order: Order, market: Market, out: list[Outbound]) -> None:
        """The order reaches the matching engine (after the speed bump, if any)."""
        book = market.book
        if order.type == ALO:
            if would_cross(book, order.side, order.price):
                self._finish(order, self.config.alo_cross_status, out)
            else:
                book.add(order)
                self._book_changed(market.symbol)
            return
        limit = (
            order.price
            if order.type == LIMIT
            else (market.max_price if order.side == BUY else market.min_price)
        )
        qty = order.remaining
        if order.reduce_only:
            qty = min(qty, self._accounts[order.account_id].position(market.symbol).reducible(order.side))
            if qty <= ZERO:
                self._finish(order, OrderStatus.CANCELLED.value, out)
                return
        if order.tif == "FOK" and not fillable(book, order.side, limit, qty, order.account_id):
            self._finish(order, OrderStatus.CANCELLED.value, out)
            return
        traded = self._trade(order, market, limit, qty, out)
        if order.remaining == ZERO:
            return
        if order.tif == GTC and order.type == LIMIT:
            book.add(order)
            self._book_changed(market.symbol)
        elif traded == ZERO:
            self._finish(order, OrderStatus.CANCELLED.value, out)
        else:  # IOC partly filled: its last FILLED shows quantity_remaining > 0; nothing rests
            self._close(order)

    def _trade(
        self, taker: Order, market: Market, limit: Decimal | None, qty: Decimal, out: list[Outbound]
    ) -> Decimal:
        traded = ZERO
        for kind, maker, fill_qty, price in sweep(market.book, taker.side, limit, qty, taker.account_id):
            if kind != FILL:
                self._finish(maker, "CANCELLED_STP", out)
                continue
            taker.remaining -= fill_qty
            taker.filled += fill_qty
            traded += fill_qty
            self._execution(market, taker, maker, fill_qty, price, out)
        return traded

    def _execution(
        self, market: Market, taker: Order, maker: Order, qty: Decimal, price: Decimal, out: list[Outbound]
    ) -> None:
        now = self._clock()
        trade_id = self._trade_ids.uuid4()
        market.last_price = price
        symbol = market.symbol
        self._public_trades.append(PublicTrade(trade_id, symbol, price, qty, taker.side, now))
        self._touched.add(symbol)
        cfg = self.config
        for order, is_taker in ((maker, False), (taker, True)):
            if order.is_mm:
                if not is_taker and cfg.mm_replenish_ms >= 0 and symbol not in self._mm_due:
                    self._mm_due[symbol] = now + cfg.mm_replenish_ms / 1000
                continue
            account = self._accounts[order.account_id]
            pos = account.position(symbol)
            fee = qty * price * (cfg.taker_fee_rate if is_taker else cfg.maker_fee_rate)
            realised = pos.apply_fill(order.side, qty, price)
            pos.fees += fee
            account.fees += fee
            account.realised_pnl += realised
            tracked = order.order_id in account.orders
            if tracked:
                if order.side == BUY:
                    pos.open_buy -= qty
                else:
                    pos.open_sell -= qty
                increasing = min(order.remaining, max(ZERO, order.quantity - order.reducible_at_accept))
                account.set_order_margin(order, increasing * order.margin_rate)
            order.status = OrderStatus.FILLED.value
            order.update_time = now
            out.append(order_event(order, OrderStatus.FILLED.value, now, trade_id))
            out.append(
                Outbound(
                    "account",
                    FILLS,
                    account.account_id,
                    {
                        "fill_response": {
                            "trade_id": trade_id,
                            "user_id": account.user_id,
                            "symbol": symbol,
                            "price": price,
                            "quantity": qty,
                            "side": order.side,
                            "aggressor_side": taker.side,
                            "order_id": order.order_id,
                            "fee": fee,
                            "order_type": order.type,
                            "tif": order.tif,
                            "order_price": order.price,
                            "client_order_id": order.client_order_id,
                            "remaining_quantity": order.remaining,
                            "take_profit": order.take_profit,
                            "stop_loss": order.stop_loss,
                            "execution_type": "NEW",
                            "timestamp": now,
                            "realised_pnl": realised,
                        }
                    },
                )
            )
            account.trades.append(
                {
                    "trade_id": trade_id,
                    "symbol": symbol,
                    "price": price,
                    "quantity": qty,
                    "aggressor_side": taker.side,
                    "side": order.side,
                    "order_id": order.order_id,
                    "client_order_id": order.client_order_id,
                    "fee": fee,
                    "timestamp": now,
                    "order_type": order.type,
                    "tif": order.tif,
                }
            )
            if order.take_profit != ZERO or order.stop_loss != ZERO:
                self._grow_bracket(account, order, qty, out)
            if tracked and order.remaining == ZERO:
                self._close(order)
            if order.twap_id is not None:
                twap = self._twaps.get(order.twap_id)
                if twap is not None:
                    twap.record_fill(qty, price, now)
            self._enforce_reduce_only(account, symbol, out)

    def _finish(self, order: Order, status: str, out: list[Outbound]) -> None:
        """End an open order without a fill (cancel, STP, ALO cross, IOC/FOK expiry) and report it."""
        market = self._markets[order.symbol]
        if order.resting:
            market.book.remove(order)
            self._book_changed(order.symbol)
        if order.is_mm:
            self._mm.orders.pop(order.order_id, None)
            return
        self._close(order)
        order.status = status
        now = self._clock()
        order.update_time = now
        out.append(order_event(order, status, now))

    def _book_changed(self, symbol: str) -> None:
        """A resting order came or went: the best bid/ask, and so the mark, may have moved."""
        if self._stops_by_symbol[symbol]:
            self._touched.add(symbol)

    def _close(self, order: Order) -> None:
        """Forget a no-longer-open order: book, open quantities, reserved margin."""
        account = self._accounts[order.account_id]
        if account.orders.pop(order.order_id, None) is None:
            return
        account.closed[order.order_id] = order
        if order.reduce_only:
            account.reduce_only.pop(order.order_id, None)
        self._markets[order.symbol].book.remove(order)
        pos = account.position(order.symbol)
        self._track_open(pos, order, -1)
        account.set_order_margin(order, ZERO)
        order.release_at = None

    def _enforce_reduce_only(self, account: Account, symbol: str, out: list[Outbound]) -> None:
        """Resting reduce-only orders that could now only increase the position are cancelled."""
        if not account.reduce_only:
            return
        pos = account.positions.get(symbol)
        for order in [o for o in account.reduce_only.values() if o.symbol == symbol]:
            if pos is None or pos.reducible(order.side) == ZERO:
                self._finish(order, OrderStatus.CANCELLED.value, out)
