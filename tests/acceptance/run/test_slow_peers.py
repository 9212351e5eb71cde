"""`run --timeout 2` against a peer that sends one byte every 0.5 s ends in seconds, with the right
exit code (4 before anything was sent, 5 after), a report once an order was sent, and the state
lock released (the next run is not refused with 75). Bounds are generous: "does not hang"."""

from __future__ import annotations

import json
import time
from pathlib import Path

from runner.exit_codes import ExitCode
from tests.acceptance.run.test_cli import REPO, cli_env, qfex
from tests.acceptance.run_kit import RESTING, order, write_playbook
from tests.exchange.fake_exchange_kit import Peer, fake_exchange, order_response, qfex_like
from tests.exchange.test_slow_peers import ENDLESS, auth_dribbler, handshake_dribbler

REFDATA = str(REPO / "runner/simulator/data/refdata.json")
ENV = cli_env({"QFEX_PUBLIC_KEY": "pk", "QFEX_SECRET_KEY": "sk"})
BOUND = 15.0


def run_against(tmp_path: Path, url: str, *extra: str, refdata: bool = True):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    args = ["run", str(book), "--url", url, "--timeout", "2", "--state-dir", "state", "--report-dir", "rep",
            *(["--refdata", REFDATA] if refdata else []), *extra]
    started = time.monotonic()
    done = qfex(args, tmp_path, ENV, timeout=90)
    return done, time.monotonic() - started


def assert_unlocked(tmp_path: Path) -> None:
    """The next run on the same state is not refused as locked (here: it fails to connect instead)."""
    def refuse(peer: Peer) -> None:
        peer.read_head()
        peer.conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    with fake_exchange(refuse) as ex:
        again, _ = run_against(tmp_path, ex.url)
    assert again.returncode == ExitCode.CONNECT_FAILED, again.stderr


def test_a_dribbled_handshake_is_exit_4_within_the_timeout(tmp_path):
    with fake_exchange(handshake_dribbler) as ex:
        done, took = run_against(tmp_path, ex.url)
    assert done.returncode == ExitCode.CONNECT_FAILED, done.stderr
    assert "did not complete the connection" in done.stderr
    assert took < BOUND
    assert "Traceback" not in done.stderr
    assert_unlocked(tmp_path)


def test_a_dribbled_auth_answer_is_exit_4_within_the_timeout(tmp_path):
    with fake_exchange(auth_dribbler) as ex:
        done, took = run_against(tmp_path, ex.url)
    assert done.returncode == ExitCode.CONNECT_FAILED, done.stderr
    assert took < BOUND
    assert_unlocked(tmp_path)


def test_a_dribbled_frame_after_the_order_was_sent_is_exit_5_with_a_report(tmp_path):
    """The first connection stalls mid-frame once the order is out; the reconnection's handshake
    stalls too: both bounded, then exit 5 and a report saying what is known."""
    def stall_on_order(peer: Peer, message: dict) -> None:
        peer.dribble(Peer.frame(order_response(message, "ACK").encode() + ENDLESS))

    first = qfex_like(stall_on_order)

    def script(peer: Peer) -> None:
        (first if ex.connections == 1 else handshake_dribbler)(peer)

    with fake_exchange(script) as ex:
        done, took = run_against(tmp_path, ex.url, "--reconnect-attempts", "1")
    assert done.returncode == ExitCode.ABORTED, done.stderr
    assert took < BOUND * 2
    assert "stalled part-way" in done.stderr + done.stdout
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["summary"]["exit_code"] == ExitCode.ABORTED
    assert_unlocked(tmp_path)


def test_a_dribbled_refdata_only_costs_the_pre_checks(tmp_path):
    """`/refdata` on the target dribbles: the fetch gives up at the timeout, the run warns that the
    exchange rules were not pre-checked and goes on."""
    def acknowledge(peer: Peer, message: dict) -> None:
        peer.send(order_response(message, "ACK"))

    service = qfex_like(acknowledge)

    def script(peer: Peer) -> None:
        peer.read_head()
        if peer.head.startswith("GET /refdata"):
            peer.dribble(b"HTTP/1.1 200 OK\r\nX-Slow: " + ENDLESS)
            return
        peer.upgrade()
        service_after_upgrade(peer, service)

    with fake_exchange(script) as ex:
        done, took = run_against(tmp_path, ex.url, refdata=False)
    assert took < BOUND
    assert "no complete answer within 2s" in done.stdout + done.stderr
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr


def service_after_upgrade(peer: Peer, service) -> None:
    """Run a `qfex_like` script on a peer whose request head was already read and answered."""
    head = peer.head
    peer.read_head = lambda: head  # type: ignore[method-assign]
    peer.upgrade = lambda: None  # type: ignore[method-assign]
    service(peer)


def mute_lookups(service):
    """`service` (a `qfex_like` script) that never answers `get_user_orders`."""
    def script(peer: Peer) -> None:
        original = peer.send

        def send(message) -> None:
            if "all_orders_response" not in str(message):
                original(message)

        peer.send = send  # type: ignore[method-assign]
        service(peer)

    return script


def test_a_lookup_never_answered_is_exit_5_within_the_timeout(tmp_path):
    """The exchange authenticates and subscribes, then never answers `get_user_orders`: the
    reconciliation before sending waits `--timeout`, not a fixed 10 s, and the run ends with exit 5
    (connected, then stopped part-way: 4 would say the exchange could not be reached), nothing sent,
    the lock released."""
    received: list[dict] = []
    with fake_exchange(mute_lookups(qfex_like(lambda peer, message: None, received))) as ex:
        done, took = run_against(tmp_path, ex.url, "--timeout", "1", "--reconnect-attempts", "0")
    assert done.returncode == ExitCode.ABORTED, done.stdout + done.stderr
    assert "no answer to get_user_orders within 1s" in done.stdout + done.stderr
    assert took < 8.0  # well under the former fixed 10 s wait, however slow the machine
    assert not any(m.get("type") == "add_order" for m in received)
    assert "Traceback" not in done.stderr
    assert_unlocked(tmp_path)


def test_a_lookup_never_answered_after_a_reconnect_is_exit_5_within_the_timeout(tmp_path):
    """The connection drops right after the order's ACK; the new one authenticates but never answers
    the catch-up's `get_user_orders`: each catch-up waits `--timeout`, then exit 5 with a report."""
    def ack_then_drop(peer: Peer, message: dict) -> None:
        peer.send(order_response(message, "ACK"))
        raise ConnectionError("dropped")

    first, muted = qfex_like(ack_then_drop), mute_lookups(qfex_like(lambda peer, message: None))

    def script(peer: Peer) -> None:
        (first if ex.connections == 1 else muted)(peer)

    with fake_exchange(script) as ex:
        done, took = run_against(tmp_path, ex.url, "--timeout", "1", "--reconnect-attempts", "1")
    assert done.returncode == ExitCode.ABORTED, done.stdout + done.stderr
    assert "no answer to get_user_orders within 1s" in done.stdout + done.stderr
    assert took < 9.0  # the former fixed 10 s per lookup would exceed it
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["summary"]["exit_code"] == ExitCode.ABORTED
    assert_unlocked(tmp_path)
