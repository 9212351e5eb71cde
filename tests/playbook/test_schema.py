"""The playbook JSON Schema (documentation quality, strictness) and its messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runner.errors import Unsupported, UsageError
from runner.playbook.load import validate_bytes
from runner.playbook.schema import load_schema, schema_bytes
from runner.playbook.schema_compile import compile_schema

ROOT = Path(__file__).resolve().parents[2]
HINT = 'a positive decimal number such as 10 or "0.001" (below 1e18, at most 18 decimal places)'


def messages(text: str) -> list[str]:
    result = validate_bytes(text.encode(), "s.yaml")
    return [f"{p.location.line}:{p.location.col}: {p.message}" for p in result.problems if p.rule == "schema"]


def _properties(schema: Any, path: str = "#") -> list[tuple[str, dict]]:
    found = []
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            found.append((f"{path}/{name}", sub))
        for key, sub in schema.items():
            if isinstance(sub, dict):
                found += _properties(sub, f"{path}/{key}")
    return found


def test_schema_is_valid_2020_12_and_the_installed_bytes_are_the_source() -> None:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema_bytes() == (ROOT / "schemas" / "playbook.schema.json").read_bytes()
    assert (ROOT / "runner" / "_schemas").resolve() == (ROOT / "schemas").resolve()


def test_every_property_is_described_for_editors() -> None:
    schema = load_schema()
    undocumented = [
        path
        for path, sub in _properties(schema)
        if "description" not in sub
        and "description" not in schema["$defs"].get(sub.get("$ref", "#/$defs/").rsplit("/", 1)[-1], {})
    ]
    assert undocumented == []


def test_design_example_validates(tmp_path: Path) -> None:
    text = """\
version: 1
name: aapl-swing
run_id: "2026-11-25"
account: null
defaults:
  time_in_force: GTC
on_reject: stop
cancel_on_disconnect: false
x-common: &common
  time_in_force: GTC
limits:
  max_order_notional: 50000
  max_total_notional: 100000
  symbols: [AAPL-USD, TSLA-USD]
orders:
  - id: aapl-entry
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: 10
    price: 200.00
    time_in_force: GTC
    reduce_only: false
    wait: ack
    expect: accepted
    bracket:
      take_profit: 220.00
      stop_loss: 190.00
      mode: attached
  - id: tsla-tp
    symbol: TSLA-USD
    side: SELL
    type: TAKE_PROFIT
    quantity: 2
    price: 260
