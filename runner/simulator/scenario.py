"""Scenarios: scripted fair-price paths per symbol, so a playbook can be rehearsed against a moving market.

File format (YAML or JSON); times are relative to the exchange's start:

    name: aapl-rally                 # optional
    description: AAPL climbs to 245  # optional
    starts: first_order              # optional: exchange_start (default) or first_order — times
                                     # count from the first add_order the exchange receives, so a
                                     # rehearsal plays out the same however late the runner connects
    symbols:
      AAPL-USD:
        start: 230.00                # optional: fair price at time 0 (default: refdata underlier_price)
        steps:                       # jump to `mid` at time `at` (2s, 500ms, 1.5m, or seconds)
          - at: 2s
            mid: 232.50
          - at: 4s
            mid: 236.00
      TSLA-USD:
        random_walk:                 # seeded geometric random walk
          interval: 1s               # one step per interval
          drift: 0.0005              # mean relative move per step
          volatility: 0.002          # standard deviation of the relative move per step
          steps: 120                 # optional: stop after this many steps
          seed: 7                    # optional (default: the exchange's --seed)

The engine moves the market maker's ladder to each new fair price; the mark price (median of bid, ask
and last trade) follows, resting orders that are crossed get filled and stops trigger.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

from runner.simulator import yamlnodes as yn

_WALK_PLACES = Decimal("0.000000000001")


@dataclass(frozen=True)
class StepsPath:
    start: Decimal | None
    steps: tuple[tuple[float, Decimal], ...]


@dataclass(frozen=True)
class WalkPath:
    start: Decimal | None
    interval: float
    drift: Decimal
    volatility: Decimal
    steps: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Scenario:
    paths: dict[str, StepsPath | WalkPath]
    name: str = ""
    description: str = ""
    source: str = field(default="", compare=False)
    #: exchange_start | first_order: what the steps' times count from
    starts: str = "exchange_start"

    def runner(self, start_time: float, seed: int) -> ScenarioRunner:
        return ScenarioRunner(self, start_time, seed)


class ScenarioRunner:
    """Replays a Scenario against the engine's clock."""

    def __init__(self, scenario: Scenario, start_time: float, seed: int) -> None:
        self._t0 = start_time
        #: `starts: first_order`: nothing moves until `begin` (the first add_order) sets the start
        self.waiting = scenario.starts == "first_order"
        self._paths = scenario.paths
        self.symbols = tuple(scenario.paths)
        self._next_index: dict[str, int] = dict.fromkeys(self.symbols, 0)
        self._walk_mid: dict[str, Decimal | None] = {}
        self._walk_rng: dict[str, random.Random] = {}
        for symbol, path in self._paths.items():
            if isinstance(path, WalkPath):
                self._walk_mid[symbol] = path.start
                walk_seed = seed if path.seed is None else path.seed
                self._walk_rng[symbol] = random.Random(f"qfex-sim-walk:{walk_seed}:{symbol}")

    def begin(self, now: float) -> None:
        """`starts: first_order`: the clock of the steps starts now (called once, on the first order)."""
        if self.waiting:
            self.waiting = False
            self._t0 = now

    def initial(self) -> dict[str, Decimal]:
        return {s: p.start for s, p in self._paths.items() if p.start is not None}

    def set_base(self, symbol: str, mid: Decimal) -> None:
        """The starting price of a walk without `start` (the market's current fair price)."""
        if self._walk_mid.get(symbol, mid) is None:
            self._walk_mid[symbol] = mid

    def _time_of(self, symbol: str, index: int) -> float | None:
        path = self._paths[symbol]
        if isinstance(path, StepsPath):
            return self._t0 + path.steps[index][0] if index < len(path.steps) else None
        if path.steps is not None and index >= path.steps:
            return None
        return self._t0 + path.interval * (index + 1)

    def next_time(self) -> float | None:
        if self.waiting:
            return None
        times = [t for s in self.symbols if (t := self._time_of(s, self._next_index[s])) is not None]
        return min(times) if times else None

    def due(self, now: float) -> dict[str, Decimal]:
        """The latest fair price of every symbol whose next point is due at `now`."""
        moves: dict[str, Decimal] = {}
        if self.waiting:
            return moves
        for symbol in self.symbols:
            path = self._paths[symbol]
            while True:
                index = self._next_index[symbol]
                when = self._time_of(symbol, index)
                if when is None or when > now:
                    break
                self._next_index[symbol] = index + 1
                if isinstance(path, StepsPath):
                    moves[symbol] = path.steps[index][1]
                else:
                    mid = self._walk_mid[symbol]
                    if mid is None:
                        break
                    shock = Decimal(repr(self._walk_rng[symbol].gauss(0.0, 1.0)))
                    mid = (mid * (1 + path.drift + path.volatility * shock)).quantize(_WALK_PLACES)
                    self._walk_mid[symbol] = mid
                    moves[symbol] = mid
        return moves


