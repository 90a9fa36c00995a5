"""An exit order working for more than its trade still holds (the trade was reduced by a change
made outside meanwhile) is cancelled, and the exit goes out again for what is left — against
the in-process paper broker, through the running service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.api.conftest import Server
from tests.trades.harness import wait_for
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.store import trades as store

LT = InstrumentKey("NSE", "LT")


def _orders(server: Server, symbol: str, side: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = server.client().get(
        "/api/v1/orders", params={"symbol": symbol, "page_size": 100}).json()["items"]
    return [o for o in items if o["side"] == side]


def test_an_exit_bigger_than_the_trade_is_cancelled_and_sent_again(server: Server) -> None:
    exchange = server.simulator.exchange
    exchange.set_prices({LT: Decimal("3000")}, volume=100)
    client = server.client()
    created = client.post("/api/v1/strategies", json={
        "name": "shrink", "position_guards": False,
        "settings": {"stop_loss": {"kind": "points", "value": 10}, "square_off_time": None}})
    assert created.status_code == 201, created.text
    strategy = created.json()
    signal = client.post(f"/webhook/{strategy['webhook_token']}", json={
        "secret_key": strategy["webhook_secret"], "symbol": "LT", "exchange": "NSE",
        "action": "BUY", "quantity": 10, "product": "MIS"})
    assert signal.status_code == 200, signal.text
    entry = signal.json()["orders"][0]["orderid"]
    trades = server.services.engine.trades
    trade = wait_for(lambda: next(
        (t for t in trades.trades.values() if t.entry_order_id == entry), None), "the trade")

    exchange.set_prices({LT: Decimal("2985")}, volume=3)  # the stop fires; 3 of 10 fill
    first = wait_for(lambda: next(
        (o for o in _orders(server, "LT", "SELL") if o["filled_quantity"] == 3), None),
        "the exit to fill 3")
    assert first["quantity"] == 10

    def reduce_elsewhere() -> None:  # as a fill of an order placed elsewhere would
        with server.services.db.transaction() as session:
            row = store.trade_by_id(session, trade.id, for_update=True)
            assert row is not None
            row.exited_quantity += 5
            row.exit_value += Decimal("2985") * 5
            store.save_trade(session, row)

    reduce_elsewhere()
    server.run(trades.resync())
    wait_for(lambda: next((o for o in _orders(server, "LT", "SELL")
                           if o["orderid"] == first["orderid"] and o["status"] == "cancelled"),
                          None), "the oversized exit to be cancelled")
    exchange.set_prices({LT: Decimal("2985")}, volume=100)
    again = wait_for(lambda: next(
        (o for o in _orders(server, "LT", "SELL")
         if o["orderid"] != first["orderid"] and o["status"] == "filled"), None),
        "the exit for what is left", timeout=60)
    assert again["quantity"] == 2  # 10 - 3 exited - 5 taken elsewhere
    sold = sum(o.filled_quantity for _, o in exchange.all_orders("paper-1")
               if o.key == LT and o.side.value == "SELL")
    assert sold == 5  # never more than the trade held at the broker
