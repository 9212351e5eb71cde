"""The local exchange's engine: QFEX's trading commands over an in-memory order book.

Synchronous, single-threaded and deterministic: time comes from the injected clock, ids from seeded
generators. The WebSocket server (`server.py`) is the only caller; it turns `Outbound`s into frames,
delivering "caller" messages to the requesting connection and "account" messages to every connection
of that account subscribed to the channel.

    Exchange.handle(session, type, params) -> [Outbound]   trading commands (CommandError -> err frame)
    Exchange.on_time() / next_deadline()                    speed bump, scenarios, stops, MM refills, TWAPs
    Exchange.on_disconnect(session, cancel_on_disconnect)   cancel-on-disconnect
    Exchange.pulse(account_id)                              the 1 s positions / balances pushes

Message dicts carry numbers as Decimal; the server serialises them exactly with the simulator's own
codec (`runner.simulator.wire`), never the runner's `runner.jsonnum`: the two sides must not share
a reading of the wire format.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from decimal import Decimal

from runner.enums import OrderStatus
from runner.simulator.account_commands import AccountCommandsMixin
from runner.simulator.accounts import Account
from runner.simulator.amend import AmendMixin
from runner.simulator.config import AccountConfig, EngineConfig
from runner.simulator.entry import EntryMixin
from runner.simulator.errors import CommandError, ConfigError
from runner.simulator.execution import ExecutionMixin
from runner.simulator.idgen import IdGen
from runner.simulator.market import Market
from runner.simulator.marketmaker import MM_ACCOUNT_ID, MM_USER_ID
from runner.simulator.orders import ALO, ZERO, Order, StopOrder, by_arrival
from runner.simulator.outbound import BALANCES, POSITIONS, Outbound, PublicTrade, Session
from runner.simulator.queries import QueriesMixin
from runner.simulator.quoting import QuotingMixin
from runner.simulator.stop_orders import StopOrdersMixin
from runner.simulator.twap import Twap
from runner.simulator.twap_commands import TwapCommandsMixin
from runner.simulator.wire import JsonObject


class Exchange(
    TwapCommandsMixin,
    QuotingMixin,
    AccountCommandsMixin,
    EntryMixin,
    ExecutionMixin,
    StopOrdersMixin,
    AmendMixin,
    QueriesMixin,
):
    """QFEX's matching engine, risk checks, stops and account state for the local exchange.

    This class owns the state (created in `__init__`), the server interface, the test hooks and the
    settling after each command; the commands and the machinery behind them live in mixins, one job
    each, every one documenting which of this state it reads or changes:

        entry.py             add_order, pre-trade risk checks, rejects, accepting (ACK, speed bump)
        execution.py         arrival at the book, matching, executions, order endings
        stop_orders.py       standalone stops, brackets, the position cap, firing triggered stops
        amend.py             cancel_order, modify_order, cancel_all_orders, cancel/modify_stop_order
        queries.py           get_order, get_user_orders, get_user_trades
        account_commands.py  close_position, leverage commands, position / balance rows and margin
        twap_commands.py     add_twap and its children
        quoting.py           the fair price and the market maker's ladder
    """

    def __init__(self, config: EngineConfig | None = None) -> None:
        config = config or EngineConfig()
        config.validate()
        self.config = config
        self._clock: Callable[[], float] = config.clock
        self._ids = IdGen(config.seed, "orders")
        self._trade_ids = IdGen(config.seed, "trades")
        self._mm_ids = IdGen(config.seed, "market-maker")
        self._seq = 0
        self._bump = config.speed_bump_ms / 1000
        self._accept_strings = config.accept_string_numbers
        self._markets: dict[str, Market] = {}
        for raw in config.refdata:
            if not isinstance(raw, dict):
                raise ConfigError(f"refdata entries must be objects, got {raw!r}")
            market = Market(raw)
            if market.symbol in self._markets:
                raise ConfigError(f"refdata lists {market.symbol} twice")
            self._markets[market.symbol] = market
        self._keys: dict[str, AccountConfig] = {a.public_key: a for a in config.accounts}
        self._accounts: dict[str, Account] = {}
        for cfg in config.accounts:
            for account_id in (cfg.account_id, *cfg.subaccounts):
                self._accounts[account_id] = Account(account_id, cfg.user_id, cfg.deposit)
        self._mm = Account(MM_ACCOUNT_ID, MM_USER_ID, ZERO, is_mm=True)
        self._accounts[MM_ACCOUNT_ID] = self._mm
        self._pending: list[tuple[float, int, Order]] = []  # speed-bumped orders, by release time
        self._stops: dict[str, StopOrder] = {}  # every open stop, by id
        self._stops_by_symbol: dict[str, dict[str, StopOrder]] = {s: {} for s in self._markets}
        self._mm_due: dict[str, float] = {}  # symbol -> when to re-quote the market maker
        self._mm_generation: dict[str, int] = dict.fromkeys(self._markets, 0)
        self._twaps: dict[str, Twap] = {}
        self._touched: set[str] = set()  # symbols whose mark may have moved (stops to check)
        self._outbox: list[Outbound] = []  # unsolicited events (set_mid, set_mark) awaiting delivery
        self._public_trades: list[PublicTrade] = []  # executions not yet taken by the market-data socket
        self._start = self._clock()
        self._scenario = config.scenario.runner(self._start, config.seed) if config.scenario else None
        if self._scenario:
            for symbol in self._scenario.symbols:
                if symbol not in self._markets:
                    raise ConfigError(f"scenario moves {symbol}, which is not in the reference data")
            for symbol, mid in self._scenario.initial().items():
                self._markets[symbol].fair = self._markets[symbol].round_to_tick(mid, up=False)
            for symbol in self._scenario.symbols:
                self._scenario.set_base(symbol, self._markets[symbol].fair)
        if config.market_maker:
            for market in self._markets.values():
                self._requote(market, [])
        self._handlers: dict[str, Callable[[Account, JsonObject, list[Outbound]], None]] = {
            "add_order": self._add_order,
            "cancel_order": self._cancel_order,
            "modify_order": self._modify_order,
            "cancel_all_orders": self._cancel_all_orders,
            "get_order": self._get_order,
            "get_user_orders": self._get_user_orders,
            "get_user_trades": self._get_user_trades,
            "close_position": self._close_position,
            "cancel_stop_order": self._cancel_stop_order,
            "modify_stop_order": self._modify_stop_order,
            "get_user_leverage": self._get_user_leverage,
            "get_available_leverage_levels": self._get_available_leverage_levels,
            "set_user_leverage": self._set_user_leverage,
            "add_twap": self._add_twap,
        }

    # ============================================================================== server interface
    @property
    def commands(self) -> frozenset[str]:
        """The message types `handle` understands."""
        return frozenset(self._handlers)

    def account_for_key(self, public_key: str) -> AccountConfig | None:
        return self._keys.get(public_key)

    def session(self, account_id: str, user_id: str) -> Session:
        """A session for an authenticated user acting as `account_id` (their primary or a subaccount)."""
        account = self._accounts.get(account_id)
        if account is None or account.is_mm or account.user_id != user_id:
            raise CommandError("PermissionDenied", f"account {account_id} is not an account of this user")
        return Session(account_id, user_id)

    def handle(self, session: Session, msg_type: str, params: JsonObject) -> list[Outbound]:
        """Run one trading command; raises CommandError for requests QFEX answers with an `err` frame."""
        handler = self._handlers.get(msg_type)
        if handler is None:
            raise CommandError("InvalidJSONFormat", f"unknown message type '{msg_type}'")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise CommandError("InvalidJSONFormat", "'params' must be a JSON object")
        account = self._accounts[session.account_id]
        if msg_type == "add_order" and self._scenario is not None and self._scenario.waiting:
            self._scenario.begin(self._clock())  # a scenario that `starts: first_order`
        out: list[Outbound] = self._outbox
        self._outbox = []
        self._params = params
        self._msg_type = msg_type
        handler(account, params, out)
        self._settle(out)
        return out

    def _ack(self, account: Account, shape: str) -> Outbound:
        """The `ack` / `ack_response` reply of some commands; `ack` echoes the request being handled."""
        if shape == "ack_response":
            return Outbound("caller", None, account.account_id, {"ack_response": True})
        echo = {"type": self._msg_type, "params": self._params}
        return Outbound("caller", None, account.account_id, {"ack": {"incoming_message": echo}})

    def on_time(self) -> list[Outbound]:
        """Release speed-bumped orders, advance the scenario, refill the market maker, run TWAP children
        and trigger stops; everything due at the clock's current time."""
        out: list[Outbound] = self._outbox
        self._outbox = []
        now = self._clock()
        pending = self._pending
        while pending and pending[0][0] <= now:
            release_at, _, order = heapq.heappop(pending)
            if (
                order.release_at != release_at
                or order.order_id not in self._accounts[order.account_id].orders
            ):
                continue  # cancelled, or modified again (a newer heap entry exists)
            order.release_at = None
            self._arrive(order, self._markets[order.symbol], out)
        if self._scenario is not None:
            for symbol, mid in self._scenario.due(now).items():
                self._move_fair(self._markets[symbol], mid, out)
        for twap in list(self._twaps.values()):
            while twap.active and twap.next_at is not None and twap.next_at <= now:
                self._twap_child(twap, out)
        self._settle(out)
        return out

    def next_deadline(self) -> float | None:
        """The absolute clock time at which `on_time` must next run (None: nothing scheduled)."""
        if self._outbox:
            return self._clock()
        times = []
        if self._pending:
            times.append(self._pending[0][0])
        if self._mm_due:
            times.append(min(self._mm_due.values()))
        if self._scenario is not None:
            nxt = self._scenario.next_time()
            if nxt is not None:
                times.append(nxt)
        for twap in self._twaps.values():
            if twap.active and twap.next_at is not None:
                times.append(twap.next_at)
        return min(times) if times else None

    def on_disconnect(self, session: Session, cancel_on_disconnect: bool) -> list[Outbound]:
        """A connection dropped. With its cancel-on-disconnect flag set, cancel every open regular order
        of the account (not only that connection's) and its TWAPs. Stop orders stay unless
        `cancel_on_disconnect_includes_stops` (README: the page's "every open order" may include them)."""
        out: list[Outbound] = []
        if not cancel_on_disconnect:
            return out
        account = self._accounts[session.account_id]
        for order in sorted(account.orders.values(), key=by_arrival):
            self._finish(order, OrderStatus.CANCELLED.value, out)
        if self.config.cancel_on_disconnect_includes_stops:
            for stop in sorted(account.stops.values(), key=lambda s: s.seq):
                self._remove_stop(stop, OrderStatus.CANCELLED.value, out)
        for twap in list(self._twaps.values()):
            if twap.account_id == account.account_id and twap.active:
                twap.cancel(self._clock())
        self._settle(out)
        return out

    def pulse(self, account_id: str) -> list[Outbound]:
        """The 1 s pushes: one `position_response` per symbol (zero rows included), one `balance_response`."""
        account = self._accounts[account_id]
        out = [
            Outbound("account", POSITIONS, account_id, {"position_response": self._position_row(account, m)})
            for m in self._markets.values()
        ]
        out.append(
            Outbound("account", BALANCES, account_id, {"balance_response": self._balance_row(account)})
        )
        return out

    def refdata_body(self, ticker: str | None = None) -> JsonObject:
        """REST `GET /refdata[?ticker=]` body; `underlier_price` follows the simulated fair price."""
        data = []
        for market in self._markets.values():
            if ticker is not None and market.symbol != ticker:
                continue
            row = dict(market.raw)
            row["underlier_price"] = str(market.fair)
            data.append(row)
        return {"type": "refdata", "data": data}

    # ============================================================================== market data (mds.py)
    def market_symbols(self) -> list[str]:
        """Every symbol of the reference data, in its order."""
        return list(self._markets)

    def price_band(self, symbol: str) -> tuple[Decimal, Decimal]:
        """The symbol's current price band (`min_price`, `max_price`): the `minmax_price` channel."""
        market = self._market(symbol)
        return market.min_price, market.max_price

    def take_public_trades(self) -> list[PublicTrade]:
        """Executions since the last call, oldest first (the public `trade` channel); the tape is
        emptied, so it never grows while nobody listens."""
        trades, self._public_trades = self._public_trades, []
        return trades

    # ============================================================================== inspection (tests)
    def orders(self, account_id: str) -> list[JsonObject]:
        """Open orders (regular and stop) of an account, in `order_response` form, oldest first."""
        account = self._accounts[account_id]
        return [payload for _, payload in self._open_order_rows(account, None)]

    def position(self, account_id: str, symbol: str) -> JsonObject:
        return self._position_row(self._accounts[account_id], self._market(symbol))

    def balance(self, account_id: str) -> JsonObject:
        return self._balance_row(self._accounts[account_id])

    def book(self, symbol: str, levels: int = 10) -> dict[str, list[tuple[Decimal, Decimal]]]:
        """Aggregated depth `{"bids": [(price, qty)], "asks": [...]}`, best first."""
        return self._market(symbol).book.depth(levels)

    def mark(self, symbol: str) -> Decimal:
        return self._market(symbol).mark()

    def market(self, symbol: str) -> Market:
        return self._market(symbol)

    def set_mid(self, symbol: str, price: Decimal | int | str) -> None:
        """Move the market maker's fair price (re-quotes the book; may fill resting orders and trigger
        stops). Resulting messages are delivered by the next `handle`/`on_time`."""
        market = self._market(symbol)
        market.mark_override = None
        self._move_fair(market, Decimal(str(price)), self._outbox)
        self._settle(self._outbox)

    def set_session(self, session: str) -> None:
        """Pin the market session for the market-closed caps: open, overnight, weekend, or auto."""
        from runner.simulator.sessions import SESSIONS

        if session not in SESSIONS:
            raise ValueError(f"unknown session {session!r} (choose {', '.join(SESSIONS)})")
        self.config.session = session

    def set_mark(self, symbol: str, price: Decimal | int | str | None) -> None:
        """Pin the mark price (None: back to median of bid/ask/last) and trigger stops accordingly."""
        market = self._market(symbol)
        market.mark_override = None if price is None else Decimal(str(price))
        self._touched.add(symbol)
        self._settle(self._outbox)

    def _market(self, symbol: str) -> Market:
        try:
            return self._markets[symbol]
        except KeyError:
            raise KeyError(f"unknown symbol {symbol!r}") from None

    def _settle(self, out: list[Outbound]) -> None:
        """After every command or tick: re-quote due market makers, then fire triggered stops."""
        if self._mm_due:
            now = self._clock()
            for symbol in [s for s, due in self._mm_due.items() if due <= now]:
                self._requote(self._markets[symbol], out)
        if self._touched:
            self._run_stops(out)


__all__ = ["ALO", "Exchange", "Outbound", "Session"]
