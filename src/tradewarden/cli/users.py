"""``tradewarden users create|passwd|list``, ``apikeys create|list|revoke`` and
``accounts add|list|default`` (and ``login``, from :mod:`tradewarden.cli.accounts_login`)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from typing import Any

from tradewarden.api.auth import CACHE_TTL_S
from tradewarden.broker_setup import paper_mode
from tradewarden.brokers import registry
from tradewarden.brokers.registry import OptionsError
from tradewarden.cli import CliError, accounts_login
from tradewarden.cli.common import (
    add_database_options,
    open_database,
    print_table,
    settings_from,
)
from tradewarden.clock import IST
from tradewarden.crypto import box_for
from tradewarden.domain.money import MoneyError, to_decimal
from tradewarden.security import hash_password
from tradewarden.store.repositories import Accounts, ApiKeys, RepositoryError, Users
from tradewarden.store.tables import BrokerAccount, User

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_PASSWORD_LENGTH = 8


def register(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="manage users")
    users_actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    create = users_actions.add_parser("create", help="create a user")
    create.add_argument("name")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the dashboard password from standard input")
    create.add_argument("--admin", action="store_true", help="make the user an administrator")
    add_database_options(create)
    create.set_defaults(handler=_create_user)
    passwd = users_actions.add_parser(
        "passwd", help="set a user's dashboard password (read from standard input)")
    passwd.add_argument("name")
    add_database_options(passwd)
    passwd.set_defaults(handler=_set_password)
    users_list = users_actions.add_parser("list", help="list users")
    add_database_options(users_list)
    users_list.set_defaults(handler=_list_users)

    keys = subparsers.add_parser("apikeys", help="manage API keys")
    keys_actions = keys.add_subparsers(dest="apikeys_command", metavar="ACTION", required=True)
    key_create = keys_actions.add_parser("create", help="create an API key (printed once)")
    key_create.add_argument("--user", required=True)
    key_create.add_argument("--name", default="default", help="a label for the key")
    key_create.add_argument("--account", default=None, metavar="ACCOUNT",
                            help="OpenAlgo-style calls with this key act on this account of "
                                 "the user (default: the user's default account)")
    add_database_options(key_create)
    key_create.set_defaults(handler=_create_key)
    key_list = keys_actions.add_parser("list", help="list API keys (their prefixes, never keys)")
    key_list.add_argument("--user", default=None, help="only this user's keys")
    add_database_options(key_list)
    key_list.set_defaults(handler=_list_keys)
    revoke = keys_actions.add_parser("revoke", help="revoke an API key (its id from list)")
    revoke.add_argument("key_id", type=int, metavar="ID")
    add_database_options(revoke)
    revoke.set_defaults(handler=_revoke_key)

    accounts = subparsers.add_parser("accounts", help="manage broker accounts")
    account_actions = accounts.add_subparsers(dest="accounts_command", metavar="ACTION",
                                              required=True)
    add = account_actions.add_parser("add", help="add a broker account to a user")
    add.add_argument("--user", required=True)
    add.add_argument("--broker", required=True,
                     help=f"broker ({', '.join(registry.brokers())})")
    add.add_argument("--name", required=True, help="account name (paper: broker-side id)")
    add.add_argument("--cash", default=None, help="starting cash for a paper account")
    add.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                     help="a broker option, repeatable (kite: api_key, api_secret, "
                          "access_token, base_url, ws_url, login_url, market_protection; "
                          "see docs/configuration.md)")
    add_database_options(add)
    add.set_defaults(handler=_add_account)
    account_list = account_actions.add_parser(
        "list", help="list broker accounts: state (with reason) and session expiry")
    account_list.add_argument("--user", default=None, help="only this user's accounts")
    add_database_options(account_list)
    account_list.set_defaults(handler=_list_accounts)
    default = account_actions.add_parser(
        "default", help="make an account its user's default (for API keys bound to none)")
    default.add_argument("account", metavar="NAME", help="the account (BROKER:NAME if shared)")
    default.add_argument("--user", default=None, help="the account's user")
    add_database_options(default)
    default.set_defaults(handler=_default_account)
    accounts_login.register(account_actions)


def _valid_name(kind: str, name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise CliError(f"invalid {kind} name {name!r}: use 1-64 letters, digits, '_', '.', '-'")
    return name


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CliError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return hash_password(password)


def _create_user(args: argparse.Namespace) -> int:
    name = _valid_name("user", args.name)
    password_hash = _password_from_stdin() if args.password_stdin else None
    with open_database(settings_from(args)) as db:
        try:
            with db.transaction() as session:
                Users(session).create(name, password_hash=password_hash, is_admin=args.admin)
        except RepositoryError as exc:
            raise CliError(str(exc)) from exc
    print(f"created user {name}")
    return 0


def _set_password(args: argparse.Namespace) -> int:
    password_hash = _password_from_stdin()
    with open_database(settings_from(args)) as db:
        try:
            with db.transaction() as session:
                Users(session).require(args.name).password_hash = password_hash
        except RepositoryError as exc:
            raise CliError(str(exc)) from exc
    print(f"password set for {args.name}")
    return 0


def _create_key(args: argparse.Namespace) -> int:
    with open_database(settings_from(args)) as db:
        try:
            with db.transaction() as session:
                user = Users(session).require(args.user)
                account = (Accounts(session).require(user, args.account)
                           if args.account is not None else None)
                issued = ApiKeys(session).create(user, name=args.name, account=account)
        except RepositoryError as exc:
            raise CliError(str(exc)) from exc
    bound = f", acting on account {args.account}" if args.account is not None else ""
    print(f"API key for {args.user}{bound} (shown once, store it now):")
    print(issued.key)
    return 0


def _add_account(args: argparse.Namespace) -> int:
    name = _valid_name("account", args.name)
    cash = None
    if args.cash is not None:
        try:
            cash = to_decimal(args.cash)
        except MoneyError as exc:
            raise CliError(f"invalid --cash: {exc}") from exc
        if cash < 0:
            raise CliError("--cash must not be negative")
    try:
        options = registry.parse_pairs(args.option)
        registry.validate(args.broker, options)  # before anything is opened or written
    except OptionsError as exc:
        raise CliError(str(exc)) from exc
    settings = settings_from(args)
    with open_database(settings) as db:
        try:
            with db.transaction() as session:
                user = Users(session).require(args.user)
                account = Accounts(session).add(
                    user, broker=args.broker, name=name, initial_cash=cash, options=options,
                    box=box_for(settings) if args.broker != "paper" else None)
                account_id, state = account.id, _state(account)
        except RepositoryError as exc:
            raise CliError(str(exc)) from exc
    print(f"added {args.broker} account {name} (id {account_id}) for {args.user}; "
          f"state {state}")
    return 0


def _state(account: BrokerAccount) -> str:
    """The account's state as shown (``error`` when this build cannot serve its broker)."""
    state, reason = registry.effective_state(account.broker, account.state,
                                             account.state_reason)
    return f"{state} ({reason})" if reason else state


