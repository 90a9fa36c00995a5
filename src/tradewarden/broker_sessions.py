"""Broker sessions: finishing a broker login and storing its token (one place for the CLI's
``accounts login`` and the dashboard's broker callback).

Kite: a request token from the browser login is exchanged for an access token
(``brokers/kite/options.exchange_request_token``), stored encrypted, and the account becomes
``ready`` until Kite ends the session at 06:00 IST the next morning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import httpx

from tradewarden.brokers import registry
from tradewarden.brokers.errors import BrokerError, SessionExpiredError
from tradewarden.brokers.kite.options import KiteOptions, exchange_request_token
from tradewarden.clock import IST, utcnow
from tradewarden.crypto import SecretBox
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, RepositoryError
from tradewarden.store.tables import BrokerAccount

#: Kite ends every session at 06:00 IST the next morning.
KITE_SESSION_ENDS = time(6, 0)


class LoginFailed(Exception):
    """The login could not finish; the message is one line, safe to show (no secrets)."""


@dataclass(frozen=True, slots=True)
class LoginDone:
    account: str
    broker_user: str
    expires_at: datetime


def kite_session_expiry(now: datetime) -> datetime:
    """When a Kite session made at ``now`` ends: the next 06:00 IST (UTC-aware)."""
    local = now.astimezone(IST)
    end = datetime.combine(local.date(), KITE_SESSION_ENDS, tzinfo=IST)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(now.tzinfo or IST)


def kite_options(account: BrokerAccount, accounts: Accounts, box: SecretBox) -> KiteOptions:
    """The Kite options of ``account`` (secrets decrypted), for the login URL and exchange."""
    if account.broker != "kite":
        raise LoginFailed(f"account {account.name} is a {account.broker} account, not kite: "
                          "only Kite accounts log in with a request token")
    checked = accounts.options(account, box)
    return KiteOptions.parse({**checked.plain, **checked.secrets})


def describe(exc: BrokerError) -> str:
    """A one-line reason for a failed exchange."""
    if isinstance(exc, SessionExpiredError):
        return (f"Kite refused the request token ({exc}): it is wrong, already used or "
                "expired; log in again for a new one")
    return f"the token exchange with Kite failed: {exc}"


async def complete_kite_login(db: Database, box: SecretBox, account_id: int, request_token: str,
                              *, user_id: int | None = None,
                              client: httpx.AsyncClient | None = None) -> LoginDone:
    """Exchange ``request_token`` for account ``account_id`` (only ``user_id``'s, when given)
    and store the access token encrypted; state ``ready`` until the next 06:00 IST. Raises
    :class:`LookupError` for an account that is not there (or not the user's) and
    :class:`LoginFailed` for everything else, with nothing written."""
    token = request_token.strip()
    if not token or any(c.isspace() for c in token) or len(token) > 512:
        raise LoginFailed("the request token is missing or malformed")

    def read() -> KiteOptions:
        with db.read() as session:
            account = session.get(BrokerAccount, account_id)
            if account is None or (user_id is not None and account.user_id != user_id):
                raise LookupError(account_id)
            try:
                return kite_options(account, Accounts(session), box)
            except (ValueError, registry.OptionsError) as exc:
                raise LoginFailed(f"account {account.name}'s options are invalid: {exc}") from exc

    options = await db.run(read)
    try:
        kite = await exchange_request_token(options, token, client=client)
    except BrokerError as exc:
        raise LoginFailed(describe(exc)) from None
    expires = kite_session_expiry(utcnow())

    def write() -> str:
        with db.transaction() as session:
            account = session.get(BrokerAccount, account_id)
            if account is None:
                raise LookupError(account_id)
            repo = Accounts(session)
            try:
                repo.store_secrets(account, box, {"access_token": kite.access_token})
            except RepositoryError as exc:
                raise LoginFailed(str(exc)) from exc
            repo.set_state(account.id, registry.READY, None, session_expires_at=expires)
            return account.name

    name = await db.run(write)
    return LoginDone(name, kite.user_id, expires)
