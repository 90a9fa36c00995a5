"""Trades: active trades with live LTP and P&L, levels close to the price highlighted, the
per-strategy summary and the history; one trade's page with the modify-levels form; exit.

Writes go through ``TradeOperations`` (``engine.trade_ops``) like the trades API, so the rules
— which levels are valid for the side and the last price, when a trade can still change — live
in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import QueryParams

from tradewarden.api.order_access import day_start
from tradewarden.clock import ist_now
from tradewarden.domain.trades import EXIT_REASON_TEXT, Trade, TradeError, TradeStatus
from tradewarden.engine.trades.operations import TradeConflict, TradeNotFound, TradeView
from tradewarden.services import Services
from tradewarden.store import trades as trade_store
from tradewarden.store.strategies import Strategies
from tradewarden.store.tables import TradeEventRow
from tradewarden.web import trade_form, trade_views
from tradewarden.web.access import (
    CheckedForm,
    SessionDep,
    path_id,
    safe_next,
    services_of,
    wants_json,
)
from tradewarden.web.errors import error_page, not_found
from tradewarden.web.render import page
from tradewarden.web.sessions import SessionInfo
from tradewarden.web.trade_form import LevelsForm

router = APIRouter(include_in_schema=False)
FILTERS = ("strategy", "from", "to", "near")
HISTORY_DAYS = 7  # the history shows the last week unless dates are given
MAX_NEAR = Decimal(10)


@dataclass
class TradesQuery:
    """The trades page's query string, checked; ``errors`` maps a field to its problem."""

    values: dict[str, str]
    strategy_id: int | None = None
    from_date: date | None = None
    to_date: date | None = None
    near: Decimal = trade_views.DEFAULT_NEAR_PERCENT
    errors: dict[str, str] = field(default_factory=dict)



def _parse(params: QueryParams, today: date) -> TradesQuery:
    values = {name: params.get(name, "").strip()[:32] for name in FILTERS}
    query = TradesQuery(values)
    if values["strategy"]:
        query.strategy_id = path_id(values["strategy"])
        if query.strategy_id is None:
            query.errors["strategy"] = "unknown strategy"
    for name in ("from", "to"):
        if values[name]:
            try:
                setattr(query, f"{name}_date", date.fromisoformat(values[name]))
            except ValueError:
                query.errors[name] = "use a date like 2026-11-23"
    if not values["from"] and not values["to"]:
        query.from_date = today - timedelta(days=HISTORY_DAYS - 1)
        values["from"] = query.from_date.isoformat()
    if query.from_date and query.to_date and query.from_date > query.to_date:
        query.errors["to"] = "must not be before the start date"
    if values["near"]:
        try:
            query.near = Decimal(values["near"])
        except InvalidOperation:
            query.near = Decimal(-1)
        if not query.near.is_finite() or not 0 < query.near <= MAX_NEAR:
            query.errors["near"] = f"a percentage above 0, at most {MAX_NEAR}"
            query.near = trade_views.DEFAULT_NEAR_PERCENT
    return query


@dataclass(frozen=True, slots=True)
class Loaded:
    names: dict[int, str]
    current: list[tuple[int, str]]  # strategies not deleted, for the filter
    realised: dict[int | None, Decimal]


def _load(services: Services, user_id: int, today: date) -> Loaded:
    with services.db.read() as session:
        return Loaded(trade_views.strategy_names(session, user_id),
                      [(row.id, row.name) for row in Strategies(session, user_id).list()],
                      trade_store.realised_on(session, today, user_id=user_id))


@router.get("/trades")
async def trades(request: Request, session: SessionDep) -> Response:
    services = services_of(request)
    ops = services.engine.trade_ops
    today = ist_now().date()
    query = _parse(request.query_params, today)
    loaded = await services.db.run(_load, services, session.user_id, today)
    if query.strategy_id is not None and query.strategy_id not in loaded.names:
        query.errors["strategy"] = "unknown strategy"
    history: list[Trade] = []
    views: list[TradeView] = []
    realised = loaded.realised
    if not query.errors:
        views = ops.active(session.user_id, query.strategy_id)
        history = await ops.history(
            session.user_id, strategy_id=query.strategy_id,
            since=day_start(query.from_date) if query.from_date else None,
            until=day_start(query.to_date + timedelta(days=1)) if query.to_date else None)
        if query.strategy_id is not None:
            realised = {k: v for k, v in realised.items() if k == query.strategy_id}
    return page(
        request, "trades.html", active="trades", status=422 if query.errors else 200,
        query=query, strategies=loaded.current,
        rows=trade_views.active_rows(views, loaded.names, query.near),
        summary=trade_views.summarise(views, realised if not query.errors else {}, loaded.names),
        history=history, names=loaded.names, reasons=EXIT_REASON_TEXT,
        history_total=sum((t.realised_pnl for t in history), Decimal(0)),
        here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))


