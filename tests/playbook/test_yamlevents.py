"""The event fast path (`runner.playbook.yamlevents`) against the node-tree path on tricky YAML.

Whatever the input, both must give the same values (types included), the same problems and the same
location for every path (existing or not, value or key); the fast path must take the common playbook
and leave everything it does not handle to the general path.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import SourceError
from runner.playbook import yamlsource
from runner.playbook.yamlsource import Document, Limits, load_bytes

#: documents the fast path reads itself
FAST = {
    "flow and block": "name: x\norders:\n  - {id: a, price: 1.5, tags: [x, 'y', \"z\"]}\n  - id: b\n"
                      "    nested: {deep: [1, [2, [3, {k: v}]]]}\n",
    "comments": "# head\na: 1  # trailing\n# between\nb:\n  # inside\n  - 2 # item\n",
    "multi-line strings": "a: |\n  line 1\n  line 2\nb: >\n  folded\n  text\nc: plain\n  continued\n"
                          "d: |-\n  kept\ne: \"double\\tquoted\\n\"\nf: 'single ''quoted'''\n",
    "tabs inside values": "a: \"x\\ty\"\nb: 'a\tb'\nc: x\ty\n",
    "numbers of every form": "a: 0.3\nb: 10\nc: -1.5E-3\nd: +5\ne: 1_000\nf: .5\ng: 5.\nh: 1e3\n"
                             "i: -0\nj: 0\nk: 2.50\nl: '1e3'\nm: 1.0e+2\nn: 123456789012345678\n"
                             "o: 0.000000000000000001\np: -.5e1\n",
    "booleans nulls dates": "a: true\nb: no\nc: ON\nd: ~\ne:\nf: null\ng: 2026-11-25\n"
                            "h: 2026-11-25T10:00:00Z\ni: y\nj: Off\n",
    "keys that look like values": "1: one\ntrue: t\n'<<': quoted merge\n=: equals\nnull: n\n1.5: x\n",
    "unicode and emoji": "name: café ✓\nnote: \"\\u00e9\"\nk\u00e9y: 😀\n",
    "crlf line ends": "a: 1\r\nb:\r\n  - x\r\n  - {c: 2}\r\n",
    "explicit document markers": "%YAML 1.1\n---\na: [1, 2]\n...\n",
    "empty values and collections": "a: []\nb: {}\nc: ''\nd: [[], {}]\ne: [~, '', \"\"]\n",
    "sequence at the top": "- 1\n- [a, b]\n- {c: d}\n",
    "scalar at the top": "just text\n",
    "empty": "",
    "comments only": "# nothing\n# here\n",
    "document marker only": "---\n",
    "line breaks libyaml counts": "a: 1\n\nb: [x,\n   y]\nc: {d: 1,\n    e: [2]}\n"
                                  "d: x\x85e: [1]\u2028f: {g: 2}\n",
}
#: of which these have no document at all (no places either)
NO_DOCUMENT = {"empty", "comments only"}

#: documents the general path reads (the fast path leaves them), each still read the same
GENERAL = {
    "anchors and aliases": "x-base: &base {side: BUY, qty: 1}\na: *base\nb: [*base, *base]\n",
    "merge keys": "x: &x {a: 1, b: [2]}\ny: {<<: *x, a: 3}\nz:\n  <<: [*x, {c: 4}]\n",
    "inline merge": "y: {<<: {a: 1}, b: 2}\n",
    "anchor without alias": "a: &only 1\nb: 2\n",
    "duplicate keys": "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n",
    "explicit tags": "a: !!str 10\nb: !!float '2.5'\nc: !!int '7'\nd: ! 5\n",
    "unsupported tags": "a: !!binary aGk=\nb: !foo 1\nc: !!set {x, y}\n",
    "complex key": "? [a, b]\n: 1\nc: 2\n",
    "bad numbers deep inside": "orders:\n  - id: a\n"
                               "    bracket: {take_profit: [{price: 010}, {price: .nan}]}\n"
                               "  - {id: b, quantity: 1e400, price: 0x1F, at: 1:30}\n",
    "bad boolean": "a: !!bool maybe\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "syntax error deep inside": "orders:\n  - {id: a, price: 1}\n  - {id: b, price: [1, 2}\n",
    "tab indentation": "a: 1\n\tb: 2\n",
}


def strict(value: Any) -> Any:
    """`value` with every scalar's type attached, so 1 == Decimal(1) == True compare unequal."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict(v) for v in value]
    return (type(value).__name__, value)


def paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path into `value`, plus paths that go past it (a missing key, an index out of range)."""
    found = [prefix, (*prefix, "missing"), (*prefix, 99), (*prefix, -1)]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def general(text: str, monkeypatch: pytest.MonkeyPatch, **limits: int) -> Document | str:
    with monkeypatch.context() as patched:
        patched.setattr(yamlsource, "load_events", lambda *args: None)
        return read(text, **limits)


def read(text: str, **limits: int) -> Document | str:
    try:
        return load_bytes(text.encode(), "f.yaml", Limits(**limits) if limits else Limits())
    except SourceError as exc:
        return str(exc)


def assert_same(fast: Document | str, slow: Document | str) -> None:
    if isinstance(slow, str):
        assert fast == slow  # the same fatal error, word for word
        return
    assert isinstance(fast, Document)
    assert strict(fast.data) == strict(slow.data)
    assert fast.problems == slow.problems and fast.bad_paths == slow.bad_paths
    assert fast.sha256 == slow.sha256
    for path in paths(slow.data):
        for key in (False, True):
            assert fast.locate(path, key=key) == slow.locate(path, key=key), (path, key)


@pytest.mark.parametrize("name", sorted(FAST))
def test_the_fast_path_reads_these_as_the_general_path_does(name: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    text = FAST[name]
    fast = read(text)
    assert isinstance(fast, Document) and fast.root is None  # no node tree: the fast path read it
    assert (fast.places is None) == (name in NO_DOCUMENT)
    assert_same(fast, general(text, monkeypatch))


@pytest.mark.parametrize("name", sorted(GENERAL))
def test_the_fast_path_leaves_these_to_the_general_path(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GENERAL[name]
    fast = read(text)
    assert isinstance(fast, str) or fast.places is None  # left to the node tree
    assert_same(fast, general(text, monkeypatch))


def test_numbers_keep_their_exact_form() -> None:
    doc = read(FAST["numbers of every form"])
    assert isinstance(doc, Document)
    assert strict(doc.data)["a"] == ("Decimal", Decimal("0.3")) and str(doc.data["k"]) == "2.50"
    assert type(doc.data["b"]) is int and type(doc.data["h"]) is Decimal and doc.data["h"] == 1000
    assert doc.data["l"] == "1e3"  # quoted: text


def test_a_scalar_location_composes_the_node_tree_once(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "orders:\n  - {id: a, price: 1}\n  - id: b\n    price: 2\n"
    doc = read(text)
    assert isinstance(doc, Document) and doc.places is not None
    assert doc.locate(("orders", 1)).line == 3 and doc.root is None  # an item: from the places
    assert (doc.locate(("orders", 1, "price")).line, doc.locate(("orders", 1, "price")).col) == (4, 12)
    assert doc.root is not None  # composed for the scalar, kept for the next question
    assert_same(doc, general(text, monkeypatch))


def test_limits_are_the_general_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = "a: " + "[" * 12 + "]" * 12 + "\n"
    assert "nested deeper than 10 levels" in str(read(deep, max_depth=10))
    assert_same(read(deep, max_depth=10), general(deep, monkeypatch, max_depth=10))
    assert isinstance(read(deep, max_depth=13), Document)
    many = "a: [" + ", ".join(["1"] * 50) + "]\nb: {" + ", ".join(f"k{i}: 1" for i in range(50)) + "}\n"
    for limit in (60, 102, 103, 104):  # around the document's 104 values (the root, a, b and 101 more)
        assert_same(read(many, max_nodes=limit), general(many, monkeypatch, max_nodes=limit))
    assert isinstance(read(many, max_nodes=104), Document)


def test_a_large_playbook_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    orders = "".join(f"  - id: o{i:05d}\n    symbol: AAPL-USD\n    side: {'BUY' if i % 3 else 'SELL'}\n"
                     f"    type: LIMIT\n    quantity: 0.001\n    price: {180 + i / 100:.2f}\n"
                     + (f"    bracket: {{take_profit: {200 + i}, stop_loss: 150.5}}\n" if i % 7 == 0 else "")
                     for i in range(300))
    text = f"version: 1\nname: big\nrun_id: \"r1\"\ndefaults:\n  time_in_force: GTC\norders:\n{orders}"
    fast = read(text)
    assert isinstance(fast, Document) and fast.places is not None
    assert_same(fast, general(text, monkeypatch))


SEED = """version: 1
name: seed
defaults: {time_in_force: GTC}
orders:
  - id: a
    symbol: AAPL-USD
    side: BUY
    type: LIMIT
    quantity: 0.001
    price: 180.50
    bracket: {take_profit: [{price: 190, size: 50%}, {price: 200}], stop_loss: 170}
  - {id: b, symbol: AAPL-USD, side: SELL, type: ALO, quantity: "1", price: 210, note: 'x: y'}
  - step: cancel
    orders: [a, b]
"""
SNIPPETS = ["&a ", "*a", "<<: ", "!!str ", "! ", "\t", "# c", "- ", ": ", "{", "}", "[", "]", ", ", "'", '"',
            "|\n", ">-\n", "\n", "  ", "0x1", "010", "1e400", ".nan", "1_0", "~", "? ", "---\n", "...\n",
            "yes", "2026-01-01", "\r\n", "x: 1\n", "é", "=", "\\"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, len(SEED)), st.integers(0, 3), st.sampled_from(SNIPPETS)),
                min_size=1, max_size=4))
def test_mutated_playbooks_read_the_same_on_both_paths(edits: list[tuple[int, int, str]]) -> None:
    """Edits anywhere (anchors, tags, tabs, quotes, flow brackets, bad numbers, documents...): whether
    the fast path reads the result or leaves it, values, problems and locations are the general path's."""
    text = SEED
    for position, cut, snippet in edits:
        text = text[:position] + snippet + text[position + cut:]
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same(read(text), general(text, monkeypatch))
