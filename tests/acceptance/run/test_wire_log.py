"""The audit trail (`run --wire-log FILE`): every frame, in order, with both clocks and the connection
number; never the secret or a signature; and complete up to the instant of a SIGKILL."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from runner.exchange.wirelog import REDACTED, WireLog
from runner.exit_codes import ExitCode
from runner.simulator.server_config import FaultConfig, ServerConfig
from tests.acceptance.run.test_cli import qfex, sim_env
from tests.acceptance.run_kit import RESTING, order, run, write_playbook

HEX_SIGNATURE = re.compile(r"\b[0-9a-f]{64}\b")


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_frame_is_logged_with_clocks_and_connection_and_no_secret(simulator, tmp_path):
    book = write_playbook(tmp_path, [order(f"o{i}", RESTING) for i in range(3)])
    log = tmp_path / "wire.jsonl"
    done = qfex(["run", str(book), "--url", simulator.url, "--wire-log", str(log), "--report-dir", "rep",
                 "--state-dir", "st"], tmp_path, sim_env(simulator))
    assert done.returncode == ExitCode.OK, done.stderr
    entries = lines(log)
    assert entries[0]["dir"] == "open" and entries[0]["frame"] == simulator.url
    assert entries[-1]["dir"] == "close"
    assert {e["conn"] for e in entries} == {1}
    monos = [e["mono"] for e in entries]
    assert monos == sorted(monos) and all(e["wall"] > 1.7e9 for e in entries)
    auth = entries[1]
    assert auth["dir"] == "sent" and auth["frame"]["type"] == "auth"
    assert auth["frame"]["params"]["hmac"]["signature"] == REDACTED
    sent = [e["frame"]["params"]["client_order_id"] for e in entries
            if e["dir"] == "sent" and e["frame"].get("type") == "add_order"]
    acked = [e["frame"]["order_response"]["client_order_id"] for e in entries
             if e["dir"] == "recv" and "order_response" in e["frame"]]
    assert len(sent) == 3 and sorted(acked) == sorted(sent)
    text = log.read_text()
    assert simulator.secret_key not in text and not HEX_SIGNATURE.search(text)
    shown = qfex(["report", str(log), "--format", "wire"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert ' #1 → {"type": "add_order"' in shown.stdout
    assert ' #1 ← {"authenticated": true}' in shown.stdout


def test_a_sigkilled_run_keeps_every_frame_up_to_the_kill(simulator, tmp_path):
    book = write_playbook(tmp_path, [order(f"o{i:03d}", RESTING, wait="ack") for i in range(400)])
    log = tmp_path / "wire.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "runner", "run", str(book), "--url", simulator.url,
                             "--wire-log", str(log), "--report-dir", "rep", "--state-dir", "st"],
                            cwd=tmp_path, env=sim_env(simulator), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if log.exists() and log.read_text().count('"add_order"') >= 20:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    entries = lines(log)  # every line whole: each was written and flushed in one piece
    sent = {e["frame"]["params"]["client_order_id"] for e in entries
            if e["dir"] == "sent" and e["frame"].get("type") == "add_order"}
    account = simulator.call(lambda ex: ex.account_for_key(simulator.public_key)).account_id
    at_exchange = {o["client_order_id"] for o in simulator.call(lambda ex: ex.orders(account))}
    assert len(at_exchange) >= 20
    assert at_exchange <= sent  # nothing reached the exchange that the log does not show
    assert len(at_exchange) < 400  # killed mid-run


def test_an_echoed_auth_request_is_redacted_too(tmp_path):
    log = WireLog(tmp_path / "w.jsonl")
    n = log.opened("wss://example.test/?api_key=qfex_pub_x")
    signature = "ab" * 32
    log.sent(n, json.dumps({"type": "auth", "params": {"hmac": {"public_key": "qfex_pub_x", "nonce": "00",
                                                                  "unix_ts": 1, "signature": signature}}}))
    log.received(n, json.dumps({"err": {"error_code": "InvalidSignature", "incoming_message": json.dumps(
        {"type": "auth", "params": {"hmac": {"signature": signature}}})}}))
    log.received(n, b"not json, but it names " + signature.encode())
    log.received(n, json.dumps({"jwt": "eyJhbGciOi"}))
    log.close()
    text = (tmp_path / "w.jsonl").read_text()
    assert signature not in text and "eyJhbGciOi" not in text and "api_key" not in text
    assert text.count(REDACTED) == 4


def test_a_reconnection_is_a_second_connection_in_the_same_log(simulator_factory, tmp_path):
    sim = simulator_factory(server_config=ServerConfig(faults=FaultConfig(drop_after_messages=8)))
    book = write_playbook(tmp_path, [order(f"o{i}", RESTING) for i in range(6)])
    log = tmp_path / "wire.jsonl"
    assert run(tmp_path, sim, book, wire_log=str(log)).exit_code == ExitCode.OK
    entries = lines(log)
    assert {e["conn"] for e in entries} == {1, 2}
    opens = [e for e in entries if e["dir"] == "open"]
    assert [e["conn"] for e in opens] == [1, 2]
    auths = [e for e in entries if e["dir"] == "sent" and e["frame"].get("type") == "auth"]
    assert [e["conn"] for e in auths] == [1, 2]
    assert all(e["frame"]["params"]["hmac"]["signature"] == REDACTED for e in auths)
