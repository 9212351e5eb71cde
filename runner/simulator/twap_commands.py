"""add_twap in the engine: registering a TWAP and placing its children as ordinary orders.

The request rules and the child schedule are in `twap.py`; here each child goes through the same
pre-trade checks and acceptance path as any MARKET IOC order, so it can be rejected or filled like one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.simulator import validation as v
from runner.simulator.accounts import Account
from runner.simulator.entry import SyntheticRequest
from runner.simulator.errors import CommandError
from runner.simulator.idgen import IdGen
from runner.simulator.market import Market
from runner.simulator.orders import IOC, MARKET, ZERO
from runner.simulator.outbound import Outbound
from runner.simulator.twap import Twap, validate_twap
from runner.simulator.wire import JsonObject

if TYPE_CHECKING:
    from decimal import Decimal

    from runner.simulator.config import EngineConfig
    from runner.simulator.orders import Order


class TwapCommandsMixin:
    """Part of `Exchange` (engine.py): add_twap and TWAP children.

    Adds to `_twaps` (cancelled by cancel_order and cancel-on-disconnect, scheduled by `on_time`);
    reads `config`, `_accept_strings`, `_markets`, `_accounts`, `_clock`, `_ids`. Children use
    entry.py's `_closed`, `_risk_reject`, `_reject` and `_accept`.
    """

    config: EngineConfig
    _accept_strings: bool
    _markets: dict[str, Market]
    _accounts: dict[str, Account]
    _clock: Callable[[], float]
    _ids: IdGen
    _twaps: dict[str, Twap]

    if TYPE_CHECKING:  # the other parts of `Exchange` this one calls; mypy checks they match there

        def _accept(self, account: Account, market: Market, side: str, type_: str, tif: str, qty: Decimal,
                    price: Decimal, client_order_id: str, out: list[Outbound], *,
                    take_profit: Decimal = ZERO, stop_loss: Decimal = ZERO, reduce_only: bool = False,
                    twap_id: str | None = None, generate_client_id: bool = True) -> Order: ...
        def _closed(self, market: Market) -> bool: ...
        def _reject(self, account: Account, req: v.OrderRequest, status: str,
                    out: list[Outbound]) -> None: ...
        def _risk_reject(self, account: Account, req: v.OrderRequest, market: Market) -> str | None: ...

    def _add_twap(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        market, spec = validate_twap(
            params, self._markets, self._accept_strings, self.config.max_client_order_id_length
        )
        if self._closed(market):
            raise CommandError(v.INVALID_PARAMETER, f"{market.symbol} is not accepting orders now")
        now = self._clock()
        twap = Twap(self._ids.uuid4(), account.account_id, account.user_id, market, spec, now,
                    speed=self.config.twap_speed)
        self._twaps[twap.twap_id] = twap
        out.append(Outbound("caller", None, account.account_id, {"twap_response": twap.payload()}))
        self._twap_child(twap, out)

    def _twap_child(self, twap: Twap, out: list[Outbound]) -> None:
        """Place the next child as a MARKET IOC order (reduce-only if the TWAP is)."""
        account = self._accounts[twap.account_id]
        market = self._markets[twap.symbol]
        qty = twap.next_child_quantity()
        client_order_id = f"{twap.client_twap_id or twap.twap_id}-{twap.children_sent}"
        twap.child_sent(self._clock())
        req = SyntheticRequest(market.symbol, twap.side, qty, client_order_id[:64])
        req.reduce_only = twap.reduce_only
        req.order_type, req.tif = MARKET, IOC
        status = v.static_reject(req, market) or self._risk_reject(account, req, market)
        if status is not None:
            self._reject(account, req, status, out)
            return
        self._accept(
            account,
            market,
            twap.side,
            MARKET,
            IOC,
            qty,
            ZERO,
            client_order_id,
            out,
            reduce_only=twap.reduce_only,
            twap_id=twap.twap_id,
        )
