"""The fast path of `runner.playbook.yamlsource`: plain values, and where each was written, built
straight from libyaml's parser events.

Why: composing PyYAML's node tree (a node object and two marks per value, the Python resolver asked
for every node) and then converting it to plain values cost ~36 µs of CPU per order of a 1,500-order
playbook (`run`, whole process); reading the events into values directly costs ~13 µs. Of the marks,
only those every validation asks for are kept (`Place`: where each mapping, sequence and sequence
item starts: `Order.location`); where a scalar inside a mapping is written is asked only for a
problem, and `Document.locate` then composes the node tree once to answer (`mark_at` says None).
Each plain scalar's value is read once per distinct text.

Only the common document takes this path: one document of mappings, sequences and untagged
scalars, with no anchor, alias, merge key, explicit tag, duplicate key, complex key or value with a
problem, within the `Limits`. Anything else (and any syntax error) returns None and the general
path reads the document again from the start, so every problem is found and told by one code,
exactly as before. The values are the ones the general path builds (`runner.playbook.yamlscalar`
reads each scalar for both); the places answer `Document.locate` the same way its node tree does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from runner.playbook.yamlscalar import scalar_value

try:  # the events of libyaml's C parser; without it, the general path reads every document
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _CParser = None  # type: ignore[assignment, misc]


class Place:
    """Where a mapping or sequence starts, and where its entries are: a mapping's entries are
    key -> (the key's mark, the value's place) for its mappings and sequences only (not its scalars:
    ~2 µs per order), a sequence's the places of all its items. A scalar's place is its start mark."""

    __slots__ = ("entries", "mark")

    def __init__(self, mark: Any, entries: dict[str, tuple[Any, Any]] | list[Any]) -> None:
        self.mark = mark
        self.entries = entries


#: a value's place: a `Place` for a mapping or sequence, a libyaml mark (untyped) for a scalar
Where = Any


def mark_at(place: Where, path: Sequence[str | int], key: bool) -> Any | None:
    """The mark `Document.locate` reports for `path` (the same walk as over the node tree: a path
    that goes further than the document stops at the deepest value that exists); None when the
    places cannot tell (a mapping's scalar, or a key it does not have: only the node tree can)."""
    key_mark = None
    for part in path:
        entries = place.entries if isinstance(place, Place) else None
        if isinstance(entries, dict):
            if part not in entries:
                return None
            key_mark, place = entries[part]
        elif isinstance(entries, list) and isinstance(part, int) and 0 <= part < len(entries):
            key_mark, place = None, entries[part]
        else:
            break  # past a scalar, or not an item of the sequence
    target = key_mark if key and key_mark is not None else place
    return target.mark if isinstance(target, Place) else target


class _Unhandled(Exception):
    """The document needs the general path (it says what, if anything, is wrong)."""


_RESOLVER = yaml.resolver.Resolver()
_MISSING = object()


def load_events(text: str, max_nodes: int, max_depth: int) -> tuple[Any, Where | None] | None:
    """(value, place) of the document in `text` ((None, None) when it has none); None when the
    general path must read it."""
    if _CParser is None:  # pragma: no cover - depends on how PyYAML was built
        return None
    try:
        return _Reader(_CParser(text), max_nodes, max_depth).document()
    except (_Unhandled, yaml.YAMLError, RecursionError):
        return None


class _Reader:
    """One pass over the events; raises `_Unhandled` at the first thing it leaves to the general path."""

    def __init__(self, parser: Any, max_nodes: int, max_depth: int) -> None:
        self.next_event = parser.get_event
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.count = 0
        #: plain scalar text -> its value: a playbook repeats `BUY`, `AAPL-USD`, `0.001` order after
        #: order, and a plain scalar's value depends on its text alone (every value is immutable)
        self.plain: dict[str, Any] = {}

    def document(self) -> tuple[Any, Where | None]:
        self.next_event()  # the stream's start
        if isinstance(self.next_event(), StreamEndEvent):
            return None, None  # no document at all (empty, or comments only)
        value, place = self.value(self.next_event(), 0)
        self.next_event()  # the document's end
        if not isinstance(self.next_event(), StreamEndEvent):
            raise _Unhandled("more than one document")
        if self.count > self.max_nodes:  # scalars in mappings are counted, not checked, as they are read
            raise _Unhandled("too many values")
        return value, place

    def value(self, event: Any, depth: int) -> tuple[Any, Where]:
        self.count += 1
        if self.count > self.max_nodes or getattr(event, "tag", None) is not None or event.anchor is not None:
            raise _Unhandled("too many values, an explicit tag, an anchor or an alias")
        kind = type(event)
        if kind is ScalarEvent:
            return self.scalar(event), event.start_mark
        if depth >= self.max_depth:
            raise _Unhandled("nested too deeply")
        if kind is MappingStartEvent:
            return self.mapping(event, depth)
        if kind is SequenceStartEvent:
            return self.sequence(event, depth)
        raise _Unhandled(kind.__name__)

    def scalar(self, event: Any) -> Any:
        text = event.value
        if event.style:  # quoted or a block scalar, untagged: text, whatever it looks like
            return text
        value = self.plain.get(text, _MISSING)
        if value is _MISSING:
            tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
            value, problem = scalar_value(tag, text, plain=True)
            if problem is not None:
                raise _Unhandled(problem[0])
            self.plain[text] = value
        return value

    def mapping(self, start: Any, depth: int) -> tuple[dict[str, Any], Place]:
        # the loop every entry of every order goes through: an untagged scalar value is read by
        # `scalar` directly rather than through `value` (no place kept for it, see `Place`)
        next_event = self.next_event
        values: dict[str, Any] = {}
        entries: dict[str, tuple[Any, Any]] = {}
        while True:
            key = next_event()
            if type(key) is not ScalarEvent:
                if type(key) is MappingEndEvent:
                    return values, Place(start.start_mark, entries)
                raise _Unhandled("a complex key")
            name = key.value
            merge = name == "<<" and not key.style
            if key.tag is not None or key.anchor is not None or name in values or merge:
                raise _Unhandled("a tagged or anchored key, a duplicate key or a merge key")
            event = next_event()
            if type(event) is not ScalarEvent or event.tag is not None or event.anchor is not None:
                values[name], place = self.value(event, depth + 1)
                entries[name] = (key.start_mark, place)
                continue
            self.count += 1
            values[name] = self.scalar(event)

    def sequence(self, start: Any, depth: int) -> tuple[list[Any], Place]:
        values: list[Any] = []
        places: list[Any] = []
        while True:
            event = self.next_event()
            if type(event) is SequenceEndEvent:
                return values, Place(start.start_mark, places)
            value, place = self.value(event, depth + 1)
            values.append(value)
            places.append(place)
