"""Exact decimal arithmetic for checks: no float, no silent rounding at 28 digits.

The playbook's numbers are bounded by the loader (|x| < 1e18, finer than 1e-18 refused), so a
100-digit context makes products and remainders exact; a failure here would raise, not round.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded

EXACT = Context(prec=100, traps=[InvalidOperation, Inexact, Rounded])


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when value is an exact multiple of step (e.g. a price on the tick)."""
    return EXACT.remainder(value, step) == 0


def neighbours(value: Decimal, step: Decimal) -> tuple[Decimal, Decimal]:
    """The multiples of step just below and just above value (for "nearest valid" hints)."""
    below = EXACT.multiply(EXACT.divide_int(value, step), step)
    return below, EXACT.add(below, step)


def multiply(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.multiply(a, b)


def add(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.add(a, b)


def show(value: Decimal) -> str:
    """Plain notation, never scientific (1E+3 -> 1000)."""
    return format(value, "f")
