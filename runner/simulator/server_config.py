"""Options of the local exchange's server side (transport, auth, limits, faults, compat shapes).

The matching engine has its own `EngineConfig` (runner/simulator/config.py); everything here is
about the wire: what a connection must do to authenticate, which reply shapes are sent, how
fast a user may send, and which faults are injected. Defaults follow QFEX's current docs;
every place where the docs are silent is a field here, so a test can pick the other reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

#: The `--compat` names, each switching one documented-but-older (or ambiguous) shape on.
COMPAT_FLAGS: dict[str, str] = {
    "legacy-auth-reply": 'auth success answered {"type":"auth","result":"success"} (mid-2025 docs)',
    "legacy-errors": 'error frames flat {"type":"error","error_code":...} (mid-2025 docs)',
    "legacy-api-key-auth": 'accept {"type":"auth","params":{"api_key":...}} (pre-HMAC docs)',
    "envelope-pulses": 'positions/balances pushed in the dYdX-style {"type","connection_id",'
                       '"message_id","channel":"v4_...","contents"} envelope',
    "unsubscribed-order-responses": "order_response events reach connections that did not subscribe "
                                    "to order_responses (behaviour before 2025-09-25)",
    "incoming-message-text": "err.incoming_message for a frame that is not a JSON object is its raw text "
                             "(AsyncAPI: object or string; the default) instead of null (errors page: "
                             "object/null; --dialect docs-pages)",
    "retry-after-field": "RateLimited errors also carry err.retry_after_ms (the documented envelope has "
                         "only error_code, message, incoming_message; the hint is always in message)",
}


#: `--compat` names that switch the engine (EngineConfig fields) rather than the server.
ENGINE_COMPAT: dict[str, tuple[str, object, str]] = {
    "legacy-cancel-client-order-id": ("legacy_cancel_client_order_id", True,
                                      "cancel_order accepts params.client_order_id (mid-2025 docs)"),
    "alo-rejected": ("alo_cross_status", "REJECTED",
                     "a crossing ALO is REJECTED (older enums page) rather than CANCELLED (current "
                     "order-types page, the default)"),
    "alo-cancelled": ("alo_cross_status", "CANCELLED",
                      "a crossing ALO is CANCELLED (the default; current order-types page)"),
    "user-trades-response": ("user_trades_shape", "user_trades_response",
                             "get_user_trades answers {\"user_trades_response\": [...]} (AsyncAPI, CLI; "
                             "the default)"),
    "get-order-order-response": ("get_order_reply", "order_response",
                                 "get_order answers an order_response (what QFEX's CLI waits for; the "
                                 "default)"),
    "leverage-ack": ("leverage_ack_shape", "ack",
                     'set_user_leverage answers {"ack": ...} (AsyncAPI, CLI; the default)'),
    "stop-ops-ack": ("stop_ops_ack", True,
                     "cancel/modify_stop_order also send an ack (what the CLI waits for; the default)"),
}


def split_compat(names: Iterable[str], dialect: str = "live") -> tuple[CompatOptions, dict[str, Any]]:
    """`--dialect` and `--compat` values → (server CompatOptions, EngineConfig field overrides): the
    dialect's shapes first, then each named shape over them; unknown names raise ValueError."""
    from runner.simulator.config import dialect_fields
    from runner.simulator.errors import ConfigError

    if dialect not in DIALECT_COMPAT:
        raise ValueError(f"unknown --dialect {dialect!r} (choose {' or '.join(DIALECT_COMPAT)})")
    server_names: list[str] = []
    try:
        engine: dict[str, Any] = dialect_fields(dialect)  # EngineConfig field -> value
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    for raw in names:
        for name in filter(None, (part.strip() for part in raw.split(","))):
            if name in ENGINE_COMPAT:
                field_name, value, _ = ENGINE_COMPAT[name]
                engine[field_name] = value
            else:
                server_names.append(name)
    return CompatOptions.from_names(server_names, dialect), engine


def compat_help() -> str:
    rows = {**COMPAT_FLAGS, **{name: text for name, (_, _, text) in ENGINE_COMPAT.items()}}
    return "; ".join(f"{name}: {text}" for name, text in sorted(rows.items()))


#: the server's side of each dialect (EngineConfig's side: `config.DIALECTS`)
DIALECT_COMPAT: dict[str, dict[str, bool]] = {
    "live": {"incoming_message_text": True},
    "docs-pages": {"incoming_message_text": False},
}


