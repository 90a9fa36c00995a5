"""A token bucket per broker account (limits come from the adapter's capabilities)."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """Allows ``rate`` acquisitions per second with bursts up to ``burst``."""

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate or 1.0)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate is None:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def penalize(self, seconds: float) -> None:
        """Stop handing out tokens for ``seconds`` (after the broker said 429)."""
        if self.rate is not None:
            self._tokens = min(self._tokens, -seconds * self.rate)
