"""The ledger: the only writer of order state (BRIEF §1.2).

Every change to an order is an event. ``apply`` loads the order, asks the pure domain
(``domain.lifecycle.apply_event``) for the new state, and writes the new order row and the event
row in one transaction, guarded by the order's ``version`` (optimistic concurrency). Only after
the commit is the event published on the bus. Refusals are logged with order id, from, to and
source, and write nothing.

Callers that must record orders together with other rows (an alert and all its legs) use the
``*_in_session`` methods inside their own transaction and call ``publish`` after committing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Table, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session

from tradewarden.clock import utcnow as utcnow  # re-exported for older imports
from tradewarden.domain.events import EventSource, EventType, FillData, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent, TransitionRefused, apply_event
from tradewarden.domain.orders import Order
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.bus import EventBus
from tradewarden.store.db import Database
from tradewarden.store.order_mapping import order_from_row, order_values
from tradewarden.store.tables import FillRow, OrderEventRow, OrderRow

log = logging.getLogger(__name__)

# Core tables: the ledger's hot path skips the ORM unit of work.
ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]
EVENTS: Table = OrderEventRow.__table__  # type: ignore[assignment]
FILLS: Table = FillRow.__table__  # type: ignore[assignment]

# Built once: constructing statements per event costs more than executing them.
_INSERT_EVENT = insert(EVENTS).returning(EVENTS.c.id)
_INSERT_ORDERS = insert(ORDERS)
# Many events in one multi-row INSERT: the ids come back with their order ids (a batch holds
# each order once), so no row-by-row ``sort_by_parameter_order`` fallback is needed.
_INSERT_EVENTS_RETURNING = insert(EVENTS).returning(EVENTS.c.id, EVENTS.c.order_id)
# Several events per order: matched back by (order id, sequence), which is unique.
_INSERT_EVENTS_WITH_SEQUENCE = insert(EVENTS).returning(
    EVENTS.c.id, EVENTS.c.order_id, EVENTS.c.sequence)
_ORDER_FIELDS = tuple(f.name for f in fields(Order))
_order_state = attrgetter(*_ORDER_FIELDS)


@functools.lru_cache(maxsize=256)
def _update_order(columns: frozenset[str]) -> Update:
    """The versioned UPDATE of exactly ``columns`` (only changed columns are written, so
    untouched indexes are not rewritten); one statement per distinct shape, cached."""
    return (
        update(ORDERS)
        .where(ORDERS.c.id == bindparam("match_id"),
               ORDERS.c.version == bindparam("match_version"))
        .values({name: bindparam(name) for name in sorted(columns)})
    )

MAX_CONFLICT_RETRIES = 20


class LedgerError(Exception):
    """Base class of ledger failures."""


class OrderNotFound(LedgerError):
    """No order with that id (for that user)."""


class ConcurrencyConflict(LedgerError):
    """The order changed since it was read (its version moved on)."""


class DuplicateFill(InvalidEvent):
    """Every fill in the event is already recorded and nothing else changed."""


@dataclass(frozen=True, slots=True)
class AppliedEvent:
    """A committed event and the order state it produced; what the bus carries."""

    order: Order
    event_id: int
    sequence: int
    type: EventType
    source: EventSource
    from_status: OrderStatus | None
    to_status: OrderStatus
    payload: dict[str, Any]
    created_at: datetime


#: Writes rows derived from events inside the events' own transaction.
EventRecorder = Callable[[Session, Sequence[AppliedEvent]], None]


class Ledger:
    """Applies order events durably and publishes them once committed."""

    def __init__(
        self,
        db: Database,
        bus: EventBus[AppliedEvent] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.bus: EventBus[AppliedEvent] = bus or EventBus()
        self._clock = clock
        self._recorders: list[EventRecorder] = []

    def add_recorder(self, recorder: EventRecorder) -> None:
        """Call ``recorder(session, events)`` inside every transaction that writes events.

        Recorders write derived rows (the notification outbox) atomically with the events; an
        exception in a recorder rolls the whole transaction back.
        """
        self._recorders.append(recorder)

    def _record(self, session: Session, applied: Sequence[AppliedEvent]) -> None:
        for recorder in self._recorders:
            recorder(session, applied)

    # --- async API (engine code) ------------------------------------------------------------

    async def create(self, order: Order, *, source: EventSource = EventSource.SYSTEM,
                     detail: dict[str, Any] | None = None) -> AppliedEvent:
        """Record a new order (status ``created``) with its ``OrderCreated`` event."""
        applied = await self.db.run(self._create_tx, order, source, detail or {})
        self.publish([applied])
        return applied

    async def apply(self, order_id: str, event: OrderEvent, *,
                    expected_version: int | None = None) -> AppliedEvent:
        """Apply ``event`` to the order and return the committed result.

        With ``expected_version`` the call fails with ``ConcurrencyConflict`` if the order moved
        on; without it, a concurrent change makes the ledger re-read and re-validate the order.
        Raises ``TransitionRefused``/``InvalidEvent`` (nothing written) or ``OrderNotFound``.
        """
        for attempt in range(MAX_CONFLICT_RETRIES):
            try:
                applied = await self.db.run(self._apply_tx, order_id, event, expected_version)
            except ConcurrencyConflict:
                if expected_version is not None or attempt == MAX_CONFLICT_RETRIES - 1:
                    raise
                await asyncio.sleep(0.001 * (attempt + 1))
                continue
            self.publish([applied])
            return applied
        raise AssertionError("unreachable")

    async def write_and_publish(self, write: Callable[..., list[AppliedEvent]],
                                *args: Any) -> list[AppliedEvent]:
        """Run ``write(*args)`` (a transaction applying events) on the database thread and
        publish what it applied — even if the caller is cancelled meanwhile: a committed change
        must reach the bus."""
        async def run() -> list[AppliedEvent]:
            applied = await self.db.run(write, *args)
            self.publish(applied)
            return applied

        return await asyncio.shield(asyncio.ensure_future(run()))

    def publish(self, applied: Iterable[AppliedEvent]) -> None:
        """Hand committed events to the bus (call only after the transaction committed)."""
        for item in applied:
            self.bus.publish(item)

    # --- transactional building blocks ------------------------------------------------------

    def _create_tx(self, order: Order, source: EventSource, detail: dict[str, Any]) -> AppliedEvent:
        with self.db.transaction() as session:
            return self.create_in_session(session, order, source=source, detail=detail)

    def _apply_tx(self, order_id: str, event: OrderEvent,
                  expected_version: int | None) -> AppliedEvent:
        with self.db.transaction() as session:
            return self.apply_in_session(session, order_id, event,
                                         expected_version=expected_version)

    def create_in_session(self, session: Session, order: Order, *,
                          source: EventSource = EventSource.SYSTEM,
                          detail: dict[str, Any] | None = None) -> AppliedEvent:
        """Insert ``order`` as ``created`` (version 1) plus its ``OrderCreated`` event."""
        if order.status is not OrderStatus.CREATED or order.version != 0:
            raise InvalidEvent("a new order must be in status created with version 0")
        now = self._clock()
        order.created_at = order.updated_at = now
        order.version = 1
        session.execute(insert(ORDERS), order_values(order))
        payload = _creation_payload(order)
        if detail:
            payload["detail"] = detail
        return self._insert_event(session, order, EventType.ORDER_CREATED, source, None,
                                  OrderStatus.CREATED, payload, now)

    def create_many_in_session(self, session: Session, orders: list[Order], *,
                               source: EventSource = EventSource.SYSTEM) -> list[AppliedEvent]:
        """``create_in_session`` for many orders with two multi-row statements."""
        if not orders:
            return []
        if any(o.status is not OrderStatus.CREATED or o.version != 0 for o in orders):
            raise InvalidEvent("a new order must be in status created with version 0")
        now = self._clock()
        # copies: the caller's objects stay untouched if the transaction fails
        orders = [_created_copy(o, now) for o in orders]
        session.execute(_INSERT_ORDERS, [order_values(o) for o in orders])
        payloads = [_creation_payload(o) for o in orders]
        ids = dict((order_id, event_id) for event_id, order_id in session.execute(
            _INSERT_EVENTS_RETURNING,
            [_event_row(o, EventType.ORDER_CREATED, source, None, OrderStatus.CREATED, p, now)
             for o, p in zip(orders, payloads, strict=True)],
        ))
        applied = [AppliedEvent(order=o, event_id=ids[o.id], sequence=1,
                                type=EventType.ORDER_CREATED, source=source, from_status=None,
                                to_status=OrderStatus.CREATED, payload=p, created_at=now)
                   for o, p in zip(orders, payloads, strict=True)]
        self._record(session, applied)
        return applied

    def apply_in_session(self, session: Session, order_id: str, event: OrderEvent, *,
                         expected_version: int | None = None,
                         known: Order | None = None) -> AppliedEvent:
        """Validate and write one event inside the caller's transaction (no commit, no publish).

        ``known`` is the caller's current copy of the order (from the monitor's view); it saves
        reading the row, and the versioned UPDATE still refuses it if the order moved on.
        A refusal (``LedgerError``, ``InvalidEvent``) is raised before anything is written, so
        a caller applying events to several orders in one transaction may carry on after one.
        """
        if known is not None and known.id == order_id:
            current = known
        else:
            row = session.execute(select(ORDERS).where(ORDERS.c.id == order_id)).first()
            if row is None:
                raise OrderNotFound(order_id)
            current = order_from_row(row)
        if expected_version is not None and current.version != expected_version:
            raise ConcurrencyConflict(
                f"order {order_id} is at version {current.version}, expected {expected_version}"
            )
        event = self._without_recorded_fills(session, current, event)
        now = self._clock()
        try:
            transition = apply_event(current, event, now)
        except TransitionRefused as refused:
            log.warning(
                "transition refused: order=%s from=%s to=%s event=%s source=%s",
                order_id, refused.from_status.value,
                refused.to_status.value if refused.to_status else "-",
                event.type.value, event.source.value,
            )
            raise
        except InvalidEvent as invalid:
            log.warning("event refused: order=%s status=%s event=%s source=%s: %s",
                        order_id, current.status.value, event.type.value, event.source.value,
                        invalid)
            raise
        new = transition.order
        columns, params = _versioned_update(current, new)
        result = session.execute(_update_order(columns), params)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(f"order {order_id} changed concurrently")
        if event.fills:
            session.execute(insert(FILLS), [
                {"order_id": order_id, "user_id": new.user_id, "account_id": new.account_id,
                 "broker_fill_id": f.fill_id, "quantity": f.quantity, "price": f.price,
                 "filled_at": f.filled_at, "created_at": now} for f in event.fills])
        return self._insert_event(session, new, event.type, event.source,
                                  transition.from_status, transition.to_status,
                                  transition.payload, now)

    def apply_sequence_in_session(self, session: Session, order: Order,
                                  events: Iterable[OrderEvent]) -> list[AppliedEvent]:
        """Apply ``events`` to ``order`` one after the other (each sees the previous result),
        inside the caller's transaction; the first refusal raises and the caller rolls back."""
        applied: list[AppliedEvent] = []
        current = order
        for event in events:
            result = self.apply_in_session(session, order.id, event, known=current)
            applied.append(result)
            current = result.order
        return applied

    def apply_many_in_session(self, session: Session,
                              items: Sequence[tuple[Order, Sequence[OrderEvent]]],
                              ) -> list[AppliedEvent]:
        """``apply_sequence_in_session`` for many orders, in a few statements: one versioned
        UPDATE per shape of change (executemany) and one multi-row event INSERT, instead of two
        statements per event. Orders whose events carry fills take the one-by-one path (their
        fills are de-duplicated against the table first). All or nothing: a refusal or a
        conflict raises, and the caller redoes the work order by order to isolate it."""
        now = self._clock()
        applied: list[AppliedEvent] = []
        updates: dict[frozenset[str], list[dict[str, Any]]] = {}
        pending: list[tuple[Order, OrderEvent, Any]] = []
        for order, events in items:
            if any(event.fills for event in events):
                applied.extend(self.apply_sequence_in_session(session, order, events))
                continue
            current = order
            for event in events:
                transition = apply_event(current, event, now)
                pending.append((transition.order, event, transition))
                current = transition.order
            if current is order:
                continue
            columns, params = _versioned_update(order, current)
            updates.setdefault(columns, []).append(params)
        for shape, rows_of_shape in updates.items():
            result = session.execute(_update_order(shape), rows_of_shape)
            if result.rowcount != len(rows_of_shape):  # type: ignore[attr-defined]
                raise ConcurrencyConflict("an order of the batch changed concurrently")
        rows = [_event_row(new, event.type, event.source, transition.from_status,
                           transition.to_status, transition.payload, now)
                for new, event, transition in pending]
        ids = {(order_id, sequence): event_id for event_id, order_id, sequence in
               session.execute(_INSERT_EVENTS_WITH_SEQUENCE, rows)} if rows else {}
        batch = [AppliedEvent(order=new, event_id=ids[(new.id, new.version)],
                              sequence=new.version, type=event.type, source=event.source,
                              from_status=transition.from_status,
                              to_status=transition.to_status, payload=transition.payload,
                              created_at=now) for new, event, transition in pending]
        self._record(session, batch)
        return applied + batch

    def _without_recorded_fills(self, session: Session, order: Order,
                                event: OrderEvent) -> OrderEvent:
        """Drop fills already stored (fills are de-duplicated by broker fill id per account)."""
        if not event.fills:
            return event
        ids = [f.fill_id for f in event.fills]
        known = set(session.scalars(
            select(FILLS.c.broker_fill_id).where(
                FILLS.c.account_id == order.account_id, FILLS.c.broker_fill_id.in_(ids))
        ))
        if not known:
            return event
        fresh: tuple[FillData, ...] = tuple(f for f in event.fills if f.fill_id not in known)
        no_progress = (event.filled_quantity is None
                       or event.filled_quantity <= order.filled_quantity)
        if not fresh and no_progress:
            raise DuplicateFill(f"order {order.id}: fills {sorted(known)} already recorded")
        return replace(event, fills=fresh)

    def _insert_event(self, session: Session, order: Order, event_type: EventType,
                      source: EventSource, from_status: OrderStatus | None,
                      to_status: OrderStatus, payload: dict[str, Any],
                      now: datetime) -> AppliedEvent:
        event_id = session.execute(
            _INSERT_EVENT,
            _event_row(order, event_type, source, from_status, to_status, payload, now),
        ).scalar_one()
        applied = AppliedEvent(order=order, event_id=event_id, sequence=order.version,
                               type=event_type, source=source, from_status=from_status,
                               to_status=to_status, payload=payload, created_at=now)
        self._record(session, (applied,))
        return applied


