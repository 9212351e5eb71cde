"""Property tests: mutated playbooks only ever produce located problems, and the compiled fast
validator agrees with jsonschema on every mutated document."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import jsonnum
from runner.playbook.load import validate_bytes
from runner.playbook.plan import build_plan, plan_as_json, render_plan_text
from runner.playbook.refdata import parse_refdata
from runner.playbook.schema import fast_checks, validator
from runner.playbook.yamlsource import load_bytes

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "playbooks").glob("*.yaml")) + sorted((ROOT / "tests/playbooks/valid").glob("*.yaml"))
REFDATA = parse_refdata(jsonnum.loads((ROOT / "tests/playbooks/refdata.json").read_bytes()), "refdata.json")
SEED_DATA = [load_bytes(p.read_bytes(), p.name).data for p in SEEDS]


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", format(v, "f")))

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.sampled_from(
        [
            "BUY",
            "SELL",
            "LIMIT",
            "MARKET",
            "ALO",
            "TAKE_PROFIT",
            "STOP_LOSS",
            "GTC",
            "IOC",
            "FOK",
            "AAPL-USD",
            "x-",
            "1e400",
            "0.000",
            "-1",
            "after_fill",
            "ack",
            "fill",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def _containers(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path] if isinstance(value, (dict, list)) else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found += _containers(child, (*path, key))
    return found


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    import copy

    data = copy.deepcopy(draw(st.sampled_from(SEED_DATA)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _containers(data)
        if not paths:
            break
        target = _get(data, draw(st.sampled_from(paths)))
        keys = list(target.keys()) if isinstance(target, dict) else list(range(len(target)))
        action = draw(st.sampled_from(["delete", "replace", "insert", "number"]))
        if action == "delete" and keys:
            del target[draw(st.sampled_from(keys))]
        elif action == "replace" and keys:
            target[draw(st.sampled_from(keys))] = draw(junk)
        elif action == "insert":
            if isinstance(target, dict):
                target[
                    draw(
                        st.sampled_from(
                            [
                                "prise",
                                "x-extra",
                                "id",
                                "price",
                                "bracket",
                                "limits",
                                "quantity",
                                "time_in_force",
                                "mode",
                            ]
                        )
                    )
                ] = draw(junk)
            else:
                target.insert(draw(st.integers(0, len(target))), draw(junk))
        elif action == "number" and keys:
            key = draw(st.sampled_from(keys))
            if isinstance(target[key], (int, Decimal)) and not isinstance(target[key], bool):
                factor = draw(
                    st.sampled_from(
                        [
                            Decimal(0),
                            Decimal(-1),
                            Decimal("0.0001"),
                            Decimal("1e12"),
                            Decimal("1.005"),
                            Decimal(3),
                        ]
                    )
                )
                target[key] = Decimal(target[key]) * factor
    return data


def _assert_only_located_problems(text: bytes) -> None:
    for refdata in (None, REFDATA):
        result = validate_bytes(text, "m.yaml", refdata)
        for problem in result.problems:
            assert problem.location.file == "m.yaml"
            assert problem.location.line >= 1 and problem.location.col >= 1
            assert problem.message and problem.rule
        if result.ok:
            assert result.playbook is not None
            plan = build_plan(result.playbook)
            jsonnum.dumps(plan_as_json(plan))
            render_plan_text(plan)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_playbooks_give_located_problems_and_fast_path_agrees(data: Any) -> None:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True).encode()
    _assert_only_located_problems(text)
    loaded = load_bytes(text, "m.yaml").data
    whole, _ = fast_checks()
    assert whole(loaded) == validator().is_valid(loaded)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SEEDS), st.data())
def test_byte_level_corruption_gives_located_problems(seed: Path, data: st.DataObject) -> None:
    raw = bytearray(seed.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        blob = data.draw(
            st.binary(min_size=1, max_size=4)
            | st.sampled_from(
                [
                    b":",
                    b"-",
                    b"  ",
                    b"\n",
                    b"&a",
                    b"*a",
                    b"<<: ",
                    b"{",
                    b"[",
                    b"'",
                    b'"',
                    b"!!",
                    b"#",
                    b"\t",
                    b"1e400",
                ]
            )
        )
        if action == "insert":
            raw[at:at] = blob
        elif action == "delete":
            del raw[at : at + len(blob)]
        else:
            raw[at : at + len(blob)] = blob
    _assert_only_located_problems(bytes(raw))


@settings(max_examples=300, deadline=None)
@given(junk)
def test_fast_order_check_agrees_with_jsonschema_on_arbitrary_values(value: Any) -> None:
    _, order = fast_checks()
    document = {"version": 1, "name": "p", "orders": [value]}
    assert order(value) == validator().is_valid(document)
