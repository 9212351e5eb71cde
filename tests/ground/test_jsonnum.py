"""runner.jsonnum: exact numbers both ways, and bad input always a ValueError."""

from __future__ import annotations

import enum
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner import jsonnum


def test_numbers_round_trip_exactly():
    text = '{"price": 230.05, "quantity": 0.3, "count": 7, "tiny": 1e-18}'
    value = jsonnum.loads(text)
    assert value == {"price": Decimal("230.05"), "quantity": Decimal("0.3"), "count": 7,
                     "tiny": Decimal("1E-18")}
    assert jsonnum.loads(jsonnum.dumps(value)) == value


def test_hostile_nesting_is_a_value_error_not_a_recursion_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        jsonnum.loads("[" * 200_000 + "]" * 200_000)


def test_broken_json_is_a_value_error():
    with pytest.raises(json.JSONDecodeError):
        jsonnum.loads('{"a": ')


class Colour(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


PLAIN = [
    {}, [], {"a": []}, [{}], {"n": None, "t": True, "f": False, "i": -3, "x": 1.25, "big": 10 ** 30},
    {"nested": {"deeper": [1, [2, [3, {"k": "v"}]]]}}, ["ünïcode \"quoted\" \\ back\nslash\t"],
    {"inf": float("inf"), "nan": float("nan")}, {"b": 1, "a": {"d": 2, "c": 3}},
]


@pytest.mark.parametrize("value", PLAIN, ids=repr)
@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("sort_keys", [False, True])
def test_without_decimals_the_text_is_the_standard_librarys(value: object, indent: int | None,
                                                             sort_keys: bool) -> None:
    """The one encoder lays JSON out exactly as `json.dumps` does (an oracle outside our code)."""
    assert jsonnum.dumps(value, indent=indent, sort_keys=sort_keys) == json.dumps(value, indent=indent,
                                                                                  sort_keys=sort_keys)


def test_decimals_enums_and_tuples_are_written_exactly() -> None:
    value = {"d": Decimal("0.000000010"), "e": Decimal("1E+3"), "neg": Decimal("-0"), Colour.RED: Colour.RED,
             "levels": (Level.HIGH, [Colour.RED])}
    assert jsonnum.dumps(value) == ('{"d": 0.000000010, "e": 1000, "neg": -0, "red": "red", '
                                    '"levels": [3, ["red"]]}')
    assert jsonnum.dumps(value, indent=2).splitlines()[1] == '  "d": 0.000000010,'


def test_non_finite_decimals_and_unknown_types_are_refused() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        jsonnum.dumps({"x": [Decimal("NaN")]})
    with pytest.raises(TypeError, match="cannot serialise set"):
        jsonnum.dumps({"x": {1}})


@pytest.mark.parametrize("indent", [None, 2])
def test_a_streamed_list_writes_what_the_whole_list_writes(indent: int | None) -> None:
    """`Streamed` builds each item as it is written; the text is the whole document's."""
    built: list[int] = []
    after: list[int] = []

    def build(i: int) -> dict:
        built.append(i)
        return {"i": i, "price": Decimal(f"{i}.50")}

    items = [{"i": i, "price": Decimal(f"{i}.50")} for i in range(3)]
    out: list[str] = []
    jsonnum.write({"orders": jsonnum.Streamed(range(3), build, lambda: after.append(len(built))), "n": 3},
                  out.append, indent=indent)
    assert "".join(out) == jsonnum.dumps({"orders": items, "n": 3}, indent=indent)
    assert after == [1, 2, 3], "after_each runs once per item, after it is written"
    empty: list[str] = []
    jsonnum.write({"orders": jsonnum.Streamed([])}, empty.append, indent=indent)
    assert "".join(empty) == jsonnum.dumps({"orders": []}, indent=indent)


def test_a_huge_exponent_keeps_its_exponent_form_and_normal_numbers_their_text() -> None:
    """A hostile `1e999999999` must not become a billion digits; everyday numbers are unchanged."""
    huge = Decimal("1e999999999")
    assert jsonnum.dumps({"q": huge}) == '{"q": 1E+999999999}'
    assert jsonnum.loads(jsonnum.dumps(huge)) == huge
    assert jsonnum.dumps(Decimal("-1E-999999999")) == "-1E-999999999"
    for text in ("0.30", "230.125", "1000000", "0.000000000000000001", "1733380000000000000", "1E+64"):
        assert jsonnum.dumps(Decimal(text)) == format(Decimal(text), "f")


@pytest.mark.parametrize("value", [
    *PLAIN, {"d": Decimal("0.000000010"), Colour.RED: Colour.RED, "levels": (Level.HIGH, [Colour.RED])},
    {"order_response": {"price": Decimal("180.98"), "quantity": Decimal("0.001"), "id": "x", "n": None,
                        "ok": True, "rows": [Decimal("1E+3"), -0, 2.5, {"a": []}], 7: "int key"}},
    [Decimal("-0"), (), {}, "\u2028 é \x00"], Decimal("1E+999999999"), "plain", None, 12,
], ids=repr)
def test_the_compact_fast_path_writes_what_the_general_encoder_writes(value: object) -> None:
    """`dumps` without indent takes its own path (journal lines, messages): same text, byte for byte."""
    general: list[str] = []
    jsonnum._encoder(general.append, None, False)(value, 0)
    assert jsonnum.dumps(value) == "".join(general)


@pytest.mark.parametrize("text", ['{"a": 1.10, "b": [2, 3e-2]}', b'{"a": 1.10}', bytearray(b'[1.5]'),
                                  '{"a": 1}'.encode("utf-16"), '{"a": 1}'.encode("utf-16-le"),
                                  '{"a": 1}'.encode("utf-32-le"), "7", '{"a": 1} \n', b'{"a": 1}\r\n',
                                  ' {"a": 1}', '{"\u00e9": "caf\u00e9"}', '{"é": "\ud83d"}'.encode("utf-8",
                                  "surrogatepass")])
def test_loads_reads_str_and_bytes_as_json_loads_does(text: str | bytes) -> None:
    assert jsonnum.loads(text) == json.loads(text, parse_float=Decimal)


def test_loads_refuses_what_json_loads_refuses() -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonnum.loads("\ufeff{}")
    for trailing in ('{"a": 1} x', b'{"a": 1}{}', '{"a": 1'):  # the direct scan of `{...` checks the end too
        with pytest.raises(json.JSONDecodeError):
            jsonnum.loads(trailing)
    with pytest.raises(TypeError):
        jsonnum.loads(12)  # type: ignore[arg-type]


def test_a_decimal_is_written_as_format_f_within_the_exponent_limit_whatever_its_shape() -> None:
    """`_decimal` takes `str(value)` when it has no exponent: the text must be format "f"'s."""
    import random

    rng = random.Random(18)
    values = [Decimal(x) for x in ("0", "-0", "0.0", "0E-8", "1E+3", "180.98", "0.000001", "1E-7", "1E+64",
                                   "1E+65", "1E-64", "1E-65", "-1.5E+10")]
    values += [Decimal(rng.randint(-10 ** 6, 10 ** 6)).scaleb(rng.randint(-70, 70)) for _ in range(5000)]
    for value in values:
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        plain = -jsonnum.PLAIN_EXPONENT_LIMIT <= exponent <= jsonnum.PLAIN_EXPONENT_LIMIT
        assert jsonnum.dumps(value) == (format(value, "f") if plain else str(value)), value


# --- the indented path (report.json, `--format json`): the general encoder's text, byte for byte ---

def _general(value: object, indent: int, level: int = 0) -> str:
    """The value-by-value encoder every indented text was written by before (the oracle)."""
    out: list[str] = []
    jsonnum._encoder(out.append, " " * indent, False)(value, level)
    return "".join(out)


#: text that is hard to write: quotes, backslashes, every line break, controls, non-BMP, a lone
#: surrogate, JSON-looking and Markdown-looking fragments
_NASTY_TEXT = st.lists(st.sampled_from(
    ['"', "\\", "\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\u2028", "é", "€", "😀", "\ud800", "{", "}", "[",
     "]", ",", ":", " ", "a", "0", "-", ".", "E", "null", '": ', "\\u0000"]), max_size=8).map("".join)
_DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("-0"), Decimal("0E-8"), Decimal("1E+64"), Decimal("1E+65"), Decimal("-1E-999"),
                     Decimal("123456789012345678901234567890.123456789012345678901234567890"),
                     Decimal("0.30"), Decimal("1.000")]))
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _DECIMALS, _NASTY_TEXT)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(_NASTY_TEXT, inner, max_size=4)), max_leaves=24)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(value=_VALUES, indent=st.sampled_from([0, 1, 2, 4]))
def test_indented_text_is_the_general_encoders_byte_for_byte(value: object, indent: int) -> None:
    """Decimals of every shape (many digits, exponents, negative zero), floats (inf, nan), and strings
    with quotes, backslashes, line breaks, controls and unicode: `dumps` and `write` with an indent
    write exactly what the general encoder wrote."""
    expected = _general(value, indent)
    assert jsonnum.dumps(value, indent=indent) == expected
    out: list[str] = []
    jsonnum.write(value, out.append, indent=indent)
    assert "".join(out) == expected


