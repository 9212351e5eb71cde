"""Read-only commands: get_order, get_user_orders and get_user_trades.

Answered to the caller only; nothing here changes the exchange's state. Reply shapes follow the
dialect (`EngineConfig.get_order_reply` / `user_trades_shape`, config.DIALECTS): the CLI/AsyncAPI
shapes by default, the docs pages' with `--dialect docs-pages`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.simulator import validation as v
from runner.simulator.accounts import Account
from runner.simulator.orders import order_payload, stop_payload
from runner.simulator.outbound import Outbound
from runner.simulator.wire import JsonObject

if TYPE_CHECKING:
    from runner.simulator.config import EngineConfig
    from runner.simulator.twap import Twap


class QueriesMixin:
    """Part of `Exchange` (engine.py): the query commands and the open-order listing tests use.

    Reads `config` (reply shapes), `_accept_strings`, `_twaps` (a user's active TWAPs) and the
    account's orders, stops and trades; uses `_no_such` (amend.py) for an unknown id.
    """

    config: EngineConfig
    _accept_strings: bool
    _twaps: dict[str, Twap]

    if TYPE_CHECKING:  # the other parts of `Exchange` this one calls; mypy checks they match there

        def _no_such(self, account: Account, symbol: str, status: str, id_type: str, ident: str,
                     side: str | None = None, type_: str | None = None) -> Outbound: ...

    def _open_order_rows(self, account: Account, symbol: str | None) -> list[tuple[int, JsonObject]]:
        rows = [
            (o.seq, order_payload(o, o.status, o.update_time))
            for o in account.orders.values()
            if symbol is None or o.symbol == symbol
        ]
        rows += [
            (s.seq, stop_payload(s, "ACK", s.update_time))
            for s in account.stops.values()
            if symbol is None or s.symbol == symbol
        ]
        rows.sort(key=lambda r: r[0])
        return rows

    def _get_order(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        symbol = v.text(params, "symbol", required=True)
        order_id = v.text(params, "order_id", required=True)
        order = account.orders.get(order_id)
        stop = account.stops.get(order_id)
        payload = None
        if order is not None and order.symbol == symbol:
            payload = order_payload(order, order.status, order.update_time)
        elif stop is not None and stop.symbol == symbol:
            payload = stop_payload(stop, "ACK", stop.update_time)
        if self.config.get_order_reply == "order_response":
            # live: any order of the account, in its last state ("Get order details by order_id",
            # AsyncAPI; QFEX's CLI `order get` shows a filled order) — the docs page lists open ones only
            ended = account.closed.get(order_id)
            if payload is None and ended is not None and ended.symbol == symbol:
                payload = order_payload(ended, ended.status, ended.update_time)
            if payload is None:
                message = {
                    "order_response": self._no_such(
                        account, symbol, "NO_SUCH_ORDER", "order_id", order_id
                    ).message["order_response"]
                }
            else:
                message = {"order_response": payload}
        else:
            message = {"all_orders_response": {"orders": [payload] if payload else [], "stop_orders": []}}
        out.append(Outbound("caller", None, account.account_id, message))

    def _get_user_orders(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        limit, offset = v.paging(params)
        symbol = v.text(params, "symbol")
        rows = self._open_order_rows(account, symbol)[offset : offset + limit]
        twaps = [
            t.payload()
            for t in self._twaps.values()
            if t.account_id == account.account_id and t.active and (symbol is None or t.symbol == symbol)
        ]
        out.append(
            Outbound(
                "caller",
                None,
                account.account_id,
                {"all_orders_response": {"orders": [p for _, p in rows], "twaps": twaps}},
            )
        )

    def _get_user_trades(self, account: Account, params: JsonObject, out: list[Outbound]) -> None:
        """Newest first; start_ts/end_ts are inclusive whole seconds; `count` = trades matching the
        filters before paging (so clients can page)."""
        limit, offset = v.paging(params)
        order_id = v.text(params, "order_id")
        start = v.number(params, "start_ts", accept_strings=self._accept_strings)
        end = v.number(params, "end_ts", accept_strings=self._accept_strings)
        start_f = float(start) if start is not None else None
        end_f = float(end) + 1 if end is not None else None  # inclusive of the whole end second
        matches = [
            t
            for t in reversed(account.trades)
            if (order_id is None or t["order_id"] == order_id)
            and (start_f is None or t["timestamp"] >= start_f)
            and (end_f is None or t["timestamp"] < end_f)
        ]
        page = matches[offset : offset + limit]
        if self.config.user_trades_shape == "user_trades_response":
            rows = [
                {
                    "trade_id": t["trade_id"],
                    "symbol": t["symbol"],
                    "price": t["price"],
                    "quantity": t["quantity"],
                    "side": t["side"],
                    "order_id": t["order_id"],
                    "fee": t["fee"],
                    "order_type": t["order_type"],
                    "tif": t["tif"],
                }
                for t in page
            ]
            message: JsonObject = {"user_trades_response": rows}
        else:
            rows = [
                {
                    "trade_id": t["trade_id"],
                    "symbol": t["symbol"],
                    "price": t["price"],
                    "quantity": t["quantity"],
                    "aggressor_side": t["aggressor_side"],
                    "order_id": t["order_id"],
                    "client_order_id": t["client_order_id"],
                    "fee": t["fee"],
                    # whole seconds, as the documented example (`"timestamp": 1746908400`, an integer
                    # where every float field is written 200.0) [D:/websocket/channels/trade/get_user_trades]
                    "timestamp": int(t["timestamp"]),
                }
                for t in page
            ]
            message = {"user_trades": rows, "count": len(matches)}
        out.append(Outbound("caller", None, account.account_id, message))
