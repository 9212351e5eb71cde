"""A stop's trigger is checked against the mark price QFEX triggers on (issue 14, point 3).

QFEX turns a stop into a market order "when the Mark Price reaches the stop price"
[D:/qfex/order-types]. As `run` starts it reads every symbol's mark from the target's market-data
socket (QFEX's MDS; a local exchange's `/mds`) and the `stop-side` check uses it; without one it
falls back to the reference data's underlier price, as before, and says "market price".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from runner.errors import PlaybookInvalid
from runner.exit_codes import ExitCode
from tests.acceptance.run_kit import MARKET, order, outcomes, run, write_playbook


def pin_mark(sim: Any, price: str) -> None:
    """The mark away from the underlier (the reference data's price stays the market maker's fair)."""
    sim.call(lambda ex: ex.set_mark("AAPL-USD", Decimal(price)))


def refused(tmp_path: Any, sim: Any, book: Any, **options: Any) -> str:
    """Run a playbook that must be refused before anything is sent; its problems, one per line."""
    with pytest.raises(PlaybookInvalid) as caught:
        run(tmp_path, sim, book, write_reports=False, **options)
    return "\n".join(str(p) for p in caught.value.problems)


def test_a_stop_valid_against_the_mark_is_sent(tmp_path, simulator):
    pin_mark(simulator, "250")  # the underlier stays ~230: 240 would be on the wrong side of it
    book = write_playbook(tmp_path, [order("long", MARKET),
                                     order("sl", "symbol: AAPL-USD\nside: SELL\ntype: STOP_LOSS\n"
                                                 "quantity: 1\nprice: 240.00")])
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, result.report
    assert outcomes(result) == ["passed", "passed"]


def test_a_stop_on_the_wrong_side_of_the_mark_is_an_error_and_nothing_is_sent(tmp_path, simulator):
    pin_mark(simulator, "250")
    book = write_playbook(tmp_path, [order("long", MARKET),
                                     order("tp", "symbol: AAPL-USD\nside: SELL\ntype: TAKE_PROFIT\n"
                                                 "quantity: 1\nprice: 245.00")])
    said = refused(tmp_path, simulator, book)
    assert "TAKE_PROFIT 245.00 for a SELL must be above AAPL-USD's mark price 250" in said, said
    assert simulator.call(lambda ex: ex.orders(ex.config.accounts[0].account_id)) == []


def test_without_market_data_the_underlier_is_used_and_the_run_is_not_held_up(tmp_path, simulator):
    import socket
    import time

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pin_mark(simulator, "250")
    book = write_playbook(tmp_path, [order("sl", "symbol: AAPL-USD\nside: SELL\ntype: STOP_LOSS\n"
                                                 "quantity: 1\nprice: 240.00")])
    started = time.monotonic()
    said = refused(tmp_path, simulator, book, mds_url=f"ws://127.0.0.1:{port}/mds")
    assert time.monotonic() - started < 30  # a bound for a hung run, not a timing assertion
    assert "must be below AAPL-USD's market price 230" in said, said


def test_status_shows_the_mark_beside_the_orders(tmp_path, simulator):
    """`status` reads the mark of each traded symbol from the market-data socket (found from `--url`)."""
    from runner.state.status import StatusOptions, as_json, collect_status, render_text

    pin_mark(simulator, "231.5")
    book = write_playbook(tmp_path, [order("long", MARKET)])
    run(tmp_path, simulator, book)
    shown = collect_status(StatusOptions(str(book), url=simulator.url, state_dir=str(tmp_path / "state"),
                                         env={"QFEX_PUBLIC_KEY": simulator.public_key,
                                              "QFEX_SECRET_KEY": simulator.secret_key}))
    assert shown.marks == {"AAPL-USD": Decimal("231.5")}
    assert f"mark prices ({simulator.mds_url}): AAPL-USD 231.5" in render_text(shown)
    assert as_json(shown)["marks"] == {"AAPL-USD": Decimal("231.5")}
