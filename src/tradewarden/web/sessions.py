"""Server-side browser sessions: a random token in an HttpOnly cookie, its SHA-256 in the DB.

A session expires after ``idle`` without requests or ``lifetime`` after sign-in, whichever
comes first. Lookups are cached for a few seconds; the row's ``last_seen_at`` is written at most
every ``TOUCH_EVERY`` so browsing does not turn into a write per request. Signing out removes
the row and the cache entry at once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from tradewarden.clock import utcnow
from tradewarden.store.db import Database
from tradewarden.store.tables import User, WebSession

SESSION_COOKIE = "tw_session"
CACHE_TTL_S = 5.0
TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session and the user behind it."""

    session_id: int
    user_id: int
    username: str
    is_admin: bool
    csrf_token: str
    last_seen_at: datetime
    expires_at: datetime


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class SessionStore:
    """Creates, resolves and ends browser sessions."""

    def __init__(self, db: Database, *, idle: timedelta = timedelta(hours=12),
                 lifetime: timedelta = timedelta(days=7)) -> None:
        self.db = db
        self.idle = idle
        self.lifetime = lifetime
        self._cache: dict[str, tuple[float, SessionInfo]] = {}

    async def create(self, user_id: int, client: str | None,
                     user_agent: str | None) -> tuple[str, SessionInfo]:
        """Sign ``user_id`` in: returns the cookie token (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        info = await self.db.run(self._create, token, user_id, client, user_agent)
        return token, info

    async def lookup(self, token: str | None) -> SessionInfo | None:
        """The live session for a cookie token, or None (unknown, expired or user disabled)."""
        if not token or len(token) > 128:
            return None
        digest = token_digest(token)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        info = await self.db.run(self._lookup, digest)
        if info is None:
            self._cache.pop(digest, None)
        else:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + CACHE_TTL_S, info)
        return info

    async def end(self, token: str | None) -> None:
        """Sign out: the token stops working immediately."""
        if not token or len(token) > 128:
            return
        digest = token_digest(token)
        self._cache.pop(digest, None)
        await self.db.run(self._delete, digest)

    # --- blocking parts (run on the DB pool) -------------------------------------------------

    def _create(self, token: str, user_id: int, client: str | None,
                user_agent: str | None) -> SessionInfo:
        now = utcnow()
        with self.db.transaction() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at < now))
            user = session.get(User, user_id)
            assert user is not None
            row = WebSession(token_hash=token_digest(token), user_id=user_id,
                             csrf_token=secrets.token_urlsafe(32),
                             client=(client or "")[:64] or None,
                             user_agent=(user_agent or "")[:200] or None, created_at=now,
                             last_seen_at=now, expires_at=now + min(self.idle, self.lifetime))
            session.add(row)
            session.flush()
            return SessionInfo(row.id, user.id, user.username, user.is_admin, row.csrf_token,
                               row.last_seen_at, row.expires_at)

    def _lookup(self, digest: str) -> SessionInfo | None:
        now = utcnow()
        with self.db.read() as session:
            found = session.execute(
                select(WebSession, User).join(User, User.id == WebSession.user_id)
                .where(WebSession.token_hash == digest)).first()
        if found is None:
            return None
        row, user = found
        if row.expires_at <= now or not user.is_active:
            return None
        info = SessionInfo(row.id, user.id, user.username, user.is_admin, row.csrf_token,
                           row.last_seen_at, row.expires_at)
        if now - row.last_seen_at >= TOUCH_EVERY:
            info = self._touch(info, now, row.created_at)
        return info

    def _touch(self, info: SessionInfo, now: datetime, created_at: datetime) -> SessionInfo:
        expires = min(now + self.idle, created_at + self.lifetime)
        with self.db.transaction() as session:
            session.execute(update(WebSession).where(WebSession.id == info.session_id)
                            .values(last_seen_at=now, expires_at=expires))
        return SessionInfo(info.session_id, info.user_id, info.username, info.is_admin,
                           info.csrf_token, now, expires)

    def _delete(self, digest: str) -> None:
        with self.db.transaction() as session:
            session.execute(delete(WebSession).where(WebSession.token_hash == digest))
