"""Own CPU per order, phase by phase: where the runner's cost per order goes.

    .venv/bin/python bench/phase_bench.py [--sizes 300 1500] [--rounds 3] [--window 64]
                                          [--compare-src DIR]

`slope_bench` says what a run costs per order; on a 2-vCPU machine where the runner and the
simulator take turns on one CPU that is about the runner's own CPU plus the simulator's, so the
runner's own CPU is what a change can move. This splits it: each phase of `run` (reading the
playbook, validating it, building the run, reconciling, submitting, the end-of-run wait and
judgement, the risk preview, the three report files) is wrapped in its child process and its
`time.process_time` summed; "the rest" is the process's CPU outside them (imports, connecting,
the console summary, exit). Per order = the slope between the two sizes (medians), sequential and
with `--max-in-flight W`. The CLI runs as installed (`main()`, its garbage-collector settings
included). Phases a checkout does not have are left out of its rows (`--compare-src DIR`: the
checkout in DIR in the same rounds). One standalone simulator; journals on tmpfs when /dev/shm
exists; the account's open orders cancelled before each run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
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

#: `python -c PROBE DIR OUT args...`: qfex-runner from DIR, each phase's CPU seconds written to OUT
PROBE = FROM_CHECKOUT + r'''
import atexit, json, time
out = sys.argv.pop(1)
sys.argv[0] = 'qfex-runner'
import importlib
spent = {}
def wrap(module, owner, name, label):
    try:
        holder = importlib.import_module(module)
        holder = getattr(holder, owner) if owner else holder
        real = holder.__dict__[name]
    except (ImportError, AttributeError, KeyError):
        return  # an older or newer checkout without this phase
    kind = type(real)
    function = real.__func__ if kind in (classmethod, staticmethod) else real
    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - start
    setattr(holder, name, kind(timed) if kind in (classmethod, staticmethod) else timed)
PHASES = json.loads(sys.argv.pop(1))
for module, owner, name, label in PHASES:
    wrap(module, owner, name, label)
def report():
    spent["total"] = time.process_time()
    with open(out, "w") as f:
        json.dump(spent, f)
atexit.register(report)  # before the CLI's own: runs after them, at the very end
import runner.cli
runner.cli.main()
'''

#: (module, class or "", function, label): the phases of `run`, in the order they happen
PHASES = [
    ("runner.run.engine", "", "read_playbook", "read the playbook"),
    ("runner.run.engine", "", "checked_playbook", "validate"),
    ("runner.run.engine", "", "reference_data", "reference data"),
    ("runner.run.engine", "", "build_run", "build the run"),
    ("runner.state.placements", "Placements", "reconcile", "reconcile"),
    ("runner.run.flow", "OrderFlow", "submit", "submit"),
    ("runner.run.pipeline", "Pipeline", "submit", "submit"),
    ("runner.run.finish", "Finish", "drain", "end-of-run wait"),
    ("runner.run.finish", "Finish", "final_judgement", "final judgement"),
    ("runner.run.engine", "", "risk_of_run", "risk preview"),
    ("runner.run.report_files", "", "save_report", "report files"),
]


def probe(source: Path, playbook: Path, url: str, work: Path, state: Path, env: dict[str, str],
          extra: list[str]) -> dict[str, float]:
    out = work / f"phases-{time.monotonic_ns()}.json"
    done = subprocess.run([PYTHON, "-c", PROBE, str(source), str(out), json.dumps(PHASES),
                           "run", str(playbook), "--url", url, "--state-dir", str(state),
                           "--report-dir", str(work / f"report-{time.monotonic_ns()}"),
                           "--no-progress", "--format", "json", *extra],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"run exited {done.returncode}:\n{done.stderr[-2000:]}")
    spent: dict[str, float] = json.loads(out.read_text())
    spent["the rest"] = spent["total"] - sum(v for k, v in spent.items() if k != "total")
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[300, 1500], metavar=("SMALL", "LARGE"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--compare-src", type=Path, default=None, metavar="DIR")
    args = parser.parse_args()
    small, large = args.sizes
    work = temp_workdir("qfex-phase-bench-")
    shm = Path("/dev/shm")
    states = Path(tempfile.mkdtemp(prefix="qfex-phase-bench-", dir=shm if shm.is_dir() else None))
    env = child_env(pycache=work / "pycache")
    sources = {"runner": ROOT}
    if args.compare_src is not None:
        if not (args.compare_src / "runner" / "cli.py").is_file():
            raise SystemExit(f"{args.compare_src}: not a qfex-runner checkout (no runner/cli.py)")
        sources[f"runner ({args.compare_src.name})"] = args.compare_src.resolve()
    modes = {"sequential": [], f"--max-in-flight {args.window}": ["--max-in-flight", str(args.window)]}
    # (client, mode, size) -> one dict of phase seconds per round
    seen: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    try:
        with StandaloneSim(["--no-rate-limit", "--speed-bump-ms", "0"], env) as sim:
            for r in range(args.rounds + 1):  # round 0 warms the byte-code caches, not counted
                sizes = (small, large) if r % 2 else (large, small)
                for mode, extra in modes.items():
                    for client, source in sources.items():
                        for size in sizes:
                            cancel_all(sim.url, env)
                            tag = f"p{r}{time.monotonic_ns()}"
                            pb = write_resting_playbook(work / f"{tag}.yaml", size, name="phases", run_id=tag)
                            spent = probe(source, pb, sim.url, work, states / tag, env, extra)
                            if r:
                                seen.setdefault((client, mode, size), []).append(spent)
                if r:
                    print(f"round {r}/{args.rounds} done", flush=True)
    finally:
        remove(work)
        remove(states)
    labels = list(dict.fromkeys([label for *_, label in PHASES] + ["the rest", "total"]))
    print(f"\nown CPU per order (slope of the median CPU seconds between {small} and {large} resting orders, "
          f"{args.rounds} rounds)")
    columns = [(client, mode) for mode in modes for client in sources]
    width = max(len(f"{c}, {m}") for c, m in columns) + 2
    print(f"{'phase':<20}" + "".join(f"{c + ', ' + m:>{width}}" for c, m in columns))
    for label in labels:
        cells = []
        for client, mode in columns:
            lo, hi = seen[(client, mode, small)], seen[(client, mode, large)]
            if not any(label in x for x in hi):
                cells.append(f"{'-':>{width}}")
                continue
            slope = (statistics.median(x.get(label, 0.0) for x in hi)
                     - statistics.median(x.get(label, 0.0) for x in lo)) / (large - small)
            cells.append(f"{slope * 1e6:>{width - 3}.1f} µs")
        print(f"{label:<20}" + "".join(cells))


if __name__ == "__main__":
    main()
