"""One YAML scalar (its resolved tag and source text) -> its plain value, or the problem with it.

Shared by both ways `runner.playbook.yamlsource` reads a document (the node tree and the event
fast path in `runner.playbook.yamlevents`), so a value is read the same whichever path read it:
strings stay text; `true/false` -> bool; `null`/empty -> None; dates (YAML 1.1 timestamps) -> their
source text; integers -> int, other numbers -> Decimal from the source text (never via float), and
the YAML 1.2 exponent forms the 1.1 resolver leaves as strings (`1e3`) are numbers too. NaN,
infinities, out-of-range magnitudes, octal/hex/sexagesimal integers and unsupported tags are problems.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_T = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = _T + "str", _T + "int", _T + "float", _T + "bool", _T + "null"
MAP, SEQ, MERGE, TIMESTAMP, VALUE = _T + "map", _T + "seq", _T + "merge", _T + "timestamp", _T + "value"
_TEXT_TAGS = frozenset({STR, TIMESTAMP, VALUE, "!"})
_BOOLS = {"yes": True, "true": True, "on": True, "y": True,
          "no": False, "false": False, "off": False, "n": False}

_PLAIN_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)\Z")
_EXPONENT_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+\Z")
#: how such a number can start: most plain text (symbols, sides, ids) is told apart without the pattern
_NUMBER_START = frozenset("+-.0123456789")

#: numbers must be below 1e18 with at most 18 decimal places: anything else is a typo, not a price,
#: and the bound keeps every check's exact arithmetic within runner.playbook.rules.exact's precision
MAX_ADJUSTED_EXPONENT = 17
MAX_DECIMAL_PLACES = 18

NUMBER_RULE = "yaml-number"

#: (message, rule) of a scalar that cannot be read as its tag says
ScalarProblem = tuple[str, str]


def number_bounds_problem(value: Decimal) -> str | None:
    """Why an exact number is out of the supported range (None when it is fine)."""
    if value and value.adjusted() > MAX_ADJUSTED_EXPONENT:
        return f"is out of range (must be below 1e{MAX_ADJUSTED_EXPONENT + 1})"
    if value.as_tuple().exponent < -MAX_DECIMAL_PLACES:  # type: ignore[operator]
        return f"has more than {MAX_DECIMAL_PLACES} decimal places"
    return None


def unsupported(tag: str) -> str:
    return f"unsupported tag {tag!r} (only plain YAML is allowed)"


def scalar_value(tag: str, text: str, plain: bool) -> tuple[Any, ScalarProblem | None]:
    """The value of a scalar with resolved `tag` (`plain`: written without quotes or `|`/`>`); with a
    problem, the value is None and the problem says why."""
    if tag in _TEXT_TAGS:
        if tag == STR and plain and text[:1] in _NUMBER_START and _EXPONENT_NUMBER.match(text):
            return _number(text)  # YAML 1.2 / JSON read 1e3 as a number
        return text, None
    if tag == FLOAT:
        return _number(text)
    if tag == INT:
        return _integer(text)
    if tag == BOOL:
        value = _BOOLS.get(text.lower())
        if value is None:
            return None, (f"{text!r} is not a boolean (use true or false)", "yaml-value")
        return value, None
    if tag == NULL:
        return None, None
    return None, (unsupported(tag), "yaml-tag")


def shown(text: str, limit: int = 40) -> str:
    """A number's source text for a message, cut short: a 5,000-digit typo should not fill the screen."""
    return repr(text) if len(text) <= limit else f"{text[:limit // 2]!r}…({len(text)} characters)"


def _integer(text: str) -> tuple[int | None, ScalarProblem | None]:
    if not _PLAIN_DECIMAL_INT.match(text):
        digits = text.lstrip("+-")
        if ":" in text:
            why = "looks like a time (YAML 1.1 reads it as base 60)"
        elif digits[:2].lower() in ("0x", "0o", "0b"):
            why = "hexadecimal, octal and binary numbers are not allowed"
        else:
            why = "a leading zero makes it octal in YAML 1.1"
        return None, (f"number {text!r}: {why}; write it in plain decimal or quote it", NUMBER_RULE)
    digits = text.replace("_", "").lstrip("+-")
    if len(digits) > MAX_ADJUSTED_EXPONENT + 1:  # before int(): Python refuses over 4,300 digits
        return None, (f"number {shown(text)} is out of range (must be below "
                      f"1e{MAX_ADJUSTED_EXPONENT + 1})", NUMBER_RULE)
    value = int(text.replace("_", ""))
    too_big = number_bounds_problem(Decimal(value))
    if too_big:
        return None, (f"number {text!r} {too_big}", NUMBER_RULE)
    return value, None


def _number(text: str) -> tuple[Decimal | None, ScalarProblem | None]:
    special = text.lstrip("+-").lower()
    if special in (".nan", ".inf"):
        kind = "NaN" if special == ".nan" else "infinity"
        return None, (f"{kind} ({text!r}) is not allowed: numbers must be finite", NUMBER_RULE)
    try:
        value = Decimal(text.replace("_", ""))
    except InvalidOperation:
        return None, (f"{text!r} is not a valid number", NUMBER_RULE)
    if not value.is_finite():
        kind = "NaN" if value.is_nan() else "infinity"
        return None, (f"{kind} ({text!r}) is not allowed: numbers must be finite", NUMBER_RULE)
    why = number_bounds_problem(value)
    if why:
        return None, (f"number {shown(text)} {why}", NUMBER_RULE)
    return value, None
