"""Broker orders that carry a Tradewarden tag while no order of ours is known by their broker id.

Reconciliation (``engine/monitor.py``) hands each cycle's such orders to :class:`TaggedOrders`,
which looks their tags up among our orders and sorts them:

* the order is ``submitting``: a placement still in flight, left to the in-flight checker;
* the order is ``failed`` with no broker id (lost, or failed on an ambiguous answer) and the
  broker's copy is alive or has fills: a **late discovery**, reconciled like any other order
  (``failed`` → ``open`` / ``partially_filled`` / ``filled`` is allowed). A dead copy (rejected,
  cancelled, expired without fills) changes nothing and is only remembered;
* no order of ours carries the tag — an exit sent directly while the database was down whose
  queued record a crash lost, an earlier attempt of a retried order, another installation
  trading the same account: an **orphan**. If the broker's copy is dead without fills (a
  retried order's rejected attempt, typically) nothing changes and it is only remembered;
  otherwise, once it has been seen for ``grace_s``, it is recorded as an external order with an
  error alert, so the broker's truth is visible and its fills count.

Tags of placements whose records still wait in memory (:class:`UnrecordedTags`, filled by the
trade engine's direct exits) are left alone, and so is everything when the look-up fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from tradewarden.brokers.base import BrokerOrder
from tradewarden.domain.orders import Order
from tradewarden.domain.statuses import OrderStatus
from tradewarden.store.db import Database
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.tables import OrderRow

log = logging.getLogger(__name__)

#: How long an orphan must have been seen before it is recorded (brokers and our own writes
#: can lag; a second look is cheap, a wrong external record is not).
ORPHAN_GRACE_S = 60.0
_DEAD = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED})


class UnrecordedTags:
    """Tags of orders placed at the broker whose records are queued, not yet written."""

    def __init__(self) -> None:
        self._tags: set[str] = set()

    def add(self, tag: str) -> None:
        self._tags.add(tag)

    def discard(self, tag: str) -> None:
        self._tags.discard(tag)

    def __contains__(self, tag: object) -> bool:
        return tag in self._tags

    def __len__(self) -> int:
        return len(self._tags)


@dataclass(slots=True)
class TaggedSort:
    """One account's tagged orders unknown by broker id, sorted (see the module docstring)."""

    late: list[tuple[Order, BrokerOrder]] = field(default_factory=list)
    settled: list[BrokerOrder] = field(default_factory=list)
    orphans: list[BrokerOrder] = field(default_factory=list)


class TaggedOrders:
    """Sorts tagged broker orders that no order of ours is known by; see the module docstring."""

    def __init__(self, db: Database, unrecorded: UnrecordedTags,
                 grace_s: float = ORPHAN_GRACE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.unrecorded = unrecorded
        self.grace_s = grace_s
        self._clock = clock
        #: (account id, broker order id) → when it was first seen as an orphan
        self._first_seen: dict[tuple[int, str], float] = {}

    async def sort(self, account_id: int, seen: Sequence[BrokerOrder]) -> TaggedSort:
        result = TaggedSort()
        candidates = [o for o in seen if o.tag and o.tag not in self.unrecorded]
        if not candidates:
            return result
        try:
            ours = await self.db.run(self._load, account_id, [o.tag or "" for o in candidates])
        except Exception as exc:  # no verdict without the database's answer
            log.info("account %s: tagged broker orders not looked up: %s", account_id, exc)
            return result
        now = self._clock()
        orphan_keys: set[tuple[int, str]] = set()
        for broker_order in candidates:
            order = ours.get(broker_order.tag or "")
            dead = broker_order.status in _DEAD and broker_order.filled_quantity == 0
            if order is None and dead:
                result.settled.append(broker_order)  # e.g. a retried order's rejected attempt
            elif order is None:
                key = (account_id, broker_order.broker_order_id)
                orphan_keys.add(key)
                if now - self._first_seen.setdefault(key, now) >= self.grace_s:
                    result.orphans.append(broker_order)
            elif order.status is OrderStatus.FAILED and order.broker_order_id is None:
                if dead:
                    result.settled.append(broker_order)
                else:
                    result.late.append((order, broker_order))
        # forget orphans of this account that are no longer in its book (or were recorded)
        for key in [k for k in self._first_seen if k[0] == account_id and k not in orphan_keys]:
            del self._first_seen[key]
        for broker_order in result.orphans:
            self._first_seen.pop((account_id, broker_order.broker_order_id), None)
        if result.late:
            log.warning("account %s: %d order(s) we had marked failed found at the broker: %s",
                        account_id, len(result.late),
                        ", ".join(order.id for order, _ in result.late))
        return result

    def _load(self, account_id: int, tags: list[str]) -> dict[str, Order]:
        with self.db.read() as session:
            rows = session.scalars(select(OrderRow).where(
                OrderRow.account_id == account_id, OrderRow.client_order_id.in_(tags)))
            return {row.client_order_id: order_from_row(row) for row in rows}
