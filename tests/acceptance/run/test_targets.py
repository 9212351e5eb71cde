"""Targets as a trader meets them: QFEX's URLs, production needs intent (typed on a real terminal),
plain ws:// only on the loopback, and TLS certificates verified (a self-signed server is refused)."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.exchange.targets import resolve_target
from runner.exit_codes import ExitCode
from tests.acceptance.run.test_cli import REPO, cli_env, qfex
from tests.acceptance.run_kit import RESTING, order, write_playbook

REFDATA = str(REPO / "runner/simulator/data/refdata.json")


def test_targets_are_qfex_endpoints():
    uat, prod, sim = resolve_target("uat", None), resolve_target("prod", None), resolve_target(None, None)
    assert (uat.url, uat.refdata_url, uat.live) == ("wss://trade.qfex.io/", "https://api.qfex.io/refdata",
                                                    False)
    assert (prod.url, prod.refdata_url, prod.live) == ("wss://trade.qfex.com/", "https://api.qfex.com/refdata",
                                                       True)
    assert sim.name == "sim" and sim.url is None and not sim.live
    url = resolve_target(None, "wss://example.net:9443/ws")
    assert (url.url, url.refdata_url, url.live) == ("wss://example.net:9443/ws", "https://example.net:9443/refdata",
                                                    False)
    with pytest.raises(UsageError):
        resolve_target("prod", "ws://127.0.0.1:1/")


# --- production: a typed confirmation on a terminal ------------------------------------------------


def run_on_a_terminal(args: list[str], cwd: Path, typed: str | None, env: dict) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout/stderr; type `typed` at the prompt (if any)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "runner", *args], cwd=cwd, env=env, stdin=follower,
                            stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    answered = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the process ended
                    break
                if not chunk:
                    break
                seen += chunk
            if typed is not None and not answered and b"to continue" in seen:
                os.write(leader, typed.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=30), seen.decode(errors="replace")
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()


def test_prod_on_a_terminal_needs_the_playbook_name_typed(tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)], name="live-book")
    env = {k: v for k, v in cli_env().items()}  # no credentials: a confirmed run stops right after
    args = ["run", str(book), "--target", "prod", "--refdata", REFDATA]
    code, screen = run_on_a_terminal(args, tmp_path, "wrong-name", env)
    assert "REAL orders" in screen and "live-book" in screen
    assert code == ExitCode.USAGE and "not confirmed: nothing was sent" in screen, screen
    code, screen = run_on_a_terminal(args, tmp_path, "live-book", env)
    # confirmed: the run goes on to the credentials (none here: exit 4, naming the variables)
    assert code == ExitCode.CONNECT_FAILED and "QFEX_PUBLIC_KEY" in screen, screen


def test_prod_without_a_terminal_or_yes_is_refused(tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    done = qfex(["run", str(book), "--target", "prod", "--refdata", REFDATA], tmp_path,
                cli_env({"QFEX_PUBLIC_KEY": "p", "QFEX_SECRET_KEY": "s"}))
    assert done.returncode == ExitCode.USAGE and "--yes" in done.stderr
    yes = qfex(["run", str(book), "--target", "prod", "--yes", "--refdata", REFDATA], tmp_path, cli_env())
    assert yes.returncode == ExitCode.CONNECT_FAILED and "QFEX_PUBLIC_KEY" in yes.stderr  # past the question


# --- TLS -----------------------------------------------------------------------------------------


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@contextlib.contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[tuple[int, list[str]]]:
    """A TLS server on the loopback answering any request with HTTP 403; yields (port, handshakes)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    handshakes: list[str] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    handshakes.append("completed")
                    tls.recv(4096)
                    tls.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except (ssl.SSLError, OSError) as exc:
                handshakes.append(type(exc).__name__)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], handshakes
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    """A throw-away CA, a certificate it signed for 127.0.0.1, one for another name, and a self-signed one."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make certificates")
    d = tmp_path / "pki"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "ca.key"), "-out",
            str(d / "ca.pem"), "-days", "1", "-subj", "/CN=qfex-runner test CA")
    for name, san in (("loopback", "IP:127.0.0.1"), ("other", "DNS:other.example")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / f"{name}.key"), "-out",
                str(d / f"{name}.csr"), "-subj", f"/CN={name}")
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
                str(d / "ca.key"), "-CAcreateserial", "-out", str(d / f"{name}.pem"), "-days", "1",
                "-extfile", str(d / f"{name}.ext"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "self.key"), "-out",
            str(d / "self.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1")
    return d


@pytest.fixture
def self_signed_server(certificates: Path) -> Iterator[int]:
    with tls_server(certificates / "self.pem", certificates / "self.key") as (port, handshakes):
        yield port
    assert "completed" not in handshakes  # the client refused the certificate: no request was sent


def test_an_unverifiable_tls_certificate_is_refused(tmp_path, self_signed_server):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    url = f"wss://127.0.0.1:{self_signed_server}/"
    done = qfex(["run", str(book), "--url", url, "--refdata", REFDATA, "--report-dir", "rep"], tmp_path,
                cli_env({"QFEX_PUBLIC_KEY": "pub_tls_test", "QFEX_SECRET_KEY": "secret_tls_test_value"}))
    assert done.returncode == ExitCode.CONNECT_FAILED, done.stdout + done.stderr
    assert f"TLS certificate of wss://127.0.0.1:{self_signed_server} could not be verified" in done.stderr
    assert "self-signed" in done.stderr or "self signed" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "secret_tls_test_value" not in done.stdout + done.stderr
    assert not (tmp_path / "rep").exists()  # nothing was sent: no report of a run that never started


def test_refdata_over_unverifiable_tls_is_refused(self_signed_server):
    from runner.playbook.refdata import fetch_refdata

    with pytest.raises(Exception) as caught:  # whatever urllib raises, the answer must not be trusted
        fetch_refdata(f"https://127.0.0.1:{self_signed_server}/refdata", timeout=5)
    text = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in text or "self-signed" in text, text


def test_tls_checks_the_host_name_and_accepts_a_trusted_certificate(tmp_path, certificates):
    book = write_playbook(tmp_path, [order("a", RESTING)])
    env = cli_env({"QFEX_PUBLIC_KEY": "p", "QFEX_SECRET_KEY": "s",
                   "WEBSOCKET_CLIENT_CA_BUNDLE": str(certificates / "ca.pem")})  # trust the test CA
    with tls_server(certificates / "other.pem", certificates / "other.key") as (port, handshakes):
        done = qfex(["run", str(book), "--url", f"wss://127.0.0.1:{port}/", "--refdata", REFDATA], tmp_path,
                    env)
    assert done.returncode == ExitCode.CONNECT_FAILED
    assert "could not be verified" in done.stderr and "127.0.0.1" in done.stderr, done.stderr
    assert "completed" not in handshakes  # a valid certificate for another name is refused too
    with tls_server(certificates / "loopback.pem", certificates / "loopback.key") as (port, handshakes):
        done = qfex(["run", str(book), "--url", f"wss://127.0.0.1:{port}/", "--refdata", REFDATA], tmp_path,
                    env)
    # the control: the trusted certificate for this host passes TLS; the server then refuses the upgrade
    assert "completed" in handshakes
    assert done.returncode == ExitCode.CONNECT_FAILED
    assert "refused the WebSocket upgrade: HTTP 403" in done.stderr, done.stderr


def test_plain_ws_to_a_remote_host_is_refused_before_any_network_use(tmp_path):
    """Not even the reference data is fetched in clear text from a host the run will refuse."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing interface
        address = probe.getsockname()[0]
    except OSError:
        pytest.skip("no non-loopback interface")
    finally:
        probe.close()
    if address.startswith("127."):
        pytest.skip("no non-loopback interface")
    listener = socket.create_server((address, 0))
    listener.settimeout(0.5)
    book = write_playbook(tmp_path, [order("a", RESTING)])
    done = qfex(["run", str(book), "--url", f"ws://{address}:{listener.getsockname()[1]}/"], tmp_path,
                cli_env({"QFEX_PUBLIC_KEY": "p", "QFEX_SECRET_KEY": "s"}))
    assert done.returncode == ExitCode.CONNECT_FAILED and "refusing unencrypted ws://" in done.stderr
    with pytest.raises(TimeoutError):  # nobody knocked: no HTTP /refdata, no WebSocket
        listener.accept()
    listener.close()
