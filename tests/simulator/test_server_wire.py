"""JSON framing of the local exchange: exact numbers both ways, QFEX's f64-looking output."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runner.simulator import wire


def test_decimals_are_written_exactly_in_f64_style():
    assert wire.encode({"quantity": Decimal("1")}) == '{"quantity":1.0}'
    assert wire.encode({"price": Decimal("200.00")}) == '{"price":200.0}'
    assert wire.encode({"m": Decimal("0.050")}) == '{"m":0.05}'
    assert wire.encode({"p": Decimal("123.456789012345678901")}) == '{"p":123.456789012345678901}'
    assert wire.encode({"big": Decimal("1E+3"), "tiny": Decimal("1E-9")}) == (
        '{"big":1000.0,"tiny":0.000000001}')
    assert wire.encode({"neg": Decimal("-0.10")}) == '{"neg":-0.1}'


def test_other_json_values_are_compact_and_escaped():
    frame = {"s": 'a"b\u00e9', "n": None, "t": True, "f": False, "i": 7, "l": [1, "x"], "e": {}, "el": []}
    assert wire.encode(frame) == (
        '{"s":"a\\"b\\u00e9","n":null,"t":true,"f":false,"i":7,"l":[1,"x"],"e":{},"el":[]}')


def test_non_finite_and_unknown_values_are_refused():
    with pytest.raises(ValueError):
        wire.encode({"x": Decimal("NaN")})
    with pytest.raises(TypeError):
        wire.encode({"x": object()})


def test_decode_keeps_numbers_exact():
    msg = wire.decode('{"type":"add_order","params":{"quantity":0.1,"price":200.10,"n":3}}')
    assert msg["params"]["quantity"] == Decimal("0.1")
    assert str(msg["params"]["price"]) == "200.10"
    assert type(msg["params"]["n"]) is int


@pytest.mark.parametrize("frame", ["not json", "{", '{"a": NaN}', '{"a": Infinity}', b"\xff\xfe"])
def test_decode_refuses_non_json(frame):
    with pytest.raises(wire.FrameError):
        wire.decode(frame)


def test_decode_accepts_utf8_bytes():
    assert wire.decode(b'{"type":"x","params":{}}') == {"type": "x", "params": {}}


def test_floats_enums_and_subclasses_are_normalised():
    from enum import Enum

    class Side(str, Enum):
        BUY = "BUY"

    class Qty(Decimal):
        pass

    frame = {"t": 1795643957.540976, "side": Side.BUY, "q": Qty("2.50"), "tuple": (1, 2), Side.BUY: True}
    assert wire.encode(frame) == '{"t":1795643957.540976,"side":"BUY","q":2.5,"tuple":[1,2],"BUY":true}'
    with pytest.raises(ValueError):
        wire.encode({"x": float("inf")})


@pytest.mark.parametrize("frame", [
    '{"p":1e300000000}', '{"p":-1E+309}', '{"p":1e-325}', '{"p":0e-300000000}',
    '{"p":1e99999999999999999999999999}', '{"p":' + "9" * 5000 + "}", '{"p":0.' + "1" * 200 + "}",
    '{"p":' + "[" * 33 + "]" * 33 + "}", "[" * 100_000 + "]" * 100_000,
])
def test_decode_refuses_numbers_and_nesting_beyond_its_bounds(frame):
    with pytest.raises(wire.FrameError):
        wire.decode(frame)


def test_decode_accepts_numbers_at_its_bounds():
    msg = wire.decode('{"a":1e308,"b":5e-324,"c":' + "9" * 100 + ',"d":' + "[" * 31 + "]" * 31 + "}")
    assert msg["a"] == Decimal("1e308") and msg["b"] == Decimal("5e-324")
    assert msg["c"] == int("9" * 100)


def test_extreme_magnitudes_are_written_with_an_exponent_never_expanded():
    assert wire.number_text(Decimal("1e300")) == "1e300"
    assert wire.number_text(Decimal("-2.50E-30")) == "-2.5e-30"
    assert wire.number_text(Decimal("0E-300")) == "0.0"
    assert wire.number_text(Decimal("1E+20")) == "100000000000000000000.0"  # ordinary sizes unchanged
    assert wire.number_text(Decimal("1E-20")) == "0.00000000000000000001"
