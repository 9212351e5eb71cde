"""Parsing of request params and QFEX's pre-trade checks for `add_order` / `modify_order`.

Two kinds of failure, as on QFEX: a request that is not a well-formed order (missing or ill-typed
field, LIMIT without price) raises `CommandError` (-> an `err` frame); a well-formed order that breaks a
trading rule gets a reject *status* (-> one `order_response`, no ACK). The rule checks run in the fixed
order of the fidelity checklist; all arithmetic is Decimal (`0.1 + 0.2` lots are exactly 0.3).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from typing import Literal, overload

from runner.enums import ALLOWED_TIME_IN_FORCE, OrderType
from runner.simulator.errors import CommandError
from runner.simulator.market import Market
from runner.simulator.orders import ALO, BUY, LIMIT, MARKET, SELL, STOP_TYPES, ZERO
from runner.simulator.wire import JsonObject

INVALID_PARAMETER = "InvalidParameter"
INVALID_ORDER = "InvalidOrder"

_ALLOWED_TIF = {t.value: frozenset(x.value for x in tifs) for t, tifs in ALLOWED_TIME_IN_FORCE.items()}
_ORDER_TYPES = frozenset(t.value for t in OrderType)


@overload
def number(params: JsonObject, key: str, *, accept_strings: bool, required: Literal[True]) -> Decimal: ...
@overload
def number(params: JsonObject, key: str, *, accept_strings: bool,
           required: bool = False) -> Decimal | None: ...
def number(params: JsonObject, key: str, *, accept_strings: bool, required: bool = False) -> Decimal | None:
    """A JSON number as Decimal (ints, Decimals; numeric strings if allowed); None when absent/null."""
    value = params.get(key)
    if value is None:
        if required:
            raise CommandError(INVALID_PARAMETER, f"missing required parameter '{key}'")
        return None
    if isinstance(value, bool):
        raise CommandError(INVALID_PARAMETER, f"'{key}' must be a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str) and accept_strings:
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise CommandError(INVALID_PARAMETER, f"'{key}' must be a number, got {value!r}") from None
    else:
        raise CommandError(INVALID_PARAMETER, f"'{key}' must be a number, got {value!r}")
    if not result.is_finite():
        raise CommandError(INVALID_PARAMETER, f"'{key}' must be a finite number, got {value!r}")
    return result


@overload
def text(params: JsonObject, key: str, *, required: Literal[True]) -> str: ...
@overload
def text(params: JsonObject, key: str, *, required: bool = False,
         default: str | None = None) -> str | None: ...
def text(params: JsonObject, key: str, *, required: bool = False, default: str | None = None) -> str | None:
    """A string param; None (or `default`) when absent/null, CommandError when required or ill-typed."""
    value = params.get(key)
    if value is None:
        if required:
            raise CommandError(INVALID_PARAMETER, f"missing required parameter '{key}'")
        return default
    if not isinstance(value, str):
        raise CommandError(INVALID_PARAMETER, f"'{key}' must be a string, got {value!r}")
    return value


@overload
def side(params: JsonObject, key: str = "side", *, required: Literal[True] = True) -> str: ...
@overload
def side(params: JsonObject, key: str = "side", *, required: bool) -> str | None: ...
def side(params: JsonObject, key: str = "side", *, required: bool = True) -> str | None:
    """BUY or SELL (required unless told otherwise)."""
    value = text(params, key, required=required)
    if value is None:
        return None
    if value not in (BUY, SELL):
        raise CommandError(INVALID_PARAMETER, f"'{key}' must be BUY or SELL, got {value!r}")
    return value


def flag(params: JsonObject, key: str, default: bool = False) -> bool:
    value = params.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise CommandError(INVALID_PARAMETER, f"'{key}' must be true or false, got {value!r}")
    return value


def paging(params: JsonObject, *, default_limit: int = 1000) -> tuple[int, int]:
    """`limit` (default 1000) and `offset` (default 0) as non-negative integers."""
    out = []
    for key, default in (("limit", default_limit), ("offset", 0)):
        value = params.get(key, default)
        if value is None:
            value = default
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, Decimal))
            or value != int(value)
            or value < 0
        ):
            raise CommandError(INVALID_PARAMETER, f"'{key}' must be a non-negative integer, got {value!r}")
        out.append(int(value))
    return out[0], out[1]


def on_grid(value: Decimal, step: Decimal) -> bool:
    """Is `value` an exact multiple of `step`? (Decimal remainder; absurd magnitudes count as off-grid.)"""
    try:
        with localcontext() as ctx:
            ctx.prec = 60
            return value % step == ZERO
    except InvalidOperation:
        return False


class OrderRequest:
    """A parsed `add_order`: well-formed, not yet checked against the trading rules."""

    __slots__ = (
        "client_order_id",
        "order_type",
        "price",
        "quantity",
        "reduce_only",
        "side",
        "stop_loss",
        "symbol",
        "take_profit",
        "tif",
    )

    def __init__(self, params: JsonObject, accept_strings: bool) -> None:
        if not isinstance(params, dict):
            raise CommandError(INVALID_PARAMETER, "'params' must be an object")
        self.symbol = text(params, "symbol", required=True)
        self.side = side(params)
        order_type = params.get("order_type")
        if order_type is None:
            raise CommandError(INVALID_PARAMETER, "missing required parameter 'order_type'")
        if not isinstance(order_type, str):
            raise CommandError(INVALID_PARAMETER, f"'order_type' must be a string, got {order_type!r}")
        self.order_type = order_type
        self.tif = text(params, "order_time_in_force", required=True)
        self.quantity = number(params, "quantity", accept_strings=accept_strings, required=True)
        self.price = number(params, "price", accept_strings=accept_strings)
        if self.price is None and order_type in (LIMIT, ALO, *STOP_TYPES):
            what = "trigger price" if order_type in STOP_TYPES else "price"
            raise CommandError(INVALID_ORDER, f"{order_type} orders require a {what} ('price')")
        self.take_profit = number(params, "take_profit", accept_strings=accept_strings) or ZERO
        self.stop_loss = number(params, "stop_loss", accept_strings=accept_strings) or ZERO
        coid = params.get("client_order_id")
        if coid is not None and not isinstance(coid, str):
            raise CommandError(INVALID_PARAMETER, f"'client_order_id' must be a string, got {coid!r}")
        self.client_order_id = coid or ""
        self.reduce_only = flag(params, "reduce_only")


def static_reject(req: OrderRequest, market: Market | None) -> str | None:
    """Checks 1-6 of the fixed order: symbol, type, time in force, tick, lot, min/max quantity, bands."""
    if market is None:
        return "BAD_SYMBOL"
    order_type = req.order_type
    is_stop = order_type in STOP_TYPES
    if order_type not in _ORDER_TYPES or (not is_stop and order_type not in market.order_types):
        return "INVALID_ORDER_TYPE"
    # stop orders: time in force is "required for legacy reasons, the value will not be read"
    if not is_stop and (req.tif not in _ALLOWED_TIF[order_type] or req.tif not in market.tifs):
        return "INVALID_TIME_IN_FORCE"
    price = req.price
    if order_type != MARKET and price is not None and price > ZERO and not on_grid(price, market.tick):
        return "INVALID_TICK_SIZE_PRECISION_PRICE"
    qty = req.quantity
    if not on_grid(qty, market.lot):
        return "INVALID_TICK_SIZE_PRECISION_QUANTITY"
    if is_stop:  # stops: lot size enforced, min/max quantity and price bands are not
        if qty <= ZERO:
            return "QUANTITY_LESS_THAN_MIN_QUANTITY"
        if price is None or price <= ZERO:
            return "PRICE_LESS_THAN_MIN_PRICE"
        return None
    if qty <= ZERO or qty < market.min_qty:
        return "QUANTITY_LESS_THAN_MIN_QUANTITY"
    if qty > market.max_qty:
        return "QUANTITY_GREATER_THAN_MAX_QUANTITY"
    if order_type != MARKET:
        assert price is not None  # OrderRequest requires a price for LIMIT and ALO
        return band_reject(req.side, price, market)
    return None


def band_reject(side_: str, price: Decimal, market: Market) -> str | None:
    """Buys above the upper band and sells below the lower band are rejected [D:/qfex/risk-limits];
    a non-positive price is never valid."""
    if price <= ZERO:
        return "PRICE_LESS_THAN_MIN_PRICE"
    if side_ == BUY and price > market.max_price:
        return "PRICE_GREATER_THAN_MAX_PRICE"
    if side_ == SELL and price < market.min_price:
        return "PRICE_LESS_THAN_MIN_PRICE"
    return None


def bracket_reject(
    side_: str, reference: Decimal, take_profit: Decimal, stop_loss: Decimal, market: Market
) -> str | None:
    """Attached TP/SL must be on the tick and on the profitable / protective side of the entry
    (`reference` = limit price, or the mark for MARKET): for a BUY, TP above and SL below."""
    if take_profit != ZERO and (
        take_profit < ZERO
        or not on_grid(take_profit, market.tick)
        or (take_profit <= reference if side_ == BUY else take_profit >= reference)
    ):
        return "INVALID_TAKEPROFIT_PRICE"
    if stop_loss != ZERO and (
        stop_loss < ZERO
        or not on_grid(stop_loss, market.tick)
        or (stop_loss >= reference if side_ == BUY else stop_loss <= reference)
    ):
        return "INVALID_STOPLOSS_PRICE"
    return None
