"""Trade-WebSocket authentication exactly as QFEX documents it [D:/websocket/channels/trade/authenticate.md].

    {"type":"auth","params":{"hmac":{"public_key","nonce","unix_ts","signature"},"account_id"?}}
    signature = lowercase hex(HMAC-SHA256(key=secret as UTF-8, msg=f"{nonce}:{unix_ts}"))

Checks, in this order (the first failure is reported): the public key is known; the nonce is
hex and at most 100 characters; `unix_ts` is within the allowed skew of server time (±300 s by
default — the REST docs' "typically ±5 minutes"; the WS page publishes none); the signature
matches (constant-time compare of lowercase hex); the nonce was not used by this key in the last
15 minutes. Only a fully verified attempt records its nonce. An optional `account_id` must be
the key's primary account or one of its subaccounts.

Alternatives: `{"jwt": token}` (tokens configured per server, none by default) and, behind a
compat flag, the pre-HMAC `{"api_key": key}` form.

A request that is not even shaped like an auth message (missing fields, wrong JSON types) is an
`InvalidJSONFormat` error, as for any other schema mismatch; a well-formed but refused attempt is
`PermissionDenied`. Messages name the failed check but never echo a secret or the expected
signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from runner.simulator.server_config import ServerConfig
from runner.simulator.wire import JsonObject

_HEX = frozenset("0123456789abcdefABCDEF")


class Account(Protocol):
    """What auth needs to know about an account (the engine's AccountConfig satisfies it)."""

    public_key: str
    user_id: str
    account_id: str

    @property
    def secret_key(self) -> object: ...  # a str, or a redacting wrapper (see `secret_text`)
    @property
    def subaccounts(self) -> Sequence[str] | None: ...


@dataclass(frozen=True)
class Identity:
    """Who a connection is after a successful auth."""

    public_key: str
    user_id: str
    account_id: str  # the primary account or the chosen subaccount
    method: str  # "hmac" | "jwt" | "api_key"


class AuthRefused(Exception):
    """The attempt failed; `error_code` is the `err.error_code` to send."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def malformed(self) -> bool:
        return self.error_code == "InvalidJSONFormat"


def _malformed(message: str) -> AuthRefused:
    return AuthRefused("InvalidJSONFormat", message)


def _denied(message: str) -> AuthRefused:
    return AuthRefused("PermissionDenied", message)


def secret_text(secret: object) -> str:
    """The secret's characters, whether configured as a plain str or a redacting wrapper."""
    if isinstance(secret, str):
        return secret
    for name in ("reveal", "get_secret_value", "value"):
        attr = getattr(secret, name, None)
        if callable(attr):
            return str(attr())
        if isinstance(attr, str):
            return attr
    raise TypeError("account secret_key must be a string")


def sign(secret: str, nonce: str, unix_ts: int) -> str:
    """The documented signature (also used by tests and the bench to log in)."""
    return hmac.new(secret.encode("utf-8"), f"{nonce}:{unix_ts}".encode(), hashlib.sha256).hexdigest()


class Authenticator:
    """Verifies auth messages; keeps the per-key nonce memory for the replay window."""

    def __init__(self, lookup: Callable[[str], Account | None], config: ServerConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.lookup = lookup
        self.config = config or ServerConfig()
        self.clock = clock
        self._nonces: dict[str, dict[str, float]] = {}

    # --- entry point -------------------------------------------------------------------------
    def authenticate(self, params: JsonObject) -> Identity:
        """Return the Identity, or raise AuthRefused."""
        if "account_id" in params and not isinstance(params["account_id"], (str, type(None))):
            raise _malformed("account_id must be a string (UUID)")
        if "hmac" in params:
            account, method = self._hmac(params["hmac"]), "hmac"
        elif "jwt" in params:
            account, method = self._jwt(params["jwt"]), "jwt"
        elif "api_key" in params:
            account, method = self._api_key(params["api_key"]), "api_key"
        else:
            raise _malformed('auth params need an "hmac" block {public_key, nonce, unix_ts, signature} '
                             'or a "jwt"')
        return Identity(account.public_key, account.user_id, self._account_id(account, params), method)

    # --- forms ---------------------------------------------------------------------------------
    def _hmac(self, block: object) -> Account:
        if not isinstance(block, dict):
            raise _malformed('"hmac" must be an object {public_key, nonce, unix_ts, signature}')
        for name in ("public_key", "nonce", "signature"):
            if not isinstance(block.get(name), str):
                raise _malformed(f'hmac.{name} is required and must be a string')
        unix_ts = block.get("unix_ts")
        if type(unix_ts) is not int:
            raise _malformed("hmac.unix_ts is required and must be an integer (Unix seconds)")
        public_key, nonce, signature = block["public_key"], block["nonce"], block["signature"]

        account = self.lookup(public_key)
        if account is None:
            raise _denied("unknown public key")
        if not nonce or len(nonce) > self.config.max_nonce_length or not _HEX.issuperset(nonce):
            raise _denied(f"nonce must be a hex string of 1 to {self.config.max_nonce_length} characters")
        now = self.clock()
        skew = unix_ts - now
        if abs(skew) > self.config.timestamp_skew_s:
            raise _denied(f"unix_ts is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} server time "
                          f"(allowed: ±{self.config.timestamp_skew_s:g} s); check the clock")
        expected = sign(secret_text(account.secret_key), nonce, unix_ts)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise _denied('signature does not match: expected lowercase hex HMAC-SHA256 of '
                          '"{nonce}:{unix_ts}" keyed with the secret key')
        self._use_nonce(public_key, nonce, now)
        return account

    def _jwt(self, token: object) -> Account:
        if not isinstance(token, str):
            raise _malformed('"jwt" must be a string')
        public_key = self.config.jwt_tokens.get(token)
        account = self.lookup(public_key) if public_key is not None else None
        if account is None:
            raise _denied("JWT not accepted by this server")
        return account

    def _api_key(self, key: object) -> Account:
        if not self.config.compat.legacy_api_key_auth:
            raise _malformed('the {"api_key": ...} auth form is the pre-HMAC one; sign with "hmac" '
                             "(or start the simulator with --compat legacy-api-key-auth)")
        if not isinstance(key, str):
            raise _malformed('"api_key" must be a string')
        account = self.lookup(key)
        if account is None:
            raise _denied("unknown api key")
        return account

    # --- helpers -------------------------------------------------------------------------------
    def _account_id(self, account: Account, params: JsonObject) -> str:
        wanted = params.get("account_id")
        if wanted is None:
            return account.account_id
        if isinstance(wanted, str) and (wanted == account.account_id
                                        or wanted in (account.subaccounts or ())):
            return wanted
        raise _denied("account_id is not an account of this user")

    def _use_nonce(self, public_key: str, nonce: str, now: float) -> None:
        seen = self._nonces.setdefault(public_key, {})
        expiry = seen.get(nonce)
        if expiry is not None and expiry > now:
            raise _denied(f"nonce already used with this key in the last {self.config.nonce_window_s / 60:g} "
                          "minutes; use a fresh random nonce per connection")
        if len(seen) > 4096:
            for old in [n for n, exp in seen.items() if exp <= now]:
                del seen[old]
        seen[nonce] = now + self.config.nonce_window_s
