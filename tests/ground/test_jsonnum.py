"""runner.jsonnum: exact numbers both ways, and bad input always a ValueError."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from runner import jsonnum


def test_numbers_round_trip_exactly():
    text = '{"price": 230.05, "quantity": 0.3, "count": 7, "tiny": 1e-18}'
    value = jsonnum.loads(text)
    assert value == {"price": Decimal("230.05"), "quantity": Decimal("0.3"), "count": 7,
                     "tiny": Decimal("1E-18")}
    assert jsonnum.loads(jsonnum.dumps(value)) == value


def test_hostile_nesting_is_a_value_error_not_a_recursion_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        jsonnum.loads("[" * 200_000 + "]" * 200_000)


def test_broken_json_is_a_value_error():
    with pytest.raises(json.JSONDecodeError):
        jsonnum.loads('{"a": ')
