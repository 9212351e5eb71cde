"""Leverage commands, cancel-on-disconnect, TWAPs, accounts/subaccounts and configuration loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.simulator.config import (
    DEMO_PUBLIC_KEY,
    DEMO_SECRET_KEY,
    DEMO_USER_ID,
    EngineConfig,
    default_refdata,
    load_accounts_file,
)
from runner.simulator.engine import Exchange
from runner.simulator.errors import CommandError, ConfigError
from tests.simulator.engine_kit import (
    BOB_ACCOUNT,
    BOB_SUB,
    BOB_USER,
    DEMO_ACCOUNT_ID,
    D,
    Kit,
    caller,
    responses,
    statuses,
)

LEVERAGE_FIELDS = ["id", "symbol", "initial_margin", "maintenance_margin", "max_notional", "leverage"]


# --- leverage --------------------------------------------------------------------------------------


def test_get_user_leverage_lists_every_symbol_with_leverage_as_a_string() -> None:
    kit = Kit(market_maker=False)
    [reply] = caller(kit.send("get_user_leverage"))
    rows = reply["user_leverage_response"]
    assert [r["symbol"] for r in rows] == [r["symbol"] for r in default_refdata()]
    aapl = rows[0]
    assert list(aapl) == LEVERAGE_FIELDS
    assert aapl["leverage"] == "10" and isinstance(aapl["leverage"], str)
    assert aapl["initial_margin"] == D("0.1") and aapl["max_notional"] == D(2_500_000)
    # f64-style fraction, 16 significant digits [D:/websocket/channels/trade/get_leverage]
    assert aapl["maintenance_margin"] == D("0.06666666666666667")
    by_symbol = {r["symbol"]: r for r in rows}
    assert by_symbol["EUR-USD"]["leverage"] == "50" and by_symbol["EUR-USD"]["max_notional"] == D(50_000_000)
    assert by_symbol["GOLD-USD"]["leverage"] == "30" and by_symbol["GOLD-USD"]["max_notional"] == D(
        10_000_000
    )
    assert by_symbol["SILVER-USD"]["max_notional"] == D(5_000_000)
    [page] = caller(kit.send("get_user_leverage", limit=2, offset=1))
    assert [r["symbol"] for r in page["user_leverage_response"]] == [r["symbol"] for r in rows[1:3]]


def test_available_leverage_levels() -> None:
    kit = Kit(market_maker=False)
    [reply] = caller(kit.send("get_available_leverage_levels"))
    rows = reply["available_leverage_levels_response"]
    assert [r["leverage"] for r in rows if r["symbol"] == "AAPL-USD"] == ["1", "2", "3", "5", "10"]
    assert [r["leverage"] for r in rows if r["symbol"] == "EUR-USD"][-1] == "50"
    assert all(list(r) == LEVERAGE_FIELDS for r in rows)
    assert {r["initial_margin"] for r in rows if r["leverage"] == "20"} == {D("0.05")}


def test_set_user_leverage_acks_and_changes_margin() -> None:
    kit = Kit(market_maker=False, leverage_ack_shape="ack_response")  # the set_leverage page
    out = kit.send("set_user_leverage", symbol="AAPL-USD", leverage="5")
    assert caller(out) == [{"ack_response": True}]
    [reply] = caller(kit.send("get_user_leverage", limit=1))
    assert reply["user_leverage_response"][0]["leverage"] == "5"
    kit.order(quantity="10", price="200")
    assert kit.ex.balance(DEMO_ACCOUNT_ID)["order_margin"] == D(400)  # 2000 / 5
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["leverage"] == 5


def test_set_user_leverage_ack_compat_shape() -> None:
    kit = Kit(market_maker=False, leverage_ack_shape="ack")
    out = kit.send("set_user_leverage", symbol="AAPL-USD", leverage=2)
    assert caller(out) == [
        {
            "ack": {
                "incoming_message": {
                    "type": "set_user_leverage",
                    "params": {"symbol": "AAPL-USD", "leverage": 2},
                }
            }
        }
    ]


def test_set_user_leverage_accepts_a_float_like_number() -> None:
    kit = Kit(market_maker=False)
    kit.send("set_user_leverage", symbol="EUR-USD", leverage="20.0")
    [reply] = caller(kit.send("get_user_leverage"))
    assert {r["symbol"]: r["leverage"] for r in reply["user_leverage_response"]}["EUR-USD"] == "20"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"symbol": "AAPL-USD", "leverage": "7"}, "not available"),
        ({"symbol": "AAPL-USD", "leverage": "20"}, "not available"),
        ({"symbol": "NOPE-USD", "leverage": "5"}, "unknown symbol"),
        ({"symbol": "AAPL-USD"}, "leverage"),
    ],
)
def test_set_user_leverage_bad_values(params: dict, words: str) -> None:
    kit = Kit(market_maker=False)
    with pytest.raises(CommandError) as err:
        kit.send("set_user_leverage", **params)
    assert err.value.error_code == "InvalidParameter" and words in err.value.message


def test_set_user_leverage_refused_with_open_orders_or_a_position() -> None:
    kit = Kit(leverage_ack_shape="ack_response")
    [ack] = responses(kit.order(quantity="1", price="200"))
    with pytest.raises(CommandError) as err:
        kit.send("set_user_leverage", symbol="AAPL-USD", leverage="5")
    assert "open orders or a non-zero position" in err.value.message
    kit.send("set_user_leverage", symbol="TSLA-USD", leverage="5")  # other symbols are free
    kit.send("cancel_order", symbol="AAPL-USD", order_id=ack["order_id"], cancel_order_id_type="order_id")
    kit.order(order_type="MARKET", tif="IOC", quantity="1", price="0")
    with pytest.raises(CommandError):
        kit.send("set_user_leverage", symbol="AAPL-USD", leverage="5")
    kit.send("close_position", symbol="AAPL-USD")
    assert caller(kit.send("set_user_leverage", symbol="AAPL-USD", leverage="5")) == [{"ack_response": True}]


# --- cancel on disconnect --------------------------------------------------------------------------


def test_cancel_on_disconnect_cancels_every_open_order_of_the_account_but_not_stops() -> None:
    kit = Kit()
    kit.order(order_type="MARKET", tif="IOC", quantity="10", price="0")
    kit.order(quantity="1", price="200")
    kit.order(symbol="TSLA-USD", quantity="1", price="300")
    kit.order(side="SELL", order_type="STOP_LOSS", tif="GTC", quantity="10", price="220")
    kit.order(quantity="1", price="200", who=kit.bob)
    out = kit.ex.on_disconnect(kit.alice, True)
    assert statuses(out) == ["CANCELLED", "CANCELLED"]
    assert all(o.to == "account" and o.account_id == DEMO_ACCOUNT_ID for o in out)
    assert [o["type"] for o in kit.ex.orders(DEMO_ACCOUNT_ID)] == ["STOP_LOSS"]
    assert len(kit.ex.orders(BOB_ACCOUNT)) == 1


def test_cancel_on_disconnect_can_include_stops() -> None:
    """The page's "closes every open order for the account" [D:/websocket/channels/trade/cancel_on_disconnect]
    may include stop orders (QFEX lists them among open orders): `cancel_on_disconnect_includes_stops`."""
    kit = Kit(cancel_on_disconnect_includes_stops=True)
    kit.order(order_type="MARKET", tif="IOC", quantity="10", price="0")
    kit.order(quantity="1", price="200")
    kit.order(side="SELL", order_type="STOP_LOSS", tif="GTC", quantity="10", price="220")
    out = kit.ex.on_disconnect(kit.alice, True)
    assert statuses(out) == ["CANCELLED", "CANCELLED"]
    assert kit.ex.orders(DEMO_ACCOUNT_ID) == []


def test_disconnect_without_the_flag_cancels_nothing() -> None:
    kit = Kit(market_maker=False)
    kit.order(quantity="1", price="200")
    assert kit.ex.on_disconnect(kit.alice, False) == []
    assert len(kit.ex.orders(DEMO_ACCOUNT_ID)) == 1


def test_cancel_on_disconnect_is_per_account_not_per_user() -> None:
    kit = Kit(market_maker=False)
    sub = kit.ex.session(BOB_SUB, BOB_USER)
    kit.order(quantity="1", price="200", who=kit.bob)
    kit.order(quantity="1", price="200", who=sub)
    kit.ex.on_disconnect(sub, True)
    assert kit.ex.orders(BOB_SUB) == [] and len(kit.ex.orders(BOB_ACCOUNT)) == 1


# --- TWAP ------------------------------------------------------------------------------------------

TWAP = {
    "symbol": "AAPL-USD",
    "side": "BUY",
    "total_quantity": "10",
    "num_orders": 5,
    "order_interval_secs": 30,
    "reduce_only": False,
    "client_twap_id": "rebalance-aapl-001",
}


def test_add_twap_places_children_on_the_clock() -> None:
    kit = Kit()
    out = kit.send("add_twap", **TWAP)
    [reply] = caller(out)
    twap = reply["twap_response"]
    assert list(twap) == [
        "twap_id",
        "client_twap_id",
        "user_id",
        "status",
        "symbol",
        "total_quantity",
        "filled_quantity",
        "average_fill_price",
        "total_num_orders",
        "order_interval_secs",
        "reduce_only",
        "side",
        "created_at",
        "updated_at",
    ]
    assert (twap["status"], twap["total_quantity"], twap["total_num_orders"]) == ("ACTIVE", D(10), 5)
    assert statuses(out) == ["ACK", "FILLED"]  # the first child goes at once
    assert responses(out)[0]["client_order_id"] == "rebalance-aapl-001-0"
    start = kit.clock.t
    kit.advance(0.1)  # the market maker refills after the child traded
    assert kit.ex.next_deadline() == start + 30
    assert kit.advance(28.9) == []
    assert statuses(kit.advance(1)) == ["ACK", "FILLED"]
    [listed] = caller(kit.send("get_user_orders"))[0]["all_orders_response"]["twaps"]
    assert listed["filled_quantity"] == D(4) and listed["status"] == "ACTIVE"
    for _ in range(3):
        kit.advance(30)
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["position"] == D(10)
    assert caller(kit.send("get_user_orders"))[0]["all_orders_response"]["twaps"] == []


def test_cancel_twap_by_client_twap_id() -> None:
    kit = Kit()
    kit.send("add_twap", **TWAP)
    out = kit.send(
        "cancel_order",
        symbol="AAPL-USD",
        order_id="rebalance-aapl-001",
        cancel_order_id_type="client_twap_id",
    )
    [reply] = caller(out)
    assert reply["twap_response"]["status"] == "CANCELLED"
    assert kit.advance(60) == []
    assert kit.ex.position(DEMO_ACCOUNT_ID, "AAPL-USD")["position"] == D(2)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"order_interval_secs": 29}, "order_interval_secs"),
        ({"num_orders": 1}, "num_orders"),
        ({"total_quantity": "0.004", "num_orders": 5}, "minimum quantity"),
        ({"total_quantity": "10.0005"}, "lot size"),
        ({"symbol": "NOPE-USD"}, "unknown symbol"),
        ({"reduce_only": None}, "reduce_only"),
        ({"side": "UP"}, "side"),
    ],
)
def test_add_twap_validation(change: dict, words: str) -> None:
    kit = Kit(market_maker=False)
    params = {**TWAP, **change}
    params = {k: v for k, v in params.items() if v is not None}
    with pytest.raises(CommandError) as err:
        kit.send("add_twap", **params)
    assert err.value.error_code == "InvalidParameter" and words in err.value.message


# --- accounts and configuration --------------------------------------------------------------------


def test_session_checks_account_ownership() -> None:
    kit = Kit(market_maker=False)
    assert kit.ex.session(BOB_SUB, BOB_USER).account_id == BOB_SUB
    with pytest.raises(CommandError) as err:
        kit.ex.session(BOB_SUB, DEMO_USER_ID)
    assert err.value.error_code == "PermissionDenied"
    assert kit.ex.account_for_key(DEMO_PUBLIC_KEY).secret_key == DEMO_SECRET_KEY
    assert kit.ex.account_for_key("qfex_pub_unknown") is None


def test_secret_keys_stay_out_of_reprs() -> None:
    config = EngineConfig()
    assert DEMO_SECRET_KEY not in repr(config) and DEMO_SECRET_KEY not in repr(config.accounts[0])


def test_default_demo_account_is_funded_with_a_million() -> None:
    ex = Exchange(EngineConfig(market_maker=False))
    assert ex.balance(ex.account_for_key(DEMO_PUBLIC_KEY).account_id)["deposit"] == D(1_000_000)


def test_load_accounts_file_yaml(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "accounts:\n"
        "  - public_key: qfex_pub_alice\n"
        "    secret_key: qfex_secret_alice\n"
        "    deposit: 250000.50\n"
        "    subaccounts: [11111111-1111-1111-1111-111111111111]\n"
        "  - public_key: qfex_pub_bob\n"
        "    secret_key: qfex_secret_bob\n"
        "    user_id: 0020ce8e-eaee-480e-8d7f-b9241d756ee5\n"
        "    account_id: 22222222-2222-2222-2222-222222222222\n"
    )
    alice, bob = load_accounts_file(path)
    assert alice.deposit == D("250000.50") and alice.subaccounts == ["11111111-1111-1111-1111-111111111111"]
    # a missing account_id is the user_id: QFEX's primary account
    # [D:/api-reference/rest/user/list-subaccounts]
    assert alice.user_id == alice.account_id and len(alice.user_id) == 36
    assert load_accounts_file(path)[0].user_id == alice.user_id  # derived ids are stable
    assert bob.deposit == D(1_000_000) and bob.account_id == "22222222-2222-2222-2222-222222222222"
    ex = Exchange(EngineConfig(accounts=[alice, bob], market_maker=False))
    assert ex.session("11111111-1111-1111-1111-111111111111", alice.user_id)


def test_load_accounts_file_json_list(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps([{"public_key": "qfex_pub_a", "secret_key": "qfex_secret_a", "deposit": 5}]))
    [account] = load_accounts_file(path)
    assert account.deposit == D(5)


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("accounts:\n  - public_key: k\n", ":2:5:", "missing 'secret_key'"),
        (
            "accounts:\n  - public_key: k\n    secret_key: s\n    deposit: lots\n",
            ":4:14:",
            "must be a number",
        ),
        (
            "accounts:\n  - public_key: k\n    secret_key: s\n    colour: red\n",
            ":4:5:",
            "unknown key 'colour'",
        ),
        ("accounts:\n  - public_key: k\n    secret_key: s\n    user_id: bob\n", ":4:14:", "must be a UUID"),
        ("accounts: [\n", ":2:1:", "invalid YAML"),
        ("accounts: []\n", ":1:11:", "no accounts"),
        (
            "- {public_key: k, secret_key: s}\n- {public_key: k, secret_key: t}\n",
            "accounts.yaml:",
            "more than one account",
        ),
    ],
)
def test_load_accounts_file_errors_are_located(tmp_path: Path, text: str, where: str, words: str) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_accounts_file(path)
    message = str(err.value)
    assert message.startswith(str(path)) and where in message and words in message
    assert "secret" not in message.split(words)[0].replace("secret_key", "")  # no secret values echoed


def test_missing_accounts_file() -> None:
    with pytest.raises(ConfigError) as err:
        load_accounts_file("/nonexistent/accounts.yaml")
    assert "cannot read" in str(err.value)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"stop_cap_policy": "maybe"}, "stop_cap_policy"),
        ({"alo_cross_status": "GONE"}, "alo_cross_status"),
        ({"speed_bump_ms": -1}, "speed_bump_ms"),
        ({"user_trades_shape": "x"}, "user_trades_shape"),
        ({"accounts": []}, "at least one account"),
    ],
)
def test_engine_config_is_validated(options: dict, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        Exchange(EngineConfig(**options))
    assert words in str(err.value)


def test_bad_refdata_is_a_config_error() -> None:
    refdata = default_refdata()
    refdata[0]["tick_size"] = "zero"
    with pytest.raises(ConfigError) as err:
        Exchange(EngineConfig(refdata=refdata))
    assert "AAPL-USD" in str(err.value) and "tick_size" in str(err.value)
    with pytest.raises(ConfigError):
        Exchange(EngineConfig(refdata=[*default_refdata(), default_refdata()[0]]))


def test_shipped_refdata_fixture_has_every_documented_field_in_rest_shape() -> None:
    path = Path(__file__).parents[2] / "runner" / "simulator" / "data" / "refdata.json"
    body = json.loads(path.read_text())
    assert set(body) == {"type", "data"} and body["type"] == "refdata"
    assert len(body["data"]) >= 12
    fields = [
        "clobPairId",
        "symbol",
        "status",
        "product_category",
        "underlier_price",
        "price_change_24h",
        "default_max_leverage",
        "tick_size",
        "lot_size",
        "min_price",
        "max_price",
        "min_quantity",
        "max_quantity",
        "base_asset",
        "quote_asset",
        "margin_asset",
        "order_time_in_force",
        "order_types",
        "market_hours",
    ]
    for row in body["data"]:
        assert list(row) == fields
        for key in fields:
            if key in ("default_max_leverage",):
                assert isinstance(row[key], int)  # an integer in QFEX's OpenAPI
            elif key not in ("order_time_in_force", "order_types", "market_hours"):
                assert isinstance(row[key], str), (row["symbol"], key)
        assert row["order_types"] == ["LIMIT", "MARKET", "ALO"]
        assert row["market_hours"]["tz"]
        assert D(row["min_price"]) < D(row["underlier_price"]) < D(row["max_price"])
        assert D(row["underlier_price"]) % D(row["tick_size"]) == 0
    symbols = {row["symbol"] for row in body["data"]}
    assert {"AAPL-USD", "TSLA-USD", "NVDA-USD", "US100-USD", "GOLD-USD", "EUR-USD"} <= symbols
    aapl = next(r for r in body["data"] if r["symbol"] == "AAPL-USD")
    assert (aapl["tick_size"], aapl["lot_size"], aapl["min_price"], aapl["max_price"]) == (
        "0.01",
        "0.001",
        "172.50",
        "287.50",
    )
    eur = next(r for r in body["data"] if r["symbol"] == "EUR-USD")
    assert eur["tick_size"] == "0.00001"
