"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tradewarden import __version__
from tradewarden.brokers.registry import READY
from tradewarden.services import Services
from tradewarden.store.repositories import Accounts

router = APIRouter(tags=["health"])


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 once the engine has started; 503 while starting or stopping."""
    services = _services(request)
    if not services.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    return JSONResponse({"status": "ok", "version": __version__})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 when the engine is ready and the database answers; 503 otherwise. ``degraded``
    tells what still works but not fully: trade state queued in memory while the database is
    away, price feeds running on polling because their stream is down, broker accounts that
    are not ``ready`` (listed in ``accounts``: name, broker, state, reason, session expiry)."""
    services = _services(request)
    checks = {"engine": services.ready, "database": await _database_answers(services)}
    ok = all(checks.values())
    trades = services.engine.trades
    feeds = trades.feeds()
    not_ready = await _accounts_not_ready(services) if checks["database"] else []
    degraded = {
        "trade_state_writes_queued": trades.writer.queued,
        "database_degraded": trades.degraded,
        "price_feeds_down": sum(1 for feed in feeds if not feed.connected),
        "accounts_not_ready": len(not_ready),
    }
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks,
                         "degraded": degraded, "accounts": not_ready},
                        status_code=200 if ok else 503)


async def _accounts_not_ready(services: Services) -> list[dict[str, object]]:
    def read() -> list[dict[str, object]]:
        with services.db.read() as session:
            return [state.public() for state in Accounts(session).states()
                    if state.state != READY]

    try:
        return await services.db.run(read)
    except Exception:
        return []


async def _database_answers(services: Services) -> bool:
    def ping() -> bool:
        with services.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True

    try:
        return await services.db.run(ping)
    except Exception:
        return False
