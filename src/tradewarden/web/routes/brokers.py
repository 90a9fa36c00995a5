"""Settings → Broker accounts of real brokers: add one with its options, edit them (a blank
secret is left unchanged, secrets are never shown), remove one with no working order, and the
Kite login: the "Connect" link and ``GET /brokers/kite/callback`` that finishes it."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tradewarden.broker_sessions import LoginFailed, complete_kite_login
from tradewarden.brokers import registry
from tradewarden.brokers.kite.options import KiteOptions
from tradewarden.brokers.registry import BrokerSpec, OptionsError
from tradewarden.cli.users import NAME_PATTERN
from tradewarden.store.repositories import Accounts, AlreadyExists, Removal, RepositoryError
from tradewarden.store.tables import BrokerAccount, User
from tradewarden.web.access import CheckedForm, SessionDep, path_id, services_of
from tradewarden.web.errors import not_found
from tradewarden.web.forms import Form
from tradewarden.web.render import page
from tradewarden.web.sessions import SessionInfo

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
NAME_RULE = "1-64 letters, digits, '_', '.', '-' (starting with a letter or digit)"

#: What ``/settings?done=…`` says after these routes (``error``: shown as an alert).
NOTICES: dict[str, tuple[str, bool]] = {
    "broker_account_added": ("Broker account added. Kite accounts need a login: use Connect.",
                             False),
    "broker_account_saved": ("Account options saved.", False),
    "broker_account_removed": ("Account removed.", False),
    "broker_account_retired": ("Account removed from trading; its orders and trades stay in "
                               "the history.", False),
    "broker_account_busy": ("That account has working orders: cancel them or wait until they "
                            "settle, then remove it.", True),
    "kite_connected": ("Kite login complete: the account is ready until 06:00 IST tomorrow.",
                       False),
    "kite_login_cancelled": ("The Kite login was not completed; nothing was changed.", True),
    "kite_login_failed": ("Kite did not accept that login (the request token was wrong, already "
                          "used or expired, or Kite could not be reached); nothing was changed. "
                          "Use Connect to try again.", True),
}


def option_field(name: str) -> str:
    return f"opt_{name}"


def connect_state(csrf_token: str, account_id: int) -> str:
    """Ties a Kite login to the session that started it (echoed back by Kite)."""
    return hmac.new(csrf_token.encode(), f"kite-connect:{account_id}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def connect_url(account: BrokerAccount, csrf_token: str) -> str | None:
    """Kite's login page for ``account``, naming it (and the session) in ``redirect_params``."""
    if account.broker != "kite" or not account.is_active:
        return None
    spec = registry.spec("kite")
    plain = account.options or {}
    login_option = spec.option("login_url")
    login_url = plain.get("login_url") or (login_option.default if login_option else None)
    api_key = plain.get("api_key")
    if not login_url or not api_key:
        return None
    # only the login URL builder is used: the secret is not needed (nor decrypted) for it
    kite = KiteOptions.model_construct(api_key=api_key, api_secret="",
                                       login_url=login_url.rstrip("/"))
    return kite.login_redirect(urlencode({"account": account.id,
                                          "state": connect_state(csrf_token, account.id)}))


@dataclass(frozen=True, slots=True)
class AccountView:
    """What Settings shows of an account beyond its row."""

    broker_title: str
    state: str
    reason: str | None
    session_expires_at: datetime | None
    connect_url: str | None
    editable: bool


def account_views(accounts: list[BrokerAccount], csrf_token: str) -> dict[int, AccountView]:
    views = {}
    for account in accounts:
        state, reason = registry.effective_state(account.broker, account.state,
                                                 account.state_reason)
        try:
            title = registry.spec(account.broker).title
        except OptionsError:
            title = account.broker
        views[account.id] = AccountView(title, state, reason, account.session_expires_at,
                                        connect_url(account, csrf_token),
                                        account.broker != "paper" and account.is_active)
    return views


def broker_forms() -> list[BrokerSpec]:
    """The brokers Settings offers an "add account" form for (paper has its own)."""
    return [registry.spec(name) for name in registry.brokers() if name != "paper"]


def _given(form: Form, spec: BrokerSpec) -> dict[str, str]:
    return {option.name: form.get(option_field(option.name)) for option in spec.options
            if form.get(option_field(option.name)).strip()}


def _plain_values(form: Form, spec: BrokerSpec) -> dict[str, str]:
    """What to put back in a re-shown form: never a secret."""
    return {option_field(o.name): form.get(option_field(o.name)) for o in spec.options
            if not o.secret}


@router.post("/settings/brokers/{broker}/accounts")
async def add_broker_account(broker: str, request: Request, session: SessionDep,
                             form: CheckedForm) -> Response:
    from tradewarden.web.routes.settings import settings_page

    if broker == "paper" or broker not in registry.brokers():
        return not_found(request, "broker")
    spec = registry.spec(broker)
    name = form.get("account_name")
    values = {"broker": broker, "account_name": name, **_plain_values(form, spec)}
    errors: dict[str, str] = {}
    if not NAME_PATTERN.match(name):
        errors[f"{broker}-account_name"] = f"use {NAME_RULE}"
    given = _given(form, spec)
    try:
        registry.validate(broker, given)
    except OptionsError as exc:
        errors[f"{broker}-options"] = str(exc)
    if errors:
        return await settings_page(request, session, status=422, errors=errors, values=values)
    services = services_of(request)

    def write() -> None:
        with services.db.transaction() as db_session:
            user = db_session.get(User, session.user_id)
            assert user is not None
            Accounts(db_session).add(user, broker=broker, name=name, options=given,
                                     box=services.box)

    try:
        await services.db.run(write)
    except AlreadyExists:
        return await settings_page(request, session, status=409, values=values,
                                   errors={f"{broker}-account_name": "that name is taken"})
    except RepositoryError as exc:
        return await settings_page(request, session, status=422, values=values,
                                   errors={f"{broker}-options": str(exc)})
    return RedirectResponse("/settings?done=broker_account_added#accounts", status_code=303)