# --- one trade ---------------------------------------------------------------------------


async def _owned(services: Services, user_id: int, raw_id: str) -> Trade | None:
    """The user's trade: the live one while it is open, else as stored."""
    trade_id = path_id(raw_id)
    if trade_id is None:
        return None
    live = services.engine.trade_ops.manager.trades.get(trade_id)
    if live is not None:
        return live if live.user_id == user_id else None

    def read() -> Trade | None:
        with services.db.read() as session:
            return trade_store.trade_by_id(session, trade_id, user_id)

    return await services.db.run(read)


async def _trade_page(request: Request, session: SessionInfo, trade: Trade, *,
                      form: LevelsForm | None = None, status: int = 200) -> Response:
    services = services_of(request)
    ops = services.engine.trade_ops
    open_now = trade.id in ops.manager.trades
    view = ops.view(trade) if open_now else None

    def read() -> tuple[dict[int, str], list[TradeEventRow]]:
        with services.db.read() as db_session:
            history = trade_store.trade_events(db_session, trade.id)
            db_session.expunge_all()
            return trade_views.strategy_names(db_session, session.user_id), history

    names, history = await services.db.run(read)
    editable = trade.status is TradeStatus.ACTIVE and not ops.manager.is_exiting(trade.id)
    return page(request, "trade.html", active="trades", status=status, trade=trade, view=view,
                strategy=trade_views.strategy_label(trade, names), editable=editable,
                near=trade_views.near_levels(view, trade_views.DEFAULT_NEAR_PERCENT)
                if view else frozenset(), near_percent=trade_views.DEFAULT_NEAR_PERCENT,
                form=form or LevelsForm(trade_form.values_of(trade)),
                reasons=EXIT_REASON_TEXT, here=f"/trades/{trade.id}", history=history)


@router.get("/trades/{trade_id}")
async def trade(trade_id: str, request: Request, session: SessionDep) -> Response:
    found = await _owned(services_of(request), session.user_id, trade_id)
    if found is None:
        return not_found(request, "trade")
    return await _trade_page(request, session, found)


@router.post("/trades/{trade_id}")
async def modify(trade_id: str, request: Request, session: SessionDep,
                 posted: CheckedForm) -> Response:
    """Change the stop-loss, target or trailing stop (an empty price removes that level)."""
    services = services_of(request)
    found = await _owned(services, session.user_id, trade_id)
    if found is None:
        return not_found(request, "trade")
    form = trade_form.parse(posted, found)
    if form.errors:
        return await _trade_page(request, session, found, form=form, status=422)
    if not form.changes:
        return RedirectResponse(f"/trades/{found.id}?done=levels_unchanged", status_code=303)
    try:
        updated = await services.engine.trade_ops.update(session.user_id, found.id,
                                                         **form.changes, source="web")
    except TradeNotFound:
        return not_found(request, "trade")
    except TradeConflict as exc:
        form.errors["form"] = f"Not changed: {trade_form.readable(str(exc))}."
        return await _trade_page(request, session, found, form=form, status=409)
    except TradeError as exc:
        trade_form.refused(form, str(exc))
        return await _trade_page(request, session, found, form=form, status=422)
    return RedirectResponse(f"/trades/{updated.id}?done=levels_saved", status_code=303)


@router.post("/trades/{trade_id}/exit")
async def exit_trade(trade_id: str, request: Request, session: SessionDep,
                     form: CheckedForm) -> Response:
    """Exit now at market (reason ``manual_exit``)."""
    number = path_id(trade_id)
    if number is None:
        return not_found(request, "trade")
    try:
        trade = await services_of(request).engine.trade_ops.exit(session.user_id, number)
    except TradeNotFound:
        return not_found(request, "trade")
    except TradeError as exc:
        return error_page(request, 409, f"Not exited: {exc}.")
    message = (f"Exit order placed for trade {trade.id} ({trade.side.value} "
               f"{trade.open_quantity} {trade.key}).")
    if wants_json(request):
        return JSONResponse({"status": "success", "message": message,
                             "trade": {"trade_id": trade.id, "status": trade.status.value}})
    target = safe_next(form.get("next"), f"/trades/{trade.id}")
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}done=exit_requested", status_code=303)

