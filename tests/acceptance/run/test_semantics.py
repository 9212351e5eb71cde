"""`run` against the real simulator over loopback: every wait x expect x on_reject combination."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import CredentialsError, UsageError
from runner.exit_codes import ExitCode
from runner.run.engine import run_playbook
from runner.run.options import RunOptions
from tests.acceptance.run_kit import MARGIN_REJECT, MARKET, RESTING, order, outcomes, run, write_playbook

# For each expectation: an order that meets it, and one that misses it.
MEETS = {"accepted": RESTING, "filled": MARKET, "rejected": MARGIN_REJECT}
MISSES = {"accepted": MARGIN_REJECT, "filled": RESTING, "rejected": RESTING}
WAITS = ("ack", "fill", "none")


@pytest.mark.parametrize("wait", WAITS)
@pytest.mark.parametrize("expect", sorted(MEETS))
def test_expectation_met(tmp_path, simulator, wait, expect):
    book = write_playbook(tmp_path, [order("a", MEETS[expect], wait=wait, expect=expect),
                                     order("b", RESTING)], on_reject="stop")
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK, result.report.orders[0].verdict
    assert outcomes(result) == ["passed", "passed"]
    first = result.report.orders[0]
    assert first.statuses, "every status seen is recorded"
    if expect == "rejected":
        assert first.reject.code == "FAILED_MARGIN_CHECK"
        assert "balance" in first.reject.meaning
    if expect == "filled":
        assert first.filled_quantity == first.quantity and first.fills


@pytest.mark.parametrize("wait", WAITS)
@pytest.mark.parametrize("expect", sorted(MISSES))
@pytest.mark.parametrize("on_reject", ["stop", "continue"])
def test_expectation_missed(tmp_path, simulator, wait, expect, on_reject):
    book = write_playbook(tmp_path, [order("a", MISSES[expect], wait=wait, expect=expect),
                                     order("b", RESTING)], on_reject=on_reject)
    result = run(tmp_path, simulator, book, timeout=1.0)
    first, second = result.report.orders
    assert first.outcome.value == "failed"
    known_before_next = wait == "fill" or (wait == "ack" and expect != "filled")
    if on_reject == "continue":
        assert result.exit_code == ExitCode.ORDERS_FAILED
        assert second.outcome.value == "passed"
    elif known_before_next:
        # the failure is known before the next order goes: stop there
        assert result.exit_code == ExitCode.ABORTED
        assert second.outcome.value == "not_sent" and second.sent_at is None
        assert "on_reject: stop" in result.report.summary.message
    elif expect == "filled":
        # "filled" cannot be known before moving on; the miss is found at the end
        assert result.exit_code == ExitCode.ORDERS_FAILED and second.sent_at is not None
    else:
        # wait: none — the rejection may arrive before or after the next send; if before, stop
        assert result.exit_code in (ExitCode.ABORTED, ExitCode.ORDERS_FAILED)
        assert (second.sent_at is None) == (result.exit_code == ExitCode.ABORTED)
    # what the exchange did is still there, and the verdict says why
    assert first.verdict
    if expect == "accepted":
        assert first.reject.code == "FAILED_MARGIN_CHECK" and "rejected" in first.verdict
    if expect == "rejected":
        assert "expected a rejection" in first.verdict and first.order_id
    if expect == "filled":
        assert "not filled" in first.verdict


def test_on_reject_stop_on_the_last_order_is_a_plain_failure(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", RESTING), order("b", MARGIN_REJECT)], on_reject="stop")
    result = run(tmp_path, simulator, book)
    assert outcomes(result) == ["passed", "failed"]
    assert result.exit_code == ExitCode.ORDERS_FAILED  # nothing was left unsent: not "aborted part-way"


def test_statuses_latency_and_ids_are_reported(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", MARKET, wait="fill", expect="filled")])
    result = run(tmp_path, simulator, book)
    o = result.report.orders[0]
    assert o.order_id and len(o.client_order_id) == 36
    assert [s.status for s in o.statuses][-1] == "FILLED"
    assert o.latency_ms is not None and o.latency_ms >= 0
    assert o.fill_latency_ms is not None
    assert o.average_price is not None and o.fills[0].trade_id
    open_orders = simulator.call(lambda ex: ex.orders(ex.account_for_key(simulator.public_key).account_id))
    assert all(row.get("client_order_id") != o.client_order_id for row in open_orders)


def test_exchange_rules_are_checked_before_anything_is_sent(tmp_path, simulator):
    # off-tick price: caught by validation with the simulator's /refdata, so nothing reaches the book
    book = write_playbook(tmp_path, [order("a", RESTING), order("b", RESTING.replace("220.00", "220.005"))])
    from runner.errors import PlaybookInvalid

    with pytest.raises(PlaybookInvalid) as info:
        run(tmp_path, simulator, book)
    assert any("tick" in p.message for p in info.value.problems)
    account = simulator.call(lambda ex: ex.account_for_key(simulator.public_key).account_id)
    assert simulator.call(lambda ex: ex.orders(account)) == []


def test_refdata_unavailable_is_a_warning_not_a_failure(tmp_path, simulator, monkeypatch):
    import runner.errors
    import runner.playbook.refdata

    def unavailable(url, timeout=10.0):
        raise runner.errors.RefDataError(f"{url}: connection refused")

    monkeypatch.setattr(runner.playbook.refdata, "fetch_refdata", unavailable)
    book = write_playbook(tmp_path, [order("a", RESTING)])
    result = run(tmp_path, simulator, book)
    assert result.exit_code == ExitCode.OK
    assert any("were not pre-checked" in w for w in result.warnings)


def test_rerun_adopts_placed_orders_and_sends_nothing(tmp_path, simulator):
    book = write_playbook(tmp_path, [order("a", RESTING), order("b", MARKET, wait="fill", expect="filled")])
    first = run(tmp_path, simulator, book, report_dir=tmp_path / "r1")
    assert first.exit_code == ExitCode.OK
    account = simulator.call(lambda ex: ex.account_for_key(simulator.public_key).account_id)
    before = simulator.call(lambda ex: len(ex.orders(account)))
    second = run(tmp_path, simulator, book, report_dir=tmp_path / "r2")
    assert second.exit_code == ExitCode.OK
    assert outcomes(second) == ["already_placed", "already_placed"]
    assert all(o.sent_at is None for o in second.report.orders)
    assert simulator.call(lambda ex: len(ex.orders(account))) == before


def test_server_errors_are_retried_not_reported_as_rejections(tmp_path, simulator_factory):
    from runner.simulator.server_config import FaultConfig

    sim = simulator_factory(faults=FaultConfig(error_rate=0.3, seed=7))
    orders = [order(f"o{i}", RESTING.replace("220.00", f"{200 + i}.00")) for i in range(12)]
    book = write_playbook(tmp_path, orders)
    result = run(tmp_path, sim, book)
    assert result.exit_code == ExitCode.OK, [o.verdict for o in result.report.orders]
    retried = [o for o in result.report.orders if any(s.status == "ServerError" for s in o.statuses)]
    assert retried, "the fault injection should have hit at least one add_order"
    account = sim.call(lambda ex: ex.account_for_key(sim.public_key).account_id)
    coids = sorted(row["client_order_id"] for row in sim.call(lambda ex: ex.orders(account)))
    assert coids == sorted(o.client_order_id for o in result.report.orders)  # each placed exactly once


REFDATA = Path(__file__).resolve().parents[3] / "runner" / "simulator" / "data" / "refdata.json"


@pytest.mark.parametrize("typed, error", [("t", CredentialsError), ("nope", UsageError)])
def test_production_needs_the_typed_playbook_name(tmp_path, typed, error):
    # confirmation comes before credentials and before any connection: with no keys set, a correct
    # confirmation ends at "no credentials" (exit 4) and a wrong one at "not confirmed" (exit 2)
    book = write_playbook(tmp_path, [order("a", RESTING)], name="t")
    asked = []

    def confirm(name: str) -> bool:
        asked.append(name)
        return typed == name

    with pytest.raises(error):
        run_playbook(RunOptions(playbook=str(book), target="prod", refdata_file=str(REFDATA), env={},
                                confirm=confirm, handle_sigint=False, runs_base=str(tmp_path)))
    assert asked == ["t"]


def test_production_with_yes_skips_the_question(tmp_path):
    book = write_playbook(tmp_path, [order("a", RESTING)], name="t")
    with pytest.raises(CredentialsError, match="QFEX_PUBLIC_KEY"):
        run_playbook(RunOptions(playbook=str(book), target="prod", yes=True, refdata_file=str(REFDATA),
                                env={}, confirm=None, handle_sigint=False, runs_base=str(tmp_path)))


def test_playbook_account_and_credentials_account_must_agree(tmp_path, simulator):
    account = "account: 11111111-1111-1111-1111-111111111111\n"
    book = write_playbook(tmp_path, [order("a", RESTING)], extra=account)
    env = {"QFEX_PUBLIC_KEY": simulator.public_key, "QFEX_SECRET_KEY": simulator.secret_key,
           "QFEX_ACCOUNT_ID": "22222222-2222-2222-2222-222222222222"}
    with pytest.raises(UsageError, match="make them agree"):
        run(tmp_path, simulator, book, env=env)


def test_connection_lost_mid_run_is_exit_5_with_an_honest_report(tmp_path, simulator_factory):
    from runner.simulator.server_config import FaultConfig

    # inbound frames: auth, 3 subscribes, the start-up reconciliation (get_user_orders,
    # get_user_trades), then add_orders; the 8th (order b) is processed by the exchange but the
    # connection drops before its answer goes out. No reconnection allowed: beyond the bound.
    sim = simulator_factory(faults=FaultConfig(drop_after_messages=8, drop_before_reply=True))
    book = write_playbook(tmp_path, [order("a", RESTING), order("b", RESTING.replace("220.00", "219.00")),
                                     order("c", RESTING.replace("220.00", "218.00"))])
    result = run(tmp_path, sim, book, reconnect_attempts=0)
    assert result.exit_code == ExitCode.ABORTED
    assert outcomes(result) == ["passed", "unknown", "not_sent"]
    b = result.report.orders[1]
    assert "connection lost" in b.verdict and b.sent_at is not None
    assert "lost" in result.report.summary.message
    assert "placed: a; not placed: c; unknown: b" in result.report.summary.message
    assert (tmp_path / "report" / "report.json").exists()
