"""The account a run sizes and checks risk against: read from the exchange before anything is sent.

Only when the playbook needs it (an order sized `{risk: N%}` of equity, or `max_leverage` in the
playbook's or the repository policy's limits): one extra connection, authenticated like the run's,
reads the `balances` push and `get_user_leverage` (`runner.exchange.account`), then closes. Nothing
is placed, changed or cancelled. The figures become `AccountFigures` for validation and the preview.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.playbook.account import AccountFigures
from runner.playbook.model import Playbook
from runner.playbook.policy import Policy

if TYPE_CHECKING:  # the account is read only for a playbook that needs it (`needs_account`)
    from runner.exchange.account import AccountView
    from runner.exchange.client import TradeSession


def needs_account(playbook: Playbook, policy: Policy | None) -> bool:
    """Equity is needed: a percentage sizing, or a max_leverage limit to check."""
    percent = any(o.sizing is not None and o.sizing.percent for o in playbook.orders)
    leverage = playbook.limits.max_leverage is not None or (
        policy is not None and policy.limits.max_leverage is not None)
    return percent or leverage


def figures(view: AccountView, where: str) -> AccountFigures:
    from runner.exchange.account import equity

    leverage = {symbol: tier.leverage for symbol, tier in view.leverage.items() if tier.leverage is not None}
    return AccountFigures(source=f"read from {where} before sending", equity=equity(view),
                          available_balance=view.available_balance, leverage=leverage)


def read_from_exchange(connect: Callable[[], TradeSession], timeout: float, where: str) -> AccountFigures:
    """Connect, read the account, disconnect (raises the connection's errors: exit 4)."""
    from runner.exchange.account import read_account

    session = connect()
    try:
        return figures(read_account(session, timeout), where)
    finally:
        session.close()
