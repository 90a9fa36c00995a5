"""Cross-site request forgery defences for every state-changing dashboard request.

Two independent checks, both required:

1. **Origin** — a browser names the page a request comes from in ``Origin`` (or at least
   ``Referer``). Its host must be ours; a request naming another site is refused. Requests with
   neither header (old clients, privacy proxies) fall through to the token check.
2. **Synchronizer token** — every form carries ``csrf_token``, a random value stored with the
   server-side session (or, before sign-in, a double-submit cookie on the login form). JavaScript
   posts send the same value. A missing or different token is refused.

Cookies are also ``SameSite=Lax``, so cross-site POSTs do not even carry the session.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from tradewarden.security import constant_time_equal

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_CSRF_COOKIE = "tw_login_csrf"


class CsrfRejected(Exception):
    """A state-changing request failed the origin or token check (answered 403)."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _host_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        return None
    return parts.netloc.lower()


def own_host(connection: HTTPConnection) -> str:
    return connection.headers.get("host", "").lower()


def same_origin(connection: HTTPConnection) -> bool:
    """False when ``Origin`` (else ``Referer``) names another host than ours."""
    origin = connection.headers.get("origin")
    if origin is not None:
        return _host_of(origin) == own_host(connection)
    referer = connection.headers.get("referer")
    if referer:
        return _host_of(referer) == own_host(connection)
    return True


def check(connection: HTTPConnection, expected: str | None, submitted: str | None) -> None:
    """Raise ``CsrfRejected`` unless the request is same-origin and carries the right token."""
    if not same_origin(connection):
        raise CsrfRejected("cross-site request refused")
    if not expected or not submitted or not constant_time_equal(expected, submitted):
        raise CsrfRejected("the form has expired or did not come from this site; "
                           "reload the page and try again")
