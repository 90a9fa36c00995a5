"""Strategies' webhook secrets, encrypted at rest (BRIEF §9) with the process's ``SecretBox``.

``strategies.webhook_secret`` holds a Fernet token; the plain secret exists only in memory:
issued here, shown to its owner, compared by the webhook intake. Every reader goes through
``webhook_secret_of``. Databases from before encryption hold plain secrets:
``seal_plain_secrets`` encrypts them when the service starts (migrations have no key).
"""

from __future__ import annotations

import enum
import logging
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradewarden.crypto import SecretBox, SecretError, looks_like_token
from tradewarden.store.db import Database
from tradewarden.store.tables import Strategy

log = logging.getLogger(__name__)

#: Longer stored values are not taken for a plain secret (generated ones have 32 characters).
MAX_PLAIN_LENGTH = 256


class Stored(enum.Enum):
    """What a stored ``webhook_secret`` value is, as far as this process's key can tell."""

    SEALED = "sealed"  # a token this key decrypts
    PLAIN = "plain"  # a secret stored before encryption
    UNREADABLE = "unreadable"  # a token of another key, or garbage: never overwritten


def new_webhook_secret() -> str:
    """A fresh plain secret (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def issue_webhook_secret(row: Strategy, box: SecretBox) -> None:
    """Give the strategy a new random secret, stored encrypted."""
    row.webhook_secret = box.encrypt(new_webhook_secret())


def webhook_secret_of(row: Strategy, box: SecretBox) -> str | None:
    """The strategy's plain secret; ``None`` when this key cannot decrypt the stored value."""
    try:
        return box.decrypt(row.webhook_secret)
    except SecretError:
        return None


def classify(value: str, box: SecretBox) -> Stored:
    """Sealed, plain or unreadable: a value shaped like a token is never taken for plain."""
    try:
        box.decrypt(value)
    except SecretError:
        pass
    else:
        return Stored.SEALED
    if (0 < len(value) <= MAX_PLAIN_LENGTH and value.isprintable()
            and not looks_like_token(value)):
        return Stored.PLAIN
    return Stored.UNREADABLE


def seal_plain_secrets(db: Database, box: SecretBox) -> int:
    """Encrypt every plain secret (idempotent); log the unreadable ones by strategy id and leave
    them. Returns how many rows were encrypted. On SQLite the file is then rewritten so no
    copy of a plain secret lingers in free pages or the WAL."""
    with db.transaction() as session:
        sealed = sum(_seal(session, strategy_id, value, box)
                     for strategy_id, value in session.execute(
                         select(Strategy.id, Strategy.webhook_secret).order_by(Strategy.id)))
    if sealed:
        log.info("encrypted the webhook secrets of %d strategies", sealed)
        if db.dialect == "sqlite":
            _scrub_sqlite(db)
    return sealed


def _seal(session: Session, strategy_id: int, value: str, box: SecretBox) -> int:
    """Encrypt one row's plain secret (unless another process just did); 1 when written."""
    kind = classify(value, box)
    if kind is Stored.UNREADABLE:
        log.error("strategy %d: its webhook secret cannot be decrypted with the configured key "
                  "(TRADEWARDEN_SECRET_KEY or the key file changed?); left as is, its webhooks "
                  "are refused until the key is restored or the secret rotated", strategy_id)
    if kind is not Stored.PLAIN:
        return 0
    result = session.execute(update(Strategy).where(
        Strategy.id == strategy_id, Strategy.webhook_secret == value).values(
        webhook_secret=box.encrypt(value)))
    return 1 if result.rowcount else 0  # type: ignore[attr-defined]


def _scrub_sqlite(db: Database) -> None:
    """Rewrite the database file (``VACUUM``) and empty the WAL into it."""
    connection = db.engine.raw_connection()  # autocommit: VACUUM cannot run in a transaction
    try:
        cursor = connection.cursor()
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        connection.close()
