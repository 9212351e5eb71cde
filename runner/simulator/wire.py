"""JSON framing of the local exchange: exact numbers in, exact numbers out.

The simulator is an independent implementation of QFEX's documentation, so it has its own
codec rather than the runner's (`runner.jsonnum`): a misunderstanding of the wire format
must not hide on both sides at once.

- Inbound: every non-integer JSON number becomes a `Decimal` (`parse_float=Decimal`),
  integers stay `int`; `NaN`/`Infinity` are refused (they are not JSON).
- Inbound is bounded, because any client may send anything before it authenticates: a number
  longer than `MAX_NUMBER_CHARS` or outside the range of an f64 (serde_json's "number out of
  range"), and nesting deeper than `MAX_NESTING`, are refused as `FrameError` like malformed JSON;
  so is anything else the parser can raise. A refused number is never expanded (`1e300000000`
  would be 300 million digits written out).
- Outbound: a `Decimal` is written as a JSON number in the style QFEX's serde_json f64 output
  has in the documented examples (`1.0`, `200.0`, `0.05`) — but digit for digit from the
  Decimal, never through binary float, so `0.1` stays `0.1` and `123.456789` is exact. A number
  of extreme magnitude (beyond `PLAIN_EXPONENT_LIMIT`) is written with an exponent (`1e300`), as
  an f64 writer does, so that echoing a request can never blow a short number up into a long one.
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


#: Longest number literal accepted: an f64 needs at most 17 significant digits plus sign, point and
#: exponent, so 100 characters leaves room for any honest client and refuses a 5,000-digit integer.
MAX_NUMBER_CHARS = 100
#: The decimal exponent range of an f64 (largest ~1.8e308, smallest subnormal ~4.9e-324); a number
#: outside it is "number out of range" for QFEX's serde_json (a tinier one would read as 0: refused
#: here, so that no exponent is ever large enough to expand).
MAX_EXPONENT, MIN_EXPONENT = 308, -324
#: Deepest nesting of arrays/objects accepted; QFEX's messages are at most four levels deep.
MAX_NESTING = 32
#: Numbers whose adjusted exponent lies beyond ±this are written with an exponent, not in full.
PLAIN_EXPONENT_LIMIT = 20


class FrameError(ValueError):
    """A frame that is not JSON (or not the JSON QFEX accepts)."""


class BoundsError(FrameError):
    """A frame refused by the input bounds (number length or range, nesting): never echoed back."""


def _refuse_constant(name: str) -> Any:
    raise FrameError(f"{name} is not a valid JSON number")


def _checked_length(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise BoundsError(f"number too long: {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return text


def _parse_int(text: str) -> int:
    """JSON integer → `int`, refusing long ones before Python's int parser (quadratic) sees them.

    At most `MAX_NUMBER_CHARS` digits, so always within an f64's range.
    """
    return int(_checked_length(text))


def _parse_decimal(text: str) -> Decimal:
    """JSON non-integer → exact `Decimal` within an f64's exponent range; never expanded."""
    try:
        value = Decimal(_checked_length(text))
    except ArithmeticError:  # an exponent beyond what Decimal can hold at all
        raise BoundsError("number out of range") from None
    if not MIN_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
        raise BoundsError("number out of range")
    return value


_decoder = json.JSONDecoder(parse_float=_parse_decimal, parse_int=_parse_int,
                            parse_constant=_refuse_constant)


def decode(text: str | bytes) -> Any:
    """Parse one frame; raises FrameError with a short reason if it is not JSON we accept.

    Whatever goes wrong while parsing becomes a FrameError, so the server always answers with an
    `err` frame rather than failing the connection.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FrameError(f"frame is not UTF-8 text: {exc.reason}") from None
    try:
        value = _decoder.decode(text)
    except FrameError as exc:
        raise type(exc)(f"not valid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise FrameError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BoundsError(f"not valid JSON: nested more than {MAX_NESTING} levels deep") from None
    except (ValueError, ArithmeticError, MemoryError) as exc:  # anything else the parser may raise
        raise FrameError(f"not valid JSON: {type(exc).__name__}") from None
    if text.count("[") + text.count("{") > MAX_NESTING and _nesting(value) > MAX_NESTING:
        raise BoundsError(f"not valid JSON: nested more than {MAX_NESTING} levels deep")
    return value


def _nesting(value: Any) -> int:
    """Depth of arrays/objects in a decoded value, without recursion (the value may be deep)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if type(item) is dict:
            children: Any = item.values()
        elif type(item) is list:
            children = item
        else:
            continue
        depth += 1
        if depth > MAX_NESTING:
            return depth
        deepest = max(deepest, depth)
        pending.extend((child, depth) for child in children)
    return deepest


def number_text(value: Decimal) -> str:
    """`Decimal` → JSON number text in f64 style (`1` → `1.0`, `0.050` → `0.05`), exactly.

    Extreme magnitudes keep an exponent (`1e300`, `-2.5e-30`): written out they would be far
    longer than the number (a denial of service when a request is echoed back).
    """
    text = str(value)
    if "E" in text or "e" in text or "N" in text or "n" in text:  # exponent, NaN or Infinity
        if not value.is_finite():
            raise ValueError(f"non-finite number {value} cannot be sent on the wire")
        if not -PLAIN_EXPONENT_LIMIT <= value.adjusted() <= PLAIN_EXPONENT_LIMIT:
            return _exponent_text(value)
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        return text + "0" if text[-1] == "." else text
    return text + ".0"


def _exponent_text(value: Decimal) -> str:
    """`Decimal("1.50E+300")` → `1.5e300`: shortest mantissa, exponent without `+` (as serde_json)."""
    sign, digits, _ = value.as_tuple()
    mantissa = "".join(map(str, digits)).rstrip("0")
    if not mantissa:  # a zero with a far exponent (0E-30) is just zero
        return "-0.0" if sign else "0.0"
    head = ("-" if sign else "") + mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
    return f"{head}e{value.adjusted()}"


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
