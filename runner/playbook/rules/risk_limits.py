"""`risk-limits`: loss at the stop, worst case, leverage and stops within the playbook's `limits`.

- `require_stop: true`: every order that can open a position has a bracket `stop_loss`;
- `max_loss_per_order`: quantity x |entry - stop| of each such order (MARKET: at the reference
  price); an order without a stop has an unbounded loss and breaches it;
- `max_loss`: the worst case over the playbook, every opening order filled and stopped out;
- `max_leverage`: gross notional of the opening orders / the account's equity (needs the equity:
  read from the exchange at run time; offline `--equity N` or `--account FILE`, else a warning).

Fees and slippage past the trigger come on top (the preview estimates fees). A quantity sized at
run time (`{risk: 0.5%}` without equity here) is checked at run time. Example::

    limits: {max_loss_per_order: 300}
    orders: [{id: a, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 40, price: 225,
              bracket: {stop_loss: 215}}]
    # -> loss at the stop 400 (40 x |225 - 215|) is above limits.max_loss_per_order 300 [risk-limits]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

from runner.playbook.model import Limits
from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import EXACT, add, multiply, show
from runner.playbook.rules.exposure import (
    loss_at_stop,
    opening_twaps,
    opens_exposure,
    reference_price,
    stop_of,
)
from runner.problems import Problem, Severity

ID = "risk-limits"


def _playbook_name(key: str) -> str:
    return f"limits.{key}"


def check(ctx: RuleContext) -> Iterator[Problem]:
    if ctx.limits is not None:
        yield from breaches(ctx, ctx.limits, _playbook_name, ID)


def breaches(ctx: RuleContext, limits: Limits, named: Callable[[str], str], rule: str) -> Iterator[Problem]:
    """Every breach of `limits` (`named(key)` says where a limit was set, for the message)."""
    if not (limits.require_stop or limits.max_loss_per_order is not None or limits.max_loss is not None
            or limits.max_leverage is not None):
        return
    total: Decimal | None = Decimal(0)
    gross = Decimal(0)
    loss_reported = leverage_reported = False
    for index, step in opening_twaps(ctx.steps):  # market orders over time, no stop: unbounded
        if limits.require_stop:
            yield problem(ctx.at(index, "id"), f"twap step {step.id!r} can open a position without a "
                          f"stop-loss: {named('require_stop')} is true (make it reduce_only, or place the "
                          f"position with an order that has a bracket)", rule)
        for key, limit in (("max_loss_per_order", limits.max_loss_per_order), ("max_loss", limits.max_loss)):
            if limit is not None:
                yield problem(ctx.at(index, "quantity"), f"twap step {step.id!r} has no stop-loss: its loss "
                              f"is unbounded, above {named(key)} {show(limit)}", rule)
    for index, order in ctx.orders:
        if not opens_exposure(order) or not order.sized:
            continue
        stop = stop_of(order)
        if stop is None and limits.require_stop:
            yield problem(ctx.at(index, "id"), f"order {order.id!r} can open a position without a stop-loss: "
                          f"{named('require_stop')} is true (add bracket.stop_loss)", rule)
        price, how = reference_price(order, ctx.refdata)
        if price is None:
            if limits.max_loss_per_order is not None or limits.max_loss is not None or \
                    limits.max_leverage is not None:
                yield problem(ctx.at(index, "quantity"), f"cannot check risk limits for MARKET order "
                              f"{order.id!r}: no reference price for {order.symbol} (pass --refdata FILE or "
                              f"keep a snapshot: qfex-runner refdata pull)", rule)
            total = None if stop is None else total
            continue
        loss = loss_at_stop(order, price)
        at_price = f" at the {how}" if how != "limit price" else ""
        if limits.max_loss_per_order is not None:
            if loss is None:
                yield problem(ctx.at(index, "quantity"), f"order {order.id!r} has no stop-loss: its loss is "
                              f"unbounded, above {named('max_loss_per_order')} "
                              f"{show(limits.max_loss_per_order)}", rule)
            elif loss > limits.max_loss_per_order:
                distance = abs(EXACT.subtract(price, stop)) if stop is not None else Decimal(0)
                stop_text = show(stop) if stop is not None else "-"
                yield problem(ctx.at(index, "quantity"), f"loss at the stop {show(loss.normalize())} "
                              f"({show(order.quantity)} x |{show(price)}{at_price} - {stop_text}| = "
                              f"{show(order.quantity)} x {show(distance)}) is above "
                              f"{named('max_loss_per_order')} {show(limits.max_loss_per_order)}", rule)
        if limits.max_loss is not None and not loss_reported:
            total = None if loss is None or total is None else add(total, loss)
            if total is None:
                loss_reported = True
                yield problem(ctx.at(index, "quantity"), f"order {order.id!r} has no stop-loss, so the "
                              f"playbook's worst-case loss is unbounded, above {named('max_loss')} "
                              f"{show(limits.max_loss)}", rule)
            elif total > limits.max_loss:
                loss_reported = True
                yield problem(ctx.at(index, "quantity"), f"worst-case loss (every entry stopped out) reaches "
                              f"{show(total.normalize())} with this order, above {named('max_loss')} "
                              f"{show(limits.max_loss)}", rule)
        if limits.max_leverage is not None and not leverage_reported:
            gross = add(gross, multiply(order.quantity, price))
            equity = ctx.account.equity if ctx.account is not None else None
            if equity is None:
                leverage_reported = True
                yield problem(ctx.at(index, "quantity"), f"{named('max_leverage')} is checked against the "
                              f"account's equity, unknown here: at run time it is read from the exchange "
                              f"(pass --equity N or --account FILE to check it now)", rule, Severity.WARNING)
            elif equity == 0 or EXACT.divide(gross, equity) > limits.max_leverage:
                leverage_reported = True
                ratio = "unbounded" if equity == 0 else f"{EXACT.divide(gross, equity):.2f}x"
                yield problem(ctx.at(index, "quantity"), f"gross notional reaches {show(gross.normalize())} "
                              f"with this order, {ratio} the equity {show(equity)} "
                              f"({ctx.account.source if ctx.account else ''}), above {named('max_leverage')} "
                              f"{show(limits.max_leverage)}", rule)
