"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from tradewarden import __version__, web
from tradewarden.api import (
    health,
    metrics,
    notifications,
    orders,
    positions,
    strategies,
    trades,
    webhooks,
    ws,
)
from tradewarden.api.auth import AuthError
from tradewarden.api.deps import auth_error_response
from tradewarden.api.json_body import guard_json_body, is_json_request
from tradewarden.api.openalgo import books_router, placing_router
from tradewarden.api.openalgo.common import OpenAlgoError, error_response
from tradewarden.api.openalgo.shortcut import OpenAlgoShortcut
from tradewarden.broker_setup import BrokerSetup, broker_setup
from tradewarden.config import Settings
from tradewarden.engine.runtime import EngineSettings
from tradewarden.services import Services

log = logging.getLogger(__name__)


class Extra(Protocol):
    """Something that runs alongside the engine for the app's lifetime (the demo driver)."""

    async def start(self, services: Services) -> None: ...

    async def stop(self) -> None: ...


class TradewardenApp(FastAPI):
    """FastAPI, with the OpenAlgo routes (the order-placing hot path) answered first by
    ``OpenAlgoShortcut``, without the per-request middleware and routing machinery.

    A middleware added with ``add_middleware`` (CORS, say) does not see those requests: give
    the shortcut the same behaviour, or drop the shortcut, when adding one.

    JSON bodies that FastAPI decodes are checked first (size, nesting depth: ``json_body``), so
    a hostile body is a clear 4xx rather than Python's ``RecursionError``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shortcut = OpenAlgoShortcut([placing_router, books_router])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await self.shortcut.handle(self, scope, receive, send):
            return
        if is_json_request(scope):
            receive, error = await guard_json_body(receive)
            if error is not None:
                response = JSONResponse({"status": "error", "message": error.message},
                                        status_code=error.status)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, brokers: BrokerSetup | None = None,
               engine_settings: EngineSettings | None = None,
               extras: Sequence[Extra] = ()) -> FastAPI:
    """Build the app; its lifespan opens the database and runs the engine (and ``extras``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.open(settings, brokers or broker_setup(settings), engine_settings)
        app.state.services = services
        try:
            await services.start()
            for extra in extras:
                await extra.start(services)
            yield
        finally:
            for extra in reversed(extras):
                await extra.stop()
            await services.stop()

    app = TradewardenApp(title="Tradewarden", version=__version__, lifespan=lifespan,
                         docs_url="/docs", openapi_url="/openapi.json",
                         # metrics are Prometheus (/metrics); FastAPI's OpenTelemetry hooks
                         # only cost a provider look-up per request
                         telemetry={"tracing": False, "metrics": False, "logs": False})
    app.include_router(placing_router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(orders.router)
    app.include_router(positions.router)
    app.include_router(strategies.router)
    app.include_router(webhooks.router)
    app.include_router(trades.router)
    app.include_router(notifications.router)
    app.include_router(books_router)
    app.include_router(ws.router)
    web.install(app)  # the dashboard at / (pages, static files, their error pages)
    _install_error_handlers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OpenAlgoError)
    async def _openalgo(_request: Request, exc: OpenAlgoError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(AuthError)
    async def _auth(_request: Request, exc: AuthError) -> JSONResponse:
        return auth_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                   for e in exc.errors()]
        return JSONResponse({"detail": details}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"status": "error", "message": "internal error"}, status_code=500)
