"""``tradewarden orders retry|drop ID``: act on the retry queue from the shell.

The running server picks a retried order up on its next retry-queue pass (within seconds).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tradewarden.cli import CliError
from tradewarden.cli.common import add_database_options, open_database, settings_from
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.engine.calendar import TradingCalendar
from tradewarden.engine.ledger import ConcurrencyConflict, Ledger, OrderNotFound
from tradewarden.engine.retry import RetryPolicy
from tradewarden.store.tables import OrderRow

QUEUED = ("failed", "retry_pending")


def register(subparsers: Any) -> None:
    orders = subparsers.add_parser("orders", help="act on orders (retry queue)")
    actions = orders.add_subparsers(dest="orders_command", metavar="ACTION", required=True)
    for name, helptext in (("retry", "retry a failed/retry_pending order now"),
                           ("drop", "drop a failed/retry_pending order (→ cancelled)")):
        parser = actions.add_parser(name, help=helptext)
        parser.add_argument("order_id")
        add_database_options(parser)
        parser.set_defaults(handler=_act, action=name)


def _act(args: argparse.Namespace) -> int:
    with open_database(settings_from(args)) as db:
        with db.transaction() as session:
            row = session.get(OrderRow, args.order_id)
            status = row.status if row is not None else None
            owner = row.user_id if row is not None else 0
        if status is None:
            raise CliError(f"no order {args.order_id}")
        if status not in QUEUED:
            raise CliError(f"order {args.order_id} is {status}; only failed or retry_pending "
                           "orders can be retried or dropped")
        policy = RetryPolicy(Ledger(db), TradingCalendar())
        try:
            if args.action == "retry":
                applied = asyncio.run(policy.retry_now(args.order_id, owner))
            else:
                applied = asyncio.run(policy.drop(args.order_id))
        except (InvalidEvent, ConcurrencyConflict, OrderNotFound) as exc:
            raise CliError(str(exc)) from exc
    print(f"order {args.order_id}: {applied.from_status} -> {applied.to_status}")
    return 0
