"""The Kite fake as one ASGI app (REST + websocket + ``/_fake`` control) and its server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from tradewarden.brokers.kite.fake.control import KiteControl, add_user
from tradewarden.brokers.kite.fake.errors import error
from tradewarden.brokers.kite.fake.rest import KiteRest
from tradewarden.brokers.kite.fake.state import KiteFakeState
from tradewarden.brokers.kite.fake.stream import KiteStream
from tradewarden.brokers.paper.clock import ClockMode
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.faults import DEFAULT_SEED
from tradewarden.brokers.paper.server import sync_forever

log = logging.getLogger(__name__)
SYNC_INTERVAL_S = 0.5
DEMO_USER = "PA0001"


def create_app(state: KiteFakeState, *, sync_interval_s: float = SYNC_INTERVAL_S) -> Starlette:
    """The ASGI app over ``state`` (session changes applied every ``sync_interval_s``)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(sync_forever(state.exchange, sync_interval_s))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            state.exchange.streams.drop_all("kite fake shutting down")

    async def not_found(request: Request, exc: Exception) -> Response:
        return error("Route not found", "GeneralException", 404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return error("Method not allowed", "GeneralException", 405)

    async def failed(request: Request, exc: Exception) -> Response:
        log.exception("kite fake failed: %s %s", request.method, request.url.path)
        return error("Something went wrong. Please try again.", "GeneralException", 500)

    routes = [
        *KiteRest(state).routes(),
        *KiteControl(state).routes(),
        *KiteStream(state).routes(),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_allowed, Exception: failed},
    )


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 9100,
    state_path: Path | None = None,
    clock: ClockMode | str = ClockMode.REAL,
    seed: int = DEFAULT_SEED,
    log_level: str = "warning",
    api_key: str | None = None,
    api_secret: str | None = None,
) -> None:
    """Run the Kite fake until interrupted, printing a demo user's credentials."""
    exchange = PaperExchange(state_path, clock=clock, seed=seed)
    state = KiteFakeState(exchange)
    user = add_user(state, DEMO_USER, api_key=api_key, api_secret=api_secret)
    token = state.sessions.new_request_token(user.api_key)
    base = f"http://{host}:{port}"
    print(f"Kite Connect fake on {base} (websocket ws://{host}:{port}/)", flush=True)
    print(f"  user_id:       {user.user_id}", flush=True)
    print(f"  api_key:       {user.api_key}", flush=True)
    print(f"  api_secret:    {user.api_secret}", flush=True)
    print(
        f"  request_token: {token}  (single use; more from {base}/connect/login"
        f"?v=3&api_key={user.api_key})",
        flush=True,
    )
    try:
        uvicorn.run(
            create_app(state), host=host, port=port, log_level=log_level, ws="websockets-sansio"
        )
    finally:
        exchange.close()
