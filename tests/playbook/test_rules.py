"""Each trading rule on its own: what it reports, where, and what it deliberately lets through."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from runner import jsonnum
from runner.playbook.load import validate_bytes
from runner.playbook.refdata import RefData, parse_refdata
from runner.playbook.rules import CHECKS, RULES
from runner.playbook.rules.exact import is_multiple, neighbours
from runner.problems import Severity

REFDATA = parse_refdata(
    [
        {
            "symbol": "AAPL-USD",
            "status": "ACTIVE",
            "underlier_price": "230.00",
            "tick_size": "0.01",
            "lot_size": "0.001",
            "min_price": "172.50",
            "max_price": "287.50",
            "min_quantity": "0.001",
            "max_quantity": "100000",
            "order_types": ["LIMIT", "MARKET", "ALO"],
            "order_time_in_force": ["GTC", "IOC", "FOK"],
        },
        {
            "symbol": "TENTH-USD",
            "status": "INACTIVE",
            "underlier_price": None,
            "tick_size": "0.1",
            "lot_size": "0.1",
            "min_price": "0.1",
            "max_price": "1000",
            "min_quantity": "0.3",
            "max_quantity": "0.9",
            "order_types": ["LIMIT", "MARKET"],
            "order_time_in_force": ["GTC", "IOC"],
        },
    ],
    source="test-refdata",
)


def check(
    orders: str, *, header: str = "", refdata: RefData | None = REFDATA, rule: str | None = None
) -> list[str]:
    """Problems for a playbook made of `orders` (YAML flow mappings, one a line), each as
    `<line>:<the source text the location points at>: message`, so tests show *what* is pointed at."""
    lines = orders.strip().splitlines()
    text = f"version: 1\nname: t\n{header}orders:\n" + "".join(f"  - {line}\n" for line in lines)
    result = validate_bytes(text.encode(), "t.yaml", refdata)
    assert not [p for p in result.problems if p.rule == "schema" or p.rule.startswith("yaml")], (
        result.problems
    )
    source = text.splitlines()
    out = []
    for p in result.problems:
        if rule is None or p.rule == rule:
            token = re.match(r"[^,}:\s]+", source[p.location.line - 1][p.location.col - 1 :]).group()
            out.append(f"{p.location.line}:{token}: {p.message}")
    return out


def order(**fields: object) -> str:
    base = {"id": "o", "symbol": "AAPL-USD", "side": "BUY", "type": "LIMIT", "quantity": 1, "price": "200.00"}
    base.update(fields)
    return "{" + ", ".join(f"{k}: {v}" for k, v in base.items() if v is not None) + "}"


def test_every_rule_has_an_id_and_a_docstring_with_an_example() -> None:
    assert len(CHECKS) == len(RULES) >= 13
    for module in RULES:
        assert module.ID and module.__doc__ and module.ID in module.__doc__
        assert "Example" in module.__doc__


# --- tif-allowed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "tif", "ok"),
    [
        ("LIMIT", "GTC", True),
        ("LIMIT", "IOC", True),
        ("LIMIT", "FOK", True),
        ("MARKET", "IOC", True),
        ("MARKET", "GTC", False),
        ("MARKET", "FOK", False),
        ("ALO", "GTC", True),
        ("ALO", "IOC", False),
        ("ALO", "FOK", False),
        ("TAKE_PROFIT", "IOC", True),
        ("TAKE_PROFIT", "GTC", False),
        ("STOP_LOSS", "FOK", False),
    ],
)
def test_tif_table(kind: str, tif: str, ok: bool) -> None:
    price = None if kind == "MARKET" else "200.00"
    problems = check(order(type=kind, price=price, time_in_force=tif), rule="tif-allowed")
    assert (problems == []) == ok
    if not ok:
        assert f"time_in_force {tif} is not allowed for {kind} orders" in problems[0]


@pytest.mark.parametrize(
    ("default", "kind", "resolved"),
    [
        ("FOK", "LIMIT", "FOK"),
        ("FOK", "ALO", "GTC"),
        ("FOK", "MARKET", "IOC"),
        ("GTC", "MARKET", "IOC"),
        ("GTC", "TAKE_PROFIT", "IOC"),
        ("IOC", "LIMIT", "IOC"),
        ("IOC", "ALO", "GTC"),
        (None, "LIMIT", "GTC"),
        (None, "ALO", "GTC"),
        (None, "MARKET", "IOC"),
        (None, "STOP_LOSS", "IOC"),
    ],
)
def test_tif_resolution(default: str | None, kind: str, resolved: str) -> None:
    header = f"defaults: {{time_in_force: {default}}}\n" if default else ""
    price = None if kind == "MARKET" else "200.00"
    text = f"version: 1\nname: t\n{header}orders:\n  - {order(type=kind, price=price)}\n"
    result = validate_bytes(text.encode(), "t.yaml")
    assert result.playbook is not None, result.problems
    assert result.playbook.orders[0].time_in_force.value == resolved


# --- price-required -----------------------------------------------------------------------------


def test_price_required_and_refused() -> None:
    assert check(order(price=None), rule="price-required") == [
        "4:{id: LIMIT order 'o' needs a price (its limit price)"
    ]
    assert (
        "trigger price" in check(order(type="STOP_LOSS", side="SELL", price=None), rule="price-required")[0]
    )
    assert check(order(type="MARKET"), rule="price-required")[0].startswith(
        "4:200.00: MARKET orders take no price"
    )
    assert check(order(type="MARKET", price=None), rule="price-required") == []


# --- duplicate-id ---------------------------------------------------------------------------------


def test_duplicate_ids() -> None:
    problems = check("\n".join([order(id="a"), order(id="b"), order(id="a")]), rule="duplicate-id")
    assert problems == ["6:a: duplicate order id 'a' (first used on line 4)"]


# --- bracket-type / bracket-geometry ------------------------------------------------------------


def test_bracket_only_on_entries() -> None:
    problems = check(order(type="TAKE_PROFIT", side="SELL", bracket="{stop_loss: 100}"), rule="bracket-type")
    assert problems == [
        "4:bracket: a bracket is only allowed on LIMIT, MARKET or ALO orders, not TAKE_PROFIT"
    ]


@pytest.mark.parametrize(
    ("side", "kind", "tp", "sl", "expected"),
    [
        ("BUY", "LIMIT", "210.00", "190.00", []),
        (
            "BUY",
            "LIMIT",
            "200.00",
            "190.00",
            ["take_profit 200.00 must be above the entry price 200.00 for a BUY"],
        ),
        (
            "BUY",
            "LIMIT",
            "210.00",
            "200.01",
            ["stop_loss 200.01 must be below the entry price 200.00 for a BUY"],
        ),
        ("SELL", "ALO", "190.00", "210.00", []),
        (
            "SELL",
            "ALO",
            "210.00",
            "190.00",
            [
                "take_profit 210.00 must be below the entry price 200.00 for a SELL",
                "stop_loss 190.00 must be above the entry price 200.00 for a SELL",
            ],
        ),
        ("BUY", "MARKET", "250.00", "210.00", []),
        (
            "BUY",
            "MARKET",
            "210.00",
            "250.00",
            ["take_profit 210.00 must be above stop_loss 250.00 for a BUY"],
        ),
        (
            "SELL",
            "MARKET",
            "250.00",
            "210.00",
            ["take_profit 250.00 must be below stop_loss 210.00 for a SELL"],
        ),
        ("SELL", "MARKET", "190.00", None, []),
    ],
)
def test_bracket_geometry(side: str, kind: str, tp: str | None, sl: str | None, expected: list[str]) -> None:
    parts = [f"take_profit: {tp}"] if tp else []
    parts += [f"stop_loss: {sl}"] if sl else []
    text = order(
        side=side,
        type=kind,
        price=None if kind == "MARKET" else "200.00",
        bracket="{" + ", ".join(parts) + "}",
    )
    assert [p.split(": ", 1)[1] for p in check(text, rule="bracket-geometry")] == expected


# --- limits -----------------------------------------------------------------------------------------


def test_limits_symbols() -> None:
    header = "limits: {symbols: [TENTH-USD]}\n"
    assert check(order(), header=header, rule="limits-symbols") == [
        "5:AAPL-USD: symbol AAPL-USD is not in limits.symbols (TENTH-USD)"
    ]


def test_order_notional_exact() -> None:
    header = "limits: {max_order_notional: 0.3}\n"
    # 3 x 0.1 is exactly 0.3 (in binary floating point it is 0.30000000000000004 > 0.3)
    assert check(order(quantity=3, price="0.1"), header=header, refdata=None, rule="limits-notional") == []
    assert check(
        order(quantity="3.001", price="0.1"), header=header, refdata=None, rule="limits-notional"
    ) == ["5:3.001: notional 0.3001 (3.001 x 0.1) is above limits.max_order_notional 0.3"]


def test_total_notional_counts_only_exposure_and_reports_once() -> None:
    header = "limits: {max_total_notional: 500}\n"
    orders = "\n".join(
        [
            order(id="a", quantity=2),  # 400
            order(id="exit", side="SELL", quantity=5, reduce_only="true"),  # reduce_only: not counted
            order(id="stop", side="SELL", type="STOP_LOSS", quantity=5),  # stop order: not counted
            order(id="b", quantity=1),  # 600 > 500
            order(id="c", quantity=1),  # still above: not repeated
        ]
    )
    assert check(orders, header=header, refdata=None, rule="limits-notional") == [
        "8:1: total notional reaches 600 with this order, above limits.max_total_notional 500"
    ]


def test_market_notional_uses_underlier_or_says_it_cannot() -> None:
    header = "limits: {max_order_notional: 1000}\n"
    market = order(type="MARKET", price=None, quantity=5)
    assert check(market, header=header, rule="limits-notional") == [
        "5:5: notional 1150 (5 x 230.00 at the underlier price) is above limits.max_order_notional 1000"
    ]
    assert check(market, header=header, refdata=None, rule="limits-notional") == [
        "5:5: cannot check notional limits for MARKET order 'o': no reference data for its symbol "
        "(pass --refdata FILE)"
    ]
    no_underlier = order(type="MARKET", price=None, quantity="0.3", symbol="TENTH-USD")
    assert "no underlier_price" in check(no_underlier, header=header, rule="limits-notional")[0]
    # only a total limit, and a reduce-only MARKET: it does not count, so nothing to check
    reduce = order(type="MARKET", price=None, reduce_only="true")
    assert (
        check(reduce, header="limits: {max_total_notional: 10}\n", refdata=None, rule="limits-notional") == []
    )


# --- reference data -------------------------------------------------------------------------------


def test_unknown_symbol_with_suggestion_and_inactive_warning() -> None:
    assert check(order(symbol="APPL-USD"), rule="refdata-symbol") == [
        "4:APPL-USD: unknown symbol APPL-USD in reference data from test-refdata (did you mean AAPL-USD?)"
    ]
    text = (
        "version: 1\nname: t\norders:\n  - " + order(symbol="TENTH-USD", quantity="0.3", price="1.0") + "\n"
    )
    result = validate_bytes(text.encode(), "t.yaml", REFDATA)
    [warning] = result.problems
    assert warning.severity is Severity.WARNING and result.ok and result.playbook is not None
    assert check(order(symbol="NOPE-USD"), refdata=None) == []  # nothing to check against


def test_order_type_and_tif_listed_by_refdata() -> None:
    tenth = {"symbol": "TENTH-USD", "quantity": "0.3", "price": "1.0"}
    assert check(order(type="ALO", **tenth), rule="refdata-order-type") == [
        "4:ALO: TENTH-USD does not accept ALO orders (reference data lists LIMIT, MARKET)"
    ]
    assert check(order(time_in_force="FOK", **tenth), rule="refdata-order-type")[0].endswith(
        "TENTH-USD does not accept time_in_force FOK (reference data lists GTC, IOC)"
    )
    assert check(order(type="STOP_LOSS", side="SELL", **tenth), rule="refdata-order-type") == []


def test_order_type_verdict_is_told_for_every_order_of_a_combination() -> None:
    """The rule decides once per (symbol, type, time in force): every order of it is still told, each
    at its own line, and a combination that differs only in time in force gets its own verdict."""
    tenth = {"symbol": "TENTH-USD", "quantity": "0.3", "price": "1.0"}
    orders = "\n".join([order(id="a", type="ALO", **tenth), order(id="b", **tenth),
                        order(id="c", type="ALO", **tenth), order(id="d", time_in_force="FOK", **tenth),
                        order(id="e", type="ALO", time_in_force="GTC", **tenth)])
    found = check(orders, rule="refdata-order-type")
    assert [line.split(":")[0] for line in found] == ["4", "6", "7", "8"]
    assert found[1] == "6:ALO: TENTH-USD does not accept ALO orders (reference data lists LIMIT, MARKET)"
    assert found[2].startswith("7:FOK: TENTH-USD does not accept time_in_force FOK")


def test_tick_size_exact_for_prices_triggers_and_brackets() -> None:
    tenth = {"symbol": "TENTH-USD", "quantity": "0.3"}
    assert check(order(price="0.3", **tenth), rule="tick-size") == []  # 0.3 % 0.1 == 0 exactly (not in float)
    assert check(order(price="200.015"), rule="tick-size") == [
        "4:200.015: price 200.015 is not a multiple of AAPL-USD's tick size 0.01 (nearest: 200.01 or 200.02)"
    ]
    assert check(order(type="STOP_LOSS", side="SELL", price="150.001"), rule="tick-size")[0].startswith(
        "4:150.001: price"
    )
    problems = check(order(bracket="{take_profit: 250.005, stop_loss: 150.0001}"), rule="tick-size")
    assert [p.split(": ", 1)[1].split(" is")[0] for p in problems] == [
        "take_profit 250.005",
        "stop_loss 150.0001",
    ]


def test_lot_size_exact_including_stop_orders() -> None:
    assert check(order(symbol="TENTH-USD", quantity="0.7", price="1.0"), rule="lot-size") == []
    assert check(order(quantity="0.0015"), rule="lot-size") == [
        "4:0.0015: quantity 0.0015 is not a multiple of AAPL-USD's lot size 0.001 (nearest: 0.001 or 0.002)"
    ]
    assert check(order(type="TAKE_PROFIT", side="SELL", quantity="0.0001"), rule="lot-size") != []


def test_quantity_range_not_for_stop_orders() -> None:
    tenth = {"symbol": "TENTH-USD", "price": "1.0"}
    assert check(order(quantity="0.2", **tenth), rule="quantity-range") == [
        "4:0.2: quantity 0.2 is below TENTH-USD's min_quantity 0.3"
    ]
    assert check(order(quantity="1.0", **tenth), rule="quantity-range") == [
        "4:1.0: quantity 1.0 is above TENTH-USD's max_quantity 0.9"
    ]
    assert check(order(type="TAKE_PROFIT", side="SELL", quantity="5", **tenth), rule="quantity-range") == []


@pytest.mark.parametrize(
    ("side", "kind", "price", "reported"),
    [
        ("BUY", "LIMIT", "287.51", True),
        ("BUY", "LIMIT", "287.50", False),
        ("BUY", "LIMIT", "1.00", False),
        ("SELL", "ALO", "172.49", True),
        ("SELL", "ALO", "172.50", False),
        ("SELL", "LIMIT", "999.00", False),
        ("SELL", "TAKE_PROFIT", "999.00", False),
        ("BUY", "STOP_LOSS", "999.00", False),
    ],
)
def test_price_band_as_qfex_applies_it(side: str, kind: str, price: str, reported: bool) -> None:
    assert bool(check(order(side=side, type=kind, price=price), rule="price-band")) == reported


def test_bracket_triggers_are_exempt_from_the_band() -> None:
    assert check(order(bracket="{take_profit: 900.00, stop_loss: 1.00}"), rule="price-band") == []


def test_exact_helpers_do_not_round() -> None:
    assert is_multiple(Decimal("0.3"), Decimal("0.1"))
    assert not is_multiple(Decimal("999999999999999999.000000000000000001"), Decimal("0.000000000000000002"))
    assert is_multiple(Decimal("999999999999999999.000000000000000002"), Decimal("0.000000000000000002"))
    assert neighbours(Decimal("200.015"), Decimal("0.01")) == (Decimal("200.01"), Decimal("200.02"))


def test_rules_never_see_orders_that_failed_the_schema() -> None:
    text = (
        "version: 1\nname: t\norders:\n  - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: x}\n"
        f"  - {order(id='b', price=None)}\n"
    )
    result = validate_bytes(text.encode(), "t.yaml", REFDATA)
    assert [p.rule for p in result.problems] == ["schema", "price-required"]
    assert result.playbook is None


def test_playbook_model_is_exact(tmp_path) -> None:
    text = (
        "version: 1\nname: t\nrun_id: r1\norders:\n"
        "  - {id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 0.1, price: '200.10',"
        " bracket: {take_profit: 1e3, stop_loss: 100}}\n"
    )
    result = validate_bytes(text.encode(), "t.yaml")
    book = result.playbook
    assert book is not None and book.run_id == "r1"
    [o] = book.orders
    assert o.quantity == Decimal("0.1") and str(o.price) == "200.10"
    assert o.bracket is not None and o.bracket.take_profit == Decimal(1000) and o.bracket.stop_loss == 100
    assert o.location.line == 5
    assert jsonnum.dumps(o.quantity * 3) == "0.3"


def test_market_bracket_against_the_underlier_is_a_warning() -> None:
    text = order(type="MARKET", price=None, bracket="{take_profit: 225.00, stop_loss: 220.00}")
    problems = check(text, rule="bracket-geometry")
    assert problems == [
        "4:225.00: take_profit 225.00 is not above AAPL-USD's underlier price 230.00; "
        "QFEX rejects exits on the wrong side of the market",
    ]
    result = validate_bytes(f"version: 1\nname: t\norders:\n  - {text}\n".encode(), "t.yaml", REFDATA)
    assert result.ok and result.warnings
    sell = order(type="MARKET", side="SELL", price=None, bracket="{take_profit: 200.00, stop_loss: 229.00}")
    assert [p.split(": ", 1)[1].split(" is")[0] for p in check(sell, rule="bracket-geometry")] == [
        "stop_loss 229.00"
    ]
    assert check(text, refdata=None, rule="bracket-geometry") == []
