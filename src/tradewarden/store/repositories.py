"""Repositories: the queries the rest of the code may run. Order reads are scoped by user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewarden.clock import utcnow
from tradewarden.security import api_key_display_prefix, generate_api_key, hash_api_key
from tradewarden.store.tables import ApiKey, BrokerAccount, FillRow, OrderEventRow, OrderRow, User

SUPPORTED_BROKERS: frozenset[str] = frozenset({"paper"})


class RepositoryError(Exception):
    """Base class of storage-level refusals with a user-facing message."""


class AlreadyExists(RepositoryError):
    pass


class NotFound(RepositoryError):
    pass


def _now() -> datetime:
    return utcnow()


class Users:
    def __init__(self, session: Session) -> None:
        self.session = session

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(User)) or 0

    def all(self) -> list[User]:
        return list(self.session.scalars(select(User).order_by(User.id)))

    def get_by_name(self, username: str) -> User | None:
        return self.session.scalar(select(User).where(User.username == username))

    def require(self, username: str) -> User:
        user = self.get_by_name(username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        return user

    def create(self, username: str, *, password_hash: str | None = None,
               is_admin: bool = False) -> User:
        if self.get_by_name(username) is not None:
            raise AlreadyExists(f"a user named {username!r} already exists")
        user = User(username=username, password_hash=password_hash, is_admin=is_admin,
                    is_active=True, created_at=_now())
        self.session.add(user)
        self.session.flush()
        return user


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created API key; ``key`` is shown once and never stored."""

    id: int
    key: str
    prefix: str


class ApiKeys:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, user: User, *, name: str = "default", key: str | None = None) -> IssuedKey:
        key = key or generate_api_key()
        row = ApiKey(user_id=user.id, name=name, prefix=api_key_display_prefix(key),
                     key_hash=hash_api_key(key), created_at=_now())
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise AlreadyExists("that API key is already in use") from exc
        return IssuedKey(id=row.id, key=key, prefix=row.prefix)

    def all(self, user_id: int | None = None) -> list[ApiKey]:
        """Every key (of one user): active ones first, newest first."""
        query = select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
        if user_id is not None:
            query = query.where(ApiKey.user_id == user_id)
        return list(self.session.scalars(query))

    def revoke(self, key_id: int, user_id: int | None = None) -> str | None:
        """Revoke an active key (only one of ``user_id``'s, when given) and return its hash for
        the authenticator's cache; None when there is no such active key."""
        query = select(ApiKey.key_hash).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        if user_id is not None:
            query = query.where(ApiKey.user_id == user_id)
        digest = self.session.scalar(query)
        if digest is not None:
            self.session.execute(update(ApiKey).where(ApiKey.id == key_id)
                                 .values(revoked_at=_now()))
        return digest

    def user_for_key(self, key: str) -> User | None:
        """The active user owning the (unrevoked) ``key``, or None."""
        return self.session.scalar(
            select(User)
            .join(ApiKey, ApiKey.user_id == User.id)
            .where(ApiKey.key_hash == hash_api_key(key), ApiKey.revoked_at.is_(None),
                   User.is_active.is_(True))
        )


class Accounts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user: User, *, broker: str, name: str,
            initial_cash: Decimal | None = None) -> BrokerAccount:
        if broker not in SUPPORTED_BROKERS:
            raise RepositoryError(
                f"unsupported broker {broker!r}; supported: {', '.join(sorted(SUPPORTED_BROKERS))}"
            )
        exists = self.session.scalar(
            select(BrokerAccount).where(BrokerAccount.broker == broker, BrokerAccount.name == name)
        )
        if exists is not None:
            raise AlreadyExists(f"a {broker} account named {name!r} already exists")
        account = BrokerAccount(user_id=user.id, broker=broker, name=name,
                                initial_cash=initial_cash, kill_switch=False, is_active=True,
                                created_at=_now())
        self.session.add(account)
        self.session.flush()
        return account

    def all(self) -> list[BrokerAccount]:
        return list(self.session.scalars(select(BrokerAccount).order_by(BrokerAccount.id)))

    def for_user(self, user_id: int) -> list[BrokerAccount]:
        return list(self.session.scalars(
            select(BrokerAccount).where(BrokerAccount.user_id == user_id).order_by(BrokerAccount.id)
        ))

    def active(self) -> list[BrokerAccount]:
        """Every active account this process serves (the seam for sharing accounts later)."""
        return list(self.session.scalars(
            select(BrokerAccount).where(BrokerAccount.is_active.is_(True)).order_by(BrokerAccount.id)
        ))


class Orders:
    """Read access to one user's orders; writes go through the ledger."""

    def __init__(self, session: Session, user_id: int) -> None:
        self.session = session
        self.user_id = user_id

    def get(self, order_id: str) -> OrderRow | None:
        return self.session.scalar(
            select(OrderRow).where(OrderRow.id == order_id, OrderRow.user_id == self.user_id)
        )

    def events(self, order_id: str) -> list[OrderEventRow]:
        return list(self.session.scalars(
            select(OrderEventRow)
            .where(OrderEventRow.order_id == order_id, OrderEventRow.user_id == self.user_id)
            .order_by(OrderEventRow.sequence)
        ))

    def fills(self, order_id: str) -> list[FillRow]:
        return list(self.session.scalars(
            select(FillRow)
            .where(FillRow.order_id == order_id, FillRow.user_id == self.user_id)
            .order_by(FillRow.filled_at, FillRow.id)
        ))
