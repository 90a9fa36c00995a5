"""Strategies: list, create, edit (with the live risk preview), pause/resume, webhook details and
delete with the active-trades protection dialog.

Writes go through the native API's handlers (``api/strategies.py``) so the rules — name
uniqueness, account ownership, what deleting does with active trades — live in one place.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from tradewarden.api import strategies as strategies_api
from tradewarden.api.strategies import StrategyOut, StrategyPatch
from tradewarden.clock import ist_now
from tradewarden.domain.risk_preview import risk_preview
from tradewarden.services import Services
from tradewarden.store.strategies import Strategies
from tradewarden.store.tables import Strategy
from tradewarden.store.webhook_secrets import webhook_secret_of
from tradewarden.web import queries, strategy_form
from tradewarden.web.access import CheckedForm, SessionDep, caller_of, path_id, services_of
from tradewarden.web.errors import error_page, not_found
from tradewarden.web.render import page, render_text
from tradewarden.web.sessions import SessionInfo
from tradewarden.web.strategy_form import StrategyForm

router = APIRouter(include_in_schema=False)
DEFAULT_SAMPLE_PRICE = Decimal(1000)



def _sample_price(raw: str | None) -> Decimal:
    try:
        price = Decimal((raw or "").replace(",", "").strip() or DEFAULT_SAMPLE_PRICE)
    except InvalidOperation:
        return DEFAULT_SAMPLE_PRICE
    return price if price.is_finite() and 0 < price < Decimal("1e9") else DEFAULT_SAMPLE_PRICE


def _preview_html(form: StrategyForm, sample_price: Decimal) -> str:
    settings = form.settings
    preview = risk_preview(settings, sample_price) if settings is not None else None
    return render_text("_risk_preview.html", preview=preview, form=form,
                       sample_price=sample_price)


def _load(services: Services, user_id: int, strategy_id: int | None) -> dict[str, Any]:
    with services.db.read() as session:
        strategies = Strategies(session, user_id)
        return {"row": strategies.get(strategy_id) if strategy_id else None,
                "rows": strategies.list(),
                "accounts": queries.accounts(session, user_id)}


async def _form_page(request: Request, session: SessionInfo, form: StrategyForm, *,
                     row: Strategy | None = None, status: int = 200,
                     protection: dict[str, Any] | None = None) -> Response:
    services = services_of(request)
    loaded = await services.db.run(_load, services, session.user_id, row.id if row else None)
    webhook_url = (f"{str(request.base_url).rstrip('/')}/webhook/{row.webhook_token}"
                   if row is not None else "")
    secret = (webhook_secret_of(row, services.box) or "") if row is not None else ""
    others = [r for r in loaded["rows"] if row is None or r.id != row.id]
    return page(request, "strategy.html", active="strategies", status=status, form=form,
                strategy=row, webhook_url=webhook_url, webhook_secret=secret,
                accounts=loaded["accounts"], others=others,
                examples=strategy_form.webhook_examples(secret, ist_now().date())
                if row is not None else [],
                preview=_preview_html(strategy_form.parse_for_preview(form.values),
                                      _sample_price(None)), protection=protection,
                here=f"/strategies/{row.id}" if row else "/strategies/new")


@router.get("/strategies")
async def strategies(request: Request, session: SessionDep) -> Response:
    services = services_of(request)
    loaded = await services.db.run(_load, services, session.user_id, None)
    names = {a.id: a.name for a in loaded["accounts"]}
    return page(request, "strategies.html", active="strategies", rows=loaded["rows"],
                account_names=names)


@router.get("/strategies/new")
async def new_strategy(request: Request, session: SessionDep) -> Response:
    return await _form_page(request, session, StrategyForm(strategy_form.defaults()))


@router.get("/strategies/preview")
async def preview(request: Request, session: SessionDep) -> Response:
    """The risk preview for the form as typed (the page's script asks while the user types)."""
    params = dict(request.query_params.items())
    form = strategy_form.parse_for_preview(params)
    html = _preview_html(form, _sample_price(params.get("sample_price")))
    return page(request, "_fragment.html", html=html)


def _api_problem(form: StrategyForm, exc: HTTPException) -> None:
    detail = exc.detail
    if exc.status_code == 409:
        form.errors["name"] = str(detail)
    elif isinstance(detail, list) and detail and isinstance(detail[0], dict):
        where = str(detail[0].get("loc", ["", "form"])[-1])
        form.errors[where if where in strategy_form.FIELD_NAMES else "form"] = str(
            detail[0].get("msg"))
    else:
        form.errors["form"] = str(detail)


@router.post("/strategies/new")
async def create(request: Request, session: SessionDep, posted: CheckedForm) -> Response:
    form = strategy_form.parse(posted)
    if form.model is not None:
        try:
            created: StrategyOut = await strategies_api.create(
                body=form.model, request=request, caller=caller_of(session),
                services=services_of(request))
            return RedirectResponse(f"/strategies/{created.id}?done=created", status_code=303)
        except HTTPException as exc:
            _api_problem(form, exc)
    return await _form_page(request, session, form, status=422)


async def _owned(request: Request, session: SessionInfo, raw_id: str) -> Strategy | None:
    strategy_id = path_id(raw_id)
    if strategy_id is None:
        return None
    services = services_of(request)
    loaded = await services.db.run(_load, services, session.user_id, strategy_id)
    row: Strategy | None = loaded["row"]
    return row


@router.get("/strategies/{strategy_id}")
async def strategy(strategy_id: str, request: Request, session: SessionDep) -> Response:
    row = await _owned(request, session, strategy_id)
    if row is None:
        return not_found(request, "strategy")
    return await _form_page(request, session, StrategyForm(strategy_form.values_of(row)),
                            row=row)


async def _patch(request: Request, session: SessionInfo, row: Strategy,
                 patch: StrategyPatch) -> None:
    await strategies_api.patch(strategy_id=row.id, body=patch, request=request,
                               caller=caller_of(session), services=services_of(request))


@router.post("/strategies/{strategy_id}")
async def save(strategy_id: str, request: Request, session: SessionDep,
               posted: CheckedForm) -> Response:
    row = await _owned(request, session, strategy_id)
    if row is None:
        return not_found(request, "strategy")
    form = strategy_form.parse(posted)
    if form.model is not None:
        body = form.model
        try:
            await _patch(request, session, row, StrategyPatch(
                name=body.name, account_id=body.account_id, mode=body.mode,
                position_guards=body.position_guards, allow_amo=body.allow_amo,
                settings=body.settings))
            return RedirectResponse(f"/strategies/{row.id}?done=saved", status_code=303)
        except HTTPException as exc:
            _api_problem(form, exc)
    return await _form_page(request, session, form, row=row, status=422)


SIMPLE_CHANGES = {"pause": ({"is_paused": True}, "paused"),
                  "resume": ({"is_paused": False}, "resumed"),
                  "rotate-secret": ({"rotate_secret": True}, "rotated")}


@router.post("/strategies/{strategy_id}/delete")
async def delete(strategy_id: str, request: Request, session: SessionDep,
                 posted: CheckedForm) -> Response:
    row = await _owned(request, session, strategy_id)
    if row is None:
        return not_found(request, "strategy")
    choice = posted.get("on_active")
    on_active: Literal["close", "transfer"] | None = (
        "close" if choice == "close" else "transfer" if choice == "transfer" else None)
    target = path_id(posted.get("to")) if posted.get("to") else None
    if (choice and on_active is None) or (on_active == "transfer" and target is None):
        return error_page(request, 422, "Choose to close the active trades, or a strategy to "
                                        "transfer them to.")
    try:
        await strategies_api.delete(strategy_id=row.id, request=request,
                                    caller=caller_of(session),
                                    services=services_of(request), on_active=on_active,
                                    to=target)
    except HTTPException as exc:
        if exc.status_code != 409:
            return error_page(request, exc.status_code, _detail_text(exc.detail))
        detail = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail)}
        return await _form_page(request, session,
                                StrategyForm(strategy_form.values_of(row)), row=row,
                                status=409, protection={
                                    "message": str(detail.get("message", "")),
                                    "trades": list(detail.get("active_trades", []))})
    return RedirectResponse("/strategies?done=deleted", status_code=303)


@router.post("/strategies/{strategy_id}/{change}")
async def simple_change(strategy_id: str, change: str, request: Request, session: SessionDep,
                        _posted: CheckedForm) -> Response:
    row = await _owned(request, session, strategy_id)
    if row is None or change not in SIMPLE_CHANGES:
        return not_found(request, "strategy")
    values, done = SIMPLE_CHANGES[change]
    try:
        await _patch(request, session, row, StrategyPatch.model_validate(values))
    except HTTPException as exc:
        return error_page(request, exc.status_code, _detail_text(exc.detail))
    return RedirectResponse(f"/strategies/{row.id}?done={done}", status_code=303)


def _detail_text(detail: Any) -> str:
    if isinstance(detail, dict):
        return str(detail.get("message", detail))
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("msg", detail))
    return str(detail)
