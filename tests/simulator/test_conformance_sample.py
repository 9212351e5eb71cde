"""QFEX's own documented Python sample code, run unchanged (except the URL) against the simulator.

The samples use websocket-client and the placeholder keys `qfex_pub_xxxxx` / `qfex_secret_yyyyyy`;
the simulator is given an account with exactly those keys, so not even the keys are edited.
The samples' `print` is captured (the code itself is untouched); since they run forever, the
simulator is stopped once the expected replies were printed, which ends `run_forever`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from runner.simulator.config import AccountConfig

SAMPLE_KEYS = AccountConfig("qfex_pub_xxxxx", "qfex_secret_yyyyyy", "0020ce8e-eaee-480e-8d7f-b9241d756ee5",
                            "11111111-1111-4111-8111-111111111111")

# Source: https://docs.qfex.com/websocket/main ("Getting Started" → "Setup Python"), verbatim but for
# the URL literal "wss://trade.qfex.com?api_key=", replaced by the simulator's address.
MAIN_PAGE_SAMPLE = '''
# pip install websocket-client
import hashlib
import hmac
import json
import secrets
import time
import websocket

PUB_KEY = "qfex_pub_xxxxx"
SECRET_KEY = "qfex_secret_yyyyyy"

def build_auth_message():
    nonce = secrets.token_hex(16)
    unix_ts = int(time.time())
    payload = f"{nonce}:{unix_ts}".encode()
    signature = hmac.new(SECRET_KEY.encode(), payload, hashlib.sha256).hexdigest()
    return {
        "type": "auth",
        "params": {
            "hmac": {
                "public_key": PUB_KEY,
                "nonce": nonce,
                "unix_ts": unix_ts,
                "signature": signature,
            }
        },
    }

def on_open(ws):
    print("Connected")
    ws.send(json.dumps(build_auth_message()))

def on_message(ws, message):
    print("Received:", message)

ws = websocket.WebSocketApp(
    "wss://trade.qfex.com?api_key=" + PUB_KEY,
    on_open=on_open,
    on_message=on_message
)

ws.run_forever()
'''

# Auth + add order + cancel, assembled from the docs' own pieces:
#  - build_auth_message and the callbacks: https://docs.qfex.com/websocket/channels/trade/authenticate
#    ("Sample Code", Python / websocket-client), verbatim but for the URL;
#  - send(ws, obj) and "# 2) Subscribe to order responses": https://docs.qfex.com/websocket/channels/trade/order;
#  - the add_order message: https://docs.qfex.com/websocket/channels/trade/add_order ("2) Add Order");
#  - the cancel message: https://docs.qfex.com/websocket/channels/trade/cancel_order ("Cancel by order id"),
#    with REPLACE_WITH_ORDER_UUID_V4 replaced, as the page asks, by the order_id of the ACK.
ORDER_ENTRY_SAMPLE = '''
# Python (websocket-client)
# pip install websocket-client
import hashlib
import hmac
import json
import secrets
import time

import websocket

PUB_KEY = "qfex_pub_xxxxx"
SECRET_KEY = "qfex_secret_yyyyyy"


def build_auth_message():
    nonce = secrets.token_hex(16)
    unix_ts = int(time.time())
    payload = f"{nonce}:{unix_ts}".encode()
    signature = hmac.new(SECRET_KEY.encode(), payload, hashlib.sha256).hexdigest()
    return {
        "type": "auth",
        "params": {
            "hmac": {
                "public_key": PUB_KEY,
                "nonce": nonce,
                "unix_ts": unix_ts,
                "signature": signature,
            }
        },
    }


def send(ws, obj): ws.send(json.dumps(obj))


def on_open(ws):
    ws.send(json.dumps(build_auth_message()))
    # 2) Subscribe to order responses
    send(ws, {"type": "subscribe", "params": {"channels": ["order_responses"]}})
    # 2) Add order
    send(ws, {
        "type": "add_order",
        "params": {
            "symbol": "AAPL-USD",
            "side": "BUY",
            "order_type": "LIMIT",
            "order_time_in_force": "GTC",
            "quantity": 1,
            "price": 200,
            "take_profit": 0,
            "stop_loss": 0
        }
    })


def on_message(_, message):
    print("Message:", message)
    reply = json.loads(message)
    if reply.get("order_response", {}).get("status") == "ACK":
        send(_, {
            "type": "cancel_order",
            "params": {
                "order_id": reply["order_response"]["order_id"],
                "symbol": "AAPL-USD",
                "cancel_order_id_type": "order_id"
            }
        })


def on_error(_, error):
    print("Error:", error)


def on_close(_, code, reason):
    print("Closed:", code, reason)


ws = websocket.WebSocketApp(
    "wss://trade.qfex.com?api_key=YOUR_PUBLIC_KEY",
    on_open=on_open,
    on_message=on_message,
    on_error=on_error,
    on_close=on_close,
)
ws.run_forever()
'''


class SampleRun:
    """Runs a sample in a thread; collects what it prints; closes its socket when asked."""

    def __init__(self, source: str) -> None:
        self.printed: list[str] = []
        self.namespace: dict[str, Any] = {"__name__": "qfex_sample", "print": self._print}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self.thread.start()

    def _print(self, *args: Any) -> None:
        self.printed.append(" ".join(str(a) for a in args))

    def _run(self, source: str) -> None:
        try:
            exec(compile(source, "qfex_sample", "exec"), self.namespace)
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.printed):
            if self.error is not None or time.monotonic() > deadline:
                raise AssertionError(f"sample output so far: {self.printed!r} (error: {self.error!r})")
            time.sleep(0.01)

    def finish(self, sim: Any) -> None:
        """The samples run forever: stopping the server closes their socket, so run_forever returns."""
        sim.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()
        assert self.error is None, self.error


def with_url(source: str, documented: str, url: str) -> str:
    assert source.count(documented) == 1
    return source.replace(documented, url)


@pytest.fixture
def sample_sim(simulator_factory):
    return simulator_factory(engine={"accounts": [SAMPLE_KEYS]})


def test_websocket_overview_sample_authenticates(sample_sim):
    pytest.importorskip("websocket")
    url = sample_sim.url.rstrip("/") + "?api_key="
    run = SampleRun(with_url(MAIN_PAGE_SAMPLE, '"wss://trade.qfex.com?api_key="', json.dumps(url)))
    try:
        run.wait_for(lambda lines: 'Received: {"authenticated":true}' in lines)
        assert run.printed[0] == "Connected"
        seen = sample_sim.call(lambda _ex: list(sample_sim.server.handshakes))
        assert seen[-1]["api_key"] == "qfex_pub_xxxxx"
    finally:
        run.finish(sample_sim)


def test_documented_auth_add_order_cancel_flow(sample_sim):
    pytest.importorskip("websocket")
    url = sample_sim.url.rstrip("/") + "?api_key=YOUR_PUBLIC_KEY"
    run = SampleRun(with_url(ORDER_ENTRY_SAMPLE, '"wss://trade.qfex.com?api_key=YOUR_PUBLIC_KEY"',
                             json.dumps(url)))
    try:
        run.wait_for(lambda lines: any('"status":"CANCELLED"' in line for line in lines))
        assert sample_sim.call(lambda ex: ex.orders(SAMPLE_KEYS.account_id)) == []
        assert [line for line in run.printed if line.startswith("Error:")] == []
    finally:
        run.finish(sample_sim)
    messages = [json.loads(line.removeprefix("Message: ")) for line in run.printed
                if line.startswith("Message: ")]
    assert messages[0] == {"authenticated": True}
    assert messages[1] == {"subscribed": "order_responses"}
    ack, cancelled = messages[2]["order_response"], messages[3]["order_response"]
    assert (ack["status"], ack["symbol"], ack["side"], ack["type"]) == ("ACK", "AAPL-USD", "BUY", "LIMIT")
    assert ack["user_id"] == SAMPLE_KEYS.user_id
    assert cancelled["status"] == "CANCELLED" and cancelled["order_id"] == ack["order_id"]
    assert run.printed[-1].startswith("Closed: 1001")  # our shutdown, reported by the sample's on_close
