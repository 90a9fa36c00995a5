"""API-key authentication with a failed-attempt limiter (BRIEF §4.2, §9).

Keys arrive as ``X-API-Key``, ``Authorization: Bearer``, or (OpenAlgo routes) ``apikey`` in the
JSON body. A successful lookup is cached for a few seconds; misses are never cached, so a key
created by the CLI works at once, and a key revoked in the dashboard is dropped from the cache at
once (one revoked by the CLI, another process, stops working within ``CACHE_TTL_S``).

Failed attempts are counted per client address and per key prefix (what the dashboard shows of
a key); past ``MAX_FAILURES`` in ``FAILURE_WINDOW_S`` a wrong or missing key is answered 429
instead of 401/403. A **valid key is always served**: keys are long random values, so checking
one costs nothing in guessing resistance, and nobody's failures — from a shared address or
aimed at it — can stop another client's orders and exits. The address is the connection's
peer; ``X-Forwarded-For`` counts only from configured proxies (``trusted_proxies``, applied by
the server in ``cli/run.py``). ``api_keys.last_used_at`` is kept to the minute: uses are noted
in memory and written in one statement at most every ``USAGE_FLUSH_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, update
from starlette.requests import HTTPConnection

from tradewarden.clock import utcnow
from tradewarden.security import api_key_display_prefix, hash_api_key
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
MAX_TRACKED = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user behind a request."""

    user_id: int
    username: str
    is_admin: bool
    account_id: int | None = None  # the account the key is bound to (None: the default)


class AuthError(Exception):
    """Authentication failed: ``status`` is 401/403 (bad key) or 429 (too many failures)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def key_from_headers(request: HTTPConnection) -> str | None:
    """The key of ``X-API-Key`` or ``Authorization: Bearer`` (requests and websockets)."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class FailureLimiter:
    """Counts failed attempts per name (an address, a key prefix, a user) in a sliding window.

    Only the newest ``limit`` times are kept per name, and once more than ``max_names`` are
    tracked, names whose failures have all aged out are dropped, then the least recently failed
    names that are not blocked: a client inventing names or hammering away cannot grow the memory
    used without bound, nor flood the table to have its own block forgotten.
    """

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S,
                 max_names: int = MAX_TRACKED) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_names = max_names
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, name: str) -> bool:
        return self.failures(name) >= self.limit

    def failures(self, name: str) -> int:
        """Failures of ``name`` within the window (at most ``limit``)."""
        window = self._failures.get(name)
        if window is None:
            return 0
        cutoff = time.monotonic() - self.window_s
        while window and window[0] < cutoff:
            window.popleft()
        if not window:
            del self._failures[name]
        return len(window)

    def record(self, name: str) -> None:
        window = self._failures.get(name)
        if window is None:
            if len(self._failures) >= self.max_names:
                self._sweep()
            window = self._failures[name] = deque(maxlen=self.limit)
        window.append(time.monotonic())

    def _sweep(self) -> None:
        """Forget names without recent failures; if that is not enough, half of the names, the
        unblocked ones first, least recently failed first (blocked ones go only when nearly all
        are blocked, and then the ones whose block ends soonest)."""
        cutoff = time.monotonic() - self.window_s
        for name in [n for n, w in self._failures.items() if not w or w[-1] < cutoff]:
            del self._failures[name]
        if len(self._failures) < self.max_names:
            return

        def keep_order(name: str) -> tuple[bool, float]:
            window = self._failures[name]
            return sum(at >= cutoff for at in window) >= self.limit, window[-1]

        for name in sorted(self._failures, key=keep_order)[:len(self._failures) // 2]:
            del self._failures[name]


def key_prefix(key: str) -> str:
    """The name a key's failures are also counted under: its shown prefix."""
    return "key:" + api_key_display_prefix(key)


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
        """The key's owner; a wrong or missing key raises ``AuthError`` (429 once its address
        or prefix has failed too often). A valid key is never refused."""
        if not key:
            raise self._failure(client, None, missing_status, "missing API key")
        digest = hash_api_key(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            self._note_use(digest)
            return cached[1]
        caller = await self._shared_lookup(digest, key)
        if caller is None:
            raise self._failure(client, key, 403, "invalid API key")
        self._cache[digest] = (time.monotonic() + CACHE_TTL_S, caller)
        self._note_use(digest)
        return caller

    def _failure(self, client: str, key: str | None, status: int, message: str) -> AuthError:
        """Count a failed attempt; the error to answer it with."""
        names = [client] if key is None else [client, key_prefix(key)]
        limited = any(self.limiter.blocked(name) for name in names)
        for name in names:
            self.limiter.record(name)
        if limited:
            return AuthError(429, "too many failed authentication attempts; try again later")
        return AuthError(status, message)

    def forget(self, digest: str) -> None:
        """Drop a key (by its hash) from the cache: it was revoked."""
        self._cache.pop(digest, None)

    def _note_use(self, digest: str) -> None:
        self._used[digest] = utcnow()
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
            found = ApiKeys(session).owner_of(key)
            if found is None:
                return None
            user, account_id = found
            return Caller(user.id, user.username, user.is_admin, account_id)


def client_address(connection: HTTPConnection) -> str:
    """The address failures are counted under: the connection's peer (the client named by
    ``X-Forwarded-For`` only when the server was told to trust the proxy that sent it)."""
    return connection.client.host if connection.client else "unknown"
