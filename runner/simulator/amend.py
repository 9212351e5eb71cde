"""Changing what is already open: cancel_order, modify_order, cancel_all_orders, cancel_stop_order and
modify_stop_order, plus the NO_SUCH_ORDER reply for an id that matches nothing open.

A modification is re-checked like a new order (tick, lot, quantity, band, margin, TP/SL) and, when
rejected, leaves the order as it was; an accepted one re-enters through the speed bump.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from runner.enums import OrderStatus
from runner.simulator import validation as v
from runner.simulator.accounts import Account
from runner.simulator.errors import CommandError
from runner.simulator.market import Market
from runner.simulator.orders import (
    BUY,
    LIMIT,
    SELL,
    ZERO,
    Order,
    by_arrival,
    order_payload,
    orderless_payload,
    stop_payload,
)
from runner.simulator.outbound import ORDER_RESPONSES, Outbound, order_event
from runner.simulator.wire import JsonObject

if TYPE_CHECKING:
    from runner.simulator.accounts import Position
    from runner.simulator.config import EngineConfig
    from runner.simulator.orders import StopOrder
    from runner.simulator.twap import Twap


class AmendMixin:
    """Part of `Exchange` (engine.py): the cancel and modify commands.

    Reads `config` (cancel/ack compat switches), `_accept_strings`, `_markets`, `_clock`, `_bump`;
    cancels TWAPs in `_twaps`; marks `_touched` when a stop's trigger moves. Relies on entry.py
    (margin and open-quantity bookkeeping, `_hold`), execution.py (`_finish`, `_arrive`) and
    stop_orders.py (`_remove_stop`, `_apply_cap`, `_stop_event`) to do the actual work.
    """

    config: EngineConfig
    _accept_strings: bool
    _markets: dict[str, Market]
    _twaps: dict[str, Twap]
    _clock: Callable[[], float]
    _bump: float
    _touched: set[str]

    if TYPE_CHECKING:  # the other parts of `Exchange` this one calls; mypy checks they match there

        def _ack(self, account: Account, shape: str) -> Outbound: ...
        def _apply_cap(self, account: Account, symbol: str, side: str, type_: str, qty: Decimal,
                       exclude: str | None, out: list[Outbound]) -> str | None: ...
        def _arrive(self, order: Order, market: Market, out: list[Outbound]) -> None: ...
        def _available(self, account: Account) -> Decimal: ...
        def _breaches_notional(self, pos: Position, side: str, qty: Decimal, price: Decimal,
                               market: Market) -> bool: ...
        def _closed(self, market: Market) -> bool: ...
        def _finish(self, order: Order, status: str, out: list[Outbound]) -> None: ...
        @staticmethod
        def _free_reducible(pos: Position, side: str) -> Decimal: ...
        def _hold(self, order: Order, now: float) -> None: ...
        def _leverage(self, account: Account, market: Market) -> Decimal: ...
        def _order_margin(self, account: Account, market: Market, order: Order, ref: Decimal) -> Decimal: ...
        def _remove_stop(self, stop: StopOrder, status: str, out: list[Outbound]) -> None: ...
        def _stop_event(self, stop: StopOrder, status: str, out: list[Outbound], *,
                        gone: bool = False) -> None: ...
        @staticmethod
        def _track_open(pos: Position, order: Order, sign: int) -> None: ...

    def _cancel_order(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        symbol = v.text(params, "symbol", required=True)
        # required by the current page and the AsyncAPI: a missing one must not quietly mean order_id
        # (a client omitting it would pass here, then fail on QFEX) [D:/websocket/channels/trade/cancel_order]
        id_type = v.text(params, "cancel_order_id_type", required=True)
        if id_type not in ("order_id", "client_order_id", "twap_id", "client_twap_id"):
            raise CommandError(
                v.INVALID_PARAMETER,
                "'cancel_order_id_type' must be order_id, client_order_id, "
                f"twap_id or client_twap_id, got {id_type!r}",
            )
        ident = params.get("order_id")
        if (
            id_type == "client_order_id"
            and self.config.legacy_cancel_client_order_id
            and params.get("client_order_id") is not None
        ):
            ident = params.get("client_order_id")
        if not isinstance(ident, str) or not ident:
            raise CommandError(
                v.INVALID_PARAMETER, "missing required parameter 'order_id' (the id to cancel)"
            )
        if id_type == "order_id":
            order = account.orders.get(ident)
            if order is not None and order.symbol == symbol:
                self._finish(order, OrderStatus.CANCELLED.value, out)
                return
            stop = account.stops.get(ident)
            if stop is not None and stop.symbol == symbol:
                self._remove_stop(stop, OrderStatus.CANCELLED.value, out)
                return
        elif id_type == "client_order_id":
            matches = sorted(
                (o for o in account.orders.values() if o.symbol == symbol and o.client_order_id == ident),
                key=by_arrival,
            )
            for order in matches:
                self._finish(order, OrderStatus.CANCELLED.value, out)
            if matches:
                return
        else:
            for twap in self._twaps.values():
                key = twap.twap_id if id_type == "twap_id" else twap.client_twap_id
                if (
                    twap.account_id == account.account_id
                    and twap.symbol == symbol
                    and key == ident
                    and twap.active
                ):
                    twap.cancel(self._clock())
                    out.append(
                        Outbound("caller", None, account.account_id, {"twap_response": twap.payload()})
                    )
                    return
        out.append(self._no_such(account, symbol, "NO_SUCH_ORDER", id_type, ident))

    def _no_such(
        self,
        account: Account,
        symbol: str,
        status: str,
        id_type: str,
        ident: str,
        side: str | None = None,
        type_: str | None = None,
    ) -> Outbound:
        """Reply for an id that matches no open order: the ids, side and type we were given."""
        by_order_id = id_type in ("order_id", "twap_id")
        payload = orderless_payload(
            order_id=ident if by_order_id else "",
            client_order_id="" if by_order_id else ident,
            symbol=symbol,
            status=status,
            user_id=account.user_id,
            now=self._clock(),
            side=side if side in (BUY, SELL) else BUY,
            type_=type_ if isinstance(type_, str) and type_ else LIMIT,
        )
        return Outbound("account", ORDER_RESPONSES, account.account_id, {"order_response": payload})

    def _modify_order(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        order_id = v.text(params, "order_id", required=True)
        symbol = v.text(params, "symbol", required=True)
        side = v.side(params)
        type_ = v.text(params, "order_type", required=True)
        strings = self._accept_strings
        price = v.number(params, "price", accept_strings=strings)
        qty = v.number(params, "quantity", accept_strings=strings)
        tp = v.number(params, "take_profit", accept_strings=strings)
        sl = v.number(params, "stop_loss", accept_strings=strings)
        order = account.orders.get(order_id)
        if order is None or order.symbol != symbol or order.side != side or order.type != type_:
            out.append(
                self._no_such(
                    account, symbol, "CANNOT_MODIFY_NO_SUCH_ORDER", "order_id", order_id, side, type_
                )
            )
            return
        now = self._clock()
        if order.filled > ZERO:
            out.append(order_event(order, "CANNOT_MODIFY_PARTIAL_FILL", now))
            return
        market = self._markets[symbol]
        new_price = order.price if price is None else price
        new_qty = order.quantity if qty is None else qty
        new_tp = order.take_profit if tp is None else tp
        new_sl = order.stop_loss if sl is None else sl
        status = self._modify_reject(account, market, order, new_price, new_qty, new_tp, new_sl)
        if status is not None:
            rejected = order_payload(order, status, now)
            out.append(Outbound("account", ORDER_RESPONSES, account.account_id, {"order_response": rejected}))
            return
        market.book.remove(order)
        pos = account.position(symbol)
        self._track_open(pos, order, -1)
        order.price, order.quantity, order.remaining = new_price, new_qty, new_qty
        order.take_profit, order.stop_loss = new_tp, new_sl
        order.reducible_at_accept = self._free_reducible(pos, side)
        self._track_open(pos, order, +1)
        account.set_order_margin(order, self._order_margin(account, market, order, new_price))
        order.margin_rate = new_price / self._leverage(account, market)
        order.status = "MODIFIED"
        order.update_time = now
        out.append(order_event(order, "MODIFIED", now))
        if self._bump > 0:  # modified limit orders pass the speed bump again (and leave the book meanwhile)
            self._hold(order, now)
        else:
            order.release_at = None
            self._arrive(order, market, out)

    def _modify_reject(
        self,
        account: Account,
        market: Market,
        order: Order,
        price: Decimal,
        qty: Decimal,
        tp: Decimal,
        sl: Decimal,
    ) -> str | None:
        if price <= ZERO or not v.on_grid(price, market.tick):
            return "INVALID_TICK_SIZE_PRECISION_PRICE" if price > ZERO else "PRICE_LESS_THAN_MIN_PRICE"
        if not v.on_grid(qty, market.lot):
            return "INVALID_TICK_SIZE_PRECISION_QUANTITY"
        if qty <= ZERO or qty < market.min_qty:
            return "QUANTITY_LESS_THAN_MIN_QUANTITY"
        if qty > market.max_qty:
            return "QUANTITY_GREATER_THAN_MAX_QUANTITY"
        status = v.band_reject(order.side, price, market)
        if status:
            return status
        if self._closed(market):
            return "REJECTED_MARKET_CLOSED"
        pos = account.position(market.symbol)
        open_same = (pos.open_buy if order.side == BUY else pos.open_sell) - order.remaining
        increasing = qty - max(ZERO, pos.reducible(order.side) - open_same)
        if increasing > ZERO:
            available = self._available(account) + order.margin
            if increasing * price / self._leverage(account, market) > available:
                return "FAILED_MARGIN_CHECK"
            if self._breaches_notional(pos, order.side, qty - order.remaining, price, market):
                return "REJECTED_WOULD_BREACH_MAX_NOTIONAL"
        return v.bracket_reject(order.side, price, tp, sl, market)

    def _cancel_all_orders(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        for order in sorted(account.orders.values(), key=by_arrival):
            self._finish(order, OrderStatus.CANCELLED.value, out)
        if self.config.cancel_all_includes_stops:
            for stop in sorted(account.stops.values(), key=lambda s: s.seq):
                self._remove_stop(stop, OrderStatus.CANCELLED.value, out)
        shape = self.config.cancel_all_ack_shape
        if shape != "none":
            out.append(self._ack(account, shape))

    def _cancel_stop_order(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        stop_id = v.text(params, "stop_order_id", required=True)
        stop = account.stops.get(stop_id)
        if stop is None:
            out.append(
                self._no_such(account, v.text(params, "symbol") or "", "NO_SUCH_ORDER", "order_id", stop_id)
            )
            return
        self._remove_stop(stop, OrderStatus.CANCELLED.value, out)
        if self.config.stop_ops_ack:
            out.append(self._ack(account, "ack"))

    def _modify_stop_order(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        """Both documented variants: {stop_order_id, symbol, price, quantity} (AsyncAPI, CLI) and
        {stop_order_id, symbol, side, order_type, price?, quantity?} (docs page); side/order_type, when
        given, must match the stop. Only trigger price and quantity can change."""
        stop_id = v.text(params, "stop_order_id", required=True)
        symbol = v.text(params, "symbol", required=True)
        side = v.side(params, required=False)
        type_ = v.text(params, "order_type")
        strings = self._accept_strings
        price = v.number(params, "price", accept_strings=strings)
        qty = v.number(params, "quantity", accept_strings=strings)
        if price is None and qty is None:
            raise CommandError(v.INVALID_PARAMETER, "modify_stop_order needs 'price' and/or 'quantity'")
        stop = account.stops.get(stop_id)
        if (
            stop is None
            or stop.symbol != symbol
            or (side is not None and side != stop.side)
            or (type_ is not None and type_ != stop.type)
        ):
            out.append(
                self._no_such(
                    account, symbol, "CANNOT_MODIFY_NO_SUCH_ORDER", "order_id", stop_id, side, type_
                )
            )
            return
        market = self._markets[symbol]
        now = self._clock()
        new_price = stop.trigger if price is None else price
        new_qty = stop.quantity if qty is None else qty
        status = None
        if new_price <= ZERO:
            status = "PRICE_LESS_THAN_MIN_PRICE"
        elif not v.on_grid(new_price, market.tick):
            status = "INVALID_TICK_SIZE_PRECISION_PRICE"
        elif new_qty <= ZERO:
            status = "QUANTITY_LESS_THAN_MIN_QUANTITY"
        elif not v.on_grid(new_qty, market.lot):
            status = "INVALID_TICK_SIZE_PRECISION_QUANTITY"
        elif new_qty > stop.quantity:
            status = self._apply_cap(account, symbol, stop.side, stop.type, new_qty, stop.stop_order_id, out)
        if status is not None:
            out.append(
                Outbound(
                    "account",
                    ORDER_RESPONSES,
                    account.account_id,
                    {"order_response": stop_payload(stop, status, now)},
                )
            )
            return
        stop.trigger, stop.quantity = new_price, new_qty
        self._stop_event(stop, "MODIFIED", out)
        self._touched.add(symbol)
        if self.config.stop_ops_ack:
            out.append(self._ack(account, "ack"))
