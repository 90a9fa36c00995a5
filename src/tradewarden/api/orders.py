"""Native orders API (BRIEF §4.4): list, detail, stats, retry, drop, cancel."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query

from tradewarden.api.deps import CallerDep, ServicesDep
from tradewarden.api.schemas import EventOut, FillOut, OrderDetail, OrderOut, OrderPage
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import Order
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.actions import ActionRefused
from tradewarden.engine.ledger import ConcurrencyConflict
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.order_queries import (
    MAX_PAGE_SIZE,
    OrderFilter,
    list_orders,
    status_counts,
)
from tradewarden.store.repositories import Orders

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
IST = ZoneInfo("Asia/Kolkata")
QUEUED = (OrderStatus.FAILED, OrderStatus.RETRY_PENDING)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), IST).astimezone(UTC)


def _check_date(name: str, day: date | None) -> None:
    if day is not None and not date(2000, 1, 1) <= day <= date(2099, 12, 31):
        raise HTTPException(422, detail=[{"loc": ["query", name],
                                          "msg": "date must be between 2000 and 2099",
                                          "type": "value_error"}])


def _statuses(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    values = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [v for v in values if v not in {s.value for s in OrderStatus}]
    if unknown:
        raise HTTPException(422, detail=[{"loc": ["query", "status"],
                                          "msg": f"unknown status {', '.join(unknown)}",
                                          "type": "value_error"}])
    return values


@router.get("", response_model=OrderPage)
async def list_(
    caller: CallerDep, services: ServicesDep,
    status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
    reason: str | None = None, symbol: str | None = None, strategy: str | None = None,
    origin: str | None = None,
    from_date: Annotated[date | None, Query(description="IST date, inclusive")] = None,
    to_date: Annotated[date | None, Query(description="IST date, inclusive")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> OrderPage:
    """One user's orders, newest first, filtered and paginated."""
    _check_date("from_date", from_date)
    _check_date("to_date", to_date)
    flt = OrderFilter(
        statuses=_statuses(status), reason=reason, symbol=symbol, strategy=strategy,
        origin=origin, from_time=_day_start(from_date) if from_date else None,
        to_time=_day_start(to_date + timedelta(days=1)) if to_date else None)

    def query() -> OrderPage:
        with services.db.read() as session:
            result = list_orders(session, caller.user_id, flt, page, page_size)
            return OrderPage(items=[OrderOut.of(r) for r in result.items], total=result.total,
                             page=result.page, page_size=result.page_size,
                             total_pages=result.total_pages)

    return await services.db.run(query)


@router.get("/stats")
async def stats(caller: CallerDep, services: ServicesDep) -> dict[str, object]:
    """Counts of the caller's orders by status."""
    def query() -> dict[str, int]:
        with services.db.read() as session:
            return status_counts(session, caller.user_id)

    counts = await services.db.run(query)
    return {"by_status": {s.value: counts.get(s.value, 0) for s in OrderStatus},
            "total": sum(counts.values())}


@router.get("/{order_id}", response_model=OrderDetail)
async def detail(order_id: str, caller: CallerDep, services: ServicesDep) -> OrderDetail:
    """One order with its event timeline and fills (404 for another user's order)."""
    def query() -> OrderDetail | None:
        with services.db.read() as session:
            orders = Orders(session, caller.user_id)
            row = orders.get(order_id)
            if row is None:
                return None
            return OrderDetail(**OrderOut.of(row).model_dump(),
                               events=[EventOut.of(e) for e in orders.events(order_id)],
                               fills=[FillOut.of(f) for f in orders.fills(order_id)])

    found = await services.db.run(query)
    if found is None:
        raise HTTPException(404, detail="order not found")
    return found


async def _owned(services: ServicesDep, caller: CallerDep, order_id: str) -> Order:
    def query() -> Order | None:
        with services.db.read() as session:
            row = Orders(session, caller.user_id).get(order_id)
            return order_from_row(row) if row is not None else None

    order = await services.db.run(query)
    if order is None:
        raise HTTPException(404, detail="order not found")
    return order


@router.post("/{order_id}/retry", response_model=OrderOut)
async def retry(order_id: str, caller: CallerDep, services: ServicesDep) -> OrderOut:
    """Retry now: ``failed``/``retry_pending`` → ``retry_pending`` due immediately (else 409)."""
    order = await _owned(services, caller, order_id)
    if order.status not in QUEUED:
        raise HTTPException(409, detail=f"order is {order.status.value}; only failed or "
                                        "retry_pending orders can be retried")
    try:
        await services.engine.retry_policy.retry_now(order.id, caller.user_id)
    except (InvalidEvent, ConcurrencyConflict) as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    services.engine.wake_retry_queue()
    return await _fresh(services, caller, order_id)


@router.delete("/{order_id}", response_model=OrderOut)
async def drop(order_id: str, caller: CallerDep, services: ServicesDep) -> OrderOut:
    """Drop from the retry queue: → ``cancelled`` (409 unless failed/retry_pending)."""
    order = await _owned(services, caller, order_id)
    if order.status not in QUEUED:
        raise HTTPException(409, detail=f"order is {order.status.value}; only failed or "
                                        "retry_pending orders can be dropped")
    try:
        await services.engine.retry_policy.drop(order.id)
    except (InvalidEvent, ConcurrencyConflict) as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return await _fresh(services, caller, order_id)


@router.post("/{order_id}/cancel", response_model=OrderOut)
async def cancel(order_id: str, caller: CallerDep, services: ServicesDep) -> OrderOut:
    """Cancel a working order at the broker (or locally if it was never sent)."""
    order = await _owned(services, caller, order_id)
    try:
        await services.engine.actions.cancel(order)
    except (ActionRefused, InvalidEvent, ConcurrencyConflict) as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return await _fresh(services, caller, order_id)


async def _fresh(services: ServicesDep, caller: CallerDep, order_id: str) -> OrderOut:
    def query() -> OrderOut:
        with services.db.read() as session:
            row = Orders(session, caller.user_id).get(order_id)
            assert row is not None
            return OrderOut.of(row)

    return await services.db.run(query)
