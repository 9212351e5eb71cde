"""Submission speed: the runner's whole process vs the least possible client, 1,000 resting orders.

    .venv/bin/python bench/submit_bench.py [--orders 1000] [--rounds 3] [--max-in-flight 64]
                                           [--state-base DIR] [--compare-src DIR]

One standalone simulator (`qfex-runner sim --no-rate-limit --speed-bump-ms 0`, its own process)
serves every client; each round runs, interleaved so machine noise hits all alike:
  - bare:       the least possible client as its own process (python + websocket-client: auth,
                subscribe, then add_order / wait for the answer N times; no validation, no
                journal, no report) — the baseline;
  - bare, 64 unanswered: the same client keeping 64 add_orders in flight — what pipelining can
                gain at all on this link (on loopback the exchange's own service time, not the
                round trip, bounds it);
  - sequential: `qfex-runner run PLAYBOOK --url URL` (the default, one order at a time), the whole
                process: start-up, validation, reference data, journal, submission, report files;
  - pipelined:  the same with `--max-in-flight N`.
Every order is a LIMIT BUY far below the market, so it rests (fresh client_order_ids per round);
the account's open orders are cancelled before every measured client, so each starts from the
same account (the runner looks the account's open orders up before sending: exactly-once).
Speed ratios are bare seconds / runner seconds (> 1: the runner is faster). Targets (issue 6):
sequential >= 0.9x the bare loop; pipelined (64) >= 2x.

`--compare-src DIR` adds both runs once more with the runner of another checkout (e.g. `git
worktree add /tmp/before <commit>`), interleaved in the same rounds: before/after figures taken
under the same machine load, which on shared cores moves single figures by 20-50 %.

The journal (`--state-dir`) fsyncs before every send; where it lives decides a lot (an fsync
costs ~0.05 ms on tmpfs, ~0.5-3 ms on ext4/SSD), so the file system is printed; `--state-base`
puts it elsewhere (e.g. /dev/shm) to separate the disk from the runner.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    RUNNER,
    StandaloneSim,
    bare_client,
    cancel_all,
    child_env,
    filesystem_of,
    median,
    remove,
    runner_command,
    runner_run,
    submission_seconds,
    temp_workdir,
    write_resting_playbook,
)


def supports_max_in_flight(env: dict[str, str]) -> bool:
    done = subprocess.run([RUNNER, "run", "--help"], env=env, capture_output=True, text=True)
    return "--max-in-flight" in done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--state-base", type=Path, default=None,
                        help="where the runs' journals go (default: the bench's temp dir)")
    parser.add_argument("--compare-src", type=Path, default=None, metavar="DIR",
                        help="also run the runner of the checkout in DIR (before/after in one run)")
    args = parser.parse_args()

    work = temp_workdir("qfex-submit-bench-")
    env = child_env(pycache=work / "pycache")
    state_base = args.state_base or work
    state_base.mkdir(parents=True, exist_ok=True)
    pipelined = supports_max_in_flight(env)
    n = args.orders
    sources: dict[str, Path | None] = {"": None}
    if args.compare_src is not None:
        runner_command(args.compare_src)  # refuses a directory that is no checkout
        sources[f" ({args.compare_src.name})"] = args.compare_src
    try:
        with StandaloneSim(["--no-rate-limit", "--speed-bump-ms", "0"], env) as sim:
            # warm-up (byte-code caches, the simulator's first connection): not measured
            bare_client(sim.url, 20, "warm", env)
            for suffix, source in sources.items():
                runner_run(write_resting_playbook(work / f"warm{len(suffix)}.yaml", 20, name="warm",
                                                  run_id=f"w{len(suffix)}"),
                           sim.url, work, env, state_dir=state_base / f"warm{len(suffix)}", source=source)
            rows: dict[str, list[tuple[float, float]]] = {"bare": [], "bare-pipelined": []}
            for suffix in sources:
                rows[f"sequential{suffix}"] = []
                if pipelined:
                    rows[f"pipelined{suffix}"] = []
            for r in range(args.rounds):
                cancel_all(sim.url, env)
                rows["bare"].append(bare_client(sim.url, n, f"bare{r}", env))
                cancel_all(sim.url, env)
                rows["bare-pipelined"].append(bare_client(sim.url, n, f"barep{r}", env,
                                                          window=args.max_in_flight))
                variants = []
                for suffix, source in sources.items():
                    variants.append((f"sequential{suffix}", [], source))
                    if pipelined:
                        variants.append((f"pipelined{suffix}", ["--max-in-flight", str(args.max_in_flight)],
                                         source))
                for i, (label, extra, source) in enumerate(variants):
                    cancel_all(sim.url, env)
                    pb = write_resting_playbook(work / f"v{i}-{r}.yaml", n, name=f"submit-v{i}",
                                                run_id=f"r{r}")
                    whole, report = runner_run(pb, sim.url, work, env, extra=extra, source=source,
                                               state_dir=state_base / f"state-v{i}-{r}")
                    counts = report["summary"]["counts"]
                    if counts["passed"] != n:
                        raise SystemExit(f"{label} run {r}: {counts}")
                    rows[label].append((whole, submission_seconds(report)))
                print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                    f"{k} {v[-1][0]:.3f} s" for k, v in rows.items() if v), flush=True)
    finally:
        remove(work)

    bare_whole = median([w for w, _ in rows["bare"]])
    bare_loop = median([x for _, x in rows["bare"]])
    print()
    print(f"{n} resting orders, one standalone simulator (rate limit off, speed bump 0); "
          f"median of {args.rounds} rounds")
    print(f"journal on {filesystem_of(state_base)} ({state_base if args.state_base else 'temp dir'})")
    w = 36 + (len(args.compare_src.name) + 3 if args.compare_src is not None else 0)  # name column
    print(f"{'client':<{w}}{'whole process':>15}{'orders/s':>10}{'network phase':>15}{'speed vs bare':>15}")
    print(f"{'bare websocket-client loop':<{w}}{bare_whole:>13.3f} s{n / bare_whole:>10.0f}"
          f"{bare_loop:>13.3f} s{1.0:>14.2f}x")
    piped_whole = median([w for w, _ in rows["bare-pipelined"]])
    piped_loop = median([x for _, x in rows["bare-pipelined"]])
    label = f"bare client, {args.max_in_flight} unanswered"
    print(f"{label:<{w}}{piped_whole:>13.3f} s{n / piped_whole:>10.0f}"
          f"{piped_loop:>13.3f} s{bare_whole / piped_whole:>14.2f}x")
    targets = {"sequential": 0.9, "pipelined": 2.0}
    for label, runs in rows.items():
        if label.startswith("bare") or not runs:
            continue
        whole = median([w for w, _ in runs])
        phase = median([p for _, p in runs])
        kind, _, source = label.partition(" ")
        name = "qfex-runner run" + (f" --max-in-flight {args.max_in_flight}" if kind == "pipelined" else "")
        name += f" {source}" if source else ""
        ratio = bare_whole / whole
        verdict = "meets" if ratio >= targets[kind] else "MISSES"
        print(f"{name:<{w}}{whole:>13.3f} s{n / whole:>10.0f}{phase:>13.3f} s{ratio:>14.2f}x"
              f"   target >= {targets[kind]}x: {verdict}")
    if not pipelined:
        print("(this qfex-runner has no --max-in-flight: pipelined run skipped)")


if __name__ == "__main__":
    main()