def _versioned_update(before: Order, after: Order) -> tuple[frozenset[str], dict[str, Any]]:
    """The columns ``after`` changed against ``before``, and the parameters of the versioned
    UPDATE (``_update_order``) that writes them."""
    previous = order_values(before)
    changed = {k: v for k, v in order_values(after).items() if k != "id" and v != previous[k]}
    return frozenset(changed), {**changed, "match_id": before.id,
                                "match_version": before.version}


def _event_row(order: Order, event_type: EventType, source: EventSource,
               from_status: OrderStatus | None, to_status: OrderStatus,
               payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The ``order_events`` row of an event that brought ``order`` to its current version."""
    return {"order_id": order.id, "user_id": order.user_id, "sequence": order.version,
            "type": event_type.value, "source": source.value,
            "from_status": from_status.value if from_status else None,
            "to_status": to_status.value, "payload": payload, "created_at": now}


def _created_copy(order: Order, now: datetime) -> Order:
    """``replace(order, created_at=now, updated_at=now, version=1, extra=dict(order.extra))``
    without the generic ``replace`` machinery (it runs once per order on the intake path)."""
    copy = Order(*_order_state(order))  # the fields, in declaration order
    copy.created_at = copy.updated_at = now
    copy.version = 1
    copy.extra = dict(order.extra)
    return copy


def _creation_payload(order: Order) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "client_order_id": order.client_order_id,
        "exchange": order.exchange,
        "symbol": order.symbol,
        "side": order.side.value,
        "quantity": order.quantity,
        "order_type": order.order_type.value,
        "product": order.product.value,
        "origin": order.origin.value,
    }
    if order.price is not None:
        payload["price"] = str(order.price)
    if order.trigger_price is not None:
        payload["trigger_price"] = str(order.trigger_price)
    return payload
