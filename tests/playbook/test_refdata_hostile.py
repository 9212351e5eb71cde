"""Hostile reference data (a file or a target's `/refdata`) is a one-line error, never a crash."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from runner.errors import RefDataError
from runner.playbook.refdata import fetch_refdata

BODIES = {
    "deep": b"[" * 100_000,
    "binary": b"\xff\xfe\x00",
    "not-json": b"<html>maintenance</html>",
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = BODIES[self.path.strip("/")]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("name", sorted(BODIES))
def test_hostile_refdata_endpoint_is_a_refdata_error(server: str, name: str) -> None:
    with pytest.raises(RefDataError, match=f"^{server}/{name}: ") as info:
        fetch_refdata(f"{server}/{name}")
    assert "\n" not in str(info.value)


def _http(status: str, body: bytes = b"", location: str | None = None) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    if location:
        head += f"Location: {location}\r\n"
    return head.encode() + b"\r\n" + body


def test_a_redirect_is_followed_within_http_and_never_to_another_scheme() -> None:
    from pathlib import Path

    from tests.exchange.fake_exchange_kit import Peer, fake_exchange

    body = (Path(__file__).resolve().parents[2] / "runner/simulator/data/refdata.json").read_bytes()

    def script(peer: Peer) -> None:
        path = peer.read_head().split(" ", 2)[1]
        answers = {"/refdata": _http("302 Found", location="/v2/refdata"),
                   "/v2/refdata": _http("200 OK", body),
                   "/elsewhere": _http("301 Moved", location="ftp://127.0.0.1/refdata")}
        peer.conn.sendall(answers.get(path, _http("404 Not Found")))

    with fake_exchange(script) as ex:
        base = f"http://127.0.0.1:{ex.port}"
        refdata = fetch_refdata(f"{base}/refdata", timeout=5)
        assert refdata.source == f"{base}/v2/refdata" and len(refdata) > 0
        with pytest.raises(RefDataError, match="refusing the redirect to ftp://"):
            fetch_refdata(f"{base}/elsewhere", timeout=5)
        with pytest.raises(RefDataError, match="HTTP 404"):
            fetch_refdata(f"{base}/missing", timeout=5)
