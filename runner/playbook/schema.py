"""The JSON Schemas shipped with the package, and schema errors turned into located problems.

`schemas/` at the repository root is the single source; `runner/_schemas` is a symlink to it, so
an editable install reads those files and a wheel carries copies of the same bytes (a test
installs a wheel in a fresh venv and compares `qfex-runner schema` output).

jsonschema's own messages ("'prise' was unexpected") are written for schema authors; traders get
"unknown key 'prise' (did you mean 'price'?)" at the key's line and column.
"""

from __future__ import annotations

import difflib
import json
import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from runner.errors import Unsupported, UsageError
from runner.playbook.schema_compile import Check, compile_schema
from runner.playbook.yamlsource import Document
from runner.problems import Problem

RULE = "schema"
PLAYBOOK = "playbook"
#: the schemas shipped (`qfex-runner schema NAME`); names only, never paths
NAMES = (PLAYBOOK, "report")


def schema_bytes(name: str = PLAYBOOK) -> bytes:
    """The exact bytes of `schemas/<name>.schema.json` as installed."""
    if name not in NAMES:
        raise UsageError(f"no schema named {name!r} is installed (available: {', '.join(NAMES)})")
    beside = Path(__file__).resolve().parent.parent / "_schemas" / f"{name}.schema.json"
    try:  # a package on disk (the usual install): read it directly (importlib.resources costs ~5 ms)
        return beside.read_bytes()
    except OSError:
        pass
    from importlib import resources  # a zipped install

    try:
        return resources.files("runner").joinpath("_schemas").joinpath(f"{name}.schema.json").read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise UsageError(f"no schema named {name!r} is installed") from None


@cache
def load_schema(name: str = PLAYBOOK) -> dict[str, Any]:
    """The parsed schema (cached; treat it as read-only)."""
    schema: dict[str, Any] = json.loads(schema_bytes(name))
    return schema


@cache
def validator(name: str = PLAYBOOK) -> Any:
    """A Draft 2020-12 jsonschema validator (for messages), built once per process."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


@cache
def fast_checks(name: str = PLAYBOOK) -> tuple[Check, Check] | None:
    """Yes/no validators for the whole playbook and for one order, or None if not compilable."""
    try:
        schema = load_schema(name)
        return compile_schema(schema), compile_schema(schema, "#/$defs/item")
    except Unsupported:
        return None


def check(document: Document, error_paths: set[tuple[Any, ...]] | None = None) -> list[Problem]:
    """Validate a loaded document against the playbook schema; every error located.

    `error_paths`, when given, receives the JSON path of every failing value, so callers can
    leave those parts out of the model instead of reporting them twice.
    """
    if not isinstance(document.data, dict):
        message = "a playbook must be a mapping of keys (version, name, orders, ...)"
        return [Problem(document.locate(()), message, RULE)]
    data, index_map = _failing_part(document.data)
    if data is None:
        return []
    problems: dict[Problem, None] = {}  # ordered and without repeats (jsonschema may report twice)
    bad = document.bad_paths
    for error in validator().iter_errors(data):
        path = tuple(error.absolute_path)
        if index_map is not None and len(path) >= 2 and path[0] == "orders":
            path = ("orders", index_map[path[1]], *path[2:])
        if bad and any(path[: len(b)] == b for b in bad):
            continue  # the loader already reported this value
        if error_paths is not None:
            error_paths.add(path)
        problems.update(dict.fromkeys(_problems(document, error, path)))
    return list(problems)


def _failing_part(data: dict[str, Any]) -> tuple[dict[str, Any] | None, list[int] | None]:
    """What jsonschema must look at: None when valid, else the playbook with only its failing orders.

    Large playbooks are mostly valid orders; running jsonschema (slow) on the few that fail keeps
    a typo in a 10,000-order file as quick to report as a clean run. `index_map[j]` is the
    original index of the j-th order kept.
    """
    checks = fast_checks()
    if checks is None:
        return data, None
    whole, order = checks
    if whole(data):
        return None, None
    orders = data.get("orders")
    if not isinstance(orders, list) or not orders:
        return data, None
    failing = [i for i, item in enumerate(orders) if not order(item)] or [0]
    return {**data, "orders": [orders[i] for i in failing]}, failing


# --- messages ---------------------------------------------------------------------------------

_KINDS = {"object": "a mapping", "array": "a list", "string": "text", "number": "a number",
          "integer": "a whole number", "boolean": "true or false", "null": "null"}


def _describe(value: Any) -> str:
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return "the boolean " + ("true" if value else "false")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"the number {value}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return _describe(value)
    return str(value)


def _suggest(word: Any, choices: list[str]) -> str:
    if not isinstance(word, str) or not choices or word.startswith("x-"):
        return ""  # an `x-` key is a deliberate extension (allowed at the top level), not a typo
    upper = {c.upper(): c for c in choices}
    if word.upper() in upper:
        return f" (did you mean {upper[word.upper()]!r}?)"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field(path: tuple[Any, ...]) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "value"


class _Wanted:
    """A stand-in error for `_message` where an anyOf's alternatives all want one type."""

    def __init__(self, types: list[str]) -> None:
        self.validator_value = types


