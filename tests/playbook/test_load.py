"""Building the model from a validated playbook: where each step runs among the orders."""

from __future__ import annotations

from runner.playbook.load import validate_bytes


def test_each_step_knows_how_many_orders_precede_it() -> None:
    order = "{{id: {}, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200}}"
    step = "{{id: {}, step: close_position, symbol: AAPL-USD}}"
    items = [step.format("s0"), order.format("a"), step.format("s1"), order.format("b"), order.format("c"),
             step.format("s2"), step.format("s3"), order.format("d"), step.format("s4")]
    text = "version: 1\nname: steps\norders:\n" + "".join(f"  - {item}\n" for item in items)
    result = validate_bytes(text.encode(), "s.yaml")
    assert result.ok and result.playbook is not None, result.problems
    assert [(s.id, s.after_orders) for s in result.playbook.steps] == [
        ("s0", 0), ("s1", 1), ("s2", 3), ("s3", 3), ("s4", 4)]
    assert [o.id for o in result.playbook.orders] == ["a", "b", "c", "d"]
    assert [s.location.line for s in result.playbook.steps] == [4, 6, 9, 10, 12]
