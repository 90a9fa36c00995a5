"""Recording broker orders that are not (or no longer) tracked as one of ours.

The monitor (``engine/monitor.py``) finds them; ``engine/tagged.py`` sorts those carrying our
tag. Here they are written, through the ledger:

* **late discoveries** — an order we had given up on (``failed``, or waiting to be retried)
  found at the broker after all: its copy is applied to it, each order in its own savepoint (a
  ``retry_pending`` one is failed first, so its retry never goes out). A copy the order cannot
  take (refused by the transition table) is recorded apart, as below;
* **external orders** — placed at the broker's own app (no tag of ours), orphans (a tag of ours
  that no order carries) and duplicates (another live copy of one of our orders): recorded as
  ``external`` orders so their fills count in positions; the tagged ones raise an error alert.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewarden.brokers.base import BrokerAdapter, BrokerFill, BrokerOrder
from tradewarden.brokers.errors import BrokerError
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import CLIENT_ORDER_ID_PREFIX, Order, Origin, new_order_id
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.broker_view import events_from_broker
from tradewarden.engine.ledger import (
    AppliedEvent,
    ConcurrencyConflict,
    Ledger,
    LedgerError,
    utcnow,
)
from tradewarden.notify.outbox import alert_in_session

log = logging.getLogger(__name__)

#: ``Order.extra`` flag of an external order that carries one of our tags (an orphan).
UNKNOWN_TW_TAG = "unknown_tw_tag"
#: ``Order.extra`` key of an external order that is a second copy of one of ours: its id.
DUPLICATE_OF = "duplicate_of"


@dataclass(slots=True)
class LateOutcome:
    """Late discoveries: the events applied, and the pairs refused (to be recorded apart)."""

    applied: list[AppliedEvent] = field(default_factory=list)
    refused: list[tuple[Order, BrokerOrder]] = field(default_factory=list)


class StrayRecorder:
    """Writes late discoveries and external orders; see the module docstring."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def record_late(self, adapter: BrokerAdapter,
                          pairs: list[tuple[Order, BrokerOrder]]) -> LateOutcome:
        """Apply the broker copies of orders we had given up on; see the module docstring."""
        log.warning("order(s) %s, given up on, found at the broker after all",
                    ", ".join(order.id for order, _ in pairs))
        fills: list[BrokerFill] = []
        if any(seen.filled_quantity > 0 for _, seen in pairs):
            try:
                fills = await adapter.trade_book()
            except BrokerError as exc:
                log.info("trade book not read for late orders: %s", exc)
        late = LateOutcome()
        late.applied = await self.ledger.write_and_publish(self._late_tx, pairs, fills,
                                                           late.refused)
        return late

    def _late_tx(self, pairs: list[tuple[Order, BrokerOrder]], fills: list[BrokerFill],
                 refused: list[tuple[Order, BrokerOrder]]) -> list[AppliedEvent]:
        results: list[AppliedEvent] = []
        with self.ledger.db.transaction() as session:
            for order, seen in pairs:
                try:
                    with session.begin_nested():
                        results.extend(self._apply_late(session, order, seen, fills))
                except ConcurrencyConflict as exc:  # changed meanwhile: sorted again next cycle
                    log.info("order %s changed while its broker copy %s was applied: %s",
                             order.id, seen.broker_order_id, exc)
                except (InvalidEvent, LedgerError, IntegrityError) as exc:
                    log.warning("order %s: broker copy %s not applied (%s); recorded apart",
                                order.id, seen.broker_order_id, exc)
                    refused.append((order, seen))
        return results

    def _apply_late(self, session: Session, order: Order, seen: BrokerOrder,
                    fills: list[BrokerFill]) -> list[AppliedEvent]:
        applied: list[AppliedEvent] = []
        if order.status is OrderStatus.RETRY_PENDING:  # its retry must not go out now
            applied.append(self.ledger.apply_in_session(session, order.id, OrderEvent(
                EventType.ORDER_FAILED, EventSource.RECONCILIATION, reason_code=ReasonCode.LOST,
                reason=f"found at the broker after all (broker id {seen.broker_order_id}); "
                       "its retry is cancelled"), known=order))
            order = applied[-1].order
        return applied + self.ledger.apply_sequence_in_session(
            session, order, events_from_broker(order, seen, EventSource.RECONCILIATION, fills))

    async def record_external(self, account_id: int, owner: int, seen: list[BrokerOrder],
                              duplicate_of: dict[str, str]) -> list[AppliedEvent]:
        """Record ``seen`` as external orders of ``owner`` (``duplicate_of``: broker id → the
        order of ours it is a copy of); each in its own savepoint."""
        return await self.ledger.write_and_publish(self._external_tx, account_id, owner, seen,
                                                   duplicate_of)

    def _external_tx(self, account_id: int, owner: int, seen: list[BrokerOrder],
                     duplicate_of: dict[str, str]) -> list[AppliedEvent]:
        results: list[AppliedEvent] = []
        with self.ledger.db.transaction() as session:
            for broker_order in seen:
                original = duplicate_of.get(broker_order.broker_order_id)
                order = external_order(account_id, owner, broker_order, utcnow(), original)
                try:
                    with session.begin_nested():
                        created = self.ledger.create_in_session(
                            session, order, source=EventSource.MANUAL,
                            detail={"broker_order_id": broker_order.broker_order_id})
                        (submitted,) = self.ledger.apply_sequence_in_session(
                            session, created.order, [OrderEvent(
                                EventType.ORDER_SUBMITTED, EventSource.MANUAL,
                                variety=broker_order.variety)])
                        rest = self.ledger.apply_sequence_in_session(
                            session, submitted.order,
                            events_from_broker(submitted.order, broker_order,
                                               EventSource.MANUAL))
                        results.extend([created, submitted, *rest])
                        if not is_external(broker_order):
                            _alert_stray(session, owner, account_id, broker_order, original)
                except (InvalidEvent, LedgerError, IntegrityError) as exc:
                    log.warning("external order %s not recorded: %s",
                                broker_order.broker_order_id, exc)
        return results


