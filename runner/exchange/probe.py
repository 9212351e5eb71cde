"""Read-only network probes for `doctor`: DNS, TCP, TLS, and the exchange's clock.

Each probe answers one question about the path to an exchange before any key is used, so a
failure names its layer ("the name does not resolve", "nothing listens on that port", "the
certificate is not trusted") instead of one opaque "cannot connect". Nothing here sends a trade
message; the clock is read from the HTTP `Date` header of the public `GET /refdata`.
"""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from runner import jsonnum
from runner.deadlines import Deadline, dial_within
from runner.deadlines import resolve as resolve_within


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: bool


def endpoint_of(url: str) -> Endpoint:
    """Host, port and whether TLS is used, from a ws(s):// or http(s):// URL."""
    parts = urlsplit(url)
    tls = parts.scheme in ("wss", "https")
    return Endpoint(parts.hostname or "", parts.port or (443 if tls else 80), tls)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str
    seconds: float = 0.0


def resolve(endpoint: Endpoint, timeout: float = 10.0) -> tuple[ProbeResult, list[str]]:
    """The host's addresses (DNS), within `timeout`; an empty list when it does not resolve."""
    started = time.monotonic()
    try:
        infos = resolve_within(endpoint.host, endpoint.port, Deadline(timeout))
    except (socket.gaierror, UnicodeError, OSError) as exc:
        return ProbeResult(False, f"{endpoint.host} does not resolve: {exc}", time.monotonic() - started), []
    addresses = sorted({str(info[4][0]) for info in infos})
    elapsed = time.monotonic() - started
    return ProbeResult(True, f"{endpoint.host} → {', '.join(addresses)}", elapsed), addresses


def tcp_connect(endpoint: Endpoint, timeout: float) -> ProbeResult:
    """One TCP connection to host:port, closed at once."""
    started = time.monotonic()
    try:
        with dial_within(endpoint.host, endpoint.port, Deadline(timeout)):
            pass
    except OSError as exc:
        return ProbeResult(False, f"cannot connect to {endpoint.host}:{endpoint.port}: "
                                  f"{exc.strerror or exc}", time.monotonic() - started)
    elapsed = time.monotonic() - started
    return ProbeResult(True, f"{endpoint.host}:{endpoint.port} accepts connections ({elapsed * 1000:.0f} ms)",
                       elapsed)


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    not_after: datetime

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400


def tls_handshake(endpoint: Endpoint, timeout: float,
                  context: ssl.SSLContext | None = None) -> tuple[ProbeResult, Certificate | None]:
    """A verified TLS handshake (certificate chain and host name), and the peer's certificate."""
    context = context or ssl.create_default_context()
    started = time.monotonic()
    try:
        with dial_within(endpoint.host, endpoint.port, Deadline(timeout)) as raw, \
                context.wrap_socket(raw, server_hostname=endpoint.host) as tls:
            peer = tls.getpeercert() or {}
            version = tls.version() or "TLS"
    except ssl.SSLCertVerificationError as exc:
        return ProbeResult(False, f"the TLS certificate of {endpoint.host} cannot be verified: "
                                  f"{exc.verify_message}", time.monotonic() - started), None
    except (ssl.SSLError, OSError) as exc:
        return ProbeResult(False, f"TLS handshake with {endpoint.host} failed: {exc}",
                           time.monotonic() - started), None
    not_after = datetime.max.replace(tzinfo=timezone.utc)
    if peer.get("notAfter"):
        not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(peer["notAfter"])), tz=timezone.utc)
    cert = Certificate(_name(peer.get("subject")), _name(peer.get("issuer")), not_after)
    return ProbeResult(True, f"{version}, certificate {cert.subject} issued by {cert.issuer}",
                       time.monotonic() - started), cert


def _name(rdns: object) -> str:
    """`CN=trade.qfex.com, O=…` from the nested tuples `getpeercert()` gives."""
    parts: list[str] = []
    for rdn in rdns if isinstance(rdns, tuple) else ():
        for key, value in rdn:
            short = {"commonName": "CN", "organizationName": "O", "countryName": "C"}.get(key)
            if short:
                parts.append(f"{short}={value}")
    return ", ".join(parts) or "(no name)"


@dataclass(frozen=True)
class RefdataFetch:
    """The `/refdata` body and the exchange's clock as its `Date` header told it."""

    body: object | None
    error: str | None
    server_date: datetime | None
    #: server clock minus ours, in seconds (the header has 1 s resolution: ±1 s)
    skew_seconds: float | None


def fetch_refdata_with_clock(url: str, timeout: float) -> RefdataFetch:
    """GET `/refdata` (TLS verified) and compare the `Date` header with the local clock."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "qfex-runner"})
    before = time.time()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(16 * 1024 * 1024)
            date_header = response.headers.get("Date")
    except urllib.error.HTTPError as exc:
        return RefdataFetch(None, f"HTTP {exc.code}", _date(exc.headers.get("Date")), None)
    except (urllib.error.URLError, OSError) as exc:
        return RefdataFetch(None, str(getattr(exc, "reason", exc)), None, None)
    after = time.time()
    server = _date(date_header)
    skew = None
    if server is not None:
        # the header truncates to whole seconds: its midpoint is half a second later
        skew = server.timestamp() + 0.5 - (before + after) / 2
    try:
        body = jsonnum.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return RefdataFetch(None, f"not valid JSON: {exc}", server, skew)
    return RefdataFetch(body, None, server, skew)


def _date(header: str | None) -> datetime | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
