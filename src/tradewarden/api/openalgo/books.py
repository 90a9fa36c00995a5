"""OpenAlgo read routes: orderstatus, openposition, order/trade/position books, holdings, funds."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tradewarden.api.auth import Caller
from tradewarden.api.openalgo.common import (
    OpenAlgoError,
    authenticate,
    number,
    order_json,
    parse,
    read_json,
    services_of,
    success,
    text_number,
    timestamp,
)
from tradewarden.api.openalgo.placing import label_scope
from tradewarden.api.openalgo.requests import OpenAlgoRequest, OpenPositionRequest, OrderIdRequest
from tradewarden.brokers.base import BrokerAdapter
from tradewarden.brokers.errors import BrokerError
from tradewarden.clock import IST, ist_now
from tradewarden.services import Services
from tradewarden.store.order_queries import book_orders, user_fills
from tradewarden.store.repositories import Orders

router = APIRouter(prefix="/api/v1", tags=["openalgo"])


def _today_start() -> datetime:
    return datetime.combine(ist_now().date(), time(0), IST).astimezone(UTC)


async def _adapter(services: Services, caller: Caller) -> BrokerAdapter:
    account = await services.engine.default_account(caller.user_id, caller.account_id)
    if account is None:
        raise OpenAlgoError(400, "no active broker account for this user")
    return services.engine.accounts.adapter(account)


@router.post("/orderstatus")
async def orderstatus(request: Request) -> JSONResponse:
    caller, body = await parse(request, OrderIdRequest)
    services = services_of(request)

    def query() -> dict[str, Any] | None:
        with services.db.read() as session:
            row = Orders(session, caller.user_id).get(body.orderid)
            return order_json(row) if row is not None else None

    data = await services.db.run(query)
    if data is None:
        raise OpenAlgoError(404, f"Order {body.orderid} not found")
    return success(data=data)


@router.post("/openposition")
async def openposition(request: Request) -> JSONResponse:
    caller, body = await parse(request, OpenPositionRequest)
    services = services_of(request)
    scope = await label_scope(request, caller, body.strategy)
    if scope is None:
        return success(quantity="0")

    def query() -> int:
        with services.db.read() as session:
            positions = scope.net_positions(session, caller.user_id)
            return positions.get((body.exchange, body.symbol, body.product), 0)

    return success(quantity=str(await services.db.run(query)))


@router.post("/orderbook")
async def orderbook(request: Request) -> JSONResponse:
    caller, _ = await parse(request, OpenAlgoRequest)
    services = services_of(request)
    since = _today_start()

    def query() -> list[dict[str, Any]]:
        with services.db.read() as session:
            return [order_json(row) for row in book_orders(session, caller.user_id, since)]

    orders = await services.db.run(query)
    statistics = {
        "total_buy_orders": sum(1 for o in orders if o["action"] == "BUY"),
        "total_sell_orders": sum(1 for o in orders if o["action"] == "SELL"),
        "total_completed_orders": sum(1 for o in orders if o["order_status"] == "complete"),
        "total_open_orders": sum(1 for o in orders
                                 if o["order_status"] in ("open", "trigger pending")),
        "total_rejected_orders": sum(1 for o in orders if o["order_status"] == "rejected"),
    }
    return success(data={"orders": orders, "statistics": statistics})


@router.post("/tradebook")
async def tradebook(request: Request) -> JSONResponse:
    caller, _ = await parse(request, OpenAlgoRequest)
    services = services_of(request)
    since = _today_start()

    def query() -> list[dict[str, Any]]:
        with services.db.read() as session:
            return [{
                "action": order.side, "symbol": order.symbol, "exchange": order.exchange,
                "orderid": order.id, "product": order.product, "quantity": fill.quantity,
                "average_price": number(fill.price),
                "trade_value": number(fill.price * fill.quantity),
                "timestamp": timestamp(fill.filled_at), "tradeid": fill.broker_fill_id,
            } for fill, order in user_fills(session, caller.user_id, since)]

    return success(data=await services.db.run(query))


async def _broker_call(services: Services, caller: Caller, what: str) -> Any:
    adapter = await _adapter(services, caller)
    try:
        return await getattr(adapter, what)()
    except BrokerError as exc:
        raise OpenAlgoError(503, f"the broker could not be reached: {exc}") from exc


@router.post("/positionbook")
async def positionbook(request: Request) -> JSONResponse:
    caller, _ = await parse(request, OpenAlgoRequest)
    positions = await _broker_call(services_of(request), caller, "positions")
    return success(data=[{
        "symbol": p.symbol, "exchange": p.exchange, "product": p.product.value,
        "quantity": str(p.quantity), "average_price": text_number(p.average_price),
        "ltp": text_number(p.last_price),
        "pnl": text_number(p.realised_pnl + p.unrealised_pnl),
    } for p in positions])


@router.post("/holdings")
async def holdings(request: Request) -> JSONResponse:
    caller, _ = await parse(request, OpenAlgoRequest)
    rows = await _broker_call(services_of(request), caller, "holdings")
    items = []
    total_value = total_cost = Decimal(0)
    for h in rows:
        ltp = h.last_price if h.last_price is not None else h.average_price
        cost, value = h.average_price * h.quantity, ltp * h.quantity
        total_cost += cost
        total_value += value
        pnl = value - cost
        items.append({
            "symbol": h.symbol, "exchange": h.exchange, "product": "CNC",
            "quantity": h.quantity, "average_price": number(h.average_price),
            "ltp": number(ltp), "pnl": number(pnl),
            "pnlpercent": number(pnl / cost * 100 if cost else Decimal(0)),
        })
    pnl_total = total_value - total_cost
    return success(data={"holdings": items, "statistics": {
        "totalholdingvalue": number(total_value), "totalinvvalue": number(total_cost),
        "totalprofitandloss": number(pnl_total),
        "totalpnlpercentage": number(pnl_total / total_cost * 100 if total_cost else Decimal(0)),
    }})


@router.post("/funds")
async def funds(request: Request) -> JSONResponse:
    caller, _ = await parse(request, OpenAlgoRequest)
    result = await _broker_call(services_of(request), caller, "funds")
    return success(data={
        "availablecash": text_number(result.available), "collateral": text_number(Decimal(0)),
        "m2mrealized": text_number(result.realised_pnl),
        "m2munrealized": text_number(result.unrealised_pnl),
        "utiliseddebits": text_number(result.used_margin),
    })


@router.api_route("/ping", methods=["GET", "POST"])
async def ping(request: Request) -> JSONResponse:
    body = await read_json(request) if request.method == "POST" else {}
    caller = await authenticate(request, body)
    services = services_of(request)
    account = await services.engine.default_account(caller.user_id, caller.account_id)
    broker = services.engine.accounts.info(account).broker if account is not None else "none"
    return success(data={"message": "pong", "broker": broker})
