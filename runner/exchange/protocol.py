"""QFEX trade-WebSocket messages, client side: builders for what we send, a classifier for what we get.

Requests are `{"type": <command>, "params": {...}}` (qfex-api.md §3.1); `add_order` is built by
`runner.playbook.plan.add_order_message` so `plan` shows exactly what `run` sends. Replies have no request
id; each is an object with one top-level key naming its kind. QFEX's docs drifted over time, so the
classifier accepts every documented variant (qfex-api.md §9 "Documentation drift"):

- auth success `{"authenticated": true}` and the older `{"type": "auth", "result": "success"}`;
- errors `{"err": {...}}` and the older flat `{"type": "error", "error_code": ...}`, and any direct
  reply carrying a top-level `error_code` (as QFEX's own CLI does);
- `ack` and `ack_response`; `user_trades` (+ `count`) and `user_trades_response`;
- `fill_response` with or without `remaining_quantity` (the first partial fill may lack it).

Numbers arrive as Decimal (runner.jsonnum.loads); nothing here converts money to float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from runner.enums import NOT_REJECT_STATUSES, Channel, OrderType, status_meaning
from runner.jsonnum import loads

# --- builders -----------------------------------------------------------------------------------


def auth_message(hmac_fields: dict[str, Any], account_id: str | None = None) -> dict[str, Any]:
    """HMAC `auth` (fields from `credentials.hmac_fields`); `account_id` selects a subaccount."""
    params: dict[str, Any] = {"hmac": dict(hmac_fields)}
    if account_id:
        params["account_id"] = account_id
    return {"type": "auth", "params": params}


def subscribe_message(channels: list[str | Channel]) -> dict[str, Any]:
    return {"type": "subscribe", "params": {"channels": [Channel(c).value for c in channels]}}


def cancel_on_disconnect_message(enabled: bool) -> dict[str, Any]:
    return {"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": bool(enabled)}}


def get_user_orders_message(limit: int = 1000, offset: int = 0, symbol: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": int(limit), "offset": int(offset)}
    if symbol:
        params["symbol"] = symbol
    return {"type": "get_user_orders", "params": params}


def get_user_trades_message(limit: int = 1000, offset: int = 0, *, order_id: str | None = None,
                            start_ts: int | None = None, end_ts: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": int(limit), "offset": int(offset)}
    if order_id:
        params["order_id"] = order_id
    if start_ts is not None:
        params["start_ts"] = int(start_ts)
    if end_ts is not None:
        params["end_ts"] = int(end_ts)
    return {"type": "get_user_trades", "params": params}


def get_order_message(symbol: str, order_id: str) -> dict[str, Any]:
    """One order by exchange id (both fields required) [D:/websocket/channels/trade/get_order]."""
    return {"type": "get_order", "params": {"symbol": symbol, "order_id": order_id}}


def cancel_order_message(symbol: str, order_id: str, id_type: str = "order_id") -> dict[str, Any]:
    """Current form: the id always travels in `order_id`; `cancel_order_id_type` says what it is."""
    if id_type not in ("order_id", "client_order_id", "twap_id", "client_twap_id"):
        raise ValueError(f"unknown cancel_order_id_type {id_type!r}")
    return {"type": "cancel_order",
            "params": {"symbol": symbol, "order_id": order_id, "cancel_order_id_type": id_type}}


def cancel_stop_order_message(stop_order_id: str) -> dict[str, Any]:
    return {"type": "cancel_stop_order", "params": {"stop_order_id": stop_order_id}}


def modify_stop_order_message(stop_order_id: str, symbol: str, side: str, order_type: str, *,
                              price: Decimal, quantity: Decimal) -> dict[str, Any]:
    """QFEX's modify_stop_order with every field either source asks for: the current page requires
    stop_order_id, symbol, side and order_type (which must match the stop); the AsyncAPI and QFEX's
    CLI send stop_order_id, symbol, price and quantity. Only price and quantity change."""
    return {"type": "modify_stop_order", "params": {
        "stop_order_id": stop_order_id, "symbol": symbol, "side": side, "order_type": order_type,
        "price": price, "quantity": quantity}}


# --- replies --------------------------------------------------------------------------------------


class ReplyKind(str, Enum):
    AUTH = "auth"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    ORDER = "order"
    FILL = "fill"
    STOP_ORDER = "stop_order"
    ALL_ORDERS = "all_orders"
    USER_TRADES = "user_trades"
    ACK = "ack"
    ERROR = "error"
    POSITION = "position"
    BALANCE = "balance"
    LEVERAGE = "leverage"
    TWAP = "twap"
    ENVELOPE = "envelope"
    OTHER = "other"


#: the widest number taken from the exchange: timestamps in nanoseconds reach 1e18, prices and
#: quantities are far smaller. Past this a frame is broken or hostile, and its number is refused
#: rather than carried (a `1e999999999` would otherwise be written out digit by digit).
WIRE_MAX_ADJUSTED_EXPONENT = 24
WIRE_MAX_DECIMAL_PLACES = 24


def wire_number(value: object) -> tuple[Decimal | None, str | None]:
    """A wire number (Decimal, int or numeric string) checked: `(number, None)`; `(None, None)` when
    absent; `(None, why)` when present but unusable (not a number, NaN/Infinity, out of range).

    The one place a received number becomes money: adoption, leg states and reconciliation use it
    too (through `wire_decimal`), so no NaN or giant exponent gets past the protocol boundary.
    """
    if value is None:
        return None, None
    number: Decimal
    kind = type(value)  # the exact types first: every number of every answer passes here
    if kind is Decimal:
        number = value  # type: ignore[assignment]
        if _plainly_in_range(number):
            return number, None
    elif kind is int:
        if -_INT_LIMIT < value < _INT_LIMIT:
            return Decimal(value), None  # type: ignore[arg-type]  # exponent 0, below 1e25: in range
        number = Decimal(value)  # type: ignore[arg-type]
    elif value == "":
        return None, None
    elif isinstance(value, bool):
        return None, f"{value!r} is not a number"
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value[:200])
        except ArithmeticError:
            return None, f"{_shown(value)} is not a number"
        if len(value) > 200:
            return None, f"a number of {len(value)} characters is out of range"
    elif isinstance(value, float):  # NaN/Infinity literals, or a caller that parsed with floats
        number = Decimal(repr(value))
    else:
        return None, f"a {type(value).__name__} is not a number"
    if not number.is_finite():
        return None, f"{_shown(value)} is not a finite number"
    exponent = int(number.as_tuple().exponent)  # finite: an int
    if not number:  # zero, whatever its exponent (0E+999999999 is 0, not a billion digits)
        in_range = -WIRE_MAX_DECIMAL_PLACES <= exponent <= WIRE_MAX_ADJUSTED_EXPONENT
        return (number if in_range else Decimal(0)), None
    if number.adjusted() > WIRE_MAX_ADJUSTED_EXPONENT:
        return None, f"{number:.3E} is out of range (must be below 1e{WIRE_MAX_ADJUSTED_EXPONENT + 1})"
    if exponent < -WIRE_MAX_DECIMAL_PLACES:
        return None, f"{number:.3E} has more than {WIRE_MAX_DECIMAL_PLACES} decimal places"
    return number, None


#: an int below this in size is in range as it is (`wire_number`'s fast path for integers)
_INT_LIMIT = 10 ** (WIRE_MAX_ADJUSTED_EXPONENT + 1)
#: a Decimal written in plain notation in at most this many characters has at most 23 decimal places
_PLAIN_TEXT_MAX = WIRE_MAX_DECIMAL_PLACES + 1


def _plainly_in_range(number: Decimal) -> bool:
    """The common wire number (a price, a quantity, a timestamp) seen in range without `as_tuple`,
    which builds a named tuple of every digit (0.34 of `wire_number`'s 0.54 µs per number).

    Exact, and a sufficient condition only (False sends the number to the full checks): Decimal's
    text uses plain notation (no "E") only when the exponent is at most 0, and then shows every
    decimal place, so a short plain text has few; `adjusted()` bounds the magnitude. NaN and
    Infinity fail `is_finite`.
    """
    if not number.is_finite() or number.adjusted() > WIRE_MAX_ADJUSTED_EXPONENT:
        return False
    text = str(number)
    return len(text) <= _PLAIN_TEXT_MAX and "E" not in text


def wire_decimal(value: object) -> Decimal | None:
    """A usable wire number as Decimal; None when absent or unusable (see `wire_number`)."""
    return wire_number(value)[0]


def _shown(value: object) -> str:
    if isinstance(value, float):  # as the wire spells it: NaN, Infinity, -Infinity
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}.get(repr(value), repr(value))
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Numbers:
    """Reads the numeric fields of one payload, noting each that is present but unusable or of the
    wrong sign: those notes are the reply's `anomalies`, which the run reports on the order."""

    __slots__ = ("anomalies", "payload")

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.anomalies: list[str] = []

    def get(self, name: str, minimum: Decimal | None = None, above: bool = False,
            checked: bool = True) -> Decimal | None:
        """The field `name`; with `minimum`, smaller (or equal, if `above`) is an anomaly.
        `checked` False: an unusable value is only dropped (fields nothing is judged by)."""
        value = self.payload.get(name)
        if value is None:  # absent or null (most optional fields of most answers)
            return None
        number, why = wire_number(value)
        if why is not None:
            if checked:
                self.anomalies.append(f"{name} {why}")
            return None
        if number is not None and minimum is not None and (number < minimum or (above and number == minimum)):
            self.anomalies.append(f"{name} {_q(number)} is {'not positive' if above else 'negative'}")
            return None
        return number


def _either(payload: dict[str, Any], name: str, alias: str) -> str:
    """The name a field goes by in `payload`: `name`, or `alias` when only that one is present."""
    return alias if name not in payload and alias in payload else name


def _q(value: Decimal) -> str:
    return format(value, "f") if -30 < value.adjusted() < 30 else f"{value:.3E}"


def _str(value: object) -> str | None:
    if type(value) is str:  # ids, symbols, statuses: nearly every value
        return value or None
    if value is None:
        return None
    text = str(value)
    return text or None


#: The typed replies below are plain slots dataclasses, not frozen ones: one is built for every answer,
#: and a frozen init sets each field through `object.__setattr__` (1.8 µs for an `OrderUpdate`, 0.4
#: without). Treat them as read-only all the same: nothing changes a reply once classified.
_ZERO = Decimal(0)


@dataclass(slots=True)
class OrderUpdate:
    """One `order_response`: a status change of one order (or stop order)."""

    status: str
    order_id: str | None
    client_order_id: str | None
    symbol: str | None
    side: str | None
    order_type: str | None
    time_in_force: str | None
    quantity: Decimal | None
    price: Decimal | None
    quantity_remaining: Decimal | None
    take_profit: Decimal | None
    stop_loss: Decimal | None
    update_time: Decimal | None
    trade_id: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    #: numbers that cannot be right (NaN, out of range, negative quantities): the order's outcome
    #: cannot be trusted, and the run reports it so
    anomalies: tuple[str, ...] = ()

    @property
    def is_reject(self) -> bool:
        """A reject code (anything but ACK/FILLED/MODIFIED/CANCELLED*); unknown statuses count as rejects."""
        return self.status not in NOT_REJECT_STATUSES

    @property
    def meaning(self) -> str:
        return status_meaning(self.status)

    @property
    def is_stop_leg(self) -> bool:
        return self.order_type in _STOP_LEG_TYPES


#: the order types of an entry's exits (`OrderUpdate.is_stop_leg`, asked of every answer)
_STOP_LEG_TYPES = frozenset({OrderType.TAKE_PROFIT.value, OrderType.STOP_LOSS.value, "STOP_MARKET"})


@dataclass(slots=True)
class Fill:
    """One execution (`fill_response` on the fills channel)."""

    trade_id: str | None
    order_id: str | None
    client_order_id: str | None
    symbol: str | None
    side: str | None
    price: Decimal | None
    quantity: Decimal | None
    fee: Decimal | None
    remaining_quantity: Decimal | None
    order_type: str | None
    timestamp: Decimal | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    #: numbers that cannot be right (see `OrderUpdate.anomalies`)
    anomalies: tuple[str, ...] = ()


@dataclass(frozen=True)
class StopOrder:
    """A `stop_order_response` (AsyncAPI `StopOrder`): a staged TAKE_PROFIT/STOP_LOSS."""

    stop_order_id: str | None
    stop_order_type: str | None
    symbol: str | None
    side: str | None
    price: Decimal | None
    quantity: Decimal | None
    client_order_id: str | None
    parent_order_id: str | None
    status: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ErrorReply:
    """An `err` frame (or the old flat error frame); `incoming_message` echoes the offending request."""

    error_code: str
    message: str | None
    incoming_message: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def echoed_type(self) -> str | None:
        return self.incoming_message.get("type") if isinstance(self.incoming_message, dict) else None

    @property
    def echoed_params(self) -> dict[str, Any]:
        params = self.incoming_message.get("params") if isinstance(self.incoming_message, dict) else None
        return params if isinstance(params, dict) else {}


@dataclass(slots=True)
class Reply:
    """A classified frame. `body` is the typed payload for ORDER/FILL/STOP_ORDER/ERROR, else raw data."""

    kind: ReplyKind
    body: Any
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def auth_ok(self) -> bool:
        return self.kind is ReplyKind.AUTH and self.body is True


class WireFrame(dict[str, Any]):
    """A parsed frame that keeps the exact text it was parsed from (`text`), so the journal can
    write an answer as it came (`runner.state.journal`) instead of encoding it again."""

    __slots__ = ("text",)

    def __init__(self, value: dict[str, Any], text: bytes) -> None:
        super().__init__(value)
        self.text = text


def parse_frame(text: str | bytes) -> dict[str, Any]:
    """JSON text to a dict with exact Decimal numbers; a non-object frame is wrapped as `{"_": value}`.
    An object frame received as bytes comes back as a `WireFrame` carrying those bytes."""
    value = loads(text)
    if not isinstance(value, dict):
        return {"_": value}
    return WireFrame(value, text) if isinstance(text, bytes) else value


def frame_text(frame: object) -> bytes | None:
    """The exact text of a frame as received, if it can stand for the frame inside a journal line:
    one JSON object, one line, UTF-8 (what the runner parsed it as). None: encode the dict."""
    if not isinstance(frame, WireFrame) or type(frame) is not WireFrame:
        return None
    text: bytes = frame.text
    if text[:2] != b'{"' or not text.endswith(b"}") or b"\n" in text or b"\r" in text:
        return None
    return text


def order_update(payload: dict[str, Any]) -> OrderUpdate:
    numbers = _Numbers(payload)
    zero = _ZERO
    return OrderUpdate(
        status=str(payload.get("status") or ""),
        order_id=_str(payload.get("order_id")),
        client_order_id=_str(payload.get("client_order_id")),
        symbol=_str(payload.get("symbol")),
        side=_str(payload.get("side")),
        order_type=_str(payload.get("type", payload.get("order_type"))),
        time_in_force=_str(payload.get("time_in_force", payload.get("order_time_in_force"))),
        quantity=numbers.get("quantity", minimum=zero),
        price=numbers.get("price", minimum=zero),
        quantity_remaining=numbers.get(_either(payload, "quantity_remaining", "remaining_quantity"),
                                       minimum=zero),
        take_profit=numbers.get("take_profit", checked=False),
        stop_loss=numbers.get("stop_loss", checked=False),
        update_time=numbers.get("update_time", checked=False),
        trade_id=_str(payload.get("trade_id")),
        raw=payload,
        anomalies=tuple(numbers.anomalies),
    )


def fill(payload: dict[str, Any]) -> Fill:
    numbers = _Numbers(payload)
    zero = _ZERO
    return Fill(
        trade_id=_str(payload.get("trade_id")),
        order_id=_str(payload.get("order_id")),
        client_order_id=_str(payload.get("client_order_id")),
        symbol=_str(payload.get("symbol")),
        side=_str(payload.get("side")),
        price=numbers.get("price", minimum=zero),
        quantity=numbers.get("quantity", minimum=zero, above=True),
        fee=numbers.get("fee"),
        remaining_quantity=numbers.get(_either(payload, "remaining_quantity", "quantity_remaining"),
                                       minimum=zero),
        order_type=_str(payload.get("order_type", payload.get("type"))),
        timestamp=numbers.get("timestamp", checked=False),
        raw=payload,
        anomalies=tuple(numbers.anomalies),
    )


def stop_order(payload: dict[str, Any]) -> StopOrder:
    return StopOrder(
        stop_order_id=_str(payload.get("stop_order_id", payload.get("order_id"))),
        stop_order_type=_str(payload.get("stop_order_type", payload.get("type", payload.get("order_type")))),
        symbol=_str(payload.get("symbol")),
        side=_str(payload.get("direction", payload.get("side"))),
        price=wire_decimal(payload.get("price")),
        quantity=wire_decimal(payload.get("quantity")),
        client_order_id=_str(payload.get("client_order_id")),
        parent_order_id=_str(payload.get("parent_order_id", payload.get("order_id_parent"))),
        status=_str(payload.get("status")),
        raw=payload,
    )


def error_reply(payload: dict[str, Any]) -> ErrorReply:
    incoming = payload.get("incoming_message")
    if isinstance(incoming, str):  # some servers echo the raw text; parse it when we can
        try:
            incoming = parse_frame(incoming)
        except ValueError:
            incoming = {"_": incoming}
    return ErrorReply(
        error_code=str(payload.get("error_code") or "UnknownError"),
        message=_str(payload.get("message")),
        incoming_message=incoming if isinstance(incoming, dict) else None,
        raw=payload,
    )


_SIMPLE_KINDS = {
    "subscribed": ReplyKind.SUBSCRIBED,
    "unsubscribed": ReplyKind.UNSUBSCRIBED,
    "all_orders_response": ReplyKind.ALL_ORDERS,
    "user_trades_response": ReplyKind.USER_TRADES,
    "user_trades": ReplyKind.USER_TRADES,
    "ack": ReplyKind.ACK,
    "ack_response": ReplyKind.ACK,
    "position_response": ReplyKind.POSITION,
    "balance_response": ReplyKind.BALANCE,
    "user_leverage_response": ReplyKind.LEVERAGE,
    "twap_response": ReplyKind.TWAP,
}


def classify(frame: dict[str, Any]) -> Reply:
    """Name the kind of a parsed frame and type its payload. Unknown shapes are OTHER, never an error."""
    if "authenticated" in frame:
        return Reply(ReplyKind.AUTH, frame.get("authenticated") is True, frame)
    if frame.get("type") == "auth" and "result" in frame:
        return Reply(ReplyKind.AUTH, str(frame.get("result")).lower() in ("success", "ok"), frame)
    if isinstance(frame.get("err"), dict):
        return Reply(ReplyKind.ERROR, error_reply(frame["err"]), frame)
    if frame.get("type") == "error" or "error_code" in frame:
        return Reply(ReplyKind.ERROR, error_reply(frame), frame)
    if isinstance(frame.get("order_response"), dict):
        return Reply(ReplyKind.ORDER, order_update(frame["order_response"]), frame)
    if isinstance(frame.get("fill_response"), dict):
        return Reply(ReplyKind.FILL, fill(frame["fill_response"]), frame)
    if isinstance(frame.get("stop_order_response"), dict):
        return Reply(ReplyKind.STOP_ORDER, stop_order(frame["stop_order_response"]), frame)
    for key, kind in _SIMPLE_KINDS.items():
        if key in frame:
            return Reply(kind, frame[key], frame)
    if "connection_id" in frame and "message_id" in frame:
        return Reply(ReplyKind.ENVELOPE, frame.get("contents"), frame)
    return Reply(ReplyKind.OTHER, frame, frame)


def all_orders(body: Any) -> list[dict[str, Any]]:
    """Open orders from an `all_orders_response` (stop orders may sit in `orders` or `stop_orders`)."""
    if isinstance(body, list):
        return [o for o in body if isinstance(o, dict)]
    if not isinstance(body, dict):
        return []
    rows: list[dict[str, Any]] = []
    for key in ("orders", "stop_orders"):
        rows.extend(o for o in body.get(key) or [] if isinstance(o, dict))
    return rows


def user_trades(body: Any) -> list[dict[str, Any]]:
    """Trades from `user_trades_response` (an array) or `user_trades` (+ `count`)."""
    if isinstance(body, dict):
        body = body.get("trades") or body.get("user_trades") or []
    return [t for t in body or [] if isinstance(t, dict)]


#: What each documented `err.error_code` means [D:/websocket/errors], for reports.
ERROR_MEANINGS = {
    "RateLimited": "message rate limit exceeded (retry after a delay)",
    "InvalidJSONFormat": "the message was not JSON or did not match the schema",
    "AlreadyAuthenticated": "the connection is already authenticated",
    "InvalidParameter": "a parameter was missing or out of range",
    "PermissionDenied": "the key or user lacks permission for this",
    "ServerError": "the exchange failed internally (safe to retry after a delay)",
    "InvalidOrder": "the order was malformed",
    "AlreadySubscribedToLeaderboard": "already subscribed to the leaderboard",
    "KycRequired": "the account must complete KYC first",
    "TncRequired": "the account must accept the terms and conditions first",
}


def error_meaning(error_code: str) -> str:
    return ERROR_MEANINGS.get(error_code, "error code not in QFEX's published list")
