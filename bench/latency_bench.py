"""Submission over a slow link: 20 ms each way, QFEX's rate limit on — sequential vs pipelined vs the limit.

    .venv/bin/python bench/latency_bench.py [--orders 1000] [--latency-ms 20] [--max-in-flight 64]
                                            [--skip-sequential]

One standalone simulator (`qfex-runner sim --latency-ms 20 --speed-bump-ms 0`, rate limit ON as on
QFEX: 12,000 units / 60 s per user, add_order weighs 1) serves, in the same run:
  - bare:       the least possible client keeping `--max-in-flight` add_orders unanswered (no
                pacing, no journal, no report): what the link and the exchange allow; and the
                same client one order at a time (the sequential floor: N round trips);
  - sequential: `qfex-runner run` (one order at a time: one round trip each);
  - pipelined:  `qfex-runner run --max-in-flight N`.
The physical limit is max(N / 200 per s, one round trip): QFEX's sustained rate and the speed
of light. "network phase" is, from the run's report, first order sent to last order answered;
"whole process" adds start-up, validation, connect + auth + subscribe (each a round trip here),
the journal and the report files. Target (issue 6): pipelined within 1.2x of the limit.

Speed bump 0: it delays a limit order's arrival on the book, never its ACK, so it does not change
these figures. The simulator's EMA lets a fresh user burst far beyond 200/s (see
runner/simulator/ratelimit.py), so a run of 1,000 can beat N / 200; the runner's own pacer
(runner/exchange/pacing.py) decides how much of that burst it uses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    StandaloneSim,
    bare_client,
    child_env,
    remove,
    runner_run,
    submission_seconds,
    temp_workdir,
    write_resting_playbook,
)

QFEX_RATE = 200.0  # add_order per second: 12,000 units / 60 s, weight 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--skip-sequential", action="store_true",
                        help="skip the sequential runs (N round trips each: 40 s for 1,000 at 20 ms)")
    args = parser.parse_args()
    n = args.orders
    rtt = 2 * args.latency_ms / 1000
    limit = max(n / QFEX_RATE, rtt)
    work = temp_workdir("qfex-latency-bench-")
    env = child_env(pycache=work / "pycache")
    rows: list[tuple[str, float, float]] = []
    try:
        sim_args = ["--latency-ms", f"{args.latency_ms:g}", "--speed-bump-ms", "0"]
        with StandaloneSim(sim_args, env) as sim:
            runner_run(write_resting_playbook(work / "warm.yaml", 5, name="warm", run_id="w"),
                       sim.url, work, env)  # byte-code caches; not measured
            whole, loop = bare_client(sim.url, n, "bare", env, window=args.max_in_flight)
            rows.append((f"bare client, {args.max_in_flight} unanswered", whole, loop))
            if not args.skip_sequential:
                whole, loop = bare_client(sim.url, n, "bare-seq", env)
                rows.append(("bare client, one at a time", whole, loop))
                print(f"bare client, one at a time: {whole:.2f} s", flush=True)
            variants = [("pipelined", ["--max-in-flight", str(args.max_in_flight)])]
            if not args.skip_sequential:
                variants.insert(0, ("sequential", []))
            for label, extra in variants:
                pb = write_resting_playbook(work / f"{label}.yaml", n, name=f"latency-{label}", run_id="l")
                whole, report = runner_run(pb, sim.url, work, env, extra=extra)
                counts = report["summary"]["counts"]
                if counts["passed"] != n:
                    raise SystemExit(f"{label}: {counts}")
                name = "qfex-runner run" + (f" --max-in-flight {args.max_in_flight}" if extra else "")
                rows.append((name, whole, submission_seconds(report)))
                print(f"{name}: {whole:.2f} s", flush=True)
    finally:
        remove(work)
    print(f"\n{n} resting orders; {args.latency_ms:g} ms one way ({rtt * 1000:g} ms round trip); "
          f"QFEX rate limit on")
    print(f"physical limit max({n} / {QFEX_RATE:g} per s, {rtt * 1000:g} ms) = {limit:.3f} s")
    print(f"{'client':<38}{'whole process':>15}{'network phase':>15}{'phase / limit':>15}")
    for name, whole, phase in rows:
        print(f"{name:<38}{whole:>13.3f} s{phase:>13.3f} s{phase / limit:>14.2f}x")
    sequential = next((r for r in rows if r[0] == "qfex-runner run"), None)
    bare_sequential = next((r for r in rows if r[0] == "bare client, one at a time"), None)
    if sequential and bare_sequential:
        print(f"\nsequential runner speed vs the bare client one at a time: "
              f"{bare_sequential[1] / sequential[1]:.2f}x (whole process)")
    piped = next((r for r in rows if "--max-in-flight" in r[0]), None)
    if piped is not None:
        ratio = piped[1] / limit
        print(f"\npipelined whole process / limit = {ratio:.2f}x: target <= 1.2x: "
              f"{'meets' if ratio <= 1.2 else 'MISSES'}")


if __name__ == "__main__":
    main()
