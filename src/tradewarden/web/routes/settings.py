"""Settings: API keys (create shows the key once; revoke), broker accounts (real brokers'
routes are in :mod:`tradewarden.web.routes.brokers`), the kill switch."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tradewarden.broker_setup import paper_mode
from tradewarden.cli.users import NAME_PATTERN
from tradewarden.services import Services
from tradewarden.store.repositories import Accounts, ApiKeys, IssuedKey, RepositoryError
from tradewarden.store.tables import User
from tradewarden.web import queries
from tradewarden.web.access import CheckedForm, SessionDep, path_id, services_of
from tradewarden.web.errors import not_found
from tradewarden.web.render import page
from tradewarden.web.routes import brokers
from tradewarden.web.sessions import SessionInfo

router = APIRouter(include_in_schema=False)
MAX_CASH = Decimal("1e12")
NAME_RULE = "1-64 letters, digits, '_', '.', '-' (starting with a letter or digit)"


def _load(services: Services, user_id: int, csrf_token: str) -> dict[str, Any]:
    with services.db.read() as session:
        accounts = queries.accounts(session, user_id)
        return {"keys": ApiKeys(session).all(user_id),
                "accounts": accounts,
                "account_views": brokers.account_views(accounts, csrf_token),
                "broker_forms": brokers.broker_forms(),
                "broker_notices": brokers.NOTICES,
                "option_field": brokers.option_field,
                "paper_mode": paper_mode(services.settings)}


async def settings_page(request: Request, session: SessionInfo, *, status: int = 200,
                         errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                         new_key: IssuedKey | None = None) -> Response:
    services = services_of(request)
    loaded = await services.db.run(_load, services, session.user_id, session.csrf_token)
    return page(request, "settings.html", active="settings", status=status,
                errors=errors or {}, values=values or {}, new_key=new_key, **loaded)


@router.get("/settings")
async def settings(request: Request, session: SessionDep) -> Response:
    return await settings_page(request, session)



@router.post("/settings/apikeys")
async def create_key(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    name = form.get("key_name") or "dashboard"
    if not NAME_PATTERN.match(name):
        return await settings_page(request, session, status=422, values={"key_name": name},
                                    errors={"key_name": f"use {NAME_RULE}"})
    services = services_of(request)

    def write() -> IssuedKey:
        with services.db.transaction() as db_session:
            user = db_session.get(User, session.user_id)
            assert user is not None
            return ApiKeys(db_session).create(user, name=name)

    issued = await services.db.run(write)
    return await settings_page(request, session, status=201, new_key=issued)


@router.post("/settings/apikeys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request, session: SessionDep,
                     _form: CheckedForm) -> Response:
    services = services_of(request)
    number = path_id(key_id)

    def write() -> str | None:
        if number is None:
            return None
        with services.db.transaction() as db_session:
            return ApiKeys(db_session).revoke(number, session.user_id)

    digest = await services.db.run(write)
    if digest is None:
        return not_found(request, "active API key")
    services.auth.forget(digest)  # refused from the next request on, not after the cache TTL
    return RedirectResponse("/settings?done=revoked", status_code=303)


@router.post("/settings/accounts")
async def add_account(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    name, cash_text = form.get("account_name"), form.get("cash").replace(",", "")
    values = {"account_name": name, "cash": cash_text}
    errors: dict[str, str] = {}
    if not NAME_PATTERN.match(name):
        errors["account_name"] = f"use {NAME_RULE}"
    cash: Decimal | None = None
    if cash_text:
        try:
            cash = Decimal(cash_text)
        except InvalidOperation:
            cash = None
        if cash is None or not cash.is_finite() or not 0 <= cash <= MAX_CASH:
            errors["cash"] = "enter an amount between 0 and 10^12"
    if errors:
        return await settings_page(request, session, status=422, errors=errors, values=values)
    services = services_of(request)

    def write() -> None:
        with services.db.transaction() as db_session:
            user = db_session.get(User, session.user_id)
            assert user is not None
            Accounts(db_session).add(user, broker="paper", name=name, initial_cash=cash)

    try:
        await services.db.run(write)
    except RepositoryError:
        return await settings_page(request, session, status=409, values=values,
                                    errors={"account_name": "that account name is taken"})
    return RedirectResponse("/settings?done=account_added", status_code=303)


@router.post("/settings/accounts/{account_id}/kill-switch")
async def kill_switch(account_id: str, request: Request, session: SessionDep,
                      form: CheckedForm) -> Response:
    number = path_id(account_id)
    state = form.get("state")
    if number is None or state not in ("on", "off"):
        return not_found(request, "account")
    services = services_of(request)

    def write() -> bool:
        with services.db.transaction() as db_session:
            return queries.set_kill_switch(db_session, session.user_id, number, state == "on")

    if not await services.db.run(write):
        return not_found(request, "account")
    return RedirectResponse(f"/settings?done=kill_switch_{state}", status_code=303)
