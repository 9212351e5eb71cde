"""A re-run with its journal reports what the first run saw — fills with their prices, attached exits
by their own order ids — from the journal, without asking the exchange again for settled orders."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner.exit_codes import ExitCode
from runner.report import Outcome, render_markdown, render_text
from runner.simulator.config import EngineConfig
from runner.simulator.engine import Exchange
from tests.acceptance.run_kit import MARKET, order, run, write_playbook


class QueryCountingExchange(Exchange):
    """The real engine, counting the messages it is sent by type (to see what a re-run asks)."""

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.asked: Counter[str] = Counter()

    def handle(self, session: Any, msg_type: str, params: dict) -> list:
        self.asked[msg_type] += 1
        return super().handle(session, msg_type, params)


def counting_simulator(simulator_factory: Any) -> Any:
    return simulator_factory(exchange=QueryCountingExchange(EngineConfig()))


def test_a_rerun_shows_the_fills_and_average_price_of_the_first_run(tmp_path: Path,
                                                                     simulator_factory: Any) -> None:
    sim = counting_simulator(simulator_factory)
    book = write_playbook(tmp_path, [order("m", MARKET.replace("quantity: 1", "quantity: 3"), wait="fill",
                                           expect="filled")], name="fills")
    first = run(tmp_path, sim, book, report_dir=tmp_path / "r1")
    assert first.exit_code == ExitCode.OK
    m1 = first.report.orders[0]
    assert m1.filled_quantity == 3 and m1.average_price is not None and m1.fills
    sim.call(lambda ex: ex.asked.clear())

    again = run(tmp_path, sim, book, report_dir=tmp_path / "r2")
    assert again.exit_code == ExitCode.OK
    m2 = again.report.orders[0]
    assert m2.outcome is Outcome.ALREADY_PLACED
    assert [(f.trade_id, f.price, f.quantity, f.fee) for f in m2.fills] == \
        [(f.trade_id, f.price, f.quantity, f.fee) for f in m1.fills]
    assert m2.average_price == m1.average_price and m2.filled_quantity == 3
    shown = f"3/3 @ {format(m1.average_price.quantize(Decimal('1e-6')).normalize(), 'f')}"
    assert shown in render_text(again.report) and shown in render_markdown(again.report)
    asked = sim.call(lambda ex: dict(ex.asked))
    assert not {"get_user_orders", "get_user_trades", "add_order"} & set(asked), asked
