"""Safe YAML loading that remembers where every value came from, with numbers as exact `Decimal`.

Why not `yaml.safe_load`: it forgets positions (we report `file:line:col`), reads `0.3` as a
binary float, silently keeps the last of two duplicate keys and expands alias bombs until memory
runs out. Here the common playbook is read straight from libyaml's events into plain values and
their marks (`runner.playbook.yamlevents`); any other document (anchors, merge keys, tags, any problem)
is read by libyaml's C composer (when available) into the node tree, which keeps marks, and a small
converter turns nodes into plain values (each scalar by `runner.playbook.yamlscalar` on both paths):

- mappings -> dict (keys are the key's source text), sequences -> list, strings -> str,
  `true/false` -> bool, `null`/empty -> None, dates (YAML 1.1 timestamps) -> their source text;
- integers -> int, other numbers -> Decimal read from the source text (never via float); YAML 1.2
  exponent forms the 1.1 resolver leaves as strings (`1e3`) are numbers too. NaN, infinities,
  out-of-range magnitudes (`1e400`), octal/hex/sexagesimal integers are located problems;
- anchors, aliases and merge keys (`<<: *base`) work; duplicate keys are located problems;
- only the standard safe tags are accepted (no `!!python/...`, no custom tags).

Fatal input (unreadable, not UTF-8, NUL bytes, YAML syntax, too large, alias bomb) raises
`SourceError`; non-fatal problems are collected on the `Document` so a file reports them all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner.errors import NotARegularFile, SourceError
from runner.files import read_regular
from runner.playbook.yamlevents import Where, load_events, mark_at
from runner.playbook.yamlscalar import MAP as _MAP
from runner.playbook.yamlscalar import MAX_ADJUSTED_EXPONENT as MAX_ADJUSTED_EXPONENT
from runner.playbook.yamlscalar import MAX_DECIMAL_PLACES as MAX_DECIMAL_PLACES
from runner.playbook.yamlscalar import MERGE as _MERGE
from runner.playbook.yamlscalar import SEQ as _SEQ
from runner.playbook.yamlscalar import number_bounds_problem as number_bounds_problem
from runner.playbook.yamlscalar import scalar_value, unsupported
from runner.problems import Location, Problem

try:  # libyaml's composer is ~10x faster than the pure-Python one and keeps the same marks
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _Loader(_BaseLoader):
    """The safe loader, remembering each implicit tag it resolves for the rest of the document.

    Why: the composer asks PyYAML's Python-side resolver for every node's tag (a walk over regular
    expressions per plain scalar), and a playbook repeats the same keys and values order after
    order (`symbol`, `side`, `AAPL-USD`, `BUY`, ...). The answer depends only on the node's kind,
    text and implicitness (the safe loader has no path resolvers), so the first answer is the answer.
    """

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[Any, Any, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        key = (kind, value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return tag

#: YAML's printable set (spec 5.1) minus what libyaml would refuse less helpfully.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

JsonPath = Sequence[str | int]


@dataclass(frozen=True)
class Limits:
    """Resource caps: hostile or broken input is refused before it can eat memory or time."""

    max_bytes: int = 10 * 1024 * 1024
    #: values after expanding aliases (a 10,000-order playbook with brackets is ~200,000)
    max_nodes: int = 2_000_000
    max_depth: int = 64


DEFAULT_LIMITS = Limits()


@dataclass
class Document:
    """A loaded YAML file: plain data plus where each value was written (the node tree of the
    general path, or the places of the fast path) to locate any path in it."""

    path: str
    data: Any
    root: yaml.Node | None
    sha256: str
    #: non-fatal problems found while converting (duplicate keys, bad numbers, bad tags)
    problems: list[Problem] = field(default_factory=list)
    #: JSON paths whose value was replaced because of a problem above (later checks skip them)
    bad_paths: set[tuple[str | int, ...]] = field(default_factory=set)
    #: the fast path's marks (`runner.playbook.yamlevents`): `root` is composed from `text` only
    #: when a location they do not keep is asked for (a problem's)
    places: Where | None = None
    text: str | None = None

    def locate(self, path: JsonPath, *, key: bool = False) -> Location:
        """Where the value at `path` (e.g. ("orders", 3, "price")) starts; with `key`, where its key is.

        A path that goes further than the document points at the deepest node that exists, so a
        missing key is reported at the mapping that should hold it.
        """
        if self.places is not None:
            mark = mark_at(self.places, path, key)
            if mark is not None:
                return _location(self.path, mark)
            if self.root is None and self.text is not None:
                self.root = _compose(self.text, self.path)  # parsed by the fast path: cannot fail
        node, key_node = self.root, None
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            key_node, node = found
        target = key_node if key and key_node is not None else node
        if target is None:
            return Location(self.path, 1, 1)
        return _location(self.path, target.start_mark)


def _location(file: str, mark: Any) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    """The (key node, value node) for one path step, following merge keys like the converter does."""
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        return (None, node.value[part]) if 0 <= part < len(node.value) else None
    if not isinstance(node, yaml.MappingNode):
        return None
    merged: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merged.extend(value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node])
        elif isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
            return key_node, value_node
    for source in merged:
        found = _child(source, part)
        if found is not None:
            return found
    return None


# --- reading ----------------------------------------------------------------------------------


def load_file(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Read and load one YAML file; every failure is a located `SourceError`, never a traceback."""
    name = str(path)
    try:
        data = read_regular(path, limits.max_bytes)  # never blocks on a FIFO; only regular files
    except NotARegularFile as exc:
        raise _fatal(Location(name), f"is {exc.what}, not a playbook file", "file-unreadable") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _fatal(Location(name), f"cannot read file: {reason}", "file-unreadable") from None
    return load_bytes(data, name, limits)


