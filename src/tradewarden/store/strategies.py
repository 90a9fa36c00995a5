"""Strategy rows, always scoped by user (webhook lookups go by their unguessable token).

Webhook secrets are stored encrypted: see ``store/webhook_secrets.py``."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewarden.clock import utcnow
from tradewarden.crypto import SecretBox
from tradewarden.store.repositories import AlreadyExists
from tradewarden.store.tables import Strategy
from tradewarden.store.webhook_secrets import issue_webhook_secret


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


class Strategies:
    def __init__(self, session: Session, user_id: int) -> None:
        self.session = session
        self.user_id = user_id

    def list(self) -> list[Strategy]:
        return list(self.session.scalars(select(Strategy).where(
            Strategy.user_id == self.user_id, Strategy.deleted_at.is_(None)).order_by(Strategy.id)))

    def get(self, strategy_id: int) -> Strategy | None:
        return self.session.scalar(select(Strategy).where(
            Strategy.id == strategy_id, Strategy.user_id == self.user_id,
            Strategy.deleted_at.is_(None)))

    def _name_taken(self, name: str, exclude: int | None = None) -> bool:
        query = select(Strategy.id).where(Strategy.user_id == self.user_id,
                                          Strategy.name == name)
        if exclude is not None:
            query = query.where(Strategy.id != exclude)
        return self.session.scalar(query) is not None

    def create(self, *, name: str, account_id: int | None, mode: str, position_guards: bool,
               allow_amo: bool, settings: dict[str, Any], box: SecretBox) -> Strategy:
        """A new strategy with a fresh token and a secret encrypted with ``box``."""
        if self._name_taken(name):
            raise AlreadyExists(f"a strategy named {name!r} already exists")
        now = utcnow()
        row = Strategy(user_id=self.user_id, account_id=account_id, name=name,
                       webhook_token=new_webhook_token(), mode=mode,
                       position_guards=position_guards, allow_amo=allow_amo, is_paused=False,
                       settings=settings, created_at=now, updated_at=now)
        issue_webhook_secret(row, box)
        self.session.add(row)
        self.session.flush()
        return row

    def rename_ok(self, strategy: Strategy, name: str) -> None:
        if self._name_taken(name, exclude=strategy.id):
            raise AlreadyExists(f"a strategy named {name!r} already exists")


def strategy_by_token(session: Session, token: str) -> Strategy | None:
    return session.scalar(select(Strategy).where(Strategy.webhook_token == token,
                                                 Strategy.deleted_at.is_(None)))
