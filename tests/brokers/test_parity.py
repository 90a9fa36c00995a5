"""The in-process and HTTP adapters show the same results for the same scenario."""

from __future__ import annotations

import re
from decimal import Decimal as D
from typing import Any, Protocol

from tests.brokers.conftest import Control
from tradewarden.brokers.base import BrokerAdapter, ModifyRequest, OrderRequest, SessionName
from tradewarden.brokers.errors import BrokerError
from tradewarden.brokers.paper import LocalPaperBroker, RemotePaperBroker
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import OrderType, Product, Side, Variety


class Driver(Protocol):
    def session(self, session: str) -> None: ...
    def prices(self, prices: dict[str, str], volume: int | None = None) -> None: ...
    def cash(self, account: str, cash: str) -> None: ...


class LocalDriver:
    def __init__(self, broker: LocalPaperBroker) -> None:
        self.ex = broker.exchange

    def session(self, session: str) -> None:
        self.ex.set_session(SessionName(session))

    def prices(self, prices: dict[str, str], volume: int | None = None) -> None:
        self.ex.set_prices({InstrumentKey.parse(k): D(v) for k, v in prices.items()}, volume)

    def cash(self, account: str, cash: str) -> None:
        self.ex.set_cash(account, D(cash))


class RemoteDriver:
    def __init__(self, control: Control) -> None:
        self.control = control

    def session(self, session: str) -> None:
        self.control.session(session)

    def prices(self, prices: dict[str, str], volume: int | None = None) -> None:
        self.control.prices(dict(prices), volume)

    def cash(self, account: str, cash: str) -> None:
        self.control.cash(account, float(cash))


def rq(
    side: Side,
    qty: int,
    kind: OrderType,
    *,
    symbol: str = "SBIN",
    product: Product = Product.CNC,
    price: str | None = None,
    trigger: str | None = None,
    variety: Variety = Variety.REGULAR,
    tag: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        "NSE",
        symbol,
        side,
        qty,
        kind,
        product,
        price=D(price) if price else None,
        trigger_price=D(trigger) if trigger else None,
        variety=variety,
        tag=tag,
    )


async def scenario(drive: Driver, a: BrokerAdapter) -> dict[str, Any]:
    """Drive a session's worth of activity and collect everything the adapter shows."""
    outcomes: list[str] = []

    async def attempt(call: Any) -> None:
        try:
            await call
            outcomes.append("ok")
        except BrokerError as exc:
            message = re.sub(r"\d{13}", "<id>", exc.message)  # ids differ between brokers
            outcomes.append(f"{type(exc).__name__}: {message}")

    drive.cash("paper-1", "200000")
    amo = await a.place(
        rq(Side.BUY, 10, OrderType.LIMIT, price="800", variety=Variety.AMO, tag="TWPAR1")
    )
    closed = await a.place(rq(Side.BUY, 1, OrderType.MARKET))
    drive.session("open")
    drive.prices({"NSE:SBIN": "799", "NSE:INFY": "1500"})
    resting = await a.place(rq(Side.BUY, 50, OrderType.LIMIT, price="790", tag="TWPAR2"))
    drive.prices({"NSE:SBIN": "790"}, volume=20)
    await a.place(rq(Side.BUY, 20, OrderType.MARKET, symbol="INFY", product=Product.MIS))
    stop = await a.place(
        rq(
            Side.SELL,
            20,
            OrderType.SL_M,
            symbol="INFY",
            product=Product.MIS,
            trigger="1490",
            tag="TWPAR3",
        )
    )
    await a.place(rq(Side.BUY, 1, OrderType.LIMIT, price="790.02"))
    await a.place(rq(Side.BUY, 1, OrderType.LIMIT, price="1000"))
    await a.place(rq(Side.BUY, 1000, OrderType.LIMIT, price="790"))
    await a.place(rq(Side.SELL, 5, OrderType.MARKET))
    await attempt(a.modify(resting, ModifyRequest(price=D("791"))))
    await attempt(a.modify(amo, ModifyRequest(price=D("801"))))
    await attempt(a.cancel(closed))
    await attempt(a.get_order("424242"))
    drive.prices({"NSE:INFY": "1489"})
    await attempt(a.cancel(stop))
    cancel_me = await a.place(rq(Side.SELL, 3, OrderType.LIMIT, price="850"))
    await attempt(a.cancel(cancel_me))
    book = await a.order_book()
    ids = {o.broker_order_id: i for i, o in enumerate(book)}
    histories = [[h.raw_status for h in await a.order_history(o.broker_order_id)] for o in book]
    return {
        "book": [_order(o) for o in book],
        "histories": histories,
        "trades": [
            (ids[f.broker_order_id], f.side, f.quantity, f.price, f.tag)
            for f in await a.trade_book()
        ],
        "positions": await a.positions(),
        "holdings": await a.holdings(),
        "funds": await a.funds(),
        "tags": [_order(o) for o in await a.find_by_tag("TWPAR2")],
        "outcomes": outcomes,
        "session": (await a.market_session()).session,  # type: ignore[union-attr]
    }


def _order(o: Any) -> tuple[Any, ...]:
    return (
        o.tag,
        o.exchange,
        o.symbol,
        o.side,
        o.quantity,
        o.filled_quantity,
        o.average_price,
        o.price,
        o.trigger_price,
        o.order_type,
        o.product,
        o.variety,
        o.validity,
        o.raw_status,
        o.status,
        o.rejection_reason,
        o.status_message,
    )


async def test_in_process_and_http_adapters_agree(
    local: LocalPaperBroker, control: Control, remote: RemotePaperBroker
) -> None:
    in_process = await scenario(LocalDriver(local), local.adapter("paper-1"))
    over_http = await scenario(RemoteDriver(control), remote.adapter("paper-1"))
    assert over_http == in_process
    # the scenario really exercised the interesting paths
    statuses = {row[13] for row in in_process["book"]}
    assert {"COMPLETE", "OPEN", "REJECTED", "CANCELLED"} <= statuses
    assert any(row[5] and row[5] < row[4] for row in in_process["book"])  # a partial fill
    assert any(o.startswith("OrderNotFoundError") for o in in_process["outcomes"])
    assert any(o.startswith("OrderRejectedError") for o in in_process["outcomes"])
