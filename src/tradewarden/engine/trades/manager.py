"""The trade manager: open trades in memory, prices in, exit decisions out.

- Trades are opened and closed in the database by the :class:`TradeRecorder` (inside the
  ledger's transactions); the manager follows those changes through the ledger bus.
- Prices come from one :class:`PriceFeed` per broker account; every price goes through the
  tick trigger engine (stop-loss, target, trailing stop) and the strategy portfolios.
- A trigger becomes exactly one exit (:class:`ExitSender`); an exit that fails, is denied or
  is rejected is retried with backoff and raised as an alert, never forgotten.
- Best prices and trailing levels are written in batches by the :class:`StateWriter`, which
  also keeps everything in order while the database is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from tradewarden.clock import utcnow
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import ExecutionType, Side
from tradewarden.domain.statuses import OrderStatus
from tradewarden.domain.strategy import StrategySettings
from tradewarden.domain.trades import (
    ExitReason,
    Trade,
    TradeSide,
    TradeStatus,
)
from tradewarden.engine.actions import OrderActions
from tradewarden.engine.bus import EventBus, Subscription
from tradewarden.engine.executor import Executor
from tradewarden.engine.holdings import PositionEvent
from tradewarden.engine.intake import Intake
from tradewarden.engine.ledger import AppliedEvent, Ledger
from tradewarden.engine.price_feed import PriceFeed
from tradewarden.engine.trades import notices
from tradewarden.engine.trades.books import StrategyBooks, ist_day
from tradewarden.engine.trades.exit_care import ExitCare
from tradewarden.engine.trades.exits import ExitSender
from tradewarden.engine.trades.portfolio import Portfolios
from tradewarden.engine.trades.recorder import TRADE_ID
from tradewarden.engine.trades.writer import Collected, StateWriter
from tradewarden.engine.triggers import TradeLevels, TrailKind, TriggerEngine
from tradewarden.metrics import Metrics
from tradewarden.store import trades as store

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class TradeSettings:
    flush_interval_s: float = 1.0
    housekeeping_interval_s: float = 1.0
    exit_retry_s: tuple[float, ...] = (2.0, 5.0, 15.0, 30.0, 60.0)
    feed_poll_interval_s: float = 1.0
    feed_backoff_base_s: float = 0.5
    feed_stale_after_s: float = 10.0
    resync_interval_s: float = 10.0
    exit_stuck_alert_s: float = 60.0


def levels_of(trade: Trade) -> TradeLevels:
    """The tick engine's view of ``trade``."""
    trail = trade.trailing_stop
    return TradeLevels(
        trade_id=trade.id, symbol=trade.key, long=trade.side.sign > 0,
        stop=float(trade.stop_loss) if trade.stop_loss is not None else None,
        target=float(trade.target) if trade.target is not None else None,
        trail=float(trail.value) if trail else None,
        trail_kind=TrailKind(trail.kind.value) if trail else None,
        best=float(trade.best_price if trade.best_price is not None else trade.entry_price))


