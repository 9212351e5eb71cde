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
AsyncAPI and QFEX's CLI do not), else by exchange `order_id` (from the journal or an open order).
`Reconciliation.trades_carry_client_ids` records which was possible.

When trade rows carry no client_order_id and some of our orders are still unaccounted for (a
filled MARKET/IOC/FOK order leaves no open row; a fresh machine has no journal), the lookup ties
trades to client ids itself (`OrderIdLookup`): the trades of those orders' symbols within the
look-back (`LOOKBACK_S`, 7 days: `get_user_trades` with `start_ts`) → their order ids → `get_order`
for each (paced like every query; at most `MAX_ORDER_LOOKUPS`) → its `client_order_id`. No trace
within the look-back means not placed. A lookup that cannot complete — too many orders, a query
refused, `get_order` not showing an order that traded (the docs page's `get_order` lists open
orders only) — leaves those orders *unsure* (`Reconciliation.unsure`): the caller must not send them.

Paging: offsets move while the book changes (an order that fills between two pages shifts the
rest), so open-order pages overlap by a tenth and rows are de-duplicated by order_id; trades are
de-duplicated by trade_id. Transient `RateLimited`/`ServerError` answers are retried with backoff.
"""

from __future__ import annotations

import functools
import time
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
    OrderUpdate,
    Reply,
    ReplyKind,
    all_orders,
    get_order_message,
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
LOOKBACK_S = 7 * 24 * 3600
"""How far back trades without a client_order_id are tied to client ids (`get_order` per order id)."""
MAX_ORDER_LOOKUPS = 500
"""At most this many `get_order` queries per lookup (weight 2 each: 1,000 of QFEX's 12,000 units)."""


@dataclass(frozen=True)
class OrderIdLookup:
    """How trades without a client_order_id were tied to ours (reported by run and status)."""

    since: int
    """Unix seconds: the start of the look-back."""
    lookback_s: int
    symbols: tuple[str, ...]
    asked: int
    """`get_order` queries sent."""
    matched: int
    """Order ids that turned out to be ours."""
    problem: str | None = None
    """Why the lookup could not complete (None: complete)."""

    @property
    def complete(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        days = self.lookback_s / 86400
        window = f"{days:g} day{'s' if days != 1 else ''}"
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.since))
        searched = f"trades of {', '.join(self.symbols)} since {stamp} (look-back {window})"
        if self.asked == 0:
            head = (f"the exchange's trade rows carry no client_order_id: {searched} name no order "
                    f"whose client id was unknown")
        else:
            head = (f"the exchange's trade rows carry no client_order_id: {searched} were tied to "
                    f"client ids with {self.asked} get_order quer{'y' if self.asked == 1 else 'ies'} "
                    f"({self.matched} ours)")
        return head if self.problem is None else f"{head}; incomplete: {self.problem}"


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
    order_lookup: OrderIdLookup | None = None
    """The look-up of order ids behind trades without client ids, when one was needed."""
    unsure: frozenset[str] = frozenset()
    """coids the exchange does not show and the lookup could not rule out: never to be sent."""

    @property
    def duplicates(self) -> dict[str, ExchangeOrderState]:
        return {coid: state for coid, state in self.items() if state.copies > 1}

    @property
    def trades_attributable(self) -> bool:
        """Can every trade of ours be told apart? Yes when trade rows carry client ids (or there were
        none), or when the order-id lookup tied every recent trade of these symbols to its owner."""
        lookup = self.order_lookup
        return self.trades_carry_client_ids is not False or (lookup is not None and lookup.complete)


class LookupSession(Protocol):
    """What a lookup needs of a session: ask and wait for the answer (`TradeSession` and
    `ReconnectingSession` both are one)."""

    def request(self, message: dict[str, Any], kinds: Iterable[ReplyKind], timeout: float = ...,
                accept: Callable[[Reply], bool] | None = ...) -> Reply: ...


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
        return self.ask_reply(message, (kind,)).body

    def ask_reply(self, message: dict[str, Any], kinds: tuple[ReplyKind, ...],
                  accept: Callable[[Reply], bool] | None = None) -> Reply:
        """Send one query, retrying transient refusals; the reply (one of `kinds`)."""
        backoff = Backoff(self.backoff_policy) if self.sleep is None else Backoff(self.backoff_policy,
                                                                                   sleep=self.sleep)
        backoff.start()
        while True:
            self.requests += 1
            if accept is None:
                reply = self.session.request(message, list(kinds), self.timeout)
            else:
                reply = self.session.request(message, list(kinds), self.timeout, accept)
            if reply.kind is not ReplyKind.ERROR:
                return reply
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
              exit_order_ids: Mapping[str, Iterable[str]] | None = None,
              symbols: Mapping[str, str] | None = None, lookback_s: int = LOOKBACK_S,
              clock: Callable[[], float] = time.time) -> Reconciliation:
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
    (Unix seconds) bounds the trade scan when the earliest possible trade time is known. `symbols`
    (coid → symbol) scopes the order-id lookup of trades without client ids (module docstring) to
    the symbols of the orders it must find; `lookback_s` and `clock` bound it in time.
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
    found_trades = _attribute(trades, owner, exit_owner, wanted_set)
    pending = [c for c in wanted if c not in own_open and c not in found_trades]
    if pending and carry_ids is False:
        window = _OrderIdWindow(lookup, page_size, int(clock()) - lookback_s, lookback_s)
        result.order_lookup = window.resolve(pending, wanted_set, symbols, order_types or {}, owner,
                                             exit_owner)
        if window.rows:
            by_id = {str(t.get("trade_id") or id(t)): t for t in [*trades, *window.rows]}
            trades = list(by_id.values())
            found_trades = _attribute(trades, owner, exit_owner, wanted_set)
        if not result.order_lookup.complete:
            result.unsure = frozenset(c for c in pending if c not in found_trades)

    owned, exits_owned = _ids_by_owner(owner), _ids_by_owner(exit_owner)  # once, not per coid
    for coid in wanted:
        own_ids = owned.get(coid, set())
        exit_ids = exits_owned.get(coid, set())
        result[coid] = _state(coid, found_open.get(coid, []), found_trades.get(coid, []),
                              (order_types or {}).get(coid), own_ids, (entry_hints or {}).get(coid),
                              exit_ids - own_ids)
    result.requests = lookup.requests
    return result


