"""Order entry: add_order's pre-trade risk checks, the single reject reply, and accepting an order
(ACK, open-quantity and margin bookkeeping, then the book now or after the speed bump).

The static checks (symbol, type, tick, lot, quantity, band) are in `validation.py`; the checks here
need the account and the market's live state, so they run in the engine, in QFEX's documented order.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from runner.simulator import validation as v
from runner.simulator.accounts import Account, Position
from runner.simulator.errors import CommandError
from runner.simulator.idgen import IdGen
from runner.simulator.market import Market
from runner.simulator.orders import BUY, IOC, LIMIT, MARKET, STOP_TYPES, ZERO, Order
from runner.simulator.outbound import ORDER_RESPONSES, Outbound, order_event
from runner.simulator.sessions import AUTO, CAP_FRACTION, session_at, session_cap
from runner.simulator.wire import JsonObject

if TYPE_CHECKING:
    from runner.simulator.config import EngineConfig


class SyntheticRequest(v.OrderRequest):
    """An order request built by the engine itself (close_position, TWAP children)."""

    def __init__(self, symbol: str, side: str, quantity: Decimal, client_order_id: str) -> None:
        self.symbol, self.side, self.quantity, self.client_order_id = symbol, side, quantity, client_order_id
        self.order_type, self.tif, self.price = LIMIT, IOC, None
        self.take_profit = self.stop_loss = ZERO
        self.reduce_only = True


log = logging.getLogger("runner.simulator")


class EntryMixin:
    """Part of `Exchange` (engine.py): add_order and the acceptance path every new order takes.

    Reads `config` (client id length, market hours, open-order limit), `_accept_strings`, `_markets`,
    `_clock`, `_bump`; takes ids from `_ids` and sequence numbers from `_seq`; queues speed-bumped
    orders on `_pending`. Margin figures come from account_commands.py (`_leverage`, `_available`);
    stop orders branch off to stop_orders.py; a released order goes to `_arrive` (execution.py).
    """

    config: EngineConfig
    _accept_strings: bool
    _markets: dict[str, Market]
    _clock: Callable[[], float]
    _bump: float
    _ids: IdGen
    _seq: int
    _pending: list[tuple[float, int, Order]]

    if TYPE_CHECKING:  # the other parts of `Exchange` this one calls; mypy checks they match there

        def _arrive(self, order: Order, market: Market, out: list[Outbound]) -> None: ...
        def _available(self, account: Account) -> Decimal: ...
        def _leverage(self, account: Account, market: Market) -> Decimal: ...
        def _place_stop(self, account: Account, req: v.OrderRequest, market: Market,
                        out: list[Outbound]) -> None: ...
        def _stop_reject(self, account: Account, req: v.OrderRequest, market: Market,
                         out: list[Outbound]) -> str | None: ...

    def _add_order(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        req = v.OrderRequest(params, self._accept_strings)
        self._check_client_id(req.client_order_id)
        market = self._markets.get(req.symbol)
        status = v.static_reject(req, market)
        if status is not None:
            self._reject(account, req, status, out)
            return
        assert market is not None  # an unknown symbol is static_reject's BAD_SYMBOL
        if req.order_type in STOP_TYPES:
            status = self._stop_reject(account, req, market, out)
        else:
            status = self._risk_reject(account, req, market)
        if status is not None:
            self._reject(account, req, status, out)
            return
        if req.order_type in STOP_TYPES:
            self._place_stop(account, req, market, out)
            return
        self._accept(
            account,
            market,
            req.side,
            req.order_type,
            req.tif,
            req.quantity,
            req.price if req.price is not None else ZERO,
            req.client_order_id,
            out,
            take_profit=req.take_profit,
            stop_loss=req.stop_loss,
            reduce_only=req.reduce_only,
        )

    def _check_client_id(self, client_order_id: str) -> None:
        limit = self.config.max_client_order_id_length
        if limit is not None and len(client_order_id) > limit:
            raise CommandError(v.INVALID_PARAMETER, f"client_order_id is longer than {limit} characters")

    def _risk_reject(self, account: Account, req: v.OrderRequest, market: Market) -> str | None:
        """Checks 7-11: market closed, margin, max notional, open-order limit, TP/SL prices, reduce-only."""
        if self._closed(market):
            return "REJECTED_MARKET_CLOSED"
        pos = account.position(market.symbol)
        ref = (req.price if req.order_type != MARKET and req.price is not None  # only MARKET lacks a price
               else self._market_price(market, req.side))
        increasing = req.quantity - self._free_reducible(pos, req.side)
        if increasing > ZERO:
            if increasing * ref / self._leverage(account, market) > self._available(account):
                return "FAILED_MARGIN_CHECK"
            if self._breaches_notional(pos, req.side, req.quantity, ref, market):
                return "REJECTED_WOULD_BREACH_MAX_NOTIONAL"
            closed_cap = self._session_cap_breach(pos, req.side, req.quantity, ref, market)
            if closed_cap is not None:
                log.warning("REJECTED %s %s %s: %s", account.account_id, req.side, market.symbol, closed_cap)
                return "REJECTED"
        if self._too_many_open(account):
            return "REJECTED_TOO_MANY_OPEN_ORDERS"
        if req.take_profit != ZERO or req.stop_loss != ZERO:
            reference = req.price if req.order_type != MARKET and req.price is not None else market.mark()
            status = v.bracket_reject(req.side, reference, req.take_profit, req.stop_loss, market)
            if status:
                return status
        if req.reduce_only and pos.reducible(req.side) == ZERO:
            return "REJECTED"
        return None

    def market_session(self, market: Market) -> str:
        """The market session of `market` now (`EngineConfig.session`, or its market_hours if "auto")."""
        pinned = self.config.session
        return session_at(market.market_hours, self._clock()) if pinned == AUTO else pinned

    def _session_cap_breach(self, pos: Position, side: str, qty: Decimal, price: Decimal,
                            market: Market) -> str | None:
        """Why an order increasing exposure breaches the market-closed cap [D:/qfex/risk-limits]
        (position + same-side open orders + the order, at the order's price); None if it does not.
        QFEX documents no status for it: REJECTED (README, our assumption)."""
        session = self.market_session(market)
        cap = session_cap(market.max_notional, session)
        if cap is None:
            return None
        projected = pos.qty + pos.open_buy + qty if side == BUY else pos.qty - pos.open_sell - qty
        if abs(projected) * price <= cap:
            return None
        percent = CAP_FRACTION[session] * 100
        return (f"{session} position cap: {percent.normalize():f}% of {market.symbol}'s "
                f"{market.max_notional.normalize():f} USD maximum = {cap.normalize():f} USD; "
                f"{abs(projected).normalize():f} at {price.normalize():f} would be "
                f"{(abs(projected) * price).normalize():f} USD")

    def _closed(self, market: Market) -> bool:
        if market.status != "ACTIVE":
            return True
        return self.config.enforce_market_hours and not market.is_open(self._clock())

    def _too_many_open(self, account: Account) -> bool:
        limit = self.config.max_open_orders
        return limit is not None and account.open_order_count() >= limit

    def _breaches_notional(
        self, pos: Position, side: str, qty: Decimal, price: Decimal, market: Market
    ) -> bool:
        projected = pos.qty + pos.open_buy + qty if side == BUY else pos.qty - pos.open_sell - qty
        return abs(projected) * price > market.max_notional

    @staticmethod
    def _free_reducible(pos: Position, side: str) -> Decimal:
        """Position a new `side` order would reduce, net of open orders already reducing it."""
        open_same = pos.open_buy if side == BUY else pos.open_sell
        return max(ZERO, pos.reducible(side) - open_same)

    def _market_price(self, market: Market, side: str) -> Decimal:
        """Price used to size a MARKET order's margin: the touch it would trade at, else the mark."""
        best = market.book.best_ask() if side == BUY else market.book.best_bid()
        return best if best is not None else market.mark()

    def _reject(self, account: Account, req: v.OrderRequest, status: str, out: list[Outbound]) -> None:
        """The single reject `order_response` (no ACK), carrying a fresh server order_id."""
        now = self._clock()
        payload = {
            "order_id": self._ids.uuid4(),
            "symbol": req.symbol,
            "status": status,
            "quantity": req.quantity,
            "price": req.price if req.price is not None else ZERO,
            "take_profit": req.take_profit,
            "stop_loss": req.stop_loss,
            "side": req.side,
            "type": req.order_type,
            "time_in_force": req.tif,
            "user_id": account.user_id,
            "client_order_id": req.client_order_id,
            "quantity_remaining": ZERO,
            "update_time": now,
            "trade_id": None,
        }
        out.append(Outbound("account", ORDER_RESPONSES, account.account_id, {"order_response": payload}))

    def _accept(
        self,
        account: Account,
        market: Market,
        side: str,
        type_: str,
        tif: str,
        qty: Decimal,
        price: Decimal,
        client_order_id: str,
        out: list[Outbound],
        *,
        take_profit: Decimal = ZERO,
        stop_loss: Decimal = ZERO,
        reduce_only: bool = False,
        twap_id: str | None = None,
        generate_client_id: bool = True,
    ) -> Order:
        """Create an accepted order: ACK now; reach the book now or after the speed bump. An empty
        client_order_id is generated for add_order ("If empty, one is generated"); close_position's
        documented ACK shows it empty, so that one keeps it empty."""
        now = self._clock()
        self._seq += 1
        order = Order(
            self._ids.uuid4(),
            account.account_id,
            account.user_id,
            market.symbol,
            side,
            type_,
            tif,
            qty,
            price,
            client_order_id or (self._ids.uuid4() if generate_client_id else ""),
            now,
            self._seq,
            take_profit,
            stop_loss,
            reduce_only,
        )
        order.twap_id = twap_id
        pos = account.position(market.symbol)
        order.reducible_at_accept = self._free_reducible(pos, side)
        ref = price if type_ != MARKET else self._market_price(market, side)
        account.orders[order.order_id] = order
        if reduce_only:
            account.reduce_only[order.order_id] = order
        self._track_open(pos, order, +1)
        account.set_order_margin(order, self._order_margin(account, market, order, ref))
        order.margin_rate = ref / self._leverage(account, market)
        out.append(order_event(order, "ACK", now))
        if type_ != MARKET and self._bump > 0:
            self._hold(order, now)
        else:
            self._arrive(order, market, out)
        return order

    def _hold(self, order: Order, now: float) -> None:
        order.release_at = now + self._bump
        heapq.heappush(self._pending, (order.release_at, order.seq, order))

    def _order_margin(self, account: Account, market: Market, order: Order, ref: Decimal) -> Decimal:
        increasing = min(order.remaining, max(ZERO, order.quantity - order.reducible_at_accept))
        return increasing * ref / self._leverage(account, market)

    @staticmethod
    def _track_open(pos: Position, order: Order, sign: int) -> None:
        qty = order.remaining if sign > 0 else -order.remaining
        if order.side == BUY:
            pos.open_buy += qty
        else:
            pos.open_sell += qty
        pos.open_orders += sign