def _when(moment: datetime | None) -> str:
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M IST") if moment else "-"


def _names(users: list[User]) -> dict[int, str]:
    return {user.id: user.username for user in users}


def _list_users(args: argparse.Namespace) -> int:
    with open_database(settings_from(args)) as db, db.read() as session:
        keys = ApiKeys(session).all()
        rows = [[user.username, "admin" if user.is_admin else "user",
                 "active" if user.is_active else "inactive",
                 "password set" if user.password_hash else "no password",
                 str(sum(1 for k in keys if k.user_id == user.id and k.revoked_at is None)),
                 _when(user.created_at)] for user in Users(session).all()]
    print_table(["NAME", "ROLE", "STATE", "DASHBOARD", "API KEYS", "CREATED"], rows)
    return 0


def _list_keys(args: argparse.Namespace) -> int:
    with open_database(settings_from(args)) as db, db.read() as session:
        try:
            user_id = Users(session).require(args.user).id if args.user else None
        except RepositoryError as exc:
            raise CliError(str(exc)) from exc
        names = _names(Users(session).all())
        accounts = {account.id: account.name for account in Accounts(session).all()}
        rows = [[str(key.id), names.get(key.user_id, "?"), key.name, f"{key.prefix}…",
                 f"revoked {_when(key.revoked_at)}" if key.revoked_at else "active",
                 accounts.get(key.account_id, "?") if key.account_id else "(default)",
                 _when(key.created_at), _when(key.last_used_at)]
                for key in ApiKeys(session).all(user_id)]
    print_table(["ID", "USER", "NAME", "PREFIX", "STATE", "ACCOUNT", "CREATED", "LAST USED"],
                rows)
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    with open_database(settings_from(args)) as db, db.transaction() as session:
        if ApiKeys(session).revoke(args.key_id) is None:
            raise CliError(f"no active API key with id {args.key_id} (see apikeys list)")
    print(f"revoked API key {args.key_id}; a running service refuses it within "
          f"{CACHE_TTL_S:g} seconds")
    return 0


def _list_accounts(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_database(settings) as db, db.read() as session:
        try:
            user_id = Users(session).require(args.user).id if args.user else None
        except RepositoryError as exc:
            raise CliError(str(exc)) from exc
        names = _names(Users(session).all())
        rows = [[str(account.id), account.name, account.broker, names.get(account.user_id, "?"),
                 paper_mode(settings) if account.broker == "paper" else _title(account.broker),
                 ("active" if account.is_active else "inactive")
                 + (", default" if account.is_default else "")
                 + (", kill switch ON" if account.kill_switch else ""),
                 _state(account), _when(account.session_expires_at)]
                for account in Accounts(session).all()
                if user_id is None or account.user_id == user_id]
    print_table(["ID", "NAME", "BROKER", "USER", "MODE", "ACTIVE", "STATE", "SESSION EXPIRES"],
                rows)
    return 0


def _title(broker: str) -> str:
    try:
        return registry.spec(broker).title
    except OptionsError:
        return broker


def _default_account(args: argparse.Namespace) -> int:
    broker, _, bare = args.account.rpartition(":")
    with open_database(settings_from(args)) as db:
        try:
            with db.transaction() as session:
                user = Users(session).require(args.user) if args.user else None
                found = [a for a in Accounts(session).all()
                         if a.name == bare and (not broker or a.broker == broker)
                         and (user is None or a.user_id == user.id)]
                if not found:
                    raise CliError(f"no account named {args.account!r}")
                if len(found) > 1:
                    raise CliError(f"several accounts are named {bare!r}: name one as "
                                   f"BROKER:{bare} or add --user")
                Accounts(session).set_default(found[0])
                owner = _names(Users(session).all()).get(found[0].user_id, "?")
        except RepositoryError as exc:
            raise CliError(str(exc)) from exc
    print(f"{args.account} is now {owner}'s default account")
    return 0
