"""Checking a username and password, with failed attempts rate-limited.

Failures are counted in fifteen-minute sliding windows (the API's ``FailureLimiter``):

- per (address, username): five lock that pair;
- per address: thirty lock the address (for every username);
- per username, from all addresses: past twenty, an address that has already failed for that
  user in the window is refused at once — a guesser spread over many addresses gets one try
  per address — while an address with no failures for the user (most likely the user's own)
  still signs in.

So a correct password is never refused because of failures made from other addresses: nobody
can lock a victim out. The address is the connection's peer (``X-Forwarded-For`` counts only
from configured proxies). Unknown usernames cost the same argon2 verification as known ones, so
timing does not tell them apart.
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
USER_LIMIT = 20
WINDOW_S = 15 * 60
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Account:
    user_id: int
    username: str


class LoginLimiter:
    """Failed sign-ins per (address, username), per address and per username."""

    def __init__(self, pair_limit: int = PAIR_LIMIT, address_limit: int = ADDRESS_LIMIT,
                 user_limit: int = USER_LIMIT, window_s: float = WINDOW_S) -> None:
        self._pairs = FailureLimiter(pair_limit, window_s)
        self._addresses = FailureLimiter(address_limit, window_s)
        self._users = FailureLimiter(user_limit, window_s)

    def blocked(self, client: str, username: str) -> bool:
        """True when this address may not try this username now (before checking it)."""
        pair = _pair(client, username)
        if self._addresses.blocked(client) or self._pairs.blocked(pair):
            return True
        return self._users.blocked(_user(username)) and self._pairs.failures(pair) > 0

    def record(self, client: str, username: str) -> None:
        self._addresses.record(client)
        self._pairs.record(_pair(client, username))
        self._users.record(_user(username))


def _user(username: str) -> str:
    return username.lower()[:64]


def _pair(client: str, username: str) -> str:
    return f"{client}\x00{_user(username)}"


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
