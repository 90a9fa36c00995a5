"""API-key authentication with a failed-attempt limiter (BRIEF §4.2, §9).

Keys arrive as ``X-API-Key``, ``Authorization: Bearer``, or (OpenAlgo routes) ``apikey`` in the
JSON body. A successful lookup is cached for a few seconds; misses are never cached, so a key
created by the CLI works at once, and a key revoked in the dashboard is dropped from the cache at
once (one revoked by the CLI, another process, stops working within ``CACHE_TTL_S``). A client
address with too many failures gets 429 for a while. ``api_keys.last_used_at`` is kept to the
minute: uses are noted in memory and written in one statement at most every ``USAGE_FLUSH_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import Table, bindparam, update

from tradewarden.security import hash_api_key
from tradewarden.store.db import Database
from tradewarden.store.repositories import ApiKeys
from tradewarden.store.tables import ApiKey

log = logging.getLogger(__name__)

_API_KEYS: Table = ApiKey.__table__  # type: ignore[assignment]
_MARK_USED = update(_API_KEYS).where(_API_KEYS.c.key_hash == bindparam("digest")).values(
    last_used_at=bindparam("used_at"))

CACHE_TTL_S = 5.0
USAGE_FLUSH_S = 60.0
MAX_FAILURES = 10
FAILURE_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user behind a request."""

    user_id: int
    username: str
    is_admin: bool


class AuthError(Exception):
    """Authentication failed: ``status`` is 401/403 (bad key) or 429 (too many failures)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def key_from_headers(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class FailureLimiter:
    """Counts failed attempts per client address in a sliding window."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, client: str) -> bool:
        recent = self._recent(client)
        return len(recent) >= self.limit

    def record(self, client: str) -> None:
        self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        window = self._failures.setdefault(client, deque())
        cutoff = time.monotonic() - self.window_s
        while window and window[0] < cutoff:
            window.popleft()
        if not window and len(self._failures) > 10_000:
            self._failures.pop(client, None)
            window = self._failures.setdefault(client, deque())
        return window


class Authenticator:
    """Resolves API keys to callers."""

    def __init__(self, db: Database, limiter: FailureLimiter | None = None) -> None:
        self.db = db
        self.limiter = limiter or FailureLimiter()
        self._cache: dict[str, tuple[float, Caller]] = {}
        # lookups under way, by key digest: concurrent requests with the same key share one
        # (when a busy key's cache entry expires, dozens of requests would otherwise each
        # take a database thread to read the same row)
        self._pending: dict[str, asyncio.Future[Caller | None]] = {}
        self._used: dict[str, datetime] = {}  # key digest → last use, not yet written
        self._usage_due = time.monotonic() + USAGE_FLUSH_S
        self._usage_write: asyncio.Future[None] | None = None

    async def authenticate(self, key: str | None, client: str, *,
                           missing_status: int = 401) -> Caller:
        if self.limiter.blocked(client):
            raise AuthError(429, "too many failed authentication attempts; try again later")
        if not key:
            self.limiter.record(client)
            raise AuthError(missing_status, "missing API key")
        digest = hash_api_key(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            self._note_use(digest)
            return cached[1]
        caller = await self._shared_lookup(digest, key)
        if caller is None:
            self.limiter.record(client)
            raise AuthError(403, "invalid API key")
        self._cache[digest] = (time.monotonic() + CACHE_TTL_S, caller)
        self._note_use(digest)
        return caller

    def forget(self, digest: str) -> None:
        """Drop a key (by its hash) from the cache: it was revoked."""
        self._cache.pop(digest, None)

    def _note_use(self, digest: str) -> None:
        self._used[digest] = datetime.now(UTC)
        if time.monotonic() >= self._usage_due and (
                self._usage_write is None or self._usage_write.done()):
            self._usage_due = time.monotonic() + USAGE_FLUSH_S
            used, self._used = self._used, {}
            self._usage_write = asyncio.ensure_future(self._write_usage(used))

    async def _write_usage(self, used: dict[str, datetime]) -> None:
        def write() -> None:
            with self.db.transaction() as session:
                session.connection().execute(_MARK_USED, [
                    {"digest": digest, "used_at": at} for digest, at in used.items()])

        try:
            await self.db.run(write)
        except Exception as exc:  # best effort: the next write carries newer uses anyway
            log.warning("api key usage times not written: %s", exc)

    async def _shared_lookup(self, digest: str, key: str) -> Caller | None:
        lookup = self._pending.get(digest)
        if lookup is None:
            lookup = self._pending[digest] = asyncio.ensure_future(
                self.db.run(self._lookup, key))
            lookup.add_done_callback(lambda done: self._lookup_done(digest, done))
        return await asyncio.shield(lookup)  # a cancelled waiter leaves the lookup running

    def _lookup_done(self, digest: str, lookup: asyncio.Future[Caller | None]) -> None:
        if self._pending.get(digest) is lookup:
            del self._pending[digest]
        if not lookup.cancelled():
            lookup.exception()  # retrieved here too: no warning when every waiter has left

    def _lookup(self, key: str) -> Caller | None:
        with self.db.read() as session:
            user = ApiKeys(session).user_for_key(key)
            if user is None:
                return None
            return Caller(user.id, user.username, user.is_admin)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
