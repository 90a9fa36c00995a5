"""Broker orders that carry a Tradewarden tag while no order of ours is known by their broker id.

Reconciliation (``engine/monitor.py``) hands each cycle's such orders to :class:`TaggedOrders`,
which looks their tags up among our orders — current client order ids, and the earlier
attempts' tags of retried orders — and sorts them:

* **settled** (nothing to do, only remembered): the order already carries this broker id (the
  view had not caught up), or the broker's copy is dead without fills (rejected, cancelled,
  expired; typically a retried order's refused attempt);
* **in flight**: the order is ``submitting`` under this tag, left to the in-flight checker;
* **late**: the order is ``failed`` or ``retry_pending`` with no broker id and this is its first
  live copy: it was there after all, and is reconciled onto the order (a ``retry_pending`` one
  is failed first, which cancels its retry);
* **duplicate**: any other live copy of one of our orders (a second copy under the same tag, an
  earlier attempt of a retried order alive after all): recorded as an external order with
  ``duplicate_of`` and an error alert, so its fills count and the trader knows;
* **orphan**: no order of ours has the tag (an exit sent directly while the database was down
  whose queued record a crash lost, another installation trading the same account): once seen
  for ``grace_s`` it is recorded as an external order, with an error alert.

Tags of placements whose records still wait in memory (:class:`UnrecordedTags`, filled by the
trade engine's direct exits) are left alone, and so is everything when the look-up fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Text, cast, or_, select

from tradewarden.brokers.base import BrokerOrder
from tradewarden.domain.lifecycle import PREVIOUS_TAGS
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
#: Our statuses in which a live broker copy is a late discovery of the order itself.
_UNPLACED = frozenset({OrderStatus.FAILED, OrderStatus.RETRY_PENDING})


class UnrecordedTags:
    """Orders placed at the broker whose records are queued, not yet written: their tags (left
    alone by reconciliation) and instruments (the holdings check does not take their fills
    for trading done elsewhere)."""

    def __init__(self) -> None:
        self._tags: dict[str, tuple[int, str, str]] = {}

    def add(self, tag: str, account_id: int, exchange: str, symbol: str) -> None:
        self._tags[tag] = (account_id, exchange, symbol)

    def discard(self, tag: str) -> None:
        self._tags.pop(tag, None)

    def instruments(self, account_id: int) -> set[tuple[str, str]]:
        return {(exchange, symbol) for account, exchange, symbol in self._tags.values()
                if account == account_id}

    def __contains__(self, tag: object) -> bool:
        return tag in self._tags


@dataclass(slots=True)
class TaggedSort:
    """One account's tagged orders unknown by broker id, sorted (see the module docstring)."""

    late: list[tuple[Order, BrokerOrder]] = field(default_factory=list)
    duplicates: list[tuple[Order, BrokerOrder]] = field(default_factory=list)
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
        #: (account id, broker order id) → when it was first seen as an orphan, and where
        self._first_seen: dict[tuple[int, str], tuple[float, str, str]] = {}

    def unsettled_instruments(self, account_id: int) -> set[tuple[str, str]]:
        """Instruments of the account whose broker quantity our records cannot explain yet:
        exits whose records wait in memory, and orphans still in their grace period (the
        holdings check must not take their fills for trading done elsewhere). Call on the
        event loop (the registries change there)."""
        orphans = {(exchange, symbol) for (account, _), (_, exchange, symbol)
                   in self._first_seen.items() if account == account_id}
        return self.unrecorded.instruments(account_id) | orphans

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
        orphan_keys: set[tuple[int, str]] = set()
        late_orders: set[str] = set()
        for broker_order in candidates:
            match = ours.get(broker_order.tag or "")
            dead = broker_order.status in _DEAD and broker_order.filled_quantity == 0
            if match is None:
                if dead:
                    result.settled.append(broker_order)
                else:
                    orphan_keys.add((account_id, broker_order.broker_order_id))
                    self._orphan_if_due(account_id, broker_order, result)
                continue
            order, earlier_attempt = match
            if dead or order.broker_order_id == broker_order.broker_order_id:
                result.settled.append(broker_order)
            elif earlier_attempt:
                result.duplicates.append((order, broker_order))
            elif order.status is OrderStatus.SUBMITTING:
                continue  # the in-flight checker's
            elif (order.broker_order_id is None and order.status in _UNPLACED
                  and order.id not in late_orders):
                late_orders.add(order.id)
                result.late.append((order, broker_order))
            else:
                result.duplicates.append((order, broker_order))
        # forget orphans of this account that are no longer in its book (or were recorded)
        for key in [k for k in self._first_seen if k[0] == account_id and k not in orphan_keys]:
            del self._first_seen[key]
        for broker_order in result.orphans:
            self._first_seen.pop((account_id, broker_order.broker_order_id), None)
        return result

    def _orphan_if_due(self, account_id: int, broker_order: BrokerOrder,
                       result: TaggedSort) -> None:
        now = self._clock()
        first, _, _ = self._first_seen.setdefault(
            (account_id, broker_order.broker_order_id),
            (now, broker_order.exchange, broker_order.symbol))
        if now - first >= self.grace_s:
            result.orphans.append(broker_order)

    def _load(self, account_id: int, tags: list[str]) -> dict[str, tuple[Order, bool]]:
        """``tag → (order, is an earlier attempt's tag)`` for the tags our orders carry."""
        found: dict[str, tuple[Order, bool]] = {}
        with self.db.read() as session:
            for row in session.scalars(select(OrderRow).where(
                    OrderRow.account_id == account_id, OrderRow.client_order_id.in_(tags))):
                found[row.client_order_id] = (order_from_row(row), False)
            rest = [tag for tag in tags if tag not in found]
            if not rest:
                return found
            # earlier attempts' tags live in ``extra`` of retried orders (rare: a text match)
            text = cast(OrderRow.extra, Text)
            for row in session.scalars(select(OrderRow).where(
                    OrderRow.account_id == account_id, OrderRow.retry_count > 0,
                    or_(*(text.contains(tag) for tag in rest)))):
                order = order_from_row(row)
                earlier = order.extra.get(PREVIOUS_TAGS)
                for tag in rest:
                    if isinstance(earlier, list) and tag in earlier:
                        found[tag] = (order, True)
        return found
