"""Intake: the one entry point that turns signals into orders (BRIEF §1.1, §3.3).

1. Every intent is recorded as a ``created`` order (with its ``OrderCreated`` event), and
2. the guards decide each order; a denial is an ``OrderDenied`` event with a reason code, so a
   denied order stays visible.
3. Allowed orders are handed to the executor; callers are answered only after the commit.

Signals arriving together share one group-commit transaction that does 1 and 2: the guards read
through the session that wrote the orders, which sees what a snapshot taken right after the
commit would (on SQLite the write lock keeps every other writer out meanwhile; on PostgreSQL each
read sees what is committed when it runs). If guarding fails there, that transaction is rolled
back and the batch takes two steps: recorded in one transaction, guarded in a second (and again
later if that fails too). A crash between those two steps leaves ``created`` orders, which
``recover`` guards again at startup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewarden.brokers.base import MarketSession
from tradewarden.brokers.instruments import InstrumentMaster
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.intents import OrderIntent
from tradewarden.domain.orders import Order, new_client_order_id, new_order_id
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.guards import Denial, Guards, GuardSettings, Verdict
from tradewarden.engine.ledger import AppliedEvent, Ledger, utcnow
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.tables import Alert, OrderRow

log = logging.getLogger(__name__)

#: Upper bound of orders written in one group-commit transaction.
MAX_BATCH_ORDERS = 256


@dataclass(slots=True)
class _Signal:
    """One caller's legs waiting for the next group commit."""

    orders: list[Order]
    alert: Alert | None
    done: asyncio.Future[list[IntakeOutcome]]

    def fail_with_current_exception(self) -> None:
        if not self.done.done():
            self.done.set_exception(sys.exc_info()[1] or RuntimeError("intake failed"))


#: ``Order.extra`` key naming the batch (first leg's id) of orders recorded from one signal.
BATCH = "batch"


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    """What became of one intent: the order and, if denied, why."""

    order: Order

    @property
    def denied(self) -> bool:
        return self.order.status is OrderStatus.DENIED

    @property
    def reason(self) -> str | None:
        return self.order.reason


