"""What exactly-once costs: the fsync'd journal per order, and reconciliation before a run.

    .venv/bin/python bench/exactly_once_bench.py [--orders 1000] [--state-dir DIR]

1. Journal: `record_intent` + `record_answer` for N orders, in the state dir's file system
   (default: a temporary dir; pass --state-dir to measure the disk a real run uses), three ways:
   every record fsync'd; answers deferred to the next intent's fsync (`sync_answers = False`);
   group commit of 50 intents, then their 50 answers (`batch()`, as a pipelined run can).
   Baseline in the same run: the same lines appended to a plain file without fsync.
2. Reconciliation: N resting orders on the local exchange (in-process, loopback, rate limit off),
   then `reconcile` of all N client_order_ids over one connection (every one open and untouched:
   one get_user_orders page per 1,000; no trade lookups), and of N ids none of which is placed
   (open orders + one scan of the account's trades). Baseline: one bare get_user_orders request.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bench_journal(orders: int, state_dir: Path) -> None:
    from runner.enums import OrderType, Side, TimeInForce
    from runner.jsonnum import dumps
    from runner.playbook.ids import Leg
    from runner.playbook.model import Order, Playbook
    from runner.state.journal import Journal

    order = Order("o", "AAPL-USD", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal("220.00"), TimeInForce.GTC)
    message = {"type": "add_order", "params": {"symbol": "AAPL-USD", "side": "BUY", "order_type": "LIMIT",
                                               "order_time_in_force": "GTC", "quantity": Decimal(1),
                                               "price": Decimal("220.00"), "client_order_id": ""}}
    answer = {"order_response": {"order_id": "x", "status": "ACK", "quantity": Decimal(1),
                                 "quantity_remaining": Decimal(1), "client_order_id": ""}}
    figures = {}
    for mode in ("fsync each", "answers deferred", "batch of 50"):
        playbook = Playbook(path="bench.yaml", name=f"bench-{uuid.uuid4().hex[:6]}", orders=(order,))
        with Journal.open(state_dir, playbook) as journal:
            journal.sync_answers = mode != "answers deferred"
            start = time.perf_counter()
            if mode == "batch of 50":
                for first in range(0, orders, 50):
                    with journal.batch():
                        for i in range(first, min(first + 50, orders)):
                            journal.record_intent(f"c-{i}", i, "o", Leg.ENTRY, message)
                    with journal.batch():
                        for i in range(first, min(first + 50, orders)):
                            journal.record_answer(f"c-{i}", answer)
            else:
                for i in range(orders):
                    journal.record_intent(f"c-{i}", i, "o", Leg.ENTRY, message)
                    journal.record_answer(f"c-{i}", answer)
            figures[mode] = time.perf_counter() - start
    plain = state_dir / "baseline.jsonl"
    start = time.perf_counter()
    with plain.open("a") as f:
        for i in range(orders):
            f.write(dumps({"kind": "intent", "coid": f"c-{i}", "message": message}) + "\n")
            f.write(dumps({"kind": "answer", "coid": f"c-{i}", "answer": answer}) + "\n")
    baseline = time.perf_counter() - start
    per_order = ", ".join(f"{mode} {seconds / orders * 1000:.3f}" for mode, seconds in figures.items())
    print(f"journal, ms per order (intent + answer), {orders} orders: {per_order}; "
          f"baseline (plain append, no fsync) {baseline / orders * 1000:.4f}")


def bench_reconcile(orders: int) -> None:
    from runner.exchange.client import TradeSession
    from runner.exchange.credentials import Credentials, Secret
    from runner.exchange.protocol import ReplyKind, get_user_orders_message
    from runner.playbook.plan import add_order_message
    from runner.simulator import Simulator
    from runner.simulator.config import EngineConfig
    from runner.state.reconcile import reconcile

    with Simulator(EngineConfig(speed_bump_ms=0), rate_limit=False) as sim:
        credentials = Credentials(sim.public_key, Secret(sim.secret_key), None, "bench")
        with TradeSession.connect(sim.url, credentials, timeout=10) as session:
            session.subscribe(["order_responses"])
            coids = [str(uuid.uuid4()) for _ in range(orders)]
            for i, coid in enumerate(coids):
                price = Decimal("200.00") - Decimal(i % 500) / 100
                session.send(add_order_message(symbol="AAPL-USD", side="BUY", order_type="LIMIT",
                                               quantity=Decimal("0.001"), price=price, time_in_force="GTC",
                                               client_order_id=coid))
            seen = 0
            while seen < orders:
                event = session.next_event(10)
                if event is not None and event.reply.kind is ReplyKind.ORDER:
                    seen += 1
            start = time.perf_counter()
            session.request(get_user_orders_message(), [ReplyKind.ALL_ORDERS], 30)
            baseline = time.perf_counter() - start
            start = time.perf_counter()
            found = reconcile(session, coids, timeout=30)
            placed = time.perf_counter() - start
            assert all(state.placed for state in found.values())
            absent = [str(uuid.uuid4()) for _ in range(orders)]
            start = time.perf_counter()
            missing = reconcile(session, absent, timeout=30)
            unplaced = time.perf_counter() - start
            assert not any(state.placed for state in missing.values())
    print(f"reconcile: {orders} placed ids in {placed * 1000:.1f} ms ({found.requests} requests); "
          f"{orders} unplaced ids in {unplaced * 1000:.1f} ms ({missing.requests} requests); "
          f"baseline one get_user_orders ({orders} rows) {baseline * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.state_dir is not None:
        args.state_dir.mkdir(parents=True, exist_ok=True)
        bench_journal(args.orders, args.state_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="qfex-eo-bench-") as directory:
            bench_journal(args.orders, Path(directory))
    bench_reconcile(args.orders)


if __name__ == "__main__":
    main()