def _problems(document: Document, error: Any, path: tuple[Any, ...]) -> list[Problem]:
    kind, schema, value = error.validator, error.schema, error.instance
    at = document.locate(path)
    if kind == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        problems = []
        for key in value:
            if key in known or any(p.search(key) for p in patterns):
                continue
            hint = _suggest(key, known)
            if not hint and not path:
                hint = " (top-level keys starting with 'x-' are free, e.g. for YAML anchors)"
            where = document.locate((*path, key), key=True)
            problems.append(Problem(where, f"unknown key {key!r}{hint}", RULE))
        return problems
    if kind == "required":
        names = [k for k in error.validator_value if k not in value] if isinstance(value, dict) else []
        if len(path) == 2 and path[0] == "orders":
            what = "a step" if isinstance(value, dict) and "step" in value else "an order"
        else:
            what = f"'{_field(path)}'" if path else "the playbook"
        return [Problem(at, f"{what} is missing required key {name!r}", RULE) for name in names]
    if kind == "anyOf" and path and path[-1] == "quantity" and (
            isinstance(value, bool) or not isinstance(value, (dict, str, int, float, Decimal))):
        return [Problem(at, _message("type", {}, value, _Wanted(["number", "string"]), path), RULE)]
    if kind == "anyOf" and error.context and not (path and path[-1] == "bracket"):
        # `expect: fill` or `expect: {rejected: 5}`: the alternative of the value's own shape speaks
        inside = [e for e in error.context if e.relative_path or e.validator not in ("type", "enum")]
        if inside:
            best = min(inside, key=lambda e: len(e.relative_path))
            return _problems(document, best, (*path, *best.relative_path))
        wanted = [e for e in error.context if e.validator == "enum"]
        if wanted and isinstance(value, str):
            return _problems(document, wanted[0], path)
        kinds = [str(e.validator_value) for e in error.context if e.validator == "type"]
        shapes = " or ".join(_KINDS.get(k, k) for k in kinds)
        choices = ", ".join(str(c) for e in wanted for c in e.validator_value)
        want = " or ".join(x for x in (f"one of {choices}" if choices else "", shapes) if x)
        return [Problem(at, f"{_field(path)}: expected {want}, got {_describe(value)}", RULE)]
    return [Problem(at, _message(kind, schema, value, error, path), RULE)]


def _message(kind: str, schema: dict[str, Any], value: Any, error: Any, path: tuple[Any, ...]) -> str:
    name = _field(path)
    if kind == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else list(expected)
        if set(expected) == {"number", "string"}:
            want = "a positive decimal number (e.g. 10 or \"0.001\")"
        else:
            want = " or ".join(_KINDS.get(t, t) for t in expected if t != "null")
        hint = ""
        if isinstance(value, bool) and "string" in expected and "number" not in expected:
            hint = "; YAML reads yes/no/on/off/true/false as booleans, so quote it"
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and expected == ["string"]:
            hint = "; quote it"
        return f"{name}: expected {want}, got {_describe(value)}{hint}"
    if kind == "enum":
        choices = [str(c) for c in error.validator_value]
        return f"{name}: {_show(value)} is not one of {', '.join(choices)}{_suggest(value, choices)}"
    if kind == "const":
        if name == "version":
            return f"unsupported playbook version {_show(value)}: this qfex-runner reads version 1"
        return f"{name}: must be {_show(error.validator_value)}"
    if kind == "pattern":
        hint = schema.get("x-pattern-hint", f"must match {error.validator_value}")
        return f"{name}: {_show(value)} is not valid: use {hint}"
    if kind == "exclusiveMinimum":
        return f"{name}: must be greater than {error.validator_value}, got {_show(value)}"
    if kind == "minimum":
        return f"{name}: must be at least {error.validator_value}, got {_show(value)}"
    if kind == "maxLength":
        return f"{name}: too long ({len(value)} characters, at most {error.validator_value})"
    if kind == "minLength":
        return f"{name}: must not be empty"
    if kind == "minItems":
        return f"{name}: needs at least {error.validator_value} item(s)" if name != "orders" else \
            "the playbook has no orders"
    if kind == "uniqueItems":
        return f"{name}: contains duplicates"
    if kind == "anyOf" and path and path[-1] == "bracket":
        return "bracket needs take_profit, stop_loss or both"
    if kind in ("maxProperties", "minProperties") and name == "quantity":
        return "quantity: size by one of {risk: 200}, {risk: 0.5%} or {notional: 5000}, not several or none"
    return f"{name}: {error.message}"
