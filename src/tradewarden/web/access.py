"""Who is asking: the signed-in session of a dashboard request, and checked form posts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tradewarden.api.auth import Caller
from tradewarden.services import Services
from tradewarden.web import csrf
from tradewarden.web.forms import Form, read_form
from tradewarden.web.sessions import SESSION_COOKIE, SessionInfo


class LoginRequired(Exception):
    """No live session: pages redirect to the sign-in form, posts are refused."""


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def current_session(request: Request) -> SessionInfo:
    """The caller's live session (raises ``LoginRequired``)."""
    services = services_of(request)
    info = await services.web_sessions.lookup(request.cookies.get(SESSION_COOKIE))
    if info is None:
        raise LoginRequired()
    request.state.web_session = info
    return info


SessionDep = Annotated[SessionInfo, Depends(current_session)]


async def checked_form(request: Request, session: SessionDep) -> Form:
    """The posted form, after the origin and synchronizer-token checks (``csrf.check``)."""
    if not csrf.same_origin(request):
        raise csrf.CsrfRejected("cross-site request refused")
    form = await read_form(request)
    submitted = form.raw(csrf.CSRF_FIELD) or request.headers.get(csrf.CSRF_HEADER)
    csrf.check(request, session.csrf_token, submitted)
    return form


#: Every state-changing dashboard route takes its input through this dependency.
CheckedForm = Annotated[Form, Depends(checked_form)]


def caller_of(session: SessionInfo) -> Caller:
    """The session's user in the shape the API's handlers take."""
    return Caller(session.user_id, session.username, session.is_admin)


def safe_next(path: str | None, default: str = "/") -> str:
    """A local path to go back to; anything else (other hosts, schemes) becomes ``default``."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    if any(ord(c) < 32 for c in path) or len(path) > 2000:
        return default
    return path


def wants_json(request: Request) -> bool:
    """Posts made by the page's JavaScript ask for JSON instead of a redirect."""
    return "application/json" in request.headers.get("accept", "")


def path_id(raw: str) -> int | None:
    """A positive database id from a URL segment, or None (then the page answers 404)."""
    return int(raw) if raw.isascii() and raw.isdecimal() and 0 < int(raw) < 2**31 else None
