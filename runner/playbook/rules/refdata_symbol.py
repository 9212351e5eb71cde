"""`refdata-symbol`: with reference data, the symbol must exist and should be trading.

An unknown symbol is an error (QFEX answers BAD_SYMBOL). A symbol whose status is not ACTIVE
(INACTIVE = temporarily suspended, DELISTED) is a warning: the status may change before the
run, but the order would most likely be rejected now. Example::

    - {id: x, symbol: APPL-USD, ...}
    # -> unknown symbol APPL-USD in reference data from refdata.json (did you mean AAPL-USD?) [refdata-symbol]
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from runner.playbook.rules.context import RuleContext, problem
from runner.problems import Problem, Severity

ID = "refdata-symbol"


def check(ctx: RuleContext) -> Iterator[Problem]:
    if ctx.refdata is None:
        return
    for index, order in ctx.orders:
        spec = ctx.refdata.get(order.symbol)
        if spec is None:
            close = difflib.get_close_matches(order.symbol, list(ctx.refdata), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            yield problem(ctx.at(index, "symbol"), f"unknown symbol {order.symbol} in reference data from "
                          f"{ctx.refdata.source}{hint}", ID)
        elif spec.status != "ACTIVE":
            message = f"{order.symbol} is {spec.status} (not ACTIVE); QFEX will likely reject orders for it"
            yield problem(ctx.at(index, "symbol"), message, ID, Severity.WARNING)
