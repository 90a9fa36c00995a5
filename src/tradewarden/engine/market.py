"""The one clock/calendar service the engine asks whether the market is in session."""

from __future__ import annotations

from typing import Protocol

from tradewarden.brokers.base import MarketSession


class MarketClock(Protocol):
    """Answers "which session is it?" — from the paper broker's clock or the NSE calendar."""

    async def session(self) -> MarketSession: ...
