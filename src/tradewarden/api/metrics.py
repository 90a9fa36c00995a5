"""``GET /metrics``: Prometheus text format (aggregate numbers only, no per-user data)."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select

from tradewarden.api.deps import ServicesDep
from tradewarden.metrics import ACCOUNT_STATE, ACCOUNT_STATE_HELP, Labels, account_state_series
from tradewarden.store.repositories import Accounts
from tradewarden.store.tables import OrderRow

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    def counts() -> dict[Labels, float]:
        with services.db.read() as session:
            rows = session.execute(
                select(OrderRow.status, func.count()).group_by(OrderRow.status)).all()
            return {(("status", status),): float(count) for status, count in rows}

    def states() -> dict[Labels, float]:
        with services.db.read() as session:
            return account_state_series(Accounts(session).states())

    registry = services.engine.metrics
    registry.describe("tradewarden_orders", "gauge", "Orders by status.")
    registry.describe(ACCOUNT_STATE, "gauge", ACCOUNT_STATE_HELP)
    trades = services.engine.trades
    for name, value, text in (
            ("tradewarden_trades_open", len(trades.trades), "Active and exiting trades."),
            ("tradewarden_trade_state_writes_queued", trades.writer.queued,
             "Trade state writes waiting in memory for the database."),
            ("tradewarden_database_degraded", int(trades.degraded),
             "1 while trade state cannot be written to the database.")):
        registry.describe(name, "gauge", text)
        registry.set(name, value)
    extra: dict[str, dict[Labels, float]] = {}
    with contextlib.suppress(Exception):  # database away: still report what the engine knows
        extra["tradewarden_orders"] = await services.db.run(counts)
    with contextlib.suppress(Exception):
        extra[ACCOUNT_STATE] = await services.db.run(states)
    text = registry.render(extra)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
