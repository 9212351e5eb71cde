"""QFEX's enumerations as documented (names are what travels on the wire; see qfex-api.md §4).

Shared by the runner and the local exchange: only the vocabulary is shared, never message parsing.
"""

from __future__ import annotations

from enum import Enum


class Side(str, Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(str, Enum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    ALO = "ALO"
    TAKE_PROFIT = "TAKE_PROFIT"
    STOP_LOSS = "STOP_LOSS"

    @property
    def is_stop(self) -> bool:
        return self in (OrderType.TAKE_PROFIT, OrderType.STOP_LOSS)


class TimeInForce(str, Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


#: QFEX's table of allowed (type, time-in-force) combinations [D:/qfex/order-types.md];
#: a violation is rejected with INVALID_TIME_IN_FORCE.
ALLOWED_TIME_IN_FORCE: dict[OrderType, frozenset[TimeInForce]] = {
    OrderType.MARKET: frozenset({TimeInForce.IOC}),
    OrderType.LIMIT: frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    OrderType.ALO: frozenset({TimeInForce.GTC}),
    OrderType.TAKE_PROFIT: frozenset({TimeInForce.IOC}),
    OrderType.STOP_LOSS: frozenset({TimeInForce.IOC}),
}


class OrderStatus(str, Enum):
    """`order_response.status` values, with the proto code (None where QFEX publishes none) and meaning."""

    code: int | None
    meaning: str

    def __new__(cls, name: str, code: int | None, meaning: str) -> OrderStatus:
        obj = str.__new__(cls, name)
        obj._value_ = name
        obj.code = code
        obj.meaning = meaning
        return obj

    ACK = ("ACK", 0, "accepted (GTC orders then rest; IOC/FOK/MARKET end FILLED or CANCELLED after it)")
    FILLED = ("FILLED", 2, "filled (partially or fully: check quantity_remaining)")
    MODIFIED = ("MODIFIED", 20, "modify succeeded")
    CANCELLED = ("CANCELLED", 30, "cancelled (by user, IOC/FOK expiry, cancel-all or cancel-on-disconnect)")
    CANCELLED_STP = ("CANCELLED_STP", 31, "cancelled by self-trade prevention")
    REJECTED = ("REJECTED", 50, "rejected")
    NO_SUCH_ORDER = ("NO_SUCH_ORDER", 52, "cancel target not found")
    INVALID_ORDER_TYPE = ("INVALID_ORDER_TYPE", 53, "order type not allowed")
    BAD_SYMBOL = ("BAD_SYMBOL", 54, "unknown symbol")
    PRICE_LESS_THAN_MIN_PRICE = (
        "PRICE_LESS_THAN_MIN_PRICE", 55, "price below the symbol's minimum price band")
    PRICE_GREATER_THAN_MAX_PRICE = (
        "PRICE_GREATER_THAN_MAX_PRICE", 56, "price above the symbol's maximum price band")
    CANNOT_MODIFY_PARTIAL_FILL = (
        "CANNOT_MODIFY_PARTIAL_FILL", 58, "a partially filled order cannot be modified")
    FAILED_MARGIN_CHECK = ("FAILED_MARGIN_CHECK", 60, "insufficient available balance (initial margin)")
    INVALID_TICK_SIZE_PRECISION_PRICE = (
        "INVALID_TICK_SIZE_PRECISION_PRICE", 63, "price is not a multiple of the tick size")
    INVALID_TICK_SIZE_PRECISION_QUANTITY = (
        "INVALID_TICK_SIZE_PRECISION_QUANTITY", 64, "quantity is not a multiple of the lot size")
    QUANTITY_LESS_THAN_MIN_QUANTITY = ("QUANTITY_LESS_THAN_MIN_QUANTITY", 65, "quantity below the minimum")
    QUANTITY_GREATER_THAN_MAX_QUANTITY = (
        "QUANTITY_GREATER_THAN_MAX_QUANTITY", 66, "quantity above the maximum")
    REJECTED_GREATER_THAN_MAX_PRICE_BAND = (
        "REJECTED_GREATER_THAN_MAX_PRICE_BAND", 67, "outside the price band (legacy status)")
    REJECTED_LESS_THAN_MIN_PRICE_BAND = (
        "REJECTED_LESS_THAN_MIN_PRICE_BAND", 68, "outside the price band (legacy status)")
    INVALID_TIME_IN_FORCE = ("INVALID_TIME_IN_FORCE", 69, "time in force not allowed for this order type")
    REJECTED_WOULD_BREACH_MAX_POSITION = (
        "REJECTED_WOULD_BREACH_MAX_POSITION", 70, "would exceed the maximum position (legacy name)")
    CANNOT_MODIFY_NO_SUCH_ORDER = (
        "CANNOT_MODIFY_NO_SUCH_ORDER", 71, "modify target not found (or wrong side)")
    REJECTED_MARKET_CLOSED = ("REJECTED_MARKET_CLOSED", 72, "the market is not accepting orders now")
    RATE_LIMITED = ("RATE_LIMITED", 97, "too many requests")
    REJECTED_WOULD_BREACH_MAX_NOTIONAL = (
        "REJECTED_WOULD_BREACH_MAX_NOTIONAL", None, "would exceed the maximum notional / position")
    REJECTED_FAILED_TO_PROCESS = (
        "REJECTED_FAILED_TO_PROCESS", None, "the exchange failed to process the order")
    INVALID_TAKEPROFIT_PRICE = ("INVALID_TAKEPROFIT_PRICE", None, "take-profit price invalid")
    INVALID_STOPLOSS_PRICE = ("INVALID_STOPLOSS_PRICE", None, "stop-loss price invalid")
    REJECTED_TOO_MANY_OPEN_ORDERS = ("REJECTED_TOO_MANY_OPEN_ORDERS", None, "open-order limit reached")
    REJECTED_OPEN_INTEREST_LIMIT = ("REJECTED_OPEN_INTEREST_LIMIT", None, "market open-interest cap reached")

    @property
    def is_reject(self) -> bool:
        return self not in NOT_REJECT_STATUSES


#: statuses that say the exchange took the order (every other status is a reject of some kind)
NOT_REJECT_STATUSES: frozenset[str] = frozenset(
    {
        OrderStatus.ACK,
        OrderStatus.FILLED,
        OrderStatus.MODIFIED,
        OrderStatus.CANCELLED,
        OrderStatus.CANCELLED_STP,
    }
)

#: statuses after which an order can no longer change, whatever it filled (FILLED is final only
#: when nothing remains)
CANCELLED_STATUSES: frozenset[str] = frozenset({OrderStatus.CANCELLED, OrderStatus.CANCELLED_STP})


def status_meaning(status: str) -> str:
    """The documented meaning of a status name; unknown names (newer exchange versions) are said so."""
    known = OrderStatus.__members__.get(status)  # each member's name is its wire value
    return known.meaning if known is not None else "status not in QFEX's published list"


class ErrorCode(str, Enum):
    """`err.error_code` values [D:/websocket/errors]."""

    RATE_LIMITED = "RateLimited"
    INVALID_JSON_FORMAT = "InvalidJSONFormat"
    ALREADY_AUTHENTICATED = "AlreadyAuthenticated"
    INVALID_PARAMETER = "InvalidParameter"
    PERMISSION_DENIED = "PermissionDenied"
    SERVER_ERROR = "ServerError"
    INVALID_ORDER = "InvalidOrder"
    ALREADY_SUBSCRIBED_TO_LEADERBOARD = "AlreadySubscribedToLeaderboard"
    KYC_REQUIRED = "KycRequired"
    TNC_REQUIRED = "TncRequired"

    @property
    def is_retryable(self) -> bool:
        return self in RETRYABLE_ERRORS


#: `err` codes meaning "the request was not processed: sending it again is right" [D:/websocket/errors]
RETRYABLE_ERRORS: frozenset[str] = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.SERVER_ERROR})


def is_retryable(error_code: str | None) -> bool:
    """Whether an `err` answer's code (a plain string off the wire, possibly unknown) says "send again"."""
    return error_code in RETRYABLE_ERRORS


class Channel(str, Enum):
    """Trade-WebSocket subscription channels."""

    ORDER_RESPONSES = "order_responses"
    POSITIONS = "positions"
    BALANCES = "balances"
    FILLS = "fills"
    STOP_ORDERS = "stop_orders"
