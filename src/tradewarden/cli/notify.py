"""``tradewarden notify test --user NAME``: send a test message to a user's channels.

Works without a running server (same database and secret key); prints one line per channel
and exits 1 when any channel failed.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tradewarden.cli import CliError
from tradewarden.cli.common import add_database_options, open_database, settings_from
from tradewarden.config import Settings
from tradewarden.crypto import SecretBox, SecretError, box_for
from tradewarden.notify.channels import ChannelClient, mask_url
from tradewarden.notify.preferences import ChannelInfo, load_snapshot
from tradewarden.notify.service import probe_message
from tradewarden.store.repositories import NotFound, Users


def register(subparsers: Any) -> None:
    notify = subparsers.add_parser("notify", help="notifications")
    actions = notify.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    test = actions.add_parser("test", help="send a test message to a user's channels")
    test.add_argument("--user", required=True)
    test.add_argument("--channel", default=None, help="only the channel with this name")
    add_database_options(test)
    test.set_defaults(handler=_test)


def _test(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_database(settings) as db, db.read() as session:
        try:
            user = Users(session).require(args.user)
        except NotFound as exc:
            raise CliError(str(exc)) from exc
        channels = list(load_snapshot(session, user.id).channels.values())
    if args.channel is not None:
        channels = [c for c in channels if c.name == args.channel]
    if not channels:
        which = f" named {args.channel!r}" if args.channel else ""
        raise CliError(f"{args.user} has no notification channel{which}; add one with "
                       "POST /api/v1/notifications/channels")
    failures = asyncio.run(_send_all(settings, box_for(settings), channels))
    return 1 if failures else 0


async def _send_all(settings: Settings, box: SecretBox, channels: list[ChannelInfo]) -> int:
    client = ChannelClient(settings.notify_telegram_api_url, settings.notify_send_timeout_s)
    failures = 0
    try:
        for channel in channels:
            try:
                url = box.decrypt(channel.url_encrypted)
            except SecretError as exc:
                print(f"FAIL  {channel.name} ({channel.scheme}://…): {exc}")
                failures += 1
                continue
            result = await client.send(url, probe_message(channel.name))
            state = "ok  " if result.ok else "FAIL"
            detail = "" if result.ok else f": {result.error}"
            disabled = "" if channel.enabled else " [disabled]"
            print(f"{state}  {channel.name} ({mask_url(url)}){disabled}{detail}")
            failures += 0 if result.ok else 1
    finally:
        client.close()
    return failures
