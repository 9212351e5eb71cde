"""Which playbooks a run reads the market's mark prices for before validating (`prices_at_market`):
only those a rule prices at the market. A LIMIT-only playbook opens no market-data connection."""

from __future__ import annotations

import pytest

from runner.playbook.load import prices_at_market
from runner.playbook.yamlsource import load_bytes

HEAD = "version: 1\nname: t\n"


def needs(text: str) -> bool:
    return prices_at_market(load_bytes((HEAD + text).encode(), "t.yaml"))


LIMIT = "  - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200}\n"


def test_limit_orders_with_brackets_price_nothing_at_the_market() -> None:
    bracket = ("  - {id: b, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200,\n"
               "     bracket: {take_profit: 230, stop_loss: 190}}\n")
    assert needs("orders:\n" + LIMIT + bracket) is False


@pytest.mark.parametrize("order", [
    "  - {id: m, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: 1}\n",
    "  - {id: s, symbol: AAPL-USD, side: SELL, type: STOP_LOSS, quantity: 1, price: 190}\n",
    "  - {id: s, symbol: AAPL-USD, side: SELL, type: take_profit, quantity: 1, price: 250}\n",
    "  - {id: r, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: {risk: 100}, price: 200,\n"
    "     bracket: {stop_loss: 190}}\n",
    "  - {step: cancel, id: c, all: true}\n",
    "  - {id: x, symbol: AAPL-USD, side: BUY, quantity: 1, price: 200}\n",  # type from nowhere: unreadable
])
def test_a_stop_a_market_order_a_sized_quantity_or_a_step_may(order: str) -> None:
    assert needs("orders:\n" + LIMIT + order) is True


def test_defaults_count_and_anything_unreadable_counts_as_yes() -> None:
    assert needs("defaults: {type: MARKET}\norders:\n  - {id: a, symbol: AAPL-USD, side: BUY, quantity: 1}\n")
    assert not needs("defaults: {type: LIMIT}\norders:\n"
                     "  - {id: a, symbol: AAPL-USD, side: BUY, quantity: 1, price: 200}\n")
    assert needs("orders: 3\n")
    assert needs("orders:\n  - just text\n")
