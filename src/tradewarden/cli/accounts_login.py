"""``tradewarden accounts login N --request-token T``: finish a Kite login from the command line
(the exchange itself is ``broker_sessions.complete_kite_login``, shared with the dashboard)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tradewarden.broker_sessions import LoginFailed, complete_kite_login
from tradewarden.cli import CliError
from tradewarden.cli.common import add_database_options, open_database, settings_from
from tradewarden.clock import IST
from tradewarden.crypto import box_for
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, RepositoryError, Users


def register(account_actions: Any) -> None:
    """Add ``login`` to the ``accounts`` actions."""
    login = account_actions.add_parser(
        "login", help="finish a Kite login: exchange its request token for today's session")
    login.add_argument("account", metavar="NAME", help="the account (BROKER:NAME if shared)")
    login.add_argument("--request-token", required=True, metavar="TOKEN",
                       help="the request_token Kite appended to your redirect URL")
    login.add_argument("--user", default=None, help="the account's user")
    add_database_options(login)
    login.set_defaults(handler=_login)


def _find(db: Database, args: argparse.Namespace) -> int:
    broker, _, bare = args.account.rpartition(":")
    with db.read() as session:
        try:
            user = Users(session).require(args.user) if args.user else None
        except RepositoryError as exc:
            raise CliError(str(exc)) from exc
        found = [a.id for a in Accounts(session).all()
                 if a.name == bare and (not broker or a.broker == broker)
                 and (user is None or a.user_id == user.id)]
    if not found:
        raise CliError(f"no account named {args.account!r}")
    if len(found) > 1:
        raise CliError(f"several accounts are named {bare!r}: name one as BROKER:{bare} "
                       "or add --user")
    return found[0]


def _login(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_database(settings) as db:
        account_id = _find(db, args)
        try:
            done = asyncio.run(complete_kite_login(db, box_for(settings), account_id,
                                                   args.request_token))
        except LoginFailed as exc:
            raise CliError(str(exc)) from None
    until = done.expires_at.astimezone(IST).strftime("%Y-%m-%d %H:%M IST")
    who = f" as Kite user {done.broker_user}" if done.broker_user else ""
    print(f"logged in account {done.account}{who}; state ready; session expires {until}")
    return 0
