"""Synthetic liquidity: a market-maker account quoting a ladder around each symbol's fair price.

QFEX's book is real; here one internal account shows `levels` bids and asks around the fair price
(the refdata `underlier_price`, moved by scenarios and `set_mid`). Deeper levels are larger, so a
small order fills at the touch, a large MARKET/IOC order walks the book and may fill only partly, and a
FOK larger than the visible depth is cancelled. Sizes carry a seeded +/-20 % jitter, so the book looks
irregular yet is identical for a given seed. After the maker is traded against, the ladder is
re-quoted (`mm_replenish_ms` later).
"""

from __future__ import annotations

import random
from decimal import ROUND_FLOOR, Decimal

from runner.simulator.market import Market
from runner.simulator.orders import BUY, SELL

MM_ACCOUNT_ID = "00000000-0000-4000-8000-00000000a11c"
MM_USER_ID = "00000000-0000-4000-8000-00000000a11d"

_ONE = Decimal(1)
_HALF_SPREAD = Decimal("0.0002")  # 2 bp each side of the fair price
_LEVEL_STEP = Decimal("0.0005")  # 5 bp between levels


def ladder(
    market: Market, mid: Decimal, levels: int, depth_notional: Decimal, seed: int, generation: int
) -> list[tuple[str, Decimal, Decimal]]:
    """The quotes `(side, price, quantity)` to show around `mid`, best level first on each side."""
    rng = random.Random(f"qfex-sim-mm:{seed}:{market.symbol}:{generation}")
    tick, lot = market.tick, market.lot
    half = max(tick, mid * _HALF_SPREAD)
    step = max(tick, mid * _LEVEL_STEP)
    weights = list(range(1, levels + 1))
    total_weight = sum(weights)
    quotes: list[tuple[str, Decimal, Decimal]] = []
    for side in (BUY, SELL):
        last_price: Decimal | None = None
        for i in range(levels):
            offset = half + step * i
            if side == BUY:
                price = market.round_to_tick(mid - offset, up=False)
                if last_price is not None and price >= last_price:
                    price = last_price - tick
                if price <= 0 or price < market.min_price:
                    break
            else:
                price = market.round_to_tick(mid + offset, up=True)
                if last_price is not None and price <= last_price:
                    price = last_price + tick
                if price > market.max_price:
                    break
            last_price = price
            jitter = Decimal(80 + rng.randrange(41)) / 100
            notional = depth_notional * weights[i] / total_weight * jitter
            qty = (notional / price / lot).quantize(_ONE, rounding=ROUND_FLOOR) * lot
            qty = min(max(qty, market.min_qty, lot), market.max_qty)
            quotes.append((side, price, qty))
    return quotes
