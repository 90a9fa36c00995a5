"""Kite Connect v3 over HTTP: headers, form bodies, rate limits and the response envelope.

Every call sends ``X-Kite-Version: 3`` and ``Authorization: token {api_key}:{access_token}``;
bodies are form-encoded. Answers are ``{"status": "success", "data": …}`` or
``{"status": "error", "message": …, "error_type": …}``; errors become the broker error
hierarchy through :func:`tradewarden.brokers.kite.table.error_for`. Numbers are read as
``Decimal``. Each endpoint class waits for its own token bucket (orders 10/s, quotes 1/s,
others 10/s); a 429 pauses that bucket for ``Retry-After``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tradewarden.brokers.errors import (
    BrokerDisconnectedError,
    BrokerResponseError,
    BrokerTimeoutError,
    SessionExpiredError,
)
from tradewarden.brokers.kite import table
from tradewarden.brokers.kite.options import KITE_VERSION
from tradewarden.engine.ratelimit import TokenBucket

USER_AGENT = "tradewarden-kite/1"
DEFAULT_TIMEOUT_S = 7.0

Params = httpx.QueryParams | None


class KiteHttp:
    """One account's REST client (a pooled ``httpx.AsyncClient`` unless one is given)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        access_token: str | None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.access_token = access_token
        self._own = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        self._buckets = {
            endpoint: TokenBucket(limit.per_second, burst=limit.per_second)
            for endpoint, limit in table.RATE_LIMITS.items()
        }

    def headers(self) -> dict[str, str]:
        headers = {"X-Kite-Version": KITE_VERSION, "User-Agent": USER_AGENT}
        if self.access_token:
            headers["Authorization"] = f"token {self.api_key}:{self.access_token}"
        return headers

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        form: dict[str, str] | None = None,
        placement: bool = False,
        order_lookup: bool = False,
    ) -> Any:
        """One request; returns the envelope's ``data`` or raises a ``BrokerError``."""
        if not self.access_token:
            raise SessionExpiredError("no Kite access token: log in", code="login_required")
        bucket = self._buckets[table.endpoint_of(method, path)]
        await bucket.acquire()
        try:
            response = await self._client.request(
                method, self.base_url + path, params=params, data=form, headers=self.headers()
            )
        except httpx.TimeoutException as exc:
            raise BrokerTimeoutError(f"Kite did not answer {method} {path} in time") from exc
        except httpx.TransportError as exc:
            raise BrokerDisconnectedError(
                f"Kite unreachable on {method} {path}: {type(exc).__name__}"
            ) from exc
        if response.status_code == 429:
            bucket.penalize(_retry_after(response))
        return unwrap(response, placement=placement, order_lookup=order_lookup)

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()


def unwrap(response: httpx.Response, *, placement: bool = False, order_lookup: bool = False) -> Any:
    """The ``data`` of a success envelope, or the mapped error."""
    status = response.status_code
    try:
        body = response.json(parse_float=Decimal)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "success" and status < 400:
        if "data" not in body:
            raise BrokerResponseError(f"Kite answer without data (HTTP {status})")
        return body["data"]
    if isinstance(body, dict) and (body.get("status") == "error" or body.get("error_type")):
        error_type = body.get("error_type")
        raise table.error_for(
            http_status=status,
            error_type=error_type if isinstance(error_type, str) else None,
            message=str(body.get("message") or f"HTTP {status}"),
            placement=placement,
            order_lookup=order_lookup,
            retry_after=_retry_after(response),
        )
    if status >= 400:
        raise table.error_for(
            http_status=status,
            error_type=None,
            message=f"HTTP {status}",
            placement=placement,
            order_lookup=order_lookup,
            retry_after=_retry_after(response),
        )
    raise BrokerResponseError(f"unreadable Kite answer (HTTP {status})")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0
