"""Orders: status tabs, filters and pages; one order's timeline; retry, drop and cancel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import QueryParams

from tradewarden.api import order_access
from tradewarden.api.order_access import OrderActionError
from tradewarden.domain.reasons import ReasonCode
from tradewarden.services import Services
from tradewarden.store.order_queries import list_orders
from tradewarden.store.repositories import Orders
from tradewarden.store.tables import OrderRow
from tradewarden.web import queries
from tradewarden.web.access import CheckedForm, SessionDep, safe_next, services_of, wants_json
from tradewarden.web.errors import error_page, not_found
from tradewarden.web.render import page

router = APIRouter(include_in_schema=False)
PAGE_SIZES = (25, 50, 100, 200)
WORKING = ("created", "submitting", "open", "partially_filled", "pending_cancel",
           "pending_modify")
QUEUED = ("failed", "retry_pending")


@dataclass(frozen=True, slots=True)
class Tab:
    key: str
    label: str
    statuses: tuple[str, ...] = ()
    origin: str | None = None


TABS = (
    Tab("all", "All"), Tab("open", "Open", WORKING), Tab("failed", "Failed", ("failed",)),
    Tab("retry_pending", "Retry pending", ("retry_pending",)),
    Tab("rejected", "Rejected", ("rejected",)), Tab("denied", "Denied", ("denied",)),
    Tab("cancelled", "Cancelled", ("cancelled", "expired")),
    Tab("filled", "Filled", ("filled",)), Tab("external", "External", origin="external"),
)
TAB_BY_KEY = {tab.key: tab for tab in TABS}
FILTER_FIELDS = ("symbol", "strategy", "reason", "from", "to", "size")


@dataclass
class ListRequest:
    """The orders page's query string, checked; ``errors`` maps a field to its problem."""

    tab: Tab
    values: dict[str, str]
    page: int = 1
    size: int = 50
    from_date: date | None = None
    to_date: date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def link(self, **changes: Any) -> str:
        """This list's URL with some parameters changed (page links, tabs)."""
        merged = {"tab": self.tab.key, **{k: v for k, v in self.values.items() if v},
                  "page": str(self.page), **{k: str(v) for k, v in changes.items()}}
        if merged.get("page") == "1":
            merged.pop("page")
        return "/orders?" + str(QueryParams({k: v for k, v in merged.items() if v}))


def _parse(params: QueryParams) -> ListRequest:
    values = {name: params.get(name, "").strip()[:64] for name in FILTER_FIELDS}
    tab = TAB_BY_KEY.get(params.get("tab", "all"), TAB_BY_KEY["all"])
    req = ListRequest(tab, values)
    if params.get("tab", "all") not in TAB_BY_KEY:
        req.errors["tab"] = "unknown tab"
    raw_page = params.get("page", "1")
    if raw_page.isdecimal() and raw_page.isascii() and 1 <= int(raw_page) <= 1_000_000:
        req.page = int(raw_page)
    else:
        req.errors["page"] = "page must be a number from 1"
    if values["size"]:
        if values["size"].isdecimal() and int(values["size"]) in PAGE_SIZES:
            req.size = int(values["size"])
        else:
            req.errors["size"] = f"rows per page: one of {', '.join(map(str, PAGE_SIZES))}"
    if values["reason"] and values["reason"] not in {r.value for r in ReasonCode}:
        req.errors["reason"] = "unknown reason"
    for name in ("from", "to"):
        if values[name]:
            try:
                setattr(req, f"{name}_date", date.fromisoformat(values[name]))
            except ValueError:
                req.errors[name] = "use a date like 2026-11-23"
    if req.from_date and req.to_date and req.from_date > req.to_date:
        req.errors["to"] = "must not be before the start date"
    return req


def _list(services: Services, user_id: int, req: ListRequest) -> dict[str, Any]:
    with services.db.read() as session:
        context: dict[str, Any] = {"queued": queries.queued_counts(session, user_id),
                                   "strategies": queries.strategy_names(session, user_id)}
        if req.errors:
            return {**context, "rows": [], "total": 0, "total_pages": 0}
        try:
            flt = order_access.order_filter(
                statuses=req.tab.statuses, origin=req.tab.origin,
                symbol=req.values["symbol"].upper(), strategy=req.values["strategy"],
                reason=req.values["reason"], from_date=req.from_date, to_date=req.to_date)
        except order_access.FilterError as exc:
            req.errors[{"from_date": "from", "to_date": "to"}.get(exc.field, exc.field)] = (
                exc.message)
            return {**context, "rows": [], "total": 0, "total_pages": 0}
        result = list_orders(session, user_id, flt, req.page, req.size)
        return {**context, "rows": result.items, "total": result.total,
                "total_pages": result.total_pages}


@router.get("/orders")
async def orders(request: Request, session: SessionDep) -> Response:
    services = services_of(request)
    req = _parse(request.query_params)
    found = await services.db.run(_list, services, session.user_id, req)
    return page(request, "orders.html", active="orders", status=422 if req.errors else 200,
                tabs=TABS, req=req, reasons=[r.value for r in ReasonCode],
                page_sizes=PAGE_SIZES, here=req.link(), **found)


@router.get("/orders/{order_id}")
async def order(order_id: str, request: Request, session: SessionDep) -> Response:
    services = services_of(request)

    def query() -> dict[str, Any] | None:
        with services.db.read() as db_session:
            orders = Orders(db_session, session.user_id)
            row = orders.get(order_id[:64])
            if row is None:
                return None
            return {"order": row, "events": orders.events(row.id), "fills": orders.fills(row.id)}

    found = await services.db.run(query)
    if found is None:
        return not_found(request, "order")
    return page(request, "order.html", active="orders", here=f"/orders/{order_id}", **found)


Action = Callable[[Services, int, str], Awaitable[OrderRow]]
ACTIONS: dict[str, tuple[Action, str]] = {
    "retry": (order_access.retry_order, "queued for an immediate retry"),
    "drop": (order_access.drop_order, "dropped from the retry queue"),
    "cancel": (order_access.cancel_order, "cancel requested"),
}


@router.post("/orders/{order_id}/{action}")
async def act(order_id: str, action: str, request: Request, session: SessionDep,
              form: CheckedForm) -> Response:
    if action not in ACTIONS:
        return not_found(request)
    perform, done = ACTIONS[action]
    services = services_of(request)
    try:
        row = await perform(services, session.user_id, order_id[:64])
    except OrderActionError as exc:
        if exc.status == 404:
            return not_found(request, "order")
        return error_page(request, exc.status, exc.message)
    message = f"Order {row.symbol} {row.side} {row.quantity}: {done}."
    if wants_json(request):
        return JSONResponse({"status": "success", "message": message,
                             "order": {"orderid": row.id, "status": row.status,
                                       "retry_count": row.retry_count}})
    target = safe_next(form.get("next"), f"/orders/{row.id}")
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}done={action}", status_code=303)
