"""QFEX facts and shared wording declared once in the ground: their values pinned here, once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runner.enums import (
    CANCELLED_STATUSES,
    NOT_REJECT_STATUSES,
    RETRYABLE_ERRORS,
    ErrorCode,
    OrderStatus,
    is_retryable,
)
from runner.problems import Location, Problem, Severity, errors_in, warnings_in
from runner.words import number_text, shown


def test_retryable_error_codes() -> None:
    assert {"RateLimited", "ServerError"} == RETRYABLE_ERRORS
    assert [c for c in ErrorCode if c.is_retryable] == [ErrorCode.RATE_LIMITED, ErrorCode.SERVER_ERROR]
    assert is_retryable("RateLimited") and is_retryable("ServerError")
    assert not is_retryable("InvalidOrder") and not is_retryable("SomethingNew") and not is_retryable(None)


def test_cancelled_statuses() -> None:
    assert {"CANCELLED", "CANCELLED_STP"} == CANCELLED_STATUSES
    assert "CANCELLED" in CANCELLED_STATUSES and "FILLED" not in CANCELLED_STATUSES


def test_statuses_that_are_not_rejects() -> None:
    assert {"ACK", "FILLED", "MODIFIED", "CANCELLED", "CANCELLED_STP"} == NOT_REJECT_STATUSES
    assert {s.value for s in OrderStatus if not s.is_reject} == NOT_REJECT_STATUSES


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("10"), "10"), (Decimal("10.0"), "10"), (Decimal("1E+1"), "10"), (Decimal("0.00100"), "0.001"),
    (Decimal("-2.50"), "-2.5"), (Decimal("0E-8"), "0"),
    (Decimal("123456789.123456789"), "123456789.123456789"),
])
def test_number_text_is_canonical_and_never_an_exponent(value: Decimal, text: str) -> None:
    assert number_text(value) == text


def test_shown_values() -> None:
    assert shown(None) == "none" and shown(True) == "true" and shown(False) == "false"
    assert shown(Decimal("10.0")) == "10.0" and shown(Decimal("1E+2")) == "100"
    assert shown("200") == "200" and shown(3) == "3"


def test_errors_and_warnings_among_problems() -> None:
    error = Problem(Location("a.yaml", 2), "bad", "r")
    warning = Problem(Location("a.yaml", 1), "odd", "r", Severity.WARNING)
    assert errors_in([warning, error]) == [error]
    assert warnings_in([warning, error]) == [warning]
    assert errors_in([warning]) == []
