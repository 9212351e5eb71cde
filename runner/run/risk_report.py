"""The run report's risk section: the preview the run was sent with, and what each exit realised.

`risk_section` returns JSON-ready data for `Report.risk` (rendered by `runner.report.risk`): the
preview of `runner.playbook.risk` (quantities as sent, the account as read), plus one outcome per
filled exit — each level of a ladder, the stop — in this run or seen again by a re-run:

    realised PnL = planned figure (loss at the stop / reward at the take-profit, for the closed quantity)
                   - slippage past the trigger (the exit filled worse than its trigger)
                   - entry difference (the entry filled worse than its planned price; negative: better)
    net          = realised PnL - fees (entry and exit, as the exchange reported them)

so a trader sees the preview's worst case against what the stop-out cost, and why they differ.
Pure: no I/O.
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any

from runner.enums import Side
from runner.playbook.risk import OrderRisk, RiskPreview, preview_json
from runner.report.model import FillRecord, OrderResult

_CTX = Context(prec=40)
_ZERO = Decimal(0)
#: average prices are for reading (the figures above them are computed from the fills' values)
_AVERAGE = Decimal("1e-8")


def _value(fills: list[FillRecord]) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity, quantity x price, fees) over the priced fills."""
    qty = value = fees = _ZERO
    for fill in fills:
        if fill.price is None:
            continue
        qty = _CTX.add(qty, fill.quantity)
        value = _CTX.add(value, _CTX.multiply(fill.price, fill.quantity))
        fees = _CTX.add(fees, fill.fee or _ZERO)
    return qty, value, fees


def _move(direction: Decimal, a: Decimal, b: Decimal, quantity: Decimal) -> Decimal:
    """(a - b) x quantity in the position's direction (+1 long, -1 short): a gain is positive."""
    return _CTX.multiply(direction, _CTX.multiply(_CTX.subtract(a, b), quantity))


def exit_outcomes(row: OrderRisk, result: OrderResult) -> list[dict[str, Any]]:
    """What each filled exit of one entry realised, in the order of its legs (a ladder's levels, then
    the stop): each exit closes its own quantity of the entry, and carries that share of the entry's
    value and fees, so the outcomes of a round trip add up to it. Empty: no exit filled."""
    entry_qty, entry_value, entry_fees = _value(result.fills)
    if entry_qty == 0 or row.entry is None:
        return []
    direction = Decimal(1) if row.side is Side.BUY else Decimal(-1)
    open_qty = entry_qty
    outcomes: list[dict[str, Any]] = []
    for leg in result.legs:
        exit_qty, exit_value, exit_fees = _value(leg.fills)
        if exit_qty == 0 or leg.trigger_price is None or open_qty == 0:
            continue
        closed = min(exit_qty, open_qty)
        open_qty = _CTX.subtract(open_qty, closed)
        # the closed quantity's share of each side's value: exact when all of it closed (the usual case)
        entry_cost = entry_value if closed == entry_qty else _CTX.divide(_CTX.multiply(entry_value, closed),
                                                                         entry_qty)
        exit_proceeds = exit_value if closed == exit_qty else _CTX.divide(_CTX.multiply(exit_value, closed),
                                                                          exit_qty)
        pnl = _CTX.multiply(direction, _CTX.subtract(exit_proceeds, entry_cost))
        planned = _move(direction, leg.trigger_price, row.entry, closed)
        slippage = _CTX.multiply(direction, _CTX.subtract(_CTX.multiply(leg.trigger_price, closed),
                                                          exit_proceeds))
        entry_difference = _CTX.multiply(direction, _CTX.subtract(entry_cost,
                                                                  _CTX.multiply(row.entry, closed)))
        fees = _CTX.add(entry_fees if closed == entry_qty else
                        _CTX.divide(_CTX.multiply(entry_fees, closed), entry_qty), exit_fees)
        entry_avg = _CTX.divide(entry_value, entry_qty).quantize(_AVERAGE)
        exit_avg = _CTX.divide(exit_value, exit_qty).quantize(_AVERAGE)
        outcomes.append({
            "order_id": row.order_id, "exit": leg.leg, "trigger": leg.trigger_price,
            "closed_quantity": closed,
            "entry_average": entry_avg, "exit_average": exit_avg,
            "planned": planned, "slippage": slippage, "entry_difference": entry_difference,
            "realised": pnl, "fees": fees, "net": _CTX.subtract(pnl, fees),
            "preview_loss_at_stop": row.loss_at_stop,
        })
    return outcomes


def risk_section(preview: RiskPreview, results: list[OrderResult]) -> dict[str, Any]:
    body = preview_json(preview)
    by_id = {r.id: r for r in results}
    outcomes = []
    for row in preview.orders:
        result = by_id.get(row.order_id)
        if result is not None and result.legs:  # only an exit realises anything
            outcomes.extend(exit_outcomes(row, result))
    body["outcomes"] = outcomes
    return body
