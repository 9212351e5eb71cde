"""Ask the exchange what became of our client_order_ids — the source of truth when the journal is not.

QFEX offers two queries (qfex-api.md §3.6): `get_user_orders` lists **open** orders (resting or
partly filled, stop orders included), and `get_user_trades` lists executions. Every order that
ever traded, or still rests, is therefore visible, and each is classified:

- `open`      — on the book now (possibly partly filled): placed;
- `traded`    — off the book with fills: filled, or partly filled and then cancelled/expired: placed;
- `not_found` — in neither list.

What the exchange cannot tell: `not_found` covers an order that never arrived, one that was
rejected, and one that was accepted and then cancelled or expired **before any fill** (an IOC/FOK
that found no liquidity, a GTC cancelled by hand or by cancel-on-disconnect). Re-sending a
never-arrived or rejected order is safe: it never existed. The last case is the one the journal
exists for: it remembers the ACK. Without the journal such an order would be placed again — it
cannot double a position (the first one never traded), but it does rest again. The README says so.

Trade rows are matched by `client_order_id` when QFEX includes it (its docs example does, its
AsyncAPI does not), else by exchange `order_id` (from the journal or an open order).
`Reconciliation.trades_carry_client_ids` records which was possible.

Paging: offsets move while the book changes (an order that fills between two pages shifts the
rest), so open-order pages overlap by a tenth and rows are de-duplicated by order_id; trades are
de-duplicated by trade_id. Transient `RateLimited`/`ServerError` answers are retried with backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

from runner.enums import ErrorCode, is_retryable
from runner.errors import ReconcileError
from runner.exchange.backoff import Backoff, BackoffPolicy
from runner.exchange.protocol import (
    ErrorReply,
    Reply,
    ReplyKind,
    all_orders,
    get_user_orders_message,
    get_user_trades_message,
    user_trades,
    wire_decimal,
)
from runner.words import number_text

PAGE_SIZE = 1000
"""QFEX's default and documented page size for both queries."""
MAX_PAGES = 10_000
"""A guard against a server that never returns a short page."""
LOOKUP_TIMEOUT_S = 10.0
"""How long one query waits for its answer unless the caller says (a run passes its --timeout)."""


class Presence(str, Enum):
    OPEN = "open"
    TRADED = "traded"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ExchangeOrderState:
    """What the exchange shows for one client_order_id."""

    client_order_id: str
    presence: Presence
    order_ids: tuple[str, ...] = ()
    """Every exchange order id found for this coid (more than one = placed more than once)."""
    open_rows: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    trades: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    filled_quantity: Decimal = Decimal(0)
    remaining: Decimal | None = None
    """Quantity still resting (open orders only)."""
    quantity: Decimal | None = None
    """The order's quantity as the exchange shows it (open orders only)."""
    status: str | None = None
    legs: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    """Rows of the order's attached take-profit/stop-loss exits (open stop rows, their trades): QFEX
    tags them with the entry's client_order_id, but they are not the entry."""

    @property
    def placed(self) -> bool:
        return self.presence is not Presence.NOT_FOUND

    @property
    def order_id(self) -> str | None:
        return self.order_ids[0] if self.order_ids else None

    @property
    def copies(self) -> int:
        """How many distinct exchange orders carry this client_order_id."""
        return len(self.order_ids)

    def describe(self, planned_quantity: Decimal | None = None) -> str:
        """`open (3 of 10 filled)`, `filled`, `partially filled (4 of 10), cancelled`, `not found`."""
        if self.presence is Presence.OPEN:
            total = self.quantity if self.quantity is not None else planned_quantity
            if self.filled_quantity > 0 and total is not None:
                return f"open ({number_text(self.filled_quantity)} of {number_text(total)} filled)"
            return "open"
        if self.presence is Presence.TRADED:
            if planned_quantity is not None and self.filled_quantity < planned_quantity:
                return (f"partially filled ({number_text(self.filled_quantity)} of "
                        f"{number_text(planned_quantity)}), then closed")
            return "filled"
        return "not found"


class Reconciliation(dict[str, ExchangeOrderState]):
    """coid → state for every coid asked about, plus how the lookup went."""

    trades_carry_client_ids: bool | None = None
    """True/False once a trade row was seen; None when there were no trades to look at."""
    requests: int = 0

    @property
    def duplicates(self) -> dict[str, ExchangeOrderState]:
        return {coid: state for coid, state in self.items() if state.copies > 1}


