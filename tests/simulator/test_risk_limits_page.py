"""The local exchange against QFEX's risk-limits page [D:/qfex/risk-limits], over the wire.

The page: maximum leverage FX 50:1, gold and major indices 30:1, other commodities 20:1, single
equities 10:1 ("50x leverage requires a 2% Initial Margin"); maximum position (USD notional) FX
$50M, indices and gold $10M, commodities excluding gold $5M, equities $2.5M. The margin check
refuses with FAILED_MARGIN_CHECK ("insufficient available balance", qfex-api.md §5) when the
initial margin (notional / leverage) of what an order adds is above the available balance.
(The market-closed caps, 50% overnight and 10% at weekends, come with the fidelity work.)
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

#: the page's table, by the shipped reference data's product category (gold is its own row)
PAGE = {"EQUITY": (D(10), D(2_500_000)), "INDEX": (D(30), D(10_000_000)), "GOLD": (D(30), D(10_000_000)),
        "COMMODITY": (D(20), D(5_000_000)), "FX": (D(50), D(50_000_000))}


def _row_class(symbol: str, category: str) -> str:
    return "GOLD" if symbol.startswith("GOLD-") else category


def test_leverage_levels_and_position_caps_are_the_page_s(simulator: Any, raw_client: Any) -> None:
    client = raw_client(simulator)
    levels = client.request({"type": "get_available_leverage_levels", "params": {"limit": 1000}})
    rows = levels["available_leverage_levels_response"]
    categories = simulator.call(lambda ex: {s: ex.market(s).category for s in {r["symbol"] for r in rows}})
    by_symbol: dict[str, list[dict]] = {}
    for row in rows:
        by_symbol.setdefault(row["symbol"], []).append(row)
    assert set(by_symbol) >= {"AAPL-USD", "US500-USD", "GOLD-USD", "SILVER-USD", "EUR-USD"}
    for symbol, offered in by_symbol.items():
        max_leverage, cap = PAGE[_row_class(symbol, categories[symbol])]
        assert max(D(r["leverage"]) for r in offered) == max_leverage, symbol
        for r in offered:
            assert abs(D(str(r["initial_margin"])) - 1 / D(r["leverage"])) < D("1e-15")  # 1 / leverage
            assert D(str(r["max_notional"])) == cap, symbol
    fifty = next(r for r in by_symbol["EUR-USD"] if r["leverage"] == "50")
    assert D(str(fifty["initial_margin"])) == D("0.02")  # the page's example: 50x is a 2% initial margin


@pytest.mark.parametrize(("quantity", "status"), [("434", "ACK"), ("435", "FAILED_MARGIN_CHECK")])
def test_the_margin_check_is_notional_over_leverage_against_the_available_balance(
        simulator_factory: Any, raw_client: Any, quantity: str, status: str) -> None:
    """10,000 available at AAPL-USD's 10x buys at most 100,000 of notional: 434 at 230.00 is 99,820
    (margin 9,982), 435 is 100,050 (margin 10,005): refused."""
    from dataclasses import replace

    from runner.simulator.config import demo_account

    simulator = simulator_factory(engine={"accounts": [replace(demo_account(), deposit=D(10_000))]})
    client = raw_client(simulator, subscribe=("order_responses",))
    client.send({"type": "add_order", "params": {
        "symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC",
        "quantity": quantity, "price": "230.00", "client_order_id": f"m-{quantity}"}})
    reply = client.recv_key("order_response")["order_response"]
    assert reply["status"] == status
