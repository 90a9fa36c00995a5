"""Helpers of :mod:`tradewarden.engine.price_feed`: the price book, reconnect backoff,
metrics, and a log that does not repeat itself."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradewarden.brokers.base import Quote
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.metrics import Metrics

CONNECTED = "tradewarden_price_feed_connected"
POLLING = "tradewarden_price_feed_polling"
SUBSCRIPTIONS = "tradewarden_price_feed_subscriptions"
RECONNECTS = "tradewarden_price_feed_reconnects_total"


class Backoff:
    """Exponential backoff with jitter: ``base * 2**attempt`` capped at ``cap``, then a random
    value in [50 %, 100 %] of it, so many feeds do not reconnect in lockstep."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt, 32))
        return ceiling * self._rng.uniform(0.5, 1.0)


class FeedGauges:
    """The feed's state in the Prometheus registry (no-op without one), labelled ``feed``."""

    def __init__(self, metrics: Metrics | None, feed: str) -> None:
        self._metrics = metrics
        self._feed = feed
        if metrics is not None:
            metrics.describe(CONNECTED, "gauge", "1 while the price feed's tick stream is open.")
            metrics.describe(POLLING, "gauge", "1 while the price feed polls quotes instead.")
            metrics.describe(SUBSCRIPTIONS, "gauge", "Symbols the price feed subscribes.")
            metrics.describe(RECONNECTS, "counter", "Tick stream reconnections.")
            self.state(connected=False, polling=False)
            self.subscriptions(0)

    def state(self, *, connected: bool, polling: bool) -> None:
        if self._metrics is not None:
            self._metrics.set(CONNECTED, float(connected), feed=self._feed)
            self._metrics.set(POLLING, float(polling), feed=self._feed)

    def subscriptions(self, count: int) -> None:
        if self._metrics is not None:
            self._metrics.set(SUBSCRIPTIONS, float(count), feed=self._feed)

    def reconnected(self) -> None:
        if self._metrics is not None:
            self._metrics.inc(RECONNECTS, feed=self._feed)


class ThrottledLog:
    """Emits at most one record per ``interval_s``; the next one says how many were held back."""

    def __init__(self, logger: logging.Logger, interval_s: float) -> None:
        self._logger = logger
        self._interval = interval_s
        self._last: float | None = None
        self._held = 0

    def _allow(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self._interval:
            self._held += 1
            return False
        self._last = now
        return True

    def _suffix(self) -> str:
        held, self._held = self._held, 0
        return f" ({held} similar messages suppressed)" if held else ""

    def warning(self, message: str, *args: Any) -> None:
        if self._allow():
            self._logger.warning(message + self._suffix(), *args)

    def exception(self, message: str, *args: Any) -> None:
        if self._allow():
            self._logger.exception(message + self._suffix(), *args)


class PriceBook:
    """The last price of each watched symbol: value, broker time, arrival time and order.

    Arrival times use the feed's clock, so staleness never depends on the broker's clock.
    """

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._since: dict[InstrumentKey, datetime] = {}  # watched since (staleness baseline)
        # key -> (price, broker timestamp, arrived at, arrival sequence number)
        self._prices: dict[InstrumentKey, tuple[Decimal, datetime, datetime, int]] = {}
        #: Incremented by every recorded price.
        self.seq = 0

    def watch(self, key: InstrumentKey) -> None:
        self._since[key] = self._clock()

    def forget(self, key: InstrumentKey) -> None:
        self._since.pop(key, None)
        self._prices.pop(key, None)

    def record(self, key: InstrumentKey, price: Decimal, at: datetime) -> None:
        self.seq += 1
        self._prices[key] = (price, at, self._clock(), self.seq)

    def price(self, key: InstrumentKey) -> Decimal | None:
        state = self._prices.get(key)
        return state[0] if state else None

    def arrived(self, key: InstrumentKey) -> datetime | None:
        state = self._prices.get(key)
        return state[2] if state else None

    def stale(self, now: datetime, after_s: float) -> list[InstrumentKey]:
        """Watched symbols whose last price (or, without one, the watch) is older than
        ``after_s`` at ``now``."""
        stale: list[InstrumentKey] = []
        for key, since in self._since.items():
            state = self._prices.get(key)
            last = state[2] if state else since
            if (now - last).total_seconds() > after_s:
                stale.append(key)
        return stale

    def is_news(self, quote: Quote, asked_at_seq: int) -> bool:
        """Whether a polled ``quote`` (asked for when :attr:`seq` was ``asked_at_seq``) should
        be delivered: the price or its time changed, and no newer price arrived meanwhile."""
        state = self._prices.get(quote.key)
        if state is None:
            return True
        price, at, _, seq = state
        if seq > asked_at_seq:
            return False
        return quote.last_price != price or quote.timestamp > at