"""
    result = validate_bytes(text.encode(), "design.yaml")
    assert result.problems == [] and result.playbook is not None


def test_unknown_keys_with_suggestions_and_x_keys_only_at_top_level() -> None:
    text = (
        "version: 1\nname: n\nx-free: {anything: [1, 2]}\nodrers: []\norders:\n"
        "  - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 2, x-note: hi}\n"
    )
    assert messages(text) == [
        "4:1: unknown key 'odrers' (did you mean 'orders'?)",
        "6:78: unknown key 'x-note'",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10", []),
        ('"10"', []),
        ("0.001", []),
        ('"0.001"', []),
        ("1e3", []),
        ("0", ["quantity: must be greater than 0, got 0"]),
        ('"0.0"', [f"quantity: '0.0' is not valid: use {HINT}"]),
        ('"-1"', [f"quantity: '-1' is not valid: use {HINT}"]),
        ('"1e3"', [f"quantity: '1e3' is not valid: use {HINT}"]),
        ("true", ['quantity: expected a positive decimal number (e.g. 10 or "0.001"), got the boolean true']),
        (
            "",
            ['quantity: expected a positive decimal number (e.g. 10 or "0.001"), got null (an empty value)'],
        ),
    ],
)
def test_quantities_accept_numbers_and_numeric_strings(value: str, expected: list[str]) -> None:
    order = f"{{id: a, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: {value}}}"
    text = f"version: 1\nname: n\norders:\n  - {order}\n"
    assert [m.split(": ", 1)[1] for m in messages(text)] == expected


def test_defaults_accept_exactly_the_documented_keys() -> None:
    ok = "defaults: {time_in_force: IOC, wait: none, expect: filled, reduce_only: true}\n"
    bad = "defaults: {price: 1}\n"
    order = "orders:\n  - {id: a, symbol: AAPL-USD, side: BUY, type: MARKET, quantity: 1}\n"
    assert messages(f"version: 1\nname: n\n{ok}{order}") == []
    assert messages(f"version: 1\nname: n\n{bad}{order}") == ["3:12: unknown key 'price'"]


def test_version_and_missing_keys() -> None:
    assert messages("version: 3\nname: n\norders: [{}]\n") == [
        "1:10: unsupported playbook version 3: this qfex-runner reads version 1",
        "3:10: an order is missing required key 'id'",
        "3:10: an order is missing required key 'quantity'",
        "3:10: an order is missing required key 'side'",
        "3:10: an order is missing required key 'symbol'",
        "3:10: an order is missing required key 'type'",
    ]


def test_schema_check_reports_only_failing_orders_of_a_large_playbook() -> None:
    good = "  - {id: o%d, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200}\n"
    text = "version: 1\nname: n\norders:\n" + "".join(good % i for i in range(500))
    text += "  - {id: bad, symbol: AAPL-USD, side: BYU, type: LIMIT, quantity: 1, price: 200}\n"
    text += "".join(good % i for i in range(500, 600))
    assert messages(text) == ["504:39: side: 'BYU' is not one of BUY, SELL (did you mean 'BUY'?)"]


@pytest.mark.parametrize("name", ["nope", "../schemas/playbook", "_schemas/report", ""])
def test_unknown_schema_names_are_usage_errors(name: str) -> None:
    with pytest.raises(UsageError, match=r"no schema named .* \(available: playbook, report\)"):
        schema_bytes(name)


def test_every_shipped_schema_has_a_name() -> None:
    from runner.playbook.schema import NAMES

    shipped = sorted(p.name.removesuffix(".schema.json") for p in (ROOT / "schemas").glob("*.schema.json"))
    assert sorted(NAMES) == shipped
    for name in NAMES:
        assert schema_bytes(name) == (ROOT / "schemas" / f"{name}.schema.json").read_bytes()


def test_fast_compiler_refuses_keywords_it_does_not_implement() -> None:
    with pytest.raises(Unsupported):
        compile_schema({"type": "object", "dependentRequired": {"a": ["b"]}})
    check = compile_schema(
        json.loads('{"$defs": {"n": {"type": "integer"}}, "items": {"$ref": "#/$defs/n"}}')
    )
    assert check([1, 2]) and not check([1, "2"]) and not check([True]) and check("not an array")


@pytest.mark.parametrize(
    "value",
    [
        '"0.' + "1" * 500 + '"',
        "0." + "1" * 500,
        '"' + "9" * 40 + '"',
        "1." + "0" * 30,
        "123456789012345678901",
    ],
)
def test_numbers_beyond_exact_precision_are_problems_not_crashes(value: str) -> None:
    order = f"{{id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: {value}, price: {value}}}"
    text = f"version: 1\nname: n\nlimits: {{max_total_notional: 5}}\norders:\n  - {order}\n  - {order}\n"
    from runner.playbook.refdata import parse_refdata

    refdata = parse_refdata(
        [
            {
                "symbol": "AAPL-USD",
                "tick_size": "0.01",
                "lot_size": "0.001",
                "min_quantity": "0.001",
                "max_quantity": "1",
                "min_price": "1",
                "max_price": "2",
            }
        ]
    )
    result = validate_bytes(text.encode(), "s.yaml", refdata)
    assert not result.ok and {p.rule for p in result.problems} <= {"schema", "yaml-number"}


TRICKY_VALUES = [None, True, False, 0, 1, -1, 0.0, 2.5, float("inf"), "", "a", "A", "0", "0.0", "1.50", "-1",
                 " 1", "1e3", "x" * 64, "x" * 65, "AAPL-USD", "aapl-usd", "AAPL-USDX", "o-1", "o 1", [], {},
                 ["1"], {"risk": 1}]


@pytest.mark.parametrize("definition", ["symbol", "positiveDecimal", "percent", "stepId", "duration"])
def test_compiled_scalar_schemas_agree_with_jsonschema(definition: str) -> None:
    """The compiler fuses a scalar schema (type + length/pattern/minimum) into one closure: on every
    kind of value it says what jsonschema says."""
    from decimal import Decimal

    playbook = load_schema("playbook")
    check = compile_schema(playbook, f"#/$defs/{definition}")
    reference = Draft202012Validator({**playbook["$defs"][definition], "$defs": playbook["$defs"]})
    values = [*TRICKY_VALUES, Decimal("0"), Decimal("0.001"), Decimal("-0.5"), Decimal("1E+3"), 10**18]
    for value in values:
        assert check(value) == reference.is_valid(value), (definition, value)
    for kind in (["string"], ["number"], ["number", "string"], "string"):
        schema = {"type": kind, "minLength": 2, "maxLength": 3, "pattern": "^[0-9a]", "exclusiveMinimum": 1,
                  "minimum": 2}
        fused = compile_schema(schema)
        for value in values:
            assert fused(value) == Draft202012Validator(schema).is_valid(value), (kind, value)
