"""Which broker adapter serves which account, and the market clock per account."""

from __future__ import annotations

from typing import Protocol

from tradewarden.brokers.base import BrokerAdapter, MarketSession


class BrokerDirectory(Protocol):
    """Looks up the adapter of a broker account (the accounts this process owns)."""

    def adapter(self, account_id: int) -> BrokerAdapter:
        """The adapter for ``account_id``; raises ``KeyError`` for an account not served here."""
        ...

    async def market(self, account_id: int) -> MarketSession | None:
        """The session the account's broker is in (None: unknown, treat as open)."""
        ...
