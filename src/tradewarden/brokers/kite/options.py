"""A Kite account's options and the login step that turns a request token into a session.

Options come from ``accounts add --option KEY=VALUE``: :meth:`KiteOptions.parse` takes those
strings and refuses unknown keys and missing required ones with a message naming them.
``secret_fields`` lists what must be encrypted at rest and never shown or logged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tradewarden.brokers.errors import (
    BrokerDisconnectedError,
    BrokerResponseError,
    BrokerTimeoutError,
)
from tradewarden.brokers.kite.table import MARKET_PROTECTION_AUTO, error_for

DEFAULT_BASE_URL = "https://api.kite.trade"
DEFAULT_WS_URL = "wss://ws.kite.trade"
DEFAULT_LOGIN_URL = "https://kite.zerodha.com/connect/login"
KITE_VERSION = "3"


def _url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"must be a {' or '.join(s + '://' for s in schemes)} URL")
    return value.strip().rstrip("/")


class KiteOptions(BaseModel):
    """The options of one Kite Connect account (one app's api key, one user's session)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    #: Options that are secrets: encrypted at rest, never logged, never returned by the API.
    secret_fields: ClassVar[frozenset[str]] = frozenset({"api_secret", "access_token"})
    #: Options that must be given.
    required_fields: ClassVar[frozenset[str]] = frozenset({"api_key", "api_secret"})

    api_key: str
    api_secret: str
    access_token: str | None = None
    base_url: str = DEFAULT_BASE_URL
    ws_url: str = DEFAULT_WS_URL
    login_url: str = DEFAULT_LOGIN_URL
    #: ``-1`` or ``auto`` (Kite's automatic protection, the default) or a percentage in (0, 100].
    market_protection: Decimal = Decimal(MARKET_PROTECTION_AUTO)

    @field_validator("api_key", "api_secret")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value):
            raise ValueError("must be non-empty, without spaces")
        return value

    @field_validator("access_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is not None and any(c.isspace() for c in value):
            raise ValueError("must not contain spaces")
        return value or None

    @field_validator("base_url", "login_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _url(value, ("https", "http"))

    @field_validator("ws_url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        return _url(value, ("wss", "ws"))

    @field_validator("market_protection", mode="before")
    @classmethod
    def _auto(cls, value: object) -> object:
        return MARKET_PROTECTION_AUTO if str(value).strip().lower() == "auto" else value

    @field_validator("market_protection")
    @classmethod
    def _protection(cls, value: Decimal) -> Decimal:
        if value != MARKET_PROTECTION_AUTO and not (0 < value <= 100):
            raise ValueError("must be -1 (automatic) or a percentage above 0 and at most 100")
        return value

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> KiteOptions:
        """Options from ``KEY=VALUE`` strings; a :class:`ValueError` names what is wrong."""
        unknown = sorted(set(options) - set(cls.model_fields))
        if unknown:
            known = ", ".join(sorted(cls.model_fields))
            raise ValueError(f"unknown Kite option(s): {', '.join(unknown)} (known: {known})")
        missing = sorted(cls.required_fields - {k for k, v in options.items() if v.strip()})
        if missing:
            raise ValueError(f"missing Kite option(s): {', '.join(missing)}")
        try:
            return cls.model_validate(dict(options))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ValueError(f"invalid Kite option(s): {problems}") from None

    def public(self) -> dict[str, Any]:
        """The options without secrets (safe to show and log)."""
        return self.model_dump(exclude=set(self.secret_fields), mode="json")

    def login_redirect(self, redirect_params: str | None = None) -> str:
        """Where to send the user to log in: ``login_url?v=3&api_key=…[&redirect_params=…]``."""
        query = {"v": KITE_VERSION, "api_key": self.api_key}
        if redirect_params:
            query["redirect_params"] = redirect_params
        return f"{self.login_url}?{urlencode(query)}"

    def __repr__(self) -> str:  # never show secrets, even in a traceback
        return f"KiteOptions({self.public()!r})"

    __str__ = __repr__


def session_checksum(api_key: str, request_token: str, api_secret: str) -> str:
    """The login checksum: hex SHA-256 of ``api_key + request_token + api_secret``."""
    return hashlib.sha256((api_key + request_token + api_secret).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class KiteSession:
    """What ``POST /session/token`` answers that we keep."""

    access_token: str
    user_id: str
    login_time: str | None

    def __repr__(self) -> str:
        return f"KiteSession(user_id={self.user_id!r}, login_time={self.login_time!r})"


async def exchange_request_token(
    options: KiteOptions,
    request_token: str,
    *,
    client: httpx.AsyncClient | None = None,
    timeout_s: float = 10.0,
) -> KiteSession:
    """Exchange the request token of a finished login for an access token.

    ``POST {base_url}/session/token`` with ``api_key``, ``request_token`` and the SHA-256
    ``checksum``. Errors are the broker error hierarchy (a bad or used request token is a
    ``TokenException`` → :class:`~tradewarden.brokers.errors.SessionExpiredError`).
    """
    form = {
        "api_key": options.api_key,
        "request_token": request_token,
        "checksum": session_checksum(options.api_key, request_token, options.api_secret),
    }
    own = client is None
    http = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))
    try:
        try:
            response = await http.post(
                f"{options.base_url}/session/token",
                data=form,
                headers={"X-Kite-Version": KITE_VERSION},
            )
        except httpx.TimeoutException as exc:
            raise BrokerTimeoutError("Kite did not answer the token exchange in time") from exc
        except httpx.TransportError as exc:
            raise BrokerDisconnectedError(f"Kite unreachable: {type(exc).__name__}") from exc
    finally:
        if own:
            await http.aclose()
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BrokerResponseError(f"unreadable token exchange answer (HTTP {response.status_code})")
    if body.get("status") != "success" or response.status_code >= 400:
        raise error_for(
            http_status=response.status_code,
            error_type=_str(body.get("error_type")),
            message=str(body.get("message") or f"HTTP {response.status_code}"),
        )
    data = body.get("data")
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(token, str) or not token:
        raise BrokerResponseError("token exchange answer without an access token")
    return KiteSession(
        access_token=token,
        user_id=str(data.get("user_id") or ""),
        login_time=_str(data.get("login_time")),
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
