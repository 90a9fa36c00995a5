"""The overview page: today's P&L and curve, orders by status, funds, retry queue, alerts."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tradewarden.api.order_access import day_start
from tradewarden.brokers.base import Funds, Position
from tradewarden.brokers.errors import BrokerError
from tradewarden.clock import IST, utcnow
from tradewarden.domain.statuses import OrderStatus
from tradewarden.services import Services
from tradewarden.store.order_queries import OrderFilter, list_orders, user_fills
from tradewarden.store.tables import BrokerAccount, OrderRow
from tradewarden.web import notification_views, queries, trade_views
from tradewarden.web.access import SessionDep, services_of
from tradewarden.web.charts import FillPoint, intraday_pnl, pnl_svg
from tradewarden.web.render import page
from tradewarden.web.routes.orders import TABS

router = APIRouter(include_in_schema=False)
STATUS_TABS = {status: tab.key for tab in TABS for status in tab.statuses}
log = logging.getLogger(__name__)
BROKER_WAIT_S = 3.0
ZERO = Decimal(0)


@dataclass
class AccountView:
    """One broker account as the overview shows it."""

    id: int
    name: str
    broker: str
    kill_switch: bool
    funds: Funds | None = None
    positions: list[Position] = field(default_factory=list)
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class DbView:
    accounts: list[BrokerAccount]
    counts: dict[str, int]
    queued: dict[str, int]
    fills: list[FillPoint]
    recent: list[OrderRow]
    names: dict[int, str]  # strategies, for the open trades
    alerts: list[notification_views.Alert]
    failed_notifications: int


async def _broker_view(services: Services, row: BrokerAccount) -> AccountView:
    view = AccountView(row.id, row.name, row.broker, row.kill_switch)
    if not row.is_active:
        view.problem = "inactive"
        return view
    try:
        adapter = services.engine.accounts.adapter(row.id)
        view.funds, view.positions = await asyncio.wait_for(
            asyncio.gather(adapter.funds(), adapter.positions()), BROKER_WAIT_S)
    except (BrokerError, KeyError, TimeoutError) as exc:
        log.info("overview: broker data of account %s unavailable: %s", row.id, exc)
        view.problem = "the broker did not answer"
    return view


def _db_view(services: Services, user_id: int, since: datetime) -> DbView:
    with services.db.read() as session:
        fills = [FillPoint(fill.filled_at, f"{order.exchange}:{order.symbol}", order.side,
                           fill.quantity, fill.price)
                 for fill, order in user_fills(session, user_id, since)]
        return DbView(accounts=queries.accounts(session, user_id),
                      counts=queries.status_counts_since(session, user_id, since),
                      queued=queries.queued_counts(session, user_id), fills=fills,
                      recent=list_orders(session, user_id, OrderFilter(), 1, 8).items,
                      names=trade_views.strategy_names(session, user_id),
                      alerts=notification_views.recent_alerts(session, user_id,
                                                              since - timedelta(days=1)),
                      failed_notifications=notification_views.failed_count(session, user_id))


@router.get("/")
async def overview(request: Request, session: SessionDep) -> Response:
    services = services_of(request)
    now = utcnow()
    since = day_start(now.astimezone(IST).date())
    db_view = await services.db.run(_db_view, services, session.user_id, since)
    accounts = list(await asyncio.gather(*(_broker_view(services, row)
                                           for row in db_view.accounts)))
    positions = [p for a in accounts for p in a.positions]
    marks = {f"{p.exchange}:{p.symbol}": p.last_price for p in positions
             if p.last_price is not None}
    curve = intraday_pnl(db_view.fills, marks, now)
    reachable = [a for a in accounts if a.funds is not None]
    views = services.engine.trade_ops.active(session.user_id)
    return page(
        request, "overview.html", active="overview",
        accounts=accounts, counts=db_view.counts, queued=db_view.queued,
        queue_size=sum(db_view.queued.values()), status_tabs=STATUS_TABS,
        statuses=[s.value for s in OrderStatus],
        orders_today=sum(db_view.counts.values()), recent=db_view.recent,
        realised=sum((p.realised_pnl for p in positions), ZERO) if reachable else None,
        unrealised=sum((p.unrealised_pnl for p in positions), ZERO) if reachable else None,
        available=sum((a.funds.available for a in reachable if a.funds), ZERO)
        if reachable else None,
        used_margin=sum((a.funds.used_margin for a in reachable if a.funds), ZERO)
        if reachable else None,
        chart=pnl_svg(curve), curve_points=len(curve), open_positions=sum(
            1 for p in positions if p.quantity),
        open_trades=trade_views.active_rows(views, db_view.names,
                                            trade_views.DEFAULT_NEAR_PERCENT),
        trades_unrealised=sum((v.unrealised_pnl for v in views), ZERO),
        alerts=db_view.alerts, failed_notifications=db_view.failed_notifications)
