"""JSON framing of the local exchange: exact numbers in, exact numbers out.

The simulator is an independent implementation of QFEX's documentation, so it has its own
codec rather than the runner's (`runner.jsonnum`): a misunderstanding of the wire format
must not hide on both sides at once.

- Inbound: every non-integer JSON number becomes a `Decimal` (`parse_float=Decimal`),
  integers stay `int`; `NaN`/`Infinity` are refused (they are not JSON).
- Outbound: a `Decimal` is written as a JSON number in the style QFEX's serde_json f64 output
  has in the documented examples (`1.0`, `200.0`, `0.05`) — but digit for digit from the
  Decimal, never through binary float, so `0.1` stays `0.1` and `123.456789` is exact.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from enum import Enum
from typing import Any

#: A JSON object as this codec reads and writes it: QFEX's messages, params and refdata rows. Values
#: stay dynamic because the engine checks each field as it reads it (validation.py), in QFEX's order.
JsonObject = dict[str, Any]

_encode_str = json.encoder.encode_basestring_ascii  # C-accelerated


class FrameError(ValueError):
    """A frame that is not JSON (or not the JSON QFEX accepts)."""


def _refuse_constant(name: str) -> Any:
    raise FrameError(f"{name} is not a valid JSON number")


_decoder = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


def decode(text: str | bytes) -> Any:
    """Parse one frame; raises FrameError with a short reason if it is not JSON."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FrameError(f"frame is not UTF-8 text: {exc.reason}") from None
    try:
        return _decoder.decode(text)
    except FrameError:
        raise
    except json.JSONDecodeError as exc:
        raise FrameError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise FrameError("not valid JSON: nested too deeply") from None


def number_text(value: Decimal) -> str:
    """`Decimal` → JSON number text in f64 style (`1` → `1.0`, `0.050` → `0.05`), exactly."""
    text = str(value)
    if "E" in text or "e" in text or "N" in text or "n" in text:  # exponent, NaN or Infinity
        if not value.is_finite():
            raise ValueError(f"non-finite number {value} cannot be sent on the wire")
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        return text + "0" if text[-1] == "." else text
    return text + ".0"


_KEYS: dict[str, str] = {}  # '"key":' prefixes; keys are few and repeat in every frame


def _key(key: Any) -> str:
    if type(key) is not str:
        key = _key_text(key)
    text = _KEYS.get(key)
    if text is None:
        text = _encode_str(key) + ":"
        if len(_KEYS) < 4096:
            _KEYS[key] = text
    return text


def _object(value: JsonObject) -> str:
    parts: list[str] = []
    append = parts.append
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            append(_key(key) + _encode_str(item))
        elif kind is Decimal:
            append(_key(key) + number_text(item))
        else:
            append(_key(key) + _value(item))
    return "{" + ",".join(parts) + "}"


def _value(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is Decimal:
        return number_text(value)
    if kind is dict:
        return _object(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is list or kind is tuple:
        return "[" + ",".join([_value(item) for item in value]) + "]"
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value} cannot be sent on the wire")
        return float.__repr__(value)  # only timestamps are floats; money is Decimal by construction
    return _other(value)


def _key_text(key: Any) -> str:
    if isinstance(key, Enum):
        return str(key.value)
    if isinstance(key, str):
        return str(key)
    raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")


def _other(value: Any) -> str:
    """Subclasses and enums (rare): normalise, then encode as the base type."""
    if isinstance(value, Enum):
        return _value(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    for base in (str, int, float, Decimal):
        if isinstance(value, base):
            return _value(base(value))
    if isinstance(value, dict):
        return _object(dict(value))
    if isinstance(value, (list, tuple)):
        return _value(list(value))
    raise TypeError(f"cannot send {type(value).__name__} on the wire")


def encode(obj: Any) -> str:
    """Serialise one outbound frame compactly (`{"a":1.0}`), Decimals exact."""
    return _value(obj)
