"""Marginal cost per order: the runner vs the least possible exactly-once client, at two sizes.

    .venv/bin/python bench/slope_bench.py [--sizes 300 1500] [--rounds 3] [--window 64]
                                          [--stop] [--compare-src DIR]

Whole-process seconds at two playbook sizes give each client's cost per order (the slope,
(T_large - T_small) / (large - small)) apart from its fixed cost (the intercept: start-up,
validation set-up, connect, reports), which the per-order targets of issue 18 leave aside.

One standalone simulator (`qfex-runner sim --no-rate-limit --speed-bump-ms 0`) serves every
client. Each round runs every client at both sizes, interleaved (sizes in alternating order), the
account's open orders cancelled before each, so machine noise hits all alike; medians per cell:
  - anchor:          `bench/_anchor_client.py`, its own process: websocket-client, auth,
                     subscribe, and before each send one appended, fsync'd intent line (the orders
                     refilling a window group-committed) — the least an exactly-once client does;
  - runner:          `qfex-runner run` (on_reject: continue), sequential and `--max-in-flight W`;
  - `--stop`:        the runner with `on_reject: stop` and `--max-in-flight W` (which has no effect
                     there, and should cost nothing over a sequential run), next to its sequential run;
  - `--compare-src DIR`: the runner rows once more with the checkout in DIR (before/after).
Besides the whole processes, each run is split in phases (medians, each with its own slope):
  - submission: first order sent to last answered (the runner's report.json; the anchor prints its
    loop, first intent to last answer) — window W: <= 1.1x the anchor's;
  - reports: from the run's end (report.json's `ended_at`) to the process's exit (provenance, the
    three report files, the summary on stdout) — work the anchor does not do;
  - validation: `qfex-runner validate` of the same playbooks, whole process (its slope is the
    per-order cost of checking a playbook, also work the anchor does not do);
  - first order on the wire: process start to the first `sent_at` (its slope is validation's),
    and the fixed cost itself: the same for a 1-order playbook, twice per round (<= 150 ms);
  - `validate` of `playbooks/quickstart.yaml` over `python -c pass` (< 100 ms), three per round.
Targets (issue 18): sequential slope <= 1.1x the anchor's; window-W whole-process slope <= 1.7x
the anchor's with the same window (on_reject: stop rows are held to the sequential anchor).
The journals (the anchor's and the runner's) go to the same directory (`--state-base`).
CPU per order: each client process's own CPU (user + system, from the children's rusage) and the
simulator's while it served that client (Linux scheduler statistics), as slopes: on a machine where
the client and the simulator take turns on one CPU (a 2-vCPU VM over loopback: a socket's wake-up
runs the woken process on the waker's CPU), a whole-process slope is about their sum.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    PYTHON,
    ROOT,
    RUNNER,
    StandaloneSim,
    cancel_all,
    child_env,
    children_cpu_seconds,
    filesystem_of,
    median,
    process_cpu_seconds,
    remove,
    runner_command,
    runner_run,
    submission_seconds,
    temp_workdir,
    timed,
    write_resting_playbook,
)

ANCHOR = str(Path(__file__).resolve().parent / "_anchor_client.py")
TARGETS = {1: 1.1}  # sequential; any window: 1.7
WINDOW_TARGET = 1.7


def anchor_seconds(url: str, orders: int, tag: str, window: int, journal: Path,
                   env: dict[str, str]) -> tuple[float, float]:
    """(whole process, submission loop) seconds of the anchor client (its journal removed afterwards)."""
    elapsed, out = timed([PYTHON, ANCHOR, url, str(orders), tag, str(window), str(journal)], env)
    journal.unlink(missing_ok=True)
    return elapsed, float(out.strip().splitlines()[-1])


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def phases(report: dict, spawned: float, whole: float) -> dict[str, float]:
    """A run's phases from its report.json: submission (first send to last answer), reports (the
    run's end to the process's exit) and the first order on the wire (spawn to first send)."""
    sent = [_stamp(o["sent_at"]) for o in report["orders"] if o.get("sent_at")]
    return {"submission": submission_seconds(report),
            "reports": spawned + whole - _stamp(report["summary"]["ended_at"]),
            "first order": min(sent) - spawned if sent else float("nan")}


def slope_and_intercept(small: int, large: int, t_small: float, t_large: float) -> tuple[float, float]:
    slope = (t_large - t_small) / (large - small)
    return slope, t_small - slope * small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[300, 1500], metavar=("SMALL", "LARGE"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--stop", action="store_true",
                        help="also the runner with on_reject: stop, sequential and --max-in-flight W")
    parser.add_argument("--state-base", type=Path, default=None,
                        help="where the journals go (default: the bench's temp dir)")
    parser.add_argument("--compare-src", type=Path, default=None, metavar="DIR",
                        help="also run the runner of the checkout in DIR (before/after in one run)")
    args = parser.parse_args()
    small, large = sorted(args.sizes)
    if small == large:
        raise SystemExit("--sizes: two different sizes")
    window = args.window

    work = temp_workdir("qfex-slope-bench-")
    env = child_env(pycache=work / "pycache")
    state_base = args.state_base or work
    state_base.mkdir(parents=True, exist_ok=True)
    sources: dict[str, Path | None] = {"": None}
    if args.compare_src is not None:
        runner_command(args.compare_src)  # refuses a directory that is no checkout
        sources[f" ({args.compare_src.name})"] = args.compare_src
    # (label, kind, window, on_reject, source); kind: anchor | runner
    variants: list[tuple[str, str, int, str, Path | None]] = [
        ("anchor, sequential", "anchor", 1, "", None),
        (f"anchor, window {window}", "anchor", window, "", None)]
    for suffix, source in sources.items():
        variants += [(f"runner, sequential{suffix}", "runner", 1, "continue", source),
                     (f"runner, --max-in-flight {window}{suffix}", "runner", window, "continue", source)]
        if args.stop:
            variants += [(f"runner, on_reject stop, sequential{suffix}", "runner", 1, "stop", source),
                         (f"runner, on_reject stop, --max-in-flight {window}{suffix}", "runner", window,
                          "stop", source)]
    times: dict[tuple[str, int], list[float]] = {(v[0], n): [] for v in variants for n in (small, large)}
    parts: dict[tuple[str, str, int], list[float]] = {}  # (label, phase, size) -> seconds
    starts: dict[str, list[float]] = {"python -c pass": [], "validate quickstart.yaml": []}

    def note(label: str, phase: str, n: int, seconds: float) -> None:
        parts.setdefault((label, phase, n), []).append(seconds)
    try:
        with StandaloneSim(["--no-rate-limit", "--speed-bump-ms", "0"], env) as sim:
            anchor_seconds(sim.url, 20, "warm", 1, state_base / "warm.jsonl", env)  # not measured
            timed([RUNNER, "validate", str(ROOT / "playbooks" / "quickstart.yaml")], env)
            for i, source in enumerate(sources.values()):
                runner_run(write_resting_playbook(work / f"warm{i}.yaml", 20, name="warm", run_id=f"w{i}"),
                           sim.url, work, env, state_dir=state_base / f"warm{i}", source=source)
            for r in range(args.rounds):
                for n in ((small, large) if r % 2 == 0 else (large, small)):
                    for v, (label, kind, win, on_reject, source) in enumerate(variants):
                        cancel_all(sim.url, env)
                        tag = f"r{r}v{v}n{n}"
                        sim_cpu, own_cpu = process_cpu_seconds(sim.proc.pid), children_cpu_seconds()
                        if kind == "anchor":
                            whole, loop = anchor_seconds(sim.url, n, tag, win, state_base / f"{tag}.jsonl",
                                                         env)
                            note(label, "submission", n, loop)
                        else:
                            pb = write_resting_playbook(work / f"{tag}.yaml", n, name=f"slope-{tag}",
                                                        run_id=tag, on_reject=on_reject)
                            extra = ["--max-in-flight", str(win)] if win > 1 else []
                            spawned = time.time()
                            whole, report = runner_run(pb, sim.url, work, env, extra=extra, source=source,
                                                       state_dir=state_base / f"state-{tag}")
                            counts = report["summary"]["counts"]
                            if counts["passed"] != n:
                                raise SystemExit(f"{label}, {n} orders, round {r}: {counts}")
                            for phase, seconds in phases(report, spawned, whole).items():
                                note(label, phase, n, seconds)
                            if v == 2:  # validation of the same playbook, once per size and round
                                note("validate", "whole", n, timed([RUNNER, "validate", str(pb)], env)[0])
                        times[(label, n)].append(whole)
                        sim_after = process_cpu_seconds(sim.proc.pid)
                        note(label, "own CPU", n, children_cpu_seconds() - own_cpu)
                        if sim_cpu is not None and sim_after is not None:
                            note(label, "simulator CPU", n, sim_after - sim_cpu)
                for i, (suffix, source) in enumerate(sources.items()):  # fixed cost: a 1-order playbook
                    for k in range(2):
                        cancel_all(sim.url, env)
                        tag = f"r{r}s{i}k{k}"
                        pb = write_resting_playbook(work / f"one-{tag}.yaml", 1, name="first", run_id=tag)
                        spawned = time.time()
                        whole, report = runner_run(pb, sim.url, work, env, source=source,
                                                   state_dir=state_base / f"state-one-{tag}")
                        first = phases(report, spawned, whole)["first order"]
                        note(f"one order{suffix}", "first order", 1, first)
                for _ in range(3):  # start-up: interleaved, three each per round
                    starts["python -c pass"].append(timed([PYTHON, "-c", "pass"], env)[0])
                    starts["validate quickstart.yaml"].append(
                        timed([RUNNER, "validate", str(ROOT / "playbooks" / "quickstart.yaml")], env)[0])
                print(f"round {r + 1}/{args.rounds} done", flush=True)
    finally:
        remove(work)

    print()
    print(f"{small} and {large} resting orders, one standalone simulator (rate limit off, speed bump 0); "
          f"whole processes, median of {args.rounds} rounds; journals on {filesystem_of(state_base)}")
    w = max(len(v[0]) for v in variants) + 2
    print(f"{'client':<{w}}{f'{small} orders':>12}{f'{large} orders':>12}{'per order':>12}"
          f"{'fixed':>10}{'slope vs anchor':>17}")
    anchor_slope: dict[int, float] = {}
    for label, kind, win, on_reject, _ in variants:
        t_small, t_large = median(times[(label, small)]), median(times[(label, large)])
        slope, intercept = slope_and_intercept(small, large, t_small, t_large)
        line = (f"{label:<{w}}{t_small:>10.3f} s{t_large:>10.3f} s{slope * 1e6:>9.0f} µs"
                f"{intercept * 1000:>7.0f} ms")
        if kind == "anchor":
            anchor_slope[win] = slope
        else:
            # on_reject: stop makes every run sequential: its rows are held to the sequential anchor
            like = 1 if on_reject == "stop" else win
            if anchor_slope[like] <= 0:
                print(f"{line}{'n/a':>17}   (the anchor's slope is lost in noise: larger sizes)")
                continue
            ratio = slope / anchor_slope[like]
            target = TARGETS.get(like, WINDOW_TARGET)
            line += f"{ratio:>16.2f}x   target <= {target}x: {'meets' if ratio <= target else 'MISSES'}"
        print(line)

    print()
    print("phases (median seconds; per order = slope between the two sizes)")
    print(f"{'client':<{w}}{'phase':<14}{f'{small} orders':>12}{f'{large} orders':>12}{'per order':>12}"
          f"{'vs anchor':>11}")
    anchor_loop: dict[int, float] = {}
    for label, kind, win, on_reject, _ in variants:
        for phase in ("submission", "reports", "first order"):
            if (label, phase, small) not in parts:
                continue
            t_small, t_large = median(parts[(label, phase, small)]), median(parts[(label, phase, large)])
            slope, _ = slope_and_intercept(small, large, t_small, t_large)
            line = f"{label:<{w}}{phase:<14}{t_small:>10.3f} s{t_large:>10.3f} s{slope * 1e6:>9.0f} µs"
            if phase == "submission" and kind == "anchor":
                anchor_loop[win] = slope
            elif phase == "submission" and on_reject != "stop" and anchor_loop.get(win, 0) > 0:
                ratio = slope / anchor_loop[win]
                line += f"{ratio:>10.2f}x"
                if win > 1:
                    line += f"   target <= 1.1x: {'meets' if ratio <= 1.1 else 'MISSES'}"
            print(line)
    print()
    print("CPU per order (slope of the median CPU seconds): the client process's own (user + system; the "
          "runner's: validation, submission, reports) and the simulator's, serving it")
    print(f"{'client':<{w}}{'own':>10}{'simulator':>11}{'sum':>9}{'whole':>9}")
    for label, *_ in variants:
        cpu = {}
        for phase in ("own CPU", "simulator CPU"):
            if (label, phase, small) in parts:
                cpu[phase] = slope_and_intercept(small, large, median(parts[(label, phase, small)]),
                                                 median(parts[(label, phase, large)]))[0]
        whole_slope = slope_and_intercept(small, large, median(times[(label, small)]),
                                          median(times[(label, large)]))[0]
        own, served = cpu.get("own CPU"), cpu.get("simulator CPU")
        shown = [f"{x * 1e6:>6.0f} µs" if x is not None else f"{'?':>9}" for x in (own, served)]
        total = f"{(own + served) * 1e6:>6.0f} µs" if own is not None and served is not None else f"{'?':>9}"
        print(f"{label:<{w}}{shown[0]:>10}{shown[1]:>11}{total:>9}{whole_slope * 1e6:>6.0f} µs")
    v_small = median(parts[("validate", "whole", small)])
    v_large = median(parts[("validate", "whole", large)])
    v_slope, _ = slope_and_intercept(small, large, v_small, v_large)
    print(f"{'qfex-runner validate':<{w}}{'whole':<14}{v_small:>10.3f} s{v_large:>10.3f} s"
          f"{v_slope * 1e6:>9.0f} µs")

    print()
    for suffix in sources:
        firsts = parts[(f"one order{suffix}", "first order", 1)]
        first = median(firsts)
        print(f"fixed cost{suffix or ''}: process start to the first order on the wire, a 1-order playbook "
              f"(--url, median of {len(firsts)}): {first * 1000:.1f} ms   target <= 150 ms: "
              f"{'meets' if first <= 0.150 else 'MISSES'}")
    base = median(starts["python -c pass"])
    over = median(starts["validate quickstart.yaml"]) - base
    print(f"validate playbooks/quickstart.yaml: {over * 1000:.1f} ms over `python -c pass` "
          f"({base * 1000:.1f} ms; median of {len(starts['python -c pass'])})   target < 100 ms: "
          f"{'meets' if over < 0.100 else 'MISSES'}")


if __name__ == "__main__":
    main()
