"""The executor: sends recorded, guarded orders to the broker (BRIEF §1.4, §1.6).

Per broker account one worker takes orders in FIFO order, rate-limited by the adapter's
capabilities, and places each with our client order id as the broker tag:

* accepted → the broker's view of the order (read back at once) is applied, and verified again
  after a delay (catches immediate AMO rejections);
* definitive refusal → ``rejected``, or ``failed`` + retry queue for retryable reasons;
* rate limited → wait ``retry_after`` and send again (nothing reached the broker);
* ambiguous (timeout, 5xx, disconnect) → stays ``submitting``; the in-flight checker resolves it
  by looking the tag up — never by blind resubmission.

The worker takes whatever is queued (up to ``batch_size``, and no more than the account's rate
lets it place in about ``BATCH_WINDOW_S``) at once: one transaction marks them ``submitting``,
they are placed one by one in order, and one transaction records the outcomes. Sizing batches by
the rate keeps orders from waiting in ``submitting`` for seconds and keeps each of the two
transactions short, so they never hold up intake's writes for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from tradewarden.brokers.base import BrokerAdapter, BrokerFill, BrokerOrder, OrderRequest
from tradewarden.brokers.errors import (
    AmbiguousError,
    BrokerError,
    DefinitiveError,
    RateLimitedError,
)
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import Order, Variety, new_client_order_id
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.broker_view import events_from_broker
from tradewarden.engine.directory import BrokerDirectory
from tradewarden.engine.ledger import AppliedEvent, Ledger, LedgerError
from tradewarden.engine.placement import Placement, failure_of, placement_events
from tradewarden.engine.ratelimit import TokenBucket
from tradewarden.engine.retry import RetryPolicy
from tradewarden.engine.tagged import UnrecordedTags
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.tables import OrderRow

log = logging.getLogger(__name__)

S = OrderStatus
E = EventType

#: A paced worker takes at most what its account's rate lets it place in this many seconds.
BATCH_WINDOW_S = 0.5
ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    verify_delay_s: float = 15.0
    verify_retry_s: float = 5.0
    verify_attempts: int = 12
    rate_limit_attempts: int = 5
    batch_size: int = 64
    #: Orders per second per account; None: the adapter's own limit.
    orders_per_second: float | None = None

    @property
    def clamped_verify_delay(self) -> float:
        """Immediate verification waits 10 to 30 s (default 15 s)."""
        return min(30.0, max(10.0, self.verify_delay_s))


class Executor:
    """Submits orders per account; hands ambiguous outcomes to the in-flight checker."""

    def __init__(self, ledger: Ledger, brokers: BrokerDirectory, retry: RetryPolicy,
                 settings: ExecutorSettings | None = None) -> None:
        self.ledger = ledger
        self.brokers = brokers
        self.retry = retry
        self.settings = settings or ExecutorSettings()
        self._queues: dict[int, asyncio.Queue[str]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._buckets: dict[int, TokenBucket] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._on_ambiguous: list[Callable[[str], None]] = []
        self._closed = False
        #: tags of orders placed without a record yet (exits sent while the database is down)
        self.unrecorded = UnrecordedTags()

    # --- wiring -------------------------------------------------------------------------

    def on_ambiguous(self, listener: Callable[[str], None]) -> None:
        """Who resolves orders whose submission outcome is unknown (the in-flight checker)."""
        self._on_ambiguous.append(listener)

    def enqueue(self, order: Order) -> None:
        """Queue an allowed order for submission (FIFO per account). Call on the event loop."""
        if self._closed:
            return
        queue = self._queues.get(order.account_id)
        if queue is None:
            queue = self._queues[order.account_id] = asyncio.Queue()
            self._workers[order.account_id] = asyncio.create_task(
                self._work(queue, order.account_id), name=f"executor-{order.account_id}")
        queue.put_nowait(order.id)

    async def stop(self) -> None:
        self._closed = True
        tasks = [*self._workers.values(), *self._background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- the worker ---------------------------------------------------------------------

    def _batch_limit(self, account_id: int) -> int:
        """``batch_size``, or fewer: what the account's pace places in ``BATCH_WINDOW_S``."""
        rate = self.settings.orders_per_second
        if rate is None:
            try:
                rate = self.brokers.adapter(account_id).capabilities.orders_per_second
            except Exception:  # no adapter (yet): submit_many reports it per order
                rate = None
        if rate is None:
            return self.settings.batch_size
        return max(1, min(self.settings.batch_size, int(rate * BATCH_WINDOW_S)))

    async def _work(self, queue: asyncio.Queue[str], account_id: int) -> None:
        while True:
            ids = [await queue.get()]
            limit = self._batch_limit(account_id)
            while len(ids) < limit and not queue.empty():
                ids.append(queue.get_nowait())
            try:
                await self.submit_many(ids)
            except Exception:
                log.exception("submitting orders %s failed unexpectedly", ids)
            finally:
                for _ in ids:
                    queue.task_done()

    async def submit_many(self, order_ids: Sequence[str]) -> None:
        """Mark the sendable orders ``submitting`` (one transaction), place them in order, and
        record the outcomes (one transaction)."""
        orders = [o for o in await self._load_many(order_ids)
                  if o.status in (S.CREATED, S.RETRY_PENDING)]
        if not orders:
            return
        markets = {a: await self.brokers.market(a) for a in {o.account_id for o in orders}}
        submitted = await self.ledger.db.run(self._mark_submitted, orders, markets)
        self.ledger.publish(submitted)
        placements: list[Placement] = []
        settled = False
        try:
            for applied in submitted:
                adapter = self.brokers.adapter(applied.order.account_id)
                placements.append(await self.send(adapter, applied.order))
            await self._settle(placements)
            settled = True
        finally:
            if not settled:  # whatever happened, no submitting order goes unwatched
                for applied in submitted:
                    self._ambiguous(applied.order.id)

    def _mark_submitted(self, orders: list[Order],
                        markets: dict[int, object]) -> list[AppliedEvent]:
        results = []
        with self.ledger.db.transaction() as session:
            for order in orders:
                market = markets.get(order.account_id)
                closed = market is not None and not getattr(market, "in_session", True)
                amo_ok = bool(order.extra.get("allow_amo")) or order.status is S.RETRY_PENDING
                amo = order.variety is Variety.AMO or (closed and amo_ok)
                event = OrderEvent(
                    E.ORDER_SUBMITTED, EventSource.SYSTEM,
                    client_order_id=new_client_order_id() if order.status is S.RETRY_PENDING
                    else None, variety=Variety.AMO if amo else Variety.REGULAR)
                try:  # a refusal writes nothing (apply_in_session): no savepoint needed
                    results.append(self.ledger.apply_in_session(
                        session, order.id, event, expected_version=order.version, known=order))
                except (LedgerError, InvalidEvent) as exc:
                    log.info("order %s not submitted: %s", order.id, exc)
        return results

    async def place(self, adapter: BrokerAdapter, order: Order) -> None:
        """Place one ``submitting`` order and record the outcome (used for resubmission)."""
        await self._settle([await self.send(adapter, order)])

    async def settle_found(self, order: Order, seen: BrokerOrder) -> None:
        """Record a ``submitting`` order found at the broker after an unknown outcome, exactly
        as if the placement had answered (same failure/retry classification)."""
        await self._settle([Placement(order, broker_order_id=seen.broker_order_id, seen=seen)])

    # --- talking to the broker ----------------------------------------------------------

    def _bucket(self, account_id: int, adapter: BrokerAdapter) -> TokenBucket:
        bucket = self._buckets.get(account_id)
        if bucket is None:
            rate = self.settings.orders_per_second or adapter.capabilities.orders_per_second
            bucket = self._buckets[account_id] = TokenBucket(rate)
        return bucket

    async def send(self, adapter: BrokerAdapter, order: Order) -> Placement:
        """Place ``order`` (already ``submitting``) with the broker, respecting its rate."""
        request = OrderRequest(
            exchange=order.exchange, symbol=order.symbol, side=order.side,
            quantity=order.quantity, order_type=order.order_type, product=order.product,
            price=order.price, trigger_price=order.trigger_price, variety=order.variety,
            validity=order.validity, tag=order.client_order_id)
        bucket = self._bucket(order.account_id, adapter)
        for _ in range(self.settings.rate_limit_attempts):
            await bucket.acquire()
            try:
                broker_order_id = await adapter.place(request)
            except RateLimitedError as exc:
                bucket.penalize(exc.retry_after)
                continue
            except DefinitiveError as exc:
                return Placement(order, error=exc)
            except (AmbiguousError, BrokerError) as exc:
                log.warning("order %s: submission outcome unknown (%s); checking by tag",
                            order.id, exc)
                return Placement(order, ambiguous=True)
            try:
                seen: BrokerOrder | None = await adapter.get_order(broker_order_id)
            except BrokerError:
                seen = None
            return Placement(order, broker_order_id=broker_order_id, seen=seen)
        return Placement(order, ambiguous=True)  # still rate limited: let the checker decide

    async def _settle(self, placements: list[Placement]) -> None:
        fills: dict[int, list[BrokerFill]] = {}
        for account in {p.order.account_id for p in placements if p.needs_fills}:
            try:
                fills[account] = await self.brokers.adapter(account).trade_book()
            except (BrokerError, KeyError) as exc:
                log.info("fills of account %s not read (%s); the monitor adds them", account,
                         exc)
        applied, unrecorded = await self.ledger.db.run(self._settle_tx, placements, fills)
        self.ledger.publish(applied)
        latest = {a.order.id: a.to_status for a in applied}
        for placement in placements:
            order_id = placement.order.id
            if placement.ambiguous or order_id in unrecorded:
                self._ambiguous(order_id)
            elif (placement.broker_order_id is not None and failure_of(placement) is None
                  and order_id in latest and not latest[order_id].is_final):
                self._later(self._verify(order_id, placement.broker_order_id))

    def _settle_tx(self, placements: list[Placement], fills: dict[int, list[BrokerFill]],
                   ) -> tuple[list[AppliedEvent], set[str]]:
        """Record every outcome; returns what was applied and the orders left unrecorded
        (those go to the in-flight checker, which asks the broker again)."""
        results: list[AppliedEvent] = []
        unrecorded: set[str] = set()
        with self.ledger.db.transaction() as session:
            for placement in placements:
                try:
                    with session.begin_nested():
                        results.extend(self.record_placement(session, placement, fills))
                except (LedgerError, InvalidEvent) as exc:
                    log.info("order %s: outcome not recorded: %s", placement.order.id, exc)
                    unrecorded.add(placement.order.id)
        return results, unrecorded

    def record_placement(self, session: Session, placement: Placement,
                         fills: dict[int, list[BrokerFill]]) -> list[AppliedEvent]:
        """The events that record ``placement``, written in the caller's transaction."""
        order = placement.order
        failure = failure_of(placement)
        if failure is not None:
            code, text = failure
            failed = self.ledger.apply_in_session(session, order.id, OrderEvent(
                E.ORDER_FAILED, EventSource.BROKER, reason_code=code,
                reason=f"{code.text} Broker said: {text}",
                broker_order_id=placement.broker_order_id))
            retry = self.retry.retry_event(failed.order)
            if retry is None:
                return [failed]
            return [failed, self.ledger.apply_in_session(session, order.id, retry)]
        return self.ledger.apply_sequence_in_session(
            session, order, placement_events(placement, fills.get(order.account_id, ())))

    async def apply_broker_view(self, order_id: str, seen: BrokerOrder,
                                source: EventSource = EventSource.BROKER) -> Order | None:
        """Apply every event that brings our order in line with the broker's ``seen``.

        When the broker reports new fills, its trade book is read so each execution is
        recorded with its fill id.
        """
        order = await self._load(order_id)
        if order is None:
            return None
        fills: list[BrokerFill] = []
        if seen.filled_quantity > order.filled_quantity:
            try:
                fills = await self.brokers.adapter(order.account_id).trade_book()
            except (BrokerError, KeyError) as exc:
                log.info("order %s: fills not read (%s); the monitor will add them", order_id,
                         exc)
        events = events_from_broker(order, seen, source, fills)
        if not events:
            return order

        def write(current: Order) -> list[AppliedEvent]:
            with self.ledger.db.transaction() as session:
                return self.ledger.apply_sequence_in_session(session, current, events)

        try:
            applied = await self.ledger.db.run(write, order)
        except (InvalidEvent, LedgerError) as exc:
            log.info("order %s: broker view not applied: %s", order_id, exc)
            return order
        self.ledger.publish(applied)
        return applied[-1].order

    async def _verify(self, order_id: str, broker_order_id: str) -> None:
        """Read the order back after a delay; keep trying while the broker does not answer."""
        delay = self.settings.clamped_verify_delay
        for _ in range(self.settings.verify_attempts):
            await asyncio.sleep(delay)
            delay = self.settings.verify_retry_s
            order = await self._load(order_id)
            if order is None or order.status.is_final:
                return
            try:
                seen = await self.brokers.adapter(order.account_id).get_order(broker_order_id)
            except KeyError:
                return
            except BrokerError as exc:
                log.info("verification of order %s deferred: %s", order_id, exc)
                continue
            await self.apply_broker_view(order_id, seen, EventSource.RECONCILIATION)
            return
        log.warning("order %s could not be verified; the monitor will reconcile it", order_id)

    # --- helpers ------------------------------------------------------------------------

    def mark_ambiguous(self, order_id: str) -> None:
        """Hand an order whose submission outcome is unknown to the in-flight checker."""
        self._ambiguous(order_id)

    def _ambiguous(self, order_id: str) -> None:
        for listener in self._on_ambiguous:
            listener(order_id)

    def _later(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _load(self, order_id: str) -> Order | None:
        found = await self._load_many([order_id])
        return found[0] if found else None

    async def _load_many(self, order_ids: Sequence[str]) -> list[Order]:
        def load() -> list[Order]:
            with self.ledger.db.read() as session:  # Core rows: no ORM objects to build
                rows = {row.id: row for row in session.execute(
                    select(ORDERS).where(ORDERS.c.id.in_(list(order_ids))))}
                return [order_from_row(rows[i]) for i in order_ids if i in rows]
        return await self.ledger.db.run(load)