def _alert_stray(session: Session, owner: int, account_id: int, seen: BrokerOrder,
                 original: str | None) -> None:
    what = (f"is a live copy of order {original} that cannot be tracked as that order (a "
            "second copy, an earlier attempt of a retried order, or a copy changed at the "
            "broker)" if original is not None else
            "carries a Tradewarden tag that no order in the database does")
    alert_in_session(
        session, owner, "error",
        f"Broker order {seen.broker_order_id} ({seen.side.value} {seen.quantity} "
        f"{seen.exchange}:{seen.symbol}, tag {seen.tag}) {what}. It is recorded as an "
        "external order so its fills count; check your position and cancel it at the broker "
        "if it is not wanted.",
        title="Unexpected Tradewarden order at the broker",
        dedupe_key=f"stray:{account_id}:{seen.broker_order_id}")


def is_external(seen: BrokerOrder) -> bool:
    """An order we did not place: no tag, or a tag that is not one of our client order ids."""
    return not (seen.tag or "").startswith(CLIENT_ORDER_ID_PREFIX)


def external_client_order_id(account_id: int, broker_order_id: str) -> str:
    """A stable id for an external order: unique per account and broker order, ≤ 32 chars."""
    digest = hashlib.sha256(f"{account_id}:{broker_order_id}".encode()).hexdigest()[:24]
    return f"EXT{account_id % 10_000:04d}{digest}"[:32]


def external_order(account_id: int, owner: int, seen: BrokerOrder, now: datetime,
                   duplicate_of: str | None = None) -> Order:
    """Our record of an order found at the broker that Tradewarden did not place (or, with
    ``duplicate_of``, an unwanted second copy of one it did)."""
    return Order(
        id=new_order_id(), user_id=owner, account_id=account_id,
        client_order_id=external_client_order_id(account_id, seen.broker_order_id),
        exchange=seen.exchange,
        symbol=seen.symbol, side=seen.side, quantity=seen.quantity,
        order_type=seen.order_type, product=seen.product, price=seen.price,
        trigger_price=seen.trigger_price, variety=seen.variety, validity=seen.validity,
        origin=Origin.EXTERNAL, created_at=now, updated_at=now,
        extra={**({"external_tag": seen.tag, UNKNOWN_TW_TAG: not is_external(seen)}
                  if seen.tag else {}),
               **({DUPLICATE_OF: duplicate_of} if duplicate_of is not None else {})})
