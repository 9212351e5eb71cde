"""The repository's policy file (`qfex-runner.yaml`): limits every playbook below it must satisfy.

Found as pre-commit and ruff find their configuration: from the playbook's directory upwards, up
to and including the repository root (the first directory holding `.git`), else the filesystem
root. The nearest file wins; there is no merging of several. Example::

    # qfex-runner.yaml, at the root of the playbook repository
    limits:                  # the same keys as a playbook's `limits:`; both apply (the stricter wins)
      max_loss_per_order: 500
      max_loss: 2000
      max_leverage: 3
      require_stop: true
    fees:                    # rates for the risk preview's fee estimate (QFEX publishes none)
      maker: 0.0001
      taker: 0.0002
    refdata:
      max_age_days: 7        # an older reference-data snapshot is a warning

A playbook cannot loosen the policy: its own limits are checked, and so are the policy's, each
breach located at the playbook's order and naming the policy line that set the limit. Problems in
the policy file itself are located in it (exit 1 like any invalid playbook).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from runner.errors import SourceError
from runner.playbook.model import Limits
from runner.playbook.yamlsource import Document, load_bytes, load_file
from runner.problems import Location, Problem

POLICY_FILE = "qfex-runner.yaml"
RULE = "policy"

_DECIMAL_LIMITS = ("max_order_notional", "max_total_notional", "max_loss_per_order", "max_loss",
                   "max_leverage")
_KEYS = {"limits": "limits every playbook below this file must satisfy", "fees": "fee rates for estimates",
         "refdata": "reference-data snapshot settings"}
DEFAULT_MAX_AGE_DAYS = Decimal(7)


@dataclass(frozen=True)
class FeeRates:
    """Fee rates (fractions of notional) for the preview's estimate, and where they come from."""

    maker: Decimal
    taker: Decimal
    source: str


#: the embedded exchange's rates (runner/simulator/config.py): QFEX's docs publish none
DEFAULT_FEES = FeeRates(Decimal("0.0001"), Decimal("0.0002"),
                        "default rates (QFEX publishes none; set fees: in qfex-runner.yaml)")


@dataclass(frozen=True)
class Policy:
    path: str
    limits: Limits = field(default_factory=Limits)
    #: limit key -> where the policy file sets it (named in every breach)
    where: Mapping[str, Location] = field(default_factory=dict)
    fees: FeeRates = DEFAULT_FEES
    refdata_max_age_days: Decimal = DEFAULT_MAX_AGE_DAYS


def find_upwards(start: str | Path, name: str) -> Path | None:
    """`name` in `start` (a file's directory, or a directory) or the nearest parent holding it; the
    search stops at the repository root (a directory with `.git`) or the filesystem root."""
    here = Path(start).resolve()
    if not here.is_dir():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / name
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists():
            return None
    return None


def shown_path(path: Path) -> str:
    """A found file as messages name it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_policy(playbook_path: str | Path) -> Path | None:
    return find_upwards(playbook_path, POLICY_FILE)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


class _Reader:
    """Reads one policy document, collecting located problems instead of raising."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = list(document.problems)

    def bad(self, path: tuple[str | int, ...], message: str, *, key: bool = False) -> None:
        self.problems.append(Problem(self.document.locate(path, key=key), message, RULE))

    def mapping(self, path: tuple[str, ...], value: Any, known: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.bad(path, f"{'.'.join(path) or 'the policy'}: expected a mapping")
            return {}
        for key in value:
            if key not in known:
                self.bad((*path, key), f"unknown key {key!r} in {'.'.join(path) or 'the policy'} "
                         f"(known: {', '.join(sorted(known))})", key=True)
        return value

    def positive(self, path: tuple[str, ...], value: Any) -> Decimal | None:
        number = _decimal(value)
        if number is None:
            self.bad(path, f"{path[-1]}: expected a positive number, got {value!r}")
        return number

    def limits(self, raw: Any) -> tuple[Limits, dict[str, Location]]:
        known = {*_DECIMAL_LIMITS, "require_stop", "symbols"}
        data = self.mapping(("limits",), raw, known)
        values: dict[str, Any] = {}
        where: dict[str, Location] = {}
        for key in _DECIMAL_LIMITS:
            if key in data:
                values[key] = self.positive(("limits", key), data[key])
                where[key] = self.document.locate(("limits", key), key=True)
        if "require_stop" in data:
            if not isinstance(data["require_stop"], bool):
                self.bad(("limits", "require_stop"), "require_stop: expected true or false")
            else:
                values["require_stop"] = data["require_stop"]
                where["require_stop"] = self.document.locate(("limits", "require_stop"), key=True)
        if "symbols" in data:
            symbols = data["symbols"]
            if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                self.bad(("limits", "symbols"), "symbols: expected a list of symbols such as [AAPL-USD]")
            else:
                values["symbols"] = tuple(symbols)
                where["symbols"] = self.document.locate(("limits", "symbols"), key=True)
        return Limits(**values), where

    def fees(self, raw: Any) -> FeeRates:
        data = self.mapping(("fees",), raw, {"maker", "taker"})
        rates = {}
        for key in ("maker", "taker"):
            value = data.get(key, getattr(DEFAULT_FEES, key))
            number = _decimal(value) if value != 0 else Decimal(0)
            if number is None or number >= 1:
                self.bad(("fees", key), f"{key}: expected a rate below 1 such as 0.0002 (0.02%), "
                         f"got {value!r}")
                number = getattr(DEFAULT_FEES, key)
            rates[key] = number
        return FeeRates(rates["maker"], rates["taker"], f"rates from {self.document.path}")

    def max_age(self, raw: Any) -> Decimal:
        data = self.mapping(("refdata",), raw, {"max_age_days"})
        if "max_age_days" not in data:
            return DEFAULT_MAX_AGE_DAYS
        return self.positive(("refdata", "max_age_days"), data["max_age_days"]) or DEFAULT_MAX_AGE_DAYS


def load_policy(path: str | Path, *, name: str | None = None) -> tuple[Policy | None, list[Problem]]:
    """The policy in `path`, with every problem located in it (None when it cannot be read at all);
    `name`: how locations name the file (default: `path` as given)."""
    try:
        document = load_file(path) if name is None else load_bytes(Path(path).read_bytes(), name)
    except OSError as exc:
        why = f"cannot read the policy file: {exc.strerror or exc}"
        return None, [Problem(Location(name or str(path)), why, RULE)]
    except SourceError as exc:
        return None, sorted(exc.problems)
    reader = _Reader(document)
    data = reader.mapping((), document.data if document.data is not None else {}, set(_KEYS))
    limits, where = reader.limits(data["limits"]) if "limits" in data else (Limits(), {})
    fees = reader.fees(data["fees"]) if "fees" in data else DEFAULT_FEES
    max_age = reader.max_age(data["refdata"]) if "refdata" in data else DEFAULT_MAX_AGE_DAYS
    return Policy(document.path, limits, where, fees, max_age), reader.problems
