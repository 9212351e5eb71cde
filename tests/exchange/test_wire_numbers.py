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