class LookupSession(Protocol):
    """What a lookup needs of a session: ask and wait for the answer (`TradeSession` and
    `ReconnectingSession` both are one)."""

    def request(self, message: dict[str, Any], kinds: Iterable[ReplyKind], timeout: float = ...) -> Reply: ...


@dataclass
class _Lookup:
    session: LookupSession
    timeout: float
    backoff_policy: BackoffPolicy
    sleep: Callable[[float], None] | None
    on_rate_limited: Callable[[str, ErrorReply], None] | None
    requests: int = 0

    def ask(self, message: dict[str, Any], kind: ReplyKind) -> Any:
        """Send one query, retrying transient refusals; the reply body."""
        backoff = Backoff(self.backoff_policy) if self.sleep is None else Backoff(self.backoff_policy,
                                                                                   sleep=self.sleep)
        backoff.start()
        while True:
            self.requests += 1
            reply = self.session.request(message, [kind], self.timeout)
            if reply.kind is not ReplyKind.ERROR:
                return reply.body
            err: ErrorReply = reply.body
            if not is_retryable(err.error_code):
                raise ReconcileError(f"{message['type']} refused by the exchange: {err.error_code}: "
                                     f"{err.message or 'no message'}; orders' state is unknown")
            if self.on_rate_limited is not None and err.error_code == ErrorCode.RATE_LIMITED:
                self.on_rate_limited(str(message["type"]), err)
            if not backoff.wait():
                raise ReconcileError(f"{message['type']} kept failing with {err.error_code} "
                                     f"({backoff.describe()}); orders' state is unknown")


def reconcile(session: LookupSession, coids: Iterable[str], *,
              known_order_ids: Mapping[str, str | Iterable[str]] | None = None,
              order_types: Mapping[str, str] | None = None,
              since: int | None = None, page_size: int = PAGE_SIZE, timeout: float = LOOKUP_TIMEOUT_S,
              with_exits: Iterable[str] = (),
              entry_hints: Mapping[str, tuple[str, Decimal | None]] | None = None,
              backoff: BackoffPolicy | None = None, sleep: Callable[[float], None] | None = None,
              on_rate_limited: Callable[[str, ErrorReply], None] | None = None,
              exit_order_ids: Mapping[str, Iterable[str]] | None = None) -> Reconciliation:
    """Look every client_order_id up at the exchange (see the module docstring).

    `known_order_ids` maps coids to exchange order ids already known (from the journal) so their
    trades can be found even if trade rows carry no client_order_id. `order_types` (coid → the
    order's type, e.g. "LIMIT") separates an entry from its attached exits, which QFEX tags with
    the entry's client_order_id. `with_exits` names coids whose attached exits are wanted too:
    their trades carry order ids nobody knows yet, so the account's trades are scanned;
    `entry_hints` (coid → the entry's side and limit price) tell its trades from its exits' when no
    order id is known and the timestamps tie (QFEX reports whole seconds). `exit_order_ids` (coid →
    its attached exits' order ids, from the journal) finds those exits' trades, and tells them from
    the entry's, when trade rows carry no client_order_id. `since`
    (Unix seconds) bounds the trade scan when the earliest possible trade time is known.
    """
    wanted = list(dict.fromkeys(coids))
    result = Reconciliation()
    if not wanted:
        return result
    lookup = _Lookup(session, timeout, backoff or BackoffPolicy(initial=0.2, cap=5.0, max_attempts=6,
                                                                   max_total=30.0), sleep, on_rate_limited)
    wanted_set = set(wanted)
    owner: dict[str, str] = {}  # exchange order_id -> coid
    for coid, ids in (known_order_ids or {}).items():
        if coid in wanted_set and ids:
            for order_id in [ids] if isinstance(ids, str) else ids:
                owner[str(order_id)] = coid

    exit_owner: dict[str, str] = {}  # an attached exit's order_id -> its entry's coid
    for coid, ids in (exit_order_ids or {}).items():
        if coid in wanted_set:
            exit_owner.update((str(order_id), coid) for order_id in ids if order_id)

    open_rows = _open_orders(lookup, page_size)
    found_open: dict[str, list[dict[str, Any]]] = {}
    own_open: dict[str, list[dict[str, Any]]] = {}  # without the rows of attached exits
    for row in open_rows:
        row_coid = _coid_of(row, owner, wanted_set)
        if row_coid is None:
            continue
        found_open.setdefault(row_coid, []).append(row)
        kind = (order_types or {}).get(row_coid)
        is_exit_row = kind is not None and kind not in STOP_TYPES and _row_type(row) in STOP_TYPES
        if not is_exit_row:
            own_open.setdefault(row_coid, []).append(row)
            if row.get("order_id"):
                owner.setdefault(str(row["order_id"]), row_coid)

    quiet = {c for c, rows in own_open.items() if all(_untraded(r) for r in rows)}
    exits = set(with_exits) & (wanted_set - quiet)
    trades, carry_ids = _trades(lookup, owner, wanted_set - quiet, since, page_size, scan=bool(exits))
    result.trades_carry_client_ids = carry_ids
    found_trades: dict[str, list[dict[str, Any]]] = {}
    for trade in trades:
        trade_coid = _coid_of(trade, {**exit_owner, **owner}, wanted_set)
        if trade_coid is not None:
            found_trades.setdefault(trade_coid, []).append(trade)

    for coid in wanted:
        own_ids = {order_id for order_id, owner_coid in owner.items() if owner_coid == coid}
        exit_ids = {order_id for order_id, owner_coid in exit_owner.items() if owner_coid == coid}
        result[coid] = _state(coid, found_open.get(coid, []), found_trades.get(coid, []),
                              (order_types or {}).get(coid), own_ids, (entry_hints or {}).get(coid),
                              exit_ids - own_ids)
    result.requests = lookup.requests
    return result


