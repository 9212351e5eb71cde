"""Client order ids are RFC 4122 UUIDv5 text, as documented: anyone can recompute them with `uuid.uuid5`."""

from __future__ import annotations

import uuid

import pytest

from runner.playbook.ids import NAMESPACE, Leg, change_key, client_order_id, step_key


@pytest.mark.parametrize("name", ["aapl-swing", "é-ünïcode ✓", "x" * 300, ""])
@pytest.mark.parametrize("run_id", [None, "", "2026-11-25", "r\x1fs"])
@pytest.mark.parametrize("leg", list(Leg))
def test_client_order_id_is_uuid5_of_the_documented_name(name: str, run_id: str | None, leg: Leg) -> None:
    expected = str(uuid.uuid5(NAMESPACE, "\x1f".join((name, run_id or "", "o-1", leg.value))))
    assert client_order_id(name, run_id, "o-1", leg) == expected
    assert client_order_id(name, run_id, "o-1", leg.value) == expected  # a leg given as text: the same id
    assert uuid.UUID(expected).version == 5


def test_documented_example_and_the_keys_built_on_it() -> None:
    coid = client_order_id("aapl-swing", "2026-11-25", "aapl-entry")
    assert coid == str(uuid.uuid5(uuid.UUID("6f0c5c1e-9a51-5a0e-8b7b-0f1e5e2a7c31"),
                                  "aapl-swing\x1f2026-11-25\x1faapl-entry\x1fentry"))
    assert step_key("n", "r", "s1") == client_order_id("n", "r", "s1", Leg.STEP)
    assert change_key("n", "r", "o", Leg.ENTRY, "modify", "fp") == str(
        uuid.uuid5(NAMESPACE, "n\x1fr\x1fo\x1fentry\x1fmodify\x1ffp"))


def test_an_unknown_leg_is_refused_every_time() -> None:
    for _ in range(2):  # remembered ids must not remember a failure as a success
        with pytest.raises(ValueError):
            client_order_id("n", "r", "o", "nope")  # type: ignore[arg-type]
