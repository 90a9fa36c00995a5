"""`users create`, `apikeys create`, `accounts add` against a real database file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.procs import tradewarden
from tradewarden.security import verify_password
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, ApiKeys, Users


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _db(data_dir: Path) -> Database:
    return Database(f"sqlite:///{data_dir / 'tradewarden.db'}")


def test_user_key_and_account_round_trip(data_dir: Path) -> None:
    created = tradewarden("users", "create", "alice", "--password-stdin",
                          "--data-dir", str(data_dir), stdin="correct horse battery\n")
    assert created.returncode == 0, created.stderr
    issued = tradewarden("apikeys", "create", "--user", "alice", "--data-dir", str(data_dir))
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip().splitlines()[-1]  # the key alone on the last line
    assert key.startswith("tw_") and " " not in key
    added = tradewarden("accounts", "add", "--user", "alice", "--broker", "paper",
                        "--name", "alice-paper", "--cash", "250000.50",
                        "--data-dir", str(data_dir))
    assert added.returncode == 0, added.stderr

    db = _db(data_dir)
    try:
        with db.transaction() as session:
            alice = Users(session).require("alice")
            assert alice.password_hash and alice.password_hash.startswith("$argon2")
            assert verify_password(alice.password_hash, "correct horse battery")
            assert not verify_password(alice.password_hash, "wrong")
            owner = ApiKeys(session).user_for_key(key)
            assert owner is not None and owner.id == alice.id
            (account,) = Accounts(session).for_user(alice.id)
            assert (account.broker, account.name) == ("paper", "alice-paper")
            assert account.initial_cash == Decimal("250000.50")
    finally:
        db.close()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("users", "create", "bad name!"), None, "invalid user name"),
        (("users", "create", "bob", "--password-stdin"), "short\n", "at least 8"),
        (("apikeys", "create", "--user", "ghost"), None, "no user named 'ghost'"),
        (("accounts", "add", "--user", "ghost", "--broker", "paper", "--name", "p"), None,
         "no user named 'ghost'"),
        (("accounts", "add", "--user", "carol", "--broker", "zerodha", "--name", "z"), None,
         "unsupported broker"),
        (("accounts", "add", "--user", "carol", "--broker", "paper", "--name", "c",
          "--cash", "lots"), None, "invalid --cash"),
    ],
)
def test_bad_input_gets_a_clear_error_and_writes_nothing(
    data_dir: Path, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    assert tradewarden("users", "create", "carol", "--data-dir", str(data_dir)).returncode == 0
    result = tradewarden(*args, "--data-dir", str(data_dir), stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    db = _db(data_dir)
    try:
        with db.transaction() as session:
            assert Users(session).count() == 1
            carol = Users(session).require("carol")
            assert Accounts(session).for_user(carol.id) == []
    finally:
        db.close()


def test_duplicates_are_refused(data_dir: Path) -> None:
    assert tradewarden("users", "create", "dave", "--data-dir", str(data_dir)).returncode == 0
    again = tradewarden("users", "create", "dave", "--data-dir", str(data_dir))
    assert again.returncode == 2 and "already exists" in again.stderr
    args = ("accounts", "add", "--user", "dave", "--broker", "paper", "--name", "dp",
            "--data-dir", str(data_dir))
    assert tradewarden(*args).returncode == 0
    dup = tradewarden(*args)
    assert dup.returncode == 2 and "already exists" in dup.stderr


def test_passwd_sets_a_dashboard_password(data_dir: Path) -> None:
    assert tradewarden("users", "create", "dave", "--data-dir", str(data_dir)).returncode == 0
    short = tradewarden("users", "passwd", "dave", "--data-dir", str(data_dir), stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    changed = tradewarden("users", "passwd", "dave", "--data-dir", str(data_dir),
                          stdin="a much better secret\n")
    assert changed.returncode == 0, changed.stderr
    missing = tradewarden("users", "passwd", "ghost", "--data-dir", str(data_dir),
                          stdin="a much better secret\n")
    assert missing.returncode == 2 and "no user named 'ghost'" in missing.stderr
    db = _db(data_dir)
    try:
        with db.transaction() as session:
            dave = Users(session).require("dave")
            assert dave.password_hash and verify_password(dave.password_hash,
                                                          "a much better secret")
    finally:
        db.close()
