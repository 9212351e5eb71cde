"""A yes/no validator compiled from our JSON Schema into plain Python closures: the fast path.

jsonschema walks the schema for every value (and resolves each `$ref` through its registry), which
dominates `validate` on large playbooks. Valid playbooks are the common case and need no
messages, so the schema is compiled once into closures that only answer "valid?"; jsonschema
runs only where this says no, to produce the located messages (runner.playbook.schema).

It supports exactly the keywords our schemas use and refuses to compile anything else (then
jsonschema is used for everything), so it can never be more lenient than jsonschema by ignoring
a keyword. Semantics follow jsonschema's: booleans are not numbers, `1 == 1.0 == Decimal(1)`,
`true != 1`, `pattern` is a search. A property test compares the two on mutated playbooks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from runner.errors import Unsupported

Check = Callable[[Any], bool]

#: keywords that never affect validity
_ANNOTATIONS = frozenset({"description", "examples", "default", "title", "$schema", "$id", "$defs",
                          "$comment", "deprecated", "readOnly", "writeOnly"})


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, Decimal)) and not isinstance(x, bool)


_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "number": _is_number,
    "integer": lambda x: (isinstance(x, int) and not isinstance(x, bool))
    or (isinstance(x, float) and x.is_integer()),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


# The combinators below loop plainly rather than through `any`/`all` over a generator: they run for
# every value of every order (a generator's set-up per call was most of the fast path's time).


def _any_of(checks: tuple[Check, ...]) -> Check:
    def any_of(x: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a generator per call is what this avoids
            if check(x):
                return True
        return False

    return any_of


def _one_of(values: tuple[Any, ...]) -> Check:
    if values and all(type(v) is str for v in values):  # an enum of words: a set look-up, same answer
        words = frozenset(values)
        return lambda x: isinstance(x, str) and x in words
    return lambda x: any(_equal(x, v) for v in values)


def _matches(pattern: re.Pattern[str]) -> Check:
    return lambda x: not isinstance(x, str) or pattern.search(x) is not None


def _length(kind: type[str] | type[list[Any]] | type[dict[str, Any]], *, minimum: int = 0,
            maximum: int | None = None) -> Check:
    return lambda x: not isinstance(x, kind) or (len(x) >= minimum and (maximum is None or len(x) <= maximum))


def _above(bound: Any, *, inclusive: bool) -> Check:
    return lambda x: not _is_number(x) or (x >= bound if inclusive else x > bound)


def _each_item(check: Check) -> Check:
    def each_item(x: Any) -> bool:
        if isinstance(x, list):
            for item in x:
                if not check(item):
                    return False
        return True

    return each_item


def _all_of(checks: tuple[Check, ...]) -> Check:
    if len(checks) == 2:
        first, second = checks
        return lambda x: first(x) and second(x)

    def all_of(x: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a generator per call is what this avoids
            if not check(x):
                return False
        return True

    return all_of


def _if_then_else(condition: Check, then: Check, otherwise: Check) -> Check:
    return lambda x: then(x) if condition(x) else otherwise(x)


#: keywords that constrain one type only: strings, and numbers
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern"})
_NUMBER_KEYWORDS = frozenset({"minimum", "exclusiveMinimum"})


def _scalar(schema: dict[str, Any]) -> Check | None:
    """A `type: string`, `number` or `[number, string]` schema whose other keywords each constrain one
    of those types, as one closure (None for any other schema). Why: one closure per keyword, joined
    by `all_of`, cost ~3x as much on every order's id, symbol, quantity and price (~1 µs per order)."""
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    keywords = {k for k in schema if k not in _ANNOTATIONS and not k.startswith("x-")} - {"type"}
    if not isinstance(kinds, list) or not kinds or not set(kinds) <= {"string", "number"} \
            or not keywords <= _STRING_KEYWORDS | _NUMBER_KEYWORDS:
        return None
    strings, numbers = "string" in kinds, "number" in kinds
    shortest, longest = schema.get("minLength", 0), schema.get("maxLength")
    search = re.compile(schema["pattern"]).search if "pattern" in schema else None
    minimum, above = schema.get("minimum"), schema.get("exclusiveMinimum")

    def scalar(x: Any) -> bool:
        if isinstance(x, str):
            return strings and len(x) >= shortest and (longest is None or len(x) <= longest) \
                and (search is None or search(x) is not None)
        if numbers and _is_number(x):
            return (minimum is None or x >= minimum) and (above is None or x > above)
        return False

    return scalar


