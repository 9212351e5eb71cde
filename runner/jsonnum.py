"""JSON with exact numbers: Decimal out as JSON number text, JSON numbers in as Decimal.

Money never passes through binary float on our side of the wire. The stdlib encoder cannot
write a Decimal as a number, so values are encoded here; strings still go through `json`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import Enum
from typing import Any

_encode_str = json.encoder.encode_basestring_ascii


def _encode(value: Any, out: list[str], indent: str | None, level: int, sort_keys: bool) -> None:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite number {value} cannot be serialised")
        out.append(format(value, "f"))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(json.dumps(value))
    elif isinstance(value, dict):
        items = sorted(value.items()) if sort_keys else value.items()
        _container(out, "{", "}", [(k, v) for k, v in items], indent, level, sort_keys, keyed=True)
    elif isinstance(value, (list, tuple)):
        _container(out, "[", "]", list(value), indent, level, sort_keys, keyed=False)
    else:
        raise TypeError(f"cannot serialise {type(value).__name__}")


def _container(out: list[str], open_: str, close: str, items: list, indent: str | None, level: int,
               sort_keys: bool, *, keyed: bool) -> None:
    if not items:
        out.append(open_ + close)
        return
    out.append(open_)
    inner = "\n" + indent * (level + 1) if indent is not None else ""
    for i, item in enumerate(items):
        if i:
            out.append("," if indent is not None else ", ")
        out.append(inner)
        if keyed:
            key, item = item
            out.append(_encode_str(str(key.value if isinstance(key, Enum) else key)))
            out.append(": ")
        _encode(item, out, indent, level + 1, sort_keys)
    if indent is not None:
        out.append("\n" + indent * level)
    out.append(close)


def dumps(obj: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """Serialise with Decimals written exactly (Decimal('0.30') -> 0.30, never via float)."""
    out: list[str] = []
    _encode(obj, out, " " * indent if indent is not None else None, 0, sort_keys)
    return "".join(out)


def loads(text: str | bytes) -> Any:
    """Parse JSON reading every non-integer number as Decimal (integers stay int).

    Hostile nesting (`[[[[...`) is a `ValueError` like any other bad JSON, not a `RecursionError`
    that would escape every caller's handler as an internal error.
    """
    try:
        return json.loads(text, parse_float=Decimal)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
