"""Small helpers to read YAML/JSON config files with positions, so every error says file:line:col.

The simulator's own files (accounts, scenarios) are read here rather than through the playbook
loader: the local exchange stays independent of the runner's parsing code.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from runner.simulator.errors import ConfigError

_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader]
try:  # the C loader is much faster, but optional
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


def compose_file(path: str | Path) -> tuple[str, yaml.Node]:
    """Parse `path` (YAML or JSON) into a node tree; unreadable or empty files raise ConfigError."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read file: {exc.strerror or exc}") from exc
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {exc}") from exc
    if node is None:
        raise ConfigError(f"{name}:1:1: file is empty")
    return name, node


def error(name: str, node: yaml.Node, message: str) -> ConfigError:
    """A ConfigError located at `node` (1-based line and column)."""
    mark = node.start_mark
    return ConfigError(f"{name}:{mark.line + 1}:{mark.column + 1}: {message}")


def mapping(name: str, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping node as {key: (key_node, value_node)}; duplicate or non-string keys are errors."""
    if not isinstance(node, yaml.MappingNode):
        raise error(name, node, f"{what} must be a mapping")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise error(name, key_node, f"{what}: keys must be strings")
        key = key_node.value
        if key in out:
            raise error(name, key_node, f"{what}: duplicate key '{key}'")
        out[key] = (key_node, value_node)
    return out


def sequence(name: str, node: yaml.Node, what: str) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        raise error(name, node, f"{what} must be a list")
    return list(node.value)


def reject_unknown(
    name: str, items: dict[str, tuple[yaml.Node, yaml.Node]], allowed: set[str], what: str
) -> None:
    for key, (key_node, _) in items.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise error(name, key_node, f"{what}: unknown key '{key}' (expected one of: {known})")


def string(name: str, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":null", ":bool")) or node.value == "":
        raise error(name, node, f"{what} must be a non-empty string")
    value: str = node.value
    return value


def decimal(name: str, node: yaml.Node, what: str, *, positive: bool = False) -> Decimal:
    """An exact decimal from the scalar's source text (never via float)."""
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":null", ":bool")):
        raise error(name, node, f"{what} must be a number")
    try:
        value = Decimal(node.value.replace("_", ""))
    except InvalidOperation:
        raise error(name, node, f"{what} must be a number, got '{node.value}'") from None
    if not value.is_finite():
        raise error(name, node, f"{what} must be a finite number")
    if positive and value <= 0:
        raise error(name, node, f"{what} must be greater than 0, got {value}")
    return value


def integer(name: str, node: yaml.Node, what: str) -> int:
    value = decimal(name, node, what)
    if value != value.to_integral_value():
        raise error(name, node, f"{what} must be a whole number, got {value}")
    return int(value)


def boolean(name: str, node: yaml.Node, what: str) -> bool:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool"):
        return node.value.lower() in ("true", "yes", "on")
    raise error(name, node, f"{what} must be true or false")


_UNITS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600)}


def duration(name: str, node: yaml.Node, what: str) -> float:
    """Seconds from `2s`, `500ms`, `1.5m`, `1h` or a bare number of seconds."""
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":null", ":bool")):
        raise error(name, node, f"{what} must be a duration such as 2s, 500ms or 1m")
    text = node.value.strip().lower()
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            number, factor = text[: -len(unit)].strip(), _UNITS[unit]
            break
    else:
        number, factor = text, Decimal(1)
    try:
        value = Decimal(number) * factor
    except InvalidOperation:
        raise error(
            name, node, f"{what} must be a duration such as 2s, 500ms or 1m, got '{node.value}'"
        ) from None
    if not value.is_finite() or value < 0:
        raise error(name, node, f"{what} must be a non-negative duration, got '{node.value}'")
    return float(value)
