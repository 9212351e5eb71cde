"""Peak memory of a 10,000-order run: the runner process's maximum RSS, measured by the OS.

    .venv/bin/python bench/memory_bench.py [--orders 10000] [--max-in-flight 64] [--embedded]

Runs `qfex-runner run` on a playbook of `--orders` resting orders against a standalone simulator
(rate limit off, speed bump 0; its memory is not the runner's) and reads the child's peak RSS
from `os.wait4` (the child's own `struct rusage`, as `resource.getrusage(RUSAGE_CHILDREN)` would
report for it alone). Baselines in the same run: `python -c pass` and the least possible client
(websocket-client loop) placing the same number of orders. `--max-in-flight` (default 64, to
keep the run short; 1 = sequential) does not change what the runner keeps per order.
`--embedded` also measures `--target sim` (runner and the embedded exchange in one process).
Target (issue 6): the runner's peak RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    BARE_CLIENT,
    PYTHON,
    RUNNER,
    StandaloneSim,
    child_env,
    remove,
    temp_workdir,
    write_resting_playbook,
)


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one child process, from its own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}... exited {proc.returncode}:\n{stderr[-2000:]}")
    kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return kib / 1024, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--embedded", action="store_true")
    args = parser.parse_args()
    work = temp_workdir("qfex-memory-bench-")
    env = child_env(pycache=work / "pycache")
    n = args.orders
    pipelined = ["--max-in-flight", str(args.max_in_flight)] if args.max_in_flight > 1 else []
    rows: list[tuple[str, float, float]] = []
    try:
        rows.append(("python -c pass", *peak_rss([PYTHON, "-c", "pass"], env)))
        with StandaloneSim(["--no-rate-limit", "--speed-bump-ms", "0"], env) as sim:
            rows.append((f"bare websocket-client loop, {n} orders",
                         *peak_rss([PYTHON, "-c", BARE_CLIENT, sim.url, str(n), "mem", "1"], env)))
            pb = write_resting_playbook(work / "mem.yaml", n, name="memory", run_id="m")
            cmd = [RUNNER, "run", str(pb), "--url", sim.url, "--report-dir", str(work / "report"),
                   "--state-dir", str(work / "state"), "--no-progress", *pipelined]
            rows.append((f"qfex-runner run --url, {n} orders" + (f" (--max-in-flight {args.max_in_flight})"
                                                                  if pipelined else ""),
                         *peak_rss(cmd, env)))
        if args.embedded:
            pb = write_resting_playbook(work / "mem-sim.yaml", n, name="memory-sim", run_id="m")
            cmd = [RUNNER, "run", str(pb), "--report-dir", str(work / "report-sim"), "--no-progress",
                   *pipelined]
            rows.append((f"qfex-runner run --target sim (embedded exchange), {n} orders",
                         *peak_rss(cmd, env)))
    finally:
        remove(work)
    print(f"{'process':<66}{'peak RSS':>10}{'wall':>10}")
    for name, mb, seconds in rows:
        print(f"{name:<66}{mb:>7.1f} MB{seconds:>8.2f} s")
    runner_mb = rows[2][1]
    verdict = "meets" if runner_mb < 200 else "MISSES"
    print(f"\nrunner peak RSS {runner_mb:.1f} MB: target < 200 MB: {verdict}")


if __name__ == "__main__":
    main()