def _coid_of(row: Mapping[str, Any], owner: Mapping[str, str], wanted: set[str]) -> str | None:
    coid = row.get("client_order_id")
    if coid is not None and str(coid) in wanted:
        return str(coid)
    order_id = row.get("order_id")
    return owner.get(str(order_id)) if order_id is not None else None


def _open_orders(lookup: _Lookup, page_size: int) -> list[dict[str, Any]]:
    """Every open order, paging with overlap so rows shifted by concurrent fills are not skipped."""
    overlap = max(1, page_size // 10) if page_size > 1 else 0
    rows: dict[str, dict[str, Any]] = {}
    anonymous: list[dict[str, Any]] = []
    offset = 0
    for _ in range(MAX_PAGES):
        page = all_orders(lookup.ask(get_user_orders_message(page_size, offset), ReplyKind.ALL_ORDERS))
        for row in page:
            if row.get("order_id"):
                rows[str(row["order_id"])] = row
            else:
                anonymous.append(row)
        if len(page) < page_size:
            break
        offset += page_size - overlap
    return [*rows.values(), *anonymous]


PER_ORDER_QUERIES = 5
"""Up to this many orders' trades are asked for one by one; more, and one scan of the account's trades."""


def _untraded(row: Mapping[str, Any]) -> bool:
    """An open row that has not traded (nothing to look up in the trades): remaining == quantity."""
    quantity = wire_decimal(row.get("quantity"))
    remaining = wire_decimal(row.get("quantity_remaining", row.get("remaining_quantity")))
    return quantity is not None and remaining is not None and remaining == quantity


def _trades(lookup: _Lookup, owner: dict[str, str], need: set[str], since: int | None,
            page_size: int, scan: bool = False) -> tuple[list[dict[str, Any]], bool | None]:
    """Trades that may belong to the `need` coids (those not resting untouched on the book): per
    known order id when there are few (and no exits of unknown id are wanted: `scan`), else one
    scan of the account's trades."""
    trades: dict[str, dict[str, Any]] = {}
    carry: bool | None = None

    def take(page: list[dict[str, Any]]) -> None:
        nonlocal carry
        for trade in page:
            key = str(trade.get("trade_id") or id(trade))
            trades[key] = trade
            has_id = bool(trade.get("client_order_id"))
            carry = has_id if carry is None else (carry and has_id)

    if not need:
        return [], None
    order_ids = sorted(order_id for order_id, coid in owner.items() if coid in need)
    if not scan and need <= set(owner.values()) and len(order_ids) <= PER_ORDER_QUERIES:
        for order_id in order_ids:
            _page_through(lookup, page_size, take, order_id=order_id)
    else:
        _page_through(lookup, page_size, take, start_ts=since)
    return list(trades.values()), carry


def _page_through(lookup: _Lookup, page_size: int, take: Callable[[list[dict[str, Any]]], None], *,
                  order_id: str | None = None, start_ts: int | None = None) -> None:
    offset = 0
    for _ in range(MAX_PAGES):
        message = get_user_trades_message(page_size, offset, order_id=order_id, start_ts=start_ts)
        page = user_trades(lookup.ask(message, ReplyKind.USER_TRADES))
        take(page)
        if len(page) < page_size:
            return
        offset += len(page)


STOP_TYPES = frozenset({"TAKE_PROFIT", "STOP_LOSS", "STOP_MARKET"})


def _row_type(row: Mapping[str, Any]) -> str | None:
    value = row.get("type", row.get("order_type", row.get("stop_order_type")))
    return str(value) if value is not None else None


def _split_legs(open_rows: list[dict[str, Any]], trades: list[dict[str, Any]], order_type: str | None,
                known_ids: set[str], hint: tuple[str, Decimal | None] | None = None,
                exit_ids: set[str] | frozenset[str] = frozenset(),
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(the order's own open rows, its own trades, rows of its attached exits).

    An entry (LIMIT/MARKET/ALO) and the stop orders QFEX attaches to it share a client_order_id.
    Rows typed as stops are exits; untyped trade rows are the entry's when their order_id is
    known to be the entry's, and otherwise the earliest-trading order is the entry (its exits
    exist only once it has filled).
    """
    if order_type is None or order_type in STOP_TYPES:
        return open_rows, trades, []
    legs = [r for r in open_rows if _row_type(r) in STOP_TYPES]
    own_open = [r for r in open_rows if _row_type(r) not in STOP_TYPES]
    legs += [t for t in trades if _row_type(t) in STOP_TYPES]
    own_trades = [t for t in trades if _row_type(t) not in STOP_TYPES]
    if exit_ids:  # trades of exits whose order ids the journal recorded
        legs += [t for t in own_trades if str(t.get("order_id")) in exit_ids]
        own_trades = [t for t in own_trades if str(t.get("order_id")) not in exit_ids]
    own_ids = known_ids | {str(r["order_id"]) for r in own_open if r.get("order_id")}
    if own_ids:
        legs += [t for t in own_trades if t.get("order_id") and str(t["order_id"]) not in own_ids]
        own_trades = [t for t in own_trades if not t.get("order_id") or str(t["order_id"]) in own_ids]
    elif len({t.get("order_id") for t in own_trades}) > 1:
        first = min(own_trades, key=lambda t: _entry_rank(t, hint))
        legs += [t for t in own_trades if t.get("order_id") != first.get("order_id")]
        own_trades = [t for t in own_trades if t.get("order_id") == first.get("order_id")]
    return own_open, own_trades, legs


def _entry_rank(trade: Mapping[str, Any],
                hint: tuple[str, Decimal | None] | None) -> tuple[Decimal | int, ...]:
    """Sort key: the entry traded first; on a tie (whole-second timestamps), the trade on the entry's
    side (an exit trades on the other), then the one nearest the entry's limit price."""
    stamp = wire_decimal(trade.get("timestamp"))
    key: tuple[Decimal | int, ...] = (stamp if stamp is not None else Decimal("Infinity"),)
    if hint is not None:
        side, price = hint
        own_side = trade.get("side")
        key += (0 if own_side is None or own_side == side else 1,)
        traded = wire_decimal(trade.get("price"))
        key += (abs(traded - price) if traded is not None and price is not None else Decimal(0),)
    return key


def _state(coid: str, open_rows: list[dict[str, Any]], trades: list[dict[str, Any]],
           order_type: str | None = None,
           known_ids: set[str] | None = None,
           hint: tuple[str, Decimal | None] | None = None,
           exit_ids: set[str] | frozenset[str] = frozenset()) -> ExchangeOrderState:
    open_rows, trades, legs = _split_legs(open_rows, trades, order_type, known_ids or set(), hint, exit_ids)
    order_ids = list(dict.fromkeys(str(r["order_id"]) for r in [*open_rows, *trades] if r.get("order_id")))
    filled = sum((wire_decimal(t.get("quantity")) or Decimal(0) for t in trades), Decimal(0))
    if open_rows:
        row = open_rows[0]
        quantity = wire_decimal(row.get("quantity"))
        remaining = wire_decimal(row.get("quantity_remaining", row.get("remaining_quantity")))
        if quantity is not None and remaining is not None:
            filled = max(filled, quantity - remaining)
        return ExchangeOrderState(coid, Presence.OPEN, tuple(order_ids), tuple(open_rows), tuple(trades),
                                  filled, remaining, quantity, str(row.get("status") or "ACK"), tuple(legs))
    if trades:
        return ExchangeOrderState(coid, Presence.TRADED, tuple(order_ids), (), tuple(trades), filled,
                                  Decimal(0), None, None, tuple(legs))
    return ExchangeOrderState(coid, Presence.NOT_FOUND, legs=tuple(legs))