def test_what_the_indented_path_declines_is_still_written_by_the_general_encoder() -> None:
    """Enum keys and values, subclasses, a `Streamed` list inside: the same text, from the general
    encoder (for the container holding them; the rest still takes the fast path)."""

    class Text(str):
        pass

    value = {"a": [{"k": Colour.RED, Colour.RED: Level.HIGH, 7: Text("x")}, {"d": Decimal("1.50")}],
             "b": {"deep": [Text("y"), (Decimal("-0"), 2.5)]}, "n": None}
    assert jsonnum.dumps(value, indent=2) == _general(value, 2)
    streamed = {"head": {"x": [1, {"y": Decimal("2.0")}]},
                "rows": jsonnum.Streamed(range(3), lambda i: {"i": i, "p": Decimal(i) / 4, "e": Colour.RED})}
    out: list[str] = []
    jsonnum.write(streamed, out.append, indent=2)
    rows = [{"i": i, "p": Decimal(i) / 4, "e": Colour.RED} for i in range(3)]
    whole = {"head": streamed["head"], "rows": rows}
    assert "".join(out) == _general(whole, 2)
    with pytest.raises(ValueError, match="non-finite"):
        jsonnum.dumps({"x": [Decimal("sNaN")]}, indent=2)
    with pytest.raises(TypeError, match="cannot serialise set"):
        jsonnum.dumps({"x": [{1}]}, indent=2)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(value=_VALUES)
def test_compact_text_is_the_general_encoders_byte_for_byte(value: object) -> None:
    """`dumps` without indent (every journal line and message sent): the general encoder's text."""
    out: list[str] = []
    jsonnum._encoder(out.append, None, False)(value, 0)
    assert jsonnum.dumps(value) == "".join(out)
    assert jsonnum.dumps({"params": value, "n": None, "t": True, "f": False, "i": 1}) == \
        '{"params": ' + "".join(out) + ', "n": null, "t": true, "f": false, "i": 1}'
