"""Removing a broker account (refused while an order works; retired when it has history;
bound API keys revoked) and editing its options (a blank secret keeps the stored one)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tradewarden.clock import utcnow
from tradewarden.crypto import SecretBox
from tradewarden.domain.orders import new_client_order_id, new_order_id
from tradewarden.store import migrate
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, ApiKeys, RepositoryError, Users
from tradewarden.store.tables import ApiKey, BrokerAccount, OrderRow

KITE = {"api_key": "kiteapp1", "api_secret": "kite-secret-31"}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'tw.db'}"
    migrate.upgrade(url)
    database = Database(url)
    yield database
    database.close()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


def _account(db: Database, box: SecretBox) -> int:
    with db.transaction() as session:
        user = Users(session).create("remover")
        account = Accounts(session).add(user, broker="kite", name="zk1", options=KITE, box=box)
        ApiKeys(session).create(user, name="bound", account=account)
        return account.id


def _order(db: Database, account_id: int, status: str) -> None:
    now = utcnow()
    with db.transaction() as session:
        account = session.get(BrokerAccount, account_id)
        assert account is not None
        session.add(OrderRow(
            id=new_order_id(), user_id=account.user_id, account_id=account_id,
            client_order_id=new_client_order_id(), exchange="NSE", symbol="INFY", side="BUY",
            quantity=1, filled_quantity=0, average_price=Decimal("0"), order_type="LIMIT",
            product="MIS", price=Decimal("100"), variety="regular", validity="DAY",
            status=status, origin="api", execution_type="entry", retry_count=0,
            created_at=now, updated_at=now, version=1, extra={}))


def _remove(db: Database, account_id: int) -> tuple[bool, int]:
    with db.transaction() as session:
        account = session.get(BrokerAccount, account_id)
        assert account is not None
        removal = Accounts(session).remove(account)
        return removal.deleted, len(removal.revoked_keys)


@pytest.mark.parametrize("status", ["created", "open", "partially_filled", "pending_cancel"])
def test_an_account_with_an_unsettled_order_is_not_removed(
        db: Database, box: SecretBox, status: str) -> None:
    account_id = _account(db, box)
    _order(db, account_id, status)
    with pytest.raises(RepositoryError, match="working orders"):
        _remove(db, account_id)
    with db.read() as session:
        account = session.get(BrokerAccount, account_id)
        assert account is not None and account.is_active
        assert session.query(ApiKey).filter(ApiKey.revoked_at.is_(None)).count() == 1


def test_an_account_with_history_is_retired_and_its_keys_revoked(db: Database,
                                                                 box: SecretBox) -> None:
    account_id = _account(db, box)
    _order(db, account_id, "filled")
    assert _remove(db, account_id) == (False, 1)
    with db.read() as session:
        account = session.get(BrokerAccount, account_id)
        assert account is not None and not account.is_active and account.state == "disabled"
        assert session.query(ApiKey).filter(ApiKey.revoked_at.is_(None)).count() == 0


def test_an_unused_account_is_deleted(db: Database, box: SecretBox) -> None:
    account_id = _account(db, box)
    assert _remove(db, account_id) == (True, 1)
    with db.read() as session:
        assert session.get(BrokerAccount, account_id) is None


def test_editing_keeps_blank_secrets_and_a_new_session_makes_it_ready(
        db: Database, box: SecretBox) -> None:
    account_id = _account(db, box)
    with db.transaction() as session:
        account = session.get(BrokerAccount, account_id)
        assert account is not None
        before = account.credentials_encrypted
        Accounts(session).update_options(account, box, {
            "api_key": "kiteapp2", "api_secret": "", "base_url": "http://127.0.0.1:9"})
        assert account.credentials_encrypted == before and account.state == "login_required"
        assert account.options == {"api_key": "kiteapp2", "base_url": "http://127.0.0.1:9"}
        Accounts(session).update_options(account, box, {"base_url": "", "access_token": "tok1"})
        assert account.options == {"api_key": "kiteapp2"}  # blank: back to the default
        assert account.state == "ready"
        assert account.credentials_encrypted is not None
        assert json.loads(box.decrypt(account.credentials_encrypted)) == {
            "api_secret": "kite-secret-31", "access_token": "tok1"}
        with pytest.raises(RepositoryError, match="base_url"):
            Accounts(session).update_options(account, box, {"base_url": "ftp://x"})
