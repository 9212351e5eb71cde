"""`qfex-runner sim` as a user runs it: a subprocess that prints its URL, answers, and exits 0 on
SIGTERM/SIGINT; bad options fail with a one-line message and exit 2."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start_sim(*args: str) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "runner", "sim", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            raise AssertionError(f"sim exited early: {lines} {proc.stderr.read() if proc.stderr else ''}")
        lines.append(line.rstrip("\n"))
        if line.startswith("Ready."):
            return proc, lines


def url_from(lines: list[str], label: str) -> str:
    for line in lines:
        if line.strip().startswith(label):
            return line.split()[-1]
    raise AssertionError(f"no {label!r} line in {lines}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sim_prints_url_and_credentials_answers_and_exits_0(sig, raw_client):
    proc, lines = start_sim("--speed-bump-ms", "0", "--seed", "3")
    try:
        ws_url = url_from(lines, "trade WebSocket")
        http_url = url_from(lines, "reference data")
        assert ws_url.startswith("ws://127.0.0.1:") and ws_url.endswith("/")
        creds = [line for line in lines if "public key qfex_pub_demo" in line]
        assert creds and "secret key qfex_secret_demo" in creds[0]
        with urllib.request.urlopen(http_url, timeout=5) as response:
            assert json.loads(response.read())["type"] == "refdata"

        class Target:
            url, public_key, secret_key = ws_url, "qfex_pub_demo", "qfex_secret_demo"

        client = raw_client(Target, subscribe=["order_responses"])
        reply = client.request({"type": "add_order", "params": {
            "symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC",
            "quantity": 1, "price": 200}})
        assert reply["order_response"]["status"] == "ACK"
        mds_url = url_from(lines, "market data")  # printed beside the trade URL (issue 14)
        assert mds_url == ws_url + "mds"
        market = raw_client(mds_url, auth=False)
        market.send({"type": "subscribe", "channels": ["mark_price"], "symbols": ["AAPL-USD"]})
        assert market.recv()["type"] == "subscribed"
        assert market.recv()["type"] == "mark_price"
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


def test_sim_options_reach_the_server(tmp_path, raw_client):
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text("accounts:\n  - public_key: qfex_pub_team\n    secret_key: qfex_secret_team\n")
    proc, lines = start_sim("--accounts", str(accounts), "--no-rate-limit", "--compat", "legacy-auth-reply",
                            "--error-rate", "1")
    try:
        assert any("public key qfex_pub_team" in line for line in lines)
        assert not any("qfex_secret_team" in line for line in lines)  # a user's secret is never printed
        assert any("rate limit off" in line and "faults errors" in line for line in lines)

        class Target:
            url, public_key, secret_key = url_from(lines, "trade WebSocket"), "", ""

        client = raw_client(Target, auth=False)
        assert client.auth("qfex_pub_team", "qfex_secret_team") == {"type": "auth", "result": "success"}
        assert client.request({"type": "get_user_orders", "params": {}})["err"]["error_code"] == "ServerError"
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    assert proc.returncode == 0


@pytest.mark.parametrize(("args", "words"), [
    (["--compat", "no-such-shape"], "unknown --compat option 'no-such-shape'"),
    (["--refdata", "/nonexistent/refdata.json"], "cannot read reference data"),
    (["--error-rate", "2"], "--error-rate"),
])
def test_sim_bad_options_exit_2_with_one_line(args, words):
    result = subprocess.run([sys.executable, "-m", "runner", "sim", "--port", "0", *args],
                            capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_sim_port_in_use_is_a_usage_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "runner", "sim", "--port", str(port)],
                                capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_every_compat_name():
    from runner.simulator.server_config import COMPAT_FLAGS, ENGINE_COMPAT

    result = subprocess.run([sys.executable, "-m", "runner", "sim", "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=30)
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split()).replace("- ", "-")  # click wraps long names at hyphens
    for name in [*COMPAT_FLAGS, *ENGINE_COMPAT]:
        assert name in help_text, name


def test_engine_compat_names_map_to_engine_fields():
    from runner.simulator.config import EngineConfig
    from runner.simulator.server_config import split_compat

    server, engine = split_compat(["legacy-errors,alo-cancelled", "stop-ops-ack"])
    assert server.legacy_errors and not server.legacy_auth_reply
    config = EngineConfig(**engine)
    config.validate()
    assert config.alo_cross_status == "CANCELLED" and config.stop_ops_ack is True


def test_config_from_options_builds_the_engine_and_server_configs():
    from runner.simulator.standalone import config_from_options

    config = config_from_options(host="0.0.0.0", port=0, seed=7, speed_bump_ms=50, no_rate_limit=True,
                                 drop_after=3, compat=("legacy-errors,alo-cancelled",))
    assert config.engine.seed == 7 and config.engine.speed_bump_ms == 50
    assert config.engine.alo_cross_status == "CANCELLED"
    assert config.server.compat.legacy_errors and config.server.rate_limit is None
    assert config.server.faults.drop_after_messages == 3 and config.server.faults.seed == 7


def test_config_from_options_refuses_an_unknown_compat_name_as_a_usage_error():
    from runner.errors import UsageError
    from runner.simulator.standalone import config_from_options

    with pytest.raises(UsageError, match="no-such-shape"):
        config_from_options(host="127.0.0.1", port=0, compat=("no-such-shape",))


def test_banner_shows_urls_demo_credentials_and_what_is_on():
    from runner.simulator.standalone import banner, config_from_options

    text = banner(config_from_options(host="0.0.0.0", port=0, latency_ms=5, compat=("legacy-errors",)), 4321)
    lines = text.splitlines()
    assert lines[1].split() == ["trade", "WebSocket", "ws://127.0.0.1:4321/"]
    assert lines[2].split() == ["market", "data", "ws://127.0.0.1:4321/mds"]
    assert lines[3].split() == ["reference", "data", "http://127.0.0.1:4321/refdata"]
    assert "secret key qfex_secret_demo" in text
    assert "rate limit on; faults latency; dialect live; session open; compat legacy-errors" in text
    assert lines[-1] == "Ready. Press Ctrl-C to stop."
