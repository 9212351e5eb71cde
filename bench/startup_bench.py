"""Start-up cost: `qfex-runner --help` and `validate` of a small playbook vs `python -c pass`.

    .venv/bin/python bench/startup_bench.py [--repeat 15]

Each command runs as a whole process, `--repeat` times interleaved (after one warm-up that fills
the byte-code cache, as an installed package has), and the median wall time is printed with its
cost over the bare interpreter. Target (issue 6): `--help` < 150 ms over `python -c pass`, which
needs the heavy modules (websocket-client, jsonschema, the simulator, yaml) imported lazily.
The modules `--help` imports beyond the interpreter's own are listed, heaviest first.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, ROOT, RUNNER, child_env, median, remove, temp_workdir, timed

HEAVY = ("websocket", "jsonschema", "yaml", "runner.simulator", "websockets", "asyncio", "urllib.request")


def import_profile(cmd: list[str], env: dict[str, str]) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of every top-level import `cmd` makes (-X importtime)."""
    done = subprocess.run([PYTHON, "-X", "importtime", *cmd], env=env, capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split(":", 1)[1].split("|")
        if name.startswith("  "):  # nested import: counted in its parent's cumulative time
            continue
        if cumulative.strip().isdigit():
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    work = temp_workdir("qfex-startup-bench-")
    env = child_env(pycache=work / "pycache")
    small = ROOT / "playbooks" / "quickstart.yaml"
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "qfex-runner --help": [RUNNER, "--help"],
        "qfex-runner run --help": [RUNNER, "run", "--help"],
        "qfex-runner validate quickstart.yaml": [RUNNER, "validate", str(small)],
    }
    try:
        for cmd in commands.values():  # warm-up: byte-code cache
            timed(cmd, env)
        times: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                times[name].append(timed(cmd, env)[0])
        base = median(times["python -c pass"])
        print(f"median of {args.repeat} runs each (whole process, warm byte-code cache)")
        print(f"{'command':<40}{'median':>10}{'over python':>14}")
        for name in commands:
            m = median(times[name])
            extra = "" if name == "python -c pass" else f"{(m - base) * 1000:>11.1f} ms"
            print(f"{name:<40}{m * 1000:>7.1f} ms{extra}")
        over = (median(times["qfex-runner --help"]) - base) * 1000
        print(f"\n--help costs {over:.1f} ms over the interpreter: target < 150 ms: "
              f"{'meets' if over < 150 else 'MISSES'}")
        profile = import_profile(["-m", "runner", "--help"], env)
        heavy = [name for _, name in profile if name.split(".")[0] in {h.split(".")[0] for h in HEAVY}
                 and any(name == h or name.startswith(h + ".") for h in HEAVY)]
        print("heavy modules imported by --help: " + (", ".join(heavy) or "none"))
        print("largest imports of --help (cumulative):")
        for micros, name in profile[:8]:
            print(f"  {micros / 1000:7.1f} ms  {name}")
    finally:
        remove(work)


if __name__ == "__main__":
    main()
