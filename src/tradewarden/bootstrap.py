"""First start: with no users, create ``admin``, its API key and the ``paper-1`` account."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from tradewarden.security import validate_api_key_format
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, AlreadyExists, ApiKeys, Users

ADMIN_USERNAME = "admin"
FIRST_PAPER_ACCOUNT = "paper-1"


class BootstrapError(Exception):
    """The first-start configuration is unusable (e.g. a too-short admin key)."""


@dataclass(frozen=True, slots=True)
class FirstStart:
    """What the first start created. ``api_key`` is None when it came from the environment."""

    username: str
    account: str
    api_key: str | None


def ensure_first_start(db: Database, admin_api_key: str | None = None) -> FirstStart | None:
    """Create the admin user, key and paper account when the database has no users yet.

    Returns what was created, or None if users already existed. Safe to call on every start
    and from concurrent processes (the unique username makes the second one a no-op).
    """
    if admin_api_key is not None and (problem := validate_api_key_format(admin_api_key)):
        raise BootstrapError(f"TRADEWARDEN_ADMIN_API_KEY: {problem}")
    try:
        with db.transaction() as session:
            users = Users(session)
            if users.count() > 0:
                return None
            admin = users.create(ADMIN_USERNAME, is_admin=True)
            issued = ApiKeys(session).create(admin, name="admin", key=admin_api_key)
            Accounts(session).add(admin, broker="paper", name=FIRST_PAPER_ACCOUNT)
    except (IntegrityError, AlreadyExists):
        return None  # another process won the race to the first start
    return FirstStart(
        username=ADMIN_USERNAME,
        account=FIRST_PAPER_ACCOUNT,
        api_key=None if admin_api_key is not None else issued.key,
    )
