"""The account figures risk needs offline or at run time: equity, available balance, leverage.

At run time they come from the exchange (`runner.run.risk_inputs`, QFEX's `balances` push and
`get_user_leverage`); offline from `--equity N` or an account snapshot file (`--account FILE`), so
CI can size `{risk: 0.5%}` and check `max_leverage` without credentials. The file is JSON::

    {"taken_at": "2026-12-05T08:00:00Z", "equity": "25000", "available_balance": "24000",
     "leverage": {"AAPL-USD": "10"}}

Every key but `equity` is optional; numbers may be strings or JSON numbers (read exactly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from runner import jsonnum
from runner.errors import NotARegularFile, UsageError
from runner.files import read_regular

MAX_ACCOUNT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class AccountFigures:
    """What is known of the account, and where it was read (shown next to every derived figure)."""

    source: str
    #: QFEX's margin rules: account equity = available balance + unrealised PnL
    equity: Decimal | None = None
    #: what new orders may still use as margin
    available_balance: Decimal | None = None
    #: symbol -> the account's leverage setting for it
    leverage: Mapping[str, Decimal] = field(default_factory=dict)
    taken_at: str | None = None


def from_equity(amount: Decimal) -> AccountFigures:
    """`--equity N`: an equity given on the command line (nothing else known)."""
    return AccountFigures(source="--equity", equity=amount)


def _number(raw: Any, where: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        raise UsageError(f"{where} must be a number or a numeric string, got {raw!r}")
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(raw)
    except InvalidOperation:
        raise UsageError(f"{where} {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise UsageError(f"{where} {raw!r} must be a finite number, at least 0")
    return value


def parse_account(obj: Any, source: str) -> AccountFigures:
    """An account snapshot's JSON -> AccountFigures (UsageError naming the bad field)."""
    if not isinstance(obj, dict):
        raise UsageError(f"--account {source}: expected a JSON object with at least \"equity\"")
    if "equity" not in obj:
        raise UsageError(f"--account {source}: missing \"equity\"")
    leverage = obj.get("leverage") or {}
    if not isinstance(leverage, dict):
        raise UsageError(f"--account {source}: \"leverage\" must map symbols to leverage")
    taken_at = obj.get("taken_at")
    where = f"--account {source}:"
    return AccountFigures(
        source=f"account snapshot {source}" + (f" taken {taken_at}" if taken_at else ""),
        equity=_number(obj["equity"], f"{where} equity"),
        available_balance=(_number(obj["available_balance"], f"{where} available_balance")
                           if obj.get("available_balance") is not None else None),
        leverage={str(k): _number(v, f"{where} leverage of {k}") for k, v in leverage.items()},
        taken_at=str(taken_at) if taken_at is not None else None)


def load_account_file(path: str | Path) -> AccountFigures:
    """Read `--account FILE`; any problem is a UsageError naming the file (exit 2)."""
    try:
        raw = read_regular(path, MAX_ACCOUNT_BYTES)
    except NotARegularFile as exc:
        raise UsageError(f"--account {path}: is {exc.what}, not an account snapshot") from None
    except OSError as exc:
        raise UsageError(f"--account {path}: cannot read file: {exc.strerror or exc}") from None
    try:
        obj = jsonnum.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"--account {path}: not valid JSON: {exc}") from None
    return parse_account(obj, str(path))
