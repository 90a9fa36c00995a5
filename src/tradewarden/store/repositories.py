"""Repositories: the queries the rest of the code may run. Order reads are scoped by user."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewarden.brokers import registry
from tradewarden.brokers.registry import AccountOptions, OptionsError
from tradewarden.clock import utcnow
from tradewarden.crypto import SecretBox
from tradewarden.domain.statuses import UNSETTLED_VALUES
from tradewarden.security import api_key_display_prefix, generate_api_key, hash_api_key
from tradewarden.store.tables import (
    ApiKey,
    BrokerAccount,
    FillRow,
    OrderEventRow,
    OrderRow,
    PositionEventRow,
    TradeRow,
    User,
)


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

    def create(self, user: User, *, name: str = "default", key: str | None = None,
               account: BrokerAccount | None = None) -> IssuedKey:
        """A new key of ``user``; with ``account`` (one of theirs) OpenAlgo-style calls made
        with it act on that account."""
        if account is not None and account.user_id != user.id:
            raise RepositoryError(f"account {account.name!r} is not {user.username}'s")
        key = key or generate_api_key()
        row = ApiKey(user_id=user.id, name=name, prefix=api_key_display_prefix(key),
                     key_hash=hash_api_key(key), created_at=_now(),
                     account_id=account.id if account is not None else None)
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
        found = self.owner_of(key)
        return found[0] if found is not None else None

    def owner_of(self, key: str) -> tuple[User, int | None] | None:
        """The active user owning the (unrevoked) ``key`` and the account the key is bound to
        (None: unbound), or None."""
        row = self.session.execute(
            select(User, ApiKey.account_id)
            .join(ApiKey, ApiKey.user_id == User.id)
            .where(ApiKey.key_hash == hash_api_key(key), ApiKey.revoked_at.is_(None),
                   User.is_active.is_(True))
        ).first()
        return None if row is None else (row[0], row[1])


@dataclass(frozen=True, slots=True)
class AccountState:
    """What may be shown of an account's state anywhere (never an option or a secret)."""

    id: int
    name: str
    broker: str
    state: str
    reason: str | None
    session_expires_at: datetime | None

    def public(self) -> dict[str, object]:
        return {"name": self.name, "broker": self.broker, "state": self.state,
                "reason": self.reason,
                "session_expires_at": (self.session_expires_at.isoformat()
                                       if self.session_expires_at else None)}


@dataclass(frozen=True, slots=True)
class Removal:
    """What removing an account did: ``deleted`` (else retired) and the revoked keys' hashes."""

    deleted: bool
    revoked_keys: list[str]


