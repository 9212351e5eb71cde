"""Steps besides orders in the playbook's words and on QFEX's wire (pure: no I/O, no clock).

For each step kind: the exact message `run` sends where it is known before the run
(`step_message`; None where it depends on what the exchange holds then, e.g. which orders a
`cancel` finds open), and one sentence for `plan` saying what it does (`describe`), in a trader's
words — including whose orders and positions it touches (`close_position` acts on the account's
whole position: QFEX positions belong to the account, not to a playbook).

Messages as QFEX documents them (qfex-api.md §3.4, §3.7): `set_user_leverage {symbol, leverage}`,
`close_position {symbol, client_order_id}`, `add_twap {symbol, side, total_quantity, num_orders,
order_interval_secs, reduce_only, client_twap_id}`, `cancel_order` with `cancel_order_id_type:
client_twap_id`, `cancel_all_orders {}`. The step's deterministic key travels as the client id
where the message has one, so a re-run can find it at the exchange.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from runner.playbook.model import Playbook, PlaybookStep, Scope, StepKind
from runner.words import counted, number_text

#: `cancel` names a bracket's exit as `<order id>.<leg>`
CANCEL_LEG_NAMES = ("take_profit", "stop_loss")


def set_leverage_message(symbol: str, leverage: Decimal) -> dict[str, Any]:
    return {"type": "set_user_leverage", "params": {"symbol": symbol, "leverage": leverage}}


def close_position_message(symbol: str, client_order_id: str) -> dict[str, Any]:
    return {"type": "close_position", "params": {"symbol": symbol, "client_order_id": client_order_id}}


def cancel_all_orders_message() -> dict[str, Any]:
    return {"type": "cancel_all_orders", "params": {}}


def add_twap_message(step: PlaybookStep, client_twap_id: str) -> dict[str, Any]:
    if step.symbol is None or step.side is None or step.quantity is None or step.interval_s is None:
        raise ValueError(f"twap step {step.id!r} is incomplete")
    return {"type": "add_twap", "params": {
        "symbol": step.symbol, "side": step.side.value, "total_quantity": step.quantity,
        "num_orders": step.num_orders, "order_interval_secs": step.interval_s,
        "reduce_only": bool(step.reduce_only), "client_twap_id": client_twap_id}}


def cancel_twap_message(symbol: str, client_twap_id: str) -> dict[str, Any]:
    return {"type": "cancel_order", "params": {"symbol": symbol, "order_id": client_twap_id,
                                               "cancel_order_id_type": "client_twap_id"}}


def twap_step(playbook: Playbook, step_id: str | None) -> PlaybookStep | None:
    """The twap step a cancel_twap names."""
    return next((s for s in playbook.steps if s.id == step_id and s.kind is StepKind.TWAP), None)


def cancel_target(name: str) -> tuple[str, str | None]:
    """`aapl-long.stop_loss` -> ("aapl-long", "stop_loss"); `aapl-long` -> ("aapl-long", None)."""
    order_id, _, leg = name.rpartition(".")
    return (order_id, leg) if order_id and leg in CANCEL_LEG_NAMES else (name, None)


def step_message(step: PlaybookStep, playbook: Playbook) -> dict[str, Any] | None:
    """The one message the step sends, where it is known before the run; None where the exchange's
    state at run time decides it (which orders are open, which positions exist)."""
    key = playbook.step_key(step)
    if step.kind is StepKind.SET_LEVERAGE and step.symbol and step.leverage is not None:
        return set_leverage_message(step.symbol, step.leverage)
    if step.kind is StepKind.CLOSE_POSITION and step.symbol:
        return close_position_message(step.symbol, key)
    if step.kind is StepKind.CANCEL and step.all and step.scope is Scope.ACCOUNT:
        return cancel_all_orders_message()
    if step.kind is StepKind.TWAP:
        return add_twap_message(step, key)
    if step.kind is StepKind.CANCEL_TWAP:
        twap = twap_step(playbook, step.twap)
        if twap is not None and twap.symbol:
            return cancel_twap_message(twap.symbol, playbook.step_key(twap))
    return None


def describe(step: PlaybookStep, playbook: Playbook) -> str:
    """What the step does, in one sentence a reviewer can check (`plan` and every report)."""
    kind = step.kind
    if kind is StepKind.SET_LEVERAGE:
        level = number_text(step.leverage or Decimal(0))
        return (f"sets the account's leverage on {step.symbol} to {level}x "
                f"(QFEX refuses while {step.symbol} has open orders or a position)")
    if kind is StepKind.CLOSE_POSITION:
        if step.all:
            return ("closes the account's whole position on every symbol (reduce-only IOC at the mark, "
                    "QFEX close_position per symbol): positions belong to the account, not to this playbook")
        return (f"closes the account's whole {step.symbol} position (reduce-only IOC at the mark): "
                f"positions belong to the account, not to this playbook")
    if kind is StepKind.CANCEL:
        if step.orders:
            names = []
            for name in step.orders:
                order_id, leg = cancel_target(name)
                names.append(f"the {leg} exit of {order_id!r}" if leg else f"{order_id!r}")
            return f"cancels this playbook's {', '.join(names)} where still open"
        where = f"on {step.symbol}" if step.symbol else "on every symbol"
        if step.scope is Scope.ACCOUNT:
            how = "QFEX cancel_all_orders" if step.all else "one cancel per order"
            return (f"cancels EVERY open order, stop and TWAP of the account {where} (scope: account; "
                    f"{how}), not only this playbook's")
        return (f"cancels every open order, exit and TWAP this playbook placed {where} (known from its "
                f"client ids and the journal)")
    if kind is StepKind.TWAP:
        count = step.num_orders or 0
        side = step.side.value if step.side else "?"
        text = (f"TWAP {side} {number_text(step.quantity or Decimal(0))} {step.symbol}: "
                f"{counted(count, 'MARKET child order')} {step.interval_s}s apart"
                f"{', reduce-only' if step.reduce_only else ''}; then wait: {step.wait}")
        return text
    if kind is StepKind.CANCEL_TWAP:
        return f"cancels the TWAP of step {step.twap!r} where still running (its filled children stay filled)"
    if kind is StepKind.EXITS and step.exits is not None:
        return _exits_text(step)
    return str(kind.value)


def _exits_text(step: PlaybookStep) -> str:
    """`protects 20 of the MSFT-USD position: take-profit 560 (50%), 600 (the rest); stop-loss 480; ...`."""
    from runner.playbook.exits import describe_size, management_notes, step_is_long, step_order

    bracket = step.exits
    assert bracket is not None
    what = f"{number_text(step.quantity)} of" if step.quantity is not None else "the whole of"
    levels = ", ".join(f"{number_text(x.price)} ({describe_size(x, n == len(bracket.levels) - 1)})"
                       for n, x in enumerate(bracket.levels))
    parts = [f"protects {what} the account's {step.symbol} position (read when the step runs; its side "
             f"must match the exits)"]
    if levels:
        parts.append(f"take-profit {levels}")
    if bracket.stop_loss is not None:
        parts.append(f"stop-loss {number_text(bracket.stop_loss)}")
    long = step_is_long(bracket)
    order = step_order(step.id, step.symbol or "", long is not False, step.quantity or Decimal(1), bracket)
    notes = management_notes(order)
    return "; ".join(parts) + ("; then: " + "; ".join(notes) if notes else "")
