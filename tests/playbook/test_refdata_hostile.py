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
