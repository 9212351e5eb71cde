"""How a target's URL is shown in reports and messages."""

from __future__ import annotations

from runner.exchange.targets import display_url


def test_display_url_drops_the_query_string() -> None:
    assert display_url("wss://trade.qfex.io/?api_key=abc&secret=s3cr3t") == "wss://trade.qfex.io/"
    assert display_url("ws://127.0.0.1:8765/") == "ws://127.0.0.1:8765/"
    assert display_url(None) == "" and display_url("") == ""
