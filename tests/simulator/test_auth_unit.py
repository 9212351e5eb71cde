"""HMAC authentication rules, checked without a socket (the wire-level cases are in test_auth_wire)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import pytest

from runner.simulator.auth import Authenticator, AuthRefused, sign
from runner.simulator.server_config import CompatOptions, ServerConfig

NOW = 1_760_545_414


@dataclass
class Acc:
    public_key: str
    secret_key: str
    user_id: str
    account_id: str
    subaccounts: list[str] = field(default_factory=list)


ALICE = Acc("qfex_pub_alice", "qfex_secret_alice", "user-a", "acct-a", ["sub-a1"])
BOB = Acc("qfex_pub_bob", "qfex_secret_bob", "user-b", "acct-b")


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def make(config: ServerConfig | None = None) -> tuple[Authenticator, Clock]:
    clock = Clock()
    accounts = {a.public_key: a for a in (ALICE, BOB)}
    return Authenticator(accounts.get, config or ServerConfig(), clock), clock


def hmac_params(acc: Acc = ALICE, nonce: str = "c0ffee" * 5, ts: int = NOW, sig: str | None = None, **extra):
    block = {"public_key": acc.public_key, "nonce": nonce, "unix_ts": ts,
             "signature": sig if sig is not None else sign(acc.secret_key, nonce, ts)}
    return {"hmac": block, **extra}


def refused(auth: Authenticator, params: dict) -> AuthRefused:
    with pytest.raises(AuthRefused) as info:
        auth.authenticate(params)
    return info.value


def test_signature_is_the_documented_hmac():
    expected = hmac.new(b"qfex_secret_yyyyyy", b"c0ffee:1760545414", hashlib.sha256).hexdigest()
    assert sign("qfex_secret_yyyyyy", "c0ffee", 1760545414) == expected


def test_valid_hmac_gives_the_primary_account():
    auth, _ = make()
    ident = auth.authenticate(hmac_params())
    assert (ident.public_key, ident.user_id, ident.account_id, ident.method) == (
        "qfex_pub_alice", "user-a", "acct-a", "hmac")


def test_subaccount_of_the_same_user_is_selected_and_a_foreign_one_refused():
    auth, _ = make()
    assert auth.authenticate(hmac_params(nonce="01", account_id="sub-a1")).account_id == "sub-a1"
    assert auth.authenticate(hmac_params(nonce="02", account_id="acct-a")).account_id == "acct-a"
    err = refused(auth, hmac_params(nonce="03", account_id="acct-b"))
    assert err.error_code == "PermissionDenied" and "not an account of this user" in err.message


@pytest.mark.parametrize(("params", "words"), [
    (hmac_params(BOB, sig=sign(ALICE.secret_key, "c0ffee" * 5, NOW)), "signature does not match"),
    (hmac_params(sig=sign(ALICE.secret_key, "c0ffee" * 5, NOW).upper()), "signature does not match"),
    (hmac_params(sig="zz"), "signature does not match"),
    (hmac_params(Acc("qfex_pub_nobody", "s", "u", "a")), "unknown public key"),
    (hmac_params(nonce="not-hex!"), "hex string"),
    (hmac_params(nonce=""), "hex string"),
    (hmac_params(nonce="a" * 101), "1 to 100 characters"),
    (hmac_params(ts=NOW - 301), "behind server time"),
    (hmac_params(ts=NOW + 301), "ahead of server time"),
])
def test_refusals_are_permission_denied_and_say_why(params, words):
    auth, _ = make()
    err = refused(auth, params)
    assert err.error_code == "PermissionDenied"
    assert words in err.message
    assert "qfex_secret" not in err.message


def test_boundaries_are_inclusive():
    auth, _ = make()
    auth.authenticate(hmac_params(nonce="a" * 100, ts=NOW - 300))
    auth.authenticate(hmac_params(nonce="b" * 100, ts=NOW + 300))


def test_nonce_reuse_within_15_minutes_is_refused_then_allowed():
    auth, clock = make()
    auth.authenticate(hmac_params(nonce="abcd"))
    err = refused(auth, hmac_params(nonce="abcd"))
    assert "nonce already used" in err.message
    # another key may use the same nonce
    auth.authenticate(hmac_params(BOB, nonce="abcd"))
    clock.now += 900.5
    auth.authenticate(hmac_params(nonce="abcd", ts=int(clock.now)))


def test_a_failed_attempt_does_not_burn_its_nonce():
    auth, _ = make()
    refused(auth, hmac_params(nonce="beef", sig="00" * 32))
    auth.authenticate(hmac_params(nonce="beef"))


def test_skew_is_configurable():
    auth, _ = make(ServerConfig(timestamp_skew_s=5))
    assert "allowed: ±5 s" in refused(auth, hmac_params(ts=NOW - 6)).message


@pytest.mark.parametrize("params", [
    {},
    {"hmac": "x"},
    {"hmac": {"public_key": "qfex_pub_alice", "nonce": "ab", "signature": "00"}},
    {"hmac": {"public_key": "qfex_pub_alice", "nonce": "ab", "unix_ts": "1760545414", "signature": "00"}},
    {"hmac": {"public_key": "qfex_pub_alice", "nonce": "ab", "unix_ts": 1760545414.0, "signature": "00"}},
    {"hmac": {"public_key": "qfex_pub_alice", "nonce": 12, "unix_ts": 1760545414, "signature": "00"}},
    {"jwt": 5},
    {"hmac": {"public_key": "qfex_pub_alice", "nonce": "ab", "unix_ts": NOW, "signature": "00"},
     "account_id": 7},
])
def test_misshapen_auth_is_invalid_json_format(params):
    auth, _ = make()
    assert refused(auth, params).error_code == "InvalidJSONFormat"


def test_jwt_is_checked_against_configured_tokens():
    auth, _ = make(ServerConfig(jwt_tokens={"eyJ.good.token": "qfex_pub_bob"}))
    ident = auth.authenticate({"jwt": "eyJ.good.token"})
    assert (ident.user_id, ident.method) == ("user-b", "jwt")
    assert refused(auth, {"jwt": "eyJ.other"}).error_code == "PermissionDenied"


def test_legacy_api_key_form_only_behind_the_compat_flag():
    auth, _ = make()
    err = refused(auth, {"api_key": "qfex_pub_alice"})
    assert err.error_code == "InvalidJSONFormat" and "legacy-api-key-auth" in err.message
    compat, _ = make(ServerConfig(compat=CompatOptions(legacy_api_key_auth=True)))
    assert compat.authenticate({"api_key": "qfex_pub_alice"}).method == "api_key"
    assert refused(compat, {"api_key": "qfex_pub_nobody"}).error_code == "PermissionDenied"
