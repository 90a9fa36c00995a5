"""User actions on live orders: cancel and modify, through the ledger and the broker."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

from tradewarden.brokers.base import ModifyRequest
from tradewarden.brokers.errors import AmbiguousError, BrokerError, OrderNotFoundError
from tradewarden.brokers.instruments import InstrumentMaster, bundled_master
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent, TransitionRefused, apply_event
from tradewarden.domain.orders import CancelledBy, Order, OrderType
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.directory import BrokerDirectory
from tradewarden.engine.guards import order_problem
from tradewarden.engine.ledger import AppliedEvent, Ledger, utcnow

log = logging.getLogger(__name__)

S = OrderStatus
E = EventType
LIVE = (S.OPEN, S.PARTIALLY_FILLED)


class ActionRefused(Exception):
    """The action does not apply to the order in its current status (HTTP 409)."""


class OrderActions:
    """Cancel and modify, recorded as request events before the broker is asked."""

    def __init__(self, ledger: Ledger, brokers: BrokerDirectory,
                 master: InstrumentMaster | None = None) -> None:
        self.ledger = ledger
        self.brokers = brokers
        self.master = master or bundled_master()

    async def cancel(self, order: Order, *, by: CancelledBy = CancelledBy.USER) -> AppliedEvent:
        """Cancel an order wherever it is: locally if never sent, else at the broker."""
        if order.status in (S.CREATED,):
            return await self.ledger.apply(order.id, OrderEvent(
                E.ORDER_CANCELLED, EventSource.USER, cancelled_by=by,
                reason="cancelled before it was sent"), expected_version=order.version)
        if order.status in (S.RETRY_PENDING, S.FAILED):
            return await self.ledger.apply(order.id, OrderEvent(
                E.ORDER_DROPPED, EventSource.USER, cancelled_by=by,
                reason="dropped from retry queue"), expected_version=order.version)
        if order.status not in LIVE or order.broker_order_id is None:
            raise ActionRefused(f"order {order.id} is {order.status.value}; it cannot be cancelled")
        pending = await self.ledger.apply(order.id, OrderEvent(
            E.ORDER_CANCEL_REQUESTED, EventSource.USER, cancelled_by=by),
            expected_version=order.version)
        adapter = self.brokers.adapter(order.account_id)
        try:
            await adapter.cancel(order.broker_order_id)
        except AmbiguousError as exc:
            log.info("cancel of %s: outcome unknown (%s); the monitor will settle it",
                     order.id, exc)
            return pending
        except (OrderNotFoundError, BrokerError) as exc:
            await self.ledger.apply(order.id, OrderEvent(
                E.ORDER_CANCEL_REJECTED, EventSource.BROKER, detail={"error": str(exc)}))
            raise ActionRefused(f"the broker refused the cancel: {exc}") from exc
        return pending

    async def modify(self, order: Order, *, quantity: int | None, price: Decimal | None,
                     trigger_price: Decimal | None,
                     order_type: OrderType | None = None) -> AppliedEvent:
        """Ask the broker to change a live order (``None``: keep that value); the monitor
        confirms the new values. The order as it would become is validated first, like a new
        one (tick grid, lot size, what its type needs): an invalid change is refused here,
        never sent."""
        if order.status not in LIVE or order.broker_order_id is None:
            raise ActionRefused(f"order {order.id} is {order.status.value}; it cannot be modified")
        change = OrderEvent(E.ORDER_MODIFIED, EventSource.USER, quantity=quantity, price=price,
                            trigger_price=trigger_price, order_type=order_type)
        try:
            modified = apply_event(order, change, utcnow()).order
        except (TransitionRefused, InvalidEvent) as exc:
            raise ActionRefused(f"invalid modification: {exc}") from exc
        if (denial := order_problem(modified, self.master)) is not None:
            raise ActionRefused(f"invalid modification: {denial.reason}")
        pending = await self.ledger.apply(order.id, replace(
            change, type=E.ORDER_MODIFY_REQUESTED), expected_version=order.version)
        adapter = self.brokers.adapter(order.account_id)
        try:
            await adapter.modify(order.broker_order_id, ModifyRequest(
                quantity=quantity, price=price, trigger_price=trigger_price,
                order_type=order_type))
        except AmbiguousError as exc:
            log.info("modify of %s: outcome unknown (%s)", order.id, exc)
            return pending
        except BrokerError as exc:
            await self.ledger.apply(order.id, OrderEvent(
                E.ORDER_MODIFY_REJECTED, EventSource.BROKER, detail={"error": str(exc)}))
            raise ActionRefused(f"the broker refused the modification: {exc}") from exc
        return await self.ledger.apply(order.id, replace(change, source=EventSource.BROKER))
