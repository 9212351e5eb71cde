#!/usr/bin/env python3
"""Generate docs/playbook-reference.md from schemas/playbook.schema.json.

The schema is the single source of truth for the playbook language: editors read it for
completion and hover, `validate` checks against it, and this script turns it into the reference
page, so the three can never disagree. A test fails when the page is stale.

    python scripts/gen_playbook_reference.py          # rewrite the page
    python scripts/gen_playbook_reference.py --check  # exit 1 if the page is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schemas" / "playbook.schema.json"
OUTPUT_PATH = ROOT / "docs" / "playbook-reference.md"
REGENERATE = "python scripts/gen_playbook_reference.py"

Schema = dict[str, Any]


def resolve(schema: Schema, root: Schema) -> Schema:
    """Merge a `$ref` target under the referring schema (the referrer's own keys win)."""
    ref = schema.get("$ref")
    if not ref:
        return schema
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    merged = dict(resolve(target, root))
    merged.update({k: v for k, v in schema.items() if k != "$ref"})
    return merged


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _yaml_scalar(value: Any) -> str:
    """How a value is written in a playbook (YAML flow style, close to JSON)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    if isinstance(value, str):
        plain = _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS
        return value if plain else _json(value)
    return str(value)


#: text that YAML reads back as the same string when written without quotes
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def type_of(schema: Schema) -> str:
    """A reader's name for the accepted value kinds."""
    if "const" in schema:
        return f"always `{_yaml_scalar(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{_yaml_scalar(v)}`" for v in schema["enum"])
    kinds = schema.get("type")
    if kinds is None and "anyOf" in schema:  # alternatives: a plain value or a mapping form
        return " or ".join(type_of(branch) for branch in schema["anyOf"])
    if kinds is None:
        return "any"
    kinds = kinds if isinstance(kinds, list) else [kinds]
    names = {
        "object": "mapping",
        "array": "list",
        "string": "text",
        "number": "number",
        "integer": "whole number",
        "boolean": "`true` / `false`",
        "null": "`null`",
    }
    if set(kinds) == {"number", "string"} and "pattern" in schema:
        return "decimal (number or quoted text)"
    return " or ".join(names.get(k, k) for k in kinds)


def constraints(schema: Schema) -> list[str]:
    """Limits on the value beyond its type, in words."""
    out: list[str] = []
    hint = schema.get("x-pattern-hint")
    if hint:
        out.append(f"format: {hint}")
    elif "pattern" in schema:
        out.append(f"pattern: `{schema['pattern']}`")
    if "minLength" in schema and "maxLength" in schema:
        out.append(f"{schema['minLength']} to {schema['maxLength']} characters")
        schema = {k: v for k, v in schema.items() if k not in ("minLength", "maxLength")}
    for key, words in (
        ("minLength", "at least {} character(s)"),
        ("maxLength", "at most {} characters"),
        ("minItems", "at least {} item(s)"),
        ("maxItems", "at most {} items"),
        ("minimum", "≥ {}"),
        ("maximum", "≤ {}"),
        ("exclusiveMinimum", "> {}"),
        ("exclusiveMaximum", "< {}"),
    ):
        if key in schema:
            out.append(words.format(schema[key]))
    if schema.get("uniqueItems"):
        out.append("no duplicates")
    if "anyOf" in schema:
        needed = [r["required"] for r in schema["anyOf"] if "required" in r]
        if needed and all(len(r) == 1 for r in needed):
            out.append("needs at least one of " + ", ".join(f"`{r[0]}`" for r in needed))
    return out


def _items_line(schema: Schema, root: Schema) -> str | None:
    items = schema.get("items")
    if not isinstance(items, dict):
        return None
    items = resolve(items, root)
    if items.get("type") == "object":
        return None  # described in its own section
    return f"items: {type_of(items)}" + "".join(f"; {c}" for c in constraints(items))


def key_section(path: str, schema: Schema, required: bool, root: Schema, anchor_of: dict[str, str]) -> str:
    """The Markdown for one key: description, then the facts a writer needs."""
    lines = [f"### `{path}`", ""]
    description = schema.get("markdownDescription") or schema.get("description")
    if description:
        lines += [description, ""]
    facts = [f"- **Type:** {type_of(schema)}", f"- **Required:** {'yes' if required else 'no'}"]
    if "default" in schema:
        facts.append(f"- **Default:** `{_yaml_scalar(schema['default'])}`")
    for constraint in constraints(schema):
        facts.append(f"- **Constraint:** {constraint}")
    items_line = _items_line(schema, root)
    if items_line:
        facts.append(f"- **Items:** {items_line[len('items: ') :]}")
    if path in anchor_of:
        facts.append(f"- **Keys:** see [{anchor_of[path]}](#{_anchor(anchor_of[path])})")
    examples = schema.get("examples")
    if examples:
        facts.append("- **Examples:** " + ", ".join(f"`{_yaml_scalar(e)}`" for e in examples))
    return "\n".join(lines + facts) + "\n"


