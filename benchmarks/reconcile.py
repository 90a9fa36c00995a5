"""Reconcile benchmark (BRIEF §8): monitor cycles over 10 000 open orders in 100 accounts.

Builds the state through the real parts — orders recorded by the ledger in SQLite, placed at
the in-process paper broker — then times ``Monitor.cycle()``:

* ``no_change_ms``: median of several cycles in which nothing changed at the broker;
* ``changed_ms``: one cycle after 10 % of the orders were changed at the broker (half cancelled
  manually, half modified manually), with ``events_applied`` and ``rows_written`` to show that
  only what changed was written.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tradewarden.brokers.base import ModifyRequest, OrderRequest
from tradewarden.brokers.instruments import bundled_master
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.orders import (
    Order,
    OrderType,
    Origin,
    Product,
    Side,
    new_client_order_id,
    new_order_id,
)
from tradewarden.engine.accounts import AccountDirectory, AccountInfo
from tradewarden.engine.ledger import Ledger, utcnow
from tradewarden.engine.monitor import Monitor
from tradewarden.store import migrate
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, Users
from tradewarden.store.tables import OrderEventRow


def place_resting_orders(db: Database, broker: LocalPaperBroker, accounts: int, orders: int,
                         *, name: str = "bench") -> list[tuple[str, str]]:
    """Record (ledger) and place ``orders`` resting LIMIT buys over ``accounts`` new accounts
    ``{name}-000``… of a new user ``name``; returns (account name, broker id)."""
    symbols = [i.symbol for i in bundled_master() if i.exchange == "NSE"][:50]
    broker.exchange.set_prices({i.key: Decimal(1000) for i in bundled_master()
                                if i.exchange == "NSE" and i.symbol in symbols})
    with db.transaction() as session:
        user = Users(session).create(name)
        ids = [(Accounts(session).add(user, broker="paper", name=f"{name}-{n:03d}").id,
                f"{name}-{n:03d}") for n in range(accounts)]
        user_id = user.id
    ledger = Ledger(db)
    placed: list[tuple[str, str]] = []
    per_account = orders // accounts
    for account_id, name in ids:
        adapter_orders = []
        for k in range(per_account):
            now = utcnow()
            adapter_orders.append(Order(
                id=new_order_id(), user_id=user_id, account_id=account_id,
                client_order_id=new_client_order_id(), exchange="NSE",
                symbol=symbols[k % len(symbols)], side=Side.BUY, quantity=1,
                order_type=OrderType.LIMIT, product=Product.MIS,
                price=Decimal(900) + Decimal(k) / 20, origin=Origin.API,
                created_at=now, updated_at=now))
        with db.transaction() as session:
            created = ledger.create_many_in_session(session, adapter_orders)
            for applied in created:
                order = applied.order
                broker_id = broker.exchange.place(name, OrderRequest(
                    exchange="NSE", symbol=order.symbol, side=order.side, quantity=1,
                    order_type=order.order_type, product=order.product, price=order.price,
                    tag=order.client_order_id))
                ledger.apply_in_session(session, order.id, OrderEvent(EventType.ORDER_SUBMITTED))
                ledger.apply_in_session(session, order.id, OrderEvent(
                    EventType.ORDER_ACCEPTED, EventSource.BROKER, broker_order_id=broker_id,
                    broker_status="OPEN"))
                placed.append((name, broker_id))
    return placed


def _events(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(OrderEventRow)) or 0


async def _run(work: Path, accounts: int, orders: int, cycles: int,
               seed: int) -> dict[str, Any]:
    url = f"sqlite:///{work / 'tw.db'}"
    migrate.upgrade(url)
    db = Database(url)
    broker = LocalPaperBroker.open(work / "paper.db", clock="open")
    try:
        began = time.perf_counter()
        placed = place_resting_orders(db, broker, accounts, orders)
        setup_s = time.perf_counter() - began

        def factory(info: AccountInfo) -> Any:
            return broker.adapter(info.name)

        directory = AccountDirectory(db, factory)
        await db.run(directory.refresh)
        monitor = Monitor(Ledger(db), directory)
        watched = await monitor.load()
        await monitor.cycle()  # warm-up (adapters, caches)
        quiet = []
        for _ in range(cycles):
            report = await monitor.cycle()
            assert report.events == 0, "nothing changed, so nothing may be written"
            quiet.append(report.duration_ms)
        rng = random.Random(seed)
        chosen = rng.sample(placed, len(placed) // 10)
        for index, (_, broker_id) in enumerate(chosen):
            if index % 2:
                broker.exchange.cancel(None, broker_id)
            else:
                broker.exchange.modify(None, broker_id, ModifyRequest(price=Decimal("850")))
        before = _events(db)
        changed = await monitor.cycle()
        written = _events(db) - before
        after = await monitor.cycle()
        return {
            "benchmark": "reconcile",
            "accounts": accounts,
            "orders": len(placed),
            "watched": watched,
            "setup_s": round(setup_s, 1),
            "no_change_ms": round(statistics.median(quiet), 2),
            "no_change_max_ms": round(max(quiet), 2),
            "changed_orders": len(chosen),
            "changed_ms": round(changed.duration_ms, 2),
            "events_applied": changed.events,
            "rows_written_events": written,
            "next_cycle_events": after.events,
            "database": "sqlite (WAL, synchronous=FULL)",
        }
    finally:
        await broker.aclose()
        db.close()


def main(argv: Sequence[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks reconcile")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(list(argv))
    with tempfile.TemporaryDirectory(prefix="tw-reconcile-") as tmp:
        return asyncio.run(_run(Path(tmp), args.accounts, args.orders, args.cycles, args.seed))
