"""The report's risk section in words (text and Markdown share these lines; report.json keeps the data).

Reads `Report.risk` (built by `runner.run.risk_report`): numbers may come back from report.json as
Decimal, int or str, so each is read through `_num`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from runner.words import money_text


def _num(value: Any) -> Decimal | None:
    if type(value) is Decimal:  # a run's own figures (read back from report.json: int, str too)
        return value
    if value is None or isinstance(value, bool):
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _money(value: Any, *, signed: bool = False, unknown: str = "-") -> str:
    number = _num(value)
    return unknown if number is None else money_text(number, signed=signed)


def _cents(value: Any, *, signed: bool = False) -> str:
    """A derived amount (an average went into it) shown to the cent."""
    number = _num(value)
    return "-" if number is None else money_text(number.quantize(Decimal("0.01")), signed=signed)


def _loss(value: Any) -> str:
    """A loss (stored positive) shown negative."""
    number = _num(value)
    return "-" if number is None else money_text(-number)


def _percent(value: Any) -> str:
    number = _num(value)
    return "?" if number is None else format((number * 100).normalize(), "f") + "%"


def _price(value: Any) -> str:
    """A price as written (245.00 stays 245.00)."""
    number = _num(value)
    return "-" if number is None else format(number, "f")


def _plain(value: Any) -> str:
    number = _num(value)
    return "-" if number is None else format(number.normalize(), "f")


def _order_line(row: dict[str, Any]) -> str:
    loss = "UNBOUNDED (no stop-loss)" if row.get("unbounded_loss") else _loss(row.get("loss_at_stop"))
    rewards = ", ".join([f"{_price(r['price'])}: {_money(r['reward'], signed=True)}"
                         for r in row["rewards"]]) if row.get("rewards") else ""  # most rows: none
    r_multiple = f" ({_num(row['r_multiple'])}R)" if row.get("r_multiple") is not None else ""
    sizing = f" sized by {row['sizing']}" if row.get("sizing") else ""
    leverage = f" at {_plain(row['leverage'])}x" if row.get("leverage") is not None else ""
    return (f"{row['order_id']}: {row['side']} {_plain(row['quantity'])} {row['symbol']}{sizing}, notional "
            f"{_money(row.get('notional'))}, margin {_money(row.get('margin'), unknown='?')}{leverage}, "
            f"loss at stop {loss}, reward {rewards or '-'}{r_multiple}, "
            f"fees est. {_money(row.get('fees_estimate'))}")


def _totals(t: dict[str, Any]) -> str:
    worst = "UNBOUNDED" if t.get("unbounded") else _loss(t.get("worst_case_loss"))
    return (f"gross {_money(t.get('gross_notional'))}, net {_money(t.get('net_notional'), signed=True)}, "
            f"worst case {worst}, margin {_money(t.get('margin'), unknown='?')}")


def _outcome_line(o: dict[str, Any]) -> str:
    what = "stopped out" if o.get("exit") == "stop_loss" else "took profit"
    preview = (f" (preview's loss at stop {_loss(o['preview_loss_at_stop'])})"
               if o.get("preview_loss_at_stop") is not None and o.get("exit") == "stop_loss" else "")
    return (f"{o['order_id']} {what}: {_plain(o['closed_quantity'])} at {_cents(o['exit_average'])} "
            f"(trigger {_price(o['trigger'])}): realised {_cents(o['realised'], signed=True)} = planned "
            f"{_money(o['planned'], signed=True)} - slippage past the trigger {_cents(o['slippage'])} - "
            f"entry difference {_cents(o['entry_difference'])}; fees {_cents(o['fees'])}; net "
            f"{_cents(o['net'], signed=True)}{preview}")


def worth_a_terminal(risk: dict[str, Any] | None) -> bool:
    """The console shows the section when the playbook sized an order or an exit filled (report.md and
    report.json always carry it)."""
    return bool(risk) and (any(row.get("sizing") for row in risk.get("orders", []))  # type: ignore[union-attr]
                           or bool(risk.get("outcomes")))  # type: ignore[union-attr]


def risk_lines(risk: dict[str, Any]) -> list[str]:
    """One line per opening order, per symbol, the total, the account, then each exit's outcome."""
    lines = [_order_line(row) for row in risk.get("orders", [])]
    lines += [f"{symbol}: {_totals(t)}" for symbol, t in (risk.get("symbols") or {}).items()]
    if "total" in risk:
        lines.append(f"total: {_totals(risk['total'])}")
    account = risk.get("account")
    if account and account.get("available_balance") is not None:
        lines.append(f"margin needed {_money(risk['total'].get('margin'), unknown='?')} vs available "
                     f"{_cents(account['available_balance'])}, equity {_cents(account.get('equity'))} "
                     f"({account.get('source', '')})")
    if risk.get("unbounded"):
        lines.append(f"unbounded loss (no stop-loss): {', '.join(risk['unbounded'])}")
    lines += [_outcome_line(o) for o in risk.get("outcomes", [])]
    rates = risk.get("fee_rates")
    if rates:
        maker, taker = _percent(rates.get("maker")), _percent(rates.get("taker"))
        lines.append(f"fees est. at maker {maker} / taker {taker}: {rates.get('source', '')}; realised fees "
                     f"are the exchange's")
    return lines