def _ids_by_owner(owner: Mapping[str, str]) -> dict[str, set[str]]:
    """order id -> coid, turned around: coid -> its order ids (a re-run knows one or more per order)."""
    ids: dict[str, set[str]] = {}
    for order_id, coid in owner.items():
        ids.setdefault(coid, set()).add(order_id)
    return ids


def _attribute(trades: list[dict[str, Any]], owner: Mapping[str, str], exit_owner: Mapping[str, str],
               wanted: set[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    owners = {**exit_owner, **owner}  # once, not per trade (quadratic on a re-run of many fills)
    for trade in trades:
        trade_coid = _coid_of(trade, owners, wanted)
        if trade_coid is not None:
            found.setdefault(trade_coid, []).append(trade)
    return found


@dataclass
class _OrderIdWindow:
    """The look-up of trades without client ids (module docstring): within the look-back, on the
    symbols of the orders still unaccounted for, each unknown order id asked with `get_order`."""

    lookup: _Lookup
    page_size: int
    since: int
    lookback_s: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def resolve(self, pending: list[str], wanted: set[str], symbols: Mapping[str, str] | None,
                order_types: Mapping[str, str], owner: dict[str, str],
                exit_owner: dict[str, str]) -> OrderIdLookup:
        """Record in `owner` / `exit_owner` every order id found to be one of the `wanted` coids (the
        search covers the symbols of the `pending` ones: those not found any other way)."""
        scope = sorted({symbols[c] for c in pending if c in symbols}) if symbols else []
        every_symbol = not symbols or any(c not in symbols for c in pending)
        asked = matched = 0

        def report(problem: str | None = None) -> OrderIdLookup:
            shown = tuple(scope) if not every_symbol else ("every symbol",)
            return OrderIdLookup(self.since, self.lookback_s, shown, asked, matched, problem)

        try:
            _page_through(self.lookup, self.page_size, self.rows.extend, start_ts=self.since)
        except ReconcileError as exc:
            return report(str(exc))
        unknown: dict[str, str] = {}  # order_id -> symbol, in the order the exchange listed them
        for row in self.rows:
            order_id, symbol = row.get("order_id"), row.get("symbol")
            if "client_order_id" in row or (order_id and (str(order_id) in owner
                                                         or str(order_id) in exit_owner)):
                continue  # its row says whose it is, or its order is known
            if not order_id or not isinstance(symbol, str) or not symbol:
                return report("a trade row names no order id or no symbol, so get_order cannot ask "
                              "whose it is")
            if not every_symbol and symbol not in scope:
                continue
            unknown.setdefault(str(order_id), symbol)
        if len(unknown) > MAX_ORDER_LOOKUPS:
            return report(f"{len(unknown)} orders traded in the look-back, more than the "
                          f"{MAX_ORDER_LOOKUPS} this lookup asks get_order about")
        for order_id, symbol in unknown.items():
            asked += 1
            try:
                reply = self.lookup.ask_reply(get_order_message(symbol, order_id),
                                              (ReplyKind.ORDER, ReplyKind.ALL_ORDERS),
                                              accept=functools.partial(_answers, order_id=order_id))
            except ReconcileError as exc:
                return report(str(exc))
            coid, row_type = _order_of(reply, order_id)
            if coid is None:
                return report(f"get_order does not show order {order_id} of {symbol}, which traded "
                              f"(its client_order_id cannot be read)")
            if coid in wanted:
                matched += 1
                own_type = order_types.get(coid)
                is_exit = own_type is not None and own_type not in STOP_TYPES and row_type in STOP_TYPES
                (exit_owner if is_exit else owner)[order_id] = coid
        return report()


def _answers(reply: Reply, order_id: str) -> bool:
    """Is this the answer to `get_order(order_id)`? (An `order_response` pushed for another order on
    the same connection is not.)"""
    if reply.kind is ReplyKind.ORDER:
        update: OrderUpdate = reply.body
        return update.order_id == order_id
    return True


def _order_of(reply: Reply, order_id: str) -> tuple[str | None, str | None]:
    """(client_order_id, type) of `order_id` in a get_order answer; (None, None) when not shown."""
    if reply.kind is ReplyKind.ORDER:
        update: OrderUpdate = reply.body
        if update.status in ("NO_SUCH_ORDER", "CANNOT_MODIFY_NO_SUCH_ORDER"):
            return None, None
        return update.client_order_id or "", update.order_type
    for row in all_orders(reply.body):
        if str(row.get("order_id")) == order_id:
            return str(row.get("client_order_id") or ""), _row_type(row)
    return None, None


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
            # a row with the field says whose it is, even empty (ours always have one); one without
            # it (the AsyncAPI / CLI shape) cannot be tied to a client id by itself
            has_id = "client_order_id" in trade
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
    if not open_rows and not trades:  # nothing at the exchange (every order of a fresh run): no legs to
        return ExchangeOrderState(coid, Presence.NOT_FOUND)  # split (~2 µs an order, measured)
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


