"""JSON with exact numbers: Decimal out as JSON number text, JSON numbers in as Decimal.

Money never passes through binary float on our side of the wire. The stdlib encoder cannot
write a Decimal as a number, so values are encoded here; strings still go through `json`.

One encoder serves every writer: `dumps` (journal lines, messages, `--format json`) and the
report file, which streams it (`write` with a `Streamed` list: a 10,000-order report is encoded
one order at a time and never held whole in memory). It dispatches on the exact type first (the
common str, None, bool, int, Decimal, list and dict) and falls back to `isinstance` for the rest
(Enums, other subclasses), so the fast path costs nothing for the usual values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from enum import Enum
from typing import Any

_encode_str = json.encoder.encode_basestring_ascii

Emit = Callable[[str], object]


class Streamed:
    """A list written item by item: each item is built (`build`) just before it is encoded, and
    `after_each` runs after it (where a file writer hands its buffer to the file)."""

    def __init__(self, items: Iterable[Any], build: Callable[[Any], Any] = lambda item: item,
                 after_each: Callable[[], None] | None = None) -> None:
        self.items = items
        self.build = build
        self.after_each = after_each


def write(obj: Any, emit: Emit, *, indent: int | None = None, sort_keys: bool = False,
          level: int = 0) -> None:
    """Encode `obj` through `emit`, fragment by fragment (the text `dumps` returns, in pieces)."""
    _encoder(emit, " " * indent if indent is not None else None, sort_keys)(obj, level)


def dumps(obj: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """Serialise with Decimals written exactly (Decimal('0.30') -> 0.30, never via float)."""
    if indent is None and not sort_keys:
        return _compact(obj)
    out: list[str] = []
    _encoder(out.append, " " * indent if indent is not None else None, sort_keys)(obj, 0)
    return "".join(out)


def _compact(value: Any) -> str:
    """`dumps(value)` without indent or sorting, as one expression per value: the text the general
    encoder writes (tests compare them), without building its closures for every call — this is
    every journal line and every message sent. Other types (Enums, subclasses) go to that encoder."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is dict:
        if not value:
            return "{}"
        return "{" + ", ".join([(_encode_str(k) if type(k) is str else _key(k)) + ": " + _compact(v)
                                for k, v in value.items()]) + "}"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is Decimal:
        return _decimal(value)
    if kind is int:
        return int.__repr__(value)
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        return "[" + ", ".join([_compact(v) for v in value]) + "]"
    out: list[str] = []
    _encoder(out.append, None, False)(value, 0)
    return "".join(out)


#: one decoder for every `loads` (json.loads builds a new one per call when given parse_float)
_DECODER = json.JSONDecoder(parse_float=Decimal)


def loads(text: str | bytes) -> Any:
    """Parse JSON reading every non-integer number as Decimal (integers stay int).

    Hostile nesting (`[[[[...`) is a `ValueError` like any other bad JSON, not a `RecursionError`
    that would escape every caller's handler as an internal error.
    """
    try:
        if isinstance(text, str):
            if text.startswith("\ufeff"):  # as json.loads: a BOM in text is an error
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        elif isinstance(text, (bytes, bytearray)):
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        else:
            return json.loads(text, parse_float=Decimal)  # its TypeError, as before
        return _DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _encoder(emit: Emit, indent: str | None, sort_keys: bool) -> Callable[[Any, int], None]:
    """A recursive encoder writing through `emit`; closures keep the hot names local.

    Layout as the stdlib's: `{"a": 1, "b": [2, 3]}` without indent, one item a line with it.
    """
    newlines: list[str] = []

    def separator(level: int) -> str:
        """What goes before an item at `level`: a newline and indentation, or nothing."""
        if indent is None:
            return ""
        while len(newlines) <= level:
            newlines.append("\n" + indent * len(newlines))
        return newlines[level]

    comma = "," if indent is not None else ", "

    def encode(value: Any, level: int) -> None:
        kind = type(value)
        if kind is str:
            emit(_encode_str(value))
        elif value is None:
            emit("null")
        elif value is True:
            emit("true")
        elif value is False:
            emit("false")
        elif kind is Decimal:
            emit(_decimal(value))
        elif kind is int:
            emit(int.__repr__(value))
        elif kind is dict:
            encode_dict(value, level)
        elif kind is list or kind is tuple:
            encode_list(value, level)
        elif kind is Streamed:
            encode_streamed(value, level)
        elif kind is float:
            emit(_float(value))
        else:
            encode_other(value, level)

    def encode_other(value: Any, level: int) -> None:
        """Subclasses and Enums, by `isinstance` (the slow path)."""
        if isinstance(value, Enum):
            encode(value.value, level)
        elif isinstance(value, str):
            emit(_encode_str(value))
        elif isinstance(value, Decimal):
            emit(_decimal(value))
        elif isinstance(value, int):
            emit(int.__repr__(int(value)))
        elif isinstance(value, float):
            emit(_float(value))
        elif isinstance(value, dict):
            encode_dict(value, level)
        elif isinstance(value, (list, tuple)):
            encode_list(value, level)
        else:
            raise TypeError(f"cannot serialise {type(value).__name__}")

    def encode_dict(value: dict[Any, Any], level: int) -> None:
        if not value:
            emit("{}")
            return
        inner = separator(level + 1)
        emit("{")
        first = True
        for key, item in sorted(value.items()) if sort_keys else value.items():
            name = _encode_str(key) if type(key) is str else _key(key)
            lead = (inner if first else comma + inner) + name + ": "
            first = False
            if type(item) is str:
                emit(lead + _encode_str(item))
            elif item is None:
                emit(lead + "null")
            else:
                emit(lead)
                encode(item, level + 1)
        emit(separator(level) + "}")

    def encode_list(value: list[Any] | tuple[Any, ...], level: int) -> None:
        if not value:
            emit("[]")
            return
        inner = separator(level + 1)
        emit("[")
        first = True
        for item in value:
            emit(inner if first else comma + inner)
            first = False
            encode(item, level + 1)
        emit(separator(level) + "]")

    def encode_streamed(value: Streamed, level: int) -> None:
        inner = separator(level + 1)
        first = True
        for item in value.items:
            emit("[" + inner if first else comma + inner)
            first = False
            encode(value.build(item), level + 1)  # built, written, dropped: one item at a time
            if value.after_each is not None:
                value.after_each()
        emit("[]" if first else separator(level) + "]")

    return encode


#: beyond this exponent a Decimal keeps its exponent form (`1E+999999999`, valid JSON) instead of
#: being written out digit by digit: a hostile number must not become a gigabyte journal line.
#: No real price, quantity or timestamp comes near it, so their text is unchanged.
PLAIN_EXPONENT_LIMIT = 64


def _decimal(value: Decimal) -> str:
    text = str(value)  # plain already (no exponent: str and format "f" agree) for every usual number
    if "E" not in text and value.is_finite():
        return text
    if not value.is_finite():
        raise ValueError(f"non-finite number {value} cannot be serialised")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and not -PLAIN_EXPONENT_LIMIT <= exponent <= PLAIN_EXPONENT_LIMIT:
        return str(value)
    return format(value, "f")


def _float(value: float) -> str:
    return float.__repr__(value) if math.isfinite(value) else json.dumps(value)


def _key(key: Any) -> str:
    """An object key that is not a plain str (an Enum, a number), as its text."""
    return _encode_str(str(key.value if isinstance(key, Enum) else key))
