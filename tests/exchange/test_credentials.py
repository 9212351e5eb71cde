"""Credentials: env/file loading, file-permission refusal, redaction everywhere, HMAC signing."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import pickle
import re

import pytest

from runner.errors import CredentialsError
from runner.exchange.credentials import (
    Credentials,
    Secret,
    hmac_fields,
    load_credentials,
    new_nonce,
    sign,
)
from runner.exit_codes import ExitCode

SECRET = "qfex_secret_ZZ-distinctive-7f3a9"


def test_secret_never_shows_its_value():
    s = Secret(SECRET)
    shown = [repr(s), str(s), f"{s}", f"{s!r}", f"{s:>40}", "{}".format(s), "{!r}".format(s), str([s]),  # noqa: UP032
             str({"k": s}), "%s" % (s,)]  # noqa: UP031 - old-style formatting must redact too
    for text in shown:
        assert SECRET not in text
    assert repr(s) == "Secret('***')"
    assert s.reveal() == SECRET


def test_secret_does_not_leak_through_logging_pickling_or_mutation(caplog):
    s = Secret(SECRET)
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("creds %s %r", s, s)
    assert SECRET not in caplog.text
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(AttributeError):
        s._value = "other"  # type: ignore[misc]
    assert not hasattr(s, "__dict__")


def test_secret_compares_by_value():
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert hash(Secret("a")) == hash(Secret("a"))


def test_credentials_repr_is_redacted():
    c = Credentials("qfex_pub_x", Secret(SECRET), "acc")
    assert SECRET not in repr(c) and "Secret('***')" in repr(c)


def test_from_environment():
    env = {"QFEX_PUBLIC_KEY": "pub", "QFEX_SECRET_KEY": SECRET, "QFEX_ACCOUNT_ID": "sub-1"}
    c = load_credentials(env=env)
    assert (c.public_key, c.secret.reveal(), c.account_id) == ("pub", SECRET, "sub-1")
    assert c.source == "environment"


@pytest.mark.parametrize("env, missing", [
    ({}, "QFEX_PUBLIC_KEY and QFEX_SECRET_KEY"),
    ({"QFEX_PUBLIC_KEY": "pub"}, "QFEX_SECRET_KEY"),
    ({"QFEX_SECRET_KEY": SECRET}, "QFEX_PUBLIC_KEY"),
    ({"QFEX_PUBLIC_KEY": " ", "QFEX_SECRET_KEY": SECRET}, "QFEX_PUBLIC_KEY"),
])
def test_missing_environment_names_the_variable(env, missing):
    with pytest.raises(CredentialsError) as info:
        load_credentials(env=env)
    assert f"set {missing} in the environment" in str(info.value)
    assert info.value.exit_code == ExitCode.CONNECT_FAILED
    assert SECRET not in str(info.value)


def _write(tmp_path, text, mode=0o600, name="creds"):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("text", [
    f"public_key: pub\nsecret_key: {SECRET}\naccount_id: sub-1\n",
    f'{{"QFEX_PUBLIC_KEY": "pub", "QFEX_SECRET_KEY": "{SECRET}", "QFEX_ACCOUNT_ID": "sub-1"}}',
    f"# keys\nexport QFEX_PUBLIC_KEY=pub\nQFEX_SECRET_KEY='{SECRET}'\nQFEX_ACCOUNT_ID=\"sub-1\"\n",
    f"public_key: pub\nsecret_key: {SECRET}\nselected_subaccount: sub-1\nenv: uat\n",  # QFEX CLI config
])
def test_file_formats(tmp_path, text):
    c = load_credentials(_write(tmp_path, text), env={})
    assert (c.public_key, c.secret.reveal(), c.account_id) == ("pub", SECRET, "sub-1")


def test_file_takes_precedence_over_environment(tmp_path):
    path = _write(tmp_path, f"public_key: filepub\nsecret_key: {SECRET}\n")
    c = load_credentials(path, env={"QFEX_PUBLIC_KEY": "envpub", "QFEX_SECRET_KEY": "x"})
    assert c.public_key == "filepub" and c.source == str(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o611])
def test_file_readable_by_others_is_refused_like_ssh(tmp_path, mode):
    path = _write(tmp_path, f"public_key: pub\nsecret_key: {SECRET}\n", mode)
    with pytest.raises(CredentialsError) as info:
        load_credentials(path, env={})
    assert f"chmod 600 {path}" in str(info.value)
    assert SECRET not in str(info.value)


def test_owner_only_modes_are_accepted(tmp_path):
    for mode in (0o600, 0o400):
        path = _write(tmp_path, f"public_key: pub\nsecret_key: {SECRET}\n", mode, name=f"c{mode:o}")
        assert load_credentials(path, env={}).public_key == "pub"


def test_unparseable_file_never_quotes_its_content(tmp_path):
    path = _write(tmp_path, f"public_key: [pub\nsecret_key: {SECRET}: : :\n")
    with pytest.raises(CredentialsError) as info:
        load_credentials(path, env={})
    assert SECRET not in str(info.value)
    assert str(path) in str(info.value)


def test_file_missing_a_key(tmp_path):
    path = _write(tmp_path, f"secret_key: {SECRET}\n")
    with pytest.raises(CredentialsError, match="has no public_key"):
        load_credentials(path, env={})


def test_missing_file(tmp_path):
    with pytest.raises(CredentialsError, match="does not exist"):
        load_credentials(tmp_path / "nope", env={})


def test_signature_matches_qfex_reference_computation():
    nonce, ts = "c0ffee" * 5 + "ab", 1760545414
    expected = hmac.new(SECRET.encode(), f"{nonce}:{ts}".encode(), hashlib.sha256).hexdigest()
    assert sign(Secret(SECRET), nonce, ts) == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


def test_hmac_fields_use_a_fresh_nonce_each_time():
    c = Credentials("pub", Secret(SECRET))
    a, b = hmac_fields(c), hmac_fields(c)
    assert a["nonce"] != b["nonce"]
    assert re.fullmatch(r"[0-9a-f]{32}", a["nonce"]) and re.fullmatch(r"[0-9a-f]{32}", new_nonce())
    assert isinstance(a["unix_ts"], int)
    assert a["signature"] == sign(c.secret, a["nonce"], a["unix_ts"])
    assert SECRET not in repr(a)
