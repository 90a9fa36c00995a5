"""Native position views: events for quantity bought or sold outside Tradewarden."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from tradewarden.api.deps import CallerDep, ServicesDep
from tradewarden.store.tables import PositionEventRow

router = APIRouter(prefix="/api/v1/positions", tags=["positions"])


class PositionEventOut(BaseModel):
    id: int
    account_id: int
    exchange: str
    symbol: str
    kind: str
    quantity: int
    expected: int
    actual: int
    detected_at: datetime


@router.get("/events", response_model=list[PositionEventOut])
async def events(caller: CallerDep, services: ServicesDep,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[PositionEventOut]:
    """``manual_buy`` / ``manual_sell`` events of the caller's accounts, newest first."""
    def query() -> list[PositionEventOut]:
        with services.db.read() as session:
            rows = session.scalars(select(PositionEventRow)
                                   .where(PositionEventRow.user_id == caller.user_id)
                                   .order_by(PositionEventRow.id.desc()).limit(limit))
            return [PositionEventOut(
                id=r.id, account_id=r.account_id, exchange=r.exchange, symbol=r.symbol,
                kind=r.kind, quantity=r.quantity, expected=r.expected, actual=r.actual,
                detected_at=r.detected_at) for r in rows]

    return await services.db.run(query)
