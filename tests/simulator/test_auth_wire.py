"""Authentication over the wire [D:/websocket/channels/trade/authenticate.md]: every refusal, the
deadline, AlreadyAuthenticated, subaccounts, commands before auth, and the alternative forms."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed

from runner.simulator import CompatOptions, ServerConfig
from runner.simulator.config import AccountConfig

SUB = "22222222-2222-4222-8222-222222222222"
OTHER_SUB = "33333333-3333-4333-8333-333333333333"
ALICE = AccountConfig("qfex_pub_alice", "qfex_secret_alice", "aaaaaaaa-0000-4000-8000-000000000001",
                      "aaaaaaaa-0000-4000-8000-0000000000a1", [SUB])
BOB = AccountConfig("qfex_pub_bob", "qfex_secret_bob", "bbbbbbbb-0000-4000-8000-000000000002",
                    "bbbbbbbb-0000-4000-8000-0000000000b1", [OTHER_SUB])
ORDER = {"type": "add_order", "params": {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT",
                                         "order_time_in_force": "GTC", "quantity": 1, "price": 200}}


def assert_refused(client, request, words):
    """Refusal = {"authenticated": false}, then err PermissionDenied echoing the request."""
    client.send(request)
    assert client.recv() == {"authenticated": False}
    err = client.recv()["err"]
    assert err["error_code"] == "PermissionDenied"
    assert words in err["message"]
    assert err["incoming_message"] == request


@pytest.fixture
def two_users(simulator_factory):
    return simulator_factory(engine={"accounts": [ALICE, BOB]})


def test_each_refusal_keeps_the_socket_open_then_a_correct_auth_succeeds(simulator, raw_client, auth_message):
    client = raw_client(simulator, auth=False)
    pub, secret = simulator.public_key, simulator.secret_key
    now = int(time.time())
    good = auth_message(pub, secret)
    wrong_sig = auth_message(pub, secret)
    forged = auth_message(pub, "not-the-secret")["params"]["hmac"]["signature"]
    wrong_sig["params"]["hmac"]["signature"] = forged
    cases = [
        (auth_message("qfex_pub_unknown", secret), "unknown public key"),
        (wrong_sig, "signature does not match"),
        (auth_message(pub, secret, nonce="xyz"), "hex string"),
        (auth_message(pub, secret, nonce="ab" * 51), "1 to 100 characters"),
        (auth_message(pub, secret, unix_ts=now - 400), "behind server time"),
        (auth_message(pub, secret, unix_ts=now + 400), "ahead of server time"),
    ]
    for request, words in cases:
        assert_refused(client, request, words)
    assert client.request(good) == {"authenticated": True}


def test_nonce_reuse_is_refused_across_connections(simulator, raw_client, auth_message):
    request = auth_message(simulator.public_key, simulator.secret_key, nonce="c0ffee" * 5)
    first = raw_client(simulator, auth=False)
    assert first.request(request) == {"authenticated": True}
    assert_refused(raw_client(simulator, auth=False), request, "nonce already used")


def test_refusal_reply_is_configurable(simulator_factory, raw_client, auth_message):
    bad = auth_message("qfex_pub_unknown", "x")
    flag_only = simulator_factory(server_config=ServerConfig(auth_failure_reply="flag"))
    client = raw_client(flag_only, auth=False)
    assert client.request(bad) == {"authenticated": False}
    assert client.barrier() == []
    err_only = simulator_factory(server_config=ServerConfig(auth_failure_reply="err"))
    assert raw_client(err_only, auth=False).request(bad)["err"]["error_code"] == "PermissionDenied"
    closing = simulator_factory(server_config=ServerConfig(close_on_auth_failure=True))
    client = raw_client(closing, auth=False)
    client.send(bad)
    assert client.recv() == {"authenticated": False}
    assert client.recv()["err"]["error_code"] == "PermissionDenied"
    with pytest.raises(ConnectionClosed) as info:
        client.recv()
    assert info.value.rcvd.code == 1008


def test_misshapen_auth_is_invalid_json_format(simulator, raw_client):
    client = raw_client(simulator, auth=False)
    request = {"type": "auth", "params": {"hmac": {"public_key": simulator.public_key, "nonce": "ab",
                                                   "unix_ts": "1760545414", "signature": "00"}}}
    err = client.request(request)["err"]
    assert err["error_code"] == "InvalidJSONFormat"
    assert err["incoming_message"] == request


def test_unauthenticated_connections_are_closed_at_the_deadline(simulator_factory, raw_client):
    sim = simulator_factory(server_config=ServerConfig(auth_timeout_s=0.2))
    client = raw_client(sim, auth=False)
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as info:
        client.recv(timeout=5)
    assert 0.15 < time.monotonic() - started < 3
    assert info.value.rcvd.code == 1008
    assert "not authenticated within 0.2 s" in info.value.rcvd.reason


def test_an_authenticated_connection_outlives_the_deadline(simulator_factory, raw_client):
    sim = simulator_factory(server_config=ServerConfig(auth_timeout_s=0.1))
    client = raw_client(sim)
    time.sleep(0.3)  # nothing to await: proving the deadline timer was cancelled
    assert client.barrier() == []


def test_second_auth_is_already_authenticated(simulator, raw_client, auth_message):
    client = raw_client(simulator)
    request = auth_message(simulator.public_key, simulator.secret_key)
    err = client.request(request)["err"]
    assert err == {"error_code": "AlreadyAuthenticated",
                   "message": "this connection is already authenticated", "incoming_message": request}


@pytest.mark.parametrize("request_", [
    ORDER,
    {"type": "subscribe", "params": {"channels": ["order_responses"]}},
    {"type": "get_user_orders", "params": {}},
    {"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": True}},
])
def test_commands_before_auth_are_permission_denied(simulator, raw_client, request_):
    client = raw_client(simulator, auth=False)
    err = client.request(request_)["err"]
    assert err["error_code"] == "PermissionDenied"
    assert err["incoming_message"] == request_
    assert simulator.call(lambda ex: ex.orders(ex.config.accounts[0].account_id)) == []


def test_commands_before_auth_can_be_ignored(simulator_factory, raw_client):
    sim = simulator_factory(server_config=ServerConfig(pre_auth_commands="ignore"))
    client = raw_client(sim, auth=False)
    client.send(ORDER)
    assert client.barrier() == []


def test_subaccount_session_is_separate_from_the_primary(two_users, raw_client):
    primary = raw_client(two_users, subscribe=["order_responses"])
    sub = raw_client(two_users, subscribe=["order_responses"], account_id=SUB)
    placed = sub.request(ORDER)["order_response"]
    assert placed["status"] == "ACK"
    assert placed["user_id"] == ALICE.user_id
    assert primary.barrier() == []  # the primary account's connections do not see the subaccount's orders
    assert [o["order_id"] for o in two_users.call(lambda ex: ex.orders(SUB))] == [placed["order_id"]]
    assert two_users.call(lambda ex: ex.orders(ALICE.account_id)) == []


def test_explicit_primary_account_id_and_foreign_subaccount(two_users, raw_client, auth_message):
    client = raw_client(two_users, auth=False)
    request = auth_message(ALICE.public_key, ALICE.secret_key, account_id=ALICE.account_id)
    assert client.request(request) == {"authenticated": True}
    other = raw_client(two_users, auth=False)
    assert_refused(other, auth_message(ALICE.public_key, ALICE.secret_key, account_id=OTHER_SUB),
                   "not an account of this user")


def test_two_users_do_not_see_each_other(two_users, raw_client, auth_message):
    alice = raw_client(two_users, subscribe=["order_responses"])
    bob = raw_client(two_users, auth=False)
    assert bob.request(auth_message(BOB.public_key, BOB.secret_key)) == {"authenticated": True}
    bob.subscribe("order_responses")
    bob.request(ORDER)
    assert alice.barrier() == []


def test_api_key_query_and_upgrade_headers_are_accepted(simulator, raw_client):
    client = raw_client(simulator, query=f"?api_key={simulator.public_key}",
                        headers={"x-qfex-public-key": simulator.public_key, "User-Agent": "qfex-cli/0.3.8"})
    assert client.barrier() == []
    seen = simulator.call(lambda _ex: list(simulator.server.handshakes))
    assert seen[-1]["api_key"] == simulator.public_key
    assert seen[-1]["x_qfex"] == {"x-qfex-public-key": simulator.public_key}


def test_legacy_auth_reply_compat(simulator_factory, raw_client, auth_message):
    sim = simulator_factory(server_config=ServerConfig(compat=CompatOptions(legacy_auth_reply=True)))
    client = raw_client(sim, auth=False)
    reply = client.request(auth_message(sim.public_key, sim.secret_key))
    assert reply == {"type": "auth", "result": "success"}


def test_legacy_api_key_auth_compat(simulator_factory, raw_client):
    request = {"type": "auth", "params": {"api_key": "qfex_pub_demo"}}
    plain = simulator_factory()
    err = raw_client(plain, auth=False).request(request)["err"]
    assert err["error_code"] == "InvalidJSONFormat" and "legacy-api-key-auth" in err["message"]
    compat = simulator_factory(server_config=ServerConfig(compat=CompatOptions(legacy_api_key_auth=True)))
    assert raw_client(compat, auth=False).request(request) == {"authenticated": True}


def test_jwt_auth_and_the_token_is_never_echoed(simulator_factory, raw_client):
    sim = simulator_factory(server_config=ServerConfig(jwt_tokens={"eyJgood.token.sig": "qfex_pub_demo"}))
    client = raw_client(sim, auth=False)
    bad = {"type": "auth", "params": {"jwt": "eyJsecret.token.sig"}}
    client.send(bad)
    assert client.recv() == {"authenticated": False}
    err = client.recv()["err"]
    assert err["incoming_message"] == {"type": "auth", "params": {"jwt": "<redacted>"}}
    assert client.request({"type": "auth", "params": {"jwt": "eyJgood.token.sig"}}) == {"authenticated": True}
