"""The running service's parts, wired once and shared by the API and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

from tradewarden.config import Settings
from tradewarden.engine.ledger import Ledger
from tradewarden.store.db import Database


@dataclass
class Services:
    """Everything a request handler or engine task may need, created at startup."""

    settings: Settings
    db: Database
    ledger: Ledger
    ready: bool = False
    notes: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        db = Database(settings.resolved_database_url, pool_size=settings.db_pool_size)
        return cls(settings=settings, db=db, ledger=Ledger(db))

    def close(self) -> None:
        self.ready = False
        self.db.close()
