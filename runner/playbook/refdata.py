"""Reference data (tick/lot sizes, quantity limits, price bands per symbol) as exact Decimals.

QFEX publishes it at `GET /refdata` as `{"type": ..., "data": [RefdataSymbol, ...]}` with every
number as a string (qfex-api.md §6); a bare list of RefdataSymbol objects is accepted too, so a
hand-written file can stay small. Only the fields the checks need are required.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, overload
from urllib.parse import urljoin, urlsplit, urlunsplit

from runner import jsonnum
from runner.deadlines import Deadline, Watchdog, dial_within
from runner.errors import NotARegularFile, RefDataError, UsageError
from runner.files import read_regular
from runner.playbook.yamlsource import number_bounds_problem


@dataclass(frozen=True)
class SymbolSpec:
    """What QFEX accepts for one symbol (RefdataSymbol, numbers parsed)."""

    symbol: str
    status: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal
    max_quantity: Decimal
    #: the current price band: QFEX rejects BUYs above max_price and SELLs below min_price
    min_price: Decimal
    max_price: Decimal
    underlier_price: Decimal | None
    order_types: tuple[str, ...]
    time_in_force: tuple[str, ...]
    #: QFEX's RefdataSymbol `default_max_leverage` (the leverage a new account trades the symbol at)
    default_max_leverage: Decimal | None = None


class RefData(Mapping[str, SymbolSpec]):
    """Symbol -> SymbolSpec, remembering where the data came from (for messages and reports)."""

    def __init__(self, symbols: Mapping[str, SymbolSpec], source: str) -> None:
        self._symbols = dict(symbols)
        self.source = source
        #: fetched from the target just now (its prices are current), not read from a file
        self.live = False
        #: mark prices by symbol, read from the target's market-data socket as the run started (QFEX
        #: triggers stops on the mark price, so checks of a trigger's side prefer it to the underlier)
        self.marks: dict[str, Decimal] = {}
        #: when a snapshot file (`qfex-runner refdata pull`) says it was taken (UTC, ISO 8601)
        self.taken_at: str | None = None

    def __getitem__(self, symbol: str) -> SymbolSpec:
        return self._symbols[symbol]

    def get(self, symbol: str, default: Any = None) -> Any:
        """The dict's own look-up: `Mapping.get` goes through `__getitem__` and a caught KeyError, and
        six rules ask for every order (~0.4 µs per order of a 1,500-order playbook)."""
        return self._symbols.get(symbol, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)

    def __repr__(self) -> str:
        return f"RefData({len(self)} symbols from {self.source})"


_REQUIRED_DECIMALS = ("tick_size", "lot_size", "min_quantity", "max_quantity", "min_price", "max_price")


@overload
def _decimal(item: dict[str, Any], field: str, where: str) -> Decimal: ...


@overload
def _decimal(item: dict[str, Any], field: str, where: str, *, required: bool) -> Decimal | None: ...


def _decimal(item: dict[str, Any], field: str, where: str, *, required: bool = True) -> Decimal | None:
    """A reference-data number, exact; a missing one is an error unless not `required`."""
    raw = item.get(field)
    if raw is None or raw == "":
        if required:
            raise RefDataError(f"{where}: missing {field}")
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        raise RefDataError(f"{where}: {field} must be a number or a numeric string, got {raw!r}")
    try:
        value = Decimal(raw) if not isinstance(raw, Decimal) else raw
    except InvalidOperation:
        raise RefDataError(f"{where}: {field} {raw!r} is not a number") from None
    if not value.is_finite():
        raise RefDataError(f"{where}: {field} {raw!r} is not a finite number")
    why = number_bounds_problem(value)
    if why:
        raise RefDataError(f"{where}: {field} {raw!r} {why}")
    return value


def _strings(item: dict[str, Any], field: str, where: str) -> tuple[str, ...]:
    raw = item.get(field, [])
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise RefDataError(f"{where}: {field} must be a list of strings")
    return tuple(raw)


def parse_symbol(item: Any, index: int) -> SymbolSpec:
    """One RefdataSymbol object -> SymbolSpec (raises RefDataError naming what is wrong)."""
    if not isinstance(item, dict):
        raise RefDataError(f"entry {index}: expected an object, got {type(item).__name__}")
    symbol = item.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise RefDataError(f"entry {index}: missing symbol")
    where = f"{symbol}"
    values = {field: _decimal(item, field, where) for field in _REQUIRED_DECIMALS}
    for field in ("tick_size", "lot_size"):
        if values[field] <= 0:
            raise RefDataError(f"{where}: {field} must be positive, got {values[field]}")
    status = item.get("status", "ACTIVE")
    if not isinstance(status, str):
        raise RefDataError(f"{where}: status must be a string")
    return SymbolSpec(
        symbol=symbol,
        status=status,
        underlier_price=_decimal(item, "underlier_price", where, required=False),
        order_types=_strings(item, "order_types", where),
        time_in_force=_strings(item, "order_time_in_force", where) or _strings(item, "time_in_force", where),
        default_max_leverage=_decimal(item, "default_max_leverage", where, required=False),
        **values,
    )


def parse_refdata(obj: Any, source: str = "<memory>") -> RefData:
    """QFEX's `GET /refdata` body (or its bare `data` list) -> RefData; RefDataError on a bad shape."""
    items = obj.get("data") if isinstance(obj, dict) else obj
    if not isinstance(items, list):
        raise RefDataError("expected QFEX's /refdata body ({\"data\": [...]}) or a list of symbols")
    symbols: dict[str, SymbolSpec] = {}
    for index, item in enumerate(items):
        spec = parse_symbol(item, index)
        if spec.symbol in symbols:
            raise RefDataError(f"{spec.symbol}: listed twice")
        symbols[spec.symbol] = spec
    return RefData(symbols, source)


