"""API keys: where they come from, how they are kept out of every output, and how they sign.

The secret key lives in a `Secret` whose repr/str/format print `Secret('***')`; only `.reveal()`
gives the value, and the only caller of `.reveal()` is `sign()` (HMAC signing). Keys come from the
environment (`QFEX_PUBLIC_KEY`, `QFEX_SECRET_KEY`, optional `QFEX_ACCOUNT_ID`) or from a file given
with `--credentials FILE` (YAML/JSON mapping or `KEY=VALUE` lines). No command-line option ever takes
a secret: it would show in `ps` and in shell history.

Like ssh with a private key, a credentials file that group or others can access is refused.
Error messages name the variable or file to fix, never a value read from the file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from runner.errors import CredentialsError, NotARegularFile
from runner.files import open_regular

ENV_PUBLIC_KEY = "QFEX_PUBLIC_KEY"
ENV_SECRET_KEY = "QFEX_SECRET_KEY"
ENV_ACCOUNT_ID = "QFEX_ACCOUNT_ID"

#: Key spellings accepted in a credentials file (ours, and the QFEX CLI's config.yaml names).
_FILE_KEYS = {
    "public_key": ("public_key", "QFEX_PUBLIC_KEY", "api_key"),
    "secret_key": ("secret_key", "QFEX_SECRET_KEY"),
    "account_id": ("account_id", "QFEX_ACCOUNT_ID", "selected_subaccount"),
}
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")
_REDACTED = "Secret('***')"
MAX_CREDENTIALS_BYTES = 64 * 1024
"""A key pair fits in a few hundred bytes: a bigger file is the wrong file, and never read whole."""


class Secret:
    """A string that refuses to be shown. Compare with `==` (constant time); use `.reveal()` to sign."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The raw value. Only HMAC signing should need this."""
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return _REDACTED

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return _REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", hashlib.sha256(self._value.encode()).digest()))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:  # pickling would write the value somewhere we do not control
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class Credentials:
    """An API key pair and the optional subaccount to trade in."""

    public_key: str
    secret: Secret = field(repr=True)
    account_id: str | None = None
    #: where the keys came from, for messages ("environment" or the file path); never the values
    source: str = "environment"

    def with_account(self, account_id: str | None) -> Credentials:
        return Credentials(self.public_key, self.secret, account_id, self.source)


def load_credentials(file: str | os.PathLike[str] | None = None,
                     env: Mapping[str, str] | None = None) -> Credentials:
    """Keys from `file` when given, else from the environment; `CredentialsError` (exit 4) if unusable."""
    if file is not None:
        return _from_file(Path(file))
    return _from_env(os.environ if env is None else env)


def _from_env(env: Mapping[str, str]) -> Credentials:
    public = (env.get(ENV_PUBLIC_KEY) or "").strip()
    secret = (env.get(ENV_SECRET_KEY) or "").strip()
    missing = [name for name, value in ((ENV_PUBLIC_KEY, public), (ENV_SECRET_KEY, secret)) if not value]
    if missing:
        raise CredentialsError(
            f"no credentials: set {' and '.join(missing)} in the environment "
            f"(optionally {ENV_ACCOUNT_ID} for a subaccount), or pass --credentials FILE")
    account = (env.get(ENV_ACCOUNT_ID) or "").strip() or None
    return Credentials(public, Secret(secret), account, "environment")


def _from_file(path: Path) -> Credentials:
    try:  # opened without blocking and judged by the open file: a FIFO swapped in is never read
        with open_regular(path) as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if os.name == "posix" and mode & 0o077:
                raise CredentialsError(
                    f"credentials file {path} is accessible by group or others "
                    f"(mode {stat.S_IMODE(mode):04o}); protect it with: chmod 600 {path}")
            raw = handle.read(MAX_CREDENTIALS_BYTES + 1)
    except FileNotFoundError:
        raise CredentialsError(f"credentials file {path} does not exist") from None
    except NotARegularFile as exc:
        raise CredentialsError(f"credentials file {path} is {exc.what}, not a regular file") from None
    except OSError as exc:
        raise CredentialsError(f"cannot read credentials file {path}: {exc.strerror}") from None
    if len(raw) > MAX_CREDENTIALS_BYTES:
        raise CredentialsError(f"credentials file {path} is larger than {MAX_CREDENTIALS_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CredentialsError(f"cannot read credentials file {path}: {type(exc).__name__}") from None
    values = _parse_file_text(text, path)
    found = {key: _pick(values, names) for key, names in _FILE_KEYS.items()}
    missing = [names[0] for key, names in _FILE_KEYS.items() if key != "account_id" and not found[key]]
    if missing:
        raise CredentialsError(
            f"credentials file {path} has no {' and no '.join(missing)} "
            f"(accepted keys: public_key/QFEX_PUBLIC_KEY, secret_key/QFEX_SECRET_KEY, "
            f"optional account_id/QFEX_ACCOUNT_ID)")
    return Credentials(found["public_key"], Secret(found["secret_key"]), found["account_id"] or None,
                       str(path))


def _pick(values: Mapping[str, object], names: tuple[str, ...]) -> str:
    for name in names:
        value = values.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _parse_file_text(text: str, path: Path) -> dict[str, object]:
    """A mapping from YAML/JSON or `KEY=VALUE` lines. Parse errors never quote the file's content."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if lines and all(_DOTENV_LINE.match(ln) for ln in lines):
        values: dict[str, object] = {}
        for ln in lines:
            m = _DOTENV_LINE.match(ln)
            assert m is not None
            values[m.group(1)] = _unquote(m.group(2).strip())
        return values
    import yaml  # JSON is YAML, so one parser reads both

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CredentialsError(
            f"credentials file {path} is neither YAML/JSON nor KEY=VALUE lines{where}") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"credentials file {path} must hold a mapping of keys (or KEY=VALUE lines)")
    return {str(k): v for k, v in data.items()}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


# --- HMAC signing -----------------------------------------------------------------------------

def new_nonce() -> str:
    """16 random bytes as 32 lowercase hex characters; fresh per connection (replay protection)."""
    return secrets.token_hex(16)


def sign(secret: Secret, nonce: str, unix_ts: int) -> str:
    """`hex(HMAC_SHA256(secret_utf8, f"{nonce}:{unix_ts}"))` as QFEX documents it (lowercase hex)."""
    message = f"{nonce}:{int(unix_ts)}".encode()
    return hmac.new(secret.reveal().encode("utf-8"), message, hashlib.sha256).hexdigest()


def hmac_fields(credentials: Credentials, *, nonce: str | None = None,
                unix_ts: int | None = None) -> dict[str, Any]:
    """The `params.hmac` object of QFEX's `auth` message, with a fresh nonce unless one is given."""
    nonce = nonce if nonce is not None else new_nonce()
    unix_ts = int(time.time()) if unix_ts is None else int(unix_ts)
    return {"public_key": credentials.public_key, "nonce": nonce, "unix_ts": unix_ts,
            "signature": sign(credentials.secret, nonce, unix_ts)}
