"""Shared pieces of the runner benchmarks (submit, latency, startup, memory): not a benchmark itself.

- `child_env()`: the environment every measured child process gets. Byte-code caching is switched
  on (into a private `PYTHONPYCACHEPREFIX`, never into the repo) because an installed package has
  its `.pyc` files; an environment with `PYTHONDONTWRITEBYTECODE=1` would otherwise make every
  start-up recompile ~80 modules and measure the compiler, not the runner.
- `StandaloneSim`: `qfex-runner sim` in its own process (as users run it), its URL parsed from
  the banner.
- `write_resting_playbook`: N LIMIT BUY orders far below the market (they rest, nothing fills).
- `BARE_CLIENT`: the least possible client, run as its own process: websocket-client, auth,
  subscribe, then add_order and wait for its answer N times (or keep `--window` unanswered).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RUNNER = str(BIN / "qfex-runner")
PYTHON = sys.executable
DEMO_PUBLIC, DEMO_SECRET = "qfex_pub_demo", "qfex_secret_demo"

BARE_CLIENT = r'''
import hashlib, hmac, json, secrets, sys, time
import websocket

url, n, tag, window = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ws = websocket.create_connection(url + "?api_key=qfex_pub_demo", skip_utf8_validation=True)
nonce, ts = secrets.token_hex(16), int(time.time())
sig = hmac.new(b"qfex_secret_demo", f"{nonce}:{ts}".encode(), hashlib.sha256).hexdigest()
ws.send(json.dumps({"type": "auth", "params": {"hmac": {"public_key": "qfex_pub_demo", "nonce": nonce,
                                                        "unix_ts": ts, "signature": sig}}}))
assert json.loads(ws.recv()).get("authenticated") is True
for channel in ("order_responses", "fills"):
    ws.send(json.dumps({"type": "subscribe", "params": {"channels": [channel]}}))
    json.loads(ws.recv())
start = time.perf_counter()
sent = answered = 0
while answered < n:
    while sent < n and sent - answered < window:
        ws.send(json.dumps({"type": "add_order", "params": {
            "symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT", "order_time_in_force": "GTC",
            "quantity": "0.001", "price": "%.2f" % (180 + (sent % 100) / 100),
            "client_order_id": f"{tag}-{sent}"}}))
        sent += 1
    reply = json.loads(ws.recv())
    if "order_response" in reply:
        assert reply["order_response"]["status"] == "ACK", reply
        answered += 1
    elif "err" in reply:
        raise SystemExit(f"err: {reply}")
loop = time.perf_counter() - start
ws.close()
print(f"{loop:.6f}")
'''

CANCEL_ALL = r'''
import hashlib, hmac, json, secrets, sys, time
import websocket

ws = websocket.create_connection(sys.argv[1] + "?api_key=qfex_pub_demo", skip_utf8_validation=True)
nonce, ts = secrets.token_hex(16), int(time.time())
sig = hmac.new(b"qfex_secret_demo", f"{nonce}:{ts}".encode(), hashlib.sha256).hexdigest()
ws.send(json.dumps({"type": "auth", "params": {"hmac": {"public_key": "qfex_pub_demo", "nonce": nonce,
                                                        "unix_ts": ts, "signature": sig}}}))
assert json.loads(ws.recv()).get("authenticated") is True
ws.send(json.dumps({"type": "cancel_all_orders", "params": {}}))
while True:
    reply = json.loads(ws.recv())
    if "ack" in reply or "ack_response" in reply or "err" in reply:
        break
ws.close()
'''


def cancel_all(url: str, env: dict[str, str]) -> None:
    """Cancel every open order of the demo account: each run starts from the same account state
    (the runner looks up the account's open orders before sending, so their number matters)."""
    timed([PYTHON, "-c", CANCEL_ALL, url], env)


def child_env(extra: dict[str, str] | None = None, *, pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update({"QFEX_PUBLIC_KEY": DEMO_PUBLIC, "QFEX_SECRET_KEY": DEMO_SECRET})
    env.pop("QFEX_ACCOUNT_ID", None)
    env.update(extra or {})
    return env


class StandaloneSim:
    """`qfex-runner sim --port 0 ...` as a child process; `.url` once it is ready."""

    def __init__(self, args: Sequence[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([RUNNER, "sim", "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)
        self.url = ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "trade WebSocket" in line:
                self.url = line.split()[-1]
            if line.startswith("Ready."):
                break
        if not self.url:
            self.stop()
            raise SystemExit("the simulator did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> StandaloneSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_resting_playbook(path: Path, orders: int, *, name: str, run_id: str,
                           on_reject: str = "continue") -> Path:
    """`orders` LIMIT BUY 0.001 AAPL-USD at 180.00-180.99 (the market is ~230): every one rests."""
    lines = ["version: 1", f"name: {name}", f'run_id: "{run_id}"', f"on_reject: {on_reject}",
             "defaults:", "  time_in_force: GTC", "orders:"]
    for i in range(orders):
        lines += [f"  - id: o{i:05d}", "    symbol: AAPL-USD", "    side: BUY", "    type: LIMIT",
                  "    quantity: 0.001", f"    price: {180 + (i % 100) / 100:.2f}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(cmd: Sequence[str], env: dict[str, str], *, check: bool = True) -> tuple[float, str]:
    """Wall time of a whole child process (spawn to exit) and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}... exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def bare_client(url: str, orders: int, tag: str, env: dict[str, str], window: int = 1) -> tuple[float, float]:
    """(whole process seconds, submission loop seconds) of the least possible client."""
    elapsed, out = timed([PYTHON, "-c", BARE_CLIENT, url, str(orders), tag, str(window)], env)
    return elapsed, float(out.strip().splitlines()[-1])


#: the start of a `python -c` program run as `python -c PROGRAM DIR args...`: `runner` is imported from
#: the checkout in DIR (another commit), not the one installed in the venv (whose editable-install
#: finder is dropped so DIR wins); DIR is taken off the arguments
FROM_CHECKOUT = ("import sys\n"
                 "sys.meta_path[:] = [f for f in sys.meta_path if 'Editable' not in type(f).__name__]\n"
                 "sys.path.insert(0, sys.argv.pop(1))\n")

#: `python -c FROM_SOURCE DIR args...`: the qfex-runner CLI of the checkout in DIR
FROM_SOURCE = FROM_CHECKOUT + "sys.argv[0] = 'qfex-runner'\nfrom runner.cli import main\nmain()\n"


def runner_command(source: Path | None = None) -> list[str]:
    """The argv prefix that runs qfex-runner: the installed one, or the checkout at `source`."""
    if source is None:
        return [RUNNER]
    if not (source / "runner" / "cli.py").is_file():
        raise SystemExit(f"{source}: not a qfex-runner checkout (no runner/cli.py)")
    return [PYTHON, "-c", FROM_SOURCE, str(source.resolve())]


def runner_run(playbook: Path, url: str, workdir: Path, env: dict[str, str], *,
               extra: Sequence[str] = (), state_dir: Path | None = None,
               source: Path | None = None) -> tuple[float, dict]:
    """Whole `qfex-runner run` process seconds and its report.json (the run must exit 0);
    `source`: run the checkout in that directory instead of the installed runner."""
    import json

    stamp = time.monotonic_ns()
    report_dir = workdir / f"report-{playbook.stem}-{stamp}"
    state = state_dir or workdir / f"state-{playbook.stem}-{stamp}"
    elapsed, _ = timed([*runner_command(source), "run", str(playbook), "--url", url,
                        "--report-dir", str(report_dir), "--state-dir", str(state), "--no-progress",
                        "--format", "json", *extra], env)
    report = json.loads((report_dir / "report.json").read_text())
    return elapsed, report


def submission_seconds(report: dict) -> float:
    """From a report.json: first order sent to last order answered (the run's network phase)."""
    from datetime import datetime

    def stamp(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    sent = [stamp(o["sent_at"]) for o in report["orders"] if o.get("sent_at")]
    answered = [stamp(o["answered_at"]) for o in report["orders"] if o.get("answered_at")]
    if not sent or not answered:
        return float("nan")
    return max(answered) - min(sent)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms" if seconds < 10 else f"{seconds:8.2f} s "


def temp_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def filesystem_of(path: Path) -> str:
    """The file system type holding `path` (ext4, tmpfs, ...): fsync cost depends on it."""
    try:
        best = ("", "?")
        with open("/proc/mounts") as mounts:
            for line in mounts:
                parts = line.split()
                mount, kind = parts[1], parts[2]
                if str(path.resolve()).startswith(mount) and len(mount) > len(best[0]):
                    best = (mount, kind)
        return best[1]
    except OSError:
        return "?"


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a running process has used so far, in seconds, from Linux's
    scheduler statistics (nanoseconds, every thread); None where /proc does not say."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e9


def children_cpu_seconds() -> float:
    """CPU time (user + system) of every child process this one has waited for, so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
