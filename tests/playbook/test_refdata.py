"""Reference data: QFEX's /refdata body or a bare list, string numbers read as exact Decimals."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from runner.errors import RefDataError, UsageError
from runner.playbook.refdata import SymbolSpec, load_refdata_file, parse_refdata

ROOT = Path(__file__).resolve().parents[2]
GOOG = {
    "clobPairId": "4",
    "symbol": "GOOG-USD",
    "underlier_price": "154.16",
    "price_change_24h": "-2.1",
    "tick_size": "0.05",
    "lot_size": "0.001",
    "min_price": "112",
    "max_price": "209",
    "min_quantity": "0.001",
    "max_quantity": "100000000",
    "base_asset": "GOOG",
    "quote_asset": "USD",
    "margin_asset": "USD",
    "order_time_in_force": ["GTC", "IOC", "FOK"],
    "order_types": ["LIMIT", "MARKET", "ALO"],
    "market_hours": {"tz": "America/New_York", "monday": {"open": "04:00:00", "close": "20:00:00"}},
}


def test_documented_refdata_example_parses_exactly() -> None:
    refdata = parse_refdata({"type": "refdata", "data": [GOOG]}, source="docs")
    spec = refdata["GOOG-USD"]
    assert spec == SymbolSpec(
        "GOOG-USD",
        "ACTIVE",
        Decimal("0.05"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("100000000"),
        Decimal("112"),
        Decimal("209"),
        Decimal("154.16"),
        ("LIMIT", "MARKET", "ALO"),
        ("GTC", "IOC", "FOK"),
    )
    assert str(spec.tick_size) == "0.05" and refdata.source == "docs" and len(refdata) == 1
    assert list(refdata) == ["GOOG-USD"] and "GOOG-USD" in refdata and refdata.get("X") is None


def test_bare_list_and_missing_underlier() -> None:
    item = dict(GOOG, underlier_price="", status="INACTIVE")
    spec = parse_refdata([item])["GOOG-USD"]
    assert spec.underlier_price is None and spec.status == "INACTIVE"


@pytest.mark.parametrize(
    ("obj", "needle"),
    [
        ({"data": "x"}, "expected QFEX's /refdata body"),
        ([{"symbol": "A-USD"}], "A-USD: missing tick_size"),
        ([dict(GOOG, tick_size="abc")], "GOOG-USD: tick_size 'abc' is not a number"),
        ([dict(GOOG, tick_size="0")], "tick_size must be positive"),
        ([dict(GOOG, lot_size="NaN")], "not a finite number"),
        ([dict(GOOG, min_price=True)], "must be a number or a numeric string"),
        ([GOOG, GOOG], "listed twice"),
        ([42], "entry 0: expected an object"),
        ([dict(GOOG, order_types="LIMIT")], "order_types must be a list of strings"),
    ],
)
def test_bad_shapes_are_named(obj: object, needle: str) -> None:
    with pytest.raises(RefDataError, match=needle):
        parse_refdata(obj)


def test_load_file_errors_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read file"):
        load_refdata_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_refdata_file(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([{"symbol": "A-USD"}]))
    with pytest.raises(UsageError, match=r"--refdata .*wrong.json: A-USD: missing tick_size"):
        load_refdata_file(wrong)


def test_numbers_written_as_json_numbers_stay_exact(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps([dict(GOOG, tick_size=0.05, lot_size=1)]).replace("0.05", "0.10"))
    spec = load_refdata_file(path)["GOOG-USD"]
    assert str(spec.tick_size) == "0.10" and spec.lot_size == 1


def test_simulator_fixture_loads() -> None:
    fixture = ROOT / "runner" / "simulator" / "data" / "refdata.json"
    refdata = load_refdata_file(fixture)
    assert refdata["AAPL-USD"].tick_size == Decimal("0.01") and refdata.source == str(fixture)


def test_get_is_a_mapping_get() -> None:
    refdata = parse_refdata([GOOG], source="test")
    assert refdata.get("GOOG-USD") is refdata["GOOG-USD"]
    assert refdata.get("NOPE-USD") is None and refdata.get("NOPE-USD", "x") == "x"
    assert dict(refdata.items()) == {"GOOG-USD": refdata["GOOG-USD"]}
