"""A lean dispatch for the OpenAlgo POST routes: the order-placing hot path.

Every OpenAlgo endpoint takes the raw ``Request`` and answers ``JSONResponse`` or raises
``OpenAlgoError``, so FastAPI's per-request machinery (its middleware stack, route matching over
every route, dependency solving) adds nothing to them but CPU: about a third of what a
``placeorder`` cost. The app (``api/app.py``) asks this shortcut first and calls the same
endpoint functions directly. The routes stay registered with FastAPI (OpenAPI, and any method or
path this does not match), so there is one definition of each endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tradewarden.api.openalgo.common import OpenAlgoError, error_response

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


def post_endpoints(routers: Iterable[APIRouter]) -> dict[str, Endpoint]:
    """``path → endpoint`` for every POST route of ``routers``."""
    return {route.path: route.endpoint for router in routers for route in router.routes
            if isinstance(route, APIRoute) and "POST" in (route.methods or ())}


class OpenAlgoShortcut:
    """Serves ``POST`` on the given routers' paths by calling their endpoints directly."""

    def __init__(self, routers: Iterable[APIRouter]) -> None:
        self.endpoints = post_endpoints(routers)

    async def handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request if it is one of ours (True); else leave it untouched (False).

        An unexpected exception is logged and answered 500, as the app's own handler would.
        """
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        endpoint = self.endpoints.get(scope["path"])
        if endpoint is None:
            return False
        scope["app"] = app  # what Starlette sets: endpoints reach the services through it
        try:
            response = await endpoint(Request(scope, receive))
        except OpenAlgoError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("unhandled error on POST %s", scope["path"])
            response = JSONResponse({"status": "error", "message": "internal error"},
                                    status_code=500)
        await response(scope, receive, send)
        return True
