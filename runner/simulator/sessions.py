"""QFEX's market-closed position caps: which session a symbol is in, and how much of its cap is left.

QFEX's risk-limits page [D:/qfex/risk-limits]: "During Market Close: position size per participant
is limited to the Max Position Percentage of normal size" — Overnight 50 %, Weekend 10 % — and
"participants exceeding this limit can only reduce exposure". Market close is when the reference
market (NYSE for single stocks, CME for indices and commodities; FX 24/5) is closed.

The engine's session is pinned by `EngineConfig.session` (`open` by default, so no test depends on
the weekday; `overnight` / `weekend` to rehearse a closed market) or `auto`: read from the symbol's
refdata `market_hours` at the engine's clock — open inside the day's hours; otherwise weekend from
Friday's close to Monday's open (and all of Saturday and Sunday), overnight on the other days. That
reading of `market_hours` is ours: QFEX publishes the periods per asset class, not per symbol.

Pure: no engine state; `entry.py` applies the cap.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from runner.simulator.wire import JsonObject

OPEN, OVERNIGHT, WEEKEND, AUTO = "open", "overnight", "weekend", "auto"
SESSIONS: tuple[str, ...] = (OPEN, OVERNIGHT, WEEKEND, AUTO)
#: "Max Position % of Normal Limit" [D:/qfex/risk-limits]
CAP_FRACTION: dict[str, Decimal] = {OVERNIGHT: Decimal("0.5"), WEEKEND: Decimal("0.1")}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def session_at(market_hours: JsonObject, ts: float) -> str:
    """`open`, `overnight` or `weekend` for a symbol's refdata `market_hours` at Unix time `ts`
    (no hours published: always open, as QFEX's perpetuals trade around the clock)."""
    if not market_hours:
        return OPEN
    try:
        local = datetime.fromtimestamp(ts, ZoneInfo(str(market_hours.get("tz", "UTC"))))
    except Exception:  # an unknown zone in a user's fixture: do not invent a closed market
        return OPEN
    weekday = local.weekday()
    day = market_hours.get(_WEEKDAYS[weekday])
    now = local.strftime("%H:%M:%S")
    if isinstance(day, dict):
        opens, closes = str(day.get("open", "00:00:00")), str(day.get("close", "23:59:59"))
        if opens <= now <= closes:
            return OPEN
        if (weekday == 4 and now > closes) or (weekday == 0 and now < opens):
            return WEEKEND
        return OVERNIGHT
    return WEEKEND if weekday >= 5 else OVERNIGHT


def session_cap(max_notional: Decimal, session: str) -> Decimal | None:
    """The position cap (USD notional) in `session`; None when the market is open (the normal cap)."""
    fraction = CAP_FRACTION.get(session)
    return None if fraction is None else max_notional * fraction
