"""Crash campaign: SIGKILL the runner at random instants, re-run, and count duplicates and losses.

    .venv/bin/python scripts/crash_campaign.py [--campaigns 30] [--seed 1]

The exactly-once tests kill the runner at chosen points (after the k-th accepted order, mid-wait);
this script adds kills at random *instants* (anywhere: during imports, validation, the journal's
fsync, reconciliation, a send, a wait, report writing), with the journal kept or deleted between
runs, sequential or pipelined (`--max-in-flight 3`), and with QFEX's 100 ms speed bump on or off
(so an order can be sent but not yet on the book when the next run reconciles). Each campaign
ends with an uninterrupted run, after which every order must exist exactly once at the exchange
(counted by the exchange itself: `CountingExchange` records every newly accepted order).

Prints one line per campaign and the totals: crashes, duplicates, orders lost. Exit 1 if any
duplicate or lost order was seen.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.acceptance.exactly_once_kit import ORDER_IDS, Harness, coid  # noqa: E402


def campaign(rng: random.Random, directory: Path, span: float) -> tuple[int, int, int, str]:
    """One playbook life: 1-4 runs killed at random instants within `span` s, then one that finishes."""
    speed_bump = rng.choice((0, 100))
    pipelined = rng.random() < 0.5
    extra = ("--max-in-flight", "3") if pipelined else ()
    harness = Harness(directory, speed_bump_ms=speed_bump)
    crashes = 0
    try:
        for _ in range(rng.randint(1, 4)):
            proc = harness.spawn(*extra)
            time.sleep(rng.uniform(0.3 * span, 1.1 * span))  # the random instant (imports take ~0.1 s)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                crashes += 1
            proc.communicate(timeout=60)
            if rng.random() < 0.5:
                harness.forget_journal()
        final = harness.run(*extra)
        if final.returncode != 0:
            raise SystemExit(f"final run exited {final.returncode}:\n{final.stderr}")
        counts = harness.counts()
        duplicates = sum(max(counts.get(coid(o), 0) - 1, 0) for o in ORDER_IDS)
        duplicates += sum(n for c, n in counts.items() if c not in {coid(o) for o in ORDER_IDS})
        lost = sum(1 for o in ORDER_IDS if counts.get(coid(o), 0) == 0)
        shape = f"speed bump {speed_bump:>3} ms, {'pipelined ' if pipelined else 'sequential'}"
        return crashes, duplicates, lost, shape
    finally:
        harness.stop()


def whole_run_seconds() -> float:
    """How long one uninterrupted run of the playbook takes here (median of 3), start to exit."""
    times = []
    for _ in range(3):
        with tempfile.TemporaryDirectory(prefix="qfex-crash-") as directory:
            harness = Harness(Path(directory))
            try:
                started = time.perf_counter()
                harness.run()
                times.append(time.perf_counter() - started)
            finally:
                harness.stop()
    return sorted(times)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    span = whole_run_seconds()
    print(f"an uninterrupted run takes {span:.2f} s: kills fall uniformly between 30 % and 110 % of it")
    totals = [0, 0, 0]
    started = time.perf_counter()
    for number in range(1, args.campaigns + 1):
        with tempfile.TemporaryDirectory(prefix="qfex-crash-") as directory:
            crashes, duplicates, lost, shape = campaign(rng, Path(directory), span)
        totals = [totals[0] + crashes, totals[1] + duplicates, totals[2] + lost]
        print(f"campaign {number:>3}: {shape}, {crashes} kill(s) -> duplicates {duplicates}, lost {lost}")
    elapsed = time.perf_counter() - started
    print(f"\n{args.campaigns} campaigns, {totals[0]} SIGKILLs at random instants, "
          f"{args.campaigns * len(ORDER_IDS)} orders: duplicates {totals[1]}, lost {totals[2]} "
          f"({elapsed:.1f} s)")
    return 1 if totals[1] or totals[2] else 0


if __name__ == "__main__":
    sys.exit(main())
