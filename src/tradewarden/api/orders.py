"""Native orders API (BRIEF §4.4): list, detail, stats, retry, drop, cancel."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from tradewarden.api import order_access
from tradewarden.api.deps import CallerDep, ServicesDep
from tradewarden.api.order_access import FilterError, OrderActionError
from tradewarden.api.schemas import EventOut, FillOut, OrderDetail, OrderOut, OrderPage
from tradewarden.domain.statuses import OrderStatus
from tradewarden.store.order_queries import MAX_PAGE_SIZE, list_orders, status_counts
from tradewarden.store.repositories import Orders

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


def _unprocessable(exc: FilterError) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["query", exc.field], "msg": exc.message,
                                       "type": "value_error"}])


def _refused(exc: OrderActionError) -> HTTPException:
    return HTTPException(exc.status, detail=exc.message)


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
    try:
        flt = order_access.order_filter(
            statuses=order_access.parse_statuses(status), reason=reason, symbol=symbol,
            strategy=strategy, origin=origin, from_date=from_date, to_date=to_date)
    except FilterError as exc:
        raise _unprocessable(exc) from exc

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


@router.post("/{order_id}/retry", response_model=OrderOut)
async def retry(order_id: str, caller: CallerDep, services: ServicesDep) -> OrderOut:
    """Retry now: ``failed``/``retry_pending`` → ``retry_pending`` due immediately (else 409)."""
    try:
        return OrderOut.of(await order_access.retry_order(services, caller.user_id, order_id))
    except OrderActionError as exc:
        raise _refused(exc) from exc


@router.delete("/{order_id}", response_model=OrderOut)
async def drop(order_id: str, caller: CallerDep, services: ServicesDep) -> OrderOut:
    """Drop from the retry queue: → ``cancelled`` (409 unless failed/retry_pending)."""
    try:
        return OrderOut.of(await order_access.drop_order(services, caller.user_id, order_id))
    except OrderActionError as exc:
        raise _refused(exc) from exc


@router.post("/{order_id}/cancel", response_model=OrderOut)
async def cancel(order_id: str, caller: CallerDep, services: ServicesDep) -> OrderOut:
    """Cancel a working order at the broker (or locally if it was never sent)."""
    try:
        return OrderOut.of(await order_access.cancel_order(services, caller.user_id, order_id))
    except OrderActionError as exc:
        raise _refused(exc) from exc
