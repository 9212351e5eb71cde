"""Account commands and figures: close_position, the leverage commands, and the position / balance rows
(pushed every second and used by the margin check).

Margin is notional / leverage (the symbol's default until `set_user_leverage`); the available balance
is deposit + realised PnL − fees + unrealised PnL − position margin − order margin.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from runner.simulator import validation as v
from runner.simulator.accounts import Account, Position
from runner.simulator.entry import SyntheticRequest
from runner.simulator.errors import CommandError
from runner.simulator.idgen import IdGen
from runner.simulator.market import Market, initial_fraction, lev_text, maintenance_fraction
from runner.simulator.orders import BUY, IOC, LIMIT, ZERO, orderless_payload
from runner.simulator.outbound import ORDER_RESPONSES, Outbound
from runner.simulator.wire import JsonObject

if TYPE_CHECKING:
    from runner.simulator.config import EngineConfig
    from runner.simulator.orders import Order

_ID_NS = uuid.UUID("9b2f4a61-5c3d-5e7f-8a9b-0c1d2e3f4a5b")


def _row_id(*parts: str) -> str:
    return str(uuid.uuid5(_ID_NS, ":".join(parts)))


class AccountCommandsMixin:
    """Part of `Exchange` (engine.py): commands about a whole position or account, and its figures.

    Reads `config` (close slippage, leverage reply shape), `_markets` (marks, leverage levels),
    `_clock`, `_ids`; writes only the account's leverage choice. close_position goes through the
    same entry path as add_order (`_check_client_id`, `_closed`, `_reject`, `_accept`: entry.py).
    """

    config: EngineConfig
    _markets: dict[str, Market]
    _clock: Callable[[], float]
    _ids: IdGen

    if TYPE_CHECKING:  # the other parts of `Exchange` this one calls; mypy checks they match there

        def _accept(self, account: Account, market: Market, side: str, type_: str, tif: str, qty: Decimal,
                    price: Decimal, client_order_id: str, out: list[Outbound], *,
                    take_profit: Decimal = ZERO, stop_loss: Decimal = ZERO, reduce_only: bool = False,
                    twap_id: str | None = None, generate_client_id: bool = True) -> Order: ...
        def _ack(self, account: Account, shape: str) -> Outbound: ...
        def _check_client_id(self, client_order_id: str) -> None: ...
        def _closed(self, market: Market) -> bool: ...
        def _reject(self, account: Account, req: v.OrderRequest, status: str,
                    out: list[Outbound]) -> None: ...

    def _close_position(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        """A reduce-only LIMIT IOC for the whole position on the opposite side, priced at the mark plus
        `close_position_slippage` (rounded to the tick, kept inside the price band)."""
        symbol = v.text(params, "symbol", required=True)
        client_order_id = v.text(params, "client_order_id") or ""
        self._check_client_id(client_order_id)
        market = self._markets.get(symbol)
        pos = account.positions.get(symbol) if market else None
        if market is None or pos is None or pos.qty == ZERO:
            status = "BAD_SYMBOL" if market is None else "REJECTED"
            # no position, no closing side: BUY is the enum's zero value; the close would be a LIMIT IOC
            payload = orderless_payload(order_id=self._ids.uuid4(), client_order_id=client_order_id,
                                        symbol=symbol, status=status, user_id=account.user_id,
                                        now=self._clock(), tif=IOC)
            out.append(Outbound("account", ORDER_RESPONSES, account.account_id, {"order_response": payload}))
            return
        if self._closed(market):
            req = SyntheticRequest(symbol, "SELL" if pos.qty > ZERO else BUY, abs(pos.qty), client_order_id)
            self._reject(account, req, "REJECTED_MARKET_CLOSED", out)
            return
        side = "SELL" if pos.qty > ZERO else BUY
        slip = self.config.close_position_slippage
        mark = market.mark()
        if side == BUY:
            price = min(market.round_to_tick(mark * (1 + slip), up=True), market.max_price)
        else:
            price = max(market.round_to_tick(mark * (1 - slip), up=False), market.min_price)
        self._accept(
            account,
            market,
            side,
            LIMIT,
            IOC,
            abs(pos.qty),
            price,
            client_order_id,
            out,
            reduce_only=True,
            generate_client_id=False,
        )

    def _leverage(self, account: Account, market: Market) -> Decimal:
        return account.leverage.get(market.symbol, market.default_leverage)

    def _get_user_leverage(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        limit, offset = v.paging(params)
        rows = [
            m.leverage_row(self._leverage(account, m), _row_id(account.account_id, m.symbol))
            for m in self._markets.values()
        ][offset : offset + limit]
        out.append(Outbound("caller", None, account.account_id, {"user_leverage_response": rows}))

    def _get_available_leverage_levels(self, account: Account, params: JsonObject,
                                       out: list[Outbound]) -> None:
        limit, offset = v.paging(params)
        rows = [
            m.leverage_row(level, _row_id(m.symbol, lev_text(level)))
            for m in self._markets.values()
            for level in m.leverage_levels
        ][offset : offset + limit]
        out.append(Outbound("caller", None, account.account_id, {"available_leverage_levels_response": rows}))

    def _set_user_leverage(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        symbol = v.text(params, "symbol", required=True)
        leverage = v.number(params, "leverage", accept_strings=True, required=True)
        market = self._markets.get(symbol)
        if market is None:
            raise CommandError(v.INVALID_PARAMETER, f"unknown symbol {symbol!r}")
        if leverage not in market.leverage_levels:
            levels = ", ".join(lev_text(x) for x in market.leverage_levels)
            raise CommandError(
                v.INVALID_PARAMETER,
                f"leverage {leverage} is not available for {symbol} (available: {levels})",
            )
        pos = account.positions.get(symbol)
        has_orders = any(o.symbol == symbol for o in account.orders.values()) or any(
            s.symbol == symbol for s in account.stops.values()
        )
        if has_orders or (pos is not None and pos.qty != ZERO):
            raise CommandError(
                v.INVALID_PARAMETER,
                f"cannot change leverage for {symbol} while it has open orders or a non-zero position",
            )
        account.leverage[symbol] = leverage
        out.append(self._ack(account, self.config.leverage_ack_shape))

    def _position_row(self, account: Account, market: Market) -> JsonObject:
        pos = account.positions.get(market.symbol) or Position(market.symbol)
        leverage = self._leverage(account, market)
        mark = market.mark()
        return {
            "id": _row_id(account.account_id, market.symbol),
            "symbol": market.symbol,
            "position": pos.qty,
            "margin_alloc": abs(pos.qty) * mark / leverage,
            "realised_pnl": pos.realised_pnl,
            "unrealised_pnl": (mark - pos.average_price) * pos.qty if pos.qty != ZERO else ZERO,
            "net_funding": pos.net_funding,
            # a number in f64 style (0.0) as documented, not a JSON integer
            "open_orders": Decimal(
                pos.open_orders + sum(1 for s in account.stops.values() if s.symbol == market.symbol)
            ),
            "open_quantity": pos.open_buy + pos.open_sell,
            "leverage": leverage,
            "initial_margin": initial_fraction(leverage),
            "maintenance_margin": maintenance_fraction(leverage),
            "average_price": pos.average_price,
        }

    def _unrealised_and_margin(self, account: Account) -> tuple[Decimal, Decimal]:
        unrealised = ZERO
        margin = ZERO
        for symbol, pos in account.positions.items():
            if pos.qty != ZERO:
                market = self._markets[symbol]
                mark = market.mark()
                unrealised += (mark - pos.average_price) * pos.qty
                margin += abs(pos.qty) * mark / self._leverage(account, market)
        return unrealised, margin

    def _available(self, account: Account) -> Decimal:
        return self._available_given(account, *self._unrealised_and_margin(account))

    @staticmethod
    def _available_given(account: Account, unrealised: Decimal, position_margin: Decimal) -> Decimal:
        """available_balance = deposit + realised − fees + unrealised − position and order margin."""
        return (
            account.deposit
            + account.realised_pnl
            - account.fees
            + unrealised
            - position_margin
            - account.order_margin
        )

    def _balance_row(self, account: Account) -> JsonObject:
        unrealised, position_margin = self._unrealised_and_margin(account)
        return {
            "id": account.account_id,
            "user_id": account.user_id,
            "deposit": account.deposit,
            "realised_pnl": account.realised_pnl,
            "order_margin": account.order_margin,
            "position_margin": position_margin,
            "unrealised_pnl": unrealised,
            "net_funding": ZERO,
            "available_balance": self._available_given(account, unrealised, position_margin),
            "fees": account.fees,
            "referral_rewards": ZERO,
        }
