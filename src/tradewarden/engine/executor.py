"""The executor: sends recorded, guarded orders to the broker (BRIEF §1.4, §1.6).

Per broker account one worker takes orders in FIFO order, rate-limited by the adapter's
capabilities, and submits each with our client order id as the broker tag:

* accepted → the broker's view of the order is applied (``open``/``filled``/…), and verified
  again after a delay (catches immediate AMO rejections);
* definitive refusal → ``rejected``, or ``failed`` + retry queue for retryable reasons;
* rate limited → wait ``retry_after`` and send again (nothing reached the broker);
* ambiguous (timeout, 5xx, disconnect) → stays ``submitting``; the in-flight checker resolves it
  by looking the tag up — never by blind resubmission.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass

from sqlalchemy import select

from tradewarden.brokers.base import BrokerAdapter, BrokerFill, BrokerOrder, OrderRequest
from tradewarden.brokers.errors import (
    AmbiguousError,
    BrokerError,
    DefinitiveError,
    InsufficientFundsError,
    RateLimitedError,
    SessionExpiredError,
)
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import Order, Variety, new_client_order_id
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.broker_view import events_from_broker
from tradewarden.engine.directory import BrokerDirectory
from tradewarden.engine.failures import rejection_code
from tradewarden.engine.ledger import AppliedEvent, Ledger, LedgerError
from tradewarden.engine.ratelimit import TokenBucket
from tradewarden.engine.retry import RetryPolicy
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.tables import OrderRow

log = logging.getLogger(__name__)

S = OrderStatus
E = EventType


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    verify_delay_s: float = 15.0
    verify_retry_s: float = 5.0
    verify_attempts: int = 12
    rate_limit_attempts: int = 5

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
        self._inflight: set[str] = set()
        self._on_ambiguous: list[Callable[[str], None]] = []
        self._closed = False

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
                self._work(order.account_id, queue), name=f"executor-{order.account_id}")
        queue.put_nowait(order.id)

    async def stop(self) -> None:
        self._closed = True
        tasks = [*self._workers.values(), *self._background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def idle(self) -> None:
        """Wait until every queued order has been sent (for tests and orderly shutdown)."""
        for queue in list(self._queues.values()):
            await queue.join()

    # --- the worker ---------------------------------------------------------------------

    async def _work(self, account_id: int, queue: asyncio.Queue[str]) -> None:
        while True:
            order_id = await queue.get()
            try:
                await self.submit(order_id)
            except Exception:
                log.exception("submitting order %s failed unexpectedly", order_id)
            finally:
                queue.task_done()

    def _bucket(self, account_id: int, adapter: BrokerAdapter) -> TokenBucket:
        bucket = self._buckets.get(account_id)
        if bucket is None:
            bucket = self._buckets[account_id] = TokenBucket(
                adapter.capabilities.orders_per_second)
        return bucket

    async def submit(self, order_id: str) -> None:
        """Send one ``created`` or due ``retry_pending`` order to its broker."""
        order = await self._load(order_id)
        if order is None or order.status not in (S.CREATED, S.RETRY_PENDING):
            return
        adapter = self.brokers.adapter(order.account_id)
        market = await self.brokers.market(order.account_id)
        closed = market is not None and not market.in_session
        amo_ok = bool(order.extra.get("allow_amo")) or order.status is S.RETRY_PENDING
        variety = Variety.AMO if order.variety is Variety.AMO or (closed and amo_ok) else (
            Variety.REGULAR)
        new_tag = new_client_order_id() if order.status is S.RETRY_PENDING else None
        try:
            applied = await self.ledger.apply(order.id, OrderEvent(
                E.ORDER_SUBMITTED, EventSource.SYSTEM, client_order_id=new_tag, variety=variety),
                expected_version=order.version)
        except (LedgerError, InvalidEvent) as exc:
            log.info("order %s not submitted: %s", order.id, exc)
            return
        await self.place(adapter, applied.order)

    async def place(self, adapter: BrokerAdapter, order: Order) -> None:
        """Place ``order`` (status ``submitting``) with its tag and apply the outcome."""
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
            except AmbiguousError as exc:
                log.warning("order %s: submission outcome unknown (%s); checking by tag",
                            order.id, exc)
                self._ambiguous(order.id)
                return
            except (InsufficientFundsError, SessionExpiredError) as exc:
                await self.fail(order, exc.reason_code, exc.message)
                return
            except DefinitiveError as exc:
                await self._apply(order.id, OrderEvent(
                    E.ORDER_REJECTED, EventSource.BROKER, rejection_reason=exc.message,
                    reason_code=ReasonCode.BROKER_VALIDATION))
                return
            except BrokerError as exc:
                log.warning("order %s: broker error %s; checking by tag", order.id, exc)
                self._ambiguous(order.id)
                return
            await self.accepted(adapter, order, broker_order_id)
            return
        self._ambiguous(order.id)  # still rate limited: nothing placed, let the checker decide

    async def accepted(self, adapter: BrokerAdapter, order: Order, broker_order_id: str) -> None:
        """The broker took the order: read it back once and schedule the verification."""
        try:
            seen: BrokerOrder | None = await adapter.get_order(broker_order_id)
        except BrokerError:
            seen = None
        if seen is None:
            await self._apply(order.id, OrderEvent(E.ORDER_ACCEPTED, EventSource.BROKER,
                                                   broker_order_id=broker_order_id))
        elif seen.status is S.REJECTED and rejection_code(seen.rejection_reason).retryable:
            text = seen.rejection_reason or seen.raw_status
            await self.fail(order, rejection_code(text), text, broker_order_id=broker_order_id)
            return
        else:
            await self.apply_broker_view(order.id, seen)
        self._later(self._verify(order.id, broker_order_id))

    async def fail(self, order: Order, code: ReasonCode, message: str, *,
                   broker_order_id: str | None = None) -> None:
        """Record a placement failure and queue a retry when the reason allows one."""
        applied = await self._apply(order.id, OrderEvent(
            E.ORDER_FAILED, EventSource.BROKER, reason_code=code,
            reason=f"{code.text} Broker said: {message}", broker_order_id=broker_order_id))
        if applied is not None and code.retryable:
            await self.retry.schedule(applied)

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
        for event in events_from_broker(order, seen, source, fills):
            applied = await self._apply(order_id, event)
            if applied is None:
                break
            order = applied.order
        return order

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

    def _ambiguous(self, order_id: str) -> None:
        for listener in self._on_ambiguous:
            listener(order_id)

    def _later(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _apply(self, order_id: str, event: OrderEvent) -> AppliedEvent | None:
        try:
            return await self.ledger.apply(order_id, event)
        except (InvalidEvent, LedgerError) as exc:
            log.info("order %s: %s not applied: %s", order_id, event.type.value, exc)
            return None

    async def _load(self, order_id: str) -> Order | None:
        def load() -> Order | None:
            with self.ledger.db.read() as session:
                row = session.scalar(select(OrderRow).where(OrderRow.id == order_id))
                return order_from_row(row) if row is not None else None
        return await self.ledger.db.run(load)

    async def _load_required(self, order_id: str) -> Order:
        order = await self._load(order_id)
        if order is None:
            raise KeyError(order_id)
        return order

