"""FastAPI dependencies: the running services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from tradewarden.api.auth import AuthError, Caller, client_address, key_from_headers
from tradewarden.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def native_caller(request: Request) -> Caller:
    """The caller of a native endpoint (``X-API-Key`` or ``Authorization: Bearer``)."""
    services = get_services(request)
    return await services.auth.authenticate(key_from_headers(request), client_address(request))


ServicesDep = Annotated[Services, Depends(get_services)]
CallerDep = Annotated[Caller, Depends(native_caller)]


def auth_error_response(exc: AuthError) -> JSONResponse:
    headers = {"Retry-After": "60"} if exc.status == 429 else None
    return JSONResponse({"status": "error", "message": exc.message}, status_code=exc.status,
                        headers=headers)
