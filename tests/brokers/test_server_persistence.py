"""SIGKILL the standalone broker and restart it on the same state file: nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from tests.brokers.conftest import Control, PaperServer
from tradewarden.brokers.base import OrderRequest
from tradewarden.brokers.paper import RemotePaperBroker
from tradewarden.domain.orders import OrderType, Product, Side, Variety
from tradewarden.domain.statuses import OrderStatus as S


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[PaperServer]:
    server = PaperServer(tmp_path / "state.db", tmp_path / "server.log")
    server.start()
    yield server
    server.stop()


def snapshot(control: Control) -> dict[str, Any]:
    return {
        "orders": control.orders(),
        "holdings": control.get("/control/holdings")["holdings"],
        "positions": control.get("/control/positions")["positions"],
        "funds": control.get("/control/funds")["funds"],
        "session": control.get("/control/clock")["session"],
    }


async def test_sigkill_and_restart_keep_everything(own_server: PaperServer) -> None:
    control = Control(own_server.url)
    control.session("open")
    control.prices({"NSE:RELIANCE": 2500, "NSE:SBIN": 800})
    broker = RemotePaperBroker(own_server.url, timeout_s=5)
    a, b = broker.adapter("paper-1"), broker.adapter("paper-2")
    await a.place(
        OrderRequest(
            "NSE", "RELIANCE", Side.BUY, 10, OrderType.MARKET, Product.CNC, tag="TWKILL000000000001"
        )
    )
    resting = await a.place(
        OrderRequest(
            "NSE",
            "SBIN",
            Side.BUY,
            50,
            OrderType.LIMIT,
            Product.MIS,
            price=D("790"),
            tag="TWKILL000000000002",
        )
    )
    control.prices({"NSE:SBIN": 790}, volume=20)  # partly filled
    await b.place(OrderRequest("NSE", "SBIN", Side.SELL, 5, OrderType.MARKET, Product.MIS))
    control.post(
        "/control/manual/holdings",
        {"account": "paper-2", "symbol": "INFY", "quantity": 40, "average_price": 1400},
    )
    control.prices({"NSE:INFY": 1450})
    amo = await b.place(
        OrderRequest(
            "NSE",
            "INFY",
            Side.SELL,
            10,
            OrderType.LIMIT,
            Product.CNC,
            price=D("1500"),
            variety=Variety.AMO,
        )
    )
    before = snapshot(control)
    fills_before = await a.trade_book() + await b.trade_book()
    await broker.aclose()

    own_server.kill9()
    own_server.start()  # same --state file

    control = Control(own_server.url)
    assert snapshot(control) == before
    broker = RemotePaperBroker(own_server.url, timeout_s=5)
    a, b = broker.adapter("paper-1"), broker.adapter("paper-2")
    assert await a.trade_book() + await b.trade_book() == fills_before
    assert [o.tag for o in await a.find_by_tag("TWKILL000000000002")] == ["TWKILL000000000002"]
    history = [o.raw_status for o in await b.order_history(amo)]
    assert history == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN"]
    # the clock, session and prices survived too: the partly filled order completes on the
    # next price, and new fill ids do not collide with the old ones
    control.prices({"NSE:SBIN": 789})
    done = await a.get_order(resting)
    assert (done.status, done.filled_quantity) == (S.FILLED, 50)
    fill_ids = [f.fill_id for f in await a.trade_book() + await b.trade_book()]
    assert len(fill_ids) == len(set(fill_ids)) == len(fills_before) + 2  # + the waiting sell
    await broker.aclose()
    control.close()
