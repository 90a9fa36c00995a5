"""A broker adapter wrapper that records call latency and errors by kind."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from tradewarden.brokers.base import BrokerAdapter
from tradewarden.brokers.errors import (
    AmbiguousError,
    BrokerError,
    DefinitiveError,
    RateLimitedError,
)
from tradewarden.metrics import Metrics

#: The adapter calls that are timed (streams are not request/response).
TIMED = frozenset({"place", "modify", "cancel", "order_book", "get_order", "order_history",
                   "find_by_tag", "trade_book", "positions", "holdings", "funds",
                   "market_session", "quotes"})


def error_kind(error: BaseException) -> str:
    if isinstance(error, RateLimitedError):
        return "rate_limited"
    if isinstance(error, AmbiguousError):
        return "ambiguous"
    if isinstance(error, DefinitiveError):
        return "definitive"
    return "other"


class InstrumentedAdapter:
    """Delegates to ``inner``; every timed call lands in the metrics registry."""

    def __init__(self, inner: BrokerAdapter, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in TIMED:
            return attribute
        return self._timed(name, attribute)

    def _timed(self, name: str, call: Callable[..., Coroutine[Any, Any, Any]],
               ) -> Callable[..., Coroutine[Any, Any, Any]]:
        metrics = self._metrics
        broker = self._inner.capabilities.name

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            except BrokerError as exc:
                metrics.inc("tradewarden_broker_errors_total", broker=broker, call=name,
                            kind=error_kind(exc))
                raise
            finally:
                metrics.observe("tradewarden_broker_call_seconds",
                                time.perf_counter() - started, broker=broker, call=name)

        return timed
