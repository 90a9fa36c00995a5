"""Kite apps, users and sessions: request tokens, the checksum exchange, access tokens.

One app (``api_key`` + ``api_secret``) per Kite user; the user id is also the paper account.
A request token is single-use (as Kite's). A new session replaces the user's previous access
token; an expired or replaced token answers 403 ``TokenException``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime

from tradewarden.clock import utcnow


@dataclass(slots=True)
class KiteUser:
    """One Kite user with its Connect app."""

    user_id: str
    api_key: str
    api_secret: str
    user_name: str
    app_id: int
    access_token: str | None = None
    login_time: datetime | None = None
    #: Where ``/connect/login`` sends the browser with the request token (None: show it).
    redirect_url: str | None = None
    request_tokens: set[str] = field(default_factory=set)


class SessionError(Exception):
    """A login or authentication failure (Kite's ``TokenException`` unless ``error_type``)."""

    def __init__(self, message: str, error_type: str = "TokenException", status: int = 403):
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status


BAD_TOKEN = "Incorrect `api_key` or `access_token`."


class Sessions:
    """Every user of the fake and their sessions (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, KiteUser] = {}

    def add_user(
        self,
        user_id: str,
        api_key: str | None = None,
        api_secret: str | None = None,
        user_name: str | None = None,
    ) -> KiteUser:
        """Register a user (or return the existing one with that id)."""
        with self._lock:
            for user in self._by_key.values():
                if user.user_id == user_id:
                    return user
            user = KiteUser(
                user_id=user_id,
                api_key=api_key or secrets.token_hex(8),
                api_secret=api_secret or secrets.token_hex(16),
                user_name=user_name or f"Paper {user_id}",
                app_id=1000 + len(self._by_key),
            )
            if user.api_key in self._by_key:
                raise ValueError(f"api_key {user.api_key} is taken")
            self._by_key[user.api_key] = user
            return user

    def users(self) -> list[KiteUser]:
        with self._lock:
            return list(self._by_key.values())

    def user(self, *, api_key: str | None = None, user_id: str | None = None) -> KiteUser:
        with self._lock:
            for user in self._by_key.values():
                if user.api_key == api_key or user.user_id == user_id:
                    return user
        raise KeyError(api_key or user_id)

    def new_request_token(self, api_key: str) -> str:
        """What a successful login at ``/connect/login`` hands the redirect URL."""
        user = self.user(api_key=api_key)
        token = secrets.token_urlsafe(24)
        with self._lock:
            user.request_tokens.add(token)
        return token

    def exchange(self, api_key: str, request_token: str, checksum: str) -> KiteUser:
        """``POST /session/token``: check the checksum, spend the request token, open a
        session (replacing the previous access token)."""
        try:
            user = self.user(api_key=api_key)
        except KeyError as exc:
            raise SessionError("Invalid `api_key`.") from exc
        expected = hashlib.sha256(f"{api_key}{request_token}{user.api_secret}".encode())
        if not hmac.compare_digest(expected.hexdigest(), checksum.strip().lower()):
            raise SessionError("Invalid `checksum`.")
        with self._lock:
            if request_token not in user.request_tokens:
                raise SessionError("Token is invalid or has expired.")
            user.request_tokens.discard(request_token)
            user.access_token = secrets.token_urlsafe(24)
            user.login_time = utcnow()
        return user

    def authenticate(self, header: str | None) -> KiteUser:
        """The user of ``Authorization: token api_key:access_token``; 403 otherwise."""
        scheme, _, credentials = (header or "").partition(" ")
        api_key, _, token = credentials.strip().partition(":")
        if scheme.lower() != "token" or not api_key or not token:
            raise SessionError(BAD_TOKEN)
        return self.check(api_key, token)

    def check(self, api_key: str, access_token: str) -> KiteUser:
        with self._lock:
            user = self._by_key.get(api_key)
            if (
                user is None
                or user.access_token is None
                or not hmac.compare_digest(user.access_token, access_token)
            ):
                raise SessionError(BAD_TOKEN)
            return user

    def logout(self, api_key: str, access_token: str) -> None:
        """``DELETE /session/token``."""
        user = self.check(api_key, access_token)
        with self._lock:
            user.access_token = None

    def expire(self, user: KiteUser) -> None:
        """End the user's session (as Kite does every morning)."""
        with self._lock:
            user.access_token = None
