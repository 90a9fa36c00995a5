"""A lean dispatch for the OpenAlgo POST routes: the order-placing hot path.

Every OpenAlgo endpoint takes the raw ``Request`` and answers ``JSONResponse`` or raises
``OpenAlgoError``, so FastAPI's per-request machinery (route matching over every route,
dependency solving, the exception and exit-stack middlewares) adds nothing to them but CPU: about
a third of what a ``placeorder`` costs. This ASGI middleware calls the same endpoint functions
directly. The routes stay registered with FastAPI (OpenAPI, and any path this does not match),
so there is one definition of each endpoint. It sits inside FastAPI's outer middlewares: body
size limit, and the server-error handler that turns an unexpected exception into a 500 answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tradewarden.api.openalgo.common import OpenAlgoError, error_response

Endpoint = Callable[[Request], Awaitable[Response]]


def post_endpoints(routers: Iterable[APIRouter]) -> dict[str, Endpoint]:
    """``path → endpoint`` for every POST route of ``routers``."""
    return {route.path: route.endpoint for router in routers for route in router.routes
            if isinstance(route, APIRoute) and "POST" in (route.methods or ())}


class OpenAlgoShortcut:
    """Serve ``POST`` on the given routers' paths by calling their endpoints directly."""

    def __init__(self, app: ASGIApp, routers: Iterable[APIRouter]) -> None:
        self.app = app
        self.endpoints = post_endpoints(routers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (self.endpoints.get(scope["path"])
                    if scope["type"] == "http" and scope["method"] == "POST" else None)
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await endpoint(Request(scope, receive))
        except OpenAlgoError as exc:
            response = error_response(exc)
        await response(scope, receive, send)
