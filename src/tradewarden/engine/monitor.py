"""The order monitor: reconcile every owned account with its broker, cycle after cycle.

Per account and cycle: one order-book fetch (and one trade-book fetch when something filled),
diffed against the in-memory view of that account's non-final orders. Only differences become
ledger events — nothing is written for an order that did not change (the seed-era monitor wrote
a status-check row per order per cycle). The view follows the ledger's bus, so it never needs to
re-read the database. One account's broker outage never stalls the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from tradewarden.brokers.base import BrokerFill, BrokerOrder
from tradewarden.brokers.errors import BrokerError, OrderNotFoundError
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import (
    Order,
)
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.accounts import AccountDirectory
from tradewarden.engine.broker_view import events_from_broker
from tradewarden.engine.bus import EventBus, Subscription
from tradewarden.engine.holdings import HoldingsReconciler, PositionEvent
from tradewarden.engine.ledger import AppliedEvent, Ledger, LedgerError
from tradewarden.engine.strays import StrayRecorder, is_external
from tradewarden.engine.tagged import ORPHAN_GRACE_S, TaggedOrders, UnrecordedTags
from tradewarden.metrics import Metrics
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.tables import OrderRow

log = logging.getLogger(__name__)

#: One order to bring in line: our copy, the broker's view, and its account's fills.
_Change = tuple[Order, BrokerOrder, list[BrokerFill]]

_ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]
#: Broker ids per look-up statement (database parameter limits).
OURS_CHUNK = 5_000

#: Final statuses after which a broker can still report a fill (watched for late fills).
ENDED_UNFILLED = frozenset({OrderStatus.CANCELLED, OrderStatus.EXPIRED})

#: Statuses the monitor watches: at the broker (or maybe), and not final.
WATCHED = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL,
                     OrderStatus.PENDING_MODIFY})


@dataclass(slots=True)
class AccountReport:
    account_id: int
    orders_seen: int = 0
    events: int = 0
    missing: int = 0
    external: int = 0
    error: str | None = None
    changes: list[AppliedEvent] = field(default_factory=list)
    position_events: list[PositionEvent] = field(default_factory=list)


@dataclass(slots=True)
class CycleReport:
    started: float
    duration_ms: float = 0.0
    accounts: list[AccountReport] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(a.events for a in self.accounts)

    def summary(self) -> str:
        """A one-screen report of what this cycle changed (the startup report)."""
        changes = [c for a in self.accounts for c in a.changes]
        lines = [f"reconciled {len(self.accounts)} account(s) in {self.duration_ms:.0f} ms: "
                 f"{len(changes)} change(s), "
                 f"{sum(a.external for a in self.accounts)} external order(s), "
                 f"{sum(a.missing for a in self.accounts)} missing at the broker, "
                 f"{sum(1 for a in self.accounts if a.error)} account(s) unreachable"]
        for change in changes[:40]:
            order = change.order
            lines.append(f"  {order.id} {order.side.value} {order.quantity} {order.exchange}:"
                         f"{order.symbol} {change.type.value} "
                         f"{change.from_status.value if change.from_status else '-'} -> "
                         f"{change.to_status.value} ({change.source.value})")
        if len(changes) > 40:
            lines.append(f"  … and {len(changes) - 40} more")
        for account in self.accounts:
            for event in account.position_events:
                lines.append(f"  account {account.account_id}: {event.kind} {event.quantity} "
                             f"{event.exchange}:{event.symbol} (ours {event.expected}, broker "
                             f"{event.actual})")
            if account.error:
                lines.append(f"  account {account.account_id} unreachable: {account.error}")
        return "\n".join(lines)


class OrderView:
    """The non-final orders each account has at its broker, kept current from the bus; the
    orders that ended cancelled or expired, by broker id, while the broker's book still shows
    them (a late fill after a cancel must be applied, BRIEF §3.1); and the broker order ids
    known to be ours (to spot external orders; filled as books show them)."""

    def __init__(self) -> None:
        self._by_account: dict[int, dict[str, Order]] = {}
        self._ended: dict[int, dict[str, Order]] = {}  # account → broker id → order
        self._known: dict[int, set[str]] = {}
        self._versions: dict[str, int] = {}

    def load(self, orders: Sequence[Order]) -> None:
        self._by_account.clear()
        self._ended.clear()
        self._known.clear()
        self._versions.clear()
        for order in orders:
            self.put(order)

    def is_known(self, account_id: int, broker_order_id: str) -> bool:
        return broker_order_id in self._known.get(account_id, ())

    def put(self, order: Order) -> None:
        if order.version < self._versions.get(order.id, 0):
            return  # an older state published late never overrides a newer one
        self._versions[order.id] = order.version
        if order.broker_order_id is not None:
            self._known.setdefault(order.account_id, set()).add(order.broker_order_id)
        orders = self._by_account.setdefault(order.account_id, {})
        if order.status in WATCHED and order.broker_order_id is not None:
            orders[order.id] = order
        else:
            orders.pop(order.id, None)
        if order.broker_order_id is not None:
            ended = self._ended.setdefault(order.account_id, {})
            if order.status in ENDED_UNFILLED:
                ended[order.broker_order_id] = order
            else:
                ended.pop(order.broker_order_id, None)

    def late_fills(self, account_id: int, book: Sequence[BrokerOrder],
                   ) -> list[tuple[Order, BrokerOrder]]:
        """Orders that ended cancelled or expired and that the broker now shows with more
        fills; the ones its book no longer shows are forgotten."""
        ended = self._ended.get(account_id)
        if not ended:
            return []
        shown = {seen.broker_order_id: seen for seen in book}
        for broker_order_id in [b for b in ended if b not in shown]:
            del ended[broker_order_id]
        return [(order, shown[b]) for b, order in ended.items()
                if shown[b].filled_quantity > order.filled_quantity]

    def follow(self, subscription: Subscription[AppliedEvent]) -> None:
        """Apply every event published since the last call."""
        while subscription.pending():
            self.put(subscription.get_nowait().order)

    def mark_known(self, account_id: int, broker_order_id: str) -> None:
        self._known.setdefault(account_id, set()).add(broker_order_id)

    def orders(self, account_id: int) -> list[Order]:
        return list(self._by_account.get(account_id, {}).values())

    def __len__(self) -> int:
        return sum(len(orders) for orders in self._by_account.values())


class Monitor:
    """Runs reconciliation cycles over every account this process serves."""

    def __init__(self, ledger: Ledger, accounts: AccountDirectory, interval_s: float = 5.0,
                 idle_interval_s: float = 30.0, missing_checks: int = 3,
                 missing_grace_s: float = 120.0, metrics: Metrics | None = None,
                 holdings_every: int = 6, unrecorded: UnrecordedTags | None = None,
                 orphan_grace_s: float = ORPHAN_GRACE_S) -> None:
        self.ledger = ledger
        self.accounts = accounts
        self.interval_s = interval_s
        self.idle_interval_s = idle_interval_s
        self.missing_checks = missing_checks
        self.missing_grace_s = missing_grace_s
        self.metrics = metrics or Metrics()
        self.tagged = TaggedOrders(ledger.db,
                                   unrecorded if unrecorded is not None else UnrecordedTags(),
                                   orphan_grace_s)
        self.holdings = HoldingsReconciler(ledger.db, accounts, self.metrics,
                                           self.tagged.unsettled_instruments)
        self.strays = StrayRecorder(ledger)
        #: manual_buy / manual_sell events, for the notifier (ledger events go on the ledger bus)
        self.position_bus: EventBus[PositionEvent] = EventBus()
        self.holdings_every = holdings_every
        self.account_timeout_s = max(1.0, interval_s)
        # the startup cycle skips the holdings check (a difference counts only once seen twice
        # anyway, and the check reads every filled order of every account); the next one runs it
        self._cycles = holdings_every - 1
        self._cycle_lock = asyncio.Lock()
        self.metrics.describe("tradewarden_monitor_cycle_seconds", "histogram",
                              "Duration of one reconciliation cycle over all accounts.")
        self.metrics.describe("tradewarden_reconciliation_corrections_total", "counter",
                              "Order changes the monitor applied, by event type and source.")
        # order id -> (definitive not-found answers, monotonic time of the first one)
        self._not_found: dict[str, tuple[int, float]] = {}
        self.view = OrderView()
        self._subscription = ledger.bus.subscribe(maxsize=1_000_000)
        self._task: asyncio.Task[None] | None = None
        self.last: CycleReport | None = None

    async def load(self) -> int:
        """Read the watched orders from the database (startup). Other orders of ours (final
        ones, and those that ended unfilled and may still fill) are looked up when a book
        shows them (``_ours``), not read in advance."""
        def query() -> list[Order]:
            with self.ledger.db.read() as session:
                rows = session.execute(select(_ORDERS).where(
                    _ORDERS.c.status.in_([s.value for s in WATCHED]),
                    _ORDERS.c.broker_order_id.is_not(None)))
                return [order_from_row(row) for row in rows]

        self.view.load(await self.ledger.db.run(query))
        self.view.follow(self._subscription)
        return len(self.view)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="order-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._subscription.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.cycle()
            except Exception:
                log.exception("monitor cycle failed")
            await self._pause()

    async def _in_session(self) -> bool:
        """True when any served account's market is in session (unknown counts as open)."""
        for info in self.accounts.accounts():
            market = await self.accounts.market(info.id)
            if market is None or market.in_session:
                return True
        return False

    async def _pause(self) -> None:
        """Wait for the next cycle: the short interval while orders are watched and the market
        is in session, the long one otherwise — but wake up soon after a new order reaches the
        broker."""
        watching = len(self.view) > 0 and await self._in_session()
        deadline = time.monotonic() + (self.interval_s if watching else self.idle_interval_s)
        while (remaining := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(remaining, 0.25))
            if not watching and self._subscription.pending():
                before = len(self.view)
                self.view.follow(self._subscription)
                if len(self.view) > before:
                    deadline = min(deadline, time.monotonic() + self.interval_s)
                    watching = True

    async def cycle(self) -> CycleReport:
        """One pass over every account; returns what it saw and changed. Cycles never overlap
        (the loop and the scheduled jobs share this)."""
        async with self._cycle_lock:
            return await self._cycle()

    async def _cycle(self) -> CycleReport:
        report = CycleReport(started=time.monotonic())
        self.view.follow(self._subscription)
        accounts = [info.id for info in self.accounts.accounts()]
        results = await asyncio.gather(*(self._bounded(account) for account in accounts))
        report.accounts = [account_report for account_report, _ in results]
        pending = [change for _, changes in results for change in changes]
        if pending:  # every account's changes in one transaction
            applied = await self.ledger.db.run(self._apply_tx, pending)
            self.ledger.publish(applied)
            by_account = {a.account_id: a for a in report.accounts}
            for event in applied:
                account_report = by_account[event.order.account_id]
                account_report.events += 1
                account_report.changes.append(event)
        self.view.follow(self._subscription)
        if self._cycles % self.holdings_every == 0:  # holdings move slowly: every few cycles
            for account_report in report.accounts:
                if account_report.error is None:
                    found = await self.holdings.reconcile(account_report.account_id)
                    account_report.position_events.extend(found)
                    for position_event in found:
                        self.position_bus.publish(position_event)
        self._cycles += 1
        report.duration_ms = (time.monotonic() - report.started) * 1000
        self.last = report
        self.metrics.observe("tradewarden_monitor_cycle_seconds", report.duration_ms / 1000)
        for account in report.accounts:
            for change in account.changes:
                self.metrics.inc("tradewarden_reconciliation_corrections_total",
                                 type=change.type.value, source=change.source.value)
            if account.external:
                self.metrics.inc("tradewarden_reconciliation_corrections_total",
                                 account.external, type="ExternalOrderRecorded",
                                 source="manual")
        return report

    async def _bounded(self, account_id: int) -> tuple[AccountReport, list[_Change]]:
        """One account's reconciliation, cut off after ``account_timeout_s`` so a hanging
        broker delays the others by at most that much."""
        try:
            return await asyncio.wait_for(self._reconcile(account_id), self.account_timeout_s)
        except TimeoutError:
            log.warning("account %s: reconciliation took longer than %.0f s; skipped this "
                        "cycle", account_id, self.account_timeout_s)
            return AccountReport(account_id, error="timed out"), []
        except Exception as exc:  # one account's trouble must not sink the others' cycle
            log.exception("account %s: reconciliation failed", account_id)
            return AccountReport(account_id, error=f"failed: {exc}"), []

    async def _reconcile(self, account_id: int) -> tuple[AccountReport, list[_Change]]:
        """Fetch one account's book and work out what differs (applied by ``cycle``)."""
        report = AccountReport(account_id)
        ours = self.view.orders(account_id)
        try:
            adapter = self.accounts.adapter(account_id)
            book = await adapter.order_book()
        except (BrokerError, KeyError) as exc:
            report.error = str(exc)
            log.info("account %s not reconciled this cycle: %s", account_id, exc)
            return report, []
        report.orders_seen = len(book)
        unknown = [o for o in book if not self.view.is_known(account_id, o.broker_order_id)]
        if unknown:  # orders of ours not watched (final ones, mostly): known from now on
            found: list[Order] = []
            try:
                found = await self.ledger.db.run(self._ours, account_id,
                                                 [o.broker_order_id for o in unknown])
            except Exception as exc:  # sorted next cycle; the rest of this one goes on
                log.info("account %s: broker ids not looked up: %s", account_id, exc)
                unknown = []
            for order in found:  # known now (and watched for late fills if it ended unfilled)
                self.view.put(order)
            unknown = [o for o in unknown
                       if not self.view.is_known(account_id, o.broker_order_id)]
        external = [o for o in unknown if is_external(o)]
        tagged = await self.tagged.sort(account_id, [o for o in unknown if not is_external(o)])
        for settled in tagged.settled:
            self.view.mark_known(account_id, settled.broker_order_id)
        if tagged.late:
            late = await self.strays.record_late(adapter, tagged.late)
            report.events += len(late.applied)
            report.changes.extend(late.applied)
            tagged.duplicates.extend(late.refused)
        strays = [*external, *tagged.orphans, *(seen for _, seen in tagged.duplicates)]
        if strays:
            report.external = await self._record_external(
                account_id, strays,
                {seen.broker_order_id: order.id for order, seen in tagged.duplicates})
        by_id = {o.broker_order_id: o for o in book}
        changes: list[tuple[Order, BrokerOrder]] = self.view.late_fills(account_id, book)
        missing: list[Order] = []
        for order in ours:
            seen = by_id.get(order.broker_order_id or "")
            if seen is None:
                missing.append(order)
                continue
            self._not_found.pop(order.id, None)  # earlier misses were only lag
            if _differs(order, seen):
                changes.append((order, seen))
        vanished: list[Order] = []
        for order in missing:  # not in today's book: ask for that order alone
            try:
                changes.append((order, await adapter.get_order(order.broker_order_id or "")))
                self._not_found.pop(order.id, None)
            except OrderNotFoundError:
                report.missing += 1
                if self._definitely_gone(order):
                    vanished.append(order)
            except BrokerError as exc:  # transport trouble is never "not found"
                log.info("order %s: targeted query failed: %s", order.id, exc)
        if vanished:
            expired = await self.ledger.write_and_publish(self._expire_tx, vanished)
            report.events += len(expired)
            report.changes.extend(expired)
        if not changes:
            return report, []
        fills: list[BrokerFill] = []
        if any(seen.filled_quantity > order.filled_quantity for order, seen in changes):
            try:
                fills = await adapter.trade_book()
            except BrokerError as exc:
                log.info("account %s: trade book not read: %s", account_id, exc)
        return report, [(order, seen, fills) for order, seen in changes]

    def _definitely_gone(self, order: Order) -> bool:
        """Only repeated definitive "not found" answers over a grace period make an order gone
        (brokers can be slow to show new orders)."""
        now = time.monotonic()
        count, first = self._not_found.get(order.id, (0, now))
        self._not_found[order.id] = (count + 1, first)
        log.warning("order %s (broker %s) not found at the broker (%d time(s))", order.id,
                    order.broker_order_id, count + 1)
        return count + 1 >= self.missing_checks and now - first >= self.missing_grace_s

    def _expire_tx(self, orders: list[Order]) -> list[AppliedEvent]:
        results: list[AppliedEvent] = []
        with self.ledger.db.transaction() as session:
            for order in orders:
                try:
                    with session.begin_nested():
                        results.append(self.ledger.apply_in_session(session, order.id,
                            OrderEvent(EventType.ORDER_EXPIRED, EventSource.RECONCILIATION,
                                       reason="not found at the broker after repeated "
                                              f"checks (broker id {order.broker_order_id})"),
                            known=order))
                    self._not_found.pop(order.id, None)
                except (InvalidEvent, LedgerError) as exc:
                    log.info("order %s: not expired: %s", order.id, exc)
        return results

    def _ours(self, account_id: int, broker_order_ids: list[str]) -> list[Order]:
        """Our orders of the account that carry these broker ids."""
        found: list[Order] = []
        with self.ledger.db.read() as session:
            for start in range(0, len(broker_order_ids), OURS_CHUNK):
                found.extend(order_from_row(row) for row in session.execute(
                    select(_ORDERS).where(
                        _ORDERS.c.account_id == account_id,
                        _ORDERS.c.broker_order_id.in_(
                            broker_order_ids[start:start + OURS_CHUNK]))))
        return found

    async def _record_external(self, account_id: int, seen: list[BrokerOrder],
                               duplicate_of: dict[str, str]) -> int:
        """Record orders placed at the broker's own app (no tag of ours), orphans (a tag of
        ours no order carries) and duplicates (another live copy of one of our orders,
        ``duplicate_of``: broker id → our order id; see ``engine/tagged.py``) as ``external``."""
        try:
            owner = self.accounts.info(account_id).user_id
        except KeyError:
            return 0
        applied = await self.strays.record_external(account_id, owner, seen, duplicate_of)
        for item in seen:
            self.view.mark_known(account_id, item.broker_order_id)
        return len({a.order.id for a in applied})

    def _apply_tx(self, changes: list[_Change]) -> list[AppliedEvent]:
        """Apply every change in one transaction; if one order's events are refused, redo the
        transaction with a savepoint per order so the others still go in."""
        try:
            with self.ledger.db.transaction() as session:
                return self.ledger.apply_many_in_session(session, [
                    (order, events_from_broker(order, seen, EventSource.RECONCILIATION, fills))
                    for order, seen, fills in changes])
        except (InvalidEvent, LedgerError):
            pass
        results: list[AppliedEvent] = []
        with self.ledger.db.transaction() as session:
            for order, seen, fills in changes:
                try:
                    with session.begin_nested():
                        results.extend(self._apply_order(session, order, seen, fills))
                except (InvalidEvent, LedgerError) as exc:
                    log.info("order %s: broker view not applied: %s", order.id, exc)
        return results

    def _apply_order(self, session: Session, order: Order, seen: BrokerOrder,
                     fills: list[BrokerFill]) -> list[AppliedEvent]:
        return self.ledger.apply_sequence_in_session(
            session, order, events_from_broker(order, seen, EventSource.RECONCILIATION, fills))


def _differs(order: Order, seen: BrokerOrder) -> bool:
    """Cheap test for "anything to reconcile": status text, fills, price or quantity."""
    return (seen.raw_status != order.broker_status
            or seen.filled_quantity != order.filled_quantity
            or seen.quantity != order.quantity
            or (seen.price is not None and order.price is not None and seen.price != order.price)
            or (seen.trigger_price is not None and order.trigger_price is not None
                and seen.trigger_price != order.trigger_price))
