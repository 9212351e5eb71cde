"""Numbers from the exchange are checked at the protocol boundary: finite, in range, of the right
sign; anything else is dropped from the typed reply and named in its `anomalies`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runner.exchange.protocol import classify, parse_frame, wire_decimal, wire_number


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), "NaN", "sNaN", "-Infinity", Decimal("NaN"),
                                 Decimal("1e999999999"), 10**40, "1e-999999999", "x" * 10_000, True, [1]])
def test_unusable_wire_numbers_are_refused_with_a_reason(raw: object) -> None:
    number, why = wire_number(raw)
    assert number is None and why, raw
    assert len(why) < 120
    assert wire_decimal(raw) is None


@pytest.mark.parametrize(("raw", "expected"), [
    (Decimal("230.125"), Decimal("230.125")), (5, Decimal(5)), ("0.30", Decimal("0.30")),
    (1733380000000000000, Decimal(1733380000000000000)), (Decimal("0E+999999999"), Decimal(0)),
    (None, None), ("", None),
])
def test_usable_wire_numbers_pass_exactly(raw: object, expected: Decimal | None) -> None:
    assert wire_number(raw) == (expected, None)


def test_a_fill_with_impossible_numbers_names_them() -> None:
    frame = parse_frame('{"fill_response": {"trade_id": "t", "client_order_id": "c", "quantity": NaN, '
                        '"price": 1e999999999, "remaining_quantity": -1, "fee": -0.5, '
                        '"timestamp": Infinity}}')
    fill = classify(frame).body
    assert (fill.quantity, fill.price, fill.remaining_quantity) == (None, None, None)
    assert fill.fee == Decimal("-0.5")  # a rebate is negative, and fine
    assert fill.timestamp is None  # dropped, but nothing is judged by it
    assert [a.split(" ")[0] for a in fill.anomalies] == ["price", "quantity", "remaining_quantity"]


def test_an_order_update_with_a_negative_remainder_is_an_anomaly() -> None:
    update = classify(parse_frame('{"order_response": {"status": "FILLED", "client_order_id": "c", '
                                  '"quantity": 1, "quantity_remaining": -3}}')).body
    assert update.quantity == 1 and update.quantity_remaining is None
    assert update.anomalies == ("quantity_remaining -3 is negative",)


def _reference(number: Decimal) -> tuple[Decimal | None, bool]:
    """The range rule spelled out on the digits (what `wire_number` decided before its fast paths)."""
    if not number.is_finite():
        return None, False
    exponent = int(number.as_tuple().exponent)
    if not number:
        return (number if -24 <= exponent <= 24 else Decimal(0)), True
    return (number, True) if number.adjusted() <= 24 and exponent >= -24 else (None, False)


@pytest.mark.parametrize("text", [
    "187.25", "-187.25", "0", "0.000", "-0", "1." + "0" * 23, "0." + "0" * 23 + "1", "0." + "0" * 24 + "1",
    "1." + "0" * 24, "12345678901234567890123.4", "1234567890123456789012345", "999999999999999999999999",
    "9999999999999999999999999", "1E+24", "9.99E+24", "1E+25", "1E-7", "0.000001", "-0.0000001", "0E-30",
    "0E+30", "1E-24", "1E-25", "1733380000.123456789", "NaN", "-Infinity", "123E-26",
])
def test_the_fast_paths_decide_as_the_digits_do(text: str) -> None:
    """`wire_number`'s shortcuts for the common Decimal and int give the full rule's answer, exactly
    (the same value and exponent, the same refusals) on edge cases of both bounds."""
    number = Decimal(text)
    expected, usable = _reference(number)
    got, why = wire_number(number)
    assert (why is None) == usable, text
    assert got == expected and (got is None or str(got) == str(expected)), text
    if number.is_finite() and number == number.to_integral_value() and abs(number) < 10 ** 30:
        integer = int(number)
        got_int, why_int = wire_number(integer)
        assert (got_int, why_int is None) == _reference(Decimal(integer)), text
