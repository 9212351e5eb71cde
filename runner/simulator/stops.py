"""Stop-order rules: when a TAKE_PROFIT / STOP_LOSS triggers, and QFEX's position-cap rule.

Trigger direction (QFEX says only "converts to a market order when the Mark Price reaches the stop
price"): a stop's `side` is the side of the order it will place, so a SELL stop protects a long and a
BUY stop protects a short.

    TAKE_PROFIT SELL: mark >= trigger     STOP_LOSS SELL: mark <= trigger
    TAKE_PROFIT BUY:  mark <= trigger     STOP_LOSS BUY:  mark >= trigger

Position cap ("TAKE_PROFIT and STOP_LOSS orders cannot exceed your current position"), applied per
stop type: the open TAKE_PROFIT orders of one side together, and the open STOP_LOSS orders of one side
together, may not exceed the position they would reduce. A bracket's TP and SL are alternatives (only
one can execute; the other is then cancelled), so each may be sized to the whole position.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from runner.simulator.orders import BUY, TAKE_PROFIT, ZERO, StopOrder


def triggered(stop: StopOrder, mark: Decimal) -> bool:
    if stop.type == TAKE_PROFIT:
        return mark >= stop.trigger if stop.side != BUY else mark <= stop.trigger
    return mark <= stop.trigger if stop.side != BUY else mark >= stop.trigger


def same_bucket(
    stops: Iterable[StopOrder], symbol: str, side: str, type_: str, exclude: str | None = None
) -> list[StopOrder]:
    """Open stops counted together by the cap rule, oldest first."""
    bucket = [
        s
        for s in stops
        if s.symbol == symbol and s.side == side and s.type == type_ and s.stop_order_id != exclude
    ]
    bucket.sort(key=lambda s: s.seq)
    return bucket


def cap_excess(bucket: list[StopOrder], quantity: Decimal, position_cap: Decimal) -> Decimal:
    """How much the bucket plus `quantity` exceeds the reducible position (0 = within the cap)."""
    total = sum((s.quantity for s in bucket), ZERO) + quantity
    return max(ZERO, total - position_cap)


def to_cancel_for(bucket: list[StopOrder], excess: Decimal) -> list[StopOrder]:
    """`cancel_others` policy: the oldest stops whose cancellation removes at least `excess`."""
    chosen: list[StopOrder] = []
    freed = ZERO
    for stop in bucket:
        if freed >= excess:
            break
        chosen.append(stop)
        freed += stop.quantity
    return chosen
