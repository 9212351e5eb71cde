"""The server side on its own, against a tiny stand-in engine: framing, routing, timers, pulses,
handshake recording, pings and the HTTP path.

The stand-in implements the engine interface of interfaces.md §B with fixed answers, so these
tests pin what the *server* does with whatever the engine says (which connection gets which
frame, in which order). What the real engine says is covered by the conformance tests.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from runner.simulator import ServerConfig, Simulator
from runner.simulator.server_config import CompatOptions

PUB, SECRET = "qfex_pub_fake", "qfex_secret_fake"


@dataclass
class Out:
    to: str
    channel: str | None
    account_id: str | None
    message: dict[str, Any]


class Refused(Exception):
    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code, self.message = error_code, message


@dataclass
class FakeExchange:
    """Answers add_order with ACK (account/order_responses) and, at its deadline, a FILLED + fill."""

    deadline: float | None = None
    disconnects: list[bool] = field(default_factory=list)
    commands: list[tuple[str, dict]] = field(default_factory=list)

    def __post_init__(self) -> None:
        account = SimpleNamespace(public_key=PUB, secret_key=SECRET, user_id="user-1", account_id="acct-1",
                                  subaccounts=["sub-1"])
        self.config = SimpleNamespace(accounts=[account], clock=time.time)
        self._pending: list[tuple[str, dict]] = []

    def account_for_key(self, key: str) -> Any:
        return self.config.accounts[0] if key == PUB else None

    def session(self, account_id: str, user_id: str) -> Any:
        return SimpleNamespace(account_id=account_id, user_id=user_id)

    def handle(self, session: Any, msg_type: str, params: dict) -> list[Out]:
        self.commands.append((msg_type, params))
        if msg_type == "add_order":
            if params.get("symbol") != "AAPL-USD":
                raise Refused("InvalidParameter", "symbol must be AAPL-USD in this fake")
            order = {"order_id": f"o{len(self.commands)}", "status": "ACK", "price": params.get("price"),
                     "quantity": params.get("quantity")}
            if params.get("fill_later"):
                self._pending.append((session.account_id, order))
                self.deadline = time.time() + 0.05
            return [Out("account", "order_responses", session.account_id, {"order_response": order})]
        if msg_type == "get_user_orders":
            return [Out("caller", None, None, {"all_orders_response": {"orders": []}})]
        if msg_type == "cancel_all_orders":
            return [Out("caller", None, None, {"ack": {}})]
        if msg_type == "get_order":
            return [Out("caller", None, None, {"order_response": {"price": object()}})]  # cannot be encoded
        raise RuntimeError("boom")  # an engine bug

    def on_time(self) -> list[Out]:
        self.deadline = None
        outs: list[Out] = []
        for account_id, order in self._pending:
            outs.append(Out("account", "order_responses", account_id,
                            {"order_response": {**order, "status": "FILLED"}}))
            fill = {"fill_response": {"order_id": order["order_id"]}}
            outs.append(Out("account", "fills", account_id, fill))
        self._pending.clear()
        return outs

    def next_deadline(self) -> float | None:
        return self.deadline

    def on_disconnect(self, session: Any, cancel: bool) -> list[Out]:
        self.disconnects.append(cancel)
        if not cancel:
            return []
        return [Out("account", "order_responses", session.account_id,
                    {"order_response": {"order_id": "resting", "status": "CANCELLED"}})]

    def pulse(self, account_id: str) -> list[Out]:
        return [Out("account", "positions", account_id, {"position_response": {"symbol": "AAPL-USD",
                                                                               "position": Decimal("0")}}),
                Out("account", "positions", account_id, {"position_response": {"symbol": "TSLA-USD",
                                                                               "position": Decimal("2.5")}}),
                Out("account", "balances", account_id, {"balance_response": {"deposit": Decimal("1000")}})]

    def refdata_body(self, ticker: str | None) -> dict:
        rows = [{"symbol": "AAPL-USD", "tick_size": "0.01"}, {"symbol": "TSLA-USD", "tick_size": "0.01"}]
        if ticker is not None:
            rows = [r for r in rows if r["symbol"] == ticker]
            if not rows:
                raise KeyError(ticker)
        return {"type": "refdata", "data": rows}


@pytest.fixture
def fake_sim(simulator_factory):
    def start(config: ServerConfig | None = None, **options: Any) -> Simulator:
        exchange = FakeExchange()
        sim = simulator_factory(exchange=exchange, server_config=config, **options)
        sim.fake = exchange  # type: ignore[attr-defined]
        return sim
    return start


GET_ORDERS = {"type": "get_user_orders", "params": {}}
ORDER = {"type": "add_order", "params": {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT",
                                         "order_time_in_force": "GTC", "quantity": 1, "price": 100}}


# --- framing -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("frame", "echo"), [
    ("hello", "hello"),  # live dialect: the text (AsyncAPI ErrResponse "oneOf object, string")
    ("[1, 2]", "[1, 2]"),
    ('"auth"', '"auth"'),
    ('{"params": {}}', {"params": {}}),
    ('{"type": "auth"}', {"type": "auth"}),
    ('{"type": "get_user_orders", "params": []}', {"type": "get_user_orders", "params": []}),
    ('{"type": 5, "params": {}}', {"type": 5, "params": {}}),
    ('{"type": "no_such_command", "params": {}}', {"type": "no_such_command", "params": {}}),
])
def test_frames_not_shaped_like_requests_are_invalid_json_format(fake_sim, raw_client, frame, echo):
    sim = fake_sim()
    client = raw_client(sim, auth=False)
    reply = client.request(frame)
    assert set(reply) == {"err"}
    err = reply["err"]
    assert set(err) == {"error_code", "message", "incoming_message"}
    assert err["error_code"] == "InvalidJSONFormat"
    assert isinstance(err["message"], str) and err["message"]
    assert err["incoming_message"] == echo


def test_the_connection_survives_errors(fake_sim, raw_client):
    client = raw_client(fake_sim(), subscribe=["order_responses"])
    assert client.request("{{{")["err"]["error_code"] == "InvalidJSONFormat"
    assert client.request(ORDER)["order_response"]["status"] == "ACK"


def test_engine_command_errors_echo_the_request_exactly(fake_sim, raw_client):
    client = raw_client(fake_sim())
    frame = '{"type":"add_order","params":{"symbol":"NOPE","quantity":0.1000,"price":123.456789}}'
    err = client.request(frame)["err"]
    assert err["error_code"] == "InvalidParameter"
    assert err["message"] == "symbol must be AAPL-USD in this fake"
    assert err["incoming_message"] == {"type": "add_order",
                                       "params": {"symbol": "NOPE", "quantity": Decimal("0.1"),
                                                  "price": Decimal("123.456789")}}


def test_an_engine_bug_is_a_server_error_not_a_dead_connection(fake_sim, raw_client):
    client = raw_client(fake_sim())
    err = client.request({"type": "modify_order", "params": {}})["err"]
    assert err["error_code"] == "ServerError"
    assert client.request(GET_ORDERS) == {"all_orders_response": {"orders": []}}


def test_an_unencodable_engine_answer_is_a_server_error(fake_sim, raw_client):
    client = raw_client(fake_sim())
    assert client.request({"type": "get_order", "params": {}})["err"]["error_code"] == "ServerError"
    assert client.request(GET_ORDERS) == {"all_orders_response": {"orders": []}}


def test_legacy_flat_error_frames_behind_compat(fake_sim, raw_client):
    sim = fake_sim(ServerConfig(compat=CompatOptions(legacy_errors=True)))
    reply = raw_client(sim, auth=False).request("nope")
    assert reply["type"] == "error"
    assert reply["error_code"] == "InvalidJSONFormat"
    assert set(reply) == {"type", "error_code", "message", "incoming_message"}


# --- routing -------------------------------------------------------------------------------------

def test_order_responses_reach_only_subscribed_connections_of_the_account(fake_sim, raw_client):
    sim = fake_sim()
    subscribed = raw_client(sim, subscribe=["order_responses"])
    silent = raw_client(sim)
    fills_only = raw_client(sim, subscribe=["fills"])
    silent.send(ORDER)
    assert subscribed.recv()["order_response"]["status"] == "ACK"
    assert silent.barrier() == []
    assert fills_only.barrier() == []


def test_unsubscribed_order_responses_compat(fake_sim, raw_client):
    sim = fake_sim(ServerConfig(compat=CompatOptions(unsubscribed_order_responses=True)))
    client = raw_client(sim)
    assert client.request(ORDER)["order_response"]["status"] == "ACK"


def test_caller_replies_go_to_the_caller_only(fake_sim, raw_client):
    sim = fake_sim()
    a = raw_client(sim, subscribe=["order_responses"])
    b = raw_client(sim, subscribe=["order_responses"])
    assert a.request({"type": "get_user_orders", "params": {}}) == {"all_orders_response": {"orders": []}}
    assert b.barrier() == []


def test_unsubscribe_stops_delivery(fake_sim, raw_client):
    sim = fake_sim()
    client = raw_client(sim, subscribe=["order_responses", "fills"])
    client.send({"type": "unsubscribe", "params": {"channels": ["order_responses"]}})
    assert client.recv() == {"unsubscribed": "order_responses"}
    client.send(ORDER)
    assert client.barrier() == []


def test_timer_fires_at_the_engine_deadline_and_pushes_in_engine_order(fake_sim, raw_client):
    sim = fake_sim()
    client = raw_client(sim, subscribe=["order_responses", "fills"])
    client.send({**ORDER, "params": {**ORDER["params"], "fill_later": True}})
    assert client.recv()["order_response"]["status"] == "ACK"
    assert client.recv()["order_response"]["status"] == "FILLED"
    assert client.recv() == {"fill_response": {"order_id": "o1"}}


def test_pulses_go_to_positions_and_balances_subscribers_only(fake_sim, raw_client):
    sim = fake_sim(ServerConfig(pulse_interval_s=0.05))
    positions = raw_client(sim, subscribe=["positions"])
    balances = raw_client(sim, subscribe=["balances"])
    nothing = raw_client(sim, subscribe=["order_responses"])
    first = positions.recv()
    second = positions.recv()
    assert {first["position_response"]["symbol"], second["position_response"]["symbol"]} == {"AAPL-USD",
                                                                                          "TSLA-USD"}
    assert balances.recv() == {"balance_response": {"deposit": Decimal("1000.0")}}
    frames = nothing.barrier()
    assert frames == []


def test_envelope_pulses_compat(fake_sim, raw_client):
    sim = fake_sim(ServerConfig(pulse_interval_s=0.05, compat=CompatOptions(envelope_pulses=True)))
    client = raw_client(sim, subscribe=["positions"])
    first, second = client.recv(), client.recv()
    assert first["type"] == "subscribed" and second["type"] == "channel_data"
    assert first["channel"] == "v4_positions"
    assert first["connection_id"] == second["connection_id"]
    assert (first["message_id"], second["message_id"]) == (1, 2)
    assert first["id"] == "acct-1"
    # rows as the AsyncAPI's v4_positions example: id = symbol, user_id, ISO timestamp [AE:asyncapi]
    for row in first["contents"]:
        assert list(row)[:3] == ["id", "symbol", "user_id"] and list(row)[-1] == "timestamp"
        assert row["id"] == row["symbol"] and isinstance(row["user_id"], str)
        assert datetime.fromisoformat(row.pop("timestamp")).tzinfo is not None
        del row["id"], row["user_id"]
    assert first["contents"] == [{"symbol": "AAPL-USD", "position": Decimal("0.0")},
                                 {"symbol": "TSLA-USD", "position": Decimal("2.5")}]


# --- cancel on disconnect -----------------------------------------------------------------------

def test_cancel_on_disconnect_flag_is_acked_and_validated(fake_sim, raw_client):
    client = raw_client(fake_sim())
    request = {"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": True}}
    assert client.request(request) == {"ack": {"incoming_message": request}}
    bad = {"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": "yes"}}
    assert client.request(bad)["err"]["error_code"] == "InvalidJSONFormat"


def _wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def test_abnormal_close_of_a_flagged_connection_cancels_and_tells_the_others(fake_sim, raw_client):
    sim = fake_sim()
    watcher = raw_client(sim, subscribe=["order_responses"])
    flagged = raw_client(sim)
    flagged.request({"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": True}})
    flagged.abort()
    assert watcher.recv() == {"order_response": {"order_id": "resting", "status": "CANCELLED"}}
    assert sim.fake.disconnects == [True]


def test_clean_close_or_unflagged_connection_cancels_nothing(fake_sim, raw_client):
    sim = fake_sim()
    flagged = raw_client(sim)
    flagged.request({"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": True}})
    flagged.close()
    unflagged = raw_client(sim)
    unflagged.abort()
    turned_off = raw_client(sim)
    for value in (True, False):
        turned_off.request({"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": value}})
    turned_off.abort()
    _wait_for(lambda: len(sim.fake.disconnects) == 3)
    assert sim.fake.disconnects == [False, False, False]


def test_any_close_trigger_option(fake_sim, raw_client):
    sim = fake_sim(ServerConfig(cancel_on_disconnect_trigger="any"))
    flagged = raw_client(sim)
    flagged.request({"type": "cancel_on_disconnect", "params": {"cancel_on_disconnect": True}})
    flagged.close()
    _wait_for(lambda: sim.fake.disconnects == [True])


# --- handshake, pings, HTTP ---------------------------------------------------------------------

def test_upgrade_query_and_headers_are_recorded_without_secrets(fake_sim, raw_client):
    sim = fake_sim()
    headers = {"x-qfex-public-key": PUB, "x-qfex-nonce": "abc", "Authorization": "Bearer eyJ.secret",
               "User-Agent": "qfex-cli/0.3.8 (linux/amd64)"}
    raw_client(sim, auth=False, headers=headers, query="?api_key=" + PUB)
    info = sim.call(lambda _ex: list(sim.server.handshakes))[-1]
    assert info["api_key"] == PUB
    assert info["user_agent"] == "qfex-cli/0.3.8 (linux/amd64)"
    assert info["authorization"] == "<redacted>"
    assert info["x_qfex"] == {"x-qfex-public-key": PUB, "x-qfex-nonce": "abc"}
    assert "eyJ.secret" not in repr(sim.server.handshakes)


def test_server_pings_after_auth(fake_sim, raw_client):
    sim = fake_sim(ServerConfig(ping_interval_s=0.05))
    client = raw_client(sim)
    pings: list[bytes] = []
    protocol = client.ws.protocol
    original = protocol.recv_frame if hasattr(protocol, "recv_frame") else None
    assert original is not None

    def spy(frame):
        if frame.opcode.name == "PING":
            pings.append(frame.data)
        return original(frame)

    protocol.recv_frame = spy
    _wait_for(lambda: len(pings) >= 2)
    assert client.request(GET_ORDERS) == {"all_orders_response": {"orders": []}}


def test_no_pings_before_auth(fake_sim, raw_client):
    sim = fake_sim(ServerConfig(ping_interval_s=0.02))
    client = raw_client(sim, auth=False)
    pings: list[bytes] = []
    protocol = client.ws.protocol
    original = protocol.recv_frame

    def spy(frame):
        if frame.opcode.name == "PING":
            pings.append(frame.data)
        return original(frame)

    protocol.recv_frame = spy
    client.barrier()
    time.sleep(0.15)  # proving an absence over time: nothing to await
    client.barrier()
    assert pings == []


def test_get_refdata_over_http_on_the_same_port(fake_sim):
    sim = fake_sim()
    with urllib.request.urlopen(sim.http_url + "/refdata", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert "max-age" in response.headers["Cache-Control"]
        body = json.loads(response.read())
    assert [row["symbol"] for row in body["data"]] == ["AAPL-USD", "TSLA-USD"]
    with urllib.request.urlopen(sim.http_url + "/refdata?ticker=TSLA-USD", timeout=5) as response:
        assert [row["symbol"] for row in json.loads(response.read())["data"]] == ["TSLA-USD"]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(sim.http_url + "/refdata?ticker=NOPE", timeout=5)
    assert info.value.code == 404
    assert json.loads(info.value.read()) == {"error": "unknown ticker NOPE"}
    info.value.close()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(sim.http_url + "/elsewhere", timeout=5)
    assert info.value.code == 404
    info.value.close()


def test_simulator_api_addresses_and_credentials(fake_sim):
    sim = fake_sim()
    assert sim.url == f"ws://127.0.0.1:{sim.port}/"
    assert sim.http_url == f"http://127.0.0.1:{sim.port}"
    assert (sim.public_key, sim.secret_key) == (PUB, SECRET)
    assert sim.call(lambda ex: ex.account_for_key(PUB).user_id) == "user-1"
    sim.stop()
    sim.stop()  # idempotent


def test_simulator_keyword_shortcuts_over_server_config():
    from runner.simulator import FaultConfig, RateLimitConfig

    assert Simulator().server_config.rate_limit == RateLimitConfig()
    assert Simulator(rate_limit=False).server_config.rate_limit is None
    assert Simulator(server_config=ServerConfig(rate_limit=None)).server_config.rate_limit is None
    assert Simulator(server_config=ServerConfig(rate_limit=None), rate_limit=True).server_config.rate_limit
    shaped = Simulator(latency_ms=5, faults=FaultConfig(error_rate=0.5), port=1234)
    assert (shaped.server_config.faults.latency_ms, shaped.server_config.faults.error_rate) == (5, 0.5)
    assert shaped.server_config.port == 1234 and shaped.server_config.host == "127.0.0.1"
