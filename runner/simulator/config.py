"""Configuration of the local exchange's engine: markets, accounts, determinism and fidelity switches.

Every behaviour QFEX leaves unpublished (open-order limit, client_order_id length) or documents in two
conflicting ways (reply shapes) is a field here. Reply shapes default to the *live* dialect — what
QFEX's own CLI waits for and the current AsyncAPI declares — and `DIALECTS["docs-pages"]` gives the
shapes of the older docs pages (README "Dialects").
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from runner.simulator import yamlnodes as yn
from runner.simulator.errors import ConfigError
from runner.simulator.sessions import SESSIONS
from runner.simulator.wire import JsonObject

if TYPE_CHECKING:
    from runner.simulator.scenario import Scenario

DEMO_PUBLIC_KEY = "qfex_pub_demo"
DEMO_SECRET_KEY = "qfex_secret_demo"
DEMO_USER_ID = "0d3e5f1a-7b2c-4d8e-9f60-1a2b3c4d5e6f"
#: A user's primary account id is its user id on QFEX: the subaccount list is "accounts except the
#: primary row where account_id equals user_id" [D:/api-reference/rest/user/list-subaccounts], and the
#: balance example shows `id` == `user_id` [D:/websocket/channels/trade/balance].
DEMO_ACCOUNT_ID = DEMO_USER_ID
DEFAULT_DEPOSIT = Decimal("1000000")

_ID_NAMESPACE = uuid.UUID("3f8b6c2e-1d4a-5b7c-9e0f-2a3b4c5d6e7f")


@dataclass
class AccountConfig:
    """One QFEX user: API key pair, ids, optional subaccounts; every account gets `deposit` USD."""

    public_key: str
    secret_key: str = field(repr=False)
    user_id: str
    account_id: str
    subaccounts: list[str] = field(default_factory=list)
    deposit: Decimal = DEFAULT_DEPOSIT


def demo_account() -> AccountConfig:
    return AccountConfig(DEMO_PUBLIC_KEY, DEMO_SECRET_KEY, DEMO_USER_ID, DEMO_ACCOUNT_ID, [], DEFAULT_DEPOSIT)


@lru_cache(maxsize=1)
def _default_refdata_text() -> str:
    return (Path(__file__).parent / "data" / "refdata.json").read_text(encoding="utf-8")


def default_refdata() -> list[JsonObject]:
    """The shipped illustrative fixture (`data/refdata.json`), as RefdataSymbol dicts (a fresh copy)."""
    rows: list[JsonObject] = json.loads(_default_refdata_text())["data"]
    return rows


STOP_CAP_POLICIES = ("reject", "cancel_others", "off")
ALO_CROSS_STATUSES = ("REJECTED", "CANCELLED")
USER_TRADES_SHAPES = ("user_trades", "user_trades_response")
GET_ORDER_REPLIES = ("all_orders_response", "order_response")
LEVERAGE_ACK_SHAPES = ("ack_response", "ack")
CANCEL_ALL_ACK_SHAPES = ("ack", "ack_response", "none")

LIVE, DOCS_PAGES = "live", "docs-pages"
#: EngineConfig fields per dialect. "live" (the default): the reply kinds QFEX's CLI waits for
#: [CLI:internal/daemon/server.go] and the current AsyncAPI declares [AE:asyncapi/qfex-trade-asyncapi.yml];
#: "docs-pages": the examples of the per-command docs pages [D:/websocket/channels/trade/*].
DIALECTS: dict[str, dict[str, object]] = {
    LIVE: {"user_trades_shape": "user_trades_response", "get_order_reply": "order_response",
           "leverage_ack_shape": "ack", "stop_ops_ack": True},
    DOCS_PAGES: {"user_trades_shape": "user_trades", "get_order_reply": "all_orders_response",
                 "leverage_ack_shape": "ack_response", "stop_ops_ack": False},
}


class FastClock:
    """The wall clock running `speed` times faster from the moment it is made (`sim --clock-speed`):
    scenario steps, the speed bump, TWAP intervals and the exchange's frame timestamps all follow
    it, so a rehearsal of `close_after: 3d` plays out in minutes. The server sleeps engine seconds
    divided by `speed`."""

    def __init__(self, speed: float, base: Callable[[], float] = time.time) -> None:
        if speed <= 0:
            raise ConfigError(f"clock speed must be greater than 0, got {speed}")
        self.speed = speed
        self._base = base
        self._start = base()

    def __call__(self) -> float:
        return self._start + (self._base() - self._start) * self.speed


@dataclass
class EngineConfig:
    """Everything the engine needs; defaults give the documented QFEX behaviour with a demo account."""

    refdata: list[JsonObject] = field(default_factory=default_refdata)
    accounts: list[AccountConfig] = field(default_factory=lambda: [demo_account()])
    seed: int = 0
    speed_bump_ms: int = 100
    clock: Callable[[], float] = time.time
    #: TWAP child orders go `twap_speed` times faster than `order_interval_secs` says (rehearsals and
    #: tests: QFEX's minimum 30 s interval takes 1 s at 30); replies still show the interval asked for
    twap_speed: float = 1.0
    max_open_orders: int | None = None
    max_client_order_id_length: int | None = None
    #: what happens when a stop order would make the open TAKE_PROFIT (or STOP_LOSS) quantity exceed
    #: the position: "reject" the new one, "cancel_others" (oldest first), or "off" (no cap).
    stop_cap_policy: str = "reject"
    market_maker: bool = True
    scenario: Scenario | None = None
    # --- fidelity / compat switches (reply shapes: the live dialect, DIALECTS) ---
    #: an ALO that would cross is "cancelled instead" per the current order-types page; the older
    #: enums page says "rejected"
    alo_cross_status: str = "CANCELLED"
    #: `{"user_trades_response": [...]}` (live) or `{"user_trades": [...], "count"}` (docs pages)
    user_trades_shape: str = "user_trades_response"
    #: get_order answers one `order_response` for any order of the account, open or ended (live), or
    #: `all_orders_response` listing it only while open (docs pages)
    get_order_reply: str = "order_response"
    leverage_ack_shape: str = "ack"
    cancel_all_ack_shape: str = "ack"
    #: also send `{"ack": ...}` after cancel_stop_order / modify_stop_order (the CLI waits for one)
    stop_ops_ack: bool = True
    #: accept the old `params.client_order_id` on cancel_order (mid-2025 docs)
    legacy_cancel_client_order_id: bool = False
    #: accept `"12.5"` strings for numbers (a third-party client claims QFEX does)
    accept_string_numbers: bool = True
    #: reject with REJECTED_MARKET_CLOSED outside refdata `market_hours` (QFEX perps trade 24/7, and
    #: tests must not depend on the weekday, so off by default)
    enforce_market_hours: bool = False
    #: the market session for QFEX's market-closed position caps (sessions.py): "open" (no extra cap;
    #: the default, so tests never depend on the weekday), "overnight" (50 %), "weekend" (10 %), or
    #: "auto" (from each symbol's market_hours at the clock)
    session: str = "open"
    cancel_all_includes_stops: bool = True
    #: cancel-on-disconnect also cancels stop orders (off: they protect positions; README)
    cancel_on_disconnect_includes_stops: bool = False
    maker_fee_rate: Decimal = Decimal("0.0001")
    taker_fee_rate: Decimal = Decimal("0.0002")
    # --- synthetic liquidity ---
    mm_levels: int = 5
    #: USD notional the market maker shows per side, spread over its levels (deeper levels larger)
    mm_depth_notional: Decimal = Decimal("500000")
    mm_replenish_ms: int = 100
    #: how far (fraction of price) close_position's LIMIT IOC may trade away from the mark
    close_position_slippage: Decimal = Decimal("0.01")

    def validate(self) -> None:
        """Raise ConfigError naming the first bad field."""
        _choice("stop_cap_policy", self.stop_cap_policy, STOP_CAP_POLICIES)
        _choice("alo_cross_status", self.alo_cross_status, ALO_CROSS_STATUSES)
        _choice("user_trades_shape", self.user_trades_shape, USER_TRADES_SHAPES)
        _choice("get_order_reply", self.get_order_reply, GET_ORDER_REPLIES)
        _choice("leverage_ack_shape", self.leverage_ack_shape, LEVERAGE_ACK_SHAPES)
        _choice("cancel_all_ack_shape", self.cancel_all_ack_shape, CANCEL_ALL_ACK_SHAPES)
        _choice("session", self.session, SESSIONS)
        if self.speed_bump_ms < 0:
            raise ConfigError(f"speed_bump_ms must be >= 0, got {self.speed_bump_ms}")
        if not self.twap_speed > 0:
            raise ConfigError(f"twap_speed must be > 0, got {self.twap_speed}")
        if self.mm_levels < 1:
            raise ConfigError(f"mm_levels must be >= 1, got {self.mm_levels}")
        if not self.accounts:
            raise ConfigError("at least one account is required")
        keys = [a.public_key for a in self.accounts]
        if len(set(keys)) != len(keys):
            raise ConfigError("two accounts share a public_key")
        ids = [i for a in self.accounts for i in (a.account_id, *a.subaccounts)]
        if len(set(ids)) != len(ids):
            raise ConfigError("two accounts share an account_id")


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


# ---------------------------------------------------------------------------------------- accounts file

_ACCOUNT_KEYS = {"public_key", "secret_key", "user_id", "account_id", "subaccounts", "deposit"}


def load_accounts_file(path: str | Path) -> list[AccountConfig]:
    """Accounts from YAML/JSON: a list (or `{"accounts": [...]}`) of
    `{public_key, secret_key, user_id?, account_id?, subaccounts?, deposit?}`.

    A missing user_id is derived deterministically from the public key (UUID v5) and a missing
    account_id is the user_id (QFEX's primary account), so a file with just key pairs is enough.
    Problems raise ConfigError with file:line:col; secrets never appear in messages.
    """
    name, root = yn.compose_file(path)
    items = root
    if not isinstance(root, yaml.SequenceNode):
        top = yn.mapping(name, root, "accounts file")
        yn.reject_unknown(name, top, {"accounts"}, "accounts file")
        if "accounts" not in top:
            raise yn.error(name, root, "accounts file: expected a list of accounts or an 'accounts:' key")
        items = top["accounts"][1]
    accounts: list[AccountConfig] = []
    for index, node in enumerate(yn.sequence(name, items, "accounts")):
        what = f"accounts[{index}]"
        fields = yn.mapping(name, node, what)
        yn.reject_unknown(name, fields, _ACCOUNT_KEYS, what)
        for required in ("public_key", "secret_key"):
            if required not in fields:
                raise yn.error(name, node, f"{what}: missing '{required}'")
        public_key = yn.string(name, fields["public_key"][1], f"{what}.public_key")
        secret_key = yn.string(name, fields["secret_key"][1], f"{what}.secret_key")
        user_id = _uuid_field(name, fields, "user_id", what) or str(
            uuid.uuid5(_ID_NAMESPACE, "user:" + public_key)
        )
        # the primary account id is the user id on QFEX (see DEMO_ACCOUNT_ID)
        account_id = _uuid_field(name, fields, "account_id", what) or user_id
        subaccounts: list[str] = []
        if "subaccounts" in fields:
            for sub_index, sub in enumerate(
                yn.sequence(name, fields["subaccounts"][1], f"{what}.subaccounts")
            ):
                subaccounts.append(_uuid(name, sub, f"{what}.subaccounts[{sub_index}]"))
        deposit = DEFAULT_DEPOSIT
        if "deposit" in fields:
            deposit = yn.decimal(name, fields["deposit"][1], f"{what}.deposit")
            if deposit < 0:
                raise yn.error(name, fields["deposit"][1], f"{what}.deposit must not be negative")
        accounts.append(AccountConfig(public_key, secret_key, user_id, account_id, subaccounts, deposit))
    if not accounts:
        raise yn.error(name, items, "accounts file lists no accounts")
    seen: dict[str, str] = {}
    for account in accounts:
        for ident in (account.public_key, account.account_id, *account.subaccounts):
            if ident in seen:
                raise ConfigError(f"{name}: '{ident}' is used by more than one account")
            seen[ident] = account.public_key
    return accounts


def _uuid_field(name: str, fields: JsonObject, key: str, what: str) -> str | None:
    if key not in fields:
        return None
    return _uuid(name, fields[key][1], f"{what}.{key}")


def _uuid(name: str, node: yaml.Node, what: str) -> str:
    text = yn.string(name, node, what)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise yn.error(name, node, f"{what} must be a UUID, got '{text}'") from None


def dialect_fields(name: str) -> dict[str, object]:
    """The EngineConfig fields of a dialect (`live` or `docs-pages`); ConfigError for another name."""
    try:
        return dict(DIALECTS[name])
    except KeyError:
        raise ConfigError(f"unknown dialect {name!r} (choose {' or '.join(DIALECTS)})") from None
