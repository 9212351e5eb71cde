"""Benchmark: `qfex-runner validate` vs check-jsonschema on a 10,000-order playbook with brackets.

    .venv/bin/python bench/validate_bench.py [--orders 10000] [--repeat 3]

Times, in one run on the same file and schema:
  1. `qfex-runner validate FILE` as a whole process (YAML + schema + trading rules + model),
  2. the same in-process (`runner.playbook.load.validate_file`, validator already compiled),
  3. `check-jsonschema --schemafile schemas/playbook.schema.json FILE` (schema only),
and prints the best of `--repeat` runs and the ratio. Target: runner >= 1.5x faster.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "playbook.schema.json"
SYMBOLS = [("AAPL-USD", 230), ("TSLA-USD", 340), ("NVDA-USD", 180), ("MSFT-USD", 510)]


def build_playbook(orders: int) -> str:
    """A realistic large playbook: LIMIT entries with brackets, some MARKET, ALO and stop orders."""
    lines = [
        "# yaml-language-server: $schema=../schemas/playbook.schema.json",
        "version: 1",
        "name: bench-10k",
        'run_id: "bench"',
        "defaults:",
        "  time_in_force: GTC",
        "limits:",
        "  symbols: [AAPL-USD, TSLA-USD, NVDA-USD, MSFT-USD]",
        "orders:",
    ]
    for i in range(orders):
        symbol, mid = SYMBOLS[i % len(SYMBOLS)]
        kind = i % 10
        price = f"{mid - 5 + (i % 100) / 100:.2f}"
        lines += [f"  - id: order-{i:05d}", f"    symbol: {symbol}"]
        if kind < 7:  # LIMIT BUY with an attached bracket
            lines += ["    side: BUY", "    type: LIMIT", f"    quantity: {1 + i % 5}.{i % 1000:03d}",
                      f"    price: {price}", "    bracket:", f"      take_profit: {mid + 20}.00",
                      f"      stop_loss: {mid - 20}.50", "      mode: attached"]
        elif kind == 7:  # ALO SELL above the market, bracket placed after the fill
            lines += ["    side: SELL", "    type: ALO", "    quantity: 0.5", f"    price: {mid + 5}.25",
                      f"    bracket: {{take_profit: {mid - 15}.00, stop_loss: {mid + 25}.00, "
                      "mode: after_fill}"]
        elif kind == 8:
            lines += ["    side: BUY", "    type: MARKET", '    quantity: "0.010"', "    wait: fill",
                      "    expect: filled"]
        else:
            lines += ["    side: SELL", "    type: TAKE_PROFIT", "    quantity: 0.010",
                      f"    price: {mid + 30}.00", "    reduce_only: true"]
    return "\n".join(lines) + "\n"


def best_of(repeat: int, fn) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), times


def run_process(args: list[str], expect: int = 0) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != expect:
        sys.exit(f"{args[0]} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one in-process validate")
    options = parser.parse_args()

    bindir = Path(sys.executable).parent
    runner_exe = shutil.which("qfex-runner", path=str(bindir)) or "qfex-runner"
    cjs_exe = shutil.which("check-jsonschema", path=str(bindir)) or shutil.which("check-jsonschema")
    if cjs_exe is None:
        sys.exit("check-jsonschema is not installed (pip install -e '.[test]')")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-10k.yaml"
        path.write_text(build_playbook(options.orders), encoding="utf-8")
        size = path.stat().st_size
        print(f"playbook: {options.orders:,} orders, {size / 1e6:.2f} MB, {path}")

        from runner.playbook.load import validate_file

        result = validate_file(path)
        if not result.ok:
            sys.exit("benchmark playbook is invalid:\n" + "\n".join(map(str, result.problems[:10])))
        in_proc, in_times = best_of(options.repeat, lambda: validate_file(path))
        whole, whole_times = best_of(options.repeat, lambda: run_process([runner_exe, "validate", str(path)]))
        cjs, cjs_times = best_of(options.repeat, lambda: run_process(
            [cjs_exe, "--schemafile", str(SCHEMA), str(path)]))

        def show(label: str, best: float, times: list[float]) -> None:
            print(f"{label:<44} best {best:7.3f} s   median {statistics.median(times):7.3f} s")

        show("qfex-runner validate (in-process)", in_proc, in_times)
        show("qfex-runner validate (whole process)", whole, whole_times)
        show("check-jsonschema (whole process, schema only)", cjs, cjs_times)
        print(f"ratio check-jsonschema / qfex-runner (whole process): {cjs / whole:.2f}x  (target >= 1.5x)")

        if options.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(validate_file, path)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
