"""Test kit for the engine: a hand-driven clock, two funded users, and shorthand for requests.

Engine tests drive `Exchange` directly (no sockets): the server has its own suites. Numbers are
given as strings and sent as Decimal, as the server's JSON parser would deliver them.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from runner.simulator.config import DEMO_ACCOUNT_ID, DEMO_USER_ID, AccountConfig, EngineConfig, demo_account
from runner.simulator.engine import Exchange, Outbound

T0 = 1_760_000_000.0
BOB_ACCOUNT = "b0b0b0b0-0000-4000-8000-000000000001"
BOB_USER = "b0b0b0b0-0000-4000-8000-000000000002"
BOB_SUB = "b0b0b0b0-0000-4000-8000-000000000003"


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def D(x: Any) -> Decimal:
    return Decimal(str(x))


def bob() -> AccountConfig:
    return AccountConfig("qfex_pub_bob", "qfex_secret_bob", BOB_USER, BOB_ACCOUNT, [BOB_SUB], D(1_000_000))


class Kit:
    """An Exchange with a manual clock; `alice` is the demo account, `bob` a second user."""

    def __init__(self, **config: Any) -> None:
        self.clock = Clock()
        config.setdefault("speed_bump_ms", 0)
        config.setdefault("accounts", [demo_account(), bob()])
        self.ex = Exchange(EngineConfig(clock=self.clock, **config))
        ids = {a.account_id for a in self.ex.config.accounts}
        self.alice = self.ex.session(DEMO_ACCOUNT_ID, DEMO_USER_ID) if DEMO_ACCOUNT_ID in ids else None
        self.bob = self.ex.session(BOB_ACCOUNT, BOB_USER) if BOB_ACCOUNT in ids else None

    # --- requests -------------------------------------------------------------------------------
    def send(self, msg_type: str, who: Any = None, **params: Any) -> list[Outbound]:
        return self.ex.handle(who or self.alice, msg_type, _decimals(params))

    def order(
        self,
        symbol: str = "AAPL-USD",
        side: str = "BUY",
        order_type: str = "LIMIT",
        tif: str = "GTC",
        quantity: Any = "1",
        price: Any = None,
        who: Any = None,
        **extra: Any,
    ) -> list[Outbound]:
        params: dict[str, Any] = {
            "symbol": symbol,
            "side": side,
            "order_type": order_type,
            "order_time_in_force": tif,
            "quantity": quantity,
        }
        if price is not None:
            params["price"] = price
        params.update(extra)
        return self.send("add_order", who, **params)

    def advance(self, seconds: float) -> list[Outbound]:
        self.clock.t += seconds
        return self.ex.on_time()


def _decimals(params: dict[str, Any]) -> dict[str, Any]:
    return {k: Decimal(v) if isinstance(v, str) and _numeric(k) else v for k, v in params.items()}


_NUMERIC = {
    "quantity",
    "price",
    "take_profit",
    "stop_loss",
    "total_quantity",
    "leverage",
    "start_ts",
    "end_ts",
}


def _numeric(key: str) -> bool:
    return key in _NUMERIC


# --- reading outbounds -----------------------------------------------------------------------------
def responses(outs: list[Outbound]) -> list[dict]:
    """The order_response payloads, in order."""
    return [o.message["order_response"] for o in outs if "order_response" in o.message]


def statuses(outs: list[Outbound]) -> list[str]:
    return [r["status"] for r in responses(outs)]


def fills(outs: list[Outbound]) -> list[dict]:
    return [o.message["fill_response"] for o in outs if "fill_response" in o.message]


def stop_messages(outs: list[Outbound]) -> list[dict]:
    return [o.message["stop_order_response"] for o in outs if "stop_order_response" in o.message]


def caller(outs: list[Outbound]) -> list[dict]:
    return [o.message for o in outs if o.to == "caller"]


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value
    except (ValueError, TypeError):
        return False


ORDER_RESPONSE_FIELDS = [
    "order_id",
    "symbol",
    "status",
    "quantity",
    "price",
    "take_profit",
    "stop_loss",
    "side",
    "type",
    "time_in_force",
    "user_id",
    "client_order_id",
    "quantity_remaining",
    "update_time",
    "trade_id",
]
FILL_RESPONSE_FIELDS = [
    "trade_id",
    "user_id",
    "symbol",
    "price",
    "quantity",
    "side",
    "aggressor_side",
    "order_id",
    "fee",
    "order_type",
    "tif",
    "order_price",
    "client_order_id",
    "remaining_quantity",
    "take_profit",
    "stop_loss",
    "execution_type",
    "timestamp",
    "realised_pnl",
]
