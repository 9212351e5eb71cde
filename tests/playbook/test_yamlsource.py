"""The YAML loader: exact numbers, positions, anchors/merges, and hostile or broken input."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from runner.errors import SourceError
from runner.playbook.yamlsource import Limits, load_bytes, load_file
from runner.problems import Location


def load(text: str, **limits: int):
    return load_bytes(text.encode(), "f.yaml", Limits(**limits) if limits else Limits())


def fatal(data: bytes | str, **limits: int) -> str:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(SourceError) as caught:
        load_bytes(raw, "f.yaml", Limits(**limits) if limits else Limits())
    [problem] = caught.value.problems
    return str(problem)


def test_numbers_are_exact_decimals_and_integers_stay_int() -> None:
    doc = load("a: 0.3\nb: 10\nc: 0.1\nd: 1e3\ne: 1_000\nf: '0.3'\ng: 2.50\n")
    assert doc.data == {
        "a": Decimal("0.3"),
        "b": 10,
        "c": Decimal("0.1"),
        "d": Decimal("1000"),
        "e": 1000,
        "f": "0.3",
        "g": Decimal("2.50"),
    }
    assert type(doc.data["a"]) is Decimal and str(doc.data["a"]) == "0.3"  # never via float
    assert type(doc.data["b"]) is int
    assert doc.data["a"] + doc.data["c"] * 2 == Decimal("0.5")
    assert not doc.problems


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("1e400", "out of range"),
        ("1.0e+400", "out of range"),
        ("1e-30", "more than 18 decimal places"),
        (".nan", "NaN"),
        (".NaN", "NaN"),
        (".inf", "infinity"),
        ("-.inf", "infinity"),
        ("010", "octal"),
        ("0x1F", "hexadecimal"),
        ("0b101", "hexadecimal"),
        ("1:30", "base 60"),
        ("1000000000000000000000", "out of range"),
    ],
)
def test_bad_numbers_are_located_problems(text: str, needle: str) -> None:
    doc = load(f"ok: 1\nvalue: {text}\n")
    [problem] = doc.problems
    assert problem.location == Location("f.yaml", 2, 8)
    assert needle in problem.message and problem.rule == "yaml-number"
    assert doc.data["value"] is None and ("value",) in doc.bad_paths


def test_quoted_numbers_stay_text() -> None:
    assert load('a: "1e400"\nb: "010"\nc: 0o17\n').data == {"a": "1e400", "b": "010", "c": "0o17"}


def test_scalars_booleans_nulls_dates() -> None:
    doc = load("a: true\nb: no\nc: ~\nd:\ne: 2026-11-25\nf: !!str 10\ng: !!float '2.5'\n")
    assert doc.data == {
        "a": True,
        "b": False,
        "c": None,
        "d": None,
        "e": "2026-11-25",
        "f": "10",
        "g": Decimal("2.5"),
    }


def test_positions_are_one_based_and_follow_paths() -> None:
    doc = load("name: x\norders:\n  - id: a\n    price: 200\n  - {id: b, price: 1}\n")
    assert doc.locate(()) == Location("f.yaml", 1, 1)
    assert doc.locate(("orders", 0, "price")) == Location("f.yaml", 4, 12)
    assert doc.locate(("orders", 0, "price"), key=True) == Location("f.yaml", 4, 5)
    assert doc.locate(("orders", 1, "price")) == Location("f.yaml", 5, 20)
    # a path that goes further than the document points at the deepest existing node
    assert doc.locate(("orders", 1, "missing")) == Location("f.yaml", 5, 5)
    assert doc.locate(("orders", 9)) == Location("f.yaml", 3, 3)


def test_anchors_aliases_and_merge_keys() -> None:
    doc = load(
        "x-base: &base {side: BUY, qty: 1}\n"
        "x-more: &more {tif: GTC, qty: 5}\n"
        "a: {<<: *base, qty: 2}\n"
        "b: {<<: [*base, *more]}\n"
        "c: *base\n"
    )
    assert doc.data["a"] == {"side": "BUY", "qty": 2}  # explicit key wins
    assert doc.data["b"] == {"side": "BUY", "qty": 1, "tif": "GTC"}  # earlier source wins
    assert doc.data["c"] == {"side": "BUY", "qty": 1}
    assert not doc.problems
    assert doc.locate(("a", "side")) == Location("f.yaml", 1, 22)  # merged value: where it is written


def test_duplicate_keys_are_located_and_first_value_kept() -> None:
    doc = load("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert [str(p) for p in doc.problems] == [
        "f.yaml:4:3: duplicate key 'c' (first defined on line 3) [yaml-duplicate-key]",
        "f.yaml:5:1: duplicate key 'a' (first defined on line 1) [yaml-duplicate-key]",
    ]
    assert doc.data == {"a": 1, "b": {"c": 1}}


def test_merge_does_not_count_as_duplicate() -> None:
    assert not load("x: &x {a: 1}\ny: {<<: *x, a: 2}\n").problems


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object:os.system x\n",
        "a: !!binary aGk=\n",
        "a: !foo 1\n",
        "a: !!set {x, y}\n",
        "a: !!omap [{x: 1}]\n",
    ],
)
def test_only_safe_tags(text: str) -> None:
    [problem] = load(text).problems
    assert problem.rule == "yaml-tag" and problem.location.line == 1


def test_billion_laughs_refused_quickly() -> None:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]\n"
    start = time.perf_counter()
    message = fatal(text)
    assert time.perf_counter() - start < 1.0  # linear in the file, not in the expansion (10^9)
    assert "alias bomb" in message


def test_moderate_aliasing_is_fine_but_capped() -> None:
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*a, *a, *a]\n"
    assert load(text).data["b"] == [list(range(1, 11))] * 3
    assert "alias bomb" in fatal(text, max_nodes=20)


def test_recursive_alias_refused() -> None:
    assert "recursive alias" in fatal("a: &a [*a]\n")


def test_oversized_input_refused_before_parsing() -> None:
    assert "larger than the 1000 bytes limit" in fatal("a: " + "x" * 2000, max_bytes=1000)
    assert fatal(b"a: 1\n" * 10, max_bytes=10).endswith("[yaml-limits]")


def test_too_many_values_refused() -> None:
    assert "more than 100 values" in fatal("[" + ", ".join(["1"] * 200) + "]", max_nodes=100)


def test_deep_nesting_refused() -> None:
    assert "nested deeper than 10 levels" in fatal("a: " + "[" * 20 + "]" * 20, max_depth=10)
    assert "yaml-syntax" in fatal("[" * 5000 + "]" * 5000)  # libyaml's own limit, still located


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"a: 1\nb: caf\xe9\n",
            "f.yaml:2:7: invalid UTF-8 byte 0xe9; save the file as UTF-8 [yaml-encoding]",
        ),
        (b"a: 1\nb: x\x00y\n", "f.yaml:2:5: NUL byte is not allowed in YAML [yaml-encoding]"),
        (b"a: \x1b[31m\n", "f.yaml:1:4: control character U+001B is not allowed in YAML [yaml-encoding]"),
        ("a: 1\n".encode("utf-16"), "f.yaml:1:1: file is UTF-16; save it as UTF-8 [yaml-encoding]"),
    ],
)
def test_bad_bytes_are_located(data: bytes, expected: str) -> None:
    assert fatal(data) == expected


def test_utf8_bom_and_unicode_text_accepted() -> None:
    assert load_bytes("\ufeffname: café ✓\n".encode(), "f.yaml").data == {"name": "café ✓"}


def test_syntax_errors_are_located() -> None:
    assert fatal("a: [1, 2\nb: 3\n").startswith("f.yaml:2:")
    assert fatal("a: 1\n\tb: 2\n").startswith("f.yaml:2:1: YAML syntax error")
    assert "single document" in fatal("a: 1\n---\nb: 2\n")


def test_empty_file_is_a_document_without_data() -> None:
    doc = load("")
    assert doc.data is None and doc.root is None and not doc.problems
    assert doc.locate(("orders", 0)) == Location("f.yaml", 1, 1)


def test_unreadable_files(tmp_path) -> None:
    with pytest.raises(SourceError) as missing:
        load_file(tmp_path / "nope.yaml")
    assert str(missing.value.problems[0]).endswith(
        "cannot read file: No such file or directory [file-unreadable]"
    )
    with pytest.raises(SourceError) as directory:
        load_file(tmp_path)
    assert "is a directory" in str(directory.value.problems[0])


def test_sha256_of_the_bytes(tmp_path) -> None:
    import hashlib

    path = tmp_path / "p.yaml"
    path.write_bytes(b"a: 1\n")
    assert load_file(path).sha256 == hashlib.sha256(b"a: 1\n").hexdigest()


def test_pure_python_fallback_gives_the_same_result(monkeypatch) -> None:
    import yaml

    from runner.playbook import yamlevents, yamlsource
    for text in ("x: &x {a: 0.3}\ny: {<<: *x, b: [1, 2]}\nz: 1e3\n", "y: {a: 0.3, b: [1, 2]}\nz: 1e3\n"):
        fast = load(text)
        with monkeypatch.context() as pure_python:  # no libyaml: neither its events nor its composer
            pure_python.setattr(yamlevents, "_CParser", None)
            pure_python.setattr(yamlsource, "_Loader", yaml.SafeLoader)
            slow = load(text)
        assert slow.places is None and slow.root is not None
        assert slow.data == fast.data
        assert slow.locate(("y", "b", 1)) == fast.locate(("y", "b", 1))
        assert slow.locate(("y", "a"), key=True) == fast.locate(("y", "a"), key=True)