def _own(services: Any, user_id: int, number: int | None) -> dict[str, Any] | None:
    """The user's active real-broker account as the edit form shows it (no secrets)."""
    if number is None:
        return None
    with services.db.read() as db_session:
        account = db_session.get(BrokerAccount, number)
        if (account is None or account.user_id != user_id or account.broker == "paper"
                or not account.is_active):
            return None
        secrets_set: set[str] = set()
        if account.credentials_encrypted:
            secrets_set = set(Accounts(db_session).options(account, services.box).secrets)
        return {"id": account.id, "name": account.name, "broker": account.broker,
                "options": dict(account.options or {}), "secrets_set": secrets_set}


async def _edit_page(request: Request, session: SessionInfo, account: dict[str, Any], *,
                     status: int = 200, errors: dict[str, str] | None = None,
                     values: dict[str, str] | None = None) -> Response:
    spec = registry.spec(account["broker"])
    shown = values if values is not None else {
        option_field(name): value for name, value in account["options"].items()}
    return page(request, "broker_account_edit.html", active="settings", status=status,
                account=account, spec=spec, values=shown, errors=errors or {},
                option_field=option_field)


@router.get("/settings/accounts/{account_id}/edit")
async def edit_account(account_id: str, request: Request, session: SessionDep) -> Response:
    services = services_of(request)
    account = await services.db.run(_own, services, session.user_id, path_id(account_id))
    if account is None:
        return not_found(request, "account")
    return await _edit_page(request, session, account)


@router.post("/settings/accounts/{account_id}/edit")
async def save_account(account_id: str, request: Request, session: SessionDep,
                       form: CheckedForm) -> Response:
    services = services_of(request)
    account = await services.db.run(_own, services, session.user_id, path_id(account_id))
    if account is None:
        return not_found(request, "account")
    spec = registry.spec(account["broker"])
    given = {o.name: form.get(option_field(o.name)) for o in spec.options}

    def write() -> None:
        with services.db.transaction() as db_session:
            row = db_session.get(BrokerAccount, account["id"])
            assert row is not None
            Accounts(db_session).update_options(row, services.box, given)

    try:
        await services.db.run(write)
    except RepositoryError as exc:
        return await _edit_page(request, session, account, status=422,
                                values=_plain_values(form, spec), errors={"options": str(exc)})
    return RedirectResponse("/settings?done=broker_account_saved#accounts", status_code=303)


@router.post("/settings/accounts/{account_id}/remove")
async def remove_account(account_id: str, request: Request, session: SessionDep,
                         _form: CheckedForm) -> Response:
    services = services_of(request)
    number = path_id(account_id)

    def write() -> Removal | str | None:
        if number is None:
            return None
        with services.db.transaction() as db_session:
            account = db_session.get(BrokerAccount, number)
            if (account is None or account.user_id != session.user_id or not account.is_active
                    or account.broker == "paper"):
                return None
            try:
                return Accounts(db_session).remove(account)
            except RepositoryError:
                return "broker_account_busy"

    removal = await services.db.run(write)
    if removal is None:
        return not_found(request, "account")
    if isinstance(removal, str):
        done = removal
    else:
        for digest in removal.revoked_keys:  # refused from the next request on
            services.auth.forget(digest)
        done = "broker_account_removed" if removal.deleted else "broker_account_retired"
    return RedirectResponse(f"/settings?done={done}#accounts", status_code=303)


@router.get("/brokers/kite/callback")
async def kite_callback(request: Request, session: SessionDep) -> Response:
    """Where Kite sends the browser after a login: ``?request_token=…&status=success`` plus
    ``redirect_params``' keys (``account``, ``state``). Finishes the exchange for the
    signed-in owner of the account only."""
    query = request.query_params
    number = path_id(query.get("account", ""))
    services = services_of(request)

    def owned() -> bool:
        with services.db.read() as db_session:
            account = db_session.get(BrokerAccount, number)
            return (account is not None and account.user_id == session.user_id
                    and account.is_active)

    if number is None or not await services.db.run(owned):
        return not_found(request, "account")
    if query.get("status") != "success" or not query.get("request_token"):
        return RedirectResponse("/settings?done=kite_login_cancelled#accounts", status_code=303)
    if not hmac.compare_digest(query.get("state", ""), connect_state(session.csrf_token, number)):
        log.warning("kite login for account %s refused: not started from this session", number)
        return RedirectResponse("/settings?done=kite_login_failed#accounts", status_code=303)
    try:
        await complete_kite_login(services.db, services.box, number,
                                  query.get("request_token", ""), user_id=session.user_id)
    except LookupError:
        return not_found(request, "account")
    except LoginFailed as exc:
        log.warning("kite login for account %s failed: %s", number, exc)
        return RedirectResponse("/settings?done=kite_login_failed#accounts", status_code=303)
    return RedirectResponse("/settings?done=kite_connected#accounts", status_code=303)
