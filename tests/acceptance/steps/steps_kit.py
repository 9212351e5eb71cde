"""Helpers for the step tests: a step item, and what the demo account holds at the exchange."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def step(id_: str, kind: str, **fields: Any) -> str:
    lines = [f"id: {id_}", f"step: {kind}", *(f"{k}: {v}" for k, v in fields.items())]
    return "  - " + "\n    ".join(lines)


def account_id(sim: Any) -> str:
    return str(sim.call(lambda ex: ex.account_for_key(sim.public_key)).account_id)


def position(sim: Any, symbol: str = "AAPL-USD") -> Decimal:
    account = account_id(sim)
    return Decimal(sim.call(lambda ex: ex.position(account, symbol))["position"])


def open_orders(sim: Any) -> list[dict[str, Any]]:
    account = account_id(sim)
    return list(sim.call(lambda ex: ex.orders(account)))


def leverage(sim: Any, symbol: str = "AAPL-USD") -> Decimal:
    account = account_id(sim)
    return Decimal(sim.call(lambda ex: ex.position(account, symbol))["leverage"])
