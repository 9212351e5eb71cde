"""How many add_order round trips per second the local exchange answers on one connection.

    .venv/bin/python bench/sim_bench.py [--orders 5000] [--rounds 3]
                                        [--client raw|websockets|websocket-client] [--profile FILE]

One client connection, sequential request → reply: send `add_order` (LIMIT GTC BUY, far below
the market so it rests), wait for its ACK `order_response`, repeat. Speed bump 0, rate limit
off. The simulator runs as `qfex-runner sim` in its own process, as users run it.

Baselines in the same run, with the same client code and the same machine:
  - echo: a bare `websockets` echo server (its own process) answering the same frames —
    the floor set by Python WebSockets on both ends;
  - engine only: `Exchange.handle(add_order)` called in-process, no network, no JSON.

`--profile FILE` runs the simulator under cProfile and writes the stats to FILE (then prints
the top functions); figures from a profiled run are slower and are not the benchmark.
Target (issue 3): >= 5,000 add_order round trips/s, so the simulator never limits the runner.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ORDER = ('{"type":"add_order","params":{"symbol":"AAPL-USD","side":"BUY","order_type":"LIMIT",'
         '"order_time_in_force":"GTC","quantity":0.001,"price":180.00,"client_order_id":"bench-%d"}}')

ECHO_SERVER = textwrap.dedent("""
    import asyncio, sys
    from websockets.asyncio.server import serve

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async def main():
        async with serve(echo, "127.0.0.1", 0, compression=None) as server:
            print(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/", flush=True)
            await asyncio.Future()

    asyncio.run(main())
""")


# --- clients -----------------------------------------------------------------------------------

class RawWebSocket:
    """A minimal RFC 6455 client on a blocking socket: the lightest client Python can be, so the
    figures are about the server. Masked text frames out; text, ping and close frames in."""

    def __init__(self, url: str) -> None:
        import base64
        import secrets
        import socket
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        self.sock.sendall((f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.reader = self.sock.makefile("rb")
        status = self.reader.readline()
        if b" 101 " not in status:
            raise SystemExit(f"handshake failed: {status!r}")
        while self.reader.readline() not in (b"\r\n", b""):
            pass
        self._mask = secrets.token_bytes(4)

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        mask = self._mask
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big"))
        return head + mask + masked.to_bytes(n, "big")

    def send(self, text: str) -> None:
        self.sock.sendall(self._frame(0x1, text.encode()))

    def recv(self) -> str:
        read = self.reader.read
        while True:
            b0, b1 = read(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(read(2), "big")
            elif n == 127:
                n = int.from_bytes(read(8), "big")
            payload = read(n)
            opcode = b0 & 0x0F
            if opcode == 0x1:
                return payload.decode()
            if opcode == 0x9:
                self.sock.sendall(self._frame(0xA, payload))
            elif opcode == 0x8:
                raise SystemExit("server closed the connection")

    def close(self) -> None:
        try:
            self.sock.sendall(self._frame(0x8, (1000).to_bytes(2, "big")))
        finally:
            self.sock.close()


class Client:
    """send(text) / recv() -> text over one connection, with one of three client libraries."""

    def __init__(self, url: str, library: str) -> None:
        self.library = library
        if library == "raw":
            self.ws = RawWebSocket(url)
            self.send, self.recv = self.ws.send, self.ws.recv
        elif library == "websockets":
            from websockets.sync.client import connect

            try:
                self.ws = connect(url, compression=None, max_size=None, legacy=True)
            except TypeError:
                self.ws = connect(url, compression=None, max_size=None)
            self.send, self.recv = self.ws.send, self.ws.recv
        else:
            import websocket

            self.ws = websocket.create_connection(url, enable_multithread=False)
            self.send, self.recv = self.ws.send, self.ws.recv

    def close(self) -> None:
        self.ws.close()


def login(client: Client, public_key: str, secret_key: str) -> None:
    import hashlib
    import hmac
    import secrets

    nonce, ts = secrets.token_hex(16), int(time.time())
    signature = hmac.new(secret_key.encode(), f"{nonce}:{ts}".encode(), hashlib.sha256).hexdigest()
    client.send(json.dumps({"type": "auth", "params": {"hmac": {"public_key": public_key, "nonce": nonce,
                                                                 "unix_ts": ts, "signature": signature}}}))
    assert json.loads(client.recv()) == {"authenticated": True}
    client.send('{"type":"subscribe","params":{"channels":["order_responses"]}}')
    assert json.loads(client.recv()) == {"subscribed": "order_responses"}


def round_trips(client: Client, count: int, start: int, check: Callable[[str], None] | None) -> float:
    """Seconds for `count` sequential request → reply round trips."""
    send, recv = client.send, client.recv
    t0 = time.perf_counter()
    for i in range(start, start + count):
        send(ORDER % i)
        reply = recv()
        if check is not None:
            check(reply)
    return time.perf_counter() - t0


def check_ack(reply: str) -> None:
    if '"status":"ACK"' not in reply:
        raise SystemExit(f"unexpected reply: {reply[:300]}")


# --- processes -------------------------------------------------------------------------------------

def start(argv: list[str]) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        for word in line.split():
            if word.startswith("ws://"):
                return proc, word
    proc.kill()
    raise SystemExit(f"server did not start: {proc.stderr.read() if proc.stderr else ''}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def measure(url: str, library: str, orders: int, rounds: int, *, auth: tuple[str, str] | None,
            check: Callable[[str], None] | None) -> list[float]:
    client = Client(url, library)
    try:
        if auth:
            login(client, *auth)
        round_trips(client, min(500, orders), 0, check)  # warm-up
        rates, sent = [], 1_000_000
        for _ in range(rounds):
            seconds = round_trips(client, orders, sent, check)
            sent += orders
            rates.append(orders / seconds)
        return rates
    finally:
        client.close()


def engine_only(orders: int) -> float:
    from runner.simulator.config import EngineConfig
    from runner.simulator.engine import Exchange

    exchange = Exchange(EngineConfig(speed_bump_ms=0))
    account = exchange.config.accounts[0]
    session = exchange.session(account.account_id, account.user_id)
    params = {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC",
              "quantity": Decimal("0.001"), "price": Decimal("180.00"), "client_order_id": "x"}
    t0 = time.perf_counter()
    for _ in range(orders):
        exchange.handle(session, "add_order", dict(params))
    return orders / (time.perf_counter() - t0)


def summary(name: str, rates: list[float]) -> str:
    return (f"{name:<34} median {statistics.median(rates):>8,.0f}/s   best {max(rates):>8,.0f}/s   "
            f"({statistics.median(rates) and 1e6 / statistics.median(rates):.0f} µs per round trip)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", choices=["raw", "websockets", "websocket-client"], default="raw",
                        help="client library (raw: a minimal socket client, so figures are about the server)")
    parser.add_argument("--profile", metavar="FILE", help="run the simulator under cProfile, stats to FILE")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, client library: {args.client}, "
          f"{args.orders} round trips x {args.rounds} rounds")

    echo, echo_url = start([sys.executable, "-c", ECHO_SERVER])
    try:
        echo_rates = measure(echo_url, args.client, args.orders, args.rounds, auth=None, check=None)
    finally:
        stop(echo)
    print(summary("baseline: websockets echo server", echo_rates))

    sim_argv = [sys.executable, "-m", "runner", "sim", "--port", "0", "--no-rate-limit",
                "--speed-bump-ms", "0"]
    if args.profile:
        sim_argv = [sys.executable, "-m", "cProfile", "-o", args.profile, *sim_argv[1:]]
    sim, sim_url = start(sim_argv)
    try:
        sim_rates = measure(sim_url, args.client, args.orders, args.rounds,
                            auth=("qfex_pub_demo", "qfex_secret_demo"), check=check_ack)
    finally:
        stop(sim)
    print(summary("simulator: add_order -> ACK", sim_rates))
    print(f"{'baseline: engine only, in-process':<34} {engine_only(args.orders):>15,.0f}/s")
    ratio = statistics.median(sim_rates) / statistics.median(echo_rates)
    verdict = "meets" if statistics.median(sim_rates) >= 5000 else "BELOW"
    print(f"simulator / echo = {ratio:.0%}; target 5,000/s: {verdict}")
    if args.profile:
        import pstats

        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
