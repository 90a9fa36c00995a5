"""What the native orders API and the dashboard both do with one user's orders: build the list
filter from user input, and retry / drop / cancel an order the user owns."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from tradewarden.clock import IST
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import Order
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.actions import ActionRefused
from tradewarden.engine.ledger import ConcurrencyConflict
from tradewarden.services import Services
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.order_queries import OrderFilter
from tradewarden.store.repositories import Orders
from tradewarden.store.tables import OrderRow

QUEUED = (OrderStatus.FAILED, OrderStatus.RETRY_PENDING)
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


class FilterError(ValueError):
    """A list filter value is unusable; ``field`` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class OrderActionError(Exception):
    """The action does not apply: ``status`` 404 (not the caller's order) or 409 (wrong state)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def day_start(day: date) -> datetime:
    """Midnight IST of ``day``, in UTC."""
    return datetime.combine(day, time(0), IST).astimezone(UTC)


def parse_statuses(raw: str | None) -> tuple[str, ...]:
    """``"failed, retry_pending"`` → the statuses; unknown names raise ``FilterError``."""
    if not raw:
        return ()
    values = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [v for v in values if v not in {s.value for s in OrderStatus}]
    if unknown:
        raise FilterError("status", f"unknown status {', '.join(unknown)}")
    return values


def order_filter(*, statuses: tuple[str, ...] = (), reason: str | None = None,
                 symbol: str | None = None, strategy: str | None = None,
                 origin: str | None = None, from_date: date | None = None,
                 to_date: date | None = None) -> OrderFilter:
    """The list filter for IST calendar dates ``from_date``..``to_date`` (both inclusive)."""
    for name, day in (("from_date", from_date), ("to_date", to_date)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise FilterError(name, "date must be between 2000 and 2099")
    return OrderFilter(
        statuses=statuses, reason=reason or None, symbol=symbol or None,
        strategy=strategy or None, origin=origin or None,
        from_time=day_start(from_date) if from_date else None,
        to_time=day_start(to_date + timedelta(days=1)) if to_date else None)


async def owned_order(services: Services, user_id: int, order_id: str) -> Order:
    """The caller's order (``OrderActionError`` 404 for anyone else's or an unknown id)."""
    def query() -> Order | None:
        with services.db.read() as session:
            row = Orders(session, user_id).get(order_id)
            return order_from_row(row) if row is not None else None

    order = await services.db.run(query)
    if order is None:
        raise OrderActionError(404, "order not found")
    return order


async def order_row(services: Services, user_id: int, order_id: str) -> OrderRow:
    def query() -> OrderRow | None:
        with services.db.read() as session:
            return Orders(session, user_id).get(order_id)

    row = await services.db.run(query)
    if row is None:
        raise OrderActionError(404, "order not found")
    return row


async def retry_order(services: Services, user_id: int, order_id: str) -> OrderRow:
    """Retry now: ``failed``/``retry_pending`` → ``retry_pending`` due immediately."""
    order = await owned_order(services, user_id, order_id)
    if order.status not in QUEUED:
        raise OrderActionError(409, f"order is {order.status.value}; only failed or "
                                    "retry_pending orders can be retried")
    try:
        await services.engine.retry_policy.retry_now(order.id, user_id)
    except (InvalidEvent, ConcurrencyConflict) as exc:
        raise OrderActionError(409, str(exc)) from exc
    services.engine.wake_retry_queue()
    return await order_row(services, user_id, order_id)


async def drop_order(services: Services, user_id: int, order_id: str) -> OrderRow:
    """Drop from the retry queue: → ``cancelled`` (only ``failed``/``retry_pending``)."""
    order = await owned_order(services, user_id, order_id)
    if order.status not in QUEUED:
        raise OrderActionError(409, f"order is {order.status.value}; only failed or "
                                    "retry_pending orders can be dropped")
    try:
        await services.engine.retry_policy.drop(order.id)
    except (InvalidEvent, ConcurrencyConflict) as exc:
        raise OrderActionError(409, str(exc)) from exc
    return await order_row(services, user_id, order_id)


async def cancel_order(services: Services, user_id: int, order_id: str) -> OrderRow:
    """Cancel a working order at the broker (or locally if it was never sent)."""
    order = await owned_order(services, user_id, order_id)
    try:
        await services.engine.actions.cancel(order)
    except (ActionRefused, InvalidEvent, ConcurrencyConflict) as exc:
        raise OrderActionError(409, str(exc)) from exc
    return await order_row(services, user_id, order_id)
