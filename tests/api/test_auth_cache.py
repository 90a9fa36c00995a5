"""The API-key authenticator on SQLite and PostgreSQL: usage times written in batches, a
revoked key dropped from the cache at once, unknown keys never cached."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from tradewarden.api.auth import Authenticator, AuthError
from tradewarden.security import hash_api_key
from tradewarden.store.db import Database
from tradewarden.store.repositories import ApiKeys, Users
from tradewarden.store.tables import ApiKey


def _issue(db: Database, username: str) -> str:
    with db.transaction() as session:
        user = Users(session).create(username)
        return ApiKeys(session).create(user).key


def _last_used(db: Database, key: str) -> object:
    with db.read() as session:
        return session.scalar(select(ApiKey.last_used_at)
                              .where(ApiKey.key_hash == hash_api_key(key)))


async def test_last_use_is_written_in_one_batch_when_due(db: Database) -> None:
    first, second = _issue(db, "one"), _issue(db, "two")
    auth = Authenticator(db)
    await auth.authenticate(first, "127.0.0.1")
    await auth.authenticate(second, "127.0.0.1")
    assert _last_used(db, first) is None  # not due yet: nothing written per request
    auth._usage_due = 0.0  # the flush interval has passed
    await auth.authenticate(first, "127.0.0.1")
    assert auth._usage_write is not None
    await asyncio.wait_for(auth._usage_write, 10)
    assert _last_used(db, first) is not None and _last_used(db, second) is not None


async def test_a_forgotten_key_is_looked_up_again_and_refused_once_revoked(
        db: Database) -> None:
    key = _issue(db, "revoker")
    auth = Authenticator(db)
    caller = await auth.authenticate(key, "127.0.0.1")
    with db.transaction() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key)))
        assert row is not None
        row.revoked_at = row.created_at
    assert await auth.authenticate(key, "127.0.0.1") == caller  # still cached
    auth.forget(hash_api_key(key))
    with pytest.raises(AuthError) as refused:
        await auth.authenticate(key, "127.0.0.1")
    assert refused.value.status == 403
