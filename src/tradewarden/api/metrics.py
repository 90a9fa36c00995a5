"""``GET /metrics``: Prometheus text format (aggregate numbers only, no per-user data)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select

from tradewarden.api.deps import ServicesDep
from tradewarden.metrics import Labels
from tradewarden.store.tables import OrderRow

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    def counts() -> dict[Labels, float]:
        with services.db.read() as session:
            rows = session.execute(
                select(OrderRow.status, func.count()).group_by(OrderRow.status)).all()
            return {(("status", status),): float(count) for status, count in rows}

    registry = services.engine.metrics
    registry.describe("tradewarden_orders", "gauge", "Orders by status.")
    text = registry.render({"tradewarden_orders": await services.db.run(counts)})
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
