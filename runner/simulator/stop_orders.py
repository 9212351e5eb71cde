"""Stop orders in the engine: standalone TAKE_PROFIT / STOP_LOSS entry, brackets attached to an entry,
the position cap, and firing stops when the mark reaches their trigger.

The rules themselves (trigger direction, which stops breach the cap) are pure functions in `stops.py`;
this module applies them to the exchange's state and announces every change.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from runner.enums import OrderStatus
from runner.simulator import validation as v
from runner.simulator.accounts import Account
from runner.simulator.idgen import IdGen
from runner.simulator.market import Market
from runner.simulator.orders import (
    BUY,
    GTC,
    IOC,
    STOP_LOSS,
    TAKE_PROFIT,
    ZERO,
    Order,
    StopOrder,
    opposite,
    stop_order_message,
    stop_payload,
)
from runner.simulator.outbound import ORDER_RESPONSES, STOP_ORDERS, Outbound, order_event
from runner.simulator.stops import cap_excess, same_bucket, to_cancel_for, triggered

if TYPE_CHECKING:
    from runner.simulator.config import EngineConfig


class StopOrdersMixin:
    """Part of `Exchange` (engine.py): stop and bracket orders.

    Owns `_stops` (every open stop, by id) and `_stops_by_symbol` (the same, per symbol, for the
    trigger scan) alongside each account's `stops`; drains `_touched` (symbols whose mark may have
    moved) in `_run_stops`. Reads `config.stop_cap_policy`, `_markets`, `_accounts`, `_clock`; takes
    ids from `_ids` and sequence numbers from `_seq`. A triggered stop trades through `_trade`
    (execution.py); the market-closed and open-order checks come from entry.py.
    """

    config: EngineConfig
    _markets: dict[str, Market]
    _accounts: dict[str, Account]
    _clock: Callable[[], float]
    _ids: IdGen
    _seq: int
    _stops: dict[str, StopOrder]
    _stops_by_symbol: dict[str, dict[str, StopOrder]]
    _touched: set[str]

    if TYPE_CHECKING:  # the other parts of `Exchange` this one calls; mypy checks they match there

        def _closed(self, market: Market) -> bool: ...
        def _too_many_open(self, account: Account) -> bool: ...
        def _trade(self, taker: Order, market: Market, limit: Decimal | None, qty: Decimal,
                   out: list[Outbound]) -> Decimal: ...

    def _stop_reject(
        self, account: Account, req: v.OrderRequest, market: Market, out: list[Outbound]
    ) -> str | None:
        if self._closed(market):
            return "REJECTED_MARKET_CLOSED"
        if self._too_many_open(account):
            return "REJECTED_TOO_MANY_OPEN_ORDERS"
        if req.take_profit != ZERO:
            return "INVALID_TAKEPROFIT_PRICE"
        if req.stop_loss != ZERO:
            return "INVALID_STOPLOSS_PRICE"
        return self._apply_cap(account, market.symbol, req.side, req.order_type, req.quantity, None, out)

    def _apply_cap(
        self,
        account: Account,
        symbol: str,
        side: str,
        type_: str,
        qty: Decimal,
        exclude: str | None,
        out: list[Outbound],
    ) -> str | None:
        """QFEX's position cap, per stop type (see stops.py); policy reject | cancel_others | off."""
        policy = self.config.stop_cap_policy
        if policy == "off":
            return None
        cap = account.position(symbol).reducible(side)
        bucket = same_bucket(account.stops.values(), symbol, side, type_, exclude)
        excess = cap_excess(bucket, qty, cap)
        if excess == ZERO:
            return None
        if policy == "reject" or qty > cap:
            return "REJECTED"
        for stop in to_cancel_for(bucket, excess):
            self._remove_stop(stop, OrderStatus.CANCELLED.value, out)
        return None

    def _new_stop(
        self,
        account: Account,
        symbol: str,
        side: str,
        type_: str,
        trigger: Decimal,
        qty: Decimal,
        client_order_id: str,
        tif: str,
        parent: str | None,
        out: list[Outbound],
    ) -> StopOrder:
        now = self._clock()
        self._seq += 1
        stop = StopOrder(
            self._ids.uuid4(),
            account.account_id,
            account.user_id,
            symbol,
            side,
            type_,
            trigger,
            qty,
            client_order_id,
            tif,
            now,
            self._seq,
            parent,
        )
        account.stops[stop.stop_order_id] = stop
        self._stops[stop.stop_order_id] = stop
        self._stops_by_symbol[symbol][stop.stop_order_id] = stop
        self._stop_event(stop, "ACK", out)
        self._touched.add(symbol)  # it may already be triggerable
        return stop

    def _place_stop(self, account: Account, req: v.OrderRequest, market: Market, out: list[Outbound]) -> None:
        assert req.price is not None  # static_reject answers PRICE_LESS_THAN_MIN_PRICE for a stop without one
        self._new_stop(
            account,
            market.symbol,
            req.side,
            req.order_type,
            req.price,
            req.quantity,
            # the stop-order page lists no client_order_id and its cancel example shows "": none is
            # generated for a stop (one given is kept) [D:/websocket/channels/trade/stop_add_order]
            req.client_order_id,
            # "Required for legacy reasons, the value will not be read": a stop shows GTC, as in the
            # cancel example [D:/websocket/channels/trade/stop_cancel_order]
            GTC,
            None,
            out,
        )

    def _stop_event(self, stop: StopOrder, status: str, out: list[Outbound], *, gone: bool = False) -> None:
        """Announce a stop change: `order_response` (order_responses) + `stop_order_response` (stop_orders).
        A stop that is gone (cancelled / triggered) is reported with quantity 0, as QFEX's cancel reply."""
        now = self._clock()
        stop.update_time = now
        qty = ZERO if gone else None
        out.append(
            Outbound(
                "account",
                ORDER_RESPONSES,
                stop.account_id,
                {"order_response": stop_payload(stop, status, now, quantity=qty)},
            )
        )
        out.append(
            Outbound("account", STOP_ORDERS, stop.account_id, stop_order_message(stop, now, quantity=qty))
        )

    def _unregister_stop(self, stop: StopOrder) -> None:
        self._stops.pop(stop.stop_order_id, None)
        self._stops_by_symbol[stop.symbol].pop(stop.stop_order_id, None)
        self._accounts[stop.account_id].stops.pop(stop.stop_order_id, None)

    def _remove_stop(self, stop: StopOrder, status: str, out: list[Outbound]) -> None:
        self._unregister_stop(stop)
        self._stop_event(stop, status, out, gone=True)

    def _grow_bracket(self, account: Account, entry: Order, qty: Decimal, out: list[Outbound]) -> None:
        """Attached TP/SL: created when the entry first fills, sized to the filled quantity, grown by later
        fills. Announced as an `order_response` ACK of type TAKE_PROFIT/STOP_LOSS carrying the entry's
        client_order_id (QFEX does not say how clients learn attached stop ids; this is our choice)."""
        side = opposite(entry.side)
        created: list[StopOrder] = []
        for type_, trigger, attr in (
            (TAKE_PROFIT, entry.take_profit, "bracket_tp"),
            (STOP_LOSS, entry.stop_loss, "bracket_sl"),
        ):
            if trigger == ZERO:
                continue
            stop_id = getattr(entry, attr)
            if stop_id is None:
                stop = self._new_stop(
                    account,
                    entry.symbol,
                    side,
                    type_,
                    trigger,
                    qty,
                    entry.client_order_id,
                    GTC,
                    entry.order_id,
                    out,
                )
                setattr(entry, attr, stop.stop_order_id)
                created.append(stop)
            else:
                open_stop = self._stops.get(stop_id)
                if open_stop is not None:  # still open (not cancelled or triggered): grow it
                    open_stop.quantity += qty
                    self._stop_event(open_stop, "MODIFIED", out)
        if entry.bracket_tp and entry.bracket_sl and created:
            tp = self._stops.get(entry.bracket_tp)
            sl = self._stops.get(entry.bracket_sl)
            if tp is not None and sl is not None:
                tp.sibling_id, sl.sibling_id = sl.stop_order_id, tp.stop_order_id

    def _run_stops(self, out: list[Outbound]) -> None:
        """Fire every stop whose trigger the mark has reached, until no more do (a stop's own fills move
        the last price and so the mark)."""
        touched = self._touched
        while touched:
            symbol = touched.pop()
            stops = self._stops_by_symbol.get(symbol)
            if not stops:
                continue
            market = self._markets[symbol]
            mark = market.mark()
            for stop in sorted((s for s in stops.values() if triggered(s, mark)), key=lambda s: s.seq):
                if stop.stop_order_id in self._stops:  # a sibling's fill may have cancelled it
                    self._fire(stop, market, out)

    def _fire(self, stop: StopOrder, market: Market, out: list[Outbound]) -> None:
        """Execute a triggered stop as a reduce-only market IOC order (order_id = the stop's id)."""
        self._unregister_stop(stop)
        account = self._accounts[stop.account_id]
        now = self._clock()
        out.append(
            Outbound("account", STOP_ORDERS, stop.account_id, stop_order_message(stop, now, quantity=ZERO))
        )
        qty = min(stop.quantity, account.position(stop.symbol).reducible(stop.side))
        order = Order(
            stop.stop_order_id,
            account.account_id,
            account.user_id,
            stop.symbol,
            stop.side,
            stop.type,
            IOC,
            qty if qty > ZERO else stop.quantity,
            stop.trigger,
            stop.client_order_id,
            now,
            stop.seq,
        )
        order.reduce_only = True
        account.closed[order.order_id] = order  # get_order (live) shows the triggered stop's execution
        traded = ZERO
        if qty > ZERO:
            limit = market.max_price if stop.side == BUY else market.min_price
            traded = self._trade(order, market, limit, qty, out)
        if traded == ZERO:
            order.status = OrderStatus.CANCELLED.value
            out.append(order_event(order, OrderStatus.CANCELLED.value, self._clock()))
            return
        sibling = self._stops.get(stop.sibling_id) if stop.sibling_id else None
        if sibling is not None:  # one bracket leg filled: cancel the other (OCO)
            self._remove_stop(sibling, OrderStatus.CANCELLED.value, out)
