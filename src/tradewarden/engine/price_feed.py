"""Live prices for the trades of one broker adapter (BRIEF appendix requirements 5 and 8.2).

:class:`PriceFeed` keeps one broker subscription per symbol however many trades watch it
(reference counts), consumes the adapter's tick stream in a background task, reopens it with
exponential backoff when it drops (re-subscribing every symbol), and while the stream is down
polls :meth:`~tradewarden.brokers.base.BrokerAdapter.quotes` so prices keep flowing. New
symbols and every reconnect also fetch one snapshot of quotes, so a symbol has a price before
its next trade. ``on_price`` runs on the event loop, in arrival order, for subscribed symbols
only.

Times: ``on_price`` receives the broker's timestamp of the price; :meth:`PriceFeed.last_update`
and :meth:`PriceFeed.stale_symbols` use the feed's own clock (when the price *arrived*), so a
simulated or skewed broker clock never makes a live symbol look stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from decimal import Decimal

from tradewarden.brokers.base import BrokerAdapter, Tick
from tradewarden.brokers.errors import BrokerError, RateLimitedError
from tradewarden.clock import utcnow
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.engine.price_feed_support import Backoff, FeedGauges, PriceBook, ThrottledLog
from tradewarden.metrics import Metrics

log = logging.getLogger(__name__)

PriceCallback = Callable[[InstrumentKey, Decimal, datetime], None]


class PriceFeed:
    """Reference-counted subscriptions, a self-healing tick stream and a polling fallback for
    one :class:`~tradewarden.brokers.base.BrokerAdapter`.

    The feed must be the only user of the adapter's ``subscribe``/``unsubscribe``/``ticks``.
    State for metrics and readiness: :attr:`connected`, :attr:`polling`, :attr:`reconnects`,
    :attr:`subscriptions`.
    """

    def __init__(
        self,
        adapter: BrokerAdapter,
        on_price: PriceCallback,
        *,
        poll_interval_s: float = 1.0,
        stale_after_s: float = 10.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        healthy_after_s: float = 60.0,
        name: str | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._adapter = adapter
        self._on_price = on_price
        self.poll_interval_s = poll_interval_s
        self.stale_after_s = stale_after_s
        self.healthy_after_s = healthy_after_s
        self.name = name or adapter.account
        self._clock = clock
        self._backoff = Backoff(backoff_base_s, backoff_max_s)
        self._gauges = FeedGauges(metrics, self.name)
        #: True while the tick stream is open and subscribed.
        self.connected = False
        #: True while prices come from polling ``quotes`` because the stream is down.
        self.polling = False
        #: Times the stream was opened again after it dropped or failed to open.
        self.reconnects = 0
        #: Prices delivered from the tick stream and from ``quotes`` (polls and refreshes).
        self.prices_from_stream = 0
        self.prices_from_quotes = 0
        #: Exceptions raised by ``on_price`` (logged, never fatal).
        self.callback_errors = 0
        self._refs: dict[InstrumentKey, int] = {}
        self._book = PriceBook(clock)
        self._at_broker: frozenset[InstrumentKey] = frozenset()
        self._sync_lock = asyncio.Lock()
        self._dirty = False
        self._syncer: asyncio.Task[None] | None = None
        self._refresh: set[InstrumentKey] = set()
        self._wake = asyncio.Event()
        self._stream: AsyncIterator[Tick] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._callback_log = ThrottledLog(log, 60.0)
        self._quote_log = ThrottledLog(log, 60.0)

    # ---- subscriptions -------------------------------------------------------------------

    @property
    def subscriptions(self) -> int:
        """Distinct symbols subscribed (one broker subscription each)."""
        return len(self._refs)

    @property
    def symbols(self) -> frozenset[InstrumentKey]:
        return frozenset(self._refs)

    def users(self, key: InstrumentKey) -> int:
        """How many subscribers ``key`` has."""
        return self._refs.get(key, 0)

    def subscribe(self, key: InstrumentKey) -> None:
        """Add a user of ``key``; the first one has it subscribed at the broker (in the
        background: see :meth:`synced`)."""
        count = self._refs.get(key, 0)
        self._refs[key] = count + 1
        if count:
            return
        self._book.watch(key)
        self._request_refresh([key])
        self._gauges.subscriptions(len(self._refs))
        self._kick_sync()

    def unsubscribe(self, key: InstrumentKey) -> None:
        """Remove a user of ``key``; the last one has it unsubscribed and forgets its price.
        Unknown keys are ignored."""
        count = self._refs.get(key, 0)
        if count > 1:
            self._refs[key] = count - 1
            return
        if not count:
            log.debug("price feed %s: %s was not subscribed", self.name, key)
            return
        del self._refs[key]
        self._book.forget(key)
        self._gauges.subscriptions(len(self._refs))
        self._kick_sync()

    async def synced(self) -> None:
        """Wait until the broker has been asked for every subscription change made so far."""
        while self._syncer is not None and not self._syncer.done():
            await asyncio.wait({self._syncer})

    def _kick_sync(self) -> None:
        """Tell the broker about subscription changes soon; batched, one call per direction.
        Before :meth:`start` nothing is sent: the stream task subscribes everything."""
        self._dirty = True
        if not self._tasks or (self._syncer is not None and not self._syncer.done()):
            return
        self._syncer = asyncio.get_running_loop().create_task(
            self._sync(), name=f"price-feed-sync-{self.name}"
        )

    async def _sync(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                async with self._sync_lock:
                    await self._apply(resubscribe=False)
            except BrokerError as exc:
                log.warning("price feed %s: subscription change failed (%s); reopening the "
                            "stream", self.name, exc)
                stream = self._stream
                if stream is not None:
                    await _close(stream)  # the stream task reconnects and re-subscribes all
                return

    async def _apply(self, *, resubscribe: bool) -> None:
        """Call the broker; with ``resubscribe`` every wanted symbol is sent again (new
        stream). Hold ``_sync_lock``."""
        wanted = frozenset(self._refs)
        added = wanted if resubscribe else wanted - self._at_broker
        removed = self._at_broker - wanted
        if removed:
            await self._adapter.unsubscribe(removed)
            self._at_broker -= removed
        if added:
            await self._adapter.subscribe(added)
            self._at_broker |= added

    # ---- prices --------------------------------------------------------------------------

    def last_price(self, key: InstrumentKey) -> Decimal | None:
        return self._book.price(key)

    def last_update(self, key: InstrumentKey) -> datetime | None:
        """When the last price of ``key`` arrived (the feed's clock, UTC)."""
        return self._book.arrived(key)

    def stale_symbols(self, now: datetime | None = None) -> list[InstrumentKey]:
        """Subscribed symbols without a price for more than ``stale_after_s`` (counted from the
        subscription when none arrived yet). Whether the market is open is the caller's call."""
        return self._book.stale(now or self._clock(), self.stale_after_s)

    def _deliver(self, key: InstrumentKey, price: Decimal, at: datetime) -> None:
        self._book.record(key, price, at)
        try:
            self._on_price(key, price, at)
        except Exception:
            self.callback_errors += 1
            self._callback_log.exception("price feed %s: on_price failed for %s", self.name, key)

    def _on_tick(self, tick: Tick) -> None:
        key = tick.key
        if key in self._refs:
            self.prices_from_stream += 1
            self._deliver(key, tick.last_price, tick.timestamp)

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the stream and quote tasks (no-op when running); needs a running loop."""
        if any(not t.done() for t in self._tasks):
            return
        self._dirty = False  # the stream task subscribes everything when it connects
        self._tasks = [
            asyncio.create_task(self._run_stream(), name=f"price-feed-stream-{self.name}"),
            asyncio.create_task(self._run_quotes(), name=f"price-feed-quotes-{self.name}"),
        ]

    async def stop(self) -> None:
        """Cancel the tasks and close the stream. Subscriptions are kept for a later start."""
        tasks, self._tasks = self._tasks, []
        if self._syncer is not None:
            tasks.append(self._syncer)
            self._syncer = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stream, self._stream = self._stream, None
        if stream is not None:
            await _close(stream)
        self._set_state(connected=False, polling=False)

    def _set_state(self, *, connected: bool, polling: bool) -> None:
        if (connected, polling) == (self.connected, self.polling):
            return
        self.connected = connected
        self.polling = polling
        self._gauges.state(connected=connected, polling=polling)
        self._wake.set()

    def _request_refresh(self, keys: Iterable[InstrumentKey]) -> None:
        """Fetch one quote snapshot for ``keys`` soon (new symbols, after a reconnect)."""
        self._refresh.update(keys)
        if not self.polling:
            self._wake.set()

    # ---- the stream task -----------------------------------------------------------------

    async def _run_stream(self) -> None:
        attempt = 0  # backoff step; reset after a healthy connection
        ever_connected = False
        outage_started: float | None = None
        outage_attempts = 0
        while True:
            stream: AsyncIterator[Tick] | None = None
            connected_at: float | None = None
            try:
                stream = self._stream = self._adapter.ticks()
                await _wait_ready(stream)
                async with self._sync_lock:
                    await self._apply(resubscribe=True)
                connected_at = time.monotonic()
                if ever_connected:
                    self.reconnects += 1
                    self._gauges.reconnected()
                if outage_started is not None:
                    log.info("price feed %s: tick stream restored after %.1f s (%d attempts)",
                             self.name, connected_at - outage_started, outage_attempts)
                    outage_started = None
                ever_connected = True
                self._set_state(connected=True, polling=False)
                self._request_refresh(self._refs)  # catch up on what the gap missed
                async for tick in stream:
                    self._on_tick(tick)
                reason = "the stream ended"
            except BrokerError as exc:
                reason = str(exc) or type(exc).__name__
            except Exception as exc:  # never let a bug end the feed
                log.exception("price feed %s: tick stream failed", self.name)
                reason = repr(exc)
            finally:
                self._stream = None
                if stream is not None:
                    await _close(stream)
            self._set_state(connected=False, polling=True)
            if outage_started is None:
                outage_started = time.monotonic()
                outage_attempts = 0
                log.warning("price feed %s: tick stream down (%s); polling quotes every %g s "
                            "and reconnecting with backoff", self.name, reason,
                            self.poll_interval_s)
            else:
                log.debug("price feed %s: reconnect attempt failed: %s", self.name, reason)
            if connected_at is not None and time.monotonic() - connected_at >= self.healthy_after_s:
                attempt = 0
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1
            outage_attempts += 1

    # ---- the quote task ------------------------------------------------------------------

    async def _run_quotes(self) -> None:
        """Poll every symbol while the stream is down; otherwise fetch refresh requests."""
        while True:
            self._wake.clear()  # a wake-up from now on ends the waits below at once
            polling = self.polling
            if polling:
                self._refresh.clear()
                keys = set(self._refs)
            else:
                keys = self._refresh & self._refs.keys()
                self._refresh.clear()
            if not keys and not polling:
                await self._wake.wait()
                continue
            retry_after = await self._fetch(keys) if keys else None
            if retry_after is not None:
                if not polling:
                    self._refresh |= keys
                await asyncio.sleep(max(self.poll_interval_s, retry_after))
            elif polling:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def _fetch(self, keys: set[InstrumentKey]) -> float | None:
        """One ``quotes`` call; ``None`` on success, else the seconds to wait before retrying."""
        asked_at_seq = self._book.seq
        try:
            quotes = await self._adapter.quotes(keys)
        except RateLimitedError as exc:
            self._quote_log.warning("price feed %s: quotes rate limited (%s)", self.name, exc)
            return exc.retry_after
        except BrokerError as exc:
            self._quote_log.warning("price feed %s: quotes failed (%s)", self.name, exc)
            return 0.0
        except Exception:
            self._quote_log.exception("price feed %s: quotes failed", self.name)
            return 0.0
        for key, quote in quotes.items():
            if key in self._refs and self._book.is_news(quote, asked_at_seq):
                self.prices_from_quotes += 1
                self._deliver(key, quote.last_price, quote.timestamp)
        return None


async def _wait_ready(stream: AsyncIterator[Tick]) -> None:
    """Connect now when the stream supports it (paper streams do), so ``connected`` is true."""
    ready = getattr(stream, "wait_ready", None)
    if callable(ready):
        await ready()


async def _close(stream: AsyncIterator[Tick]) -> None:
    close = getattr(stream, "aclose", None)
    if callable(close):
        with contextlib.suppress(Exception):
            await close()
