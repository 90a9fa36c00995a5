"""Request parsing, authentication and response formatting shared by the OpenAlgo routes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from tradewarden.api.auth import AuthError, Caller, client_address, key_from_headers
from tradewarden.api.json_body import JsonBodyError, decode_json
from tradewarden.api.openalgo.requests import field_errors, unfilled_placeholder
from tradewarden.clock import IST
from tradewarden.domain.orders import OrderType
from tradewarden.services import Services
from tradewarden.store.tables import OrderRow

MAX_BODY_BYTES = 256 * 1024
M = TypeVar("M", bound=BaseModel)


class OpenAlgoError(Exception):
    """Answered as ``{"status": "error", "message": …}`` with ``status`` as the HTTP code."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(exc: OpenAlgoError) -> JSONResponse:
    headers = {"Retry-After": "60"} if exc.status == 429 else None
    return JSONResponse({"status": "error", "message": exc.message, **exc.extra},
                        status_code=exc.status, headers=headers)


def success(**body: Any) -> JSONResponse:
    return JSONResponse({"status": "success", **body})


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object; reading stops (413) as soon as it passes ``MAX_BODY_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise OpenAlgoError(413, "request body too large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = decode_json(raw)
    except JsonBodyError as exc:
        raise OpenAlgoError(exc.status, exc.message) from exc
    if not isinstance(body, dict):
        raise OpenAlgoError(400, "the request body must be a JSON object")
    return body


async def authenticate(request: Request, body: dict[str, Any]) -> Caller:
    key = body.get("apikey")
    if not isinstance(key, str) or not key:
        key = key_from_headers(request)
    try:
        return await services_of(request).auth.authenticate(
            key, client_address(request), missing_status=403)
    except AuthError as exc:
        message = "Invalid openalgo apikey" if exc.status in (401, 403) else exc.message
        raise OpenAlgoError(exc.status, message) from exc


def validate(model: type[M], body: dict[str, Any]) -> M:
    """``body`` as ``model``; 400 naming each bad field, or an unfilled TradingView placeholder."""
    placeholder = unfilled_placeholder(body, model)
    if placeholder is not None:
        raise OpenAlgoError(400, placeholder)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise OpenAlgoError(400, field_errors(exc)) from exc


async def parse(request: Request, model: type[M]) -> tuple[Caller, M]:
    """Read, authenticate (403) and validate (400) an OpenAlgo request."""
    body = await read_json(request)
    caller = await authenticate(request, body)  # no work for strangers
    return caller, validate(model, body)


# --- formatting ---------------------------------------------------------------------------


def number(value: Decimal | None) -> float:
    """Prices and amounts as JSON numbers rounded to paise (OpenAlgo's shape)."""
    try:
        return float(round(value or Decimal(0), 2))
    except (ArithmeticError, ValueError):
        return float(value or 0)


def text_number(value: Decimal | int | None) -> str:
    """Numbers as strings with two decimals (positionbook, funds)."""
    if isinstance(value, int):
        return str(value)
    return f"{(value or Decimal(0)):.2f}"


def timestamp(moment: datetime) -> str:
    return moment.astimezone(IST).strftime("%d-%b-%Y %H:%M:%S")


_STATUS_MAP = {
    "filled": "complete",
    "rejected": "rejected", "denied": "rejected", "failed": "rejected",
    "cancelled": "cancelled", "expired": "cancelled",
}


def order_status(row: OrderRow) -> str:
    """Our status in OpenAlgo's vocabulary (open, trigger pending, complete, …)."""
    mapped = _STATUS_MAP.get(row.status)
    if mapped is not None:
        return mapped
    stop = row.order_type in (OrderType.SL.value, OrderType.SL_M.value)
    if stop and row.status == "open" and "TRIGGER" in (row.broker_status or "").upper():
        return "trigger pending"
    return "open"


def order_json(row: OrderRow) -> dict[str, Any]:
    return {
        "action": row.side, "symbol": row.symbol, "exchange": row.exchange,
        "orderid": row.id, "product": row.product, "quantity": str(row.quantity),
        "price": number(row.price), "pricetype": row.order_type,
        "order_status": order_status(row), "trigger_price": number(row.trigger_price),
        "average_price": number(row.average_price), "filled_quantity": str(row.filled_quantity),
        "timestamp": timestamp(row.created_at), "strategy": row.strategy_label,
        "status": row.status, "reason_code": row.reason_code, "reason": row.reason,
    }