class Accounts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user: User, *, broker: str, name: str, initial_cash: Decimal | None = None,
            options: Mapping[str, str] | None = None,
            box: SecretBox | None = None) -> BrokerAccount:
        """A new account; ``options`` are checked by the broker registry, the secret ones
        encrypted with ``box`` (required when there are any). A real broker's account without
        a session starts ``login_required``."""
        try:
            checked = registry.validate(broker, options or {})
        except OptionsError as exc:
            raise RepositoryError(str(exc)) from exc
        plain = dict(checked.plain)
        if "cash" in plain:  # paper: the starting cash has its own column
            if initial_cash is not None:
                raise RepositoryError("give the starting cash once (--cash or cash=)")
            initial_cash = Decimal(plain.pop("cash"))
        if checked.secrets and box is None:
            raise RepositoryError("secret options need the secret key to be stored")
        exists = self.session.scalar(
            select(BrokerAccount).where(BrokerAccount.broker == broker, BrokerAccount.name == name)
        )
        if exists is not None:
            raise AlreadyExists(f"a {broker} account named {name!r} already exists")
        state, reason = registry.initial_state(checked)
        account = BrokerAccount(user_id=user.id, broker=broker, name=name,
                                initial_cash=initial_cash, kill_switch=False, is_active=True,
                                options=plain, state=state, state_reason=reason,
                                is_default=False, created_at=_now())
        if checked.secrets:
            assert box is not None
            account.credentials_encrypted = box.encrypt(json.dumps(checked.secrets))
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
        """Every active account (the engine serves those whose broker has an adapter)."""
        return list(self.session.scalars(
            select(BrokerAccount).where(BrokerAccount.is_active.is_(True)).order_by(BrokerAccount.id)
        ))

    def states(self) -> list[AccountState]:
        """Every active account's state as shown (``error`` when this build cannot serve its
        broker)."""
        rows = self.session.execute(
            select(BrokerAccount.id, BrokerAccount.name, BrokerAccount.broker,
                   BrokerAccount.state, BrokerAccount.state_reason,
                   BrokerAccount.session_expires_at)
            .where(BrokerAccount.is_active.is_(True)).order_by(BrokerAccount.id)).all()
        return [AccountState(row.id, row.name, row.broker,
                             *registry.effective_state(row.broker, row.state, row.state_reason),
                             row.session_expires_at) for row in rows]

    def require(self, user: User, name: str) -> BrokerAccount:
        """``user``'s account called ``name`` (``broker:name`` when two brokers share it)."""
        broker, _, bare = name.rpartition(":")
        found = [a for a in self.for_user(user.id)
                 if a.name == bare and (not broker or a.broker == broker)]
        if not found:
            raise NotFound(f"{user.username} has no account named {name!r}")
        if len(found) > 1:
            raise RepositoryError(f"{user.username} has several accounts named {bare!r}: "
                                  f"name one as BROKER:{bare}")
        return found[0]

    def set_default(self, account: BrokerAccount) -> None:
        """Make ``account`` its user's default (the one unbound API keys act on)."""
        self.session.execute(update(BrokerAccount)
                             .where(BrokerAccount.user_id == account.user_id,
                                    BrokerAccount.id != account.id)
                             .values(is_default=False))
        account.is_default = True
        self.session.flush()

    def set_state(self, account_id: int, state: str, reason: str | None = None, *,
                  session_expires_at: datetime | None = None) -> None:
        if state not in registry.STATES:
            raise ValueError(f"unknown account state {state!r}")
        self.session.execute(update(BrokerAccount).where(BrokerAccount.id == account_id)
                             .values(state=state, state_reason=reason,
                                     session_expires_at=session_expires_at))

    def options(self, account: BrokerAccount, box: SecretBox) -> AccountOptions:
        """The account's options, secrets decrypted, defaults filled in (for its adapter)."""
        given = dict(account.options or {})
        if account.credentials_encrypted:
            given.update(json.loads(box.decrypt(account.credentials_encrypted)))
        return registry.validate(account.broker, given, defaults=True)

    def store_secrets(self, account: BrokerAccount, box: SecretBox,
                      values: Mapping[str, str | None]) -> None:
        """Replace (None: remove) some secret options, e.g. a new session's access token."""
        current: dict[str, str] = {}
        if account.credentials_encrypted:
            current = json.loads(box.decrypt(account.credentials_encrypted))
        for key, value in values.items():
            option = registry.spec(account.broker).option(key)
            if option is None or not option.secret:
                raise RepositoryError(f"{key} is not a secret option of {account.broker}")
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        try:
            registry.validate(account.broker, {**(account.options or {}), **current})
        except OptionsError as exc:
            raise RepositoryError(str(exc)) from exc
        account.credentials_encrypted = box.encrypt(json.dumps(current)) if current else None
        self.session.flush()

    def update_options(self, account: BrokerAccount, box: SecretBox,
                       given: Mapping[str, str]) -> None:
        """Edit options: a blank plain option falls back to its default, a blank secret is left
        unchanged. A new session secret makes a ``login_required`` account ``ready``."""
        broker_spec = registry.spec(account.broker)
        current: dict[str, str] = {}
        if account.credentials_encrypted:
            current = json.loads(box.decrypt(account.credentials_encrypted))
        stored = dict(current)
        plain = dict(account.options or {})
        for key, value in given.items():
            option = broker_spec.option(key)
            if option is None:
                raise RepositoryError(f"unknown option {key} for {account.broker}")
            if option.secret:
                if value.strip():
                    current[key] = value
            elif value.strip():
                plain[key] = value
            else:
                plain.pop(key, None)
        try:
            checked = registry.validate(account.broker, {**plain, **current})
        except OptionsError as exc:
            raise RepositoryError(str(exc)) from exc
        if checked.secrets and checked.secrets != stored:  # unchanged: keep the ciphertext
            account.credentials_encrypted = box.encrypt(json.dumps(checked.secrets))
        account.options = dict(checked.plain)
        session_option = broker_spec.session_option
        if (session_option and given.get(session_option, "").strip()
                and account.state == registry.LOGIN_REQUIRED):
            account.state, account.state_reason = registry.READY, None
        self.session.flush()

    def working_orders(self, account_id: int) -> int:
        """How many of the account's orders are unsettled (recorded-unsent or working)."""
        return self.session.scalar(select(func.count()).select_from(OrderRow).where(
            OrderRow.account_id == account_id, OrderRow.status.in_(UNSETTLED_VALUES))) or 0

    def remove(self, account: BrokerAccount) -> Removal:
        """Remove an account with no unsettled order: deleted when nothing refers to it, else
        deactivated and disabled, keeping its history. API keys bound to it are revoked either
        way (their hashes are returned for the authenticator's cache)."""
        if self.working_orders(account.id):
            raise RepositoryError(f"account {account.name} has working orders; "
                                  "cancel them or wait until they are settled")
        bound = list(self.session.scalars(select(ApiKey.key_hash).where(
            ApiKey.account_id == account.id, ApiKey.revoked_at.is_(None))))
        self.session.execute(update(ApiKey).where(ApiKey.account_id == account.id,
                                                  ApiKey.revoked_at.is_(None))
                             .values(revoked_at=_now()))
        history = any(self.session.scalar(select(func.count()).select_from(table)
                                          .where(table.account_id == account.id))
                      for table in (OrderRow, FillRow, PositionEventRow, TradeRow))
        if history:
            account.is_active, account.is_default = False, False
            account.state, account.state_reason = registry.DISABLED, "removed in Settings"
        else:
            self.session.delete(account)
        self.session.flush()
        return Removal(deleted=not history, revoked_keys=bound)


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
