"""`exit-plan`: a take-profit ladder and `manage:` that can be carried out as written.

Checked before anything is sent: the ladder needs `mode: after_fill` (QFEX's attached bracket
has one take-profit); levels go in order away from the entry and stay beyond the stop-loss; only
the last level may be "the rest"; sizes add up to at most the whole fill; with reference data
every level (sized for a complete fill, floored to the lot) is at least the symbol's minimum
quantity and every trigger is on the tick; break-even and trailing need a stop-loss to move, and
the level they wait for must exist with a position left after it. Example::

    - {id: e, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 10, price: 225,
       bracket: {stop_loss: 215, take_profit: [{price: 245, size: 50%}, {price: 235}]}}
    # -> take_profit[1] 235 must be above the level before it (245): levels go in order away
    #    from the entry [exit-plan]
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from runner.enums import OrderType, Side
from runner.playbook.exits import (
    HUNDRED,
    MAX_LEVELS,
    covers_all,
    level_sizes,
    quantum,
    step_is_long,
    step_order,
)
from runner.playbook.model import BracketMode, Order, PlaybookStep, StepKind
from runner.playbook.rules.context import RuleContext, problem
from runner.playbook.rules.exact import is_multiple, show
from runner.problems import Location, Problem, Severity

ID = "exit-plan"


def _level_at(ctx: RuleContext, index: int, level: int, *fields: str,
              base: tuple[str, ...] = ("bracket",)) -> Location:
    """Where `orders[index].bracket.take_profit[level].<fields>` is (an exits step: no `bracket`)."""
    return ctx.document.locate(("orders", index, *base, "take_profit", level, *fields))


def check(ctx: RuleContext) -> Iterator[Problem]:
    for index, order in ctx.orders:
        bracket = order.bracket
        if bracket is None or not bracket.exit_plan or order.type.is_stop:
            continue
        if bracket.mode is BracketMode.ATTACHED:
            what = "a take-profit ladder" if len(bracket.levels) > 1 else "manage:"
            yield problem(ctx.at(index, "bracket", "mode"),
                          f"{what} needs mode: after_fill (QFEX's attached bracket has one take-profit and "
                          f"the runner cannot resize or move it); remove mode or write after_fill", ID)
        yield from _ladder(ctx, index, order, sized=order.sized)  # {risk: ...} unresolved: sized at run time
        yield from _manage(ctx, index, order)
    for index, step in ctx.steps:
        if step.kind is StepKind.EXITS and step.exits is not None:
            yield from _exits_step(ctx, index, step)


def _exits_step(ctx: RuleContext, index: int, step: PlaybookStep) -> Iterator[Problem]:
    """An `exits:` step: the same checks on the position it protects (its side from the geometry;
    sizes against `quantity`, or left to run time for the whole position)."""
    bracket = step.exits
    assert bracket is not None
    long = step_is_long(bracket)
    order = step_order(step.id, step.symbol or "", long is not False, step.quantity or Decimal(0), bracket)
    yield from _ladder(ctx, index, order, (), sized=step.quantity is not None)
    yield from _manage(ctx, index, order, ())


def _ladder(ctx: RuleContext, index: int, order: Order, base: tuple[str, ...] = ("bracket",),
            sized: bool = True) -> Iterator[Problem]:
    bracket = order.bracket
    assert bracket is not None
    levels = bracket.levels
    if not levels:
        return
    if len(levels) > MAX_LEVELS:
        yield problem(ctx.at(index, *base, "take_profit"),
                      f"a take-profit ladder has at most {MAX_LEVELS} levels, not {len(levels)}", ID)
    buy, side = order.side is Side.BUY, order.side.value
    beyond = "above" if buy else "below"
    spec = ctx.spec(order)
    for n, level in enumerate(levels):
        at_price = _level_at(ctx, index, n, "price", base=base)
        if order.price is not None and (level.price <= order.price if buy else level.price >= order.price):
            yield problem(at_price, f"take_profit[{n}] {show(level.price)} must be {beyond} the entry price "
                                    f"{show(order.price)} for a {side}", ID)
        elif bracket.stop_loss is not None and (level.price <= bracket.stop_loss if buy
                                                else level.price >= bracket.stop_loss):
            yield problem(at_price, f"take_profit[{n}] {show(level.price)} must be {beyond} stop_loss "
                                    f"{show(bracket.stop_loss)} for a {side}", ID)
        if n > 0 and (level.price <= levels[n - 1].price if buy else level.price >= levels[n - 1].price):
            yield problem(at_price, f"take_profit[{n}] {show(level.price)} must be {beyond} the level before "
                                    f"it ({show(levels[n - 1].price)}): levels go in order away from the "
                                    f"entry", ID)
        if spec is not None and not is_multiple(level.price, spec.tick_size):
            yield problem(at_price, f"take_profit[{n}] {show(level.price)} is not a multiple of "
                                    f"{order.symbol}'s tick size {show(spec.tick_size)}", "tick-size")
        at_size = _level_at(ctx, index, n, "size", base=base)
        if level.percent is None and level.quantity is None and n < len(levels) - 1:
            yield problem(_level_at(ctx, index, n, base=base), f"take_profit[{n}] has no size: only the last "
                          f"level may take the rest (give this one a size such as 50%)", ID)
        if level.percent is not None and level.percent <= 0:
            yield problem(at_size, f"take_profit[{n}] size {show(level.percent)}% closes nothing", ID)
        if level.quantity is not None and spec is not None and not is_multiple(level.quantity, spec.lot_size):
            yield problem(at_size, f"take_profit[{n}] size {show(level.quantity)} is not a multiple of "
                                   f"{order.symbol}'s lot size {show(spec.lot_size)}", "lot-size")
    if sized:
        yield from _sizes(ctx, index, order, base)


def _sizes(ctx: RuleContext, index: int, order: Order, base: tuple[str, ...]) -> Iterator[Problem]:
    """Shares add up to at most the whole fill; each level, sized for a complete fill, closes something
    (with reference data: at least the symbol's minimum quantity)."""
    bracket = order.bracket
    assert bracket is not None
    levels = bracket.levels
    percent = sum((x.percent for x in levels if x.percent is not None), Decimal(0))
    absolute = sum((x.quantity for x in levels if x.quantity is not None), Decimal(0))
    at_tp = ctx.at(index, *base, "take_profit")
    if percent > HUNDRED:
        yield problem(at_tp, f"the take-profit levels add up to {show(percent)}% of the filled quantity: at "
                             f"most 100%", ID)
        return
    total = order.quantity * percent / HUNDRED + absolute
    if total > order.quantity:
        yield problem(at_tp, f"the take-profit levels close {show(total)}, more than the order's quantity "
                             f"{show(order.quantity)}", ID)
        return
    if not covers_all(levels) and bracket.stop_loss is None:
        yield problem(at_tp, f"the take-profit levels close {show(total)} of {show(order.quantity)} and "
                             f"there is no stop_loss: the rest of the position would have no exit", ID,
                      Severity.WARNING)
    spec = ctx.spec(order)
    lot = spec.lot_size if spec is not None else None
    sizes = level_sizes(levels, order.quantity, lot)
    step = quantum(order.quantity, lot)
    for n, size in enumerate(sizes):
        where = _level_at(ctx, index, n, base=base)
        floored = f" (floored to the lot {show(step)})" if lot is not None else ""
        if size <= 0:
            yield problem(where, f"take_profit[{n}] closes nothing when all {show(order.quantity)} fill"
                                 f"{floored}: make it larger or remove it", ID)
        elif spec is not None and size < spec.min_quantity:
            yield problem(where, f"take_profit[{n}] closes {show(size)} when all {show(order.quantity)} fill"
                                 f"{floored}, less than {order.symbol}'s minimum quantity "
                                 f"{show(spec.min_quantity)}", ID)


def _manage(ctx: RuleContext, index: int, order: Order,
            base: tuple[str, ...] = ("bracket",)) -> Iterator[Problem]:
    bracket = order.bracket
    assert bracket is not None
    manage = bracket.manage
    if manage is None:
        return
    levels = len(bracket.levels)
    # after the last level of a ladder that closes everything, the position is flat
    usable = levels - 1 if covers_all(bracket.levels) else levels
    moves: list[tuple[str, int | None, tuple[str, ...]]] = [
        ("break_even_after", manage.break_even_after, ("manage", "break_even_after"))]
    if manage.trail is not None:
        moves.append(("trail.after", manage.trail.after, ("manage", "trail", "after")))
    for name, after, path in moves:
        if after is not None and after > usable:
            why = (f"the ladder has {levels} level{'s' * (levels != 1)} and the position is flat after the "
                   f"last" if covers_all(bracket.levels) else f"the ladder has {levels} level"
                   f"{'s' * (levels != 1)}")
            yield problem(ctx.at(index, *base, *path), f"{name} {after}: {why}, so this never happens "
                                                           f"with a position left", ID)
    wants_stop = manage.break_even_after is not None or manage.trail is not None
    if wants_stop and bracket.stop_loss is None:
        yield problem(ctx.at(index, *base, "manage"), "break_even_after and trail move the stop-loss: "
                                                          "give the bracket a stop_loss", ID)
    trail = manage.trail
    if trail is not None:
        if trail.percent is not None and not 0 < trail.percent < HUNDRED:
            yield problem(ctx.at(index, *base, "manage", "trail", "percent"),
                          f"trail percent {show(trail.percent)}% must be more than 0% and less than 100%", ID)
        if trail.distance is not None and trail.percent is not None:
            yield problem(ctx.at(index, *base, "manage", "trail"),
                          "trail: give distance or percent, not both", ID)
        buy = order.side is Side.BUY
        if trail.activation is not None and order.price is not None and \
                (trail.activation <= order.price if buy else trail.activation >= order.price):
            yield problem(ctx.at(index, *base, "manage", "trail", "activation"),
                          f"trail activation {show(trail.activation)} must be "
                          f"{'above' if buy else 'below'} the entry price {show(order.price)} for a "
                          f"{order.side.value}", ID)
    if manage.cancel_entry_after is not None and order.type is OrderType.MARKET:
        yield problem(ctx.at(index, *base, "manage", "cancel_entry_after"),
                      "cancel_entry_after on a MARKET entry: it never rests, so there is nothing to cancel",
                      ID, Severity.WARNING)