@dataclass(frozen=True)
class CompatOptions:
    """Older or alternative reply shapes, each off by default but `incoming_message_text` (the live
    dialect: what the current AsyncAPI declares)."""

    legacy_auth_reply: bool = False
    legacy_errors: bool = False
    legacy_api_key_auth: bool = False
    envelope_pulses: bool = False
    unsubscribed_order_responses: bool = False
    retry_after_field: bool = False
    incoming_message_text: bool = True

    @classmethod
    def from_names(cls, names: list[str] | tuple[str, ...], dialect: str = "live") -> CompatOptions:
        """Build from `--compat` names (comma lists allowed) over a dialect's defaults; unknown names
        raise ValueError."""
        chosen: dict[str, bool] = dict(DIALECT_COMPAT[dialect])
        for raw in names:
            for name in filter(None, (part.strip() for part in raw.split(","))):
                if name not in COMPAT_FLAGS:
                    known = ", ".join(sorted({*COMPAT_FLAGS, *ENGINE_COMPAT}))
                    raise ValueError(f"unknown --compat option {name!r} (known: {known})")
                chosen[name.replace("-", "_")] = True
        return cls(**chosen)

    def names(self) -> list[str]:
        return [f.name.replace("_", "-") for f in fields(self) if getattr(self, f.name)]


@dataclass(frozen=True)
class RateLimitConfig:
    """QFEX's documented per-user EMA limit [D:/websocket/rate.md]; see ratelimit.py."""

    limit_units: float = 12_000.0
    window_s: float = 60.0
    cancel_limit_units: float = 12_000.0  # the cancel bucket's own limit is not published
    weights: dict[str, float] | None = None  # None = the documented table (ratelimit.WEIGHTS)
    default_weight: float = 1.0  # for commands the weight table does not list


@dataclass(frozen=True)
class FaultConfig:
    """Injected faults for client tests; all off by default."""

    latency_ms: float = 0.0  # one-way, every frame, both directions, order kept
    drop_after_messages: int | None = None  # abort the TCP connection after the N-th inbound frame...
    drop_before_reply: bool = True  # ...after the engine processed it but before its replies go out
    drop_times: int = 1  # how many connections get dropped over the server's life (0 = every one)
    error_rate: float = 0.0  # probability of answering an authenticated command with err ServerError
    stall_after_messages: int | None = None  # stop answering after the N-th inbound frame...
    stall_seconds: float | None = None  # ...for this long (None = until the connection closes)
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.drop_after_messages is not None or self.error_rate
                    or self.stall_after_messages is not None)


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server side decides; the defaults are the documented behaviour."""

    host: str = "127.0.0.1"
    port: int = 8765
    # --- authentication [D:/websocket/channels/trade/authenticate.md] ---
    auth_timeout_s: float = 60.0
    timestamp_skew_s: float = 300.0
    nonce_window_s: float = 900.0
    max_nonce_length: int = 100
    #: how a refused auth is answered: "both" = {"authenticated": false} then err PermissionDenied
    auth_failure_reply: Literal["both", "flag", "err"] = "both"
    close_on_auth_failure: bool = False  # QFEX's CLI stays connected after {"authenticated": false}
    #: commands before auth: "reject" = err PermissionDenied, "ignore" = no answer at all
    pre_auth_commands: Literal["reject", "ignore"] = "reject"
    #: accepted JWTs: token -> public key of the account it stands for (no JWTs by default)
    jwt_tokens: dict[str, str] = field(default_factory=dict)
    # --- transport ---
    ping_interval_s: float | None = 20.0  # protocol-level pings, started after auth
    ping_timeout_s: float | None = 20.0
    pulse_interval_s: float = 1.0  # positions / balances cadence [D:/websocket/channels/trade/positions]
    #: market-data pulses (mark_price, bbo, level2) at /mds: 500 ms as the current order-book page
    #: [D:/websocket/channels/mds/orderbook.md] ("500ms pulsed"; an older page said 50 ms)
    mds_interval_s: float = 0.5
    max_message_bytes: int = 1 << 20  # largest inbound frame (websockets' max_size); larger → close 1009
    #: replies waiting for a client that does not read (beyond the socket's own buffers); past this
    #: the connection is dropped, as an exchange drops a slow consumer
    max_outbox_bytes: int = 8 << 20
    #: cancel-on-disconnect fires on "abnormal" closes (anything but a client close frame with
    #: code 1000) or on "any" close
    cancel_on_disconnect_trigger: Literal["abnormal", "any"] = "abnormal"
    #: add err.retry_after_ms to RateLimited errors (off: QFEX's documented envelope has three fields,
    #: so the hint travels in `message`; `--compat retry-after-field` also switches it on)
    retry_after_field: bool = False
    rate_limit: RateLimitConfig | None = field(default_factory=RateLimitConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    compat: CompatOptions = field(default_factory=CompatOptions)

