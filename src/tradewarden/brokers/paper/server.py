"""The standalone paper broker: broker-facing API plus control API on one port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tradewarden.brokers.paper.api import BrokerApi
from tradewarden.brokers.paper.clock import ClockMode
from tradewarden.brokers.paper.control import ControlApi
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.faults import DEFAULT_SEED
from tradewarden.brokers.paper.service import PaperService

log = logging.getLogger(__name__)
SYNC_INTERVAL_S = 0.5


def create_app(exchange: PaperExchange, *, sync_interval_s: float = SYNC_INTERVAL_S) -> Starlette:
    """The ASGI app serving ``exchange``; it applies session changes every ``sync_interval_s``
    so expiry and the open happen on time even when nobody calls."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(sync_forever(exchange, sync_interval_s))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            exchange.streams.drop_all("paper broker shutting down")

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": {"code": "not_found", "message": "no such endpoint"}}, 404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {"error": {"code": "method_not_allowed", "message": "method not allowed"}}, 405
        )

    routes = [*BrokerApi(PaperService(exchange)).routes(), *ControlApi(exchange).routes()]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_allowed},
    )


async def sync_forever(exchange: PaperExchange, interval: float) -> None:
    """Advance the exchange's session (open, close, expiry) every ``interval`` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            exchange.sync()
        except Exception:  # keep serving; the next call retries
            log.exception("paper exchange session sync failed")


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 9100,
    state_path: Path | None = None,
    clock: ClockMode | str = ClockMode.REAL,
    seed: int = DEFAULT_SEED,
    log_level: str = "warning",
) -> None:
    """Run the standalone paper broker until interrupted."""
    exchange = PaperExchange(state_path, clock=clock, seed=seed)
    try:
        uvicorn.run(
            create_app(exchange), host=host, port=port, log_level=log_level, ws="websockets-sansio"
        )
    finally:
        exchange.close()