def load_bytes(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Load YAML from bytes (`name` is used in locations)."""
    if len(data) > limits.max_bytes:
        message = f"file is larger than the {_size(limits.max_bytes)} limit"
        raise _fatal(Location(name), message, "yaml-limits")
    text = _decode(data, name)
    digest = hashlib.sha256(data).hexdigest()
    fast = load_events(text, limits.max_nodes, limits.max_depth)
    if fast is not None:
        value, places = fast
        return Document(name, value, None, digest, places=places, text=text)
    root = _compose(text, name)
    document = Document(name, None, root, digest)
    if root is None:
        return document
    if "*" in text:  # aliases can only exist if an asterisk does: measure the expanded size first
        _check_expansion(root, name, limits)
    document.data = _Converter(document, limits).convert(root, (), 0)
    return document


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 and n % (1024 * 1024) == 0 else f"{n} bytes"


def _fatal(location: Location, message: str, rule: str) -> SourceError:
    return SourceError([Problem(location, message, rule)], f"{location}: {message}")


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fatal(Location(name), "file is UTF-16; save it as UTF-8", "yaml-encoding")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8-sig", errors="replace")
        line, col = _position(good, len(good))
        message = f"invalid UTF-8 byte 0x{data[exc.start]:02x}; save the file as UTF-8"
        raise _fatal(Location(name, line, col), message, "yaml-encoding") from None
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line, col = _position(text, bad.start())
        char = bad.group()
        what = "NUL byte" if char == "\x00" else f"control character U+{ord(char):04X}"
        raise _fatal(Location(name, line, col), f"{what} is not allowed in YAML", "yaml-encoding")
    return text


def _compose(text: str, name: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        parts = [p for p in (exc.context, exc.problem) if p]
        message = "YAML syntax error: " + ", ".join(parts) if parts else "YAML syntax error"
        raise _fatal(Location(name, line, col), message, "yaml-syntax") from None
    except yaml.YAMLError as exc:
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise _fatal(Location(name), f"YAML error: {reason}", "yaml-syntax") from None
    except RecursionError:
        raise _fatal(Location(name), "YAML is nested too deeply", "yaml-limits") from None


def _check_expansion(root: yaml.Node, name: str, limits: Limits) -> None:
    """Refuse alias bombs and recursive aliases before expanding anything (linear in distinct nodes)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in active:
            message = "recursive alias (a node contains itself)"
            raise _fatal(_location(name, node.start_mark), message, "yaml-limits")
        if isinstance(node, yaml.ScalarNode):
            return 1
        active.add(key)
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1 + sum(size(child) for child in node.value)
        active.discard(key)
        if total > limits.max_nodes:
            message = f"aliases expand to more than {limits.max_nodes:,} values (an alias bomb?)"
            raise _fatal(_location(name, node.start_mark), message, "yaml-limits")
        sizes[key] = total
        return total

    try:
        size(root)
    except RecursionError:
        raise _fatal(Location(name), "YAML is nested too deeply", "yaml-limits") from None


# --- converting -------------------------------------------------------------------------------


class _Converter:
    """Node tree -> plain values, collecting non-fatal problems on the document."""

    def __init__(self, document: Document, limits: Limits) -> None:
        self.doc = document
        self.file = document.path
        self.limits = limits
        self.count = 0

    def problem(self, node: yaml.Node, message: str, rule: str,
                path: tuple[str | int, ...] | None = None) -> None:
        self.doc.problems.append(Problem(_location(self.file, node.start_mark), message, rule))
        if path is not None:
            self.doc.bad_paths.add(path)

    def convert(self, node: yaml.Node, path: tuple[str | int, ...], depth: int) -> Any:
        self.count += 1
        if self.count > self.limits.max_nodes:
            raise _fatal(_location(self.file, node.start_mark),
                         f"document has more than {self.limits.max_nodes:,} values", "yaml-limits")
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if depth >= self.limits.max_depth:
            raise _fatal(_location(self.file, node.start_mark),
                         f"nested deeper than {self.limits.max_depth} levels", "yaml-limits")
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self.problem(node, unsupported(node.tag), "yaml-tag", path)
                return None
            return [self.convert(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        if node.tag != _MAP or not isinstance(node, yaml.MappingNode):  # the only node kind left
            self.problem(node, unsupported(node.tag), "yaml-tag", path)
            return None
        return self.mapping(node, path, depth)

    def mapping(self, node: yaml.MappingNode, path: tuple[str | int, ...], depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, yaml.Node] = {}
        merges: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append((key_node, value_node))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, "mapping keys must be plain text", "yaml-key", path)
                continue
            key = key_node.value
            first = seen.get(key)
            if first is not None:
                line = first.start_mark.line + 1
                message = f"duplicate key {key!r} (first defined on line {line})"
                self.problem(key_node, message, "yaml-duplicate-key", (*path, key))
                continue
            seen[key] = key_node
            result[key] = self.convert(value_node, (*path, key), depth + 1)
        for key_node, merge_node in merges:
            self.merge(key_node, merge_node, result, path, depth)
        return result

    def merge(self, key: yaml.Node, node: yaml.Node, result: dict[str, Any], path: tuple[str | int, ...],
              depth: int) -> None:
        """`<<: *base` or `<<: [*a, *b]`: keys already present win; earlier sources win over later ones."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                message = "a merge key ('<<') needs a mapping or a list of mappings"
                self.problem(key, message, "yaml-merge", path)
                continue
            merged = self.mapping(source, path, depth + 1)
            for name, value in merged.items():
                result.setdefault(name, value)

    def scalar(self, node: yaml.ScalarNode, path: tuple[str | int, ...]) -> Any:
        value, problem = scalar_value(node.tag, node.value, plain=not node.style)
        if problem is not None:
            self.problem(node, *problem, path)
        return value