def _unique_items(x: Any) -> bool:
    return not isinstance(x, list) or all(
        not _equal(x[i], x[j]) for i in range(len(x)) for j in range(i + 1, len(x)))


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, pointer: str) -> Check:
        if pointer in self.refs:
            return self.refs[pointer]
        if not pointer.startswith("#/"):
            raise Unsupported(f"$ref {pointer}")
        target: Any = self.root
        for part in pointer[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        holder: list[Check] = []
        self.refs[pointer] = lambda x: holder[0](x)  # recursion-safe forward reference
        holder.append(self.compile(target))
        self.refs[pointer] = holder[0]
        return holder[0]

    def compile(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return lambda x: True
        if schema is False:
            return lambda x: False
        scalar = _scalar(schema)
        if scalar is not None:
            return scalar
        checks: list[Check] = []
        for keyword, value in schema.items():
            if keyword in _ANNOTATIONS or keyword.startswith("x-"):
                continue
            if keyword in ("properties", "patternProperties", "additionalProperties", "required"):
                continue  # handled together below
            if keyword in ("then", "else"):
                continue  # with `if`
            if keyword == "$ref":
                checks.append(self.ref(value))
            elif keyword == "type":
                types = [_TYPES[t] for t in ([value] if isinstance(value, str) else value)]
                checks.append(types[0] if len(types) == 1 else _any_of(tuple(types)))
            elif keyword == "enum":
                checks.append(_one_of(tuple(value)))
            elif keyword == "const":
                checks.append(_one_of((value,)))
            elif keyword == "pattern":
                checks.append(_matches(re.compile(value)))
            elif keyword == "minLength":
                checks.append(_length(str, minimum=value))
            elif keyword == "maxLength":
                checks.append(_length(str, maximum=value))
            elif keyword == "exclusiveMinimum":
                checks.append(_above(value, inclusive=False))
            elif keyword == "minimum":
                checks.append(_above(value, inclusive=True))
            elif keyword == "minItems":
                checks.append(_length(list, minimum=value))
            elif keyword == "minProperties":
                checks.append(_length(dict, minimum=value))
            elif keyword == "maxProperties":
                checks.append(_length(dict, maximum=value))
            elif keyword == "items":
                checks.append(_each_item(self.compile(value)))
            elif keyword == "uniqueItems":
                if value:
                    checks.append(_unique_items)
            elif keyword == "anyOf":
                checks.append(_any_of(tuple(self.compile(s) for s in value)))
            elif keyword == "allOf":
                checks.append(_all_of(tuple(self.compile(s) for s in value)))
            elif keyword == "if":
                checks.append(_if_then_else(self.compile(value), self.compile(schema.get("then", True)),
                                            self.compile(schema.get("else", True))))
            else:
                raise Unsupported(keyword)
        if any(k in schema for k in ("properties", "patternProperties", "additionalProperties", "required")):
            checks.append(self.object(schema))
        if not checks:
            return lambda x: True
        if len(checks) == 1:
            return checks[0]
        return _all_of(tuple(checks))

    def object(self, schema: dict[str, Any]) -> Check:
        properties = {name: self.compile(s) for name, s in schema.get("properties", {}).items()}
        patterns = [(re.compile(p).search, self.compile(s))
                    for p, s in schema.get("patternProperties", {}).items()]
        additional = schema.get("additionalProperties", True)
        extra = self.compile(additional) if additional is not True else None
        required = tuple(schema.get("required", ()))
        if not patterns:
            return _properties(properties, extra, required)

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for name in required:
                if name not in x:
                    return False
            for key, value in x.items():
                prop = properties.get(key)
                matched = prop is not None
                if prop is not None and not prop(value):
                    return False
                for search, sub in patterns:
                    if search(key) is not None:
                        matched = True
                        if not sub(value):
                            return False
                if not matched and extra is not None and not extra(value):
                    return False
            return True

        return check


def _properties(properties: dict[str, Check], extra: Check | None, required: tuple[str, ...]) -> Check:
    """An object without `patternProperties` (every order, bracket and step): the same answer as
    `_Compiler.object`'s without a loop over no patterns per key (~0.4 µs per order)."""

    def check(x: Any) -> bool:
        if not isinstance(x, dict):
            return True
        for name in required:
            if name not in x:
                return False
        for key, value in x.items():
            prop = properties.get(key)
            if prop is None:
                if extra is not None and not extra(value):
                    return False
            elif not prop(value):
                return False
        return True

    return check


def compile_schema(schema: dict[str, Any], pointer: str = "") -> Check:
    """A function telling whether an instance is valid against `schema` (or its `#/...` pointer)."""
    compiler = _Compiler(schema)
    return compiler.ref(pointer) if pointer else compiler.compile(schema)
