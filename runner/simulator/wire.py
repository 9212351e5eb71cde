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
from decimal import Decimal
from enum import Enum
from typing import Any

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
    if not value.is_finite():
        raise ValueError(f"non-finite number {value} cannot be sent on the wire")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
        return text
    return text + ".0"


def _encode(value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_encode_str(value))
    elif kind is Decimal:
        out.append(number_text(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        sep = "{"
        for key, item in value.items():
            out.append(sep)
            out.append(_encode_str(key if type(key) is str else _key_text(key)))
            out.append(":")
            _encode(item, out)
            sep = ","
        out.append("}")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        sep = "["
        for item in value:
            out.append(sep)
            _encode(item, out)
            sep = ","
        out.append("]")
    else:
        _encode_other(value, out)


def _key_text(key: Any) -> str:
    if isinstance(key, Enum):
        return str(key.value)
    if isinstance(key, str):
        return str(key)
    raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")


def _encode_other(value: Any, out: list[str]) -> None:
    if isinstance(value, Enum):
        _encode(value.value, out)
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, Decimal):
        out.append(number_text(value))
    elif isinstance(value, float):
        # Only timestamps-as-floats could reach here; money is Decimal by construction.
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, dict):
        _encode({_key_text(k): v for k, v in value.items()}, out)
    elif isinstance(value, (list, tuple)):
        _encode(list(value), out)
    else:
        raise TypeError(f"cannot send {type(value).__name__} on the wire")


def encode(obj: Any) -> str:
    """Serialise one outbound frame compactly (`{"a":1.0}`), Decimals exact."""
    out: list[str] = []
    _encode(obj, out)
    return "".join(out)
