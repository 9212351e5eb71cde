"""CPU per order and CPU to the first order: the runner's own work, less moved by a loaded machine.

    .venv/bin/python bench/cpu_bench.py [--orders 1500] [--rounds 5] [--compare-src DIR]

On a shared machine whole-process times move with the other processes and the disk (`slope_bench`
is the one the targets are read from). This measures what the runner itself burns, in its own
process: user CPU (`getrusage`) around the submission (`OrderFlow.submit` / `Pipeline.submit`)
per order, sequential and `--max-in-flight 64`, with `on_reject: continue` and `stop`; and the CPU
(user + system) from process start to its first order on the wire (a 1-order playbook). Journals
on tmpfs when /dev/shm exists (fsync's wait is not CPU; `slope_bench` measures it). One standalone
simulator; rounds interleaved; medians. `--compare-src DIR`: the checkout in DIR in the same rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    FROM_CHECKOUT,
    PYTHON,
    ROOT,
    StandaloneSim,
    cancel_all,
    child_env,
    remove,
    temp_workdir,
    write_resting_playbook,
)

#: `python -c PROBE DIR args...`: qfex-runner from DIR, printing "<CPU at the first send> <user CPU
#: of the submission>" (seconds) on its last stderr line
PROBE = FROM_CHECKOUT + r'''
import resource, time
sys.argv[0] = 'qfex-runner'
import runner.cli, runner.run.flow as flow, runner.run.pipeline as pipeline, runner.run.send as send
first, submit = [], [0.0]
def cpu(): r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
real_send = send.Sender.send
def sending(self, *a, **k):
    if not first:
        first.append(cpu())
    return real_send(self, *a, **k)
send.Sender.send = sending
for cls in (flow.OrderFlow, pipeline.Pipeline):
    def wrap(real):
        def timed_submit(self):
            start = resource.getrusage(resource.RUSAGE_SELF).ru_utime
            try:
                return real(self)
            finally:
                submit[0] += resource.getrusage(resource.RUSAGE_SELF).ru_utime - start
        return timed_submit
    cls.submit = wrap(cls.submit)
try:
    runner.cli.main()
except SystemExit:
    pass
print(f"{first[0] if first else float('nan')} {submit[0]}", file=sys.stderr)
'''

VARIANTS = [("sequential", [], "continue"), ("--max-in-flight 64", ["--max-in-flight", "64"], "continue"),
            ("on_reject stop, sequential", [], "stop"),
            ("on_reject stop, --max-in-flight 64", ["--max-in-flight", "64"], "stop")]


def run_probe(source: Path, playbook: Path, url: str, work: Path, state: Path, env: dict[str, str],
              extra: list[str]) -> tuple[float, float]:
    import subprocess

    done = subprocess.run([PYTHON, "-c", PROBE, str(source), "run", str(playbook), "--url", url,
                           "--report-dir", str(work / f"report-{time.monotonic_ns()}"), "--state-dir",
                           str(state), "--no-progress", "--format", "json", *extra],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"run exited {done.returncode}:\n{done.stderr[-2000:]}")
    first, submit = done.stderr.strip().splitlines()[-1].split()
    return float(first), float(submit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare-src", type=Path, default=None, metavar="DIR")
    args = parser.parse_args()
    work = temp_workdir("qfex-cpu-bench-")
    shm = Path("/dev/shm")
    states = Path(tempfile.mkdtemp(prefix="qfex-cpu-bench-", dir=shm if shm.is_dir() else None))
    env = child_env(pycache=work / "pycache")
    sources = {"": ROOT}
    if args.compare_src is not None:
        if not (args.compare_src / "runner" / "cli.py").is_file():
            raise SystemExit(f"{args.compare_src}: not a qfex-runner checkout (no runner/cli.py)")
        sources[f" ({args.compare_src.name})"] = args.compare_src.resolve()
    per_order: dict[str, list[float]] = {}
    firsts: dict[str, list[float]] = {}
    try:
        with StandaloneSim(["--no-rate-limit", "--speed-bump-ms", "0"], env) as sim:
            for r in range(args.rounds + 1):  # round 0 warms the byte-code caches, not counted
                for label, extra, on_reject in VARIANTS:
                    for suffix, source in sources.items():
                        cancel_all(sim.url, env)
                        tag = f"r{r}{time.monotonic_ns()}"
                        pb = write_resting_playbook(work / f"{tag}.yaml", args.orders, name="cpu", run_id=tag,
                                                    on_reject=on_reject)
                        _, submit = run_probe(source, pb, sim.url, work, states / tag, env, extra)
                        if r:
                            per_order.setdefault(label + suffix, []).append(submit / args.orders)
                for suffix, source in sources.items():
                    for k in range(3):
                        cancel_all(sim.url, env)
                        tag = f"one{r}{k}{time.monotonic_ns()}"
                        pb = write_resting_playbook(work / f"{tag}.yaml", 1, name="cpu1", run_id=tag)
                        first, _ = run_probe(source, pb, sim.url, work, states / tag, env, [])
                        if r:
                            firsts.setdefault(suffix, []).append(first)
                if r:
                    print(f"round {r}/{args.rounds} done", flush=True)
    finally:
        remove(work)
        remove(states)
    print(f"\nuser CPU of the submission per order ({args.orders} resting orders, median of {args.rounds})")
    for label, values in per_order.items():
        print(f"  {label:<50}{statistics.median(values) * 1e6:>8.0f} µs")
    print("CPU (user + system) from process start to the first order on the wire, 1-order playbook")
    for suffix, values in firsts.items():
        print(f"  {'runner' + suffix:<50}{statistics.median(values) * 1000:>8.1f} ms   "
              f"(min {min(values) * 1000:.1f}, n={len(values)})")


if __name__ == "__main__":
    main()