# ------------------------------------------------------------------------------------------ loading

_TOP_KEYS = {"name", "description", "symbols", "starts"}
_STARTS = ("exchange_start", "first_order")
_SYMBOL_KEYS = {"start", "steps", "random_walk"}
_STEP_KEYS = {"at", "mid"}
_WALK_KEYS = {"interval", "drift", "volatility", "steps", "seed"}


def load_scenario_file(path: str | Path) -> Scenario:
    """Read and check a scenario file; problems raise ConfigError as `file:line:col: message`."""
    name, root = yn.compose_file(path)
    top = yn.mapping(name, root, "scenario")
    yn.reject_unknown(name, top, _TOP_KEYS, "scenario")
    if "symbols" not in top:
        raise yn.error(name, root, "scenario: missing 'symbols' (a mapping of symbol -> path)")
    title = yn.string(name, top["name"][1], "name") if "name" in top else ""
    description = yn.string(name, top["description"][1], "description") if "description" in top else ""
    symbols = yn.mapping(name, top["symbols"][1], "symbols")
    if not symbols:
        raise yn.error(name, top["symbols"][1], "symbols: no symbol given")
    paths: dict[str, StepsPath | WalkPath] = {}
    for symbol, (_, node) in symbols.items():
        paths[symbol] = _path(name, symbol, node)
    starts = yn.string(name, top["starts"][1], "starts") if "starts" in top else _STARTS[0]
    if starts not in _STARTS:
        raise yn.error(name, top["starts"][1], f"starts: {starts!r} is not one of {', '.join(_STARTS)}")
    return Scenario(paths, title, description, source=name, starts=starts)


def _path(name: str, symbol: str, node: yaml.Node) -> StepsPath | WalkPath:
    fields = yn.mapping(name, node, symbol)
    yn.reject_unknown(name, fields, _SYMBOL_KEYS, symbol)
    start = (
        yn.decimal(name, fields["start"][1], f"{symbol}.start", positive=True) if "start" in fields else None
    )
    if ("steps" in fields) == ("random_walk" in fields):
        raise yn.error(name, node, f"{symbol}: give exactly one of 'steps' or 'random_walk'")
    if "steps" in fields:
        steps: list[tuple[float, Decimal]] = []
        step_nodes = yn.sequence(name, fields["steps"][1], f"{symbol}.steps")
        if not step_nodes:
            raise yn.error(name, fields["steps"][1], f"{symbol}.steps: no step given")
        for index, step_node in enumerate(step_nodes):
            what = f"{symbol}.steps[{index}]"
            step = yn.mapping(name, step_node, what)
            yn.reject_unknown(name, step, _STEP_KEYS, what)
            for key in ("at", "mid"):
                if key not in step:
                    raise yn.error(name, step_node, f"{what}: missing '{key}'")
            at = yn.duration(name, step["at"][1], f"{what}.at")
            mid = yn.decimal(name, step["mid"][1], f"{what}.mid", positive=True)
            if steps and at < steps[-1][0]:
                raise yn.error(
                    name, step["at"][1], f"{what}.at goes back in time (steps must be in time order)"
                )
            steps.append((at, mid))
        return StepsPath(start, tuple(steps))
    walk_node = fields["random_walk"][1]
    walk = yn.mapping(name, walk_node, f"{symbol}.random_walk")
    yn.reject_unknown(name, walk, _WALK_KEYS, f"{symbol}.random_walk")
    for key in ("interval", "volatility"):
        if key not in walk:
            raise yn.error(name, walk_node, f"{symbol}.random_walk: missing '{key}'")
    interval = yn.duration(name, walk["interval"][1], f"{symbol}.random_walk.interval")
    if interval <= 0:
        raise yn.error(name, walk["interval"][1], f"{symbol}.random_walk.interval must be greater than 0")
    drift = (
        yn.decimal(name, walk["drift"][1], f"{symbol}.random_walk.drift") if "drift" in walk else Decimal(0)
    )
    volatility = yn.decimal(name, walk["volatility"][1], f"{symbol}.random_walk.volatility")
    if volatility < 0 or volatility >= 1:
        raise yn.error(name, walk["volatility"][1], f"{symbol}.random_walk.volatility must be in [0, 1)")
    if abs(drift) >= 1:
        raise yn.error(name, walk["drift"][1], f"{symbol}.random_walk.drift must be in (-1, 1)")
    steps_count = None
    if "steps" in walk:
        steps_count = yn.integer(name, walk["steps"][1], f"{symbol}.random_walk.steps")
        if steps_count < 1:
            raise yn.error(name, walk["steps"][1], f"{symbol}.random_walk.steps must be at least 1")
    seed = yn.integer(name, walk["seed"][1], f"{symbol}.random_walk.seed") if "seed" in walk else None
    return WalkPath(start, interval, drift, volatility, steps_count, seed)
