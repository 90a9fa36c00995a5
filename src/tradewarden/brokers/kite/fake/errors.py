"""Kite's response envelopes and error types."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class KiteError(Exception):
    """An error answered as ``{"status": "error", "message", "data": null, "error_type"}``."""

    def __init__(self, message: str, error_type: str = "InputException", status: int = 400):
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status


def success(data: Any) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


def error(message: str, error_type: str, status: int) -> JSONResponse:
    body = {"status": "error", "message": message, "data": None, "error_type": error_type}
    return JSONResponse(body, status)


TOO_MANY = KiteError("Too many requests", "NetworkException", 429)
UNAVAILABLE = KiteError("Service unavailable. Please try again later.", "NetworkException", 503)
