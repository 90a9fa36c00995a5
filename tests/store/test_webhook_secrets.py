"""Webhook secrets at rest (SQLite and PostgreSQL): issued encrypted, plain rows of databases
from before encryption sealed at startup, rows of another key left alone and logged."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from tests.seed import seed_owner
from tradewarden.crypto import SecretBox, key_from_secret
from tradewarden.store.db import Database
from tradewarden.store.strategies import Strategies
from tradewarden.store.tables import Strategy
from tradewarden.store.webhook_secrets import (
    Stored,
    _seal,
    classify,
    issue_webhook_secret,
    new_webhook_secret,
    seal_plain_secrets,
    webhook_secret_of,
)

KEY = SecretBox(key_from_secret("the key of this installation"))
OTHER = SecretBox(key_from_secret("the key of another installation"))
GENERATED = re.compile(r"[A-Za-z0-9_-]{32}")


def _create(db: Database, user_id: int, name: str) -> int:
    with db.transaction() as session:
        return Strategies(session, user_id).create(
            name=name, account_id=None, mode="both", position_guards=True, allow_amo=False,
            settings={}, box=KEY).id


def _stored(db: Database, strategy_id: int) -> str:
    with db.read() as session:
        value = session.scalar(select(Strategy.webhook_secret).where(Strategy.id == strategy_id))
    assert value is not None
    return value


def _store(db: Database, strategy_id: int, value: str) -> None:
    """Write a raw value, as a database from before encryption (or another key) holds it."""
    with db.transaction() as session:
        session.execute(text("UPDATE strategies SET webhook_secret = :value WHERE id = :id"),
                        {"value": value, "id": strategy_id})


def _file_bytes(db: Database) -> bytes:
    """Everything SQLite keeps on disk for this database (file, WAL, shared memory)."""
    database = Path(db.url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))


def _checkpoint(db: Database) -> None:
    """Move the WAL into the main file, as a long-running installation would have."""
    connection = db.engine.raw_connection()  # outside a transaction
    try:
        connection.cursor().execute("PRAGMA wal_checkpoint(FULL)")
    finally:
        connection.close()


def test_created_and_rotated_secrets_are_stored_encrypted(db: Database) -> None:
    owner = seed_owner(db)
    strategy_id = _create(db, owner.user_id, "breakout")
    stored = _stored(db, strategy_id)
    with db.read() as session:
        row = session.get(Strategy, strategy_id)
        assert row is not None
        plain = webhook_secret_of(row, KEY)
        assert webhook_secret_of(row, OTHER) is None
    assert plain is not None and GENERATED.fullmatch(plain)
    assert stored.startswith("gAAAAA") and plain not in stored
    with db.transaction() as session:
        row = session.get(Strategy, strategy_id)
        assert row is not None
        issue_webhook_secret(row, KEY)
    rotated = _stored(db, strategy_id)
    assert rotated != stored and rotated.startswith("gAAAAA")
    assert KEY.decrypt(rotated) != plain and GENERATED.fullmatch(KEY.decrypt(rotated))
    if db.dialect == "sqlite":
        _checkpoint(db)
        on_disk = _file_bytes(db)
        assert plain.encode() not in on_disk and KEY.decrypt(rotated).encode() not in on_disk


def test_startup_seals_plain_rows_and_leaves_other_keys_rows(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    owner = seed_owner(db)
    legacy, foreign, current = (_create(db, owner.user_id, name)
                                for name in ("legacy", "foreign", "current"))
    legacy_plain, foreign_plain = new_webhook_secret(), new_webhook_secret()
    _store(db, legacy, legacy_plain)
    foreign_token = OTHER.encrypt(foreign_plain)
    _store(db, foreign, foreign_token)
    current_token = _stored(db, current)
    if db.dialect == "sqlite":
        _checkpoint(db)
        assert legacy_plain.encode() in _file_bytes(db), "the legacy secret starts in the file"

    assert seal_plain_secrets(db, KEY) == 1
    sealed = _stored(db, legacy)
    assert sealed.startswith("gAAAAA") and KEY.decrypt(sealed) == legacy_plain
    assert _stored(db, foreign) == foreign_token, "another key's token is never overwritten"
    assert _stored(db, current) == current_token
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and f"strategy {foreign}:" in errors[0]
    for secret in (legacy_plain, foreign_plain):
        assert secret not in caplog.text
    if db.dialect == "sqlite":
        assert legacy_plain.encode() not in _file_bytes(db)

    assert seal_plain_secrets(db, KEY) == 0, "idempotent"
    assert (_stored(db, legacy), _stored(db, foreign)) == (sealed, foreign_token)


def test_sealing_skips_a_row_another_process_sealed_meanwhile(db: Database) -> None:
    owner = seed_owner(db)
    strategy_id = _create(db, owner.user_id, "raced")
    plain = new_webhook_secret()
    _store(db, strategy_id, plain)
    with db.transaction() as session:  # another process sealed it after we read the plain
        session.execute(update(Strategy).where(Strategy.id == strategy_id).values(
            webhook_secret=KEY.encrypt(plain)))
    winner = _stored(db, strategy_id)
    with db.transaction() as session:
        assert _seal(session, strategy_id, plain, KEY) == 0
    assert _stored(db, strategy_id) == winner and KEY.decrypt(winner) == plain


@pytest.mark.parametrize(("value", "expected"), [
    (new_webhook_secret(), Stored.PLAIN),
    ("set by hand, with spaces", Stored.PLAIN),
    (KEY.encrypt("s3cret"), Stored.SEALED),
    (OTHER.encrypt("s3cret"), Stored.UNREADABLE),
    (KEY.encrypt("s3cret")[:60], Stored.UNREADABLE),  # a damaged token is not a secret
    ("", Stored.UNREADABLE),
    ("two\nlines", Stored.UNREADABLE),
    ("x" * 257, Stored.UNREADABLE),
], ids=["generated", "by hand", "this key", "other key", "damaged token", "empty", "newline",
        "too long"])
def test_classify(value: str, expected: Stored) -> None:
    assert classify(value, KEY) is expected
