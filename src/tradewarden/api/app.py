"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tradewarden import __version__
from tradewarden.api import health
from tradewarden.config import Settings
from tradewarden.services import Services


def create_app(settings: Settings) -> FastAPI:
    """Build the app; its lifespan opens the database and starts the engine."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.open(settings)
        app.state.services = services
        try:
            services.ready = True
            yield
        finally:
            services.close()

    app = FastAPI(title="Tradewarden", version=__version__, lifespan=lifespan,
                  docs_url="/docs", openapi_url="/openapi.json")
    app.include_router(health.router)
    return app
