"""Checking a username and password, with failed attempts rate-limited.

Failures are counted per (address, username) — five in fifteen minutes lock that pair — and per
address — thirty lock the address — reusing the API's sliding-window ``FailureLimiter``. Unknown
usernames cost the same argon2 verification as known ones, so timing does not tell them apart.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache

from tradewarden.api.auth import FailureLimiter
from tradewarden.security import hash_password, verify_password
from tradewarden.store.db import Database
from tradewarden.store.repositories import Users

PAIR_LIMIT = 5
ADDRESS_LIMIT = 30
WINDOW_S = 15 * 60
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Account:
    user_id: int
    username: str


class LoginLimiter:
    """Failed sign-ins per (address, username) and per address."""

    def __init__(self, pair_limit: int = PAIR_LIMIT, address_limit: int = ADDRESS_LIMIT,
                 window_s: float = WINDOW_S) -> None:
        self._pairs = FailureLimiter(pair_limit, window_s)
        self._addresses = FailureLimiter(address_limit, window_s)

    def blocked(self, client: str, username: str) -> bool:
        return self._addresses.blocked(client) or self._pairs.blocked(_pair(client, username))

    def record(self, client: str, username: str) -> None:
        self._addresses.record(client)
        self._pairs.record(_pair(client, username))


def _pair(client: str, username: str) -> str:
    return f"{client}\x00{username.lower()[:64]}"


@cache
def _decoy_hash() -> str:
    return hash_password("decoy password for unknown users")


def _check(db: Database, username: str, password: str) -> Account | None:
    with db.read() as session:
        user = Users(session).get_by_name(username)
        found = (user.id, user.username, user.password_hash, user.is_active) if user else None
    if found is None or found[2] is None:
        verify_password(_decoy_hash(), password)
        return None
    user_id, name, password_hash, active = found
    if password_hash is None or not verify_password(password_hash, password) or not active:
        return None
    return Account(user_id, name)


async def check_credentials(db: Database, username: str, password: str) -> Account | None:
    """The account when the password is right (argon2 runs off the event loop)."""
    if not username or not password or len(password) > MAX_PASSWORD_LENGTH or len(username) > 64:
        return None
    return await asyncio.to_thread(_check, db, username, password)
