"""The accounts this process serves and their broker adapters (the ownership seam).

Accounts are read from the database on first use and re-read when an unknown account id is
asked for, so an account added by the CLI while the server runs is picked up without a restart.
Accounts the registry says this build cannot serve (a broker without an adapter yet, or
``disabled``) are left out, with one warning each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from tradewarden.brokers import registry
from tradewarden.brokers.base import BrokerAdapter, MarketSession
from tradewarden.brokers.errors import BrokerError
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts

log = logging.getLogger(__name__)

MARKET_CACHE_S = 1.0
#: How old the account list may be when a user's default account is looked up (a default
#: changed by the CLI while the server runs is followed within this time).
DEFAULT_FRESH_S = 5.0


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: int
    user_id: int
    broker: str
    name: str
    initial_cash: str | None
    is_default: bool = False  # the account OpenAlgo-style calls of unbound keys act on


AdapterFactory = Callable[[AccountInfo], BrokerAdapter]


class AccountDirectory:
    """Maps account ids to adapters, creating them with ``factory`` on first use."""

    def __init__(self, db: Database, factory: AdapterFactory) -> None:
        self.db = db
        self.factory = factory
        self._accounts: dict[int, AccountInfo] = {}
        self._adapters: dict[int, BrokerAdapter] = {}
        self._markets: dict[int, tuple[float, MarketSession | None]] = {}
        self._skipped: set[int] = set()  # accounts not served, warned about once
        self.refreshed_at = float("-inf")

    def refresh(self) -> list[AccountInfo]:
        """Re-read the active accounts (blocking; call through ``db.run``)."""
        with self.db.read() as session:
            rows = Accounts(session).active()
            infos = [AccountInfo(r.id, r.user_id, r.broker, r.name,
                                 str(r.initial_cash) if r.initial_cash is not None else None,
                                 r.is_default)
                     for r in rows if self._serves(r.id, r.broker, r.name, r.state)]
        self._accounts = {info.id: info for info in infos}
        self.refreshed_at = time.monotonic()
        return infos

    def _serves(self, account_id: int, broker: str, name: str, state: str) -> bool:
        if registry.served(broker, state):
            self._skipped.discard(account_id)
            return True
        if account_id not in self._skipped:
            self._skipped.add(account_id)
            shown, reason = registry.effective_state(broker, state, None)
            log.warning("account %s (%s) not served: %s", name, broker, reason or shown)
        return False

    def accounts(self) -> list[AccountInfo]:
        return list(self._accounts.values())

    def info(self, account_id: int) -> AccountInfo:
        if account_id not in self._accounts:
            self.refresh()
        return self._accounts[account_id]

    def adapter(self, account_id: int) -> BrokerAdapter:
        adapter = self._adapters.get(account_id)
        if adapter is None:
            adapter = self._adapters[account_id] = self.factory(self.info(account_id))
        return adapter

    async def market(self, account_id: int) -> MarketSession | None:
        """The broker's session, cached for ``MARKET_CACHE_S`` (asked on every order)."""
        cached = self._markets.get(account_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            session = await self.adapter(account_id).market_session()
        except (BrokerError, KeyError) as exc:
            log.info("market session of account %s unknown: %s", account_id, exc)
            return None
        self._markets[account_id] = (now + MARKET_CACHE_S, session)
        return session

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            try:
                await adapter.aclose()
            except Exception:  # closing must not stop the shutdown
                log.exception("closing adapter failed")
        self._adapters.clear()
