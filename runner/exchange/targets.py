"""Where a run sends its orders: the embedded local exchange, QFEX UAT, QFEX production, or a URL.

Each target also says where its reference data lives (QFEX's REST `GET /refdata`), so `run` can
check tick/lot/band rules before anything is sent, where its market data is (QFEX's public MDS
socket: mark prices), and whether it trades real money (production needs `--yes` or a typed
confirmation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from runner.errors import UsageError

SIM, UAT, PROD, URL = "sim", "uat", "prod", "url"
TARGETS = (SIM, UAT, PROD)

_WS = {UAT: "wss://trade.qfex.io/", PROD: "wss://trade.qfex.com/"}
#: QFEX's market-data hosts, by trade host [D:/websocket/main], [CLI:internal/config/config.go]
KNOWN_MDS = {"trade.qfex.com": "wss://mds.qfex.com/", "trade.qfex.io": "wss://mds.qfex.io/"}
#: the local exchange serves market data on its trade port at this path
LOCAL_MDS_PATH = "/mds"
_REFDATA = {UAT: "https://api.qfex.io/refdata", PROD: "https://api.qfex.com/refdata"}


@dataclass(frozen=True)
class Target:
    name: str
    url: str | None  # None for `sim` until the embedded exchange has started
    refdata_url: str | None
    live: bool  # orders move real money
    mds_url: str | None = None  # the market-data socket (None: unknown; `--mds-url` gives it)

    def at(self, url: str) -> Target:
        return replace(self, url=url, refdata_url=refdata_url_for(url),
                       mds_url=self.mds_url or mds_url_for(url))

    def with_mds(self, mds_url: str | None) -> Target:
        """`--mds-url` given: it wins over the URL found from the trade socket."""
        return replace(self, mds_url=mds_url) if mds_url else self


def resolve_target(target: str | None, url: str | None, mds_url: str | None = None) -> Target:
    """`--target`, `--url` and `--mds-url` into one Target (`--url` with `--target uat|prod` is ambiguous)."""
    if mds_url is not None:
        parts = urlsplit(mds_url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise UsageError(f"--mds-url {mds_url!r} is not a WebSocket URL (expected ws://host:port/mds "
                             f"or wss://mds.qfex.com/)")
    return _resolve(target, url).with_mds(mds_url)


def _resolve(target: str | None, url: str | None) -> Target:
    if url:
        if target not in (None, URL):
            raise UsageError(f"--url and --target {target} name two different exchanges; give one of them")
        return Target(URL, url, refdata_url_for(url), live=False, mds_url=mds_url_for(url))
    name = target or SIM
    if name == SIM:
        return Target(SIM, None, None, live=False)
    if name in _WS:
        return Target(name, _WS[name], _REFDATA[name], live=name == PROD, mds_url=mds_url_for(_WS[name]))
    raise UsageError(f"unknown target {name!r} (choose sim, uat or prod, or give --url)")


def refdata_url_for(ws_url: str) -> str | None:
    """The REST `/refdata` beside a trade WebSocket: same host and port over http(s)."""
    parts = urlsplit(ws_url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        return None
    known = {"trade.qfex.com": _REFDATA[PROD], "trade.qfex.io": _REFDATA[UAT]}
    if parts.hostname in known and parts.port in (None, 443):
        return known[parts.hostname]
    scheme = "https" if parts.scheme == "wss" else "http"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return f"{scheme}://{netloc}/refdata"


def mds_url_for(trade_url: str | None) -> str | None:
    """The market-data socket beside a trade socket (None when it cannot be told).

    QFEX's hosts map to theirs (`trade.qfex.com` → `wss://mds.qfex.com/`); a host named `trade.<x>`
    maps to `mds.<x>` (QFEX's naming); a loopback URL (the local exchange) to the same host and port
    at `/mds`. Anything else needs `--mds-url`.
    """
    if not trade_url:
        return None
    parts = urlsplit(trade_url)
    host = parts.hostname
    if parts.scheme not in ("ws", "wss") or not host:
        return None
    if host in KNOWN_MDS and parts.port in (None, 443):
        return KNOWN_MDS[host]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    from runner.exchange.client import is_loopback  # imported here: websocket-client is heavy

    if is_loopback(host):
        return urlunsplit((parts.scheme, netloc, LOCAL_MDS_PATH, "", ""))
    if host.startswith("trade."):
        return urlunsplit((parts.scheme, netloc.replace("trade.", "mds.", 1), "/", "", ""))
    return None


def display_url(url: str | None) -> str:
    """A URL as reports and messages show it: without its query string, where credentials could ride."""
    if not url:
        return ""
    return url.split("?", 1)[0]
