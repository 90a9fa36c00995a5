"""Sign in and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tradewarden.api.auth import client_address
from tradewarden.web import csrf
from tradewarden.web.access import CheckedForm, safe_next, services_of
from tradewarden.web.forms import read_form
from tradewarden.web.render import page
from tradewarden.web.sessions import SESSION_COOKIE
from tradewarden.web.signin import LoginLimiter, check_credentials

router = APIRouter(include_in_schema=False)
LOGIN_FORM_TTL_S = 3600


def _limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(request: Request, *, next_path: str, username: str = "", error: str = "",
                status: int = 200) -> Response:
    token = csrf.new_token()
    response = page(request, "login.html", status=status, next_path=next_path,
                    username=username, error=error, login_token=token)
    response.set_cookie(csrf.LOGIN_CSRF_COOKIE, token, max_age=LOGIN_FORM_TTL_S, path="/login",
                        httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    services = services_of(request)
    if await services.web_sessions.lookup(request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    csrf.check(request, request.cookies.get(csrf.LOGIN_CSRF_COOKIE), form.raw(csrf.CSRF_FIELD))
    username = form.get("username")[:64]
    password = form.raw("password") or ""
    next_path = safe_next(form.get("next"))
    client = client_address(request)
    limiter = _limiter(request)
    if limiter.blocked(client, username):
        return _login_page(request, next_path=next_path, username=username, status=429,
                           error="Too many failed sign-ins. Wait a few minutes and try again.")
    services = services_of(request)
    account = await check_credentials(services.db, username, password)
    if account is None:
        limiter.record(client, username)
        return _login_page(request, next_path=next_path, username=username, status=401,
                           error="Wrong username or password.")
    token, _session = await services.web_sessions.create(
        account.user_id, client, request.headers.get("user-agent"))
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, path="/", httponly=True, samesite="lax",
                        secure=_secure(request),
                        max_age=int(services.web_sessions.lifetime.total_seconds()))
    response.delete_cookie(csrf.LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, _form: CheckedForm) -> Response:
    await services_of(request).web_sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
