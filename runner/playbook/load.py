"""File -> validated `Playbook`: YAML source, schema, model, trading rules; all problems collected.

    validate_file(path, refdata)  -> ValidationResult (never raises for bad input)
    load_playbook(path, refdata)  -> Playbook, or raises PlaybookInvalid with every problem

Time-in-force resolution (documented in the schema and README): the order's own value, else
`defaults.time_in_force` if QFEX allows it for the order's type, else the type's default
(LIMIT/ALO: GTC; MARKET/TAKE_PROFIT/STOP_LOSS: IOC). An order-level value the type does not allow
is kept so the `tif-allowed` rule reports it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner.enums import ALLOWED_TIME_IN_FORCE, OrderType, Side, TimeInForce
from runner.errors import PlaybookInvalid, SourceError
from runner.playbook import schema
from runner.playbook.account import AccountFigures
from runner.playbook.exits import bracket_from, exits_step_bracket
from runner.playbook.model import (
    Expect,
    Limits,
    OnReject,
    Order,
    Playbook,
    PlaybookStep,
    Scope,
    StepKind,
    Wait,
)
from runner.playbook.policy import Policy, find_policy, load_policy, shown_path
from runner.playbook.refdata import RefData
from runner.playbook.rules import run_rules
from runner.playbook.rules.context import RuleContext
from runner.playbook.sizing import SizingInputs, parse_sizing, resolve
from runner.playbook.yamlsource import DEFAULT_LIMITS, Document, load_bytes, load_file
from runner.playbook.yamlsource import Limits as SourceLimits
from runner.problems import Problem, errors_in, warnings_in

_TYPES = {m.value: m for m in OrderType}
_SIDES = {m.value: m for m in Side}
_TIFS = {m.value: m for m in TimeInForce}
_WAITS = {m.value: m for m in Wait}
_EXPECTS = {m.value: m for m in Expect}
_TYPE_DEFAULT_TIF = {
    OrderType.LIMIT: TimeInForce.GTC,
    OrderType.ALO: TimeInForce.GTC,
    OrderType.MARKET: TimeInForce.IOC,
    OrderType.TAKE_PROFIT: TimeInForce.IOC,
    OrderType.STOP_LOSS: TimeInForce.IOC,
}

#: Problem classes found before the trading rules (`runner.playbook.rules.CHECKS` has the rule ids), with
#: what each means; the README lists exactly these and a test keeps code, README and this in step.
SOURCE_PROBLEMS: dict[str, str] = {
    "file-unreadable": "the file cannot be read (missing, a directory, no permission)",
    "yaml-encoding": "not UTF-8 (UTF-16/32, Latin-1), NUL or other control characters",
    "yaml-limits": "over 10 MB, alias bombs (over 2,000,000 values), recursive aliases, nesting over 64 deep",
    "yaml-syntax": "not well-formed YAML, or more than one document",
    "yaml-tag": "a tag other than plain YAML (`!!python/...`, `!!binary`, `!custom`)",
    "yaml-duplicate-key": "a key written twice in one mapping",
    "yaml-merge": "a `<<:` merge of something other than a mapping or a list of mappings",
    "yaml-key": "a mapping key that is not plain text",
    "yaml-number": "NaN, infinity, out-of-range or ambiguous numbers (octal `010`, `0x10`, `1:30`)",
    "yaml-value": "a value that cannot be read as its explicit tag says (`!!bool maybe`)",
    "schema": "shape: unknown keys (with suggestions), missing keys, wrong types, values not allowed",
}


@dataclass
class ValidationResult:
    """Everything `validate` knows about one file."""

    path: str
    #: None when the file could not be modelled completely (unreadable, YAML or schema problems)
    playbook: Playbook | None
    #: sorted by location
    problems: list[Problem] = field(default_factory=list)
    #: the repository policy file applied (`qfex-runner.yaml` found above the playbook)
    policy: Policy | None = None

    @property
    def errors(self) -> list[Problem]:
        return errors_in(self.problems)

    @property
    def warnings(self) -> list[Problem]:
        return warnings_in(self.problems)

    @property
    def ok(self) -> bool:
        """True when nothing would stop a run (warnings allowed)."""
        return not self.errors


def validate_file(path: str | Path, refdata: RefData | None = None,
                  limits: SourceLimits = DEFAULT_LIMITS, *, account: AccountFigures | None = None,
                  marks: Mapping[str, Decimal] | None = None, policy: bool = True,
                  preloaded: Document | None = None) -> ValidationResult:
    """Validate one playbook file; every problem is located, nothing is raised for bad input.

    `policy`: apply the repository policy file found above the playbook (`runner.playbook.policy`);
    `account` (equity, leverage) and `marks` (symbol -> mark price) size `quantity: {risk: ...}`;
    `preloaded`: the file as `yamlsource.load_file` read it already (a run reads it once).
    """
    found = find_policy(path) if policy else None
    loaded, policy_problems = load_policy(found, name=shown_path(found)) if found is not None else (None, [])
    try:
        document = preloaded if preloaded is not None else load_file(path, limits)
    except SourceError as exc:
        return ValidationResult(str(path), None, sorted([*exc.problems, *policy_problems]), loaded)
    result = validate_document(document, refdata, account=account, marks=marks, policy=loaded)
    result.problems = sorted([*result.problems, *policy_problems])
    return result


#: order types a rule prices at the market: a stop's trigger is checked against the mark (stop-side),
#: a MARKET order is priced at it (exposure, sizing, the risk preview)
_MARKET_PRICED_TYPES = frozenset({OrderType.MARKET.value, OrderType.STOP_LOSS.value,
                                  OrderType.TAKE_PROFIT.value})


def prices_at_market(document: Document) -> bool:
    """May validating this playbook use live mark prices? Only a stop order, a MARKET order, a
    quantity sized by risk or notional, or a step (a TWAP opens at the market) is priced at the
    market; a playbook of LIMIT orders is not, and its run need not read the market data before it
    validates. Anything unreadable counts as yes (validation then says what is wrong)."""
    data = document.data
    if not isinstance(data, dict):
        return True
    defaults = data.get("defaults")
    defaults = defaults if isinstance(defaults, dict) else {}
    orders = data.get("orders")
    if not isinstance(orders, list):
        return True
    for item in orders:
        if not isinstance(item, dict) or "step" in item:
            return True
        kind = item.get("type", defaults.get("type"))
        if not isinstance(kind, str) or kind.upper() in _MARKET_PRICED_TYPES:
            return True
        if not isinstance(item.get("quantity", defaults.get("quantity")), (int, Decimal)):
            return True  # sized by risk or notional (a mapping), or unreadable
    return False


def validate_bytes(data: bytes, name: str, refdata: RefData | None = None,
                   limits: SourceLimits = DEFAULT_LIMITS, *, account: AccountFigures | None = None,
                   policy: Policy | None = None) -> ValidationResult:
    """Like `validate_file` for content already in memory (`name` is used in locations); a policy
    is applied only when given (there is no directory to find one in)."""
    try:
        document = load_bytes(data, name, limits)
    except SourceError as exc:
        return ValidationResult(name, None, sorted(exc.problems), policy)
    return validate_document(document, refdata, account=account, policy=policy)


def validate_document(document: Document, refdata: RefData | None = None, *,
                      account: AccountFigures | None = None, marks: Mapping[str, Decimal] | None = None,
                      policy: Policy | None = None) -> ValidationResult:
    error_paths: set[tuple[Any, ...]] = set(document.bad_paths)
    problems = list(document.problems)
    problems += schema.check(document, error_paths)
    data = document.data if isinstance(document.data, dict) else {}
    built = _Builder(document, data, error_paths)
    orders, sizing_problems = resolve(built.orders(), SizingInputs(refdata, account, marks or {}),
                                      lambda index: document.locate(("orders", index, "quantity")))
    problems += sizing_problems
    steps = built.steps(orders)
    limits = built.limits()
    context = RuleContext(document, tuple(orders), limits, refdata, tuple(steps), policy, account)
    problems += run_rules(context)
    complete = isinstance(document.data, dict) and not any(
        p.rule == schema.RULE or p.rule.startswith("yaml-") for p in problems)
    playbook = built.playbook(orders, limits, steps) if complete else None
    return ValidationResult(document.path, playbook, sorted(problems), policy)


def load_playbook(path: str | Path, refdata: RefData | None = None) -> Playbook:
    """The validated playbook, or `PlaybookInvalid` carrying every problem (warnings included)."""
    result = validate_file(path, refdata)
    if not result.ok or result.playbook is None:
        message = f"{path}: {len(result.errors)} problem(s) found; nothing was sent"
        raise PlaybookInvalid(result.problems, message)
    return result.playbook


# --- model ------------------------------------------------------------------------------------


def _time_in_force(raw: dict[str, Any], defaults: dict[str, Any], order_type: OrderType) -> TimeInForce:
    """As given; else the playbook's default where the order type allows it; else the type's own."""
    given = raw.get("time_in_force")
    if given is not None:
        return _TIFS[given]
    default = defaults.get("time_in_force")
    if default is not None and _TIFS[default] in ALLOWED_TIME_IN_FORCE[order_type]:
        return _TIFS[default]
    return _TYPE_DEFAULT_TIF[order_type]


def _decimal(value: Any) -> Decimal | None:
    """Schema-checked number or numeric string -> Decimal (int and Decimal pass through exactly)."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(value)


