"""Error answers of the dashboard: a page for the browser, JSON for the page's own scripts."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tradewarden.web.access import LoginRequired, safe_next, wants_json
from tradewarden.web.csrf import CsrfRejected
from tradewarden.web.forms import FormRejected
from tradewarden.web.render import page

TITLES = {400: "Bad request", 401: "Signed out", 403: "Refused", 404: "Not found",
          405: "Not allowed", 409: "Not possible right now", 413: "Too large",
          415: "Unsupported form", 422: "Check your input", 429: "Too many attempts",
          503: "Unavailable"}


def error_page(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"status": "error", "message": message}, status_code=status)
    return page(request, "error.html", status=status, title=TITLES.get(status, "Error"),
                message=message)


def not_found(request: Request, what: str = "page") -> Response:
    return error_page(request, 404, f"There is no such {what}, or it is not yours.")


def install_handlers(app: FastAPI) -> None:
    """Dashboard exceptions → pages (API routes never raise these)."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        if request.method == "GET" and not wants_json(request):
            target = safe_next(request.url.path + (f"?{request.url.query}"
                                                   if request.url.query else ""))
            return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        return error_page(request, 401, "Your session has ended; sign in again.")

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, exc: CsrfRejected) -> Response:
        return error_page(request, 403, str(exc))

    @app.exception_handler(FormRejected)
    async def _form(request: Request, exc: FormRejected) -> Response:
        return error_page(request, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # JSON for the API (FastAPI's shape); pages for browsers on dashboard paths
        accepts_html = "text/html" in request.headers.get("accept", "")
        if accepts_html and not request.url.path.startswith(("/api/", "/webhook/")):
            return error_page(request, exc.status_code, str(exc.detail))
        return await http_exception_handler(request, exc)