class TradeManager(StrategyBooks, ExitCare):
    """See the module docstring."""

    def __init__(self, ledger: Ledger, intake: Intake, executor: Executor,
                 actions: OrderActions, settings: TradeSettings | None = None,
                 metrics: Metrics | None = None,
                 clock: Callable[[], datetime] = lambda: utcnow()) -> None:
        self.ledger = ledger
        self.accounts = executor.brokers
        self.actions = actions
        self.metrics = metrics or Metrics()
        self.settings = settings or TradeSettings()
        self._clock = clock
        self.engine = TriggerEngine()
        self.portfolios = Portfolios()
        #: manual buys/sells found in the holdings (the monitor's), followed from ``start``
        self.position_bus: EventBus[PositionEvent] | None = None
        self.writer = StateWriter(ledger, self.settings.flush_interval_s,
                                  collect=self._collect_states)
        self.exits = ExitSender(intake, executor, self.writer)
        self.trades: dict[int, Trade] = {}  # active and exiting
        self.prices: dict[str, Decimal] = {}
        self._feeds: dict[int, PriceFeed] = {}
        self._subscribed: dict[int, tuple[int, InstrumentKey]] = {}  # trade → (account, key)
        self._strategies: dict[int, StrategySettings] = {}
        self._exiting: dict[int, asyncio.Task[None]] = {}  # exit being sent right now
        self._exit_started: set[int] = set()  # trades we decided to exit (never re-armed)
        self._retry_due: dict[int, tuple[float, ExitReason]] = {}  # trade → (when, why)
        self._exit_attempts: dict[int, int] = {}
        self._failed_exits: dict[int, str] = {}  # trade → the last exit order retried after
        self._pending_states: dict[int, dict[str, Any]] = {}  # derived state not yet written
        self._pending_peaks: dict[int, Decimal] = {}
        self._stuck_alerted: set[str] = set()  # exit orders already reported as stuck
        self._oversized: set[str] = set()  # exit orders cancelled for being too big
        #: The day's session (open, close) from the market calendar, or None on holidays.
        self.session_hours: Callable[[date], tuple[datetime, datetime] | None] | None = None
        self._written_peaks: dict[int, Decimal] = {}
        self._day = ist_day(clock())
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        #: live dashboard hooks (``web/live_trades.py``): a trade opened, changed or closed;
        #: a price arrived for a watched symbol. Both must be cheap and must not raise.
        self.on_change: Callable[[Trade], None] | None = None
        self.on_tick: Callable[[str], None] | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        from tradewarden.engine.trades.restore import restore

        # subscribe first: nothing committed while we restore is missed
        subscription = self.ledger.bus.subscribe(maxsize=1_000_000)
        positions = self.position_bus.subscribe() if self.position_bus is not None else None
        await restore(self)
        self._tasks.append(asyncio.create_task(self._follow(subscription), name="trades-bus"))
        if positions is not None:
            self._tasks.append(asyncio.create_task(self._follow_positions(positions),
                                                   name="trades-positions"))
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="trades-house"))
        self.writer.start()

    async def stop(self) -> None:
        running = [*self._tasks, *self._exiting.values(), *self._background]
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for feed in self._feeds.values():
            await feed.stop()
        self._feeds.clear()
        await self.writer.stop()

    def alert(self, user_id: int | None, severity: str, text: str) -> None:
        """A system alert for the trader, queued in order with the other state writes (so it
        also waits out a database outage)."""
        def write(session: Session) -> list[AppliedEvent]:
            notices.system_alert(session, user_id, severity, text)
            return []

        self.writer.submit(write, urgent=True)

    def now(self) -> datetime:
        return self._clock()

    @property
    def day(self) -> date:
        """The IST trading day the manager's portfolio state belongs to."""
        return self._day

    @property
    def degraded(self) -> bool:
        return self.writer.degraded

    # --- prices -------------------------------------------------------------------------

    def on_price(self, key: InstrumentKey, price: Decimal, at: datetime | None = None) -> None:
        """One price update (from a feed, or a test). The hot path: no database work."""
        if not price > 0:
            return  # a zero or negative price is a broker glitch, never a reason to exit
        symbol = f"{key.exchange}:{key.symbol}"
        self.prices[symbol] = price
        for trigger in self.engine.on_tick(symbol, float(price)):
            trade = self.trades.get(trigger.trade_id)
            if trade is not None:
                self.exit(trade, ExitReason(trigger.reason.value))
        for strategy_id, reason, pnl in self.portfolios.on_price(symbol, price):
            self._portfolio_hit(strategy_id, reason, pnl)
        if self.on_tick is not None:
            self.on_tick(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        return self.prices.get(symbol)

    async def price_of(self, account_id: int, key: InstrumentKey) -> Decimal | None:
        """The last price we know, else one quote from the account's broker (for sizing)."""
        known = self.prices.get(f"{key.exchange}:{key.symbol}")
        if known is not None:
            return known
        try:
            quotes = await self.accounts.adapter(account_id).quotes([key])
        except Exception as exc:
            log.info("no quote for %s: %s", key, exc)
            return None
        quote = quotes.get(key)
        return quote.last_price if quote is not None else None

    def _feed(self, account_id: int) -> PriceFeed:
        feed = self._feeds.get(account_id)
        if feed is None:
            s = self.settings
            feed = PriceFeed(self.accounts.adapter(account_id), self.on_price,
                             poll_interval_s=s.feed_poll_interval_s,
                             backoff_base_s=s.feed_backoff_base_s,
                             stale_after_s=s.feed_stale_after_s, metrics=self.metrics,
                             name=f"account-{account_id}")
            feed.start()
            self._feeds[account_id] = feed
        return feed

    def feeds(self) -> list[PriceFeed]:
        return list(self._feeds.values())

    # --- following the database ---------------------------------------------------------

    async def _follow(self, subscription: Any) -> None:
        async for applied in subscription:
            try:
                await self._on_applied(applied)
            except Exception:  # the periodic resync repairs what this missed
                log.exception("trade update for order %s failed", applied.order.id)

    async def _follow_positions(self, subscription: Subscription[PositionEvent]) -> None:
        """A manual buy/sell found in the holdings may have reduced or closed trades (in the
        transaction that recorded it): pick that up now, not at the next periodic resync."""
        async for _event in subscription:
            try:
                await self.resync()
            except Exception:
                log.exception("resync after a manual position change failed")

    async def resync(self) -> None:
        """Compare memory with the database's open trades and repair differences (a missed
        or failed bus update must not leave a trade unwatched or stuck)."""
        from tradewarden.engine.trades.restore import exit_orders_snapshot

        trades, dead_exits, live_exits = await self.ledger.db.run(self.read_with,
                                                                  exit_orders_snapshot)
        self._watch_exit_orders(live_exits)
        self._cancel_oversized_exits(trades, live_exits)
        open_ids = {t.id for t in trades}
        for trade in trades:
            known = self.trades.get(trade.id)
            if known is None or known.version < trade.version or (
                    trade.id in dead_exits and trade.id not in self._retry_due
                    and trade.id not in self._exiting):
                self.refresh(trade, exit_order_dead=trade.id in dead_exits)
        for trade_id in [t for t in self.trades if t not in open_ids]:
            stored = await self.ledger.db.run(self.read_with, store.trade_by_id, trade_id)
            if stored is not None and stored.status is TradeStatus.CLOSED:
                self.refresh(stored)

    async def _on_applied(self, applied: AppliedEvent) -> None:
        order = applied.order
        trade_id = order.extra.get(TRADE_ID)
        if isinstance(trade_id, int):
            trade = await self.ledger.db.run(self.read_with, store.trade_by_id, trade_id)
            if trade is not None:
                dead = applied.to_status.is_final or applied.to_status is OrderStatus.FAILED
                self.refresh(trade, exit_order_dead=dead and order.id == trade.exit_order_id)
            return
        if "filled_quantity" not in applied.payload:
            return
        # a fill on the other side may have reduced or closed trades (see the recorder); an
        # entry fill may have opened or grown one: read them all back in one query
        closing = TradeSide.LONG if order.side is Side.SELL else TradeSide.SHORT
        reduced = [t.id for t in self.trades.values()
                   if t.account_id == order.account_id and t.side is closing
                   and t.exchange == order.exchange and t.symbol == order.symbol]
        entry = order.id if order.execution_type is ExecutionType.ENTRY and (
            order.strategy_id is not None
            or any(t.entry_order_id == order.id for t in self.trades.values())) else None
        if reduced or entry is not None:
            for trade in await self.ledger.db.run(self.read_with, store.trades_touched_by,
                                                  reduced, entry):
                self.refresh(trade)

    def read_with(self, query: Callable[..., Any], *args: Any) -> Any:
        """Run ``query(session, *args)`` in a read transaction (call through ``db.run``)."""
        with self.ledger.db.read() as session:
            return query(session, *args)

    def refresh(self, trade: Trade, *, exit_order_dead: bool = False,
                portfolio: bool = True) -> None:
        """Bring memory in line with ``trade`` as the database has it now (``portfolio=False``
        when many trades are loaded at once; then rebuild the portfolios afterwards)."""
        known = self.trades.get(trade.id)
        if known is not None and known.version > trade.version:
            return  # an older read overtaken by a newer one
        if trade.status is TradeStatus.CLOSED:
            self._forget(trade)
            return
        if trade.strategy_id is not None and self.portfolios.knows(trade.strategy_id):
            self.portfolios.reopen(trade.strategy_id, trade.id)  # if it had been closed
        if trade.status is TradeStatus.ACTIVE and trade.id in self._exit_started:
            trade.status = TradeStatus.EXITING  # our exit is on its way; never re-arm it
        if trade.status is TradeStatus.ACTIVE:
            best = trade.best_price
            if known is not None and known.best_price is not None and best is not None:
                trade.best_price = max(best, known.best_price) if trade.side.sign > 0 else min(
                    best, known.best_price)
            self.trades[trade.id] = trade
            if trade.id in self.engine:
                self.engine.update(levels_of(trade))
            else:
                self.engine.add(levels_of(trade))
            self._subscribe(trade)
        else:
            self.trades[trade.id] = trade
            self.engine.remove(trade.id)
            self._exit_started.add(trade.id)
            reason = trade.exit_reason or ExitReason.MANUAL_EXIT
            if exit_order_dead and trade.open_quantity > 0 and trade.exit_order_id:
                self._exit_failed(trade, trade.exit_order_id, reason,
                                  "the exit order did not complete")
            elif (trade.exit_order_id is None and trade.open_quantity > 0
                  and trade.id not in self._exiting and trade.id not in self._retry_due):
                self._schedule_retry(trade, reason, "more of the entry filled after the exit")
        if trade.strategy_id is not None and not self.portfolios.knows(trade.strategy_id):
            self._spawn(self.reload_strategy(trade.strategy_id))
        if portfolio:
            self._rebuild_portfolio(trade.strategy_id)
            self._check_portfolio(trade.strategy_id)
        self._changed(trade)

    def _changed(self, trade: Trade) -> None:
        if self.on_change is not None:
            self.on_change(trade)

    def rebuild_portfolios(self) -> None:
        """Rebuild every strategy's open positions from the trades in memory, once."""
        by_strategy: dict[int, list[Trade]] = {}
        for trade in self.trades.values():
            if trade.strategy_id is not None:
                by_strategy.setdefault(trade.strategy_id, []).append(trade)
        for strategy_id in list(self._strategies):
            if self.portfolios.knows(strategy_id):
                self.portfolios.rebuild(strategy_id, by_strategy.get(strategy_id, []))

    def _forget(self, trade: Trade) -> None:
        self.engine.remove(trade.id)
        self.trades.pop(trade.id, None)
        self._retry_due.pop(trade.id, None)
        self._exit_attempts.pop(trade.id, None)
        self._failed_exits.pop(trade.id, None)
        self._exit_started.discard(trade.id)
        subscribed = self._subscribed.pop(trade.id, None)
        if subscribed is not None:
            account_id, key = subscribed
            self._feed(account_id).unsubscribe(key)
        if all(other.key != trade.key for other in self.trades.values()):
            self.prices.pop(trade.key, None)  # no longer watched: the price would go stale
        if trade.exit_order_id is not None:  # closed some other way: our exit is not needed
            self._spawn(self._cancel_if_working(trade, trade.exit_order_id))
        if trade.strategy_id is not None and self.portfolios.knows(trade.strategy_id):
            # count the closed trade's P&L at once (the exact total is reloaded below), so
            # the daily loss limit never sees its loss vanish in between
            self.portfolios.close_trade(trade.strategy_id, trade.id,
                                        trade.realised_on(self._day))
            self._rebuild_portfolio(trade.strategy_id)
            self._check_portfolio(trade.strategy_id)
            self._spawn(self._reload_realised(trade.strategy_id))
        self._changed(trade)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run background work that must not be lost track of (cancelled on stop)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _subscribe(self, trade: Trade) -> None:
        if trade.id in self._subscribed:
            return
        key = InstrumentKey(trade.exchange, trade.symbol)
        self._subscribed[trade.id] = (trade.account_id, key)
        self._feed(trade.account_id).subscribe(key)

    # --- exits --------------------------------------------------------------------------

    def exit(self, trade: Trade, reason: ExitReason) -> bool:
        """Exit ``trade`` now (once); False when an exit is already on its way."""
        if trade.status is TradeStatus.CLOSED or trade.id in self._exiting:
            return False
        if trade.id in self._exit_started and trade.id not in self._retry_due:
            return False
        self._dispatch_exit(trade, reason)
        return True

    def is_exiting(self, trade_id: int) -> bool:
        return trade_id in self._exit_started

    def _dispatch_exit(self, trade: Trade, reason: ExitReason) -> None:
        self.engine.remove(trade.id)
        self._retry_due.pop(trade.id, None)
        self._exit_started.add(trade.id)
        trade.status = TradeStatus.EXITING
        trade.exit_reason = trade.exit_reason or reason
        self._exiting[trade.id] = asyncio.create_task(self._send_exit(trade, reason),
                                                      name=f"exit-{trade.id}")
        self._changed(trade)

    async def _send_exit(self, trade: Trade, reason: ExitReason) -> None:
        try:
            quantity = trade.open_quantity
            log.info("trade %s (%s %s %s): exit %d on %s", trade.id, trade.side.value,
                     trade.key, trade.strategy_id, quantity, reason.value)
            outcome = await self.exits.send(trade, reason, quantity)
            if outcome.nothing_held:
                self._close_outside(trade)
            elif outcome.denied:
                self._exit_failed(trade, outcome.order_id, reason,
                                  f"exit denied: {outcome.reason}")
        except Exception as exc:
            log.exception("trade %s: exit failed", trade.id)
            self._schedule_retry(trade, reason, f"exit could not be sent: {exc}")
        finally:
            self._exiting.pop(trade.id, None)
        await self._cancel_entry_rest(trade)

    def _close_outside(self, trade: Trade) -> None:
        """The strategy no longer holds what the trade does: it was closed elsewhere."""
        log.warning("trade %s %s: nothing left to exit; closed outside", trade.id, trade.key)
        now = self._clock()

        def write(session: Session) -> list[AppliedEvent]:
            current = store.trade_by_id(session, trade.id, for_update=True)
            if current is not None and current.status is not TradeStatus.CLOSED:
                current.status, current.closed_at, current.updated_at = (
                    TradeStatus.CLOSED, now, now)
                current.exit_reason = current.exit_reason or ExitReason.CLOSED_OUTSIDE
                store.save_trade(session, current)
                notices.trade_exited(session, current)
            return []

        self.writer.submit(write, urgent=True)
        trade.status = TradeStatus.CLOSED
        self._forget(trade)

    # --- persistence of derived state ---------------------------------------------------

    def _collect_states(self) -> Collected | None:
        """The latest best prices / trailing levels and day peaks not yet written, merged
        (one entry per trade however many flushes fail while the database is away)."""
        for trade_id, best, level in self.engine.drain_changed():
            trade = self.trades.get(trade_id)
            if trade is None:
                continue
            trade.best_price, trade.trailing_level = _money(best), _money(level)
            self._pending_states[trade_id] = {"trade_id": trade_id, "best": trade.best_price,
                                              "level": trade.trailing_level}
        for strategy_id in self._strategies:
            if self.portfolios.knows(strategy_id):
                peak = self.portfolios.peak(strategy_id)
                if peak > 0 and self._written_peaks.get(strategy_id) != peak:
                    self._pending_peaks[strategy_id] = peak
        if not self._pending_states and not self._pending_peaks:
            return None
        states = dict(self._pending_states)
        peaks = dict(self._pending_peaks)
        day = self._day

        def write(session: Session) -> list[AppliedEvent]:
            store.save_trail_states(session, list(states.values()))
            for strategy_id, peak in peaks.items():
                store.record_portfolio_state(session, strategy_id, day, peak)
            return []

        def written() -> None:
            for trade_id, state in states.items():
                if self._pending_states.get(trade_id) == state:
                    del self._pending_states[trade_id]
            for strategy_id, peak in peaks.items():
                self._written_peaks[strategy_id] = peak
                if self._pending_peaks.get(strategy_id) == peak:
                    del self._pending_peaks[strategy_id]

        return write, written

    # --- housekeeping -------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        last_resync = time.monotonic()
        while True:
            await asyncio.sleep(self.settings.housekeeping_interval_s)
            try:
                self._retry_due_exits()
                if time.monotonic() - last_resync >= self.settings.resync_interval_s:
                    last_resync = time.monotonic()
                    await self.resync()
                today = ist_day(self._clock())
                if today != self._day:
                    self._day = today
                    self.portfolios.new_day(today)
                    self._stuck_alerted.clear()
                    self._oversized.clear()
                await self._square_off()
            except Exception:
                log.exception("trade housekeeping failed")

    async def _square_off(self) -> None:
        from tradewarden.engine.trades.squareoff import due_for_square_off

        now = self._clock()
        for trade in due_for_square_off(list(self.trades.values()), self._strategies, now,
                                        self.session_hours):
            self.exit(trade, ExitReason.SQUARE_OFF)


def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(round(value, 6)))
