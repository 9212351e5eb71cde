"""Per-symbol market state: trading rules parsed from a RefdataSymbol, the book, last trade and mark.

Leverage tiers: QFEX publishes the maximum leverage and position caps per asset class
([D:/qfex/risk-limits]: FX 50x/$50M, gold and major indices 30x/$10M, other commodities 20x/$5M,
single equities 10x/$2.5M) and per-symbol defaults in refdata (`default_max_leverage`). The levels
offered are the usual ladder up to that maximum; each level's initial margin is 1/leverage and its
maintenance margin two thirds of that (QFEX's example: 20x -> 0.05 / 0.0333).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Context, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from runner.simulator.book import Book
from runner.simulator.errors import ConfigError
from runner.simulator.orders import ZERO
from runner.simulator.wire import JsonObject

_ONE = Decimal(1)
_LADDER = (1, 2, 3, 5, 10, 20, 25, 30, 50, 100)
_CAPS = {
    "EQUITY": Decimal(2_500_000),
    "INDEX": Decimal(10_000_000),
    "COMMODITY": Decimal(5_000_000),
    "FX": Decimal(50_000_000),
}
_GOLD_CAP = Decimal(10_000_000)
_DEFAULT_CAP = Decimal(2_500_000)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_REQUIRED = (
    "symbol",
    "status",
    "tick_size",
    "lot_size",
    "min_price",
    "max_price",
    "min_quantity",
    "max_quantity",
    "underlier_price",
)


class Market:
    """One symbol: its trading rules (Decimal), its order book and its prices."""

    __slots__ = (
        "base_asset",
        "book",
        "category",
        "default_leverage",
        "fair",
        "last_price",
        "leverage_levels",
        "lot",
        "mark_override",
        "market_hours",
        "max_notional",
        "max_price",
        "max_qty",
        "min_price",
        "min_qty",
        "order_types",
        "raw",
        "status",
        "symbol",
        "tick",
        "tifs",
        "underlier",
    )

    def __init__(self, raw: JsonObject) -> None:
        missing = [k for k in _REQUIRED if k not in raw]
        where = f"refdata symbol {raw.get('symbol', '?')!r}"
        if missing:
            raise ConfigError(f"{where}: missing field(s) {', '.join(missing)}")
        self.raw = raw
        self.symbol: str = str(raw["symbol"])
        self.status: str = str(raw["status"])
        self.category: str = str(raw.get("product_category", "EQUITY"))
        self.base_asset: str = str(raw.get("base_asset", self.symbol.split("-")[0]))
        self.tick = _dec(raw, "tick_size", where, positive=True)
        self.lot = _dec(raw, "lot_size", where, positive=True)
        self.min_price = _dec(raw, "min_price", where)
        self.max_price = _dec(raw, "max_price", where)
        self.min_qty = _dec(raw, "min_quantity", where)
        self.max_qty = _dec(raw, "max_quantity", where)
        self.underlier = _dec(raw, "underlier_price", where, positive=True)
        self.order_types = frozenset(raw.get("order_types") or ("LIMIT", "MARKET", "ALO"))
        self.tifs = frozenset(raw.get("order_time_in_force") or ("GTC", "IOC", "FOK"))
        self.market_hours: JsonObject = raw.get("market_hours") or {}
        max_lev = raw.get("default_max_leverage", 10)
        try:
            self.default_leverage = Decimal(str(max_lev))
        except InvalidOperation:
            raise ConfigError(f"{where}: default_max_leverage must be a number, got {max_lev!r}") from None
        if self.default_leverage <= 0:
            raise ConfigError(f"{where}: default_max_leverage must be positive")
        self.leverage_levels = (
            *tuple(Decimal(x) for x in _LADDER if x < self.default_leverage),
            self.default_leverage,
        )
        cap = _GOLD_CAP if self.base_asset == "GOLD" else _CAPS.get(self.category, _DEFAULT_CAP)
        self.max_notional = cap
        self.book = Book(self.symbol)
        self.last_price: Decimal | None = None
        self.fair: Decimal = self.underlier  # the market maker's mid; moved by scenarios / set_mid
        self.mark_override: Decimal | None = None

    # ------------------------------------------------------------------------------------ prices
    def mark(self) -> Decimal:
        """Mark price = median(best bid, best ask, last trade) [D:/docs/rules/margin]; with fewer
        inputs: mid of bid/ask, the one price there is, or the fair (scenario) price."""
        if self.mark_override is not None:
            return self.mark_override
        bid = self.book.best_bid()
        ask = self.book.best_ask()
        last = self.last_price
        if bid is not None and ask is not None:
            if last is None:
                return (bid + ask) / 2
            return sorted((bid, ask, last))[1]
        present = [p for p in (bid, ask, last) if p is not None]
        if len(present) == 2:
            return (present[0] + present[1]) / 2
        if present:
            return present[0]
        return self.fair

    def round_to_tick(self, price: Decimal, *, up: bool) -> Decimal:
        steps = price / self.tick
        steps = steps.quantize(_ONE, rounding="ROUND_CEILING" if up else "ROUND_FLOOR")
        return steps * self.tick

    def is_open(self, ts: float) -> bool:
        """Inside `market_hours` (tz + weekday {open, close}); a missing weekday means closed."""
        hours = self.market_hours
        if not hours:
            return True
        try:
            tz = ZoneInfo(str(hours.get("tz", "UTC")))
        except Exception:  # an unknown zone in a user fixture: do not block trading on it
            return True
        local = datetime.fromtimestamp(ts, tz)
        day = hours.get(_WEEKDAYS[local.weekday()])
        if not isinstance(day, dict):
            return False
        now = local.strftime("%H:%M:%S")
        return str(day.get("open", "00:00:00")) <= now <= str(day.get("close", "23:59:59"))

    def leverage_row(self, leverage: Decimal, row_id: str) -> JsonObject:
        """A LeveragePublic item: initial/maintenance margin fractions, max notional, leverage as string."""
        return {
            "id": row_id,
            "symbol": self.symbol,
            "initial_margin": initial_fraction(leverage),
            "maintenance_margin": maintenance_fraction(leverage),
            "max_notional": self.max_notional,
            "leverage": _lev_text(leverage),
        }


def _lev_text(leverage: Decimal) -> str:
    return str(int(leverage)) if leverage == leverage.to_integral_value() else str(leverage.normalize())


def _dec(raw: JsonObject, key: str, where: str, *, positive: bool = False) -> Decimal:
    value = raw[key]
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: {key} must be a number, got {value!r}") from None
    if not result.is_finite() or result < ZERO or (positive and result == ZERO):
        raise ConfigError(
            f"{where}: {key} must be {'positive' if positive else 'non-negative'}, got {value!r}"
        )
    return result


#: QFEX writes margin fractions as f64 (`0.05`, `0.03333333333333333`): 16 significant digits,
#: computed in Decimal (never through binary float) so the wire shows what the docs show.
_FRACTION = Context(prec=16)


def initial_fraction(leverage: Decimal) -> Decimal:
    """Initial margin as a fraction of notional: 1 / leverage (20x -> 0.05)."""
    return _FRACTION.divide(_ONE, leverage)


def maintenance_fraction(leverage: Decimal) -> Decimal:
    """Maintenance margin: two thirds of the initial (20x -> 0.03333333333333333, QFEX's example)."""
    return _FRACTION.divide(Decimal(2), 3 * leverage)


def lev_text(leverage: Decimal) -> str:
    """Leverage as QFEX writes it in leverage replies (a string: "20", "2.5")."""
    return _lev_text(leverage)
