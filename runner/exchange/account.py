"""What an account holds, read-only: balance, positions, leverage (qfex-api.md §3.2, §3.7).

QFEX has no request for balances or positions: they are pushed every second on the `balances`
and `positions` channels once subscribed, so `read_account` subscribes and waits for the first
push of each (a little over one pulse). Leverage is a request (`get_user_leverage`, leverage as
a string). Nothing here places, changes or cancels anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from runner.enums import Channel
from runner.exchange.client import TradeSession
from runner.exchange.protocol import wire_decimal

#: positions and balances are pulsed every 1 s [D:/websocket/channels/trade/positions]
PULSE_WAIT = 3.0


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: Decimal
    leverage: Decimal | None


@dataclass(frozen=True)
class LeverageTier:
    symbol: str
    leverage: Decimal | None
    initial_margin: Decimal | None


@dataclass
class AccountView:
    available_balance: Decimal | None = None
    deposit: Decimal | None = None
    #: the rest of the balance push (None: not pushed); equity is derived from them (`equity`)
    realised_pnl: Decimal | None = None
    unrealised_pnl: Decimal | None = None
    net_funding: Decimal | None = None
    fees: Decimal | None = None
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, LeverageTier] = field(default_factory=dict)
    #: what could not be read, in words (e.g. "no balance push within 3 s")
    gaps: list[str] = field(default_factory=list)


def equity(view: AccountView) -> Decimal | None:
    """Account equity as QFEX's margin rules define it [D:/docs/rules/margin]: available balance
    (deposits + realised PnL + net funding - fees, *before* margin) + unrealised PnL. The push's own
    `available_balance` is after margin (what new orders may use), so it is not the equity."""
    if view.deposit is None:
        return None
    zero = Decimal(0)
    return (view.deposit + (view.realised_pnl or zero) + (view.net_funding or zero) - (view.fees or zero)
            + (view.unrealised_pnl or zero))


def read_account(session: TradeSession, timeout: float, pulse_wait: float = PULSE_WAIT) -> AccountView:
    """Balance, positions (every symbol the exchange pushes) and leverage per symbol."""
    view = AccountView()
    session.subscribe([Channel.BALANCES, Channel.POSITIONS], timeout=timeout)
    deadline = time.monotonic() + pulse_wait
    got_balance = got_positions = False
    while time.monotonic() < deadline and not (got_balance and got_positions):
        frame = session.receive(max(deadline - time.monotonic(), 0.01))
        if frame is None:
            continue
        if isinstance(row := frame.get("balance_response"), dict):
            view.available_balance = wire_decimal(row.get("available_balance"))
            view.deposit = wire_decimal(row.get("deposit"))
            view.realised_pnl = wire_decimal(row.get("realised_pnl"))
            view.unrealised_pnl = wire_decimal(row.get("unrealised_pnl"))
            view.net_funding = wire_decimal(row.get("net_funding"))
            view.fees = wire_decimal(row.get("fees"))
            got_balance = True
        elif (rows := frame.get("position_response")) is not None:
            for row in rows if isinstance(rows, list) else [rows]:
                if isinstance(row, dict) and row.get("symbol"):
                    view.positions[str(row["symbol"])] = Position(
                        str(row["symbol"]), wire_decimal(row.get("position")) or Decimal(0),
                        wire_decimal(row.get("leverage")))
            got_positions = True
    if not got_balance:
        view.gaps.append(f"no balance pushed within {pulse_wait:g}s")
    if not got_positions:
        view.gaps.append(f"no positions pushed within {pulse_wait:g}s")
    view.leverage = _leverage(session, timeout, view.gaps)
    return view


def _leverage(session: TradeSession, timeout: float, gaps: list[str]) -> dict[str, LeverageTier]:
    query = {"type": "get_user_leverage", "params": {"limit": 1000}}
    rows = _answer(session, query, "user_leverage_response", timeout)
    if rows is None:
        gaps.append(f"no answer to get_user_leverage within {timeout:g}s")
        return {}
    tiers: dict[str, LeverageTier] = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("symbol"):
            tiers[str(row["symbol"])] = LeverageTier(str(row["symbol"]), wire_decimal(row.get("leverage")),
                                                     wire_decimal(row.get("initial_margin")))
    return tiers


def _answer(session: TradeSession, message: dict[str, Any], key: str, timeout: float) -> object | None:
    """Send a query and return the value under `key` of its answer (None: no answer, or an `err`)."""
    session.send(message)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = session.receive(max(deadline - time.monotonic(), 0.01))
        if frame is None:
            continue
        if key in frame:
            value: object = frame[key]
            return value
        if "err" in frame or frame.get("type") == "error":
            return None
    return None
