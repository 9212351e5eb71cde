"""The house rules a reader relies on (CONTRIBUTING.md, "The package map"), checked on the source.

The package contract itself (who may import whom, no circles) is `lint-imports`, run by the test
command; what it cannot see is checked here: no module takes another module's `_private` name (the run
engine's own shape is pinned in tests/run/test_engine_structure.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import runner

PACKAGE = Path(runner.__file__).parent


def modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(("runner", *path.relative_to(PACKAGE).with_suffix("").parts))
        found.append((name.removesuffix(".__init__"), ast.parse(path.read_text(encoding="utf-8"))))
    return found


def test_no_module_imports_a_private_name_of_another() -> None:
    """`_name` is a module's own business: share it under a public name or keep it home."""
    leaks = []
    names = {name for name, _ in modules()}  # (lint-imports keeps private modules inside their package)
    for name, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("runner"):
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and f"{node.module}.{alias.name}" not in names:  # a private *module* is
                        leaks.append(f"{name} takes {node.module}.{alias.name}")
    assert leaks == []

