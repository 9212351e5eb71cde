"""`doctor` against the real local exchange over loopback: healthy, and each thing a trader gets wrong
(wrong key, missing symbol, too little margin, leftover orders, no exchange, an untrusted certificate).
Every test also checks that doctor placed nothing: the exchange counts every order it accepts."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from runner.exit_codes import ExitCode
from runner.run.doctor import DoctorOptions, DoctorReport, Outcome, diagnose, judge_clock
from runner.simulator.config import EngineConfig
from runner.simulator.engine import Exchange
from tests.acceptance.run.test_cli import cli_env, qfex
from tests.acceptance.run.test_targets import openssl, tls_server
from tests.acceptance.run_kit import MARGIN_REJECT, RESTING, order, run, write_playbook


def doctor(sim: Any, playbook: Path | None, tmp_path: Path, **env: str) -> DoctorReport:
    keys = {"QFEX_PUBLIC_KEY": sim.public_key, "QFEX_SECRET_KEY": sim.secret_key, **env}
    return diagnose(DoctorOptions(playbook=str(playbook) if playbook else None, url=sim.url, env=keys,
                                  state_dir=str(tmp_path / "state"), timeout=5.0, pulse_wait=2.0))


def outcome(report: DoctorReport, name: str) -> Outcome:
    found = [c.outcome for c in report.checks if c.name == name]
    assert found, f"no {name} check in {[c.name for c in report.checks]}"
    return Outcome.FAIL if Outcome.FAIL in found else (Outcome.WARN if Outcome.WARN in found else Outcome.OK)


#: what doctor may ask the engine (auth and subscribe are the server's own)
READS = {"get_user_orders", "get_user_trades", "get_user_leverage", "get_order"}


class RecordingExchange(Exchange):
    """The real engine, noting every message type it handles."""

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.types: list[str] = []

    def handle(self, session: Any, msg_type: str, params: dict) -> list:
        self.types.append(msg_type)
        return super().handle(session, msg_type, params)


@pytest.fixture
def simulator(simulator_factory):
    """The local exchange, recording what it is asked (overrides conftest's)."""
    return simulator_factory(exchange=RecordingExchange(EngineConfig(speed_bump_ms=0)))


def accepted(sim: Any) -> int:
    """Messages that are not reads (orders, cancels, leverage changes): doctor must add none."""
    return sim.call(lambda ex: sum(1 for t in ex.types if t not in READS))


def test_a_healthy_setup_passes_every_check_and_sends_nothing(simulator, tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING), order("b", RESTING.replace("220.00", "221.00"))])
    report = doctor(simulator, book, tmp_path)
    assert report.exit_code is ExitCode.OK, report.checks
    names = [c.name for c in report.checks]
    for name in ("dns", "tcp", "tls", "clock", "refdata", "market data", "auth", "symbols", "balance",
                 "positions", "leverage", "exactly-once", "open orders", "margin", "rate limit"):
        assert outcome(report, name) is Outcome.OK, (name, report.checks)
    assert names.count("margin") == 1
    once = next(c for c in report.checks if c.name == "exactly-once")
    assert once.message == "a run would send 2: a, b"
    margin = next(c for c in report.checks if c.name == "margin")
    assert "estimate: 44.1 initial margin" in margin.message  # (220 + 221) / 10x
    assert accepted(simulator) == 0


def test_doctor_reads_a_mark_price_from_the_market_data_socket(simulator, tmp_path):
    """The MDS is found from the trade URL (a local exchange: `/mds` on its port)."""
    book = write_playbook(tmp_path, [order("a", RESTING)])
    report = doctor(simulator, book, tmp_path)
    market = next(c for c in report.checks if c.name == "market data")
    mark = simulator.call(lambda ex: ex.mark("AAPL-USD"))
    assert market.message == f"mark AAPL-USD {mark.normalize():f} from {simulator.mds_url}"


