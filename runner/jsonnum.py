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


#: an item's indented text written directly, given (item, indent, level); None: build and encode it
ItemText = Callable[[Any, str, int], "str | None"]


class Streamed:
    """A list written item by item: each item is built (`build`) just before it is encoded, and
    `after_each` runs after it (where a file writer hands its buffer to the file). `text`, when
    given, writes an item's indented text itself (the text its built value encodes to: the caller
    proves it), or returns None to have it built and encoded."""

    def __init__(self, items: Iterable[Any], build: Callable[[Any], Any] = lambda item: item,
                 after_each: Callable[[], None] | None = None, text: ItemText | None = None) -> None:
        self.items = items
        self.build = build
        self.after_each = after_each
        self.text = text


def write(obj: Any, emit: Emit, *, indent: int | None = None, sort_keys: bool = False,
          level: int = 0) -> None:
    """Encode `obj` through `emit`, fragment by fragment (the text `dumps` returns, in pieces)."""
    _encoder(emit, " " * indent if indent is not None else None, sort_keys,
             fast=indent is not None and not sort_keys)(obj, level)


def dumps(obj: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """Serialise with Decimals written exactly (Decimal('0.30') -> 0.30, never via float)."""
    if indent is None and not sort_keys:
        return _compact(obj)
    if not sort_keys and indent is not None:  # report.json, `--format json`: one call per container
        text = _indented(obj, " " * indent, 0)
        if text is not None:
            return text
    out: list[str] = []
    _encoder(out.append, " " * indent if indent is not None else None, sort_keys,
             fast=indent is not None and not sort_keys)(obj, 0)
    return "".join(out)


def _compact(value: Any) -> str:
    """`dumps(value)` without indent or sorting, as one expression per value: the text the general
    encoder writes (tests compare them), without building its closures for every call — this is
    every journal line and every message sent. Other types (Enums, subclasses) go to that encoder."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is dict:
        return _compact_dict(value)
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
    if kind is float:  # a latency, a wall-clock stamp
        return _float(value)
    out: list[str] = []
    _encoder(out.append, None, False)(value, 0)
    return "".join(out)


#: `"key": ` for the str keys seen (message, journal and report keys repeat on every order); bounded,
#: keys can come from data
_KEY_TEXT: dict[str, str] = {}
_KEY_TEXT_LIMIT = 4096


def _compact_dict(value: dict[Any, Any]) -> str:
    """A dict for `_compact`: its scalars written in the loop (a message's params, a journal line's
    fields: no call per value), each str key's text made once (`_KEY_TEXT`, shared with `_layout`)."""
    if not value:
        return "{}"
    keys = _KEY_TEXT
    parts: list[str] = []
    add = parts.append
    for key, item in value.items():
        name = keys.get(key) if type(key) is str else None
        if name is None:
            name = (_encode_str(key) if type(key) is str else _key(key)) + ": "
            if type(key) is str and len(keys) < _KEY_TEXT_LIMIT:
                keys[key] = name
        kind = type(item)
        if kind is str:
            add(name + _encode_str(item))
        elif item is None:
            add(name + "null")
        elif kind is Decimal:
            add(name + _decimal(item))
        elif item is True:
            add(name + "true")
        elif item is False:
            add(name + "false")
        elif kind is int:
            add(name + int.__repr__(item))
        else:
            add(name + _compact(item))
    return "{" + ", ".join(parts) + "}"


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
            # `{"` cannot start a BOM or a UTF-16/32 text: every frame and journal line is UTF-8
            encoding = "utf-8" if text[:2] == b'{"' else json.detect_encoding(text)
            text = text.decode(encoding, "surrogatepass")
        else:
            return json.loads(text, parse_float=Decimal)  # its TypeError, as before
        if text[:1] == "{":  # no leading whitespace to skip: scan it directly (every frame, every line)
            value, end = _DECODER.raw_decode(text)
            if end == len(text):
                return value
        return _DECODER.decode(text)  # trailing whitespace, or the error it raises
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _encoder(emit: Emit, indent: str | None, sort_keys: bool,
             fast: bool = False) -> Callable[[Any, int], None]:
    """A recursive encoder writing through `emit`; closures keep the hot names local.

    Layout as the stdlib's: `{"a": 1, "b": [2, 3]}` without indent, one item a line with it.
    `fast` (indented, unsorted): each dict and list is written whole by `_indented` (the same text,
    faster) where it can be; this encoder keeps the rest (a `Streamed` list's items one at a time,
    and whatever that path declines).
    """
    newlines: list[str] = []
    indented = _indented if fast and indent is not None else None

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
        elif kind is dict or kind is list or kind is tuple:
            text = indented(value, indent, level) if indented is not None and indent is not None else None
            if text is not None:
                emit(text)
            elif kind is dict:
                encode_dict(value, level)
            else:
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
            written = value.text(item, indent, level + 1) if value.text is not None and indent is not None \
                else None
            if written is None:
                encode(value.build(item), level + 1)  # built, written, dropped: one item at a time
            else:
                emit(written)
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


#: a Decimal's and a str's JSON text, as every writer here writes them (public for a writer of its
#: own: runner.report.jsonfile)
number_text = _decimal
string_text = _encode_str


def _float(value: float) -> str:
    return float.__repr__(value) if math.isfinite(value) else json.dumps(value)


def _key(key: Any) -> str:
    """An object key that is not a plain str (an Enum, a number), as its text."""
    return _encode_str(str(key.value if isinstance(key, Enum) else key))



# --- the indented path: one Python call per container --------------------------------------------
#
# Why: report.json and `--format json` are indented. The general encoder above writes them value by
# value through `emit` (a 10,000-order report is ~1M calls); here a dict or list is written as one
# string, its items formatted in one loop (the common exact types inline, each key's text made once)
# and joined with its depth's separator. The text is the general encoder's, byte for byte (tests
# compare them); anything else (Enums and other subclasses, keys that are not str, a `Streamed`
# list) sends the container to the general encoder, which writes it as before.

class _Declined(Exception):
    """A value this path does not write: the general encoder writes its container."""


#: `\n` and the indentation of each (indent, level)
_NEWLINES: dict[tuple[str, int], str] = {}


def _newline(indent: str, level: int) -> str:
    text = _NEWLINES.get((indent, level))
    if text is None:
        text = _NEWLINES[(indent, level)] = "\n" + indent * level
    return text


def indented_text(value: Any, indent: str, level: int) -> str:
    """`value` at `level` as `write(value, indent=len(indent), level=level)` writes it, as one string."""
    text = _indented(value, indent, level)
    if text is None:
        out: list[str] = []
        _encoder(out.append, indent, False, fast=True)(value, level)
        text = "".join(out)
    return text


def _indented(value: Any, indent: str, level: int) -> str | None:
    """`value` (a dict or list at `level`) as the general encoder writes it with `indent`, or None
    when this path declines it (see above) — the general encoder's job then."""
    kind = type(value)
    if not (kind is dict or kind is list or kind is tuple):
        return None
    try:
        return _layout(value, indent, level)
    except (_Declined, RecursionError):
        return None


def _layout(value: dict[Any, Any] | list[Any] | tuple[Any, ...], indent: str, level: int) -> str:
    """A container's text (`_indented`); raises `_Declined` for what it does not write."""
    if not value:
        return "{}" if type(value) is dict else "[]"
    inner = _newline(indent, level + 1)
    out: list[str] = []
    add = out.append
    if type(value) is dict:
        keys = _KEY_TEXT
        for key, item in value.items():
            name = keys.get(key)
            if name is None:
                if type(key) is not str:
                    raise _Declined
                name = _encode_str(key) + ": "
                if len(keys) < _KEY_TEXT_LIMIT:
                    keys[key] = name
            kind = type(item)
            if kind is str:
                add(name + _encode_str(item))
            elif item is None:
                add(name + "null")
            elif kind is Decimal:
                add(name + _decimal(item))
            elif kind is int:
                add(name + int.__repr__(item))
            elif item is True:
                add(name + "true")
            elif item is False:
                add(name + "false")
            elif kind is dict or kind is list or kind is tuple:
                add(name + _layout(item, indent, level + 1))
            elif kind is float:
                add(name + _float(item))
            else:
                raise _Declined
        return "{" + inner + ("," + inner).join(out) + _newline(indent, level) + "}"
    for item in value:
        kind = type(item)
        if kind is str:
            add(_encode_str(item))
        elif item is None:
            add("null")
        elif kind is Decimal:
            add(_decimal(item))
        elif kind is int:
            add(int.__repr__(item))
        elif item is True:
            add("true")
        elif item is False:
            add("false")
        elif kind is dict or kind is list or kind is tuple:
            add(_layout(item, indent, level + 1))
        elif kind is float:
            add(_float(item))
        else:
            raise _Declined
    return "[" + inner + ("," + inner).join(out) + _newline(indent, level) + "]"
