"""Where a run sends its orders: the embedded local exchange, QFEX UAT, QFEX production, or a URL.

Each target also says where its reference data lives (QFEX's REST `GET /refdata`), so `run` can
check tick/lot/band rules before anything is sent, and whether it trades real money (production
needs `--yes` or a typed confirmation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from runner.errors import UsageError

SIM, UAT, PROD, URL = "sim", "uat", "prod", "url"
TARGETS = (SIM, UAT, PROD)

_WS = {UAT: "wss://trade.qfex.io/", PROD: "wss://trade.qfex.com/"}
_REFDATA = {UAT: "https://api.qfex.io/refdata", PROD: "https://api.qfex.com/refdata"}


@dataclass(frozen=True)
class Target:
    name: str
    url: str | None  # None for `sim` until the embedded exchange has started
    refdata_url: str | None
    live: bool  # orders move real money

    def at(self, url: str) -> Target:
        return replace(self, url=url, refdata_url=refdata_url_for(url))


def resolve_target(target: str | None, url: str | None) -> Target:
    """`--target` and `--url` into one Target (`--url` with `--target uat|prod` is ambiguous)."""
    if url:
        if target not in (None, URL):
            raise UsageError(f"--url and --target {target} name two different exchanges; give one of them")
        return Target(URL, url, refdata_url_for(url), live=False)
    name = target or SIM
    if name == SIM:
        return Target(SIM, None, None, live=False)
    if name in _WS:
        return Target(name, _WS[name], _REFDATA[name], live=name == PROD)
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


def display_url(url: str | None) -> str:
    """A URL as reports and messages show it: without its query string, where credentials could ride."""
    if not url:
        return ""
    return url.split("?", 1)[0]