def load_refdata_file(path: str | Path) -> RefData:
    """Read a reference-data JSON file; any problem is a UsageError naming the file (exit 2)."""
    try:
        raw = read_regular(path, MAX_REFDATA_BYTES)  # never blocks on a FIFO; only regular files
    except NotARegularFile as exc:
        raise UsageError(f"--refdata {path}: is {exc.what}, not a reference-data file") from None
    except OSError as exc:
        raise UsageError(f"--refdata {path}: cannot read file: {exc.strerror or exc}") from None
    if len(raw) > MAX_REFDATA_BYTES:
        raise UsageError(f"--refdata {path}: larger than {MAX_REFDATA_BYTES} bytes")
    try:
        obj = jsonnum.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"--refdata {path}: not valid JSON: {exc}") from None
    try:
        return parse_refdata(obj, source=str(path))
    except RefDataError as exc:
        raise UsageError(f"--refdata {path}: {exc}") from None


MAX_REFDATA_BYTES = 16 * 1024 * 1024
REDIRECTS = 3


def fetch_refdata(url: str, timeout: float = 10.0) -> RefData:
    """GET a target's `/refdata` (QFEX REST, the simulator, or any compatible server) and parse it
    (see `fetch_refdata_json`)."""
    final_url, body = fetch_refdata_json(url, timeout)
    try:
        return parse_refdata(body, source=final_url)
    except RefDataError as exc:
        raise RefDataError(f"{final_url}: {exc}") from None


def fetch_refdata_json(url: str, timeout: float = 10.0) -> tuple[str, Any]:
    """GET a target's `/refdata`: (the URL that answered, the body as JSON with exact numbers).

    Raises RefDataError with a one-line reason; the caller decides whether that is fatal (`run`
    only warns that exchange rules were not pre-checked). TLS certificates are verified. The
    whole fetch (connect, TLS, headers, body, redirects) ends within `timeout` seconds however
    slowly the server sends: the body is read in chunks against the deadline, and a `Watchdog`
    cuts a server that dribbles its TLS handshake or headers.
    """
    deadline = Deadline(timeout)
    for _ in range(REDIRECTS + 1):
        status, location, body = _get(url, deadline)
        if location is None:
            break
        target = urljoin(url, location)
        if not target.startswith("https://" if url.startswith("https://") else ("http://", "https://")):
            raise RefDataError(f"{url}: refusing the redirect to {target} (not https)")
        url = target
    else:
        raise RefDataError(f"{url}: more than {REDIRECTS} redirects")
    if status != 200:
        raise RefDataError(f"{url}: HTTP {status}")
    try:
        return url, jsonnum.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RefDataError(f"{url}: {exc}") from None


def _get(url: str, deadline: Deadline) -> tuple[int, str | None, bytes]:
    """One GET: (status, redirect location or None, body); RefDataError when it fails or is too slow."""
    import http.client
    import ssl

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefDataError(f"{url}: only http(s) URLs can be fetched")
    left = max(deadline.remaining(), 0.001)
    host = parts.hostname
    context = ssl.create_default_context() if parts.scheme == "https" else None
    conn: http.client.HTTPConnection
    if context is not None:
        conn = http.client.HTTPSConnection(host, parts.port, timeout=left, context=context)
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=left)
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    try:
        with Watchdog(left, lambda: conn.sock) as dog:
            try:
                # connected here, not by http.client, so the name lookup is under the deadline too
                conn.sock = dial_within(host, parts.port or (443 if context else 80), deadline)
                if context is not None:  # the watchdog can shut the plain socket under the handshake
                    conn.sock = context.wrap_socket(conn.sock, server_hostname=host)
                conn.request("GET", path, headers={"Accept": "application/json", "User-Agent": "qfex-runner"})
                response = conn.getresponse()
                if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                    return response.status, response.getheader("Location"), b""
                chunks: list[bytes] = []
                size = 0
                while True:
                    if deadline.passed:
                        raise TimeoutError
                    if conn.sock is not None:
                        conn.sock.settimeout(max(deadline.remaining(), 0.001))
                    chunk = response.read1(64 * 1024)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > MAX_REFDATA_BYTES:
                        raise RefDataError(f"{url}: larger than {MAX_REFDATA_BYTES} bytes")
                    chunks.append(chunk)
                return response.status, None, b"".join(chunks)
            except (OSError, http.client.HTTPException) as exc:
                if dog.expired or deadline.passed or isinstance(exc, TimeoutError):
                    raise RefDataError(f"{url}: no complete answer within {deadline.seconds:g}s") from None
                reason = str(exc) or type(exc).__name__
                raise RefDataError(f"{url}: {reason}") from None
    finally:
        conn.close()