_SECONDS = {"s": 1, "m": 60, "h": 3600}


def _seconds(value: Any) -> int | None:
    """A schema-checked duration (`60s`, `30m`, `2h`) in whole seconds."""
    if not isinstance(value, str):
        return None
    return int(value[:-1]) * _SECONDS[value[-1]]


def _expect_name(value: Any) -> str:
    """`expect: filled` or `expect: {rejected: STATUS}` -> the expectation's name."""
    return next(iter(value)) if isinstance(value, dict) else str(value)


def _expect_statuses(value: Any) -> tuple[str, ...]:
    """The statuses `expect: {rejected: X}` / `{rejected: [X, Y]}` names (none for the plain forms)."""
    if not isinstance(value, dict):
        return ()
    named = next(iter(value.values()))
    return tuple(named) if isinstance(named, list) else (str(named),)


class _Builder:
    """Builds model values from data that passed the schema, skipping any part that did not."""

    def __init__(self, document: Document, data: dict[str, Any], error_paths: set[tuple[Any, ...]]) -> None:
        self.document = document
        self.data = data
        self.bad_orders = {p[1] for p in error_paths if len(p) >= 2 and p[0] == "orders"}
        self.bad_top = {p[0] for p in error_paths if p}
        self.orders_invalid = ("orders",) in error_paths

    def defaults(self) -> dict[str, Any]:
        value = self.data.get("defaults")
        return value if isinstance(value, dict) and "defaults" not in self.bad_top else {}

    def orders(self) -> list[tuple[int, Order]]:
        raw = self.data.get("orders")
        if not isinstance(raw, list) or self.orders_invalid:
            return []
        defaults = self.defaults()
        return [(i, self.order(i, item, defaults)) for i, item in enumerate(raw)
                if i not in self.bad_orders and isinstance(item, dict) and "step" not in item]

    def steps(self, orders: list[tuple[int, Order]]) -> list[tuple[int, PlaybookStep]]:
        """The items with a `step:` key that passed the schema, each knowing how many orders precede it."""
        raw = self.data.get("orders")
        if not isinstance(raw, list) or self.orders_invalid:
            return []
        order_indexes = [i for i, _ in orders]  # ascending: how many precede item i is a bisection
        return [(i, self.step(i, item, bisect_left(order_indexes, i))) for i, item in enumerate(raw)
                if i not in self.bad_orders and isinstance(item, dict) and "step" in item]

    def step(self, index: int, raw: dict[str, Any], after_orders: int) -> PlaybookStep:
        side = raw.get("side")
        return PlaybookStep(
            id=raw["id"],
            kind=StepKind(raw["step"]),
            after_orders=after_orders,
            symbol=raw.get("symbol"),
            all=bool(raw.get("all", False)),
            orders=tuple(raw.get("orders") or ()),
            scope=Scope(raw.get("scope", Scope.PLAYBOOK.value)),
            leverage=_decimal(raw.get("leverage")),
            side=_SIDES[side] if side is not None else None,
            quantity=_decimal(raw.get("quantity")) if raw.get("quantity") != "position" else None,
            duration_s=_seconds(raw.get("duration")),
            interval_s=_seconds(raw.get("interval")),
            reduce_only=bool(raw.get("reduce_only", False)),
            wait=str(raw.get("wait", "ack")),
            twap=raw.get("twap"),
            exits=exits_step_bracket(raw) if raw.get("step") == StepKind.EXITS.value else None,
            note=str(raw.get("note", "")),
            location=self.document.locate(("orders", index)),
        )

    def order(self, index: int, raw: dict[str, Any], defaults: dict[str, Any]) -> Order:
        order_type = _TYPES[raw["type"]]
        bracket = None
        b = raw.get("bracket")
        if isinstance(b, dict):
            bracket = bracket_from(b)  # a take-profit ladder or manage: makes it an exit plan
        return Order(
            id=raw["id"],
            symbol=raw["symbol"],
            side=_SIDES[raw["side"]],
            type=order_type,
            # required and schema-checked: a number, or {risk: ...}/{notional: ...} sized by `resolve`
            quantity=Decimal(0) if isinstance(raw["quantity"], dict) else Decimal(raw["quantity"]),
            sizing=parse_sizing(raw["quantity"]),
            price=_decimal(raw.get("price")),
            time_in_force=_time_in_force(raw, defaults, order_type),
            reduce_only=bool(raw.get("reduce_only", defaults.get("reduce_only", False))),
            wait=_WAITS[raw.get("wait", defaults.get("wait", "ack"))],
            expect=_EXPECTS[_expect_name(raw.get("expect", defaults.get("expect", "accepted")))],
            bracket=bracket,
            expect_statuses=_expect_statuses(raw.get("expect", defaults.get("expect"))),
            note=str(raw.get("note", "")),
            location=self.document.locate(("orders", index)),
        )

    def limits(self) -> Limits | None:
        raw = self.data.get("limits")
        if raw is None:
            return Limits()
        if not isinstance(raw, dict) or "limits" in self.bad_top:
            return None
        symbols = raw.get("symbols")
        return Limits(_decimal(raw.get("max_order_notional")), _decimal(raw.get("max_total_notional")),
                      tuple(symbols) if symbols is not None else None,
                      max_loss_per_order=_decimal(raw.get("max_loss_per_order")),
                      max_loss=_decimal(raw.get("max_loss")), max_leverage=_decimal(raw.get("max_leverage")),
                      require_stop=bool(raw.get("require_stop", False)))

    def playbook(self, orders: list[tuple[int, Order]], limits: Limits | None,
                 steps: list[tuple[int, PlaybookStep]]) -> Playbook:
        data = self.data
        return Playbook(
            path=self.document.path,
            name=data["name"],
            orders=tuple(order for _, order in orders),
            run_id=data.get("run_id"),
            account=data.get("account"),
            on_reject=OnReject(data.get("on_reject", OnReject.STOP.value)),
            cancel_on_disconnect=bool(data.get("cancel_on_disconnect", False)),
            limits=limits if limits is not None else Limits(),
            sha256=self.document.sha256,
            steps=tuple(step for _, step in steps),
        )