class Intake:
    """Records intents durably, guards them and passes the allowed ones on."""

    def __init__(self, ledger: Ledger, master: InstrumentMaster,
                 market: Callable[[int], Awaitable[MarketSession | None]],
                 dedupe_window_s: float = 5.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.ledger = ledger
        self.master = master
        self.market = market
        self.guard_settings = GuardSettings(dedupe_window=timedelta(seconds=dedupe_window_s))
        self._clock = clock
        self._listeners: list[Callable[[Order], None]] = []
        self._pending: deque[_Signal] = deque()
        self._wakeup = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        for task in [*self._retries, *([self._drainer] if self._drainer else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def on_allowed(self, listener: Callable[[Order], None]) -> None:
        """Register who receives orders that passed the guards (the executor)."""
        self._listeners.append(listener)

    async def submit(self, user_id: int, intents: Sequence[OrderIntent],
                     alert: Alert | None = None) -> list[IntakeOutcome]:
        """Record, guard and dispatch ``intents`` (all legs of one signal) for ``user_id``.

        With ``alert`` (a webhook), the alert row is written in the same transaction as its
        legs, so an acknowledged alert survives a crash right after the answer. Signals that
        arrive while a batch is being written share the next transaction (group commit); the
        call returns once its own orders are recorded and guarded.
        """
        orders = [self.order_for(user_id, intent) for intent in intents]
        if len(orders) > 1:
            for order in orders:
                order.extra[BATCH] = orders[0].id
        for order in orders:
            order.alert_id = alert.id if alert is not None else None
        signal = _Signal(orders, alert, asyncio.get_running_loop().create_future())
        self._pending.append(signal)
        self._wakeup.set()
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="intake-group-commit")
        return await signal.done

    async def _drain(self) -> None:
        """Write queued signals in batches: one transaction to record, one to guard."""
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch: list[_Signal] = []
                size = 0
                while self._pending and size < MAX_BATCH_ORDERS:
                    signal = self._pending.popleft()
                    batch.append(signal)
                    size += len(signal.orders)
                await self._write_batch(batch)

    async def _write_batch(self, batch: list[_Signal]) -> None:
        """Record and guard one batch in one transaction (one trip to the database thread; see
        the module docstring). Should guarding fail there, the batch is recorded on its own and
        guarded the two-step way."""
        orders = [order for signal in batch for order in signal.orders]
        try:
            markets: dict[int, MarketSession | None] | None = await self._markets(orders)
        except Exception:
            markets = None  # guard() asks again after recording, and handles the failure
        try:
            created, decided = await self.ledger.db.run(self._record_all, batch, markets)
        except _GuardFailed:
            log.warning("guarding a batch with its recording failed; recording it first",
                        exc_info=True)
            await self._write_batch_in_two_steps(batch)
            return
        except Exception:
            if len(batch) > 1:  # isolate the culprit: write each signal on its own
                for signal in batch:
                    await self._write_batch([signal])
                return
            batch[0].fail_with_current_exception()
            return
        self.ledger.publish(created)
        if decided is None:
            outcomes = await self._guard_recorded(created)
        else:
            outcomes = self._dispatch(decided)
        self._answer(batch, outcomes)

    async def _write_batch_in_two_steps(self, batch: list[_Signal]) -> None:
        try:
            created, _ = await self.ledger.db.run(self._record_all, batch, None)
        except Exception:
            if len(batch) > 1:
                for signal in batch:
                    await self._write_batch_in_two_steps([signal])
                return
            batch[0].fail_with_current_exception()
            return
        self.ledger.publish(created)
        self._answer(batch, await self._guard_recorded(created))

    async def _guard_recorded(self, created: list[AppliedEvent]) -> list[IntakeOutcome]:
        try:
            return await self.guard([a.order for a in created])
        except Exception:
            # The intents are durable; answer with them as recorded and guard them again
            # shortly rather than fail callers whose orders may still go out.
            log.exception("guarding a batch failed; it will be guarded again")
            self._later_guard([a.order for a in created])
            return [IntakeOutcome(a.order) for a in created]

    @staticmethod
    def _answer(batch: list[_Signal], outcomes: list[IntakeOutcome]) -> None:
        by_id = {outcome.order.id: outcome for outcome in outcomes}
        for signal in batch:
            if not signal.done.done():
                signal.done.set_result([by_id[order.id] for order in signal.orders])

    async def _markets(self, orders: Sequence[Order]) -> dict[int, MarketSession | None]:
        return {account: await self.market(account)
                for account in {order.account_id for order in orders}}

    async def guard(self, orders: Sequence[Order]) -> list[IntakeOutcome]:
        """Run the guards over recorded ``created`` orders and dispatch the allowed ones."""
        markets = await self._markets(orders)
        applied = await self.ledger.db.run(self._guard_all, list(orders), markets)
        return self._dispatch(applied)

    def _dispatch(self, applied: list[AppliedEvent]) -> list[IntakeOutcome]:
        """Publish the denials and hand the allowed orders to the listeners (the executor)."""
        self.ledger.publish(a for a in applied if a.type is not EventType.ORDER_CREATED)
        outcomes = [IntakeOutcome(a.order) for a in applied]
        for outcome in outcomes:
            if not outcome.denied:
                for listener in self._listeners:
                    listener(outcome.order)
        return outcomes

    def _later_guard(self, orders: list[Order], delay_s: float = 1.0) -> None:
        async def again() -> None:
            delay = delay_s
            while True:
                await asyncio.sleep(delay)
                try:
                    await self.guard(orders)
                    return
                except Exception:
                    log.exception("guarding %d recorded orders failed again", len(orders))
                    delay = min(delay * 2, 60.0)

        task = asyncio.create_task(again(), name="intake-reguard")
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def recover(self) -> list[IntakeOutcome]:
        """Guard every order a crash left in ``created`` (startup path)."""
        def load() -> list[Order]:
            with self.ledger.db.read() as session:
                # sorted here: ORDER BY id would make SQLite walk the whole primary key
                rows = session.scalars(select(OrderRow)
                                       .where(OrderRow.status == OrderStatus.CREATED.value))
                return sorted((order_from_row(row) for row in rows), key=lambda o: o.id)

        pending = await self.ledger.db.run(load)
        return await self.guard(pending) if pending else []

    # --- transactions -------------------------------------------------------------------

    def order_for(self, user_id: int, intent: OrderIntent) -> Order:
        """The ``created`` order ``intent`` becomes (not yet recorded)."""
        now = self._clock()
        key = InstrumentKey.of(intent.exchange, intent.symbol)
        extra = dict(intent.extra)
        extra["position_guards"] = intent.position_guards
        extra["allow_amo"] = intent.allow_amo
        return Order(
            id=new_order_id(), user_id=user_id, account_id=intent.account_id,
            client_order_id=new_client_order_id(), exchange=key.exchange, symbol=key.symbol,
            side=intent.side, quantity=intent.quantity, order_type=intent.order_type,
            product=intent.product, price=intent.price, trigger_price=intent.trigger_price,
            variety=intent.variety, validity=intent.validity, origin=intent.origin,
            execution_type=intent.execution_type, strategy_id=intent.strategy_id,
            strategy_label=intent.strategy_label, idempotency_key=intent.idempotency_key,
            created_at=now, updated_at=now, extra=extra,
        )

    def _record_all(self, batch: list[_Signal],
                    markets: dict[int, MarketSession | None] | None,
                    ) -> tuple[list[AppliedEvent], list[AppliedEvent] | None]:
        """Record the batch; with ``markets``, also guard it in the same transaction and return
        the decisions (``_guard_all``'s result), else None."""
        with self.ledger.db.transaction() as session:
            for signal in batch:
                if signal.alert is not None:
                    session.add(signal.alert)
            session.flush()
            created = self._record(session, [o for signal in batch for o in signal.orders])
            if markets is None:
                return created, None
            orders = [a.order for a in created]
            try:
                verdicts = self._decide(session, orders, markets)
                denied = self._write_denials(session, verdicts)
            except Exception as exc:  # roll everything back; _write_batch takes two steps
                raise _GuardFailed(str(exc)) from exc
            return created, self._results(orders, verdicts, denied)

    def _record(self, session: Session, orders: list[Order]) -> list[AppliedEvent]:
        seen: set[tuple[int, str]] = set()
        prepared = []
        for order in orders:
            if order.idempotency_key:
                key = (order.user_id, order.idempotency_key)
                if key in seen or self._key_taken(session, order):
                    order = replace(order, idempotency_key=None, extra={
                        **order.extra, "duplicate_idempotency_key": order.idempotency_key})
                else:
                    seen.add(key)
            prepared.append(order)
        return self.ledger.create_many_in_session(session, prepared)

    @staticmethod
    def _key_taken(session: Session, order: Order) -> bool:
        return session.scalar(select(OrderRow.id).where(
            OrderRow.user_id == order.user_id,
            OrderRow.idempotency_key == order.idempotency_key)) is not None

    def _guard_all(self, orders: list[Order],
                   markets: dict[int, MarketSession | None]) -> list[AppliedEvent]:
        """Decide every order on a read snapshot, then write the denials in one transaction.

        Batches are guarded one at a time (the drain loop), so each sees the earlier ones.
        """
        with self.ledger.db.read() as session:
            verdicts = self._decide(session, orders, markets)
        denied: dict[str, AppliedEvent] = {}
        if any(verdict.denial is not None for _, verdict in verdicts):
            with self.ledger.db.transaction() as session:
                denied = self._write_denials(session, verdicts)
        return self._results(orders, verdicts, denied)

    def _decide(self, session: Session, orders: list[Order],
                markets: dict[int, MarketSession | None]) -> list[tuple[Order, Verdict]]:
        """Every guard over ``orders`` (in id order) on what ``session`` sees."""
        now = self._clock()
        batches: dict[str, set[str]] = {}
        for order in orders:
            if isinstance(batch := order.extra.get(BATCH), str):
                batches.setdefault(batch, set()).add(order.id)
        verdicts: list[tuple[Order, Verdict]] = []
        guards = Guards(session, self.master, None, self.guard_settings, now)
        guards.prefetch(orders)
        for order in sorted(orders, key=lambda o: o.id):
            batch = order.extra.get(BATCH)
            siblings = frozenset(batches.get(batch, ())) if isinstance(batch, str) else (
                frozenset())
            guards.market = markets.get(order.account_id)
            try:
                verdict = guards.check(
                    order,
                    position_guards=bool(order.extra.get("position_guards")),
                    allow_amo=bool(order.extra.get("allow_amo")),
                    siblings=siblings - {order.id},
                )
            except Exception as exc:  # one unreadable order must not sink its batch
                log.exception("guarding order %s failed", order.id)
                verdict = Verdict(Denial(ReasonCode.VALIDATION_FAILED,
                                         f"the order could not be checked: {exc}"))
            verdicts.append((order, verdict))
        return verdicts

    def _write_denials(self, session: Session, verdicts: list[tuple[Order, Verdict]],
                       ) -> dict[str, AppliedEvent]:
        denied: dict[str, AppliedEvent] = {}
        for order, verdict in verdicts:
            if verdict.denial is not None:
                denied[order.id] = self.ledger.apply_in_session(
                    session, order.id, OrderEvent(
                        EventType.ORDER_DENIED, EventSource.SYSTEM,
                        reason_code=verdict.denial.code,
                        reason=verdict.denial.reason),
                    expected_version=order.version, known=order)
        return denied

    @staticmethod
    def _results(orders: list[Order], verdicts: list[tuple[Order, Verdict]],
                 denied: dict[str, AppliedEvent]) -> list[AppliedEvent]:
        decided = {order.id: denied.get(order.id) or _unchanged(order) for order, _ in verdicts}
        return [decided[order.id] for order in orders]  # the signal's own leg order


class _GuardFailed(Exception):
    """Guarding failed inside the recording transaction (which is rolled back)."""


def _unchanged(order: Order) -> AppliedEvent:
    """A stand-in result for an order the guards let through (no event is written).

    Whether it goes out as AMO is decided by the executor at submission time, from the market
    session then and the order's ``allow_amo`` flag, and recorded in ``OrderSubmitted``.
    """
    return AppliedEvent(order=order, event_id=0, sequence=order.version,
                        type=EventType.ORDER_CREATED, source=EventSource.SYSTEM, from_status=None,
                        to_status=order.status, payload={}, created_at=order.created_at)
