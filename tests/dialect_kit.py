"""Both of QFEX's dialects, in turn, for every simulator a test directory starts (issue 14): its
conftest.py imports `dialect` and `simulator_factory` from here.

"live" (the default): the reply kinds QFEX's CLI waits for and the current AsyncAPI declares
(`user_trades_response` rows without client_order_id, `get_order` → `order_response`, `ack`s);
"docs-pages": the examples of QFEX's per-command docs pages (`user_trades` + `count`,
`all_orders_response`, `ack_response`). A disagreement between QFEX's sources must never break a
real run, so the runner's acceptance tests run against both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runner.simulator import Simulator


@pytest.fixture(params=["live", "docs-pages"])
def dialect(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def simulator_factory(simulator_factory: Callable[..., Simulator], dialect: str) -> Callable[..., Simulator]:
    def factory(*args: Any, **options: Any) -> Simulator:
        options.setdefault("dialect", dialect)
        return simulator_factory(*args, **options)
    return factory
