"""The run engine's shape (issue 11): collaborators built once and handed in, never mixins.

`runner.run.engine.build_run` is the one place the run's parts are constructed; each part
receives what it uses in its constructor and calls only public methods of the others. These
checks read the source, so they fail the moment the structure regresses (a mixin, a part
built twice or elsewhere, a `_private` name imported across modules, a `getattr` on our types).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Protocol

import runner.run

RUN_DIR = Path(runner.run.__file__).parent
COLLABORATORS = ("Interrupts", "Ledger", "Sender", "EventPump", "Adopter", "Brackets", "OrderFlow",
                 "Pipeline", "Finish", "Reconnection", "Run")


def _modules() -> list[str]:
    return [f"runner.run.{m.name}" for m in pkgutil.iter_modules([str(RUN_DIR)])]


def _trees() -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(RUN_DIR.glob("*.py"))}


def _is_protocol(cls: type) -> bool:
    return Protocol in cls.__bases__ or bool(getattr(cls, "_is_protocol", False))


def test_no_class_in_run_inherits_from_another_part_of_run() -> None:
    for name in _modules():
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name:
                continue
            for base in cls.__bases__:
                inside = base.__module__.startswith("runner.run")
                assert not inside or (_is_protocol(base) and _is_protocol(cls)), \
                    f"{name}.{cls_name} inherits from {base.__module__}.{base.__name__}: hand it in instead"


def test_each_collaborator_is_built_once_in_the_wiring_function() -> None:
    calls: dict[str, list[str]] = {name: [] for name in COLLABORATORS}
    for file, tree in _trees().items():
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in calls:
                    calls[node.func.id].append(f"{file}:{function.name}")
    for name, places in calls.items():
        assert places == ["engine.py:build_run"], f"{name} is built at {places or 'no place'}"


def test_run_reads_its_own_types_without_getattr() -> None:
    for file, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("getattr", "hasattr"), f"{file}:{node.lineno} uses {node.func.id}"