def test_an_unreachable_market_data_socket_is_a_warning_not_a_failure(simulator, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    book = write_playbook(tmp_path, [order("a", RESTING)])
    keys = {"QFEX_PUBLIC_KEY": simulator.public_key, "QFEX_SECRET_KEY": simulator.secret_key}
    report = diagnose(DoctorOptions(playbook=str(book), url=simulator.url, mds_url=f"ws://127.0.0.1:{port}/mds",
                                    env=keys, state_dir=str(tmp_path / "state"), timeout=1.0, pulse_wait=2.0))
    assert outcome(report, "market data") is Outcome.WARN
    assert report.exit_code is ExitCode.OK


def test_after_the_run_doctor_says_nothing_would_be_sent(simulator, tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    assert run(tmp_path, simulator, book).exit_code == 0
    before = accepted(simulator)
    report = doctor(simulator, book, tmp_path)
    assert report.exit_code is ExitCode.OK, report.checks
    once = next(c for c in report.checks if c.name == "exactly-once")
    assert once.message == "every order is already placed: a run would send nothing"
    assert next(c for c in report.checks if c.name == "open orders").message == \
        "none left over on AAPL-USD (1 of this playbook's own)"
    assert accepted(simulator) == before


def test_a_refused_key_is_exit_4_with_a_hint_where_it_belongs(simulator, tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    report = doctor(simulator, book, tmp_path, QFEX_SECRET_KEY="qfex_secret_wrong")
    assert report.exit_code is ExitCode.CONNECT_FAILED
    auth = report.checks[-1]
    assert (auth.name, auth.outcome) == ("auth", Outcome.FAIL)
    assert "authentication refused" in auth.message
    assert "is the key for this exchange" in auth.action
    assert "qfex_secret_wrong" not in json.dumps([c.__dict__ for c in report.checks], default=str)


def test_a_key_that_does_not_look_like_qfex_is_named(simulator, tmp_path):
    report = doctor(simulator, None, tmp_path, QFEX_PUBLIC_KEY="AKIA123")
    auth = report.checks[-1]
    assert auth.outcome is Outcome.FAIL and "QFEX's keys start with qfex_pub_" in auth.action


def test_a_symbol_the_exchange_does_not_list_fails_with_exit_3(simulator, tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING.replace("AAPL-USD", "NOPE-USD"))])
    report = doctor(simulator, book, tmp_path)
    assert report.exit_code is ExitCode.ORDERS_FAILED
    symbols = next(c for c in report.checks if c.name == "symbols")
    assert symbols.outcome is Outcome.FAIL and "not listed: NOPE-USD" in symbols.message
    assert accepted(simulator) == 0


def test_too_little_margin_fails_with_exit_3(simulator, tmp_path):
    book = write_playbook(tmp_path, [order("big", MARGIN_REJECT)])
    report = doctor(simulator, book, tmp_path)
    assert report.exit_code is ExitCode.ORDERS_FAILED
    margin = next(c for c in report.checks if c.name == "margin")
    assert margin.outcome is Outcome.FAIL
    assert margin.message == ("estimate: 1980000 initial margin (notional ÷ leverage) > available 1000000")
    assert accepted(simulator) == 0


def test_leftover_open_orders_of_another_playbook_fail(simulator, tmp_path):
    other = write_playbook(tmp_path, [order("x", RESTING)], name="other")
    assert run(tmp_path, simulator, other, state_dir=tmp_path / "other-state").exit_code == 0
    before = accepted(simulator)
    book = write_playbook(tmp_path, [order("a", RESTING)])
    report = doctor(simulator, book, tmp_path)
    assert report.exit_code is ExitCode.ORDERS_FAILED
    left = next(c for c in report.checks if c.name == "open orders")
    assert left.outcome is Outcome.FAIL and left.message == "left over (not this playbook's): 1 on AAPL-USD"
    assert accepted(simulator) == before


def test_an_unreachable_exchange_is_exit_4_at_the_tcp_check(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    report = diagnose(DoctorOptions(url=f"ws://127.0.0.1:{port}/", timeout=2.0,
                                    env={"QFEX_PUBLIC_KEY": "qfex_pub_x", "QFEX_SECRET_KEY": "s"}))
    assert report.exit_code is ExitCode.CONNECT_FAILED
    assert (report.checks[-1].name, report.checks[-1].outcome) == ("tcp", Outcome.FAIL)


def test_an_unknown_host_fails_at_dns(tmp_path):
    report = diagnose(DoctorOptions(url="wss://no-such-host.invalid/", timeout=2.0, env={}))
    assert report.exit_code is ExitCode.CONNECT_FAILED
    assert (report.checks[-1].name, report.checks[-1].outcome) == ("dns", Outcome.FAIL)


@pytest.fixture
def self_signed(tmp_path: Path) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make certificates")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "self.key"), "-out",
            str(tmp_path / "self.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1")
    return tmp_path


def test_a_self_signed_certificate_fails_at_tls_and_no_key_is_sent(self_signed):
    with tls_server(self_signed / "self.pem", self_signed / "self.key") as (port, handshakes):
        report = diagnose(DoctorOptions(url=f"wss://127.0.0.1:{port}/", timeout=3.0,
                                        env={"QFEX_PUBLIC_KEY": "qfex_pub_x", "QFEX_SECRET_KEY": "s"}))
    assert report.exit_code is ExitCode.CONNECT_FAILED
    tls = report.checks[-1]
    assert (tls.name, tls.outcome) == ("tls", Outcome.FAIL)
    assert "cannot be verified" in tls.message and "self-signed" in tls.message
    assert "completed" not in handshakes


def test_the_command_line_prints_one_line_per_check_and_json(simulator, tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    env = cli_env({"QFEX_PUBLIC_KEY": simulator.public_key, "QFEX_SECRET_KEY": simulator.secret_key})
    done = qfex(["doctor", str(book), "--url", simulator.url, "--state-dir", "st"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("qfex-runner doctor · target url ws://127.0.0.1:")
    assert any(line.startswith("ok    auth ") for line in lines)
    assert lines[-1].endswith("ready (exit 0); nothing was sent")
    done = qfex(["doctor", str(book), "--url", simulator.url, "--format", "json", "--state-dir", "st"],
                tmp_path, {**env, "QFEX_SECRET_KEY": "qfex_secret_nope"})
    assert done.returncode == 4
    body = json.loads(done.stdout)
    assert body["exit_code"] == 4 and body["checks"][-1]["name"] == "auth"
    assert "qfex_secret_nope" not in done.stdout + done.stderr
    assert accepted(simulator) == 0


@pytest.mark.parametrize(("skew", "expected", "code"), [
    (0.4, Outcome.OK, ExitCode.OK), (-45.0, Outcome.WARN, ExitCode.OK), (29.0, Outcome.OK, ExitCode.OK),
    (301.0, Outcome.FAIL, ExitCode.CONNECT_FAILED), (None, Outcome.WARN, ExitCode.OK)])
def test_clock_skew_warns_well_before_hmac_auth_would_fail(skew, expected, code):
    report = DoctorReport("uat", "wss://trade.qfex.io/", None)
    judge_clock(report, skew)
    assert report.checks[0].outcome is expected and report.exit_code is code
    if skew == -45.0:
        assert report.checks[0].message.startswith("local clock 45.0s ahead of the exchange")
