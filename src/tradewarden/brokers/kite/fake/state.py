"""What the Kite fake holds besides the paper exchange: users, faults, limits, OHLC, stalls."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from tradewarden.brokers.instruments import InstrumentMaster
from tradewarden.brokers.kite.fake.auth import Sessions
from tradewarden.brokers.kite.fake.symbols import KiteSymbols
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.domain.instruments import InstrumentKey

#: Kite's per-app limits (requests per second) by endpoint group.
LIMITS = {"orders": 10, "quote": 1, "other": 10}


@dataclass(slots=True)
class KiteFaults:
    """Deterministic faults, each for the next N calls (set through ``/_fake/faults``)."""

    #: The next N API calls answer 429 (nothing done).
    rate_limit_burst: int = 0
    #: The next N place/modify/cancel calls take effect, then answer 503.
    accept_then_503: int = 0
    #: The next N place/modify/cancel calls take effect, then answer only after ``delay_s``.
    accept_then_delay: int = 0
    delay_s: float = 30.0
    #: New orders stay out of the order book, history and trades for this long.
    order_book_lag_s: float = 0.0

    def take(self, name: str) -> bool:
        """Spend one use of the fault ``name``; True when it applies to this call."""
        left = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        return True


class RateLimiter:
    """Sliding one-second windows per (api_key, endpoint group)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self.enforce = True

    def allow(self, api_key: str, group: str) -> bool:
        if not self.enforce:
            return True
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault((api_key, group), deque())
            while calls and now - calls[0] >= 1.0:
                calls.popleft()
            if len(calls) >= LIMITS[group]:
                return False
            calls.append(now)
            return True


@dataclass(slots=True)
class Ohlc:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    def see(self, price: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)


@dataclass
class KiteFakeState:
    """The paper exchange plus everything Kite-specific around it."""

    exchange: PaperExchange
    sessions: Sessions = field(default_factory=Sessions)
    faults: KiteFaults = field(default_factory=KiteFaults)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    #: Users whose websockets are stalled (no heartbeat, nothing sent, left open).
    stalled: set[str] = field(default_factory=set)
    stall_all: bool = False
    _ohlc: dict[InstrumentKey, Ohlc] = field(default_factory=dict)
    _symbols: KiteSymbols | None = None

    @property
    def master(self) -> InstrumentMaster:
        return self.exchange.instruments

    @property
    def symbols(self) -> KiteSymbols:
        if self._symbols is None:
            self._symbols = KiteSymbols(self.exchange.instruments)
        return self._symbols

    def ohlc(self, key: InstrumentKey, price: Decimal) -> Ohlc:
        """The day's open/high/low (from prices the fake has seen) and the close."""
        bar = self._ohlc.get(key)
        if bar is None:
            bar = self._ohlc[key] = Ohlc(price, price, price, price)
        bar.see(price)
        return bar

    def is_stalled(self, user_id: str) -> bool:
        return self.stall_all or user_id in self.stalled