def _anchor(title: str) -> str:
    """GitHub's heading anchor for a section title."""
    keep = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return keep.replace(" ", "-")


def objects(root: Schema) -> Iterator[tuple[str, str, Schema]]:
    """Every mapping of the language, breadth first: (section title, key path prefix, schema)."""
    queue: list[tuple[str, str, Schema]] = [("Top-level keys", "", root)]
    while queue:
        title, prefix, schema = queue.pop(0)
        yield title, prefix, schema
        for key, sub in schema.get("properties", {}).items():
            sub = resolve(sub, root)
            path = f"{prefix}{key}"
            if sub.get("type") == "object" and "properties" in sub:
                queue.append((f"`{path}` keys", f"{path}.", sub))
            items = sub.get("items")
            if sub.get("type") == "array" and isinstance(items, dict):
                items = resolve(items, root)
                if isinstance(items.get("else"), dict):  # an order, or (with `step:`) a step of one kind
                    steps = resolve(items["then"], root)
                    items = resolve(items["else"], root)
                    queue.append((f"`{path}[]` item keys", f"{path}[].", items))
                    for branch in steps.get("allOf", []):
                        kind = resolve(branch["then"], root)
                        name = branch["if"]["properties"]["step"]["const"]
                        queue.append((f"`{path}[]` step `{name}` keys", f"{path}[].", kind))
                elif items.get("type") == "object" and "properties" in items:
                    queue.append((f"`{path}[]` item keys", f"{path}[].", items))


def render(root: Schema) -> str:
    """The whole reference page."""
    sections = list(objects(root))
    # which key path leads to which object section (for "Keys: see ..." links)
    anchor_of = {}
    for title, prefix, _ in sections[1:]:
        anchor_of[prefix.rstrip(".").removesuffix("[]")] = title
    out = [
        f"# Playbook reference — {root.get('title', 'playbook')}",
        "",
        "<!-- Generated from schemas/playbook.schema.json by scripts/gen_playbook_reference.py."
        f" Do not edit by hand: change the schema, then run `{REGENERATE}`. -->",
        "",
        root.get("description", ""),
        "",
        "Editors that speak the YAML language server (VS Code's YAML extension, IntelliJ, Neovim) offer",
        "completion and hover from the same schema when a playbook starts with:",
        "",
        "```yaml",
        "# yaml-language-server: $schema=../schemas/playbook.schema.json",
        "```",
        "",
        "Get the schema with `qfex-runner schema > schemas/playbook.schema.json`. Numbers are read as exact",
        'decimals (`10`, `"10"` and `0.001` are never rounded through binary floating point).',
        "",
        "## Contents",
        "",
    ]
    out += [f"- [{title}](#{_anchor(title)})" for title, _, _ in sections]
    if root.get("patternProperties"):
        out.append(f"- [{'Extension keys'}](#{_anchor('Extension keys')})")
    out.append("")
    for title, prefix, schema in sections:
        out += [f"## {title}", ""]
        if prefix and schema.get("description"):
            out += [schema["description"], ""]
        required = set(schema.get("required", []))
        props = schema.get("properties", {})
        out += ["| key | type | required | default |", "|---|---|---|---|"]
        for key, sub in props.items():
            sub = resolve(sub, root)
            default = f"`{_yaml_scalar(sub['default'])}`" if "default" in sub else ""
            out.append(
                f"| [`{key}`](#{_anchor(prefix + key)}) | {type_of(sub)} | "
                f"{'yes' if key in required else 'no'} | {default} |"
            )
        out.append("")
        if schema.get("additionalProperties") is False:
            out += ["Any other key is an error (a misspelt key is reported with a suggestion).", ""]
        for key, sub in props.items():
            out.append(key_section(prefix + key, resolve(sub, root), key in required, root, anchor_of))
    patterns = root.get("patternProperties") or {}
    if patterns:
        out += ["## Extension keys", ""]
        for pattern, sub in patterns.items():
            out += [f"- Keys matching `{pattern}` at the top level: {sub.get('description', '')}"]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale, write nothing")
    args = parser.parse_args(argv)
    page = render(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    current = OUTPUT_PATH.read_text(encoding="utf-8") if OUTPUT_PATH.exists() else None
    if args.check:
        if current != page:
            print(f"{OUTPUT_PATH.relative_to(ROOT)} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    if current != page:
        OUTPUT_PATH.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT_PATH.write_text(page, encoding="utf-8")
        print(f"wrote {OUTPUT_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
